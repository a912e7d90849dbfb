//! CONNECT tunnels, which FFmpeg opens through `http_proxy` for HTTPS origins. The proxy relays the
//! encrypted bytes and cannot see the requests inside, so a tunnel is measured as one connection: one
//! record of kind `other` with the connect timing, the time to the origin's first byte, the tunnel's
//! lifetime as its duration and the bytes received from the origin as its body bytes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::upstream;
use super::{ProxyBody, ViewerState, plain, shut_down};
use crate::stats::{ErrorClass, Kind, RequestRecord, Timings};

/// Answers a CONNECT: connects to the origin, then (once hyper hands over the client's connection)
/// copies both ways until either side closes or the proxy shuts down.
pub(super) async fn open(state: Arc<ViewerState>, req: Request<Incoming>) -> Response<ProxyBody> {
    let started = Instant::now();
    let Some(authority) = req.uri().authority().cloned() else { return plain(StatusCode::BAD_REQUEST) };
    let port = authority.port_u16().unwrap_or(443);
    let mut record = RequestRecord {
        kind: Kind::Other,
        variant: None,
        status: None,
        timings: Timings::default(),
        body_bytes: 0,
        error: None,
        hold: None,
    };
    let opened = match upstream::connect(&state.config, authority.host(), port).await {
        Ok(o) => o,
        Err((class, detail)) => {
            tracing::debug!(viewer = state.viewer, "CONNECT {authority}: {detail}");
            record.error = Some(class);
            record.timings.total = started.elapsed();
            state.config.recorder.record_request(&record);
            return plain(StatusCode::BAD_GATEWAY);
        }
    };
    record.timings.dns = opened.dns;
    record.timings.connect = Some(opened.connect);
    record.status = Some(200);
    let token = state.tasks.enter();
    tokio::spawn(async move {
        let _token = token;
        let mut shutdown = state.shutdown.clone();
        let mut origin = Counting { inner: opened.stream, bytes: 0, first: None, started, failed: false };
        let relayed = async {
            let client = hyper::upgrade::on(req).await.map_err(io::Error::other)?;
            tokio::io::copy_bidirectional(&mut TokioIo::new(client), &mut origin).await
        };
        let error = tokio::select! {
            r = relayed => r.err().map(|e| match e.kind() {
                io::ErrorKind::TimedOut => ErrorClass::Timeout,
                _ => ErrorClass::Reset,
            }),
            _ = shut_down(&mut shutdown) => None,
        };
        // Only the origin's side failing is an error of the origin: FFmpeg resetting its end (it closes
        // connections it is done with, or is stopped at the end of the run) is the player leaving.
        let error = error.filter(|_| origin.failed);
        record.error = error;
        record.timings.ttfb = origin.first;
        record.timings.total = started.elapsed();
        record.body_bytes = origin.bytes;
        state.config.recorder.record_request(&record);
    });
    plain(StatusCode::OK)
}

/// The origin side of a tunnel, counting what it reads and noting whether it failed.
struct Counting<S> {
    inner: S,
    bytes: u64,
    first: Option<Duration>,
    started: Instant,
    failed: bool,
}

impl<S> Counting<S> {
    fn note<T>(&mut self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(_)) = &polled {
            self.failed = true;
        }
        polled
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let got = (buf.filled().len() - before) as u64;
        if got > 0 && self.first.is_none() {
            self.first = Some(self.started.elapsed());
        }
        self.bytes += got;
        self.note(polled)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        self.note(polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.note(polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.note(polled)
    }
}
