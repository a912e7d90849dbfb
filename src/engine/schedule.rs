//! Pure timing rules of the swarm: when each viewer starts (ramp) and how long a failed viewer waits
//! before it restarts (backoff).

use std::time::Duration;

use crate::seeded;

const RAMP_STREAM: u64 = 0x5241_4d50;
const BACKOFF_STREAM: u64 = 0x4241_434b;

/// Viewer `i` starts at `i / rate` plus a jitter in `[0, jitter)` that depends only on the seed and `i`.
pub fn start_offset(i: u32, rate_per_s: f64, jitter: Duration, seed: u64) -> Duration {
    let base = f64::from(i) / rate_per_s.max(1e-6);
    let j = jitter.as_secs_f64() * seeded::unit(seed, RAMP_STREAM, u64::from(i));
    Duration::from_secs_f64(base + j)
}

/// `--shard INDEX/COUNT`: this process runs the viewers `i` of the whole run with `i mod COUNT ==
/// INDEX`, each at the start time the whole run's ramp gives it, so shards side by side make the
/// schedule one process would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunShard {
    pub index: u32,
    pub count: u32,
}

impl RunShard {
    /// The whole run in one process.
    pub const WHOLE: RunShard = RunShard { index: 0, count: 1 };

    /// `INDEX/COUNT`, e.g. `2/8`; the error says what is allowed.
    pub fn parse(text: &str) -> Result<RunShard, String> {
        let bad = || format!("'{text}' is not a shard: give INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4");
        let (index, count) = text.trim().split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) =
            (index.trim().parse().map_err(|_| bad())?, count.trim().parse().map_err(|_| bad())?);
        (count > 0 && index < count).then_some(RunShard { index, count }).ok_or_else(bad)
    }

    pub fn owns(self, viewer: u32) -> bool {
        viewer % self.count == self.index
    }

    /// How many of the whole run's `clients` viewers this shard runs.
    pub fn viewers(self, clients: u32) -> u32 {
        clients / self.count + u32::from(clients % self.count > self.index)
    }

    pub fn is_whole(self) -> bool {
        self.count == 1
    }
}

/// Restart delays: 250 ms x 1.7^n up to 5 s, each +-20 % (deterministic per viewer and attempt); the
/// count starts over once a viewer has been healthy for 30 s.
#[derive(Clone, Debug)]
pub struct Backoff {
    attempt: u32,
    draws: u64,
    stream: u64,
    seed: u64,
}

pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
pub const HEALTHY_RESET: Duration = Duration::from_secs(30);

impl Backoff {
    pub fn new(seed: u64, viewer: u32) -> Self {
        Self { attempt: 0, draws: 0, stream: BACKOFF_STREAM ^ (u64::from(viewer) << 20), seed }
    }

    /// The delay before the next restart, after a session that ran for `healthy_for`.
    pub fn next(&mut self, healthy_for: Duration) -> Duration {
        if healthy_for >= HEALTHY_RESET {
            self.attempt = 0;
        }
        let base = (BACKOFF_BASE.as_secs_f64() * 1.7f64.powi(self.attempt as i32)).min(BACKOFF_MAX.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1).min(32);
        let factor = 0.8 + 0.4 * seeded::unit(self.seed, self.stream, self.draws);
        self.draws += 1;
        Duration::from_secs_f64(base * factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_together_start_the_same_viewers_at_the_same_offsets_as_one_run() {
        let (clients, rate, jitter, seed) = (103, 7.5, Duration::from_millis(800), 42);
        let whole: Vec<(u32, Duration)> = (0..clients).map(|i| (i, start_offset(i, rate, jitter, seed))).collect();
        let mut sharded: Vec<(u32, Duration)> = (0..4)
            .flat_map(|index| {
                let shard = RunShard { index, count: 4 };
                (0..clients).filter(move |i| shard.owns(*i)).map(move |i| (i, start_offset(i, rate, jitter, seed)))
            })
            .collect();
        sharded.sort();
        assert_eq!(sharded, whole);
        let counts: Vec<u32> = (0..4).map(|index| RunShard { index, count: 4 }.viewers(clients)).collect();
        assert_eq!(counts, [26, 26, 26, 25]);
        assert_eq!(RunShard::parse("3/4"), Ok(RunShard { index: 3, count: 4 }));
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2"] {
            assert!(RunShard::parse(bad).unwrap_err().contains("INDEX/COUNT"), "{bad}");
        }
    }

    #[test]
    fn ramp_is_rate_spaced_with_bounded_jitter() {
        let z = Duration::ZERO;
        assert_eq!(start_offset(0, 5.0, z, 1), Duration::ZERO);
        assert_eq!(start_offset(10, 5.0, z, 1), Duration::from_secs(2));
        let j = Duration::from_millis(500);
        for i in 0..100 {
            let d = start_offset(i, 5.0, j, 9).as_secs_f64() - f64::from(i) / 5.0;
            assert!((0.0..0.5).contains(&d));
            assert_eq!(start_offset(i, 5.0, j, 9), start_offset(i, 5.0, j, 9));
        }
    }

    #[test]
    fn backoff_grows_caps_jitters_and_resets() {
        let mut b = Backoff::new(1, 0);
        let short = Duration::from_secs(1);
        let delays: Vec<f64> = (0..12).map(|_| b.next(short).as_secs_f64()).collect();
        let ideal = |n: i32| (0.25 * 1.7f64.powi(n)).min(5.0);
        for (n, d) in delays.iter().enumerate() {
            let i = ideal(n as i32);
            assert!(*d >= i * 0.8 - 1e-9 && *d <= i * 1.2 + 1e-9, "attempt {n}: {d} vs {i}");
        }
        assert!(delays[11] <= 6.0);
        let after_health = b.next(HEALTHY_RESET).as_secs_f64();
        assert!(after_health <= 0.3);
    }
}
