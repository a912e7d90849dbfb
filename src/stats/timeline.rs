//! The whole-run timeline: one point per aggregator tick, bounded.
//!
//! Bound: at most [`TIMELINE_CAP`] points (24 h of 1 s ticks; about 200 bytes each, the README has a 24 h
//! report's size). When the cap is reached,
//! neighbouring points are merged in pairs and from then on each point covers twice as many ticks
//! (`ticks` says how many), so a run of any length keeps its whole shape at a coarser step.
//!
//! Sharing: snapshots are published every second, so the points are kept in sealed chunks behind
//! `Arc`s; a snapshot clones the chunk pointers and copies only the open chunk (< 256 points).

use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};
use std::sync::Arc;

use super::record::{ErrorClass, Kind};

/// Most points kept before merging pairs: 24 h at one point a second.
pub const TIMELINE_CAP: usize = 86_400;
const CHUNK: usize = 256;

/// Traffic over one tick (or, after downsampling, over `ticks` consecutive ticks), with what a chart
/// of the run needs: per kind the TTFB percentiles of the second, errors by class, playback figures and
/// the viewers on each variant. Small: a 24 h run keeps 86,400 of them (see [`TIMELINE_CAP`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Whole seconds since the run started, at the end of the point (rounded to the nearest).
    pub t: u64,
    /// Ticks merged into this point: 1 until the cap is reached.
    pub ticks: u32,
    /// Active viewers at the end of the point.
    pub active_clients: u64,
    pub requests: u64,
    /// Ok segment requests.
    pub segments: u64,
    /// Body bytes of all kinds.
    pub bytes: u64,
    pub errors: u64,
    /// The 99th percentile of how late the viewer threads' timers fired in the point, milliseconds (the
    /// highest of the ticks merged); `None` without a sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness_p99_ms: Option<f64>,
    /// Per kind with timed requests in the point: their TTFB p50/p90/p99, milliseconds (a point of
    /// several ticks, or of several merged reports, has the highest of each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ttfb_ms: Vec<KindTimes>,
    /// Failed requests by class (classes with none left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors_by_class: Vec<ClassCount>,
    /// Viewers stalled at the end of the point.
    #[serde(default)]
    pub stalled: u64,
    /// Startup p50 of the viewers whose playback started in the point, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_p50_ms: Option<f64>,
    /// Live latency p50 and p99 of the point's samples, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_latency_p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_latency_p99_ms: Option<f64>,
    /// Viewers on each variant at the end of the point, by the variant's index (`variants[].index`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variant_viewers: Vec<u64>,
    /// Adaptive viewers' switches in the point.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub switches_up: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub switches_down: u64,
    /// The origin's side in the point, when it was scraped (or the built-in origin read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<OriginSecond>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The origin's figures at one second of the run, as the scraper last saw them: host CPU and network
/// (node_exporter), requests per second (nginx's, or the built-in origin's), bytes per second sent (the
/// built-in origin's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OriginSecond {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_tx_bytes_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_s: Option<f64>,
}

impl OriginSecond {
    /// The highest of each figure (points merged over ticks or across reports).
    fn highest(self, other: OriginSecond) -> OriginSecond {
        OriginSecond {
            cpu_percent: highest(self.cpu_percent, other.cpu_percent),
            net_tx_bytes_per_s: highest(self.net_tx_bytes_per_s, other.net_tx_bytes_per_s),
            requests_per_s: highest(self.requests_per_s, other.requests_per_s),
            bytes_per_s: highest(self.bytes_per_s, other.bytes_per_s),
        }
    }
}

/// One kind's TTFB in a timeline point, milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindTimes {
    pub kind: Kind,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

/// Failed requests of one class in a timeline point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassCount {
    pub class: ErrorClass,
    pub count: u64,
}

/// The higher of two optional figures.
pub(crate) fn highest(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl TimelinePoint {
    /// `self` followed by `later`, as one point: counts add up, gauges are the later point's,
    /// percentiles the higher of the two.
    pub fn merge(self, later: TimelinePoint) -> TimelinePoint {
        let mut merged = TimelinePoint {
            t: later.t,
            ticks: self.ticks + later.ticks,
            active_clients: later.active_clients,
            stalled: later.stalled,
            variant_viewers: later.variant_viewers.clone(),
            ..self.clone()
        };
        merged.add(&later, false);
        merged
    }

    /// Adds `other`'s counts and takes the higher of each percentile; `gauges`: also adds its
    /// gauges (viewers, stalled, per variant), as points of two swarms in the same second do.
    pub fn add(&mut self, other: &TimelinePoint, gauges: bool) {
        self.requests += other.requests;
        self.segments += other.segments;
        self.bytes += other.bytes;
        self.errors += other.errors;
        self.switches_up += other.switches_up;
        self.switches_down += other.switches_down;
        self.origin = match (self.origin, other.origin) {
            (Some(a), Some(b)) => Some(a.highest(b)),
            (a, b) => a.or(b),
        };
        self.lateness_p99_ms = highest(self.lateness_p99_ms, other.lateness_p99_ms);
        self.startup_p50_ms = highest(self.startup_p50_ms, other.startup_p50_ms);
        self.live_latency_p50_ms = highest(self.live_latency_p50_ms, other.live_latency_p50_ms);
        self.live_latency_p99_ms = highest(self.live_latency_p99_ms, other.live_latency_p99_ms);
        for k in &other.ttfb_ms {
            match self.ttfb_ms.iter_mut().find(|m| m.kind == k.kind) {
                Some(m) => {
                    m.p50 = m.p50.max(k.p50);
                    m.p90 = m.p90.max(k.p90);
                    m.p99 = m.p99.max(k.p99);
                }
                None => self.ttfb_ms.push(*k),
            }
        }
        self.ttfb_ms.sort_by_key(|k| k.kind);
        for c in &other.errors_by_class {
            match self.errors_by_class.iter_mut().find(|m| m.class == c.class) {
                Some(m) => m.count += c.count,
                None => self.errors_by_class.push(*c),
            }
        }
        self.errors_by_class.sort_by_key(|c| c.class);
        if gauges {
            self.active_clients += other.active_clients;
            self.stalled += other.stalled;
            if self.variant_viewers.len() < other.variant_viewers.len() {
                self.variant_viewers.resize(other.variant_viewers.len(), 0);
            }
            for (mine, theirs) in self.variant_viewers.iter_mut().zip(&other.variant_viewers) {
                *mine += theirs;
            }
        }
    }
}

/// An immutable view of the timeline, oldest point first. Serializes as a plain array.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    chunks: Vec<Arc<[TimelinePoint]>>,
    len: usize,
}

impl Timeline {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &TimelinePoint> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    pub fn last(&self) -> Option<&TimelinePoint> {
        self.chunks.last().and_then(|c| c.last())
    }

    pub fn to_vec(&self) -> Vec<TimelinePoint> {
        self.iter().cloned().collect()
    }
}

impl Serialize for Timeline {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len))?;
        for point in self.iter() {
            seq.serialize_element(point)?;
        }
        seq.end()
    }
}

/// The aggregator's side: appends points, seals chunks, downsamples at the cap.
#[derive(Debug)]
pub(crate) struct TimelineBuilder {
    sealed: Vec<Arc<[TimelinePoint]>>,
    open: Vec<TimelinePoint>,
    /// Ticks gathered towards the next point once a point covers more than one tick.
    pending: Option<TimelinePoint>,
    stride: u32,
    cap: usize,
}

impl TimelineBuilder {
    pub(crate) fn new(cap: usize) -> TimelineBuilder {
        TimelineBuilder {
            sealed: Vec::new(),
            open: Vec::with_capacity(CHUNK),
            pending: None,
            stride: 1,
            cap: cap.max(2),
        }
    }

    pub(crate) fn push(&mut self, point: TimelinePoint) {
        let point = match self.pending.take() {
            Some(earlier) => earlier.merge(point),
            None => point,
        };
        if point.ticks < self.stride {
            self.pending = Some(point);
            return;
        }
        self.open.push(point);
        if self.open.len() == CHUNK {
            let full = std::mem::replace(&mut self.open, Vec::with_capacity(CHUNK));
            self.sealed.push(full.into());
        }
        if self.len() >= self.cap {
            self.downsample();
        }
    }

    /// Points kept (not counting a pending partial point).
    pub(crate) fn len(&self) -> usize {
        self.sealed.iter().map(|c| c.len()).sum::<usize>() + self.open.len()
    }

    /// Merges neighbouring points in pairs and doubles the ticks per point from now on.
    fn downsample(&mut self) {
        let points: Vec<TimelinePoint> = self.sealed.iter().flat_map(|c| c.iter()).chain(&self.open).cloned().collect();
        let merged: Vec<TimelinePoint> = points
            .chunks(2)
            .map(|pair| pair.iter().cloned().reduce(TimelinePoint::merge).unwrap_or_default())
            .collect();
        self.sealed = merged.chunks(CHUNK).map(Arc::from).collect();
        self.open = match self.sealed.last() {
            Some(last) if last.len() < CHUNK => self.sealed.pop().map(|c| c.to_vec()).unwrap_or_default(),
            _ => Vec::with_capacity(CHUNK),
        };
        self.stride *= 2;
        tracing::debug!(points = merged.len(), ticks_per_point = self.stride, "timeline downsampled");
    }

    /// The timeline for a snapshot; a pending partial point is shown as the last point.
    pub(crate) fn view(&self) -> Timeline {
        let mut chunks = self.sealed.clone();
        let mut tail = self.open.clone();
        tail.extend(self.pending.clone());
        if !tail.is_empty() {
            chunks.push(tail.into());
        }
        let len = chunks.iter().map(|c| c.len()).sum();
        Timeline { chunks, len }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: u64) -> TimelinePoint {
        TimelinePoint {
            t,
            ticks: 1,
            active_clients: t,
            requests: 1,
            segments: 1,
            bytes: 10,
            errors: 0,
            ..TimelinePoint::default()
        }
    }

    #[test]
    fn points_add_counts_keep_the_highest_percentiles_and_add_gauges_only_across_swarms() {
        let times = |kind, p99| KindTimes { kind, p50: p99 / 10.0, p90: p99 / 2.0, p99 };
        let class = |class, count| ClassCount { class, count };
        let a = TimelinePoint {
            ttfb_ms: vec![times(Kind::Segment, 40.0)],
            errors_by_class: vec![class(ErrorClass::Http5xx, 2)],
            stalled: 1,
            variant_viewers: vec![3, 1],
            live_latency_p99_ms: Some(900.0),
            ..point(1)
        };
        let b = TimelinePoint {
            ttfb_ms: vec![times(Kind::MediaPlaylist, 5.0), times(Kind::Segment, 20.0)],
            errors_by_class: vec![class(ErrorClass::Http5xx, 1), class(ErrorClass::Timeout, 4)],
            stalled: 2,
            variant_viewers: vec![0, 2, 7],
            ..point(2)
        };
        let later = a.clone().merge(b.clone());
        assert_eq!((later.t, later.ticks, later.requests, later.stalled), (2, 2, 2, 2));
        assert_eq!(later.ttfb_ms, [times(Kind::MediaPlaylist, 5.0), times(Kind::Segment, 40.0)]);
        let mut errors = vec![class(ErrorClass::Timeout, 4), class(ErrorClass::Http5xx, 3)];
        errors.sort_by_key(|c| c.class);
        assert_eq!(later.errors_by_class, errors);
        assert_eq!((later.variant_viewers.clone(), later.live_latency_p99_ms), (vec![0, 2, 7], Some(900.0)));
        let mut side_by_side = a;
        side_by_side.add(&b, true);
        assert_eq!((side_by_side.stalled, side_by_side.active_clients), (3, 3));
        assert_eq!(side_by_side.variant_viewers, [3, 3, 7]);
    }

    #[test]
    fn keeps_every_tick_across_chunks() {
        let mut b = TimelineBuilder::new(TIMELINE_CAP);
        for t in 1..=1500 {
            b.push(point(t));
        }
        let view = b.view();
        assert_eq!(view.len(), 1500);
        assert_eq!(view.iter().map(|p| p.t).collect::<Vec<_>>(), (1..=1500).collect::<Vec<_>>());
        assert_eq!(serde_json::to_value(&view).unwrap().as_array().unwrap().len(), 1500);
    }

    #[test]
    fn downsamples_at_the_cap_and_keeps_totals() {
        let mut b = TimelineBuilder::new(1000);
        for t in 1..=5001 {
            b.push(point(t));
        }
        let view = b.view();
        assert!(view.len() <= 1000, "len {}", view.len());
        let requests: u64 = view.iter().map(|p| p.requests).sum();
        let ticks: u32 = view.iter().map(|p| p.ticks).sum();
        assert_eq!((requests, ticks), (5001, 5001));
        assert_eq!(view.last().unwrap().t, 5001);
        assert_eq!(view.last().unwrap().active_clients, 5001);
        let ts: Vec<u64> = view.iter().map(|p| p.t).collect();
        assert!(ts.windows(2).all(|w| w[0] < w[1]));
    }
}
