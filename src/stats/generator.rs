//! The generator's own health: how late the viewer threads' timers fire, and whether hls-swarm itself
//! is the bottleneck. A probe task on each viewer thread asks to wake every [`PROBE_EVERY`] and records
//! how late it woke ([`Metric::Lateness`]); a thread busy with other work (too many viewers, a blocking
//! call) wakes its timers late, and every latency measured on it then includes that delay. The
//! aggregator judges each tick by the 99th percentile of the last [`RECENT_TICKS`] ticks' samples: over
//! the limit (`--max-lateness`), the tick is saturated.

use std::collections::VecDeque;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::histograms::{HistSet, Metric};

/// How often each viewer thread's probe asks to wake.
pub const PROBE_EVERY: Duration = Duration::from_millis(10);
/// Ticks (seconds) the saturation verdict looks back over.
pub const RECENT_TICKS: usize = 5;
/// `--max-lateness`'s default.
pub const DEFAULT_MAX_LATENESS: Duration = Duration::from_millis(10);

/// What a snapshot says of the generator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorStats {
    /// The 99th percentile of the viewer threads' timer lateness over the last five seconds, ms.
    pub recent_lateness_p99_ms: Option<f64>,
    /// The limit it is judged by, ms.
    pub max_lateness_ms: f64,
    /// Over the limit now.
    pub saturated: bool,
    /// Seconds of the run spent saturated.
    pub saturated_seconds: f64,
    /// Times it became saturated.
    pub episodes: u64,
    /// The process's CPU time (user + system) since the run started, seconds.
    pub cpu_seconds: f64,
    /// CPU time over wall time in the last tick (1.0 = one core busy).
    pub cpu_share: f64,
    /// Viewer threads (single-threaded runtimes) the run is spread over.
    pub threads: usize,
}

/// What a saturated generator's user can do about it.
pub const ADVICE: &str = "run fewer viewers per machine, more `--threads`, or shard the run";

impl GeneratorStats {
    /// Said once when the generator becomes saturated (the log, the progress lines).
    pub fn saturation_message(&self) -> String {
        format!(
            "generator saturated: its timers fire {:.0} ms late (p99 over 5 s, limit {:.0} ms); latencies now \
             include hls-swarm's own delay: {ADVICE}",
            self.recent_lateness_p99_ms.unwrap_or_default(),
            self.max_lateness_ms
        )
    }
}

/// The aggregator's side: the recent ticks' lateness and the verdicts so far.
#[derive(Debug)]
pub(crate) struct GeneratorWatch {
    limit: Duration,
    recent: VecDeque<Histogram<u64>>,
    stats: GeneratorStats,
    cpu_at_start: Option<f64>,
    cpu_last: Option<f64>,
}

impl GeneratorWatch {
    /// `with_cpu`: reads the process's CPU time at each tick (a run's; an aggregator in a test leaves it
    /// out, the figure being the test process's).
    pub fn new(limit: Duration, threads: usize, with_cpu: bool) -> Self {
        let max_lateness_ms = limit.as_secs_f64() * 1e3;
        let stats = GeneratorStats { max_lateness_ms, threads, ..GeneratorStats::default() };
        let cpu = if with_cpu { process_cpu_seconds() } else { None };
        Self { limit, recent: VecDeque::with_capacity(RECENT_TICKS + 1), stats, cpu_at_start: cpu, cpu_last: cpu }
    }

    /// A tick of `span_s` seconds closed with `current`'s samples: the verdict for it, and this tick's own
    /// 99th percentile (ms) for the timeline. Returns whether a saturated episode began.
    pub fn tick(&mut self, current: &HistSet, span_s: f64) -> (Option<f64>, bool) {
        let mut this = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds");
        if let Some(h) = current.get(Metric::Lateness) {
            let _ = this.add(h);
        }
        let tick_p99 = (!this.is_empty()).then(|| this.value_at_quantile(0.99) as f64 / 1e3);
        self.recent.push_back(this);
        if self.recent.len() > RECENT_TICKS {
            self.recent.pop_front();
        }
        let mut merged = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds");
        for h in &self.recent {
            let _ = merged.add(h);
        }
        let recent = (!merged.is_empty()).then(|| merged.value_at_quantile(0.99));
        self.stats.recent_lateness_p99_ms = recent.map(|us| us as f64 / 1e3);
        let saturated = recent.is_some_and(|us| Duration::from_micros(us) > self.limit);
        let began = saturated && !self.stats.saturated;
        if saturated {
            self.stats.saturated_seconds += span_s;
        }
        self.stats.episodes += u64::from(began);
        self.stats.saturated = saturated;
        if let (Some(now), Some(start), Some(last)) = (process_cpu_seconds(), self.cpu_at_start, self.cpu_last) {
            self.stats.cpu_seconds = now - start;
            self.stats.cpu_share = if span_s > 0.0 { (now - last) / span_s } else { 0.0 };
            self.cpu_last = Some(now);
        }
        (tick_p99, began)
    }

    pub fn stats(&self) -> GeneratorStats {
        self.stats
    }
}

/// User + system CPU time of this process, seconds (`getrusage`; std has no call for it).
fn process_cpu_seconds() -> Option<f64> {
    // SAFETY: getrusage writes into the zeroed struct it is given and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (rc == 0).then(|| secs(usage.ru_utime) + secs(usage.ru_stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick_with(watch: &mut GeneratorWatch, late_us: &[u64]) -> (Option<f64>, bool) {
        let mut set = HistSet::default();
        for us in late_us {
            set.record(Metric::Lateness, *us);
        }
        watch.tick(&set, 1.0)
    }

    #[test]
    fn late_timers_over_the_limit_make_saturated_seconds_and_one_episode() {
        let mut w = GeneratorWatch::new(Duration::from_millis(10), 1, true);
        assert_eq!(tick_with(&mut w, &[200; 100]), (Some(0.2), false));
        assert!(!w.stats().saturated);
        // A second of 50 ms wakes: over the limit at once, and for the next four ticks (the five seconds
        // look back), whatever they hold.
        let (p99, began) = tick_with(&mut w, &[50_000; 100]);
        assert!(began && p99.unwrap() >= 49.0, "{p99:?}");
        for _ in 0..4 {
            assert!(!tick_with(&mut w, &[200; 100]).1, "one episode");
        }
        assert!(w.stats().saturated);
        tick_with(&mut w, &[200; 100]);
        let s = w.stats();
        assert!(!s.saturated, "the late second left the five");
        assert_eq!((s.saturated_seconds, s.episodes), (5.0, 1));
        assert_eq!(tick_with(&mut w, &[]).0, None, "no sample, no figure");
        assert!(w.stats().cpu_seconds > 0.0, "this process's CPU time");
    }
}
