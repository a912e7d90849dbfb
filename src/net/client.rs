//! One connection slot and the measured GET. Phases are timed with `Instant` around each await:
//! DNS (`lookup_host`), TCP connect, TLS handshake (new connections only), response head, first body
//! byte, last body byte.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::timeout;
use url::Url;

/// The read buffer of one exchange, fixed: it is also the largest response head accepted. It exists only
/// while a request runs (see [`Loader`]), so its size costs no idle memory; 16 KiB reads a 64 KB segment
/// in four reads (bench-swarm, 5,000 viewers: 4 KiB 35.8, 16 KiB 31.9, 64 KiB 34.0 us CPU per request).
const READ_BUF: usize = 16 * 1024;

/// What every request of a run shares.
#[derive(Clone)]
pub struct NetConfig {
    /// Connect here instead of resolving the host (Host header and SNI stay the URL's).
    pub resolve: Option<IpAddr>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub no_cache: bool,
    pub user_agent: HeaderValue,
    /// Connect timeout, and the longest wait for the head or for the next body bytes.
    pub timeout: Duration,
    pub tls: Arc<rustls::ClientConfig>,
    pub max_redirects: u32,
}

/// Why a request failed below HTTP.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    #[error("DNS lookup failed: {0}")]
    Dns(String),
    #[error("connect failed: {0}")]
    Connect(String),
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("timed out")]
    Timeout,
    #[error("connection reset: {0}")]
    Reset(String),
    #[error("body shorter than Content-Length ({got} of {expected} bytes)")]
    Truncated { got: u64, expected: u64 },
    #[error("too many redirects (more than {0})")]
    RedirectLoop(u32),
    #[error("body over the {0}-byte limit")]
    TooLarge(usize),
    #[error("{0}")]
    Other(String),
}

/// Phase durations of one request; connection phases are `Some` only when it opened a connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    pub dns: Option<Duration>,
    pub connect: Option<Duration>,
    pub tls: Option<Duration>,
    pub headers: Option<Duration>,
    pub ttfb: Option<Duration>,
    pub total: Duration,
}

/// What to do with the body.
#[derive(Clone, Copy, Debug)]
pub enum BodyMode {
    /// Keep it (playlists), up to `limit` bytes.
    Collect { limit: usize },
    /// Count it and let it go (segments): memory stays flat whatever the segment size.
    Discard,
}

/// The outcome of one GET (after redirects).
#[derive(Debug)]
pub struct Fetch {
    pub url: Url,
    pub status: Option<u16>,
    pub timings: Timings,
    pub body_bytes: u64,
    pub body: Option<Bytes>,
    pub error: Option<NetError>,
    /// Time the request was started.
    pub started: Instant,
}

/// Any byte stream a connection runs on: TCP, or TLS over TCP.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Stream for T {}
type BoxStream = Box<dyn Stream>;

/// hyper's state for one exchange on a kept-alive stream.
type Conn = http1::Connection<TokioIo<BoxStream>, Empty<Bytes>>;

/// `(scheme, host, port)`: which streams a request may reuse.
type Origin = (String, String, u16);

/// One request's HTTP/1.1 exchange: hyper's connection over a stream, driven inside the viewer's own task
/// ([`drive`]) instead of in a task of its own: no cross-task wake-up per body chunk and no extra task per
/// connection, which matters at thousands of viewers per core. `None` once the connection has ended.
struct Exchange {
    sender: SendRequest<Empty<Bytes>>,
    conn: Option<Conn>,
}

impl Exchange {
    async fn start(stream: BoxStream) -> Result<Self, NetError> {
        let (sender, conn) = http1::Builder::new()
            .read_buf_exact_size(Some(READ_BUF))
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| NetError::Other(format!("HTTP handshake: {e}")))?;
        Ok(Self { sender, conn: Some(conn) })
    }

    /// Ends the exchange after a complete response and hands the stream back for the next request, or
    /// `None` when it cannot be reused (the connection ended, or bytes arrived that no request asked for).
    fn park(self) -> Option<BoxStream> {
        let Self { sender, conn } = self;
        drop(sender);
        let mut conn = conn?;
        // With its sender gone and no request in flight, the dispatcher finishes on this poll without
        // touching the stream; a connection that would need another poll is not reused.
        let mut cx = Context::from_waker(Waker::noop());
        match conn.poll_without_shutdown(&mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) | Poll::Pending => return None,
        }
        let parts = conn.into_parts();
        parts.read_buf.is_empty().then(|| parts.io.into_inner())
    }
}

/// Awaits `fut` while polling the connection, which needs polling to move bytes.
async fn drive<T>(conn: &mut Option<Conn>, fut: impl Future<Output = T>) -> T {
    tokio::pin!(fut);
    loop {
        let Some(c) = conn.as_mut() else { return fut.await };
        tokio::select! {
            biased;
            out = &mut fut => return out,
            _ = std::future::poll_fn(|cx| c.poll_without_shutdown(cx)) => *conn = None,
        }
    }
}

/// One keep-alive connection slot, as a player's loader keeps one.
///
/// Between requests it holds the bare stream and nothing of hyper's: hyper 1's client keeps, per
/// connection, a request channel whose blocks hold 32 requests (about 8.5 KB each, and a second block once
/// the connection has sent 32), an 8 KiB head buffer and the read buffer. Idle, that is some 25 KB per
/// connection, two connections per viewer, and nothing of it is configurable. So each request builds
/// hyper's connection over the kept stream and takes the stream back after a complete response
/// ([`Exchange::park`]): on the wire it is the same keep-alive connection, and a viewer's memory between
/// requests is its sockets and its player state.
pub struct Loader {
    config: Arc<NetConfig>,
    idle: Option<(Origin, BoxStream)>,
}

impl Loader {
    pub fn new(config: Arc<NetConfig>) -> Self {
        Self { config, idle: None }
    }

    /// Drops the connection (a player does after errors).
    pub fn reset(&mut self) {
        self.idle = None;
    }

    /// GETs `url`, following redirects, and measures it.
    pub async fn get(&mut self, url: &Url, mode: BodyMode) -> Fetch {
        // Boxed: a request's state (hyper's futures, timers) lives on the heap while it runs instead of
        // sitting in every idle viewer's task.
        Box::pin(self.get_redirects(url, mode)).await
    }

    async fn get_redirects(&mut self, url: &Url, mode: BodyMode) -> Fetch {
        let started = Instant::now();
        let mut fetch = Fetch {
            url: url.clone(),
            status: None,
            timings: Timings::default(),
            body_bytes: 0,
            body: None,
            error: None,
            started,
        };
        for _ in 0..=self.config.max_redirects {
            let location = self.get_once(&mut fetch, mode).await;
            match location {
                Some(next) => {
                    fetch.url = next;
                    fetch.body = None;
                }
                None => {
                    fetch.timings.total = started.elapsed();
                    return fetch;
                }
            }
        }
        fetch.error = Some(NetError::RedirectLoop(self.config.max_redirects));
        fetch.timings.total = started.elapsed();
        fetch
    }

    /// One hop; returns the redirect target when the response is a redirect.
    async fn get_once(&mut self, fetch: &mut Fetch, mode: BodyMode) -> Option<Url> {
        let url = fetch.url.clone();
        let origin = origin_key(&url).map_err(|e| fetch.error = Some(e)).ok()?;
        let (mut exchange, reused) = self.exchange(&origin, fetch).await.map_err(|e| fetch.error = Some(e)).ok()?;
        let response = match Self::send(&self.config, &mut exchange, &url, fetch).await {
            Err(err) if reused && fetch.status.is_none() => {
                // A kept-alive connection the server had closed: retry once on a fresh one, as
                // browsers and players do for idempotent requests.
                tracing::debug!("retrying {url} on a new connection after: {err}");
                (exchange, _) = self.exchange(&origin, fetch).await.map_err(|e| fetch.error = Some(e)).ok()?;
                Self::send(&self.config, &mut exchange, &url, fetch).await.map_err(|e| fetch.error = Some(e)).ok()?
            }
            Err(err) => {
                fetch.error = Some(err);
                return None;
            }
            Ok(r) => r,
        };
        fetch.status = Some(response.status().as_u16());
        let location = redirect_target(&url, &response);
        let expected = content_length(&response);
        let keep_alive = keeps_alive(&response);
        Self::read_body(self.config.timeout, response.into_body(), &mut exchange.conn, fetch, mode, expected).await;
        if fetch.error.is_none() && keep_alive {
            self.idle = exchange.park().map(|stream| (origin, stream));
        }
        if location.is_some() && fetch.error.is_none() { location } else { None }
    }

    /// Starts an exchange on the kept stream to `origin`, or on a new one (timing DNS, connect and TLS).
    /// Returns whether the stream was reused.
    async fn exchange(&mut self, origin: &Origin, fetch: &mut Fetch) -> Result<(Exchange, bool), NetError> {
        let (stream, reused) = match self.idle.take() {
            Some((kept, stream)) if kept == *origin => (stream, true),
            _ => (Self::open(&self.config, origin, fetch).await?, false),
        };
        Ok((Exchange::start(stream).await?, reused))
    }

    async fn open(config: &NetConfig, origin: &Origin, fetch: &mut Fetch) -> Result<BoxStream, NetError> {
        let (scheme, host, port) = origin;
        let limit = config.timeout;
        let addr = match (config.resolve, host.trim_matches(['[', ']']).parse::<IpAddr>()) {
            (Some(ip), _) | (None, Ok(ip)) => SocketAddr::new(ip, *port),
            (None, Err(_)) => {
                let t = Instant::now();
                let found = timeout(limit, tokio::net::lookup_host((host.as_str(), *port))).await;
                fetch.timings.dns = Some(t.elapsed());
                let mut addrs = match found {
                    Err(_) => return Err(NetError::Timeout),
                    Ok(Err(e)) => return Err(NetError::Dns(format!("{host}: {e}"))),
                    Ok(Ok(a)) => a,
                };
                addrs.next().ok_or_else(|| NetError::Dns(format!("{host}: no address")))?
            }
        };
        let t = Instant::now();
        let tcp = match timeout(limit, TcpStream::connect(addr)).await {
            Err(_) => return Err(NetError::Timeout),
            Ok(Err(e)) => return Err(NetError::Connect(format!("{addr}: {e}"))),
            Ok(Ok(s)) => s,
        };
        fetch.timings.connect = Some(t.elapsed());
        let _ = tcp.set_nodelay(true);
        if scheme != "https" {
            return Ok(Box::new(tcp));
        }
        let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
            .map_err(|e| NetError::Tls(format!("{host}: {e}")))?;
        let t = Instant::now();
        let connector = tokio_rustls::TlsConnector::from(config.tls.clone());
        let tls = match timeout(limit, connector.connect(name, tcp)).await {
            Err(_) => return Err(NetError::Timeout),
            Ok(Err(e)) => return Err(NetError::Tls(format!("{host}: {e}"))),
            Ok(Ok(s)) => s,
        };
        fetch.timings.tls = Some(t.elapsed());
        Ok(Box::new(tls))
    }

    /// Sends the request and waits for the response head.
    async fn send(
        config: &NetConfig,
        exchange: &mut Exchange,
        url: &Url,
        fetch: &mut Fetch,
    ) -> Result<http::Response<hyper::body::Incoming>, NetError> {
        let req = config.request(url)?;
        let response = match timeout(config.timeout, drive(&mut exchange.conn, exchange.sender.send_request(req))).await
        {
            Err(_) => Err(NetError::Timeout),
            Ok(Err(e)) => Err(classify(&e)),
            Ok(Ok(r)) => Ok(r),
        };
        if response.is_ok() {
            fetch.timings.headers = Some(fetch.started.elapsed());
        }
        response
    }

    async fn read_body(
        idle_limit: Duration,
        mut body: hyper::body::Incoming,
        driver: &mut Option<Conn>,
        fetch: &mut Fetch,
        mode: BodyMode,
        expected: Option<u64>,
    ) {
        let mut kept = match mode {
            BodyMode::Collect { limit } => {
                Some((BytesMut::with_capacity(expected.unwrap_or(4096).min(limit as u64) as usize), limit))
            }
            BodyMode::Discard => None,
        };
        let mut got = 0u64;
        // One idle timer for the whole body, pushed back after each frame (cheaper than a new timer per
        // frame on a hot path).
        let idle = tokio::time::sleep(idle_limit);
        tokio::pin!(idle);
        let mut pushed = Instant::now();
        loop {
            let next = tokio::select! {
                biased;
                frame = drive(driver, body.frame()) => Ok(frame),
                _ = &mut idle => Err(()),
            };
            match next {
                Err(_) => {
                    fetch.error = Some(NetError::Timeout);
                    break;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    fetch.error = Some(match expected {
                        Some(expected) => NetError::Truncated { got, expected },
                        None => classify(&e),
                    });
                    break;
                }
                Ok(Some(Ok(frame))) => {
                    // Push the deadline back at most every eighth of the timeout: the idle limit stays within
                    // 12.5 % of --timeout and most frames touch no timer at all.
                    let now = Instant::now();
                    if now - pushed > idle_limit / 8 {
                        pushed = now;
                        idle.as_mut().reset((now + idle_limit).into());
                    }
                    let Ok(data) = frame.into_data() else { continue };
                    if data.is_empty() {
                        continue;
                    }
                    if got == 0 {
                        fetch.timings.ttfb = Some(fetch.started.elapsed());
                    }
                    got += data.len() as u64;
                    fetch.body_bytes += data.len() as u64;
                    if let Some((buf, limit)) = kept.as_mut() {
                        if buf.len() + data.len() > *limit {
                            fetch.error = Some(NetError::TooLarge(*limit));
                            break;
                        }
                        buf.extend_from_slice(&data);
                    }
                }
            }
        }
        if fetch.error.is_none() {
            if let Some(expected) = expected.filter(|e| got < *e) {
                fetch.error = Some(NetError::Truncated { got, expected });
            }
        }
        if got == 0 {
            fetch.timings.ttfb = fetch.timings.headers;
        }
        fetch.body = kept.map(|(buf, _)| buf.freeze());
    }
}

impl NetConfig {
    /// Plain defaults: verified TLS, 10 s timeout, 5 redirects, hls-swarm's User-Agent.
    pub fn with_defaults() -> Result<Self, rustls::Error> {
        Ok(Self {
            resolve: None,
            headers: Vec::new(),
            no_cache: false,
            user_agent: HeaderValue::from_static(concat!("hls-swarm/", env!("CARGO_PKG_VERSION"))),
            timeout: Duration::from_secs(10),
            tls: super::tls::client_config(false)?,
            max_redirects: 5,
        })
    }

    fn request(&self, url: &Url) -> Result<http::Request<Empty<Bytes>>, NetError> {
        let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let host = &url[url::Position::BeforeHost..url::Position::AfterPort];
        let mut req = http::Request::get(path)
            .header(header::HOST, host)
            .header(header::USER_AGENT, self.user_agent.clone())
            .header(header::ACCEPT, "*/*");
        if self.no_cache {
            req = req.header(header::CACHE_CONTROL, "no-cache").header(header::PRAGMA, "no-cache");
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        req.body(Empty::new()).map_err(|e| NetError::Other(format!("bad request for {url}: {e}")))
    }
}

fn origin_key(url: &Url) -> Result<Origin, NetError> {
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(NetError::Other(format!("unsupported scheme '{scheme}' in {url}; use http or https")));
    }
    let host = url.host_str().ok_or_else(|| NetError::Other(format!("no host in {url}")))?;
    let port = url.port_or_known_default().unwrap_or(80);
    Ok((scheme.to_string(), host.to_string(), port))
}

pub(crate) fn classify(e: &hyper::Error) -> NetError {
    if e.is_timeout() {
        return NetError::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::TimedOut => NetError::Timeout,
                _ => NetError::Reset(io.to_string()),
            };
        }
        source = s.source();
    }
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        return NetError::Reset(e.to_string());
    }
    NetError::Other(e.to_string())
}

fn content_length<B>(r: &http::Response<B>) -> Option<u64> {
    r.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Whether the server keeps the connection open after this response (RFC 9112 9.3): HTTP/1.1 unless
/// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
fn keeps_alive<B>(r: &http::Response<B>) -> bool {
    let has = |token: &str| {
        r.headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    match r.version() {
        http::Version::HTTP_10 => has("keep-alive"),
        _ => !has("close"),
    }
}

fn redirect_target<B>(base: &Url, r: &http::Response<B>) -> Option<Url> {
    if !r.status().is_redirection() || r.status() == http::StatusCode::NOT_MODIFIED {
        return None;
    }
    let location = r.headers().get(header::LOCATION)?.to_str().ok()?;
    base.join(location).ok()
}
