//! The whole-run timeline: one point per aggregator tick, bounded.
//!
//! Bound: at most [`TIMELINE_CAP`] points (24 h of 1 s ticks, ~4 MiB). When the cap is reached,
//! neighbouring points are merged in pairs and from then on each point covers twice as many ticks
//! (`ticks` says how many), so a run of any length keeps its whole shape at a coarser step.
//!
//! Sharing: snapshots are published every second, so the points are kept in sealed chunks behind
//! `Arc`s; a snapshot clones the chunk pointers and copies only the open chunk (< 256 points).

use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};
use std::sync::Arc;

/// Most points kept before merging pairs: 24 h at one point a second.
pub const TIMELINE_CAP: usize = 86_400;
const CHUNK: usize = 256;

/// Traffic over one tick (or, after downsampling, over `ticks` consecutive ticks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
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
}

impl TimelinePoint {
    /// `self` followed by `later`, as one point.
    fn merge(self, later: TimelinePoint) -> TimelinePoint {
        TimelinePoint {
            t: later.t,
            ticks: self.ticks + later.ticks,
            active_clients: later.active_clients,
            requests: self.requests + later.requests,
            segments: self.segments + later.segments,
            bytes: self.bytes + later.bytes,
            errors: self.errors + later.errors,
            lateness_p99_ms: match (self.lateness_p99_ms, later.lateness_p99_ms) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
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
        self.iter().copied().collect()
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
        let points: Vec<TimelinePoint> = self.sealed.iter().flat_map(|c| c.iter()).chain(&self.open).copied().collect();
        let merged: Vec<TimelinePoint> = points
            .chunks(2)
            .map(|pair| pair.iter().copied().reduce(TimelinePoint::merge).unwrap_or_default())
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
        tail.extend(self.pending);
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
            lateness_p99_ms: None,
        }
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
