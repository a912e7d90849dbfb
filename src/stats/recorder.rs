//! The recorder: where thousands of viewer tasks write, without waiting on any consumer.
//!
//! - Counters and gauges are atomics (one `fetch_add`, no lock).
//! - Histograms live in shards, each a `Mutex<Box<HistSet>>`. A thread is given a home shard once
//!   (round robin over threads), so with as many shards as runtime worker threads a shard's lock is
//!   uncontended; it is held for one histogram increment (tens of ns). If the home shard is busy
//!   (the aggregator swapping it, or two threads sharing it) the recorder tries the other shards
//!   before it waits, so a viewer never queues behind a consumer.
//! - The aggregator takes a shard's histograms by swapping the box for an empty one: the lock is
//!   held for a pointer swap, and the merging happens outside it.

use super::counts::{AtomicCounts, Counts};
use super::histograms::{HistSet, Metric};
use super::record::{PlaybackEvent, RequestRecord, micros};
use super::variants::{VariantStats, VariantTable};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};

/// Most shards a recorder makes by default; more only costs memory (each shard holds two sets of
/// ~200 KiB histograms per metric in use) once threads rarely collide.
const MAX_DEFAULT_SHARDS: usize = 16;

/// Hands out home shards; a thread keeps its slot for its lifetime.
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SLOT: usize = NEXT_SLOT.fetch_add(1, Relaxed);
}

/// Viewer-count gauges, maintained from playback events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gauges {
    /// Viewers started and not stopped.
    pub active: u64,
    /// Viewers whose buffer is empty right now.
    pub stalled: u64,
    pub peak_active: u64,
    pub peak_stalled: u64,
}

/// Signed so that a misordered stop/start pair shows 0 for a moment, not 2^64.
#[derive(Debug, Default)]
struct AtomicGauges {
    active: AtomicI64,
    stalled: AtomicI64,
    peak_active: AtomicU64,
    peak_stalled: AtomicU64,
}

impl AtomicGauges {
    fn up(now: &AtomicI64, peak: &AtomicU64) {
        let value = now.fetch_add(1, Relaxed) + 1;
        peak.fetch_max(u64::try_from(value).unwrap_or(0), Relaxed);
    }

    fn load(&self) -> Gauges {
        let clamp = |g: &AtomicI64| u64::try_from(g.load(Relaxed)).unwrap_or(0);
        Gauges {
            active: clamp(&self.active),
            stalled: clamp(&self.stalled),
            peak_active: self.peak_active.load(Relaxed),
            peak_stalled: self.peak_stalled.load(Relaxed),
        }
    }
}

#[derive(Debug)]
struct Inner {
    shards: Box<[Mutex<Box<HistSet>>]>,
    counts: AtomicCounts,
    gauges: AtomicGauges,
    variants: VariantTable,
}

/// Where producers record. Cheap to clone (one `Arc`), `Send + Sync`; recording never blocks on
/// the aggregator or on any consumer.
#[derive(Clone, Debug)]
pub struct Recorder {
    inner: Arc<Inner>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// One shard per available CPU, at most 16.
    pub fn new() -> Recorder {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Recorder::with_shards(cpus.min(MAX_DEFAULT_SHARDS))
    }

    /// `shards` histogram shards (at least one).
    pub fn with_shards(shards: usize) -> Recorder {
        let shards = (0..shards.max(1)).map(|_| Mutex::new(Box::default())).collect();
        let inner = Inner {
            shards,
            counts: AtomicCounts::default(),
            gauges: AtomicGauges::default(),
            variants: VariantTable::default(),
        };
        Recorder { inner: Arc::new(inner) }
    }

    pub fn shard_count(&self) -> usize {
        self.inner.shards.len()
    }

    pub fn record_request(&self, record: &RequestRecord) {
        self.inner.counts.record_request(record);
        self.inner.variants.record(record);
        if record.is_ok() || record.timings.connect.is_some() || record.timings.dns.is_some() {
            self.with_shard(|set| set.record_request(record));
        }
    }

    /// `event` of the track playback follows, also counted under the variant it played: its startups,
    /// stalls, switches to it, media buffered from it.
    /// A viewer thread's timer fired `late` after its deadline (the generator's own delay).
    pub fn record_lateness(&self, late: std::time::Duration) {
        self.with_shard(|set| set.record(Metric::Lateness, micros(late)));
    }

    pub fn record_variant_playback(&self, variant: u16, event: PlaybackEvent) {
        self.inner.variants.record_playback(variant, event);
    }

    pub fn record_playback(&self, event: PlaybackEvent) {
        let g = &self.inner.gauges;
        self.inner.counts.record_playback(event);
        match event {
            PlaybackEvent::Started => AtomicGauges::up(&g.active, &g.peak_active),
            PlaybackEvent::Stopped => {
                g.active.fetch_sub(1, Relaxed);
            }
            PlaybackEvent::StallBegan => AtomicGauges::up(&g.stalled, &g.peak_stalled),
            PlaybackEvent::StallEnded { .. } => {
                g.stalled.fetch_sub(1, Relaxed);
            }
            PlaybackEvent::StartupComplete { startup } => {
                self.with_shard(|set| set.record(Metric::Startup, micros(startup)));
            }
            PlaybackEvent::LiveLatency { latency } => {
                self.with_shard(|set| set.record(Metric::LiveLatency, micros(latency)));
            }
            PlaybackEvent::EdgeDistance { parts } => {
                self.with_shard(|set| set.record(Metric::EdgeDistance, u64::from(parts)));
            }
            PlaybackEvent::Restarted
            | PlaybackEvent::SegmentSkipped { .. }
            | PlaybackEvent::PlaylistWarnings { .. }
            | PlaybackEvent::KeySkipped
            | PlaybackEvent::VariantSwitch { .. }
            | PlaybackEvent::MediaBuffered { .. }
            | PlaybackEvent::Watching { .. } => {}
        }
    }

    /// Runs `f` on a shard: the thread's home shard if free, else any free one, else waits for
    /// home. A poisoned shard is still used: a panic elsewhere cannot corrupt plain counts.
    fn with_shard(&self, f: impl FnOnce(&mut HistSet)) {
        let shards = &self.inner.shards;
        // `try_with`: a record made while the thread's locals are being destroyed still counts.
        let home = SLOT.try_with(|slot| *slot).unwrap_or(0) % shards.len();
        for i in 0..shards.len() {
            match shards[(home + i) % shards.len()].try_lock() {
                Ok(mut set) => return f(&mut set),
                Err(TryLockError::Poisoned(p)) => return f(&mut p.into_inner()),
                Err(TryLockError::WouldBlock) => continue,
            }
        }
        let mut set = shards[home].lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut set)
    }

    /// Takes shard `i`'s histograms, leaving `empty` in their place; the lock covers one swap.
    pub(crate) fn swap_shard(&self, i: usize, empty: Box<HistSet>) -> Box<HistSet> {
        let mut set = self.inner.shards[i].lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *set, empty)
    }

    /// The monotonic counters now.
    pub(crate) fn counts(&self) -> Counts {
        self.inner.counts.load()
    }

    pub(crate) fn gauges(&self) -> Gauges {
        self.inner.gauges.load()
    }

    /// The whole run per variant (see [`VariantTable::stats`]).
    pub(crate) fn variant_stats(&self, with_times: bool) -> Vec<VariantStats> {
        self.inner.variants.stats(with_times)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::record::Kind;
    use std::time::Duration;

    #[test]
    fn recorder_is_send_sync_and_clone() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Recorder>();
    }

    #[test]
    fn gauges_follow_events_and_keep_peaks() {
        let r = Recorder::with_shards(2);
        for _ in 0..3 {
            r.record_playback(PlaybackEvent::Started);
        }
        r.record_playback(PlaybackEvent::StallBegan);
        r.record_playback(PlaybackEvent::StallBegan);
        r.record_playback(PlaybackEvent::StallEnded { stalled_for: Duration::from_secs(1) });
        r.record_playback(PlaybackEvent::Stopped);
        let g = r.gauges();
        assert_eq!(g, Gauges { active: 2, stalled: 1, peak_active: 3, peak_stalled: 2 });
        for _ in 0..5 {
            r.record_playback(PlaybackEvent::Stopped);
        }
        assert_eq!(r.gauges().active, 0, "a stray stop shows 0, not a wrapped count");
    }

    #[test]
    fn swap_takes_what_was_recorded() {
        let r = Recorder::with_shards(1);
        r.record_request(&RequestRecord::ok(Kind::Segment, Duration::from_millis(5), 10));
        let taken = r.swap_shard(0, Box::default());
        assert_eq!(taken.get(Metric::Duration(Kind::Segment)).unwrap().len(), 1);
        assert!(r.swap_shard(0, Box::default()).is_empty());
    }
}
