//! How far the target's clock is from this machine's, read from the `Date` headers of the responses the
//! viewers get anyway (no request of its own). Shards of one run start together by their own clocks
//! (`--start-at`) and their timelines merge by wall-clock second, so each shard's report says how its clock
//! stood against the one clock they all talk to.
//!
//! A `Date` is the second the server made the response in (RFC 9110, 6.6.1), truncated. A response asked
//! for at local time `sent` and whose head came at `came` was made between the two, so with the offset
//! `target − local`: `date ≤ sent + offset < date + 1 s` at the earliest and `came + offset ≥ date` at the
//! latest. Each response thus bounds the offset to `[date − came, date + 1 s − sent]`; the bounds of many
//! responses, made at every phase of the second, close in to about one round trip.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Enough responses for bounds about a round trip wide; later ones are not parsed (a few per viewer).
const SAMPLES: u64 = 20_000;

/// The offset's bounds so far, in microseconds, shared by every viewer of the run.
#[derive(Debug)]
pub struct TargetClock {
    /// Local wall-clock time at `base`, in microseconds since the epoch.
    base_wall_us: i64,
    base: Instant,
    low_us: AtomicI64,
    high_us: AtomicI64,
    samples: AtomicU64,
    /// Responses whose `Date` disagreed with the bounds already held (a cached response's, or a server
    /// whose clock stepped): left out of the bounds.
    outliers: AtomicU64,
}

/// The estimate for the report: `target − local` in milliseconds, give or take `uncertainty_ms`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClockOffset {
    pub offset_ms: f64,
    pub uncertainty_ms: f64,
    pub samples: u64,
}

impl Default for TargetClock {
    fn default() -> Self {
        Self::new()
    }
}

impl TargetClock {
    pub fn new() -> TargetClock {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        TargetClock {
            base_wall_us: micros(wall),
            base: Instant::now(),
            low_us: AtomicI64::new(i64::MIN),
            high_us: AtomicI64::new(i64::MAX),
            samples: AtomicU64::new(0),
            outliers: AtomicU64::new(0),
        }
    }

    /// One response's `Date` (`value`), asked for at `sent`, its head come at `came`. Values that are not
    /// an HTTP date are left out.
    pub fn observe(&self, value: &[u8], sent: Instant, came: Instant) {
        let Some(date) = std::str::from_utf8(value).ok().and_then(|v| httpdate::parse_http_date(v).ok()) else {
            return;
        };
        let date_us = micros(date.duration_since(UNIX_EPOCH).unwrap_or_default());
        let low = date_us - self.wall_us(came);
        let high = date_us + 1_000_000 - self.wall_us(sent);
        self.samples.fetch_add(1, Relaxed);
        // A Date can only be too old (a cache's copy made earlier, `Age` or not), never too new: so a
        // sample whose upper bound falls below the lower bound held is a stale one, dropped; and a sample
        // whose lower bound rises above the upper bound held shows that bound came from a stale one, so
        // this sample's upper bound replaces it.
        if high < self.low_us.load(Relaxed) {
            self.outliers.fetch_add(1, Relaxed);
            return;
        }
        if low > self.high_us.load(Relaxed) {
            self.outliers.fetch_add(1, Relaxed);
            self.high_us.store(high, Relaxed);
        }
        // Most samples do not narrow the bounds: read before writing, so viewer threads do not fight
        // over the cache line.
        if low > self.low_us.load(Relaxed) {
            self.low_us.fetch_max(low, Relaxed);
        }
        if high < self.high_us.load(Relaxed) {
            self.high_us.fetch_min(high, Relaxed);
        }
    }

    /// A response's `Date`, its head come now; one a cache served (it carries `Age`) is as old as the
    /// copy, so it is left out. Past [`SAMPLES`] responses, nothing is read.
    pub fn observe_response(&self, headers: &http::HeaderMap, sent: Instant) {
        if self.samples.load(Relaxed) >= SAMPLES {
            return;
        }
        if let (Some(date), None) = (headers.get(http::header::DATE), headers.get(http::header::AGE)) {
            self.observe(date.as_bytes(), sent, Instant::now());
        }
    }

    /// The estimate, once any response had a `Date`.
    pub fn offset(&self) -> Option<ClockOffset> {
        let (low, high) = (self.low_us.load(Relaxed), self.high_us.load(Relaxed));
        if low == i64::MIN || high == i64::MAX {
            return None;
        }
        // Both bounds can come from different responses at the same tick; a round trip of timer
        // granularity can leave them crossed by microseconds. Their middle is still the estimate.
        let (low, high) = (low.min(high), low.max(high));
        Some(ClockOffset {
            offset_ms: (low + high) as f64 / 2_000.0,
            uncertainty_ms: (high - low) as f64 / 2_000.0,
            samples: self.samples.load(Relaxed) - self.outliers.load(Relaxed),
        })
    }

    fn wall_us(&self, at: Instant) -> i64 {
        match at.checked_duration_since(self.base) {
            Some(after) => self.base_wall_us + micros(after),
            None => self.base_wall_us - micros(self.base.duration_since(at)),
        }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server whose clock is `offset` ahead answers at local instant `at`.
    fn date_at(clock: &TargetClock, at: Instant, offset_us: i64) -> String {
        let server_us = clock.wall_us(at) + offset_us;
        let server = UNIX_EPOCH + Duration::from_micros(server_us as u64);
        httpdate::fmt_http_date(server)
    }

    #[test]
    fn responses_at_every_phase_of_the_second_bound_the_offset_to_a_round_trip() {
        for offset_us in [-2_345_678_i64, 0, 1_500, 987_654, 60_000_000] {
            let clock = TargetClock::new();
            let start = clock.base + Duration::from_secs(5);
            // 1,000 requests 1.001 s apart (so at every millisecond of the second), each answered 1 ms
            // after it was sent, the round trip 2 ms.
            for i in 0..1_000 {
                let sent = start + Duration::from_millis(1_001 * i);
                let date = date_at(&clock, sent + Duration::from_millis(1), offset_us);
                clock.observe(date.as_bytes(), sent, sent + Duration::from_millis(2));
            }
            let got = clock.offset().unwrap();
            let error_ms = (got.offset_ms - offset_us as f64 / 1_000.0).abs();
            assert!(error_ms <= got.uncertainty_ms + 1e-9, "{offset_us} µs: {got:?}");
            assert!(got.uncertainty_ms <= 2.0, "{offset_us} µs: bounds of a round trip, got {got:?}");
            assert_eq!(got.samples, 1_000);
        }
    }

    #[test]
    fn one_response_says_the_offset_within_a_second_and_a_stale_date_is_left_out() {
        let clock = TargetClock::new();
        assert_eq!(clock.offset(), None, "no Date yet");
        clock.observe(b"not a date", clock.base, clock.base);
        assert_eq!(clock.offset(), None);
        let sent = clock.base + Duration::from_millis(300);
        clock.observe(date_at(&clock, sent, 0).as_bytes(), sent, sent + Duration::from_millis(4));
        let one = clock.offset().unwrap();
        assert!(one.uncertainty_ms <= 502.0 && one.offset_ms.abs() <= one.uncertainty_ms, "{one:?}");
        // A cache's copy made a minute ago: it would say the target is a minute behind.
        let later = sent + Duration::from_millis(500);
        clock.observe(date_at(&clock, later, -60_000_000).as_bytes(), later, later);
        assert_eq!(clock.offset().map(|o| o.offset_ms), Some(one.offset_ms), "the stale Date moved nothing");
    }

    #[test]
    fn a_stale_date_first_gives_way_to_the_fresh_ones_after_it() {
        let clock = TargetClock::new();
        let start = clock.base + Duration::from_secs(5);
        // The first response a shield cache's copy, 30 s old and without Age; then fresh ones, 1.003 s
        // apart, 400 of them: their phases in the second sweep more than a whole second, wherever the
        // local clock's stood (300 swept 0.9 s, and the bounds stayed wide when the boundary fell outside).
        clock.observe(date_at(&clock, start, -30_000_000).as_bytes(), start, start + Duration::from_millis(2));
        for i in 1..400 {
            let sent = start + Duration::from_millis(1_003 * i);
            clock.observe(
                date_at(&clock, sent + Duration::from_millis(1), 250_000).as_bytes(),
                sent,
                sent + Duration::from_millis(2),
            );
        }
        let got = clock.offset().unwrap();
        assert!((got.offset_ms - 250.0).abs() <= got.uncertainty_ms + 1e-9 && got.uncertainty_ms < 5.0, "{got:?}");
    }
}
