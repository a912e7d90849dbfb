//! Recorder + aggregator together. Hermetic: time is explicit `Instant`s, no sleeps.

use super::*;
use proptest::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn secs(start: Instant, n: u64) -> Instant {
    start + Duration::from_secs(n)
}

fn segment(total_ms: u64, bytes: u64) -> RequestRecord {
    let mut r = RequestRecord::ok(Kind::Segment, Duration::from_millis(total_ms), bytes);
    r.timings.ttfb = Some(Duration::from_millis(total_ms / 2));
    r.timings.headers = r.timings.ttfb;
    r
}

/// Record `i` of a thread: a deterministic mix of kinds, statuses and errors.
fn mixed(i: u64) -> RequestRecord {
    let kind = Kind::ALL[(i % Kind::COUNT as u64) as usize];
    let mut r = RequestRecord::ok(kind, Duration::from_micros(100 + i % 5000), i % 1000);
    match i % 10 {
        0 => r.status = Some(503),
        1 => {
            r.status = None;
            r.error = Some(ErrorClass::Timeout);
        }
        2 => r.status = Some(304),
        _ => r.timings.ttfb = Some(Duration::from_micros(50 + i % 100)),
    }
    r
}

#[test]
fn many_threads_lose_nothing_while_ticking() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 10_000;
    let recorder = Recorder::with_shards(4);
    let start = Instant::now();
    let mut agg = Aggregator::new(recorder.clone(), start);
    let mut ticks = 0;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let recorder = recorder.clone();
                s.spawn(move || (0..PER_THREAD).for_each(|i| recorder.record_request(&mixed(i))))
            })
            .collect();
        // Tick while the threads record: swaps race with recording on purpose.
        while handles.iter().any(|h| !h.is_finished()) {
            ticks += 1;
            agg.tick(secs(start, ticks));
        }
    });
    let last = agg.finish(secs(start, ticks + 1));
    let expected: Vec<RequestRecord> = (0..PER_THREAD).map(mixed).collect();
    let count = |f: &dyn Fn(&RequestRecord) -> bool| THREADS * expected.iter().filter(|r| f(r)).count() as u64;
    let run = last.window(Window::Run);
    assert_eq!(run.requests, THREADS * PER_THREAD);
    assert_eq!(run.ok, count(&|r| r.is_ok()));
    assert_eq!(run.errors, count(&|r| r.error_class().is_some()));
    assert_eq!(run.bytes, THREADS * expected.iter().map(|r| r.body_bytes).sum::<u64>());
    assert_eq!(run.errors_by_class.get(ErrorClass::Timeout), count(&|r| r.error == Some(ErrorClass::Timeout)));
    assert_eq!(run.errors_by_class.get(ErrorClass::Http5xx), count(&|r| r.status == Some(503)));
    assert_eq!(last.totals.requests(), run.requests);
    for kind in Kind::ALL {
        let ok = count(&|r| r.kind == kind && r.is_ok());
        let hist = last.run_histograms().get(Metric::Duration(kind)).map_or(0, |h| h.len());
        assert_eq!(hist, ok, "{kind:?}: every ok request has a duration sample");
        assert_eq!(run.kinds[kind].duration_ms.map_or(0, |p| p.count), ok);
    }
    let timeline_requests: u64 = last.timeline.iter().map(|p| p.requests).sum();
    assert_eq!(timeline_requests, run.requests);
}

#[test]
fn consumers_read_without_draining() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(2);
    let mut agg = Aggregator::new(recorder.clone(), start);
    let (a, b) = (agg.subscribe(), agg.subscribe());
    for _ in 0..5 {
        recorder.record_request(&segment(100, 1000));
    }
    let published = agg.tick(secs(start, 1));
    for _ in 0..3 {
        let (sa, sb) = (a.borrow().clone(), b.borrow().clone());
        assert!(Arc::ptr_eq(&sa, &sb) && Arc::ptr_eq(&sa, &published));
        assert_eq!(sa.window(Window::S1).requests, 5);
        assert_eq!(sb.window(Window::S30).segments_downloaded, 5);
        assert!(sa.window(Window::S30).kinds[Kind::Segment].ttfb_ms.is_some());
    }
    let next = agg.tick(secs(start, 2));
    assert_eq!(a.borrow().window(Window::S30).requests, 5);
    assert_eq!(b.borrow().window(Window::S30).requests, 5);
    assert!(Arc::ptr_eq(&agg.latest(), &next));
    assert_eq!(published.window(Window::S1).requests, 5, "an old snapshot never changes");
}

#[test]
fn windows_keep_samples_for_their_length_then_empty() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(1);
    let mut agg = Aggregator::new(recorder.clone(), start);
    for ms in [10, 20, 30] {
        recorder.record_request(&segment(ms, 500));
    }
    let first = agg.tick(secs(start, 1));
    assert_eq!(first.window(Window::S1).requests, 3);
    let second = agg.tick(secs(start, 2));
    assert_eq!(second.window(Window::S1).requests, 0, "1 s window empties after one tick");
    assert_eq!(second.window(Window::S1).kinds[Kind::Segment].duration_ms, None);
    for n in 2..=30 {
        let snap = agg.tick(secs(start, n + 1));
        let w30 = snap.window(Window::S30);
        let expected = if n < 30 { 3 } else { 0 };
        assert_eq!(w30.requests, expected, "30 s window after {n} ticks without samples");
        let p = w30.kinds[Kind::Segment].duration_ms;
        assert_eq!(p.map_or(0, |p| p.count), expected);
        if let Some(p) = p {
            assert!((p.max - 30.0).abs() < 0.05 && (p.min - 10.0).abs() < 0.05, "{p:?}");
        }
        assert_eq!(snap.window(Window::S60).requests, 3);
        assert_eq!(snap.window(Window::Run).requests, 3);
        assert!((w30.span_s - 30f64.min(n as f64 + 1.0)).abs() < 1e-9);
    }
}

#[test]
fn connection_phases_count_whatever_the_response() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(1);
    let mut agg = Aggregator::new(recorder.clone(), start);
    // A new connection whose request failed with a 503: its setup still counts.
    let mut failed = segment(40, 0);
    failed.status = Some(503);
    failed.timings.connect = Some(Duration::from_millis(2));
    failed.timings.tls = Some(Duration::from_millis(8));
    recorder.record_request(&failed);
    // A new plain connection, ok; then a request on a kept connection (no phases).
    let mut fresh = segment(30, 500);
    fresh.timings.dns = Some(Duration::from_millis(1));
    fresh.timings.connect = Some(Duration::from_millis(4));
    recorder.record_request(&fresh);
    recorder.record_request(&segment(20, 500));
    let snap = agg.tick(secs(start, 1));
    for w in [Window::S1, Window::Run] {
        let c = &snap.window(w).connections;
        assert_eq!(c.opened, 2, "{w:?}");
        let connect = c.connect_ms.unwrap();
        assert!((connect.min - 2.0).abs() < 0.01 && (connect.max - 4.0).abs() < 0.01, "{connect:?}");
        assert_eq!(c.tls_ms.map(|p| p.count), Some(1));
        assert_eq!(c.dns_ms.map(|p| p.count), Some(1));
    }
    assert_eq!(snap.window(Window::Run).kinds[Kind::Segment].duration_ms.unwrap().count, 2, "only ok requests");
    let snap = agg.tick(secs(start, 2));
    assert_eq!(snap.window(Window::S1).connections, ConnectionStats::default());
    assert_eq!(snap.window(Window::Run).connections.opened, 2);
}

#[test]
fn timeline_has_one_point_per_tick_with_deltas() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(2);
    let mut agg = Aggregator::new(recorder.clone(), start);
    let mut last = agg.latest();
    for t in 1..=6u64 {
        recorder.record_playback(PlaybackEvent::Started);
        for _ in 0..t {
            recorder.record_request(&segment(10, 100));
        }
        let mut failed = segment(10, 7);
        failed.status = Some(404);
        recorder.record_request(&failed);
        last = agg.tick(secs(start, t));
    }
    let points = last.timeline.to_vec();
    assert_eq!(points.len(), 6);
    for (i, p) in points.iter().enumerate() {
        let t = i as u64 + 1;
        let expected = TimelinePoint {
            t,
            ticks: 1,
            active_clients: t,
            requests: t + 1,
            segments: t,
            bytes: t * 100 + 7,
            errors: 1,
            stalled: 0,
            errors_by_class: vec![crate::stats::ClassCount { class: crate::stats::ErrorClass::Http4xx, count: 1 }],
            ..TimelinePoint::default()
        };
        let (ttfb, startup) = (p.ttfb_ms.clone(), p.startup_p50_ms);
        assert_eq!(TimelinePoint { ttfb_ms: Vec::new(), startup_p50_ms: None, ..p.clone() }, expected);
        // The second's TTFB percentiles: the ok segments' 5 ms (the 404 is not timed).
        assert_eq!(ttfb.len(), 1, "{ttfb:?}");
        assert_eq!(ttfb[0].kind, Kind::Segment);
        assert!((ttfb[0].p99 - 5.0).abs() < 0.01, "{ttfb:?}");
        assert_eq!(startup, None, "no startup completed");
    }
}

#[test]
fn percentiles_of_a_uniform_distribution() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(3);
    let mut agg = Aggregator::new(recorder.clone(), start);
    for ms in 1..=1000 {
        recorder.record_request(&segment(ms, 1000));
    }
    let snap = agg.tick(secs(start, 1));
    let p = snap.window(Window::Run).kinds[Kind::Segment].duration_ms.unwrap();
    let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 1e-9;
    assert_eq!(p.count, 1000);
    for (got, want) in
        [(p.min, 1.0), (p.p25, 250.0), (p.p50, 500.0), (p.p75, 750.0), (p.p90, 900.0), (p.p99, 990.0), (p.max, 1000.0)]
    {
        assert!(close(got, want), "got {got}, want {want} (0.1%)");
    }
    assert!(close(p.mean, 500.5));
    // Throughput: 1000 bytes over 1..=1000 ms, i.e. 1e6 / ms bytes/s; median near 1e6/500.
    let t = snap.window(Window::S1).segment_throughput_bps.unwrap();
    assert!((t.p50 - 2000.0).abs() <= 2000.0 * 0.002, "{t:?}");
}

#[test]
fn out_of_range_values_clamp() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(1);
    let agg = Aggregator::new(recorder.clone(), start);
    let mut huge = segment(0, 10);
    huge.timings.total = Duration::MAX;
    huge.timings.ttfb = Some(Duration::from_secs(10_000));
    recorder.record_request(&huge);
    let mut tiny = segment(0, 1_000_000_000_000_000);
    tiny.timings.total = Duration::from_micros(1);
    recorder.record_request(&tiny);
    recorder.record_playback(PlaybackEvent::StartupComplete { startup: Duration::MAX });
    let snap = agg.finish(secs(start, 1));
    let seg = &snap.window(Window::Run).kinds[Kind::Segment];
    let max_ms = histograms::DURATION_MAX_US as f64 / 1000.0;
    assert!((seg.duration_ms.unwrap().max - max_ms).abs() < max_ms * 0.001);
    assert!((seg.ttfb_ms.unwrap().max - max_ms).abs() < max_ms * 0.001);
    let bps = snap.window(Window::Run).segment_throughput_bps.unwrap();
    assert_eq!((bps.count, bps.min), (2, 0.0), "10 bytes in Duration::MAX is 0 B/s");
    let top = histograms::THROUGHPUT_MAX_BPS as f64;
    assert!((bps.max - top).abs() < top * 0.001, "{bps:?}");
    assert_eq!(snap.playback().startup_ms.unwrap().count, 1);
}

#[test]
fn memory_stays_bounded_over_a_long_run() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(2);
    let mut agg = Aggregator::new(recorder.clone(), start);
    let mut at_1000 = None;
    for t in 1..=10_000u64 {
        if t % 50 == 0 {
            recorder.record_request(&segment(t % 700 + 1, 1000));
        }
        agg.tick(secs(start, t));
        if t == 1000 {
            at_1000 = Some(agg.footprint());
        }
    }
    let end = agg.footprint();
    assert_eq!(end.ring_intervals, window::RING_LEN);
    assert_eq!(end.dense_histograms, at_1000.unwrap().dense_histograms);
    assert!(end.ring_packed_bytes < 64 * 1024, "{end:?}");
    assert_eq!(end.timeline_points, 10_000);
    let snap = agg.latest();
    assert_eq!(snap.window(Window::S300).requests, 6);
    assert_eq!(snap.window(Window::Run).requests, 200);
}

#[test]
fn playback_events_reach_gauges_and_windows() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(1);
    let mut agg = Aggregator::new(recorder.clone(), start);
    for _ in 0..4 {
        recorder.record_playback(PlaybackEvent::Started);
    }
    recorder.record_playback(PlaybackEvent::StartupComplete { startup: Duration::from_millis(800) });
    recorder.record_playback(PlaybackEvent::StallBegan);
    recorder.record_playback(PlaybackEvent::StallBegan);
    recorder.record_playback(PlaybackEvent::StallEnded { stalled_for: Duration::from_millis(1500) });
    recorder.record_playback(PlaybackEvent::SegmentSkipped { count: 3 });
    recorder.record_playback(PlaybackEvent::Restarted);
    recorder.record_playback(PlaybackEvent::Stopped);
    let snap = agg.tick(secs(start, 1));
    assert_eq!(snap.gauges, Gauges { active: 3, stalled: 1, peak_active: 4, peak_stalled: 2 });
    let p = snap.playback();
    assert_eq!((p.starts, p.restarts, p.stops, p.startups, p.stalls, p.segments_skipped), (4, 1, 1, 1, 2, 3));
    assert!((p.stall_seconds - 1.5).abs() < 1e-9);
    assert!((p.startup_ms.unwrap().p50 - 800.0).abs() < 1.0);
    let later = agg.tick(secs(start, 2));
    assert_eq!(later.window(Window::S1).playback.stalls, 0);
    assert_eq!(later.window(Window::S30).playback.stalls, 2);
    assert_eq!(later.gauges.stalled, 1, "gauges are levels, not window sums");
}

#[tokio::test]
async fn finish_flushes_and_closes_the_channel() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(2);
    let mut agg = Aggregator::new(recorder.clone(), start);
    let mut rx = agg.subscribe();
    let consumer = tokio::spawn(async move {
        let mut seen = Vec::new();
        while rx.changed().await.is_ok() {
            let snap = rx.borrow_and_update().clone();
            seen.push((snap.tick, snap.is_final, snap.window(Window::Run).requests));
        }
        seen
    });
    recorder.record_request(&segment(5, 5));
    agg.tick(secs(start, 1));
    recorder.record_request(&segment(5, 5));
    let last = agg.finish(secs(start, 1) + Duration::from_millis(300));
    assert!(last.is_final);
    assert_eq!(last.window(Window::Run).requests, 2);
    assert!((last.window(Window::S1).span_s - 0.3).abs() < 1e-9);
    let seen = consumer.await.unwrap();
    assert_eq!(seen.last(), Some(&(2, true, 2)), "{seen:?}");
}

#[test]
fn snapshot_json_names_windows_and_kinds() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(1);
    let mut agg = Aggregator::new(recorder.clone(), start);
    recorder.record_request(&segment(100, 2000));
    let snap = agg.tick(secs(start, 2));
    let json = serde_json::to_value(&*snap).unwrap();
    assert_eq!(json["elapsed_s"], 2.0);
    assert_eq!(json["windows"]["30s"]["kinds"]["segment"]["requests"], 1);
    assert_eq!(json["windows"]["run"]["kinds"]["segment"]["by_status"]["2xx"], 1);
    assert_eq!(json["totals"]["kinds"]["segment"]["bytes"], 2000);
    assert_eq!(json["timeline"][0]["t"], 2);
    let segment = serde_json::to_string_pretty(&json["windows"]["1s"]["kinds"]["segment"]).unwrap();
    insta::assert_snapshot!(segment);
}

/// One generated request: (kind, status choice, error?, body bytes, total ms).
fn arb_record() -> impl Strategy<Value = RequestRecord> {
    (0..Kind::COUNT, 0..6usize, any::<bool>(), 0..2_000_000u64, 0..10_000u64).prop_map(|(k, s, err, bytes, ms)| {
        let mut r = RequestRecord::ok(Kind::ALL[k], Duration::from_millis(ms), bytes);
        r.status = [None, Some(200), Some(206), Some(304), Some(404), Some(503)][s];
        r.error = (err || r.status.is_none()).then_some(ErrorClass::Reset);
        r.timings.ttfb = Some(Duration::from_millis(ms / 3));
        r
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn totals_equal_the_sum_of_records(groups in prop::collection::vec(prop::collection::vec(arb_record(), 0..10), 1..40)) {
        let start = Instant::now();
        let recorder = Recorder::with_shards(1);
        let mut agg = Aggregator::new(recorder.clone(), start);
        let mut snap = agg.latest();
        for (t, group) in groups.iter().enumerate() {
            group.iter().for_each(|r| recorder.record_request(r));
            snap = agg.tick(secs(start, t as u64 + 1));
        }
        let all: Vec<&RequestRecord> = groups.iter().flatten().collect();
        let run = snap.window(Window::Run);
        prop_assert_eq!(run.requests, all.len() as u64);
        prop_assert_eq!(run.ok, all.iter().filter(|r| r.is_ok()).count() as u64);
        prop_assert_eq!(run.errors, all.iter().filter(|r| r.error_class().is_some()).count() as u64);
        prop_assert_eq!(run.bytes, all.iter().map(|r| r.body_bytes).sum::<u64>());
        let recent: Vec<&RequestRecord> = groups.iter().rev().take(30).flatten().collect();
        prop_assert_eq!(snap.window(Window::S30).requests, recent.len() as u64);
        let ok_recent = recent.iter().filter(|r| r.is_ok()).count() as u64;
        let samples: u64 = Kind::ALL.iter().filter_map(|k| snap.window(Window::S30).kinds[*k].duration_ms).map(|p| p.count).sum();
        prop_assert_eq!(samples, ok_recent);
        let last = groups.last().unwrap();
        prop_assert_eq!(snap.window(Window::S1).requests, last.len() as u64);
    }
}

#[test]
fn run_buckets_are_the_run_histograms_buckets() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(2);
    let mut agg = Aggregator::new(recorder.clone(), start);
    for ms in [1, 2, 2, 40, 900, 2_500, 77_000] {
        recorder.record_request(&segment(ms, 1000));
    }
    let snap = agg.tick(secs(start, 1));
    let dense = snap.run_histograms();
    for metric in Metric::all() {
        let packed: Vec<(u64, u64)> = snap.run_buckets(metric).collect();
        let expected: Vec<(u64, u64)> = dense
            .get(metric)
            .map(|h| h.iter_recorded().map(|b| (b.value_iterated_to(), b.count_at_value())).collect())
            .unwrap_or_default();
        assert_eq!(packed, expected, "{metric:?}");
    }
    assert_eq!(snap.run_buckets(Metric::Duration(Kind::Segment)).map(|(_, c)| c).sum::<u64>(), 7);
}

#[test]
fn held_requests_keep_their_hold_apart_in_every_window() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(2);
    let mut agg = Aggregator::new(recorder.clone(), start);
    let held = |ttfb_ms: u64, hold: Hold| {
        let mut r = RequestRecord::ok(Kind::BlockingPlaylist, Duration::from_millis(ttfb_ms + 4), 3_000);
        r.timings.ttfb = Some(Duration::from_millis(ttfb_ms));
        r.hold = Some(hold);
        r
    };
    for ms in [1_000, 1_500, 1_900] {
        recorder.record_request(&held(ms, Hold::Held));
    }
    recorder.record_request(&held(2, Hold::Unblocked));
    let mut failed = held(3_000, Hold::Held);
    (failed.status, failed.error) = (None, Some(ErrorClass::Timeout));
    recorder.record_request(&failed);
    recorder.record_request(&RequestRecord::ok(Kind::MediaPlaylist, Duration::from_millis(5), 3_000));
    let first = agg.tick(secs(start, 1));
    for w in [Window::S1, Window::S30, Window::S60, Window::S300, Window::Run] {
        let k = &first.window(w).kinds[Kind::BlockingPlaylist];
        assert_eq!((k.requests, k.ok, k.held, k.unblocked), (5, 4, 5, 1), "{w:?}");
        let hold = k.hold_ms.unwrap();
        assert_eq!(hold.count, 4, "ok held requests only");
        assert!((hold.max - 1_900.0).abs() < 2.0 && (hold.min - 2.0).abs() < 0.01, "{hold:?}");
        let transfer = k.duration_ms.unwrap();
        assert!((transfer.max - 4.0).abs() < 0.01, "the transfer after the hold: {transfer:?}");
        assert_eq!(k.ttfb_ms, None);
        assert_eq!(first.window(w).kinds[Kind::MediaPlaylist].held, 0);
    }
    let later = agg.tick(secs(start, 2));
    let gone = &later.window(Window::S1).kinds[Kind::BlockingPlaylist];
    assert_eq!((gone.held, gone.unblocked, gone.hold_ms), (0, 0, None));
    assert_eq!(later.window(Window::S30).kinds[Kind::BlockingPlaylist].held, 5);
    let run = later.run_histograms();
    assert_eq!(run.get(Metric::Hold(Kind::BlockingPlaylist)).map(|h| h.len()), Some(4));
    let json = serde_json::to_value(later.window(Window::S1)).unwrap();
    assert!(json["kinds"]["blocking_playlist"].get("held").is_none(), "zero holds are not written");
}

#[test]
fn live_latency_and_edge_distance_reach_every_window_and_the_run_histograms() {
    let start = Instant::now();
    let recorder = Recorder::with_shards(2);
    let mut agg = Aggregator::new(recorder.clone(), start);
    for (ms, parts) in [(2_000, 3), (2_400, 4), (3_100, 6)] {
        recorder.record_playback(PlaybackEvent::LiveLatency { latency: Duration::from_millis(ms) });
        recorder.record_playback(PlaybackEvent::EdgeDistance { parts });
    }
    let first = agg.tick(secs(start, 1));
    for w in Window::ALL {
        let p = &first.window(w).playback;
        let latency = p.live_latency_ms.unwrap();
        assert_eq!(latency.count, 3, "{w:?}");
        assert!((latency.p50 - 2_400.0).abs() < 2.5 && (latency.max - 3_100.0).abs() < 3.5, "{latency:?}");
        let edge = p.edge_distance_parts.unwrap();
        assert_eq!((edge.count, edge.min, edge.p50, edge.max), (3, 3.0, 4.0, 6.0), "{w:?}");
    }
    assert_eq!(first.totals.playback, PlaybackCounts::default(), "samples are no playback events");
    let later = agg.tick(secs(start, 2));
    assert_eq!(later.window(Window::S1).playback.live_latency_ms, None);
    assert_eq!(later.window(Window::S30).playback.live_latency_ms.map(|p| p.count), Some(3));
    let run = later.run_histograms();
    assert_eq!(run.get(Metric::LiveLatency).map(|h| h.len()), Some(3));
    assert_eq!(run.get(Metric::EdgeDistance).map(|h| h.len()), Some(3));
    let json = serde_json::to_string(&run).unwrap();
    assert!(json.contains("\"live_latency_us\"") && json.contains("\"edge_distance_parts\""), "{json:.200}");
    assert_eq!(serde_json::from_str::<RunHistograms>(&json).unwrap(), run, "lossless");
}
