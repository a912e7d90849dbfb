//! A viewer's download rate cap (`--bandwidth`): one token bucket for all of a viewer's connections,
//! applied as body bytes are read, so the time to the first byte stays the server's and only the body
//! is paced. The reader may run up a debt of one burst; past it, it waits (a timer, never a busy loop)
//! until the debt is paid, before it reads on: meanwhile the socket's receive buffer fills and TCP slows
//! the sender, as a slow last mile does. Waiting once per burst, not once per body frame, keeps the
//! timers few: a 5 Mbit/s viewer wakes about 20 times a second, not once per 16 KiB read. Written here because the rate limiters on crates.io count requests (governor)
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

/// A viewer's bandwidth over time (`--bandwidth-trace`): steps of (start, bits per second) from 0,
/// repeating every `length`, read from `offset` on at the viewer's start.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    steps: Arc<[(Duration, u64)]>,
    length: Duration,
}

impl Trace {
    /// `steps` from 0, in order of their start; the last lasts as long as the one before it (1 s when it
    /// is the only one). `None` when empty, not from 0, or out of order.
    pub fn new(steps: Vec<(Duration, u64)>) -> Option<Self> {
        let first = steps.first()?;
        if !first.0.is_zero() || steps.windows(2).any(|w| w[1].0 <= w[0].0) {
            return None;
        }
        let n = steps.len();
        let last = if n == 1 { Duration::from_secs(1) } else { steps[n - 1].0 - steps[n - 2].0 };
        let length = steps[n - 1].0 + last;
        Some(Self { steps: steps.into(), length })
    }

    /// How long before it repeats.
    pub fn length(&self) -> Duration {
        self.length
    }

    /// The lowest rate of the trace, bits per second.
    pub fn min_rate(&self) -> u64 {
        self.steps.iter().map(|(_, r)| *r).min().unwrap_or(0)
    }

    /// Bits per second `at` into the trace (wrapping).
    pub fn rate_at(&self, at: Duration) -> u64 {
        let t = Duration::from_nanos((at.as_nanos() % self.length.as_nanos().max(1)) as u64);
        let i = self.steps.partition_point(|(start, _)| *start <= t).saturating_sub(1);
        self.steps[i].1
    }
}

#[derive(Debug)]
struct Bucket {
    rate: Rate,
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
enum Rate {
    Fixed(u64),
    /// Trace time 0 was at `zero`.
    Traced {
        trace: Trace,
        zero: Instant,
    },
}

impl Rate {
    fn bytes_per_s(&self, now: Instant) -> f64 {
        let bits = match self {
            Rate::Fixed(bits) => *bits,
            Rate::Traced { trace, zero } => trace.rate_at(now.saturating_duration_since(*zero)),
        };
        bits.max(1) as f64 / 8.0
    }
}

fn capacity(bytes_per_s: f64) -> f64 {
    (bytes_per_s * BURST.as_secs_f64()).max(MIN_BURST_BYTES)
}

impl Bucket {
    /// Takes `bytes` at `now`; when the debt passes a burst, the instant until which the reader waits
    /// (when the debt is paid). A traced rate is taken as the rate at `now` over the whole interval:
    /// frames come far more often than a trace's steps.
    fn take(&mut self, bytes: u64, now: Instant) -> Option<Instant> {
        let rate = self.rate.bytes_per_s(now);
        let burst = capacity(rate);
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = self.at.max(now);
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.tokens -= bytes as f64;
        (self.tokens < -burst).then(|| now + Duration::from_secs_f64(-self.tokens / rate))
    }
}

impl Shaper {
    /// A cap of `bits_per_s`, starting full.
    pub fn new(bits_per_s: u64, now: Instant) -> Self {
        Self::with_rate(Rate::Fixed(bits_per_s), now)
    }

    /// A cap that follows `trace`, `offset` into it at `now`.
    pub fn traced(trace: Trace, offset: Duration, now: Instant) -> Self {
        let zero = now.checked_sub(offset).unwrap_or(now);
        Self::with_rate(Rate::Traced { trace, zero }, now)
    }

    fn with_rate(rate: Rate, now: Instant) -> Self {
        let tokens = capacity(rate.bytes_per_s(now));
        Self(Arc::new(Mutex::new(Bucket { rate, tokens, at: now })))
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
        assert_eq!(s.take(40_000, t0), None, "a debt of less than a burst goes on");
        let wait = s.take(60_000, t0).expect("overdrawn by more than a burst");
        assert_eq!(wait - t0, Duration::from_millis(100), "100 kB of debt at 1 MB/s");
        // At that instant the debt is paid: the next burst's worth reads on, the one after waits.
        assert_eq!(s.take(50_000, wait), None);
        let next = s.take(10_000, wait).unwrap();
        assert_eq!(next - wait, Duration::from_millis(60));
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
    fn a_trace_steps_and_repeats_and_the_cap_follows_it() {
        let s = |secs: u64| Duration::from_secs(secs);
        let trace = Trace::new(vec![(s(0), 8_000_000), (s(5), 1_000_000)]).unwrap();
        assert_eq!(trace.length(), s(10), "the last step lasts as long as the one before");
        assert_eq!(trace.rate_at(s(4)), 8_000_000);
        assert_eq!(trace.rate_at(s(5)), 1_000_000);
        assert_eq!(trace.rate_at(s(12)), 8_000_000, "repeats");
        assert!(Trace::new(vec![(s(1), 1)]).is_none(), "not from 0");
        assert!(Trace::new(vec![(s(0), 1), (s(0), 2)]).is_none(), "out of order");
        assert!(Trace::new(Vec::new()).is_none());
        // 4 s into the trace at t0: 1 s of 8 Mbit/s, then 1 Mbit/s.
        let t0 = Instant::now();
        let shaper = Shaper::traced(trace, s(4), t0);
        let (mut now, mut bytes) = (t0, 0u64);
        while now - t0 < s(3) {
            bytes += 16_384;
            if let Some(until) = shaper.take(16_384, now) {
                now = until;
            }
        }
        let expected = (8e6 * 1.0 + 1e6 * 2.0) / 8.0;
        assert!((bytes as f64 - expected).abs() / expected < 0.05, "{bytes} bytes in 3 s, {expected} expected");
    }

    #[test]
    fn an_idle_viewer_saves_no_more_than_the_burst_and_loaders_share_the_bucket() {
        let t0 = Instant::now();
        let s = Shaper::new(8_000_000, t0);
        let other = s.clone();
        let later = t0 + Duration::from_secs(60);
        assert_eq!(s.take(50_000, later), None, "60 s idle saved one burst, no more");
        assert_eq!(s.take(50_000, later), None, "and a burst of debt");
        assert!(other.take(1, later).is_some(), "the other connection finds the debt run up");
        let low = Shaper::new(64_000, t0);
        assert_eq!(low.take(16_384, t0), None, "a low cap still takes a whole frame");
    }
}
