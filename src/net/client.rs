//! One connection slot and the measured GET. Phases are timed with `Instant` around each await:
//! DNS (`lookup_host`), TCP connect, TLS handshake (new connections only), response head, first body
//! byte, last body byte.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::future::Either;
use http::header::{self, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::TokioExecutor;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::timeout;
use url::Url;

use super::link::Link;

pub use crate::stats::Timings;

/// The read buffer of one exchange, fixed: it is also the largest response head accepted. It exists only
/// while a request runs (see [`Loader`]), so its size costs no idle memory; 16 KiB reads a 64 KB segment
/// in four reads. The README's swarm benchmark has the CPU per request of each size tried.
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
    /// HTTP/2 with prior knowledge on `http://` (h2c, `--http2-prior-knowledge`).
    pub h2_prior_knowledge: bool,
    /// Local addresses connections are made from, in turn (`--source-addrs`); empty: the kernel's choice.
    pub sources: SourceAddrs,
    /// Where responses' `Date` headers go to estimate the target's clock (a sharded run's).
    pub clock: Option<Arc<super::TargetClock>>,
}

/// `--source-addrs`: each new connection binds the next of these local addresses, so a run can open
/// more connections to one destination than one address has local ports.
#[derive(Clone, Debug, Default)]
pub struct SourceAddrs {
    addrs: Arc<[IpAddr]>,
    next: Arc<std::sync::atomic::AtomicUsize>,
}

impl SourceAddrs {
    pub fn new(addrs: Vec<IpAddr>) -> SourceAddrs {
        SourceAddrs { addrs: addrs.into(), next: Arc::default() }
    }

    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    pub fn addrs(&self) -> &[IpAddr] {
        &self.addrs
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The next source address of `target`'s family; `None` without any (the kernel then picks).
    fn next_for(&self, target: &SocketAddr) -> Option<IpAddr> {
        let fitting: Vec<IpAddr> = self.addrs.iter().copied().filter(|a| a.is_ipv4() == target.is_ipv4()).collect();
        if fitting.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(fitting[i % fitting.len()])
    }

    /// Connects to `addr`, from the next source address when there are any.
    async fn connect(&self, addr: SocketAddr) -> std::io::Result<TcpStream> {
        let Some(source) = self.next_for(&addr) else { return TcpStream::connect(addr).await };
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.bind(SocketAddr::new(source, 0))?;
        socket.connect(addr).await
    }
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
    #[error("abandoned by the viewer for a lower rendition")]
    Abandoned,
    /// hls-swarm ran out of its own resources (open files, local ports), not the target.
    #[error("hls-swarm's own limit: {0}")]
    LocalLimit(String),
}

/// A connect error that is hls-swarm's own limit (no file descriptor, no local port), as the
/// [`NetError::LocalLimit`] that names what to change; else a connect failure.
pub(crate) fn connect_error(addr: SocketAddr, e: &std::io::Error) -> NetError {
    match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => NetError::LocalLimit(format!(
            "{addr}: {e}: out of file descriptors; raise ulimit -n or run fewer viewers per process"
        )),
        Some(libc::EADDRNOTAVAIL) => NetError::LocalLimit(format!(
            "{addr}: {e}: out of local ports to this destination; give more --source-addrs or widen \
             net.ipv4.ip_local_port_range"
        )),
        _ => NetError::Connect(format!("{addr}: {e}")),
    }
}

/// A download in progress as its viewer watches it (the ABR emergency rule): the body bytes so far,
/// the Content-Length, and a flag the viewer sets to give the download up.
#[derive(Debug, Default)]
pub struct Progress {
    loaded: AtomicU64,
    expected: AtomicU64,
    /// When the response head came in (after the server's hold, for a held request).
    head: std::sync::OnceLock<Instant>,
    abandon: AtomicBool,
    /// Wakes the download when it is abandoned, wherever it waits (the head, a stalled body, the cap).
    abandoned: tokio::sync::Notify,
}

impl Progress {
    pub fn loaded(&self) -> u64 {
        self.loaded.load(Relaxed)
    }

    /// When the response head came in.
    pub fn head_at(&self) -> Option<Instant> {
        self.head.get().copied()
    }

    /// The Content-Length, once the head is in and gave one.
    pub fn expected(&self) -> Option<u64> {
        Some(self.expected.load(Relaxed)).filter(|n| *n > 0)
    }

    /// Gives the download up: it ends at its next body bytes, as `abandoned`, with what it got counted.
    pub fn abandon(&self) {
        self.abandon.store(true, Relaxed);
        self.abandoned.notify_one();
    }

    /// Resolves once the download is abandoned.
    async fn given_up(&self) {
        if !self.abandon.load(Relaxed) {
            self.abandoned.notified().await;
        }
    }
}

/// When `progress`'s download is abandoned; never without one (a `select!` branch).
async fn given_up(progress: Option<&Progress>) {
    match progress {
        Some(p) => p.given_up().await,
        None => std::future::pending().await,
    }
}

/// What to do with the body.
#[derive(Clone, Copy, Debug)]
pub enum BodyMode {
    /// Keep it (playlists), up to `limit` bytes.
    Collect { limit: usize },
    /// Count it and let it go (segments): memory stays flat whatever the segment size.
    Discard,
    /// Count it all and keep its first `keep` bytes (the start of a segment a viewer checks).
    Prefix { keep: usize },
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
    /// The HTTP version of the last response.
    pub version: Option<http::Version>,
    /// The kept connection was found closed by the server, and the request went again on a new one.
    pub reconnected: bool,
    /// The `Range` header sent (`bytes=first-last`), for a byte-range request.
    pub range: Option<String>,
    /// The response's `Content-Range`, when a range was asked for.
    pub content_range: Option<String>,
}

/// Any byte stream a connection runs on: TCP, or TLS over TCP.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Stream for T {}
type BoxStream = Box<dyn Stream>;

/// hyper's state for one HTTP/1.1 exchange on a kept-alive stream.
type H1Conn = http1::Connection<TokioIo<BoxStream>, Empty<Bytes>>;

/// hyper's HTTP/2 connection: its frames are read and written by a task hyper spawns; this part hands it
/// our requests.
type H2Conn = http2::Connection<TokioIo<BoxStream>, Empty<Bytes>, TokioExecutor>;

/// `(scheme, host, port)`: which connections a request may reuse.
type Origin = (String, String, u16);

enum Sender {
    H1(http1::SendRequest<Empty<Bytes>>),
    H2(http2::SendRequest<Empty<Bytes>>),
}

/// The part of a connection that must be polled to move bytes.
// The HTTP/1.1 variant is large but lives only in a running request's (boxed) future; boxing it would
// cost an allocation per request for nothing.
#[allow(clippy::large_enum_variant)]
enum Driver {
    H1(H1Conn),
    H2(Pin<Box<H2Conn>>),
}

impl Driver {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<hyper::Result<()>> {
        match self {
            Driver::H1(c) => c.poll_without_shutdown(cx),
            Driver::H2(c) => c.as_mut().poll(cx),
        }
    }
}

/// One request's exchange: hyper's connection over a stream, driven inside the viewer's own task
/// ([`drive`]) instead of in a task of its own: no cross-task wake-up per body chunk and no extra task per
/// connection, which matters at thousands of viewers per core. `conn` is `None` once the connection has
/// ended.
///
/// HTTP/1.1 exchanges last one request (see [`Loader`]); an HTTP/2 one (negotiated by ALPN with
/// `--http2`) is kept whole between requests, as its stream state and header tables must be.
struct Exchange {
    sender: Sender,
    conn: Option<Driver>,
}

/// What a loader keeps between requests.
enum Kept {
    /// An HTTP/1.1 stream, bare.
    Stream(BoxStream),
    /// An HTTP/2 connection (boxed: a loader is part of every viewer's task).
    H2(Box<Exchange>),
}

impl Exchange {
    async fn start(stream: BoxStream, h2: bool) -> Result<Self, NetError> {
        let io = TokioIo::new(stream);
        let failed = |e: hyper::Error| NetError::Other(format!("HTTP handshake: {e}"));
        if h2 {
            let (sender, conn) = http2::Builder::new(TokioExecutor::new()).handshake(io).await.map_err(failed)?;
            return Ok(Self { sender: Sender::H2(sender), conn: Some(Driver::H2(Box::pin(conn))) });
        }
        let (sender, conn) =
            http1::Builder::new().read_buf_exact_size(Some(READ_BUF)).handshake(io).await.map_err(failed)?;
        Ok(Self { sender: Sender::H1(sender), conn: Some(Driver::H1(conn)) })
    }

    /// An HTTP/2 connection for a pool: driven by a task of its own, so its streams can belong to
    /// several loaders; it ends when the last sender is dropped and its streams are done.
    async fn start_shared(stream: BoxStream) -> Result<Self, NetError> {
        let io = TokioIo::new(stream);
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .handshake(io)
            .await
            .map_err(|e| NetError::Other(format!("HTTP handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("HTTP/2 connection ended: {e}");
            }
        });
        Ok(Self { sender: Sender::H2(sender), conn: None })
    }

    fn send(
        &mut self,
        req: http::Request<Empty<Bytes>>,
    ) -> impl Future<Output = hyper::Result<http::Response<hyper::body::Incoming>>> + use<> {
        match &mut self.sender {
            Sender::H1(s) => Either::Left(s.send_request(req)),
            Sender::H2(s) => Either::Right(s.send_request(req)),
        }
    }

    fn is_h2(&self) -> bool {
        matches!(self.sender, Sender::H2(_))
    }

    /// The kept HTTP/2 connection, if it can take another request. Nobody polls it between requests, so
    /// it is polled once here: a connection the server ended meanwhile (GOAWAY, close) shows now instead
    /// of cancelling the next request.
    fn if_open(mut self: Box<Self>) -> Option<Self> {
        if let Some(conn) = self.conn.as_mut()
            && conn.poll(&mut Context::from_waker(Waker::noop())).is_ready()
        {
            self.conn = None;
        }
        let open = match &self.sender {
            Sender::H2(s) => self.conn.is_some() && !s.is_closed() && s.is_ready(),
            Sender::H1(_) => false,
        };
        open.then_some(*self)
    }

    /// Ends the exchange after a complete response and keeps what the next request can reuse: the bare
    /// stream of an HTTP/1.1 connection, or `None` when it cannot be reused (the connection ended, or
    /// bytes arrived that no request asked for); an HTTP/2 connection as it is.
    fn park(self) -> Option<Kept> {
        let Self { sender, conn } = self;
        let mut conn = match (sender, conn) {
            (Sender::H2(sender), Some(conn)) => {
                return Some(Kept::H2(Box::new(Self { sender: Sender::H2(sender), conn: Some(conn) })));
            }
            (_, Some(Driver::H1(conn))) => conn,
            _ => return None,
        };
        // With its sender gone and no request in flight, the dispatcher finishes on this poll without
        // touching the stream; a connection that would need another poll is not reused.
        let mut cx = Context::from_waker(Waker::noop());
        match conn.poll_without_shutdown(&mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) | Poll::Pending => return None,
        }
        let parts = conn.into_parts();
        parts.read_buf.is_empty().then(|| Kept::Stream(parts.io.into_inner()))
    }
}

/// A request that got no response head.
struct SendFailed {
    error: NetError,
    /// hyper never sent the request: it found the kept connection closed (it reads before it writes,
    /// so a server's close while idle shows here). The request may go again on a new one. Not when
    /// the connection ended after the request was written (the server may have received it, even
    /// served it) and never after a timeout: a load tester must not send a request twice and count it
    /// once.
    stale: bool,
}

/// Awaits `fut` while polling the connection, which needs polling to move bytes.
async fn drive<T>(conn: &mut Option<Driver>, fut: impl Future<Output = T>) -> T {
    tokio::pin!(fut);
    loop {
        let Some(c) = conn.as_mut() else { return fut.await };
        tokio::select! {
            biased;
            out = &mut fut => return out,
            _ = std::future::poll_fn(|cx| c.poll(cx)) => *conn = None,
        }
    }
}

/// One keep-alive connection slot, as a player's loader keeps one.
///
/// Between requests it holds the bare stream and nothing of hyper's: hyper 1's client keeps, per
/// connection, a request channel whose blocks hold 32 requests (and a second block once the connection
/// has sent 32), an 8 KiB head buffer and the read buffer, per connection, one per variant a viewer plays,
/// and nothing of it is configurable (the README says how much that was, measured). So each request builds
/// hyper's connection over the kept stream and takes the stream back after a complete response
/// ([`Exchange::park`]): on the wire it is the same keep-alive connection, and a viewer's memory between
/// requests is its sockets and its player state.
pub struct Loader {
    config: Arc<NetConfig>,
    idle: Option<(Origin, Kept)>,
    /// The viewer's HTTP/2 connections, shared by its loaders (see [`H2Pool`]).
    pool: Option<H2Pool>,
    /// The viewer's link (rate cap, added round trip), shared by its loaders.
    link: Option<Link>,
    /// The next request's progress, for its viewer to watch ([`Loader::watched`]).
    progress: Option<Arc<Progress>>,
}

/// The HTTP/2 connections one viewer's loaders share, one per origin, as a browser keeps one: a held
/// blocking playlist request, a part download and an audio track's requests are streams of one
/// connection. A pooled connection is driven by a task of its own (its streams belong to several
/// loaders at once); a loader without a pool keeps its HTTP/2 connection to itself, driven inside the
/// viewer's task.
#[derive(Clone, Default)]
pub struct H2Pool(Arc<std::sync::Mutex<Vec<(Origin, H2Sender)>>>);

type H2Sender = http2::SendRequest<Empty<Bytes>>;

impl H2Pool {
    /// An open connection to `origin` that takes another stream.
    fn get(&self, origin: &Origin) -> Option<H2Sender> {
        let mut senders = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        senders.retain(|(_, s)| !s.is_closed());
        senders.iter().find(|(o, s)| o == origin && s.is_ready()).map(|(_, s)| s.clone())
    }

    fn put(&self, origin: Origin, sender: H2Sender) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((origin, sender));
    }
}

impl Loader {
    pub fn new(config: Arc<NetConfig>) -> Self {
        Self { config, idle: None, pool: None, link: None, progress: None }
    }

    /// A loader whose HTTP/2 connections are `pool`'s, shared with the viewer's other loaders.
    pub fn pooled(config: Arc<NetConfig>, pool: Option<H2Pool>) -> Self {
        Self { config, idle: None, pool, link: None, progress: None }
    }

    /// The same loader over the viewer's `link`: bodies read no faster than its cap allows, and its
    /// round trip added before each response and to each new connection.
    pub fn linked(mut self, link: Option<Link>) -> Self {
        self.link = link;
        self
    }

    /// The next request (only) reports its progress to `progress`, and ends when it is abandoned.
    pub fn watched(&mut self, progress: Option<Arc<Progress>>) {
        self.progress = progress;
    }

    /// The link's added round trip, if any.
    fn rtt(&self) -> Option<Duration> {
        self.link.as_ref().map(|l| l.rtt).filter(|r| !r.is_zero())
    }

    /// Drops the connection (a player does after errors).
    pub fn reset(&mut self) {
        self.idle = None;
    }

    /// GETs `url`, following redirects, and measures it.
    pub async fn get(&mut self, url: &Url, mode: BodyMode) -> Fetch {
        self.get_range(url, mode, None).await
    }

    /// GETs a byte range of `url` (`range`: a `Range` header value such as `bytes=0-719`); the answer's
    /// `Content-Range` is kept in the [`Fetch`] for [`super::range::check`].
    pub async fn get_range(&mut self, url: &Url, mode: BodyMode, range: Option<String>) -> Fetch {
        // Boxed: a request's state (hyper's futures, timers) lives on the heap while it runs instead of
        // sitting in every idle viewer's task.
        Box::pin(self.get_redirects(url, mode, range)).await
    }

    async fn get_redirects(&mut self, url: &Url, mode: BodyMode, range: Option<String>) -> Fetch {
        let started = Instant::now();
        let mut fetch = Fetch {
            url: url.clone(),
            status: None,
            timings: Timings::default(),
            body_bytes: 0,
            body: None,
            error: None,
            started,
            version: None,
            reconnected: false,
            range,
            content_range: None,
        };
        let progress = self.progress.take();
        for _ in 0..=self.config.max_redirects {
            let location = self.get_once(&mut fetch, mode, progress.as_deref()).await;
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

    /// One hop; returns the redirect target when the response is a redirect. `progress`: the watched
    /// download's, counting this hop's body (a redirect's is left behind), and given up wherever it waits.
    async fn get_once(&mut self, fetch: &mut Fetch, mode: BodyMode, progress: Option<&Progress>) -> Option<Url> {
        let url = fetch.url.clone();
        let origin = origin_key(&url).map_err(|e| fetch.error = Some(e)).ok()?;
        if let Some(p) = progress {
            p.loaded.store(0, Relaxed);
            p.expected.store(0, Relaxed);
        }
        let head = async {
            let (mut exchange, reused) = self.exchange(&origin, fetch).await.map_err(|e| fetch.error = Some(e)).ok()?;
            if let Some(rtt) = self.rtt() {
                // The request's way to the server and the response's back (inside TTFB, as on the wire).
                tokio::time::sleep(rtt).await;
            }
            let mut sent = Instant::now();
            let response = match Self::send(&self.config, &mut exchange, &url, fetch).await {
                Err(SendFailed { error, stale: true }) if reused => {
                    // The kept connection had been closed by the server: once more on a new one, as
                    // browsers and players do for idempotent requests.
                    tracing::debug!("retrying {url} on a new connection after: {error}");
                    fetch.reconnected = true;
                    (exchange, _) = self.exchange(&origin, fetch).await.map_err(|e| fetch.error = Some(e)).ok()?;
                    sent = Instant::now();
                    Self::send(&self.config, &mut exchange, &url, fetch)
                        .await
                        .map_err(|f| fetch.error = Some(f.error))
                        .ok()?
                }
                Err(failed) => {
                    fetch.error = Some(failed.error);
                    return None;
                }
                Ok(r) => r,
            };
            Some((exchange, response, sent))
        };
        // Given up before the head came: the request and its connection are dropped.
        let head = tokio::select! {
            biased;
            head = head => head,
            () = given_up(progress) => {
                fetch.error = Some(NetError::Abandoned);
                None
            }
        };
        let (mut exchange, response, sent) = head?;
        fetch.status = Some(response.status().as_u16());
        if let Some(clock) = &self.config.clock {
            clock.observe_response(response.headers(), sent);
        }
        if fetch.range.is_some() {
            let value = response.headers().get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok());
            fetch.content_range = value.map(str::to_owned);
        }
        let location = redirect_target(&url, &response);
        let expected = content_length(&response);
        fetch.version = Some(response.version());
        let keep_alive = keeps_alive(&response);
        let body = response.into_body();
        let shaper = self.link.as_ref().and_then(|l| l.shaper.as_ref());
        if let Some(p) = progress {
            p.expected.store(expected.unwrap_or(0), Relaxed);
            let _ = p.head.set(Instant::now());
        }
        let watch = (mode, shaper, progress);
        Self::read_body(self.config.timeout, body, &mut exchange.conn, fetch, watch, expected).await;
        if fetch.error.is_none() && keep_alive {
            self.idle = exchange.park().map(|kept| (origin, kept));
        }
        if location.is_some() && fetch.error.is_none() { location } else { None }
    }

    /// Starts an exchange on the kept connection to `origin`, or on a new one (timing DNS, connect and
    /// TLS). Returns whether the connection was reused.
    async fn exchange(&mut self, origin: &Origin, fetch: &mut Fetch) -> Result<(Exchange, bool), NetError> {
        if let Some(sender) = self.pool.as_ref().and_then(|p| p.get(origin)) {
            return Ok((Exchange { sender: Sender::H2(sender), conn: None }, true));
        }
        let kept = match self.idle.take() {
            Some((o, Kept::Stream(stream))) if o == *origin => Some(Exchange::start(stream, false).await?),
            Some((o, Kept::H2(exchange))) if o == *origin => exchange.if_open(),
            _ => None,
        };
        if let Some(exchange) = kept {
            return Ok((exchange, true));
        }
        let (stream, h2) = Self::open(&self.config, origin, fetch).await?;
        if let Some(rtt) = self.rtt() {
            // The handshake's round trip, in the connect time.
            tokio::time::sleep(rtt).await;
            fetch.timings.connect = fetch.timings.connect.map(|c| c + rtt);
        }
        if let (true, Some(pool)) = (h2, &self.pool) {
            let exchange = Exchange::start_shared(stream).await?;
            if let Sender::H2(sender) = &exchange.sender {
                pool.put(origin.clone(), sender.clone());
            }
            return Ok((exchange, false));
        }
        Ok((Exchange::start(stream, h2).await?, false))
    }

    /// Opens a connection; returns its stream and whether TLS negotiated HTTP/2 (ALPN).
    async fn open(config: &NetConfig, origin: &Origin, fetch: &mut Fetch) -> Result<(BoxStream, bool), NetError> {
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
        let tcp = match timeout(limit, config.sources.connect(addr)).await {
            Err(_) => return Err(NetError::Timeout),
            Ok(Err(e)) => return Err(connect_error(addr, &e)),
            Ok(Ok(s)) => s,
        };
        fetch.timings.connect = Some(t.elapsed());
        let _ = tcp.set_nodelay(true);
        if scheme != "https" {
            return Ok((Box::new(tcp), config.h2_prior_knowledge));
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
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok((Box::new(tls), h2))
    }

    /// Sends the request and waits for the response head.
    async fn send(
        config: &NetConfig,
        exchange: &mut Exchange,
        url: &Url,
        fetch: &mut Fetch,
    ) -> Result<http::Response<hyper::body::Incoming>, SendFailed> {
        let req = config
            .request(url, exchange.is_h2(), fetch.range.as_deref())
            .map_err(|error| SendFailed { error, stale: false })?;
        let sent = exchange.send(req);
        let response = match timeout(config.timeout, drive(&mut exchange.conn, sent)).await {
            Err(_) => Err(SendFailed { error: NetError::Timeout, stale: false }),
            Ok(Err(e)) => Err(SendFailed { error: classify(&e), stale: never_sent(&e) }),
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
        driver: &mut Option<Driver>,
        fetch: &mut Fetch,
        (mode, shaper, progress): (BodyMode, Option<&super::shape::Shaper>, Option<&Progress>),
        expected: Option<u64>,
    ) {
        let mut reader = BodyReader::new(mode, expected);
        let sleep = tokio::time::sleep(idle_limit);
        tokio::pin!(sleep);
        let mut idle = IdleTimer { limit: idle_limit, sleep, pushed: Instant::now() };
        let error = loop {
            let next = tokio::select! {
                biased;
                frame = drive(driver, body.frame()) => frame,
                _ = idle.expired() => break Some(NetError::Timeout),
                () = given_up(progress) => break Some(NetError::Abandoned),
            };
            match next {
                // All in, but ahead of the viewer's link: complete when the link would have brought it.
                None => match shaper.and_then(|s| s.settle(Instant::now())) {
                    Some(until) => {
                        tokio::time::sleep_until(until.into()).await;
                        break None;
                    }
                    None => break None,
                },
                Some(Err(e)) => break Some(reader.cut_short(&e)),
                Some(Ok(frame)) => {
                    idle.push_back();
                    let Ok(data) = frame.into_data() else { continue };
                    if let Err(e) = reader.take(&data, fetch) {
                        break Some(e);
                    }
                    if let Some(p) = progress {
                        p.loaded.fetch_add(data.len() as u64, Relaxed);
                    }
                    // Over the viewer's cap: the next frame is read once the bucket allows (the wait is
                    // the cap's, not the server's: the idle timer starts after it).
                    if let Some(until) = shaper.and_then(|s| s.take(data.len() as u64, Instant::now())) {
                        tokio::select! {
                            () = tokio::time::sleep_until(until.into()) => idle.push_back(),
                            () = given_up(progress) => break Some(NetError::Abandoned),
                        }
                    }
                }
            }
        };
        reader.finish(error, fetch);
    }
}

/// What a response body has brought so far: its bytes counted (and kept, for playlists, up to a limit),
/// and how it ended.
struct BodyReader {
    /// What is kept, up to how much, and whether more than that is an error (else only not kept).
    kept: Option<(BytesMut, usize, bool)>,
    got: u64,
    /// The Content-Length, when there is one.
    expected: Option<u64>,
}

impl BodyReader {
    fn new(mode: BodyMode, expected: Option<u64>) -> Self {
        let kept = match mode {
            BodyMode::Collect { limit } => {
                Some((BytesMut::with_capacity(expected.unwrap_or(4096).min(limit as u64) as usize), limit, true))
            }
            BodyMode::Prefix { keep } => Some((BytesMut::with_capacity(keep), keep, false)),
            BodyMode::Discard => None,
        };
        Self { kept, got: 0, expected }
    }

    /// Takes one frame's bytes; the first non-empty one is the first body byte (TTFB).
    fn take(&mut self, data: &[u8], fetch: &mut Fetch) -> Result<(), NetError> {
        if data.is_empty() {
            return Ok(());
        }
        if self.got == 0 {
            fetch.timings.ttfb = Some(fetch.started.elapsed());
        }
        self.got += data.len() as u64;
        fetch.body_bytes += data.len() as u64;
        if let Some((buf, limit, strict)) = self.kept.as_mut() {
            if buf.len() + data.len() > *limit {
                if *strict {
                    return Err(NetError::TooLarge(*limit));
                }
                let room = *limit - buf.len();
                buf.extend_from_slice(&data[..room]);
                return Ok(());
            }
            buf.extend_from_slice(data);
        }
        Ok(())
    }

    /// The error of a body the connection ended early: short of its Content-Length, or as hyper says.
    fn cut_short(&self, e: &hyper::Error) -> NetError {
        match self.expected {
            Some(expected) => NetError::Truncated { got: self.got, expected },
            None => classify(e),
        }
    }

    /// Settles the fetch: a body that ended cleanly but short of its Content-Length is truncated; with
    /// no body byte at all, TTFB is the head's time.
    fn finish(self, error: Option<NetError>, fetch: &mut Fetch) {
        let short = self.expected.filter(|e| self.got < *e);
        fetch.error = error.or(short.map(|expected| NetError::Truncated { got: self.got, expected }));
        if self.got == 0 {
            fetch.timings.ttfb = fetch.timings.headers;
        }
        fetch.body = self.kept.map(|(buf, ..)| buf.freeze());
    }
}

/// One idle timer for a whole body, pushed back as frames arrive: cheaper than a new timer per frame
/// on a hot path.
struct IdleTimer<'a> {
    limit: Duration,
    sleep: Pin<&'a mut tokio::time::Sleep>,
    pushed: Instant,
}

impl IdleTimer<'_> {
    /// Pushes the deadline back at most every eighth of the limit: the idle limit stays within 12.5 % of
    /// --timeout and most frames touch no timer at all.
    fn push_back(&mut self) {
        let now = Instant::now();
        if now - self.pushed > self.limit / 8 {
            self.pushed = now;
            self.sleep.as_mut().reset((now + self.limit).into());
        }
    }

    async fn expired(&mut self) {
        self.sleep.as_mut().await;
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
            tls: super::tls::client_config(false, false)?,
            max_redirects: 5,
            h2_prior_knowledge: false,
            sources: SourceAddrs::default(),
            clock: None,
        })
    }

    /// Whether connections may speak HTTP/2: offered by ALPN (`--http2`) or with prior knowledge.
    pub fn speaks_http2(&self) -> bool {
        self.offers_http2() || self.h2_prior_knowledge
    }

    /// Whether TLS offers HTTP/2 by ALPN (`--http2`).
    pub fn offers_http2(&self) -> bool {
        self.tls.alpn_protocols.iter().any(|p| p == b"h2")
    }

    /// The GET for `url`: origin-form with a Host header over HTTP/1.1; over HTTP/2 the absolute URI,
    /// whose authority hyper sends as `:authority`.
    fn request(&self, url: &Url, h2: bool, range: Option<&str>) -> Result<http::Request<Empty<Bytes>>, NetError> {
        let mut req = if h2 {
            http::Request::get(&url[..url::Position::AfterQuery]).version(http::Version::HTTP_2)
        } else {
            let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
            let host = &url[url::Position::BeforeHost..url::Position::AfterPort];
            http::Request::get(path).header(header::HOST, host)
        };
        req = req.header(header::USER_AGENT, self.user_agent.clone()).header(header::ACCEPT, "*/*");
        if self.no_cache {
            req = req.header(header::CACHE_CONTROL, "no-cache").header(header::PRAGMA, "no-cache");
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if let Some(range) = range {
            req = req.header(header::RANGE, range);
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

/// Whether hyper failed a request without writing any of it (its connection was found closed):
/// only such a request may be retried unseen.
pub(crate) fn never_sent(e: &hyper::Error) -> bool {
    e.is_canceled() || e.is_closed()
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

/// The body length the response announces; none for statuses that have no body (RFC 9110 8.6).
fn content_length<B>(r: &http::Response<B>) -> Option<u64> {
    if r.status().is_informational() || matches!(r.status().as_u16(), 204 | 304) {
        return None;
    }
    r.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Whether the connection can carry another request after this response. HTTP/2: yes (a GOAWAY is seen
/// before the next request, in [`Exchange::if_open`]). HTTP/1.x (RFC 9112 6.3, 9.3): not when the body
/// runs to the connection's close (no Content-Length, no Transfer-Encoding, a status that has a body),
/// and otherwise HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
/// hyper's own connection state says the same, and [`Exchange::park`] hands back no stream it closed;
/// this decides from the response itself, without relying on when hyper notices.
fn keeps_alive<B>(r: &http::Response<B>) -> bool {
    if r.version() == http::Version::HTTP_2 {
        return true;
    }
    let headers = r.headers();
    let bodiless = r.status().is_informational() || matches!(r.status().as_u16(), 204 | 304);
    if !bodiless && !headers.contains_key(header::CONTENT_LENGTH) && !headers.contains_key(header::TRANSFER_ENCODING) {
        return false;
    }
    let has = |token: &str| {
        headers
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
