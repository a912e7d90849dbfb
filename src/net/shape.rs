//! A viewer's download rate cap (`--bandwidth`): one token bucket for all of a viewer's connections,
//! applied as body bytes are read, so the time to the first byte stays the server's and only the body
//! is paced. A body frame that overdraws the bucket makes the reader wait (a timer, never a busy loop)
//! before it reads the next: meanwhile the socket's receive buffer fills and TCP slows the sender, as a
//! slow last mile does. Written here because the rate limiters on crates.io count requests (governor)
//! or wrap a whole stream, not bytes read by several connections of one viewer through hyper.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The most a bucket holds: a viewer idle for a while may take this much at once, about what a link's
/// queue lets through before its rate shows.
const BURST: Duration = Duration::from_millis(50);
/// The least a bucket holds, so a low cap still lets a full-size frame through without debt.
const MIN_BURST_BYTES: f64 = 16.0 * 1024.0;

/// Bytes per second, with a burst, shared by one viewer's loaders.
#[derive(Clone, Debug)]
pub struct Shaper(Arc<Mutex<Bucket>>);

#[derive(Debug)]
struct Bucket {
    bytes_per_s: f64,
    capacity: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes `bytes` at `now`; the instant until which the reader waits before it reads more, when the
    /// bucket is overdrawn.
    fn take(&mut self, bytes: u64, now: Instant) -> Option<Instant> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = self.at.max(now);
        self.tokens = (self.tokens + elapsed * self.bytes_per_s).min(self.capacity);
        self.tokens -= bytes as f64;
        (self.tokens < 0.0).then(|| now + Duration::from_secs_f64(-self.tokens / self.bytes_per_s))
    }
}

impl Shaper {
    /// A cap of `bits_per_s`, starting full.
    pub fn new(bits_per_s: u64, now: Instant) -> Self {
        let bytes_per_s = bits_per_s.max(1) as f64 / 8.0;
        let capacity = (bytes_per_s * BURST.as_secs_f64()).max(MIN_BURST_BYTES);
        Self(Arc::new(Mutex::new(Bucket { bytes_per_s, capacity, tokens: capacity, at: now })))
    }

    /// `bytes` of a body were read at `now`: until when the reader waits, if it must.
    pub fn take(&self, bytes: u64, now: Instant) -> Option<Instant> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take(bytes, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_its_burst_through_then_paces_at_the_rate() {
        let t0 = Instant::now();
        // 8 Mbit/s = 1 MB/s; burst 50 ms = 50 kB.
        let s = Shaper::new(8_000_000, t0);
        assert_eq!(s.take(50_000, t0), None, "the burst");
        let wait = s.take(100_000, t0).expect("overdrawn");
        assert_eq!(wait - t0, Duration::from_millis(100), "100 kB at 1 MB/s");
        // At that instant the debt is paid: the next frame waits for its own bytes only.
        let next = s.take(10_000, wait).unwrap();
        assert_eq!(next - wait, Duration::from_millis(10));
    }

    #[test]
    fn over_a_long_transfer_the_rate_is_the_cap() {
        let t0 = Instant::now();
        let s = Shaper::new(3_000_000, t0);
        let (mut now, mut bytes) = (t0, 0u64);
        // 16 kB frames, each read when the shaper allows, for 10 s of reading.
        while now - t0 < Duration::from_secs(10) {
            bytes += 16_384;
            if let Some(until) = s.take(16_384, now) {
                now = until;
            }
        }
        let rate = bytes as f64 * 8.0 / (now - t0).as_secs_f64();
        assert!((rate - 3e6).abs() / 3e6 < 0.01, "{rate} bit/s");
    }

    #[test]
    fn an_idle_viewer_saves_no_more_than_the_burst_and_loaders_share_the_bucket() {
        let t0 = Instant::now();
        let s = Shaper::new(8_000_000, t0);
        let other = s.clone();
        let later = t0 + Duration::from_secs(60);
        assert_eq!(s.take(50_000, later), None);
        assert!(other.take(1, later).is_some(), "the other connection finds the bucket empty");
        let low = Shaper::new(64_000, t0);
        assert_eq!(low.take(16_384, t0), None, "a low cap still takes a whole frame");
    }
}
