//! What our servers share (the built-in origin, the metrics endpoint): the accept loop, which accepts
//! until the shutdown future completes, then tells open connections to finish (a `watch` flag) and
//! waits for them up to a grace before dropping them, like mini-redis' `server::run`; and the serving
//! of one connection until it closes or that flag says to finish: HTTP/1.1 ([`serve_http1`], the
//! metrics endpoint), or HTTP/1.1 and HTTP/2 with prior knowledge on the same port ([`serve_http`],
//! the origin: Apple's players want HTTP/2 for low-latency HLS).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::{HttpService, Service};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

/// Runs `serve(stream, stop, permit)` for each accepted connection until `shutdown`. With `limit`, at
/// most that many connections are open at once (the next is accepted when one closes; the permit
/// travels with the connection). `name` labels accept errors in the log.
pub async fn accept_until<F, Fut>(
    listener: TcpListener,
    limit: Option<usize>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    name: &'static str,
    mut serve: F,
) where
    F: FnMut(TcpStream, watch::Receiver<bool>, Option<OwnedSemaphorePermit>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let limit = limit.map(|n| Arc::new(Semaphore::new(n)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    // Accept failures since the last connection accepted: said once when they start and once when they end.
    let mut failures = 0u64;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = accept(&listener, limit.as_ref()) => match accepted {
                Ok((stream, permit)) => {
                    if failures > 0 {
                        tracing::info!("{name}: accepting again, after {failures} failed accepts");
                        failures = 0;
                    }
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve(stream, stop_rx.clone(), permit));
                }
                // Out of file descriptors and the like: back off instead of spinning; new connections
                // wait in the accept queue meanwhile.
                Err(err) => {
                    if failures == 0 {
                        tracing::warn!("{name}: accept failed: {err}{}", accept_hint(&err));
                    }
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        connections.abort_all();
    }
}

/// What to change when accepting fails for want of descriptors.
fn accept_hint(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::EMFILE) => {
            "; this process is out of open files (each connection is one): raise `ulimit -n`, or spread the \
             connections over more processes (`hls-swarm origin --workers N`); new connections wait meanwhile"
        }
        Some(libc::ENFILE) => "; the system is out of open files (fs.file-max); new connections wait meanwhile",
        _ => "",
    }
}

/// Waits for a connection slot (when limited), then for a connection; both cancel-safe, as `select!`
/// needs.
async fn accept(
    listener: &TcpListener,
    limit: Option<&Arc<Semaphore>>,
) -> io::Result<(TcpStream, Option<OwnedSemaphorePermit>)> {
    let permit = match limit {
        // The semaphore is never closed.
        Some(l) => Some(l.clone().acquire_owned().await.map_err(io::Error::other)?),
        None => None,
    };
    let (stream, _) = listener.accept().await?;
    Ok((stream, permit))
}

/// How a server reads its requests.
#[derive(Clone, Copy, Debug)]
pub struct Http1Limits {
    /// The longest wait for a request head (an idle keep-alive connection is closed after it).
    pub head_timeout: Duration,
    /// The largest request head; hyper answers 431 beyond it. `None`: hyper's default.
    pub max_head: Option<usize>,
}

/// Serves HTTP/1.1 with keep-alive on one accepted connection until the peer closes it, or `stop` is
/// set: then the response in progress finishes and the connection closes (a graceful shutdown).
pub async fn serve_http1<S>(stream: TcpStream, service: S, limits: Http1Limits, mut stop: watch::Receiver<bool>)
where
    S: HttpService<Incoming>,
    S::ResBody: 'static,
    <S::ResBody as Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.head_timeout);
    if let Some(max) = limits.max_head {
        builder.max_buf_size(max);
    }
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = async { let _ = stop.wait_for(|stop| *stop).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Serves one accepted connection as HTTP/1.1 with keep-alive, or as HTTP/2 when it opens with the
/// HTTP/2 connection preface (h2c with prior knowledge, RFC 9113 3.3), until the peer closes it or
/// `stop` is set: then the responses in progress finish (HTTP/2 sends GOAWAY) and it closes. A
/// connection that sends nothing within the head timeout is closed (hyper's version sniffing has no
/// timer of its own).
pub async fn serve_http<S, B>(stream: TcpStream, service: S, limits: Http1Limits, mut stop: watch::Receiver<bool>)
where
    S: Service<http::Request<Incoming>, Response = http::Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if !matches!(tokio::time::timeout(limits.head_timeout, stream.readable()).await, Ok(Ok(()))) {
        return;
    }
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.head_timeout);
    builder.http2().timer(TokioTimer::new());
    if let Some(max) = limits.max_head {
        builder.http1().max_buf_size(max);
        builder.http2().max_header_list_size(u32::try_from(max).unwrap_or(u32::MAX));
    }
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = async { let _ = stop.wait_for(|stop| *stop).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
