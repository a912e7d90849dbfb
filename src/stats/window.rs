//! Time windows: what a window reports ([`WindowStats`]) and how the aggregator keeps one up to date
//! (`Accumulator`): add each new one-second interval, remove the one that just left the window.
//!
//! Add/remove keeps the cost of a tick independent of the window length (no 300 merges a tick),
//! and it is exact: counts and bucket counts are integers, so a window that received nothing for
//! N ticks still holds precisely its last N intervals, and is empty only once they have all left.

use super::counts::{Counts, ErrorCounts, KindCounts, PerKind, StatusCounts};
use super::histograms::{Metric, MetricMask, Percentiles};
use super::packed::{PackedSet, SparseHist};
use super::record::Kind;
use serde::{Deserialize, Serialize};

/// A rolling window, in aggregator ticks (one a second), or the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Window {
    #[serde(rename = "1s")]
    S1,
    #[serde(rename = "30s")]
    S30,
    #[serde(rename = "60s")]
    S60,
    #[serde(rename = "300s")]
    S300,
    #[serde(rename = "run")]
    Run,
}

impl Window {
    pub const ALL: [Window; 5] = [Window::S1, Window::S30, Window::S60, Window::S300, Window::Run];

    /// Length in ticks; `None` for the whole run.
    pub fn ticks(self) -> Option<usize> {
        match self {
            Window::S1 => Some(1),
            Window::S30 => Some(30),
            Window::S60 => Some(60),
            Window::S300 => Some(300),
            Window::Run => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Window::S1 => "1s",
            Window::S30 => "30s",
            Window::S60 => "60s",
            Window::S300 => "300s",
            Window::Run => "run",
        }
    }
}

/// The longest rolling window: how many intervals the aggregator's ring keeps.
pub const RING_LEN: usize = 300;

/// One request kind over a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KindStats {
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub bytes: u64,
    /// Requests per second over the window's measured span.
    pub request_rate: f64,
    /// Body bytes per second over the window's measured span.
    pub byte_rate: f64,
    pub by_status: StatusCounts,
    pub errors_by_class: ErrorCounts,
    /// Ok requests only; `None` when the window holds no sample. Held requests have no TTFB here
    /// (see `hold_ms`), and their duration is their transfer after the hold.
    pub ttfb_ms: Option<Percentiles>,
    pub duration_ms: Option<Percentiles>,
    /// Held requests (blocking reloads, preload hints), whatever the answer, and those of them
    /// answered without what they asked for.
    #[serde(skip_serializing_if = "is_zero")]
    pub held: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub unblocked: u64,
    /// How long the server held ok held requests (their time to first byte).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_ms: Option<Percentiles>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl KindStats {
    /// The figures of `kind` from its counts, rates by `rate` (per second of the span), and the
    /// percentiles `pct` gives of each metric.
    pub(crate) fn of(
        kind: Kind,
        c: &KindCounts,
        rate: impl Fn(u64) -> f64,
        pct: impl Fn(Metric) -> Option<Percentiles>,
    ) -> KindStats {
        KindStats {
            requests: c.requests(),
            ok: c.ok,
            errors: c.errors(),
            bytes: c.bytes,
            request_rate: rate(c.requests()),
            byte_rate: rate(c.bytes),
            by_status: c.by_status,
            errors_by_class: c.errors_by_class,
            ttfb_ms: pct(Metric::Ttfb(kind)),
            duration_ms: pct(Metric::Duration(kind)),
            held: c.held,
            unblocked: c.unblocked,
            hold_ms: pct(Metric::Hold(kind)),
        }
    }
}

/// Playback over a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PlaybackStats {
    pub starts: u64,
    pub restarts: u64,
    pub stops: u64,
    pub startups: u64,
    pub startup_ms: Option<Percentiles>,
    /// Stalls that began in the window.
    pub stalls: u64,
    /// Length of the stalls that ended in the window (running stalls are not in it).
    pub stall_seconds: f64,
    pub segments_skipped: u64,
    /// Live viewers' latency samples (one a viewer a second): wall clock minus the playhead's
    /// program date-time.
    pub live_latency_ms: Option<Percentiles>,
    /// Low-latency viewers' distance to the live edge, in parts, sampled with the latency.
    pub edge_distance_parts: Option<Percentiles>,
}

/// Connections opened in a window: the setup phases of each, measured on the request that opened it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ConnectionStats {
    /// Connections opened (TCP connect completed).
    pub opened: u64,
    pub dns_ms: Option<Percentiles>,
    pub connect_ms: Option<Percentiles>,
    pub tls_ms: Option<Percentiles>,
}

/// Everything a consumer shows for one window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowStats {
    pub window: Window,
    /// Ticks the window covers now: its length, or fewer early in the run.
    pub ticks: u64,
    /// Measured seconds those ticks cover; rates divide by it.
    pub span_s: f64,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub bytes: u64,
    pub request_rate: f64,
    pub byte_rate: f64,
    /// Ok segment requests.
    pub segments_downloaded: u64,
    /// Ok segments, `body_bytes / total`, bytes per second.
    pub segment_throughput_bps: Option<Percentiles>,
    pub errors_by_class: ErrorCounts,
    pub kinds: PerKind<KindStats>,
    pub playback: PlaybackStats,
    pub connections: ConnectionStats,
    /// How late the viewer threads' timers fired (the generator's own delay), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness_ms: Option<Percentiles>,
}

impl WindowStats {
    pub fn empty(window: Window) -> WindowStats {
        let pct = [None; Metric::COUNT];
        WindowStats::build(window, 0, 0, &Counts::default(), &pct)
    }

    fn build(
        window: Window,
        ticks: u64,
        span_us: u64,
        counts: &Counts,
        pct: &[Option<Percentiles>; Metric::COUNT],
    ) -> WindowStats {
        let span_s = span_us as f64 / 1e6;
        let rate = |n: u64| if span_us == 0 { 0.0 } else { n as f64 / span_s };
        let kinds = PerKind::from_fn(|kind: Kind| KindStats::of(kind, &counts.kinds[kind], rate, |m| pct[m.index()]));
        let p = &counts.playback;
        let playback = PlaybackStats {
            starts: p.starts,
            restarts: p.restarts,
            stops: p.stops,
            startups: p.startups,
            startup_ms: pct[Metric::Startup.index()],
            stalls: p.stalls,
            stall_seconds: p.stalled_us as f64 / 1e6,
            segments_skipped: p.segments_skipped,
            live_latency_ms: pct[Metric::LiveLatency.index()],
            edge_distance_parts: pct[Metric::EdgeDistance.index()],
        };
        WindowStats {
            window,
            ticks,
            span_s,
            requests: counts.requests(),
            ok: counts.ok(),
            errors: counts.errors(),
            bytes: counts.bytes(),
            request_rate: rate(counts.requests()),
            byte_rate: rate(counts.bytes()),
            segments_downloaded: counts.segments_downloaded(),
            segment_throughput_bps: pct[Metric::SegmentThroughput.index()],
            errors_by_class: counts.errors_by_class(),
            kinds,
            playback,
            connections: ConnectionStats {
                opened: pct[Metric::Connect.index()].map_or(0, |p| p.count),
                dns_ms: pct[Metric::Dns.index()],
                connect_ms: pct[Metric::Connect.index()],
                tls_ms: pct[Metric::Tls.index()],
            },
            lateness_ms: pct[Metric::Lateness.index()],
        }
    }
}

/// One tick's worth of data, as it enters every window and as the ring keeps it until it leaves
/// the longest one.
#[derive(Debug)]
pub(crate) struct PackedInterval {
    pub counts: Counts,
    pub span_us: u64,
    pub hists: PackedSet,
}

/// A window's running sums: add each new interval, remove the one that just left the window.
///
/// Histograms are kept as occupied buckets only, so adding or removing an interval costs what the
/// interval holds, not the ~23,000 buckets of a dense histogram, and holding one costs at most
/// what a dense one would.
#[derive(Debug)]
pub(crate) struct Accumulator {
    window: Window,
    ticks: u64,
    span_us: u64,
    counts: Counts,
    hists: Box<[SparseHist; Metric::COUNT]>,
    /// Percentiles per metric, recomputed only for metrics that changed since the last snapshot.
    pct: [Option<Percentiles>; Metric::COUNT],
    changed: MetricMask,
}

impl Accumulator {
    pub(crate) fn new(window: Window) -> Accumulator {
        Accumulator {
            window,
            ticks: 0,
            span_us: 0,
            counts: Counts::default(),
            hists: Box::new(std::array::from_fn(|_| SparseHist::default())),
            pct: [None; Metric::COUNT],
            changed: MetricMask::default(),
        }
    }

    pub(crate) fn window(&self) -> Window {
        self.window
    }

    pub(crate) fn add(&mut self, interval: &PackedInterval) {
        self.ticks += 1;
        self.span_us += interval.span_us;
        self.counts.add(&interval.counts);
        for (metric, buckets) in interval.hists.iter() {
            self.hists[metric.index()].add(buckets);
            self.changed.insert(metric);
        }
    }

    /// Removes an interval added earlier.
    pub(crate) fn remove(&mut self, old: &PackedInterval) {
        self.ticks -= 1;
        self.span_us -= old.span_us;
        self.counts.subtract(&old.counts);
        for (metric, buckets) in old.hists.iter() {
            self.hists[metric.index()].remove(buckets);
            self.changed.insert(metric);
        }
    }

    /// The window now.
    pub(crate) fn stats(&mut self) -> WindowStats {
        for metric in Metric::all().filter(|m| self.changed.contains(*m)) {
            self.pct[metric.index()] = self.hists[metric.index()].percentiles(metric);
        }
        self.changed = MetricMask::default();
        WindowStats::build(self.window, self.ticks, self.span_us, &self.counts, &self.pct)
    }

    pub(crate) fn counts(&self) -> &Counts {
        &self.counts
    }

    /// The window's histograms, packed (for the whole run's histograms in snapshots).
    pub(crate) fn packed(&self) -> PackedSet {
        PackedSet::from_sparse(&self.hists)
    }

    /// Occupied buckets held (memory-bound checks).
    pub(crate) fn buckets(&self) -> usize {
        self.hists.iter().map(SparseHist::len).sum()
    }
}
