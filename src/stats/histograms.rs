//! HdrHistograms: which ones exist ([`Metric`]), a lazily allocated dense set of them (`HistSet`),
//! and their percentiles.
//!
//! Every histogram has 3 significant digits (values within 0.1%). Durations are microseconds from
//! 1 us to 1 h; throughput is bytes per second up to 100 GB/s; parts (the distance to the live edge)
//! are counted up to a million, exactly below 2,048. Out-of-range values are clamped to the range
//! (`saturating_record`), never dropped and never a panic.
//!
//! Memory and time: a dense histogram of this precision holds ~23,500 (durations) or ~28,700
//! (throughput) `u64` counts, about 190-230 KiB, and every whole-histogram operation walks all of
//! them. Dense sets are therefore used only where recording must be O(1) (recorder shards, the
//! interval being merged) and for [`RunHistograms`](super::RunHistograms) built on demand for a
//! report; the ring and the windows hold only occupied buckets (see `packed`).

use super::record::{Kind, RequestRecord, micros};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// Highest trackable duration, in microseconds (1 h). Longer values are clamped to it.
pub const DURATION_MAX_US: u64 = 3_600_000_000;
/// Highest trackable throughput, in bytes per second (100 GB/s). Higher values are clamped to it.
pub const THROUGHPUT_MAX_BPS: u64 = 100_000_000_000;
/// Highest trackable distance to the live edge, in parts. Higher values are clamped to it.
pub const PARTS_MAX: u64 = 1_000_000;
/// Significant digits of every histogram.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// One recorded distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Time to first body byte of ok requests that were not held, microseconds.
    Ttfb(Kind),
    /// Total duration of ok requests, microseconds; of a held request, its transfer after the hold
    /// (see [`RequestRecord::hold_split`]).
    Duration(Kind),
    /// How long the server held an ok held request (its time to first byte), microseconds.
    Hold(Kind),
    /// Ok segments: `body_bytes / total`, bytes per second.
    SegmentThroughput,
    /// Viewer startup (start to first segment buffered), microseconds.
    Startup,
    /// Connection phases of requests that opened a connection, whatever the response: DNS lookup,
    /// TCP connect, TLS handshake, microseconds. A phase that failed has no sample (its error class
    /// counts it).
    Dns,
    Connect,
    Tls,
    /// Live viewers' latency (wall clock minus the playhead's program date-time), microseconds.
    LiveLatency,
    /// Low-latency viewers' distance to the live edge, in parts.
    EdgeDistance,
    /// How late the viewer threads' timers fire (the generator's own delay), microseconds.
    Lateness,
}

/// Where the metrics that are not per kind start in [`Metric::index`] order.
const SINGLES: usize = 3 * Kind::COUNT;

impl Metric {
    pub const COUNT: usize = SINGLES + 8;

    pub fn index(self) -> usize {
        match self {
            Metric::Ttfb(k) => k.index(),
            Metric::Duration(k) => Kind::COUNT + k.index(),
            Metric::Hold(k) => 2 * Kind::COUNT + k.index(),
            Metric::SegmentThroughput => SINGLES,
            Metric::Startup => SINGLES + 1,
            Metric::Dns => SINGLES + 2,
            Metric::Connect => SINGLES + 3,
            Metric::Tls => SINGLES + 4,
            Metric::LiveLatency => SINGLES + 5,
            Metric::EdgeDistance => SINGLES + 6,
            Metric::Lateness => SINGLES + 7,
        }
    }

    pub fn from_index(i: usize) -> Metric {
        const K: usize = Kind::COUNT;
        match i {
            i if i < K => Metric::Ttfb(Kind::ALL[i]),
            i if i < 2 * K => Metric::Duration(Kind::ALL[i - K]),
            i if i < SINGLES => Metric::Hold(Kind::ALL[i - 2 * K]),
            i if i == SINGLES => Metric::SegmentThroughput,
            i if i == SINGLES + 1 => Metric::Startup,
            i if i == SINGLES + 2 => Metric::Dns,
            i if i == SINGLES + 3 => Metric::Connect,
            i if i == SINGLES + 4 => Metric::Tls,
            i if i == SINGLES + 5 => Metric::LiveLatency,
            i if i == SINGLES + 6 => Metric::EdgeDistance,
            _ => Metric::Lateness,
        }
    }

    pub fn all() -> impl Iterator<Item = Metric> {
        (0..Metric::COUNT).map(Metric::from_index)
    }

    /// Stable name, used as the key of serialized histograms, e.g. `ttfb_us.segment`.
    pub fn name(self) -> String {
        match self {
            Metric::Ttfb(k) => format!("ttfb_us.{}", k.as_str()),
            Metric::Duration(k) => format!("duration_us.{}", k.as_str()),
            Metric::Hold(k) => format!("hold_us.{}", k.as_str()),
            Metric::SegmentThroughput => "segment_throughput_bps".to_owned(),
            Metric::Startup => "startup_us".to_owned(),
            Metric::Dns => "dns_us".to_owned(),
            Metric::Connect => "connect_us".to_owned(),
            Metric::Tls => "tls_us".to_owned(),
            Metric::LiveLatency => "live_latency_us".to_owned(),
            Metric::EdgeDistance => "edge_distance_parts".to_owned(),
            Metric::Lateness => "lateness_us".to_owned(),
        }
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::all().find(|m| m.name() == name)
    }

    fn highest(self) -> u64 {
        match self {
            Metric::SegmentThroughput => THROUGHPUT_MAX_BPS,
            Metric::EdgeDistance => PARTS_MAX,
            _ => DURATION_MAX_US,
        }
    }

    /// Factor from recorded units to reported units: microseconds to milliseconds, bytes/s and parts
    /// as they are.
    pub fn report_scale(self) -> f64 {
        match self {
            Metric::SegmentThroughput | Metric::EdgeDistance => 1.0,
            _ => 1e-3,
        }
    }

    pub fn new_histogram(self) -> Histogram<u64> {
        Histogram::new_with_bounds(1, self.highest(), SIGNIFICANT_DIGITS).expect("constant histogram bounds are valid")
    }

    /// The highest value that shares `value`'s bucket (values are bucketed to 3 significant digits).
    pub fn highest_equivalent(self, value: u64) -> u64 {
        self.calculator().highest_equivalent(value)
    }

    /// The middle of `value`'s bucket: what HdrHistogram's `mean` weighs each bucket by.
    pub fn median_equivalent(self, value: u64) -> u64 {
        self.calculator().median_equivalent(value)
    }

    fn calculator(self) -> &'static Histogram<u8> {
        match self {
            Metric::SegmentThroughput => &THROUGHPUT_CALC,
            Metric::EdgeDistance => &PARTS_CALC,
            _ => &DURATION_CALC,
        }
    }
}

/// Distribution summary in reported units (milliseconds, or bytes/s for throughput).
/// Quantiles are HdrHistogram's: the highest value equivalent to the sample at that rank.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub min: f64,
    pub mean: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// Summary of a histogram of `metric`; `None` when empty: "no samples" is not "zero".
    pub fn of(h: &Histogram<u64>, metric: Metric) -> Option<Percentiles> {
        let buckets = h.iter_recorded().map(|b| (b.value_iterated_to(), b.count_at_value()));
        Percentiles::from_buckets(metric, h.len(), buckets)
    }

    /// Summary of occupied buckets of `metric`, ascending, each given by its highest equivalent
    /// value; `total` is the sum of their counts. One pass, and the same results as
    /// HdrHistogram's `value_at_quantile`, `min`, `max` and `mean` on the same buckets.
    pub(crate) fn from_buckets(
        metric: Metric,
        total: u64,
        buckets: impl Iterator<Item = (u64, u64)>,
    ) -> Option<Percentiles> {
        const QUANTILES: [f64; 6] = [0.25, 0.50, 0.75, 0.90, 0.95, 0.99];
        if total == 0 {
            return None;
        }
        let calc = metric.calculator();
        let ranks = QUANTILES.map(|q| ((q * total as f64).ceil() as u64).max(1));
        let mut values = [0u64; 6];
        let (mut next, mut seen, mut mean) = (0, 0u64, 0.0f64);
        let (mut min, mut max) = (None, 0);
        for (value, count) in buckets {
            min.get_or_insert(value);
            max = value;
            seen += count;
            mean += calc.median_equivalent(value) as f64 * count as f64 / total as f64;
            while next < ranks.len() && seen >= ranks[next] {
                values[next] = value;
                next += 1;
            }
        }
        let scale = metric.report_scale();
        let v = |x: u64| x as f64 * scale;
        Some(Percentiles {
            count: total,
            min: v(calc.lowest_equivalent(min.unwrap_or(0))),
            mean: mean * scale,
            p25: v(values[0]),
            p50: v(values[1]),
            p75: v(values[2]),
            p90: v(values[3]),
            p95: v(values[4]),
            p99: v(values[5]),
            max: v(max),
        })
    }
}

/// Histograms with the configuration of each metric, kept only to answer "which values share a
/// bucket" (a function of the configuration alone); `u8` counts keep them at ~25 KiB each.
static DURATION_CALC: LazyLock<Histogram<u8>> = LazyLock::new(|| calc(DURATION_MAX_US));
static THROUGHPUT_CALC: LazyLock<Histogram<u8>> = LazyLock::new(|| calc(THROUGHPUT_MAX_BPS));
static PARTS_CALC: LazyLock<Histogram<u8>> = LazyLock::new(|| calc(PARTS_MAX));

fn calc(highest: u64) -> Histogram<u8> {
    Histogram::new_with_bounds(1, highest, SIGNIFICANT_DIGITS).expect("constant histogram bounds are valid")
}

/// A bit per [`Metric`]: which histograms changed in a tick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MetricMask(u64);

const _: () = assert!(Metric::COUNT <= u64::BITS as usize, "a MetricMask holds a bit per metric");

impl MetricMask {
    pub(crate) fn insert(&mut self, m: Metric) {
        self.0 |= 1 << m.index();
    }
    pub(crate) fn contains(self, m: Metric) -> bool {
        self.0 & (1 << m.index()) != 0
    }
}

/// One histogram per metric, allocated on first use: most runs never see `key` or `part`.
#[derive(Clone, Debug)]
pub(crate) struct HistSet {
    hists: [Option<Histogram<u64>>; Metric::COUNT],
}

impl Default for HistSet {
    fn default() -> Self {
        HistSet { hists: std::array::from_fn(|_| None) }
    }
}

impl HistSet {
    pub(crate) fn record(&mut self, metric: Metric, value: u64) {
        self.hists[metric.index()].get_or_insert_with(|| metric.new_histogram()).saturating_record(value);
    }

    /// The distributions of one request; only ok requests have latency and throughput samples, so
    /// a fast error status or a timeout does not move what viewers received (errors are counted).
    pub(crate) fn record_request(&mut self, r: &RequestRecord) {
        for (metric, phase) in
            [(Metric::Dns, r.timings.dns), (Metric::Connect, r.timings.connect), (Metric::Tls, r.timings.tls)]
        {
            if let Some(d) = phase {
                self.record(metric, micros(d));
            }
        }
        self.record_times(r);
    }

    /// The times of an ok request: TTFB and duration, or for a held request its hold and its
    /// transfer after it (the hold is the server waiting on purpose, not latency); throughput.
    pub(crate) fn record_times(&mut self, r: &RequestRecord) {
        if !r.is_ok() {
            return;
        }
        match r.hold_split() {
            Some((hold, transfer)) => {
                self.record(Metric::Hold(r.kind), micros(hold));
                self.record(Metric::Duration(r.kind), micros(transfer));
            }
            None => {
                if let Some(ttfb) = r.timings.ttfb {
                    self.record(Metric::Ttfb(r.kind), micros(ttfb));
                }
                self.record(Metric::Duration(r.kind), micros(r.timings.total));
            }
        }
        if let Some(bps) = r.segment_throughput() {
            self.record(Metric::SegmentThroughput, bps);
        }
    }

    /// The histogram of `metric`, if it was ever allocated (it may be empty).
    pub(crate) fn get(&self, metric: Metric) -> Option<&Histogram<u64>> {
        self.hists[metric.index()].as_ref()
    }

    pub(crate) fn get_or_insert(&mut self, metric: Metric) -> &mut Histogram<u64> {
        self.hists[metric.index()].get_or_insert_with(|| metric.new_histogram())
    }

    /// Non-empty histograms.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Metric, &Histogram<u64>)> {
        self.hists.iter().enumerate().filter_map(|(i, h)| match h {
            Some(h) if !h.is_empty() => Some((Metric::from_index(i), h)),
            _ => None,
        })
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Adds every non-empty histogram of `other`.
    pub(crate) fn add(&mut self, other: &HistSet) -> Result<(), hdrhistogram::AdditionError> {
        for (metric, h) in other.iter() {
            self.get_or_insert(metric).add(h)?;
        }
        Ok(())
    }

    /// Empties every histogram but keeps its allocation (recycled shard sets never reallocate).
    pub(crate) fn reset(&mut self) {
        for h in self.hists.iter_mut().flatten() {
            if !h.is_empty() {
                h.reset();
            }
        }
    }

    /// How many histograms are allocated (for memory-bound checks).
    pub(crate) fn allocated(&self) -> usize {
        self.hists.iter().flatten().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn metric_index_round_trips() {
        for (i, m) in Metric::all().enumerate() {
            assert_eq!(m.index(), i);
            assert_eq!(Metric::from_name(&m.name()), Some(m));
        }
    }

    #[test]
    fn a_held_request_records_its_hold_not_a_ttfb() {
        let mut r = RequestRecord::ok(Kind::BlockingPlaylist, Duration::from_millis(1_000), 2_000);
        r.timings.ttfb = Some(Duration::from_millis(990));
        r.hold = Some(crate::stats::Hold::Unblocked);
        let mut set = HistSet::default();
        set.record_request(&r);
        let sample = |m| set.get(m).map(|h| (h.len(), h.max()));
        let one = |us| Some((1, Metric::Startup.highest_equivalent(us)));
        assert_eq!(sample(Metric::Ttfb(Kind::BlockingPlaylist)), None);
        assert_eq!(sample(Metric::Hold(Kind::BlockingPlaylist)), one(990_000));
        assert_eq!(sample(Metric::Duration(Kind::BlockingPlaylist)), one(10_000), "10 ms after the first byte");
        r.status = Some(503);
        let mut failed = HistSet::default();
        failed.record_request(&r);
        assert!(failed.is_empty(), "a failed held request has no hold sample");
    }

    #[test]
    fn out_of_range_values_clamp() {
        let mut set = HistSet::default();
        set.record(Metric::Duration(Kind::Segment), u64::MAX);
        set.record(Metric::Duration(Kind::Segment), 0);
        set.record(Metric::SegmentThroughput, u64::MAX);
        let h = set.get(Metric::Duration(Kind::Segment)).unwrap();
        assert_eq!(h.len(), 2);
        assert!(h.equivalent(h.max(), DURATION_MAX_US));
        let t = set.get(Metric::SegmentThroughput).unwrap();
        assert!(t.equivalent(t.max(), THROUGHPUT_MAX_BPS));
        set.record(Metric::EdgeDistance, u64::MAX);
        let parts = set.get(Metric::EdgeDistance).unwrap();
        assert!(parts.equivalent(parts.max(), PARTS_MAX));
    }

    #[test]
    fn edge_distances_are_whole_parts_exactly() {
        let mut h = Metric::EdgeDistance.new_histogram();
        for parts in [0, 0, 1, 3, 3, 3, 7, 2_047] {
            h.record(parts).unwrap();
        }
        let p = Percentiles::of(&h, Metric::EdgeDistance).unwrap();
        assert_eq!((p.count, p.min, p.p50, p.p75, p.max), (8, 0.0, 3.0, 3.0, 2_047.0));
        assert_eq!(Metric::from_name("edge_distance_parts"), Some(Metric::EdgeDistance));
    }

    #[test]
    fn one_pass_summary_matches_hdrhistogram() {
        let metric = Metric::Duration(Kind::Segment);
        let mut h = metric.new_histogram();
        for v in [0, 1, 5, 5, 900, 1_234, 99_999, 100_000, 2_000_000, 2_000_001, 3_000_000_000] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let p = Percentiles::of(&h, metric).unwrap();
        let ms = |v: u64| v as f64 / 1000.0;
        let q = |x: f64| ms(h.value_at_quantile(x));
        assert_eq!(p.count, h.len());
        assert_eq!((p.min, p.max, p.mean), (ms(h.min()), ms(h.max()), h.mean() / 1000.0));
        assert_eq!([p.p25, p.p50, p.p75, p.p90, p.p95, p.p99], [q(0.25), q(0.5), q(0.75), q(0.9), q(0.95), q(0.99)]);
        assert_eq!(Percentiles::of(&metric.new_histogram(), metric), None);
    }
}
