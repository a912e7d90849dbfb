//! Dashboard frames on ratatui's `TestBackend`, rendered as text and snapshot-tested. Snapshots come
//! from a real recorder and aggregator driven with explicit `Instant`s: a 100-viewer swarm ramping at
//! 5 viewers/s, each reloading its playlist and fetching a 2 s segment every other second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::{History, Status, ViewModel, draw};
use crate::live::RunInfo;
use crate::metrics::origin_view::{BuiltInFigures, HostFigures, NginxFigures, OriginView, SourceState, Stat};
use crate::stats::{Aggregator, ErrorClass, Kind, PlaybackEvent, Recorder, RequestRecord, Snapshot};

const TARGET: u32 = 100;

fn info(start: Instant) -> RunInfo {
    RunInfo {
        target: "http://127.0.0.1:17080/master.m3u8".into(),
        engine: "native",
        clients_target: TARGET,
        duration: Some(Duration::from_secs(300)),
        ramp_rate: 5.0,
        started: start,
        started_at: std::time::SystemTime::UNIX_EPOCH,
        ladder: Vec::new(),
    }
}

fn request(kind: Kind, ttfb_ms: u64, total_ms: u64, bytes: u64) -> RequestRecord {
    let mut r = RequestRecord::ok(kind, Duration::from_millis(total_ms), bytes);
    r.timings.ttfb = Some(Duration::from_millis(ttfb_ms));
    r.timings.headers = r.timings.ttfb;
    r
}

/// Viewer `v`'s requests in second `t`: a playlist on even, a segment on odd seconds (by viewer). With
/// `faults`, one segment in 40 is a 503 and one in 250 times out, and the origin slows down for ten
/// seconds after t = 100.
fn traffic(recorder: &Recorder, v: u64, t: u64, faults: bool) {
    if (v + t).is_multiple_of(2) {
        let ttfb = 12 + (v * 7 + t * 3) % 30;
        recorder.record_request(&request(Kind::MediaPlaylist, ttfb, ttfb + 2, 640));
        return;
    }
    let slow = if faults && (100..110).contains(&t) { 180 } else { 0 };
    let ttfb = 40 + (v * 13 + t * 7) % 90 + slow;
    let bytes = 1_000_000 + (v * 7 + t * 13) % 11 * 50_000;
    let mut segment = request(Kind::Segment, ttfb, ttfb + 250 + (v * 11 + t * 5) % 400, bytes);
    if faults && (v * 3 + t) % 40 == 1 {
        segment.status = Some(503);
        segment.body_bytes = 0;
    } else if faults && (v + t * 7) % 250 == 1 {
        segment.status = None;
        segment.error = Some(ErrorClass::Timeout);
        segment.body_bytes = 0;
    }
    recorder.record_request(&segment);
}

/// Runs the swarm for `seconds` ticks; returns the last snapshot and the dashboard's history. With `live`,
/// each viewer samples its live latency every second, 2.5 s and more as the origin slows down.
fn simulate(start: Instant, seconds: u64, faults: bool, live: bool) -> (Arc<Snapshot>, History) {
    let recorder = Recorder::with_shards(1);
    let mut aggregator = Aggregator::new(recorder.clone(), start);
    let mut history = History::default();
    let mut snapshot = aggregator.latest();
    let mut active = 0u64;
    for t in 1..=seconds {
        let due = (t * 5).min(u64::from(TARGET));
        for v in active..due {
            recorder.record_playback(PlaybackEvent::Started);
            // A viewer's first request opens its connection.
            let mut first = request(Kind::Multivariant, 15, 16, 420);
            first.timings.connect = Some(Duration::from_micros(300));
            recorder.record_request(&first);
            let startup = Duration::from_millis(450 + (v * 37) % 900);
            recorder.record_playback(PlaybackEvent::StartupComplete { startup });
        }
        active = due;
        for v in 0..active {
            traffic(&recorder, v, t, faults);
            if live {
                let latency = Duration::from_millis(2_500 + (v * 37 + t * 11) % 600 + t * 5);
                recorder.record_playback(PlaybackEvent::LiveLatency { latency });
                recorder.record_playback(PlaybackEvent::EdgeDistance { parts: 3 + (v % 4) as u32 });
            }
        }
        if faults && t % 20 == 5 {
            for _ in 0..3 {
                recorder.record_playback(PlaybackEvent::StallBegan);
            }
        }
        if faults && t % 20 == 15 {
            for _ in 0..3 {
                recorder.record_playback(PlaybackEvent::StallEnded { stalled_for: Duration::from_millis(3_500) });
            }
            recorder.record_playback(PlaybackEvent::SegmentSkipped { count: 1 });
        }
        snapshot = aggregator.tick(start + Duration::from_secs(t));
        history.observe(&snapshot);
    }
    (snapshot, history)
}

fn stat(now: f64) -> Option<Stat> {
    Some(Stat { now, p50: now * 0.9, max: now * 1.3 })
}

/// Host figures fresh, the nginx exporter failing its last scrape, the built-in origin's own counts.
fn origin_view() -> OriginView {
    let ok = |url: &str| SourceState {
        url: url.into(),
        last_ok_ago: Some(Duration::from_secs(1)),
        stale: false,
        last_error: None,
    };
    OriginView {
        host: Some(HostFigures {
            source: ok("http://127.0.0.1:9100/metrics"),
            cpu_percent: stat(43.5),
            memory_used_percent: stat(31.2),
            net_rx_bytes_per_s: stat(210_000.0),
            net_tx_bytes_per_s: stat(63_400_000.0),
        }),
        nginx: Some(NginxFigures {
            source: SourceState {
                stale: true,
                last_ok_ago: Some(Duration::from_secs(9)),
                last_error: Some("connection refused".into()),
                ..ok("http://127.0.0.1:9113/metrics")
            },
            active_connections: stat(102.0),
            requests_per_s: None,
        }),
        builtin: Some(BuiltInFigures {
            requests_total: 12_000,
            segment_requests_total: 6_000,
            body_bytes_total: 7_420_000_000,
            segment_bytes_total: 7_400_000_000,
            bytes_per_s: stat(62_900_000.0),
            requests_per_s: stat(100.0),
            connections_active: 100,
        }),
    }
}

struct Frame {
    vm: ViewModel,
}

impl Frame {
    fn at(seconds: u64, faults: bool, origin: OriginView) -> Frame {
        Frame::simulated(seconds, faults, false, origin)
    }

    fn simulated(seconds: u64, faults: bool, live: bool, origin: OriginView) -> Frame {
        let start = Instant::now();
        let (snapshot, history) = simulate(start, seconds, faults, live);
        let status =
            Status { now: start + Duration::from_millis(seconds * 1000 + 400), stopping: false, log_file: None };
        Frame { vm: ViewModel::build(&info(start), &snapshot, &origin, &history, &status) }
    }

    fn render(&self, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| draw(f, &self.vm)).unwrap();
        terminal.backend().to_string()
    }
}

fn assert_steady(text: &str) {
    assert!(!text.contains("no data"), "{text}");
    assert!(!text.contains("waiting"), "a steady-state frame still waits:\n{text}");
}

#[test]
fn mid_ramp() {
    let frame = Frame::at(8, false, OriginView::default());
    assert_eq!(frame.vm.header.active, 40);
    insta::assert_snapshot!("mid_ramp_80x24", frame.render(80, 24));
    insta::assert_snapshot!("mid_ramp_140x45", frame.render(140, 45));
}

#[test]
fn steady_state_without_origin() {
    let frame = Frame::at(125, true, OriginView::default());
    assert!(frame.vm.origin.is_none());
    for (w, h) in [(80, 24), (140, 45)] {
        let text = frame.render(w, h);
        assert_steady(&text);
        assert!(!text.contains("Origin"), "no origin panel without origin metrics:\n{text}");
        insta::assert_snapshot!(format!("steady_{w}x{h}"), text);
    }
}

#[test]
fn steady_state_with_origin() {
    let frame = Frame::at(125, true, origin_view());
    for (w, h) in [(80, 24), (140, 45)] {
        let text = frame.render(w, h);
        assert_steady(&text);
        assert!(text.contains("Origin") && text.contains("stale"), "{text}");
        insta::assert_snapshot!(format!("steady_origin_{w}x{h}"), text);
    }
}

#[test]
fn live_latency_under_the_startup_when_viewers_sample_it() {
    let frame = Frame::simulated(125, true, true, OriginView::default());
    let latency = frame.vm.playback.live_latency.unwrap().last_30s.unwrap();
    assert!((2_900.0..3_800.0).contains(&latency.p50), "{latency:?}");
    for (w, h) in [(80, 24), (140, 45)] {
        let text = frame.render(w, h);
        assert_steady(&text);
        let lines: Vec<&str> = text.lines().collect();
        let at = lines.iter().position(|l| l.contains("live latency")).unwrap_or_else(|| panic!("{text}"));
        assert!(lines[at - 1].contains("startup") && lines[at].contains(" s · p99 "), "{text}");
        insta::assert_snapshot!(format!("live_{w}x{h}"), text);
    }
    let plain = Frame::at(125, true, OriginView::default());
    assert_eq!(plain.vm.playback.live_latency, None);
}

#[test]
fn a_line_per_variant_where_the_requests_panel_has_room() {
    let mut frame = Frame::at(30, false, OriginView::default());
    let line = |label: &str, segments| crate::tui::model::VariantLine {
        label: label.into(),
        segments,
        bytes: segments * 1_000_000,
        watching: segments / 10,
    };
    frame.vm.requests.variants = vec![line("360p", 120), line("720p", 80), line("1080p", 40)];
    let wide = frame.render(140, 45);
    for label in ["360p", "720p", "1080p"] {
        assert!(wide.lines().any(|l| l.contains(label) && l.contains("seg")), "no {label} line:\n{wide}");
        assert!(wide.lines().any(|l| l.contains(label) && l.contains(" now")), "no viewers on {label}:\n{wide}");
    }
    insta::assert_snapshot!("variants_140x45", wide);
    let small = frame.render(80, 24);
    assert!(!small.contains("1080p"), "no room at 80x24, the panel keeps its rows:\n{small}");
}

#[test]
fn before_the_first_tick_panels_wait() {
    let start = Instant::now();
    let snapshot = Snapshot::empty();
    let status = Status { now: start, stopping: false, log_file: Some("hls-swarm.log".into()) };
    // Until stopped: the longest clock text, next to the whole target.
    let info = RunInfo { duration: None, ..info(start) };
    let vm = ViewModel::build(&info, &snapshot, &OriginView::default(), &History::default(), &status);
    let text = Frame { vm }.render(80, 24);
    assert!(text.contains("waiting") && !text.contains("no data"), "{text}");
    assert!(text.contains("master.m3u8") && text.contains("until stopped"), "{text}");
    insta::assert_snapshot!("first_tick_80x24", text);
}

#[test]
fn stopping_shows_in_the_footer() {
    let mut frame = Frame::at(3, false, OriginView::default());
    frame.vm.stopping = true;
    let text = frame.render(80, 24);
    assert!(text.contains("stopping"), "{text}");
}
