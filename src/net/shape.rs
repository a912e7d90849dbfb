//! A viewer's download rate cap (`--bandwidth`): one token bucket for all of a viewer's connections,
//! applied as body bytes are read, so the time to the first byte stays the server's and only the body
//! is paced. A bucket saves up to [`CREDIT`] while idle (a link's queue lets that much through at once)
//! and lets the reader run ahead of the rate by up to [`AHEAD`]; past that, it waits (a timer, never a
//! busy loop) until the debt is paid, before it reads on: meanwhile the socket's receive buffer fills and
//! TCP slows the sender, as a slow last mile does. A body's end waits for its debt too ([`Shaper::settle`]),
//! so a download takes as long as the link would take to bring it (less the idle credit) and the
//! throughput a player measures is the cap, not the cap plus the last run-ahead. Running ahead by a
//! quarter second, not waiting once per body frame, keeps the timers few: a 200 KB segment over a
//! 5 Mbit/s link waits twice, not once per 16 KiB read. Written here because the rate limiters on
//! crates.io count requests (governor) or wrap a whole stream, not bytes read by several connections of
//! one viewer through hyper.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The most a bucket holds: a viewer idle for a while may take this much at once, about what a link's
/// queue lets through before its rate shows.
pub const CREDIT: Duration = Duration::from_millis(50);
/// How far ahead of its rate a reader may read before it waits for the rate to catch up.
pub const AHEAD: Duration = Duration::from_millis(250);
/// The least of either, so a low cap still lets a full-size frame through.
const MIN_BYTES: f64 = 16.0 * 1024.0;

/// Bytes per second, with a burst, shared by one viewer's loaders.
#[derive(Clone, Debug)]
pub struct Shaper(Arc<Mutex<Bucket>>);

/// A viewer's bandwidth over time (`--bandwidth-trace`): steps of (start, bits per second) from 0,
/// repeating every `length`, read from `offset` on at the viewer's start.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    steps: Arc<[(Duration, u64)]>,
    length: Duration,
    /// Bits brought from 0 to each step's start, and over the whole trace (a rate of 0 counts as 1 bit/s,
    /// so every span brings something and a debt is always paid some time).
    brought: Arc<[f64]>,
    cycle_bits: f64,
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
        let ends = steps.iter().skip(1).map(|s| s.0).chain([length]);
        let mut brought = Vec::with_capacity(n);
        let mut sum = 0.0;
        for (&(start, bits), end) in steps.iter().zip(ends) {
            brought.push(sum);
            sum += bits.max(1) as f64 * (end - start).as_secs_f64();
        }
        Some(Self { steps: steps.into(), length, brought: brought.into(), cycle_bits: sum })
    }

    /// Bits the trace brings from its start to `t` seconds in (repeating).
    fn bits_to(&self, t: f64) -> f64 {
        let length = self.length.as_secs_f64();
        let cycles = (t / length).floor();
        let x = t - cycles * length;
        let i = self.steps.partition_point(|(start, _)| start.as_secs_f64() <= x).saturating_sub(1);
        let (start, bits) = self.steps[i];
        cycles * self.cycle_bits + self.brought[i] + bits.max(1) as f64 * (x - start.as_secs_f64())
    }

    /// Seconds from the trace's start at which it has brought `bits` (the inverse of `bits_to`).
    fn time_of(&self, bits: f64) -> f64 {
        let cycles = (bits / self.cycle_bits).floor();
        let y = bits - cycles * self.cycle_bits;
        let i = self.brought.partition_point(|b| *b <= y).saturating_sub(1);
        let (start, rate) = self.steps[i];
        cycles * self.length.as_secs_f64() + start.as_secs_f64() + (y - self.brought[i]) / rate.max(1) as f64
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

    /// Bytes the link brings from `from` to `to`.
    fn bytes_between(&self, from: Instant, to: Instant) -> f64 {
        match self {
            Rate::Fixed(bits) => *bits.max(&1) as f64 / 8.0 * to.saturating_duration_since(from).as_secs_f64(),
            Rate::Traced { trace, zero } => {
                let at = |t: Instant| trace.bits_to(t.saturating_duration_since(*zero).as_secs_f64());
                (at(to) - at(from)).max(0.0) / 8.0
            }
        }
    }

    /// When the link, from `from` on, has brought `bytes` more.
    fn brought_at(&self, from: Instant, bytes: f64) -> Instant {
        let secs = match self {
            Rate::Fixed(bits) => bytes * 8.0 / *bits.max(&1) as f64,
            Rate::Traced { trace, zero } => {
                let t = from.saturating_duration_since(*zero).as_secs_f64();
                trace.time_of(trace.bits_to(t) + bytes * 8.0) - t
            }
        };
        from + Duration::from_secs_f64(secs.max(0.0))
    }
}

/// Bytes a span of the rate holds, at least a frame.
fn bytes_in(span: Duration, bytes_per_s: f64) -> f64 {
    (bytes_per_s * span.as_secs_f64()).max(MIN_BYTES)
}

impl Bucket {
    /// Brings the bucket to `now` (refilled with what the link brought meanwhile, up to the credit); the
    /// rate of that moment.
    fn refill(&mut self, now: Instant) -> f64 {
        let rate = self.rate.bytes_per_s(now);
        self.tokens = (self.tokens + self.rate.bytes_between(self.at, now)).min(bytes_in(CREDIT, rate));
        self.at = self.at.max(now);
        rate
    }

    /// When the debt is paid, reading on from `now`.
    fn paid_at(&self, now: Instant) -> Instant {
        self.rate.brought_at(now, -self.tokens)
    }

    /// Takes `bytes` at `now`; when that puts the reader further ahead of the rate than [`AHEAD`] (at the
    /// rate of `now`), the instant until which it waits: when the link, following its trace, has brought
    /// the debt.
    fn take(&mut self, bytes: u64, now: Instant) -> Option<Instant> {
        let rate = self.refill(now);
        self.tokens -= bytes as f64;
        (self.tokens < -bytes_in(AHEAD, rate)).then(|| self.paid_at(now))
    }

    /// At a body's end: until when the reader waits for the link to have brought it, if it is ahead.
    fn settle(&mut self, now: Instant) -> Option<Instant> {
        self.refill(now);
        (self.tokens < 0.0).then(|| self.paid_at(now))
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
        let tokens = bytes_in(CREDIT, rate.bytes_per_s(now));
        Self(Arc::new(Mutex::new(Bucket { rate, tokens, at: now })))
    }

    /// `bytes` of a body were read at `now`: until when the reader waits, if it must.
    pub fn take(&self, bytes: u64, now: Instant) -> Option<Instant> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take(bytes, now)
    }

    /// A body was read to its end at `now`: until when the reader waits before it is complete, if it read
    /// ahead of the rate.
    pub fn settle(&self, now: Instant) -> Option<Instant> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).settle(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_its_credit_through_then_the_reader_runs_ahead_a_quarter_second_at_most() {
        let t0 = Instant::now();
        // 8 Mbit/s = 1 MB/s; credit 50 ms = 50 kB; ahead 250 ms = 250 kB.
        let s = Shaper::new(8_000_000, t0);
        assert_eq!(s.take(50_000, t0), None, "the credit");
        assert_eq!(s.take(200_000, t0), None, "ahead by less than a quarter second goes on");
        let wait = s.take(60_000, t0).expect("ahead by more");
        assert_eq!(wait - t0, Duration::from_millis(260), "260 kB of debt at 1 MB/s");
        // At that instant the debt is paid: a quarter second's worth reads on, the byte after waits.
        assert_eq!(s.settle(wait), None, "nothing to settle");
        assert_eq!(s.take(250_000, wait), None);
        assert_eq!(s.settle(wait + Duration::from_millis(100)), Some(wait + Duration::from_millis(250)));
        assert_eq!(s.take(1_000, wait + Duration::from_millis(100)), None);
    }

    #[test]
    fn a_body_takes_as_long_as_the_link_brings_it_less_the_credit_and_waits_few_times() {
        let t0 = Instant::now();
        // 5 Mbit/s = 625 kB/s: a 200 kB segment in 16 KiB frames, from a full bucket (31.25 kB).
        let s = Shaper::new(5_000_000, t0);
        let (mut now, mut left, mut waits) = (t0, 200_000u64, 0);
        while left > 0 {
            let frame = left.min(16_384);
            left -= frame;
            if let Some(until) = s.take(frame, now) {
                (now, waits) = (until, waits + 1);
            }
        }
        if let Some(until) = s.settle(now) {
            (now, waits) = (until, waits + 1);
        }
        let expected = (200_000.0 - 31_250.0) / 625_000.0;
        assert!(((now - t0).as_secs_f64() - expected).abs() < 1e-3, "{:?}, expected {expected} s", now - t0);
        assert!(waits <= 2, "{waits} waits");
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
        // What a trace brings: integrated over its steps, across its end, an outage at 1 bit/s.
        let outage = Trace::new(vec![(s(0), 8_000_000), (s(5), 0)]).unwrap();
        assert_eq!(outage.bits_to(5.0), 40e6);
        assert_eq!(outage.bits_to(10.0), 40e6 + 5.0);
        assert_eq!(outage.bits_to(10.125), 41e6 + 5.0, "repeats");
        assert_eq!(outage.time_of(40e6 + 2.5), 7.5, "the outage's bits come at its rate");
        assert_eq!(outage.time_of(41e6 + 5.0), 10.125);
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
        // Read to the end: done when the link has brought it all, the 50 kB credit (at 8 Mbit/s) aside.
        now = shaper.settle(now).unwrap_or(now);
        let secs = (now - t0).as_secs_f64();
        let expected = (8e6 * 1.0 + 1e6 * (secs - 1.0)) / 8.0 + 50_000.0;
        assert!((bytes as f64 - expected).abs() / expected < 0.001, "{bytes} bytes in {secs} s, {expected} expected");
    }

    #[test]
    fn an_idle_viewer_saves_no_more_than_the_credit_and_loaders_share_the_bucket() {
        let t0 = Instant::now();
        let s = Shaper::new(8_000_000, t0);
        let other = s.clone();
        let later = t0 + Duration::from_secs(60);
        assert_eq!(s.take(50_000, later), None, "60 s idle saved the credit, no more");
        assert_eq!(s.take(250_000, later), None, "and a quarter second ahead");
        assert!(other.take(1, later).is_some(), "the other connection finds the debt run up");
        assert_eq!(other.settle(later), Some(later + Duration::from_nanos(250_001_000)), "and waits for it too");
        let low = Shaper::new(64_000, t0);
        assert_eq!(low.take(16_384, t0), None, "a low cap still takes a whole frame");
    }
}
