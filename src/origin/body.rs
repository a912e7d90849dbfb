//! The response body: hands out a cached `Bytes` (no copy), optionally slowed or cut by a fault, and
//! counts what it handed to the connection when it is dropped, so a body cut short (by a fault or by the
//! client going away) is counted as `aborted` with the bytes it did send.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

use super::counters::{Counters, ServedKind};

pub struct OriginBody {
    data: Bytes,
    sent: usize,
    kind: ServedKind,
    /// The ladder position of the variant served, if any.
    variant: Option<usize>,
    status: &'static str,
    counters: Arc<Counters>,
    cut_at: Option<usize>,
    rate: Option<u64>,
    pause: Option<Pin<Box<Sleep>>>,
    throttle_start: Option<Instant>,
    cut: bool,
    /// A delta playlist: also counted as one when sent in full.
    delta: bool,
}

impl OriginBody {
    pub fn new(
        data: Bytes,
        served: (ServedKind, Option<usize>),
        status: &'static str,
        counters: Arc<Counters>,
    ) -> Self {
        let (kind, variant) = served;
        Self {
            data,
            sent: 0,
            kind,
            variant,
            status,
            counters,
            cut_at: None,
            rate: None,
            pause: None,
            throttle_start: None,
            cut: false,
            delta: false,
        }
    }

    /// Sends at most `bytes_per_second`.
    pub fn throttled(mut self, bytes_per_second: Option<u64>) -> Self {
        self.rate = bytes_per_second.filter(|r| *r > 0);
        self
    }

    /// Marks a delta playlist (`EXT-X-SKIP`).
    pub fn delta(mut self, delta: bool) -> Self {
        self.delta = delta;
        self
    }

    /// Fails the body (hyper then closes the connection) after `fraction` of it.
    pub fn cut_after(mut self, fraction: Option<f64>) -> Self {
        self.cut_at = fraction.map(|f| ((self.data.len() as f64 * f) as usize).min(self.data.len().saturating_sub(1)));
        self
    }
}

impl Body for OriginBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if let Some(pause) = this.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.pause = None;
        }
        if this.cut_at == Some(this.sent) {
            if !this.cut {
                // Let hyper flush what was sent first (it flushes when the body is pending), so the client
                // sees the head and part of the body before the connection drops, as with a real reset.
                this.cut = true;
                let mut pause = Box::pin(tokio::time::sleep(Duration::from_millis(5)));
                if pause.as_mut().poll(cx).is_pending() {
                    this.pause = Some(pause);
                    return Poll::Pending;
                }
            }
            return Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::ConnectionReset, "injected reset"))));
        }
        let mut end = this.cut_at.unwrap_or(this.data.len());
        if end == this.sent {
            return Poll::Ready(None);
        }
        if let Some(rate) = this.rate {
            // Chunks of 50 ms worth of bytes; chunk k leaves when the bytes up to its end are due at the
            // rate, so the last byte leaves at len / rate, as on a link of that speed.
            let chunk = (rate / 20).max(1) as usize;
            end = end.min(this.sent + chunk);
            let started = *this.throttle_start.get_or_insert_with(Instant::now);
            let due = started + Duration::from_secs_f64(end as f64 / rate as f64);
            if Instant::now() < due {
                let mut pause = Box::pin(tokio::time::sleep_until(due.into()));
                if pause.as_mut().poll(cx).is_pending() {
                    this.pause = Some(pause);
                    return Poll::Pending;
                }
            }
        }
        let frame = this.data.slice(this.sent..end);
        this.sent = end;
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.cut_at.is_none() && self.sent == self.data.len()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact((self.data.len() - self.sent) as u64)
    }
}

impl Drop for OriginBody {
    fn drop(&mut self) {
        let complete = !self.cut && self.sent == self.data.len();
        let status = if complete { self.status } else { "aborted" };
        self.counters.record_for(self.kind, self.variant, status, self.sent as u64);
        if complete && self.delta {
            self.counters.delta_playlist(self.variant);
        }
    }
}
