//! The measuring forward proxy: every FFmpeg's HTTP goes through it (`http_proxy`), and it records each
//! request it relays as the native engine records its own: kind, variant, status, phase timings, body
//! bytes, error class, into the same [`Recorder`].
//!
//! - One listener per viewer on 127.0.0.1: the port says whose request it is. (FFmpeg 5.1 sends no
//!   `Proxy-Authorization` for a user in the proxy URL until a 407 asks for it, which would cost a
//!   round trip per connection; a port per viewer costs nothing and also covers CONNECT.)
//! - One upstream connection per FFmpeg connection, opened when first needed and kept alive as
//!   FFmpeg's is: the origin sees FFmpeg's own connection pattern.
//! - Bodies are streamed frame by frame and never buffered (`body`); only playlists are also kept,
//!   up to a limit, to learn kinds and the target duration (`catalog`).
//! - HTTPS comes as CONNECT and is tunnelled (`tunnel`): there the proxy sees one connection, not the
//!   requests inside it, and records one `other` record per tunnel (bytes from the origin, duration).
//! - Stopping: first no new requests (503, not relayed, not recorded), then requests in flight finish
//!   ([`ViewerProxy::drain`]), so every relayed body is recorded whole and matches what the origin
//!   counted; then [`ViewerProxy::shutdown`] ends connections and tunnels.
//!
//! Everything of a viewer's proxy runs on that viewer's shard runtime: accepting, both connection
//! drivers and the relay poll on one thread, with no cross-thread wake-up per body chunk.

mod body;
pub mod catalog;
mod relay;
mod tunnel;
mod upstream;

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use url::Url;

use crate::stats::Recorder;
pub use body::ProxyBody;
use catalog::Catalog;

/// What every viewer's proxy shares.
#[derive(Debug)]
pub struct ProxyConfig {
    pub recorder: Recorder,
    /// Connect here instead of resolving the origin's host (`--resolve`).
    pub resolve: Option<IpAddr>,
    /// Connect timeout, and the longest wait for a response head or the next body bytes.
    pub timeout: Duration,
    /// The run's variants (media playlist URLs), so records carry the same variant index as the
    /// native engine's.
    pub variants: Arc<[Option<Url>]>,
    /// Where the origin's `Date` headers go (a sharded run's clock offset).
    pub clock: Option<Arc<crate::net::TargetClock>>,
}

/// A count of things in progress that can be awaited down to zero.
#[derive(Debug, Default)]
struct Gauge {
    n: AtomicUsize,
    zero: Notify,
}

/// One unit of a [`Gauge`]; dropping it counts down.
struct Token(Arc<Gauge>);

impl Gauge {
    fn enter(self: &Arc<Self>) -> Token {
        self.n.fetch_add(1, Ordering::AcqRel);
        Token(self.clone())
    }

    async fn wait_zero(&self) {
        loop {
            let notified = self.zero.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.n.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        if self.0.n.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.zero.notify_waiters();
        }
    }
}

/// What one viewer's connections share.
struct ViewerState {
    viewer: u32,
    config: Arc<ProxyConfig>,
    catalog: Mutex<Catalog>,
    stopping: AtomicBool,
    /// Requests relayed and not yet finished (their bodies included).
    in_flight: Arc<Gauge>,
    /// Connection and tunnel tasks still running.
    tasks: Arc<Gauge>,
    shutdown: watch::Receiver<bool>,
}

impl ViewerState {
    fn catalog(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One viewer's proxy: its own port on 127.0.0.1, kept across FFmpeg restarts.
pub struct ViewerProxy {
    state: Arc<ViewerState>,
    port: u16,
    shutdown: watch::Sender<bool>,
}

impl ViewerProxy {
    /// Binds a free port and starts accepting on the current runtime.
    pub async fn bind(viewer: u32, config: Arc<ProxyConfig>) -> io::Result<ViewerProxy> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let port = listener.local_addr()?.port();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let state = Arc::new(ViewerState {
            viewer,
            catalog: Mutex::new(Catalog::new(config.variants.clone())),
            config,
            stopping: AtomicBool::new(false),
            in_flight: Arc::default(),
            tasks: Arc::default(),
            shutdown: shutdown_rx,
        });
        tokio::spawn(accept_loop(listener, state.clone()));
        Ok(ViewerProxy { state, port, shutdown })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The newest target duration of a media playlist relayed for this viewer.
    pub fn target_duration(&self) -> Option<Duration> {
        self.state.catalog().target_duration()
    }

    /// From now on, requests are answered 503 without being relayed or recorded.
    pub fn refuse_new(&self) {
        self.state.stopping.store(true, Ordering::Release);
    }

    /// Waits until no relayed request is in flight, or `limit`; true when none is left.
    pub async fn drain(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.state.in_flight.wait_zero()).await.is_ok()
    }

    /// Stops accepting, ends every connection and tunnel (a tunnel records itself as it ends) and
    /// waits for them, at most `limit`.
    pub async fn shutdown(self, limit: Duration) {
        self.refuse_new();
        let _ = self.shutdown.send(true);
        if tokio::time::timeout(limit, self.state.tasks.wait_zero()).await.is_err() {
            tracing::debug!(viewer = self.state.viewer, "proxy connections still open after {limit:?}");
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<ViewerState>) {
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let token = state.tasks.enter();
                    tokio::spawn(serve_connection(stream, state.clone(), token));
                }
                Err(err) => {
                    tracing::warn!(viewer = state.viewer, "proxy accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shut_down(&mut shutdown) => return,
        }
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<ViewerState>, _token: Token) {
    let mut shutdown = state.shutdown.clone();
    let upstream = Arc::new(tokio::sync::Mutex::new(None));
    let service = service_fn(move |req| {
        let state = state.clone();
        let upstream = upstream.clone();
        async move { Ok::<_, Infallible>(handle(state, upstream, req).await) }
    });
    let conn =
        http1::Builder::new().timer(TokioTimer::new()).serve_connection(TokioIo::new(stream), service).with_upgrades();
    tokio::select! {
        _ = conn => {}
        _ = shut_down(&mut shutdown) => {}
    }
}

async fn handle(
    state: Arc<ViewerState>,
    upstream: Arc<tokio::sync::Mutex<Option<upstream::UpConn>>>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    if state.stopping.load(Ordering::Acquire) {
        return plain(StatusCode::SERVICE_UNAVAILABLE);
    }
    if req.method() == Method::CONNECT {
        return tunnel::open(state, req).await;
    }
    let url = match (req.uri().scheme_str(), req.uri().authority()) {
        (Some("http"), Some(_)) => Url::parse(&req.uri().to_string()).ok(),
        _ => None,
    };
    let Some(url) = url else {
        // Not a proxy request (origin-form, or a scheme other than http): nothing to relay.
        return plain(StatusCode::BAD_REQUEST);
    };
    let token = state.in_flight.enter();
    let mut slot = upstream.lock().await;
    relay::forward(&state, &mut slot, url, req, token).await
}

/// A response of the proxy's own, with an empty body (never recorded).
fn plain(status: StatusCode) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::empty());
    *resp.status_mut() = status;
    resp
}

/// Completes once the proxy is shutting down.
async fn shut_down(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
