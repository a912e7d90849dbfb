//! A relayed response body: frames pass from the origin's connection to FFmpeg's as they come (never
//! a whole segment in memory), and the request is recorded once, when the body ends, fails, times out
//! or is dropped. Playlists are also kept (up to [`PLAYLIST_KEEP`]) so the catalog can learn from them.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::Sleep;
use url::Url;

use super::catalog::{Guess, playlist_kind_by_text};
use super::{Token, ViewerState};
use crate::stats::{ErrorClass, Kind, RequestRecord, Timings};

/// Largest playlist kept for the catalog; a longer one is relayed in full but classified by its text.
pub const PLAYLIST_KEEP: usize = 1024 * 1024;

/// One relayed request, measured from its arrival at the proxy.
pub struct Measure {
    state: Arc<ViewerState>,
    pub url: Url,
    pub guess: Guess,
    pub started: Instant,
    pub status: Option<u16>,
    pub dns: Option<Duration>,
    pub connect: Option<Duration>,
    pub headers: Option<Duration>,
    ttfb: Option<Duration>,
    bytes: u64,
    pub expected: Option<u64>,
    kept: Option<Vec<u8>>,
    recorded: bool,
    _in_flight: Token,
}

impl Measure {
    pub(super) fn new(state: Arc<ViewerState>, url: Url, started: Instant, in_flight: Token) -> Self {
        let guess = state.catalog().guess(&url, None);
        Self {
            state,
            url,
            guess,
            started,
            status: None,
            dns: None,
            connect: None,
            headers: None,
            ttfb: None,
            bytes: 0,
            expected: None,
            kept: None,
            recorded: false,
            _in_flight: in_flight,
        }
    }

    /// The response head arrived: the kind can now use its Content-Type.
    pub fn on_head(&mut self, status: u16, content_type: Option<&str>, expected: Option<u64>) {
        self.status = Some(status);
        self.headers = Some(self.started.elapsed());
        self.expected = expected;
        self.guess = self.state.catalog().guess(&self.url, content_type);
        if matches!(self.guess, Guess::Playlist { .. }) && (200..300).contains(&status) {
            self.kept = Some(Vec::with_capacity(expected.unwrap_or(4096).min(PLAYLIST_KEEP as u64) as usize));
        }
    }

    fn on_data(&mut self, data: &[u8]) {
        if self.bytes == 0 && !data.is_empty() {
            self.ttfb = Some(self.started.elapsed());
        }
        self.bytes += data.len() as u64;
        if let Some(kept) = self.kept.as_mut() {
            if kept.len() + data.len() <= PLAYLIST_KEEP {
                kept.extend_from_slice(data);
            } else {
                kept.truncate(0);
                self.kept = None;
            }
        }
    }

    /// Records the request (once). `error`: why it did not complete; HTTP error statuses are added here.
    pub fn record(&mut self, error: Option<ErrorClass>) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let error = error.or(match self.status {
            Some(400..=499) => Some(ErrorClass::Http4xx),
            Some(500..=599) => Some(ErrorClass::Http5xx),
            _ => None,
        });
        let (kind, variant) = self.kind(error.is_none());
        self.state.config.recorder.record_request(&RequestRecord {
            kind,
            variant,
            status: self.status,
            timings: Timings {
                dns: self.dns,
                connect: self.connect,
                tls: None,
                headers: self.headers,
                ttfb: self.ttfb.or(self.headers),
                total: self.started.elapsed(),
            },
            body_bytes: self.bytes,
            error,
            // FFmpeg plays no low-latency playlists: nothing it asks is held.
            hold: None,
        });
    }

    fn kind(&mut self, complete: bool) -> (Kind, Option<u16>) {
        match self.guess {
            Guess::Fixed { kind, variant } => (kind, variant),
            Guess::Playlist { variant } => {
                let kept = self.kept.take().unwrap_or_default();
                let learnt = if complete { self.state.catalog().learn(&self.url, variant, &kept) } else { None };
                (learnt.unwrap_or_else(|| playlist_kind_by_text(&kept)), variant)
            }
        }
    }
}

impl Drop for Measure {
    fn drop(&mut self) {
        // FFmpeg closed its connection before the body ended (or the proxy is shutting down after the
        // drain): what was relayed so far is recorded, as a failure of kind `other`.
        self.record(Some(ErrorClass::Other));
    }
}

/// The body FFmpeg receives: a relayed, measured origin body, or empty (the proxy's own answers).
pub struct ProxyBody {
    inner: Option<(Incoming, Measure)>,
    idle: Option<Pin<Box<Sleep>>>,
    idle_limit: Duration,
    pushed: Instant,
}

impl ProxyBody {
    pub fn empty() -> Self {
        Self { inner: None, idle: None, idle_limit: Duration::ZERO, pushed: Instant::now() }
    }

    /// Relays `body`, failing it when the origin sends nothing for `idle_limit`.
    pub fn relay(body: Incoming, measure: Measure, idle_limit: Duration) -> Self {
        let idle = Some(Box::pin(tokio::time::sleep(idle_limit)));
        Self { inner: Some((body, measure)), idle, idle_limit, pushed: Instant::now() }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        let Some((body, measure)) = this.inner.as_mut() else { return Poll::Ready(None) };
        match Pin::new(body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    measure.on_data(data);
                    // Push the idle deadline back at most every eighth of the limit: most frames touch
                    // no timer (as the native client does).
                    let now = Instant::now();
                    if now - this.pushed > this.idle_limit / 8 {
                        this.pushed = now;
                        if let Some(idle) = this.idle.as_mut() {
                            idle.as_mut().reset((now + this.idle_limit).into());
                        }
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                let short = measure.expected.is_some_and(|e| measure.bytes < e);
                measure.record(short.then_some(ErrorClass::Truncated));
                this.inner = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                let class = if measure.expected.is_some() { ErrorClass::Truncated } else { ErrorClass::Reset };
                measure.record(Some(class));
                this.inner = None;
                Poll::Ready(Some(Err(io::Error::other(e))))
            }
            Poll::Pending => match this.idle.as_mut().map(|idle| idle.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => {
                    measure.record(Some(ErrorClass::Timeout));
                    this.inner = None;
                    Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::TimedOut, "origin body idle timeout"))))
                }
                _ => Poll::Pending,
            },
        }
    }

    /// Only once recorded: a relayed body is polled to its end, where it is recorded, even when the
    /// origin's body already knows it has no more data.
    fn is_end_stream(&self) -> bool {
        self.inner.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), |(b, _)| b.size_hint())
    }
}

impl Drop for ProxyBody {
    fn drop(&mut self) {
        // hyper drops a body without polling it when the request was HEAD; the Measure's own drop
        // records anything else as cut short.
        if let Some((body, measure)) = self.inner.as_mut()
            && body.is_end_stream()
        {
            let short = measure.expected.is_some_and(|e| measure.bytes < e);
            measure.record(short.then_some(ErrorClass::Truncated));
        }
    }
}
