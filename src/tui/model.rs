//! What the dashboard shows, as plain numbers: [`ViewModel::build`] reads the run's facts, the latest
//! snapshot, the origin view and the dashboard's own short history; `draw` only lays it out and formats.
//!
//! `None` means "no sample yet" (a window that has not ticked, a percentile of an empty window), never
//! zero: a measured zero is `Some(0.0)`. Every window here is one the aggregator keeps, so a figure that
//! had data keeps it for the window's length and nothing flashes empty between ticks.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::live::RunInfo;
use crate::metrics::origin_view::{BuiltInFigures, HostFigures, NginxFigures, OriginView};
use crate::stats::{ErrorClass, Kind, Percentiles, Snapshot, Window, WindowStats};

/// Points the charts keep: wider than any chart column count on a real terminal.
pub const HISTORY_POINTS: usize = 512;

/// Per-tick values the snapshot's timeline does not hold, kept by the dashboard in a bounded ring.
#[derive(Clone, Debug, Default)]
pub struct History {
    last_tick: u64,
    /// Segment TTFB p99 of each tick's 1 s window, ms; `None` for a tick without an ok segment.
    ttfb_p99: VecDeque<Option<f64>>,
}

impl History {
    /// Takes a snapshot's per-tick values once per tick; a tick missed between two reads is a gap.
    pub fn observe(&mut self, snap: &Snapshot) {
        if snap.tick <= self.last_tick {
            return;
        }
        let missed = (snap.tick - self.last_tick - 1).min(HISTORY_POINTS as u64);
        for _ in 0..missed {
            self.push(None);
        }
        self.push(snap.window(Window::S1).kinds[Kind::Segment].ttfb_ms.map(|p| p.p99));
        self.last_tick = snap.tick;
    }

    fn push(&mut self, value: Option<f64>) {
        if self.ttfb_p99.len() == HISTORY_POINTS {
            self.ttfb_p99.pop_front();
        }
        self.ttfb_p99.push_back(value);
    }
}

/// How the dashboard itself stands: the clock, whether the run is stopping, where logs go.
#[derive(Clone, Debug)]
pub struct Status {
    pub now: Instant,
    /// A stop was asked for (key, signal): the run is draining.
    pub stopping: bool,
    /// The `--log-file`, if any (else logs are dropped while the dashboard is up).
    pub log_file: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub target: String,
    pub engine: &'static str,
    pub elapsed: Duration,
    /// `None`: until stopped.
    pub duration: Option<Duration>,
    pub active: u64,
    pub clients_target: u32,
    /// Viewers the ramp should have started by now.
    pub expected: u32,
    pub ramp_rate: f64,
    pub stalled: u64,
}

/// A count since the start and its rates; a rate is `None` before its window's first tick.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counter {
    pub total: u64,
    pub rate_1s: Option<f64>,
    pub rate_30s: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Requests {
    /// Multivariant and media playlists, blocking reloads included.
    pub playlists: Counter,
    pub segments: Counter,
    /// Init, key, part (preload hints included) and other requests; `None` while there are none.
    pub other: Option<Counter>,
    /// Body bytes of every kind; the rates are bytes per second.
    pub bytes: Counter,
    /// Connections opened: a kept-alive swarm opens one per viewer and variant, so a rate that stays
    /// up is the server closing connections.
    pub connections: Counter,
    pub ok: u64,
    pub errors: u64,
    /// Whole-run segments and bytes per variant played, when more than one was: shown when the panel
    /// has room.
    pub variants: Vec<VariantLine>,
}

/// One variant's line in the requests panel.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantLine {
    pub label: String,
    pub segments: u64,
    pub bytes: u64,
    /// Viewers whose playback is on it now.
    pub watching: u64,
}

/// One latency row over the last 30 s, ms.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyRow {
    pub label: &'static str,
    pub pct: Option<Percentiles>,
}

/// Segment bodies over one window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThroughputRow {
    pub window: Window,
    pub bytes_per_s: Option<f64>,
    pub segments_per_s: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    pub rows: Vec<ThroughputRow>,
    pub total_bytes: u64,
    /// Per-segment download rate (`body / total time`) over the last 30 s, bytes per second.
    pub per_segment: Option<Percentiles>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Playback {
    pub startup: Option<Percentiles>,
    pub stalled_now: u64,
    pub stalled_peak: u64,
    pub stalls: u64,
    pub stalls_30s: u64,
    pub stall_seconds: f64,
    /// Ended stall time over viewer watch time, whole run; `None` before any watch time.
    pub stall_ratio: Option<f64>,
    pub skipped: u64,
    pub restarts: u64,
    /// `None` while no viewer of the run has sampled its live latency (VOD, no program date-time):
    /// the line is not drawn.
    pub live_latency: Option<LiveLatency>,
}

/// Live viewers' latency (wall clock minus the playhead's program date-time), ms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveLatency {
    /// Over the last 30 s, as the latency panel; `None` when no viewer sampled it there.
    pub last_30s: Option<Percentiles>,
}

/// The error rate over the last 30 s, as one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// No request yet.
    Waiting,
    /// Requests earlier in the run, none in the last 30 s.
    NoTraffic,
    Healthy,
    Degraded,
    Unhealthy,
    Critical,
}

impl Health {
    /// Degraded above 1 % errors, Unhealthy above 5 %, Critical above 20 %.
    pub fn of(error_rate: Option<f64>, any_request: bool) -> Health {
        match error_rate {
            None if any_request => Health::NoTraffic,
            None => Health::Waiting,
            Some(r) if r > 0.20 => Health::Critical,
            Some(r) if r > 0.05 => Health::Unhealthy,
            Some(r) if r > 0.01 => Health::Degraded,
            Some(_) => Health::Healthy,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Health::Waiting => "waiting",
            Health::NoTraffic => "no traffic",
            Health::Healthy => "Healthy",
            Health::Degraded => "Degraded",
            Health::Unhealthy => "Unhealthy",
            Health::Critical => "Critical",
        }
    }
}

/// One error class: last 30 s and whole run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorRow {
    pub class: ErrorClass,
    pub last_30s: u64,
    pub per_s: f64,
    pub total: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Errors {
    /// Classes seen in the run, most frequent first.
    pub rows: Vec<ErrorRow>,
    /// Errors over requests in the last 30 s; `None` without requests there.
    pub rate: Option<f64>,
    pub health: Health,
    pub total: u64,
}

/// Chart series, oldest first, at most [`HISTORY_POINTS`] each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Charts {
    pub viewers: Vec<u64>,
    pub bytes_per_s: Vec<f64>,
    pub ttfb_p99_ms: Vec<Option<f64>>,
    pub errors_per_s: Vec<f64>,
}

/// The origin side next to what the swarm received.
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    pub host: Option<HostFigures>,
    pub nginx: Option<NginxFigures>,
    pub builtin: Option<BuiltInFigures>,
    /// Body bytes per second the swarm received over the last second.
    pub received_per_s: Option<f64>,
    pub received_total: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ViewModel {
    pub header: Header,
    pub requests: Requests,
    pub latency: Vec<LatencyRow>,
    pub throughput: Throughput,
    pub playback: Playback,
    pub errors: Errors,
    pub charts: Charts,
    /// `None` when no origin metrics are configured: the panel is not drawn.
    pub origin: Option<Origin>,
    pub stopping: bool,
    pub log_file: Option<String>,
    /// The generator is saturated now: its timers' lateness p99 over 5 s, ms.
    pub saturated: Option<f64>,
}

impl ViewModel {
    pub fn build(info: &RunInfo, snap: &Snapshot, origin: &OriginView, history: &History, status: &Status) -> Self {
        let elapsed = status.now.saturating_duration_since(info.started);
        let stopping = status.stopping || snap.is_final || info.duration.is_some_and(|d| elapsed >= d);
        ViewModel {
            header: Header {
                target: info.target.clone(),
                engine: info.engine,
                elapsed,
                duration: info.duration,
                active: snap.gauges.active,
                clients_target: info.clients_target,
                expected: info.ramp_expected(elapsed),
                ramp_rate: info.ramp_rate,
                stalled: snap.gauges.stalled,
            },
            requests: requests(info, snap),
            latency: latency(snap.window(Window::S30)),
            throughput: throughput(snap),
            playback: playback(snap),
            errors: errors(snap),
            charts: charts(snap, history),
            origin: (!origin.is_empty()).then(|| Origin {
                host: origin.host.clone(),
                nginx: origin.nginx.clone(),
                builtin: origin.builtin.clone(),
                received_per_s: rate(snap.window(Window::S1), snap.window(Window::S1).bytes),
                received_total: snap.totals.bytes(),
            }),
            stopping,
            log_file: status.log_file.clone(),
            saturated: snap.generator.saturated.then(|| snap.generator.recent_lateness_p99_ms.unwrap_or_default()),
        }
    }
}

/// `n` events over the window's measured span, or `None` before it has one.
fn rate(w: &WindowStats, n: u64) -> Option<f64> {
    (w.span_s > 0.0).then(|| n as f64 / w.span_s)
}

fn counter(snap: &Snapshot, pick: impl Fn(&WindowStats) -> u64) -> Counter {
    let (s1, s30) = (snap.window(Window::S1), snap.window(Window::S30));
    Counter { total: pick(snap.window(Window::Run)), rate_1s: rate(s1, pick(s1)), rate_30s: rate(s30, pick(s30)) }
}

const PLAYLISTS: [Kind; 3] = [Kind::Multivariant, Kind::MediaPlaylist, Kind::BlockingPlaylist];
const OTHER: [Kind; 5] = [Kind::Init, Kind::Key, Kind::Part, Kind::PreloadHint, Kind::Other];

fn requests(info: &RunInfo, snap: &Snapshot) -> Requests {
    let sum = |kinds: &'static [Kind]| move |w: &WindowStats| kinds.iter().map(|k| w.kinds[*k].requests).sum();
    let other = counter(snap, sum(&OTHER));
    let run = snap.window(Window::Run);
    Requests {
        playlists: counter(snap, sum(&PLAYLISTS)),
        segments: counter(snap, |w| w.kinds[Kind::Segment].requests),
        other: (other.total > 0).then_some(other),
        bytes: counter(snap, |w| w.bytes),
        connections: counter(snap, |w| w.connections.opened),
        ok: run.ok,
        errors: run.errors,
        variants: variant_lines(info, snap),
    }
}

fn variant_lines(info: &RunInfo, snap: &Snapshot) -> Vec<VariantLine> {
    if snap.variants.iter().filter(|v| v.is_variant()).count() < 2 {
        return Vec::new();
    }
    let line = |v: &crate::stats::VariantStats| VariantLine {
        label: crate::live::Rung::label_of(&info.ladder, v.index),
        segments: v.segments_downloaded(),
        bytes: v.kinds.0.iter().map(|k| k.bytes).sum(),
        watching: v.watching,
    };
    snap.variants.iter().filter(|v| v.is_variant()).map(line).collect()
}

/// Playlist rows are media playlists (what viewers reload); the multivariant is fetched once a session.
fn latency(w: &WindowStats) -> Vec<LatencyRow> {
    let playlist = &w.kinds[Kind::MediaPlaylist];
    let segment = &w.kinds[Kind::Segment];
    vec![
        LatencyRow { label: "playlist TTFB", pct: playlist.ttfb_ms },
        LatencyRow { label: "playlist total", pct: playlist.duration_ms },
        LatencyRow { label: "segment TTFB", pct: segment.ttfb_ms },
        LatencyRow { label: "segment total", pct: segment.duration_ms },
    ]
}

fn throughput(snap: &Snapshot) -> Throughput {
    let rows = Window::ALL
        .iter()
        .map(|&window| {
            let w = snap.window(window);
            let seg = &w.kinds[Kind::Segment];
            ThroughputRow { window, bytes_per_s: rate(w, seg.bytes), segments_per_s: rate(w, w.segments_downloaded) }
        })
        .collect();
    Throughput {
        rows,
        total_bytes: snap.window(Window::Run).kinds[Kind::Segment].bytes,
        per_segment: snap.window(Window::S30).segment_throughput_bps,
    }
}

fn playback(snap: &Snapshot) -> Playback {
    let run = snap.playback();
    // Watch time: active viewers at each timeline point times the ticks it covers (a tick is ~1 s).
    let watch_s: f64 = snap.timeline.iter().map(|p| p.active_clients as f64 * f64::from(p.ticks)).sum();
    Playback {
        startup: run.startup_ms,
        stalled_now: snap.gauges.stalled,
        stalled_peak: snap.gauges.peak_stalled,
        stalls: run.stalls,
        stalls_30s: snap.window(Window::S30).playback.stalls,
        stall_seconds: run.stall_seconds,
        stall_ratio: (watch_s > 0.0).then(|| run.stall_seconds / watch_s),
        skipped: run.segments_skipped,
        restarts: run.restarts,
        live_latency: run
            .live_latency_ms
            .map(|_| LiveLatency { last_30s: snap.window(Window::S30).playback.live_latency_ms }),
    }
}

fn errors(snap: &Snapshot) -> Errors {
    let (s30, run) = (snap.window(Window::S30), snap.window(Window::Run));
    let mut rows: Vec<ErrorRow> = ErrorClass::ALL
        .iter()
        .filter(|c| run.errors_by_class.get(**c) > 0)
        .map(|&class| {
            let last_30s = s30.errors_by_class.get(class);
            ErrorRow {
                class,
                last_30s,
                per_s: rate(s30, last_30s).unwrap_or(0.0),
                total: run.errors_by_class.get(class),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.last_30s.cmp(&a.last_30s).then(b.total.cmp(&a.total)));
    let rate = (s30.requests > 0).then(|| s30.errors as f64 / s30.requests as f64);
    Errors { rows, rate, health: Health::of(rate, run.requests > 0), total: run.errors }
}

fn charts(snap: &Snapshot, history: &History) -> Charts {
    let skip = snap.timeline.len().saturating_sub(HISTORY_POINTS);
    let points: Vec<_> = snap.timeline.iter().skip(skip).collect();
    let per_s = |n: u64, ticks: u32| n as f64 / f64::from(ticks.max(1));
    Charts {
        viewers: points.iter().map(|p| p.active_clients).collect(),
        bytes_per_s: points.iter().map(|p| per_s(p.bytes, p.ticks)).collect(),
        ttfb_p99_ms: history.ttfb_p99.iter().copied().collect(),
        errors_per_s: points.iter().map(|p| per_s(p.errors, p.ticks)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_thresholds() {
        let h = |r| Health::of(Some(r), true);
        assert_eq!(
            [h(0.0), h(0.01), h(0.0101), h(0.05), h(0.051), h(0.2), h(0.21)],
            [
                Health::Healthy,
                Health::Healthy,
                Health::Degraded,
                Health::Degraded,
                Health::Unhealthy,
                Health::Unhealthy,
                Health::Critical
            ]
        );
        assert_eq!(Health::of(None, false), Health::Waiting);
        assert_eq!(Health::of(None, true), Health::NoTraffic);
    }
}
