//! The aggregator: the single owner of time windows.
//!
//! The caller drives it with one `tick(now)` a second (a tokio interval in the engine, explicit
//! `Instant`s in tests). A tick is the only place where intervals rotate:
//! 1. each recorder shard's histograms are swapped for empty ones and merged into one interval;
//! 2. the interval's counts are the difference of two readings of the monotonic counters;
//! 3. the interval enters every window, and the interval that just left a window is removed
//!    from it (the ring keeps the last 300, packed);
//! 4. an immutable [`Snapshot`] is built and published on a `watch` channel.
//!
//! Consumers read snapshots only. A `watch` channel keeps the latest value for any number of
//! readers and never blocks the sender, so a slow TUI cannot hold up a tick, and no consumer
//! can drain what another one reads.

use super::counts::Counts;
use super::generator::{DEFAULT_MAX_LATENESS, GeneratorWatch};
use super::histograms::HistSet;
use super::packed::PackedSet;
use super::record::{ErrorClass, Kind, micros};
use super::recorder::{Gauges, Recorder};
use super::snapshot::{Snapshot, Windows};
use super::timeline::{ClassCount, KindTimes, TIMELINE_CAP, TimelineBuilder, TimelinePoint};
use super::variants::VariantStats;
use super::window::{Accumulator, PackedInterval, RING_LEN, Window, WindowStats};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Owns the windows; see the module docs. Not `Clone`: there is one per run.
#[derive(Debug)]
pub struct Aggregator {
    recorder: Recorder,
    run_start: Instant,
    last_tick: Instant,
    ticks: u64,
    /// The monotonic counters as read at the previous tick.
    previous: Counts,
    /// One empty set per shard, swapped in at the next tick; they keep their allocations.
    #[allow(clippy::vec_box, reason = "boxed so the swap under the shard's lock moves a pointer")]
    spares: Vec<Box<HistSet>>,
    /// This tick's merged histograms (dense); emptied after each tick.
    current: HistSet,
    /// The last `RING_LEN` intervals, oldest first.
    ring: VecDeque<PackedInterval>,
    /// In [`Window::ALL`] order.
    windows: [Accumulator; 5],
    timeline: TimelineBuilder,
    /// The whole run's histograms as handed to snapshots; repacked only on ticks that added samples.
    run_packed: Arc<PackedSet>,
    /// The generator's own lateness and the saturation verdicts.
    generator: GeneratorWatch,
    /// This tick's lateness p99 (ms), for the timeline.
    tick_lateness: Option<f64>,
    tx: watch::Sender<Arc<Snapshot>>,
}

impl Aggregator {
    /// An aggregator with a channel of its own ([`Aggregator::subscribe`]).
    pub fn new(recorder: Recorder, run_start: Instant) -> Aggregator {
        let (tx, _) = watch::channel(Arc::new(Snapshot::empty()));
        Aggregator::publishing_to(recorder, run_start, tx)
    }

    /// An aggregator that publishes on the run's snapshot channel: the one channel the dashboard, the
    /// exporter and the progress lines read.
    pub fn publishing_to(recorder: Recorder, run_start: Instant, tx: watch::Sender<Arc<Snapshot>>) -> Aggregator {
        let spares = (0..recorder.shard_count()).map(|_| Box::default()).collect();
        Aggregator {
            recorder,
            run_start,
            last_tick: run_start,
            ticks: 0,
            previous: Counts::default(),
            spares,
            current: HistSet::default(),
            ring: VecDeque::with_capacity(RING_LEN + 1),
            windows: Window::ALL.map(Accumulator::new),
            timeline: TimelineBuilder::new(TIMELINE_CAP),
            run_packed: Arc::default(),
            generator: GeneratorWatch::new(DEFAULT_MAX_LATENESS, 1, false),
            tick_lateness: None,
            tx,
        }
    }

    /// Judges the generator (its viewers on `threads` threads) saturated when its timers' lateness p99
    /// over the last five seconds passes `limit` (`--max-lateness`).
    pub fn with_generator(mut self, limit: std::time::Duration, threads: usize) -> Aggregator {
        self.generator = GeneratorWatch::new(limit, threads, true);
        self
    }

    /// A receiver of every snapshot from now on; `borrow()` is the latest. After
    /// [`Aggregator::finish`] the channel closes with the final snapshot in it.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    /// The latest published snapshot.
    pub fn latest(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    /// Closes the interval ending at `now` and publishes the new snapshot.
    pub fn tick(&mut self, now: Instant) -> Arc<Snapshot> {
        self.advance(now, false)
    }

    /// The last tick: everything recorded before this call is in the returned snapshot, which is
    /// marked final. Dropping the aggregator then closes the subscribers' channel.
    pub fn finish(mut self, now: Instant) -> Arc<Snapshot> {
        self.advance(now, true)
    }

    fn advance(&mut self, now: Instant, is_final: bool) -> Arc<Snapshot> {
        let now = now.max(self.last_tick);
        let span_us = micros(now - self.last_tick);
        self.last_tick = now;
        self.ticks += 1;
        self.collect_shards();
        let totals = self.recorder.counts();
        let delta = totals.since(&self.previous);
        self.previous = totals;
        self.rotate(&delta, span_us);
        let snapshot = Arc::new(self.snapshot(now, &delta, is_final));
        // `send_replace` stores the value even with no receiver yet; subscribers come and go.
        self.tx.send_replace(snapshot.clone());
        snapshot
    }

    /// Swaps each shard's histograms for an empty set and merges them into `current`. The
    /// recorder's lock covers only the swap; merging and resetting happen here, outside it.
    fn collect_shards(&mut self) {
        for (i, spare) in self.spares.iter_mut().enumerate() {
            let empty = std::mem::take(spare);
            let mut taken = self.recorder.swap_shard(i, empty);
            if let Err(e) = self.current.add(&taken) {
                tracing::error!(error = %e, "merging a shard failed");
            }
            taken.reset();
            *spare = taken;
        }
    }

    /// Packs this tick's interval, adds it to every window, removes from each window the
    /// interval that just left it, and keeps it in the ring until it leaves the longest window.
    fn rotate(&mut self, delta: &Counts, span_us: u64) {
        let interval = PackedInterval { counts: delta.clone(), span_us, hists: PackedSet::pack(&self.current) };
        let (tick_lateness, began) = self.generator.tick(&self.current, span_us as f64 / 1e6);
        self.tick_lateness = tick_lateness;
        if began {
            tracing::warn!("{}", self.generator.stats().saturation_message());
        }
        self.current.reset();
        for acc in &mut self.windows {
            acc.add(&interval);
            let Some(len) = acc.window().ticks() else {
                continue;
            };
            if self.ring.len() >= len {
                acc.remove(&self.ring[self.ring.len() - len]);
            }
        }
        if !interval.hists.is_empty() {
            let [.., run] = &self.windows;
            self.run_packed = Arc::new(run.packed());
        }
        self.ring.push_back(interval);
        if self.ring.len() > RING_LEN {
            self.ring.pop_front();
        }
    }

    fn snapshot(&mut self, now: Instant, delta: &Counts, is_final: bool) -> Snapshot {
        let elapsed = now.saturating_duration_since(self.run_start);
        let gauges = self.recorder.gauges();
        let [s1, s30, s60, s300, run] = &mut self.windows;
        let second = s1.stats();
        let variants = Arc::new(self.recorder.variant_stats(is_final));
        self.timeline.push(timeline_point(elapsed, &gauges, delta, &second, &variants, self.tick_lateness));
        Snapshot {
            tick: self.ticks,
            elapsed,
            is_final,
            gauges,
            totals: run.counts().clone(),
            windows: Windows { s1: second, s30: s30.stats(), s60: s60.stats(), s300: s300.stats(), run: run.stats() },
            timeline: self.timeline.view(),
            run_buckets: self.run_packed.clone(),
            variants,
            generator: self.generator.stats(),
        }
    }

    /// Structure sizes, for memory-bound checks.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            ring_intervals: self.ring.len(),
            ring_packed_bytes: self.ring.iter().map(|i| i.hists.heap_bytes()).sum(),
            window_buckets: self.windows.iter().map(Accumulator::buckets).sum(),
            dense_histograms: self.spares.iter().map(|s| s.allocated()).sum::<usize>() + self.current.allocated(),
            timeline_points: self.timeline.len(),
        }
    }
}

/// The timeline's point for the tick just ended: its counts, and from its one-second window the
/// percentiles and classes a chart of the run draws.
fn timeline_point(
    elapsed: Duration,
    gauges: &Gauges,
    delta: &Counts,
    second: &WindowStats,
    variants: &[VariantStats],
    lateness_p99_ms: Option<f64>,
) -> TimelinePoint {
    let ttfb_ms = Kind::ALL
        .iter()
        .filter_map(|&kind| {
            let p = second.kinds[kind].ttfb_ms.as_ref()?;
            Some(KindTimes { kind, p50: p.p50, p90: p.p90, p99: p.p99 })
        })
        .collect();
    let errors_by_class = ErrorClass::ALL
        .iter()
        .filter_map(|&class| {
            let count = second.errors_by_class.get(class);
            (count > 0).then_some(ClassCount { class, count })
        })
        .collect();
    let mut variant_viewers = Vec::new();
    for v in variants.iter().filter(|v| v.is_variant() && v.watching > 0) {
        let i = usize::from(v.index);
        if variant_viewers.len() <= i {
            variant_viewers.resize(i + 1, 0);
        }
        variant_viewers[i] = v.watching;
    }
    let playback = &second.playback;
    TimelinePoint {
        t: (micros(elapsed) + 500_000) / 1_000_000,
        ticks: 1,
        active_clients: gauges.active,
        requests: delta.requests(),
        segments: delta.segments_downloaded(),
        bytes: delta.bytes(),
        errors: delta.errors(),
        lateness_p99_ms,
        ttfb_ms,
        errors_by_class,
        stalled: gauges.stalled,
        startup_p50_ms: playback.startup_ms.map(|p| p.p50),
        live_latency_p50_ms: playback.live_latency_ms.map(|p| p.p50),
        live_latency_p99_ms: playback.live_latency_ms.map(|p| p.p99),
        variant_viewers,
        switches_up: delta.playback.switches_up,
        switches_down: delta.playback.switches_down,
        origin: None,
    }
}

/// What the aggregator holds; bounded whatever the run length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// At most [`RING_LEN`].
    pub ring_intervals: usize,
    /// Bytes of the packed histograms in the ring.
    pub ring_packed_bytes: usize,
    /// Occupied buckets held by the windows, the whole run's included (each window holds at most
    /// the buckets of one dense histogram per metric).
    pub window_buckets: usize,
    /// Dense histograms of the spare shard sets and the merged interval: at most one per metric
    /// in each (the recorder's shards hold as many again).
    pub dense_histograms: usize,
    /// At most [`TIMELINE_CAP`].
    pub timeline_points: usize,
}
