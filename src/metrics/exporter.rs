//! The swarm's Prometheus endpoint: `GET /metrics` renders the latest snapshot (see
//! [`exposition`](super::exposition)) at scrape time, `GET /healthz` answers `ok`.
//!
//! The server holds no metrics of its own: it reads the live feed's `watch` channels, which keep
//! the latest value for any number of readers, so a scrape never takes anything from the dashboard
//! or the report, and the aggregator never waits on a scrape (the snapshot's `Arc` is cloned and
//! the channel's lock released before rendering). `serve` takes a bound listener and a shutdown
//! future, like the origin's server; [`bind`] applies the `--metrics-addr` rules.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, oneshot, watch};
use tokio::task::JoinHandle;

use super::exposition::render;
use super::text_writer::CONTENT_TYPE;
use crate::live::LiveFeed;
use crate::net::server::{Http1Limits, serve_http1};

/// `--metrics-addr` when the flag is not given.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 17091));
/// Connections served at once; more wait to be accepted. Scrapers are few, and the bound keeps a
/// misbehaving client from taking the swarm's file descriptors.
const MAX_CONNECTIONS: usize = 16;
/// How long shutdown waits for responses being written.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// The value of `--metrics-addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsAddr {
    /// `none`: no endpoint.
    Off,
    At(SocketAddr),
}

impl MetricsAddr {
    /// Parses `none` or an `IP:PORT` (port 0 picks a free port).
    pub fn parse(text: &str) -> Result<MetricsAddr, String> {
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(MetricsAddr::Off);
        }
        text.trim().parse().map(MetricsAddr::At).map_err(|_| {
            format!("'{text}' is not an IP:PORT; use e.g. 127.0.0.1:17091 or 0.0.0.0:9464, or none to turn it off")
        })
    }
}

/// Why the endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// Only an address the user asked for is an error; see [`bind`].
    #[error("cannot serve metrics on {addr} ({error}); give --metrics-addr a free address, or --metrics-addr none")]
    Bind { addr: SocketAddr, error: io::Error },
}

/// What binding `--metrics-addr` gave.
#[derive(Debug)]
pub enum Binding {
    Listening(TcpListener),
    Off,
    /// The default address could not be bound (another run holds it, most likely): the run goes
    /// on without the endpoint.
    DefaultUnavailable {
        addr: SocketAddr,
        error: io::Error,
    },
}

/// Binds the endpoint's listener. `requested` is the flag's value, `None` when it was not given:
/// then `default` is tried, and failing to bind it is not an error, so two runs on one machine
/// both start. An address the user asked for that cannot be bound is an error: the user expects
/// to scrape it.
pub async fn bind(requested: Option<MetricsAddr>, default: SocketAddr) -> Result<Binding, ExporterError> {
    match requested {
        Some(MetricsAddr::Off) => Ok(Binding::Off),
        Some(MetricsAddr::At(addr)) => match TcpListener::bind(addr).await {
            Ok(listener) => Ok(Binding::Listening(listener)),
            Err(error) => Err(ExporterError::Bind { addr, error }),
        },
        None => match TcpListener::bind(default).await {
            Ok(listener) => Ok(Binding::Listening(listener)),
            Err(error) => {
                tracing::warn!("metrics endpoint off: cannot listen on {default}: {error}");
                Ok(Binding::DefaultUnavailable { addr: default, error })
            }
        },
    }
}

/// A running endpoint.
pub struct ExporterHandle {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ExporterHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets responses being written finish (bounded) and waits for the server.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Serves `feed` on `listener` in a task of the current runtime until the handle is shut down.
pub fn spawn(listener: TcpListener, feed: LiveFeed) -> io::Result<ExporterHandle> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, feed, async move {
        let _ = stopped.await;
    }));
    Ok(ExporterHandle { addr, stop, task })
}

/// Accepts connections until `shutdown` completes, then lets open responses finish (up to a grace).
pub async fn serve(listener: TcpListener, feed: LiveFeed, shutdown: impl Future<Output = ()>) {
    let feed = Arc::new(feed);
    let serve = |stream, stop, permit| serve_connection(stream, feed.clone(), stop, permit);
    crate::net::server::accept_until(
        listener,
        Some(MAX_CONNECTIONS),
        shutdown,
        SHUTDOWN_GRACE,
        "metrics endpoint",
        serve,
    )
    .await;
}

async fn serve_connection(
    stream: TcpStream,
    feed: Arc<LiveFeed>,
    stop: watch::Receiver<bool>,
    _permit: Option<OwnedSemaphorePermit>,
) {
    let service = service_fn(move |req: Request<Incoming>| {
        let response = respond(&feed, req.method(), req.uri().path());
        async move { Ok::<_, Infallible>(response) }
    });
    let limits = Http1Limits { head_timeout: Duration::from_secs(10), max_head: None };
    serve_http1(stream, service, limits, stop).await;
}

/// The response to `method path`; HEAD gets GET's head (hyper leaves the body out).
pub fn respond(feed: &LiveFeed, method: &Method, path: &str) -> Response<Full<Bytes>> {
    let known = matches!(path, "/metrics" | "/healthz");
    if known && method != Method::GET && method != Method::HEAD {
        let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", "GET or HEAD only\n");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match path {
        "/metrics" => {
            let snapshot = feed.snapshots.borrow().clone();
            let origin = feed.origin.borrow().clone();
            reply(StatusCode::OK, CONTENT_TYPE, render(&feed.info, &snapshot, &origin))
        }
        "/healthz" => reply(StatusCode::OK, "text/plain; charset=utf-8", "ok"),
        _ => reply(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found; try /metrics or /healthz\n"),
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::RunInfo;
    use crate::metrics::origin_view::OriginView;
    use crate::stats::Snapshot;
    use std::time::Instant;

    fn feed() -> LiveFeed {
        let info = RunInfo {
            target: "http://t/".into(),
            engine: "native",
            clients_target: 1,
            duration: None,
            ramp_rate: 1.0,
            started: Instant::now(),
            started_at: std::time::SystemTime::UNIX_EPOCH,
            ladder: Vec::new(),
        };
        let (_, snapshots) = watch::channel(Arc::new(Snapshot::empty()));
        let (_, origin) = watch::channel(Arc::new(OriginView::default()));
        LiveFeed { info: Arc::new(info), snapshots, origin }
    }

    #[test]
    fn routes_and_methods() {
        let feed = feed();
        let metrics = respond(&feed, &Method::GET, "/metrics");
        assert_eq!(metrics.status(), StatusCode::OK);
        assert_eq!(metrics.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert_eq!(respond(&feed, &Method::HEAD, "/metrics").status(), StatusCode::OK);
        assert_eq!(respond(&feed, &Method::GET, "/healthz").status(), StatusCode::OK);
        let post = respond(&feed, &Method::POST, "/metrics");
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[header::ALLOW], "GET, HEAD");
        assert_eq!(respond(&feed, &Method::GET, "/").status(), StatusCode::NOT_FOUND);
        assert_eq!(respond(&feed, &Method::DELETE, "/nope").status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn addr_flag_values() {
        assert_eq!(MetricsAddr::parse("none"), Ok(MetricsAddr::Off));
        assert_eq!(MetricsAddr::parse("0.0.0.0:9464"), Ok(MetricsAddr::At("0.0.0.0:9464".parse().unwrap())));
        assert_eq!(MetricsAddr::parse("[::1]:0"), Ok(MetricsAddr::At("[::1]:0".parse().unwrap())));
        assert!(MetricsAddr::parse("localhost").unwrap_err().contains("IP:PORT"));
    }
}
