//! The immutable picture the aggregator publishes once a tick. Every consumer (TUI, Prometheus,
//! progress lines, final report) reads these and nothing else, so no consumer can take data from
//! another.

use super::counts::Counts;
use super::generator::GeneratorStats;
use super::histograms::Metric;
use super::packed::PackedSet;
use super::recorder::Gauges;
use super::run_histograms::RunHistograms;
use super::timeline::Timeline;
use super::variants::VariantStats;
use super::window::{PlaybackStats, Window, WindowStats};
use serde::{Serialize, Serializer};
use std::sync::Arc;
use std::time::Duration;

/// The rolling windows and the whole run, keyed `1s`, `30s`, `60s`, `300s`, `run` in JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Windows {
    #[serde(rename = "1s")]
    pub s1: WindowStats,
    #[serde(rename = "30s")]
    pub s30: WindowStats,
    #[serde(rename = "60s")]
    pub s60: WindowStats,
    #[serde(rename = "300s")]
    pub s300: WindowStats,
    pub run: WindowStats,
}

impl Windows {
    pub fn get(&self, window: Window) -> &WindowStats {
        match window {
            Window::S1 => &self.s1,
            Window::S30 => &self.s30,
            Window::S60 => &self.s60,
            Window::S300 => &self.s300,
            Window::Run => &self.run,
        }
    }

    pub fn empty() -> Windows {
        Windows {
            s1: WindowStats::empty(Window::S1),
            s30: WindowStats::empty(Window::S30),
            s60: WindowStats::empty(Window::S60),
            s300: WindowStats::empty(Window::S300),
            run: WindowStats::empty(Window::Run),
        }
    }
}

/// Everything measured up to one tick. Plain data; cheap to share behind an `Arc`.
#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    /// Ticks so far (0 before the first).
    pub tick: u64,
    /// Time since the run started, at this tick.
    #[serde(rename = "elapsed_s", serialize_with = "as_secs")]
    pub elapsed: Duration,
    /// Set on the snapshot of [`Aggregator::finish`](super::Aggregator::finish): nothing follows.
    pub is_final: bool,
    pub gauges: Gauges,
    /// Monotonic counters since the start (the whole-run window's raw counts; mergeable).
    pub totals: Counts,
    pub windows: Windows,
    pub timeline: Timeline,
    /// Whole-run histogram buckets; see [`Snapshot::run_histograms`].
    #[serde(skip)]
    pub(crate) run_buckets: Arc<PackedSet>,
    /// The whole run per variant: counts at every tick, percentiles too in the final snapshot.
    #[serde(serialize_with = "as_slice")]
    pub variants: Arc<Vec<VariantStats>>,
    /// The generator's own health: its timers' lateness, saturation, CPU.
    pub generator: GeneratorStats,
}

impl Snapshot {
    /// The snapshot before any tick: zero everywhere.
    pub fn empty() -> Snapshot {
        Snapshot {
            tick: 0,
            elapsed: Duration::ZERO,
            is_final: false,
            gauges: Gauges::default(),
            totals: Counts::default(),
            windows: Windows::empty(),
            timeline: Timeline::default(),
            run_buckets: Arc::default(),
            variants: Arc::default(),
            generator: GeneratorStats::default(),
        }
    }

    pub fn window(&self, window: Window) -> &WindowStats {
        self.windows.get(window)
    }

    /// Whole-run playback: startup percentiles, stalls, skipped segments.
    pub fn playback(&self) -> &PlaybackStats {
        &self.windows.run.playback
    }

    /// Whole-run histograms, for the final report and lossless merging. Built on demand (dense
    /// histograms are ~200 KiB each), so not part of the snapshot's JSON: a report adds them.
    pub fn run_histograms(&self) -> RunHistograms {
        RunHistograms::new(self.run_buckets.unpack())
    }

    /// Whole-run occupied buckets of `metric`, ascending: `(highest equivalent value, count)` in
    /// recorded units. The same buckets as [`Snapshot::run_histograms`] without building dense
    /// histograms, so a consumer reading them every few seconds (Prometheus) pays for what was
    /// recorded, not ~200 KiB per metric.
    pub fn run_buckets(&self, metric: Metric) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.run_buckets.iter().filter(move |(m, _)| *m == metric).flat_map(|(_, buckets)| buckets)
    }
}

fn as_secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn as_slice<S: Serializer>(v: &Arc<Vec<VariantStats>>, s: S) -> Result<S::Ok, S::Error> {
    v.as_slice().serialize(s)
}
