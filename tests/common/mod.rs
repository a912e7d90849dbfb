//! Helpers shared by the integration tests: a plain HTTP/1.1 client over one keep-alive connection.
#![allow(dead_code)]

pub mod peers;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct Fetched {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Fetched {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive HTTP/1.1 connection to `addr`.
pub struct Client {
    sender: SendRequest<Empty<Bytes>>,
    host: String,
    addr: std::net::SocketAddr,
}

impl Client {
    pub async fn connect(addr: std::net::SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect to origin");
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(conn);
        Client { sender, host: addr.to_string(), addr }
    }

    pub async fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Fetched {
        // The connection task may still be finishing the previous response; a connection the server
        // closed is replaced by a new one.
        if self.sender.ready().await.is_err() {
            *self = Client::connect(self.addr).await;
        }
        let mut req = http::Request::builder().method(method).uri(path).header("host", &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self.sender.send_request(req.body(Empty::new()).unwrap()).await.expect("response");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Fetched { status, headers, body }
    }

    pub async fn get(&mut self, path: &str) -> Fetched {
        self.request("GET", path, &[]).await
    }
}

/// Reads the value of a sample line such as `name{labels} 42` from a Prometheus text exposition.
pub fn sample(exposition: &str, name_and_labels: &str) -> Option<f64> {
    exposition.lines().find_map(|l| l.strip_prefix(name_and_labels).and_then(|rest| rest.trim().parse().ok()))
}

/// Asserts that `report` matches schema/report.schema.json.
pub fn validate_report(report: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schema/report.schema.json")).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> =
        validator.iter_errors(report).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "report does not match schema/report.schema.json: {errors:#?}");
    assert_tidy_numbers(report, "", false);
}

/// Every number of a report as a reader wants it: at most three decimals, and bytes per second whole.
fn assert_tidy_numbers(value: &serde_json::Value, path: &str, integer: bool) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap();
            assert!(!integer, "{path} = {x}: bytes per second are whole numbers");
            let text = x.to_string();
            let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(decimals <= 3, "{path} = {text}: more than three decimals");
        }
        Value::Array(items) => items.iter().for_each(|v| assert_tidy_numbers(v, path, integer)),
        Value::Object(map) => {
            for (key, v) in map {
                assert_tidy_numbers(v, &format!("{path}.{key}"), integer || key.contains("bytes_per_s"));
            }
        }
        _ => {}
    }
}

/// A native swarm of `clients` viewers playing `url` (first variant) for `duration`.
pub fn swarm_config(
    url: url::Url,
    clients: u32,
    duration: std::time::Duration,
    ramp_rate: f64,
    threads: usize,
) -> hls_swarm::engine::SwarmConfig {
    use std::time::Duration;
    let mut net = hls_swarm::net::NetConfig::with_defaults().unwrap();
    net.timeout = Duration::from_secs(3);
    let viewer = hls_swarm::viewer::ViewerConfig {
        url,
        entry_kind: hls_swarm::stats::Kind::Multivariant,
        policy: hls_swarm::hls::VariantPolicy::First,
        renditions: Default::default(),
        decrypt_check: false,
        low_latency: true,
        abr: Default::default(),
        network: Default::default(),
        buffer_target: Duration::from_secs(2),
        net: std::sync::Arc::new(net),
        recorder: hls_swarm::stats::Recorder::new(),
        tap: None,
    };
    let plan = hls_swarm::engine::Plan {
        clients,
        ramp_rate,
        ramp_jitter: Duration::ZERO,
        duration: Some(duration),
        drain_timeout: Duration::from_secs(5),
        seed: 1,
        threads,
        max_lateness: hls_swarm::stats::generator::DEFAULT_MAX_LATENESS,
        shard: hls_swarm::engine::RunShard::WHOLE,
        behind: std::time::Duration::ZERO,
    };
    hls_swarm::engine::SwarmConfig { plan, viewer }
}

/// Requests a [`fixed_server`] saw: path (with its query) and `Range` header, in order.
pub type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

/// A server of fixed bodies on 127.0.0.1:0: 404 for other paths, a single `Range` honoured (206 with
/// Content-Range); a route with a query (`/a.m3u8?_HLS_msn`) is matched before the plain path, and the
/// bodies [`HANG`] and [`STATUS_400`] are answered as they say. Returns its address and what it was asked.
/// A [`fixed_server`] body that is never sent: the request hangs until the client gives up.
pub const HANG: &[u8] = b"<hang>";
/// A [`fixed_server`] body answered as an empty 400.
pub const STATUS_400: &[u8] = b"<400>";

pub async fn fixed_server(routes: Vec<(&'static str, Bytes)>) -> (std::net::SocketAddr, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Default::default();
    let log = seen.clone();
    let routes = std::sync::Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (routes, log) = (routes.clone(), log.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let path = req.uri().path().to_string();
                    let range = req.headers().get("range").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let asked = req.uri().path_and_query().map_or(path.clone(), |p| p.to_string());
                    log.lock().unwrap().push((asked.clone(), range.clone()));
                    // A route with a query matches requests whose path and query start with it.
                    let by_query = routes.iter().find(|(p, _)| p.contains('?') && asked.starts_with(*p));
                    let body = by_query.or_else(|| routes.iter().find(|(p, _)| *p == path)).map(|(_, b)| b.clone());
                    let hang = body.as_deref() == Some(HANG);
                    let response = match body {
                        Some(b) if &b[..] == STATUS_400 => {
                            http::Response::builder().status(400).body(Default::default()).unwrap()
                        }
                        _ => answer(body, range.as_deref()),
                    };
                    async move {
                        if hang {
                            std::future::pending::<()>().await;
                        }
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    (addr, seen)
}

fn answer(body: Option<Bytes>, range: Option<&str>) -> http::Response<http_body_util::Full<Bytes>> {
    let builder = http::Response::builder();
    let Some(body) = body else { return builder.status(404).body(Default::default()).unwrap() };
    let asked = range
        .and_then(|r| r.strip_prefix("bytes=")?.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
    match asked {
        Some((first, last)) if first <= last && last < body.len() => builder
            .status(206)
            .header("content-range", format!("bytes {first}-{last}/{}", body.len()))
            .body(http_body_util::Full::new(body.slice(first..=last)))
            .unwrap(),
        _ => builder.status(200).body(http_body_util::Full::new(body)).unwrap(),
    }
}
