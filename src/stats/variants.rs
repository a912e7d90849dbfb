//! Whole-run figures per rendition: what each variant of the ladder (audio renditions later) was
//! asked for, answered and timed. Requests that belong to no variant (the multivariant playlist) are
//! counted in a slot of their own, untimed.
//!
//! Bounded by the ladder, never per viewer: [`MAX_RENDITIONS`] slots indexed by the record's variant,
//! and one more for any index beyond (a ladder of more than 32 rungs is counted there, together).
//! Each slot is atomic counters and a dense histogram set behind its own lock, held for one increment;
//! viewers of one variant on two threads rarely meet there. Only the whole run is kept (no windows):
//! the report, the summary and Prometheus's counters need no more, and each slot's histograms are then
//! a handful per variant, not one per window.

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use super::counts::{AtomicCounts, PerKind, PlaybackCounts};
use super::histograms::{HistSet, Metric, Percentiles};
use super::record::{Kind, PlaybackEvent, RequestRecord};
use super::window::KindStats;

/// Renditions counted one by one; later indices share the last slot.
pub const MAX_RENDITIONS: usize = 32;
/// The index of the slot for requests of no variant (the multivariant playlist): counted apart so that
/// every series Prometheus gets only grows (a difference of two readings need not).
pub const NO_VARIANT: u16 = u16::MAX;
const NO_VARIANT_SLOT: usize = MAX_RENDITIONS + 1;

#[derive(Debug, Default)]
struct Slot {
    counts: AtomicCounts,
    hists: Mutex<Box<HistSet>>,
    /// Viewers whose playback is on this variant now.
    watching: AtomicI64,
}

/// The recorder's per-variant part.
#[derive(Debug)]
pub(crate) struct VariantTable {
    slots: Box<[Slot]>,
}

impl Default for VariantTable {
    fn default() -> Self {
        Self { slots: (0..=NO_VARIANT_SLOT).map(|_| Slot::default()).collect() }
    }
}

/// One variant's whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VariantStats {
    /// The variant's position in the multivariant playlist; [`MAX_RENDITIONS`] stands for every index
    /// from there on.
    pub index: u16,
    /// Per kind: requests, ok, errors, bytes, status and error classes, TTFB and duration of ok requests,
    /// held requests and their hold (rates are left at 0: these are whole-run counts).
    pub kinds: PerKind<KindStats>,
    /// Ok segments' bytes per second.
    pub segment_throughput_bps: Option<Percentiles>,
    /// What viewers' playback did on this variant: startups on it, stalls while on it, switches to it,
    /// media buffered from it.
    pub playback: PlaybackCounts,
    /// Viewers whose playback is on it now.
    pub watching: u64,
    /// Its whole-run histograms (the final snapshot's; empty at a tick), for reports that merge.
    #[serde(skip)]
    pub histograms: super::RunHistograms,
}

impl VariantStats {
    /// A variant of the ladder (or `others`), not the requests of no variant.
    pub fn is_variant(&self) -> bool {
        self.index != NO_VARIANT
    }

    pub fn segments_downloaded(&self) -> u64 {
        self.kinds[Kind::Segment].ok
    }
}

impl VariantTable {
    pub(crate) fn record_playback(&self, variant: u16, event: PlaybackEvent) {
        let slot = &self.slots[usize::from(variant).min(MAX_RENDITIONS)];
        match event {
            PlaybackEvent::Watching { now: true } => {
                slot.watching.fetch_add(1, Relaxed);
            }
            PlaybackEvent::Watching { now: false } => {
                slot.watching.fetch_sub(1, Relaxed);
            }
            _ => slot.counts.record_playback(event),
        }
    }

    pub(crate) fn record(&self, r: &RequestRecord) {
        let index = r.variant.map_or(NO_VARIANT_SLOT, |v| usize::from(v).min(MAX_RENDITIONS));
        let slot = &self.slots[index];
        slot.counts.record_request(r);
        if !r.is_ok() || index == NO_VARIANT_SLOT {
            return;
        }
        slot.hists.lock().unwrap_or_else(PoisonError::into_inner).record_times(r);
    }

    /// Every variant that was asked for anything, in index order, then the requests of no variant
    /// ([`NO_VARIANT`]) when there were any. `with_times`: also the percentiles,
    /// which walk each histogram under its slot's lock (the final snapshot has them; a tick's counts do
    /// not need them and leave viewers alone).
    pub(crate) fn stats(&self, with_times: bool) -> Vec<VariantStats> {
        let mut out = Vec::new();
        for (index, slot) in self.slots.iter().enumerate() {
            let counts = slot.counts.load();
            if counts.kinds.0.iter().all(|k| k.requests() == 0) {
                continue;
            }
            let hists = with_times.then(|| slot.hists.lock().unwrap_or_else(PoisonError::into_inner));
            let of = |metric| hists.as_ref()?.get(metric).and_then(|h| Percentiles::of(h, metric));
            // Whole-run counts: no rates.
            let kinds = PerKind::from_fn(|kind| KindStats::of(kind, &counts.kinds[kind], |_| 0.0, of));
            let index = if index == NO_VARIANT_SLOT { NO_VARIANT } else { u16::try_from(index).unwrap_or(NO_VARIANT) };
            let (playback, watching) = (counts.playback, slot.watching.load(Relaxed).max(0) as u64);
            let segment_throughput_bps = of(Metric::SegmentThroughput);
            let histograms = hists.as_ref().map(|h| super::RunHistograms::new((***h).clone())).unwrap_or_default();
            out.push(VariantStats { index, kinds, segment_throughput_bps, playback, watching, histograms });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::stats::ErrorClass;

    fn record(variant: Option<u16>, kind: Kind, ok: bool) -> RequestRecord {
        let mut r = RequestRecord::ok(kind, Duration::from_millis(4), 1000);
        r.variant = variant;
        if !ok {
            r.status = Some(503);
            r.error = Some(ErrorClass::Http5xx);
        }
        r
    }

    #[test]
    fn viewers_on_a_variant_now_follow_their_playback() {
        let table = VariantTable::default();
        table.record(&record(Some(0), Kind::Segment, true));
        table.record(&record(Some(1), Kind::Segment, true));
        for _ in 0..3 {
            table.record_playback(0, PlaybackEvent::Watching { now: true });
        }
        // One switches from 0 to 1.
        table.record_playback(0, PlaybackEvent::Watching { now: false });
        table.record_playback(1, PlaybackEvent::Watching { now: true });
        let stats = table.stats(false);
        assert_eq!((stats[0].watching, stats[1].watching), (2, 1));
        assert_eq!(stats[0].playback, PlaybackCounts::default(), "a gauge, not a count");
    }

    #[test]
    fn figures_go_to_their_variant_and_beyond_the_cap_together() {
        let table = VariantTable::default();
        table.record(&record(None, Kind::Multivariant, true));
        for _ in 0..3 {
            table.record(&record(Some(1), Kind::Segment, true));
        }
        table.record(&record(Some(1), Kind::Segment, false));
        table.record(&record(Some(0), Kind::MediaPlaylist, true));
        table.record(&record(Some(40), Kind::Segment, true));
        table.record(&record(Some(99), Kind::Segment, true));
        assert!(table.stats(false)[1].kinds[Kind::Segment].duration_ms.is_none(), "counts only");
        let stats = table.stats(true);
        let indices: Vec<u16> = stats.iter().map(|s| s.index).collect();
        assert_eq!(indices, [0, 1, MAX_RENDITIONS as u16, NO_VARIANT]);
        assert_eq!(stats[3].kinds[Kind::Multivariant].requests, 1, "requests of no variant are apart");
        let seg = &stats[1].kinds[Kind::Segment];
        assert_eq!((seg.requests, seg.ok, seg.errors, seg.bytes), (4, 3, 1, 4000));
        assert_eq!(seg.duration_ms.as_ref().map(|p| p.count), Some(3), "ok requests only are timed");
        assert_eq!(stats[1].segments_downloaded(), 3);
        assert!(stats[1].segment_throughput_bps.is_some());
        assert_eq!(stats[2].kinds[Kind::Segment].requests, 2);
        assert_eq!(stats[0].kinds[Kind::MediaPlaylist].requests, 1);
    }

    #[test]
    fn low_latency_kinds_and_holds_are_counted_per_variant() {
        let table = VariantTable::default();
        let mut held = record(Some(2), Kind::BlockingPlaylist, true);
        held.timings.ttfb = Some(Duration::from_millis(3));
        held.hold = Some(crate::stats::Hold::Held);
        table.record(&held);
        held.hold = Some(crate::stats::Hold::Unblocked);
        table.record(&held);
        table.record(&record(Some(2), Kind::PreloadHint, true));
        let stats = table.stats(true);
        let blocking = &stats[0].kinds[Kind::BlockingPlaylist];
        assert_eq!((blocking.requests, blocking.held, blocking.unblocked), (2, 2, 1));
        assert_eq!(blocking.hold_ms.map(|p| p.count), Some(2));
        assert!(blocking.ttfb_ms.is_none(), "a hold is not a TTFB");
        let hint = &stats[0].kinds[Kind::PreloadHint];
        assert_eq!((hint.requests, hint.held, hint.duration_ms.map(|p| p.count)), (1, 0, Some(1)));
    }
}
