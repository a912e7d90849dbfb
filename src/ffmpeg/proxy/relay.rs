//! Relaying one plain-HTTP request: the absolute-form request FFmpeg sends to its proxy becomes an
//! origin-form request on the upstream connection, hop-by-hop headers stay on their hop (RFC 9110
//! 7.6.1), and the response streams back through a measured body.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::time::timeout;
use url::Url;

use super::body::{Measure, ProxyBody};
use super::upstream::{self, UpConn};
use super::{Token, ViewerState, plain};
use crate::stats::ErrorClass;

/// Largest request body relayed (FFmpeg's HLS requests have none).
const REQUEST_BODY_LIMIT: usize = 64 * 1024;

/// Headers that belong to one connection, never forwarded (RFC 9110 7.6.1), plus the proxy's own.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Relays `req` for `url` on the connection in `slot` (opened or replaced as needed) and returns the
/// response whose body records the request when it ends.
pub(super) async fn forward(
    state: &Arc<ViewerState>,
    slot: &mut Option<UpConn>,
    url: Url,
    req: Request<Incoming>,
    in_flight: Token,
) -> Response<ProxyBody> {
    let mut m = Measure::new(state.clone(), url, Instant::now(), in_flight);
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, REQUEST_BODY_LIMIT).collect().await.map(|b| b.to_bytes()) else {
        return plain(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let head_only = parts.method == Method::HEAD;
    let path = m.url[url::Position::BeforePath..url::Position::AfterQuery].to_string();
    let m_host = m.url[url::Position::BeforeHost..url::Position::AfterPort].to_string();
    let build = || {
        let mut req = Request::new(Full::new(body.clone()));
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = path.parse().unwrap_or_default();
        *req.headers_mut() = end_to_end(&parts.headers);
        if !req.headers().contains_key(header::HOST)
            && let Ok(host) = m_host.parse()
        {
            req.headers_mut().insert(header::HOST, host);
        }
        req
    };
    let response = match send(state, slot, &mut m, build).await {
        Ok(r) => r,
        Err((class, detail)) => {
            tracing::debug!(viewer = state.viewer, "{}: {detail}", m.url);
            m.record(Some(class));
            let status =
                if class == ErrorClass::Timeout { StatusCode::GATEWAY_TIMEOUT } else { StatusCode::BAD_GATEWAY };
            return plain(status);
        }
    };
    let (head, body) = response.into_parts();
    let content_type = head.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let bodiless = head_only || matches!(head.status.as_u16(), 100..=199 | 204 | 304);
    let expected = if bodiless { None } else { content_length(&head.headers) };
    m.on_head(head.status.as_u16(), content_type, expected);
    let mut resp = Response::new(ProxyBody::relay(body, m, state.config.timeout));
    *resp.status_mut() = head.status;
    *resp.headers_mut() = end_to_end(&head.headers);
    resp
}

/// Sends the request, reusing the kept-alive connection when it is to the same origin. A request that
/// fails on a reused connection before any response (the origin closed it meanwhile) is retried once
/// on a new one, as FFmpeg itself and browsers do for idempotent requests.
async fn send(
    state: &ViewerState,
    slot: &mut Option<UpConn>,
    m: &mut Measure,
    build: impl Fn() -> Request<Full<Bytes>>,
) -> Result<Response<Incoming>, upstream::Failure> {
    let origin = origin_of(&m.url);
    let limit = state.config.timeout;
    for attempt in 0..2 {
        let reused = slot.as_ref().is_some_and(|c| c.usable_for(&origin));
        if !reused {
            *slot = None;
            let opened = upstream::open(&state.config, &origin).await?;
            m.dns = opened.dns;
            m.connect = Some(opened.connect);
            *slot = Some(opened.stream);
        }
        let Some(conn) = slot.as_mut() else { continue };
        let asked = Instant::now();
        let sent = timeout(limit, async {
            conn.sender.ready().await?;
            conn.sender.send_request(build()).await
        })
        .await;
        match sent {
            Ok(Ok(resp)) => {
                if let Some(clock) = &state.config.clock {
                    clock.observe_response(resp.headers(), asked);
                }
                return Ok(resp);
            }
            Err(_) => {
                *slot = None;
                return Err((ErrorClass::Timeout, format!("no response head within {limit:?}")));
            }
            Ok(Err(e)) => {
                *slot = None;
                // Only a request hyper never wrote goes again: one the origin may have received is
                // counted as failed, not sent twice (see net::never_sent).
                if reused && attempt == 0 && crate::net::never_sent(&e) {
                    tracing::debug!("retrying {} on a new connection after: {e}", m.url);
                    continue;
                }
                let class = crate::net::classify(&e).class();
                return Err((class, e.to_string()));
            }
        }
    }
    Err((ErrorClass::Other, "no connection".into()))
}

fn origin_of(url: &Url) -> (String, u16) {
    (url.host_str().unwrap_or_default().to_string(), url.port_or_known_default().unwrap_or(80))
}

/// The headers without hop-by-hop ones, including those a `Connection` header names.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !HOP_BY_HOP.contains(&name.as_str()) && !named.contains(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-hop".parse().unwrap());
        h.insert("proxy-connection", "keep-alive".parse().unwrap());
        h.insert("x-hop", "1".parse().unwrap());
        h.insert("range", "bytes=0-".parse().unwrap());
        h.insert("icy-metadata", "1".parse().unwrap());
        let out = end_to_end(&h);
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["range", "icy-metadata"]);
    }
}
