//! The native swarm end to end against the in-process origin on 127.0.0.1:0 with sub-second segments.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hls_swarm::engine::{Plan, SwarmConfig, SwarmOutcome, run_swarm};
use hls_swarm::hls::VariantPolicy;
use hls_swarm::net::NetConfig;
use hls_swarm::origin::{self, FaultConfig, OriginConfig, OriginHandle, ServedKind, VariantSpec};
use hls_swarm::stats::{ErrorClass, Kind, Recorder, Snapshot, TimelinePoint, Window};
use hls_swarm::viewer::{TapEvent, ViewerConfig};
use tokio::sync::watch;
use url::Url;

fn origin_config() -> OriginConfig {
    OriginConfig {
        variants: vec![
            VariantSpec { name: "240p".into(), height: 240, bitrate: 300_000 },
            VariantSpec { name: "360p".into(), height: 360, bitrate: 600_000 },
        ],
        segment_duration: Duration::from_millis(500),
        window: 6,
        ..OriginConfig::local_default()
    }
}

struct Run {
    outcome: SwarmOutcome,
    snapshots: Vec<Arc<Snapshot>>,
    taps: Vec<TapEvent>,
    took: Duration,
}

async fn swarm(origin: &OriginHandle, clients: u32, duration: Duration, policy: VariantPolicy) -> Run {
    let url = Url::parse(origin.url()).unwrap().join("master.m3u8").unwrap();
    swarm_url(url, clients, duration, policy).await
}

async fn swarm_url(url: Url, clients: u32, duration: Duration, policy: VariantPolicy) -> Run {
    let taps = Arc::new(Mutex::new(Vec::new()));
    let sink = taps.clone();
    let mut net = NetConfig::with_defaults().unwrap();
    net.timeout = Duration::from_secs(3);
    let viewer = ViewerConfig {
        url,
        entry_kind: hls_swarm::stats::Kind::Multivariant,
        policy,
        renditions: Default::default(),
        decrypt_check: false,
        low_latency: true,
        abr: Default::default(),
        network: Default::default(),
        buffer_target: Duration::from_secs(2),
        net: Arc::new(net),
        recorder: Recorder::new(),
        tap: Some(Arc::new(move |e: &TapEvent| sink.lock().unwrap().push(e.clone()))),
    };
    let config = SwarmConfig {
        plan: Plan {
            clients,
            ramp_rate: 200.0,
            ramp_jitter: Duration::ZERO,
            duration: Some(duration),
            drain_timeout: Duration::from_secs(5),
            seed: 1,
            threads: 2,
            max_lateness: hls_swarm::stats::generator::DEFAULT_MAX_LATENESS,
            shard: hls_swarm::engine::RunShard::WHOLE,
            behind: std::time::Duration::ZERO,
        },
        viewer,
    };
    let (tx, mut rx) = watch::channel(Arc::new(Snapshot::empty()));
    let collector = tokio::spawn(async move {
        let mut seen = Vec::new();
        while rx.changed().await.is_ok() {
            seen.push(rx.borrow_and_update().clone());
        }
        seen
    });
    let started = Instant::now();
    let outcome = run_swarm(config, std::future::pending(), tx).await;
    let took = started.elapsed();
    let snapshots = collector.await.unwrap();
    let taps = std::mem::take(&mut *taps.lock().unwrap());
    Run { outcome, snapshots, taps, took }
}

fn kind_count(s: &Snapshot, kind: Kind) -> u64 {
    s.windows.run.kinds.0[kind.index()].requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_has_segments_every_second() {
    for clients in [1u32, 10, 100] {
        let origin = origin::spawn(origin_config()).await.unwrap();
        let run = swarm(&origin, clients, Duration::from_secs(7), VariantPolicy::First).await;
        let timeline: Vec<_> = run.outcome.snapshot.timeline.iter().cloned().collect();
        assert!(timeline.len() >= 6, "{clients} viewers: {} timeline points", timeline.len());
        // After ramp-up and the first reload (t >= 2 s), segments keep coming (the old tool's counter
        // froze here). Many viewers reload at phases of their own, so every second has segments. One
        // viewer reloads once a second (the target duration) and gets the two new 500 ms segments
        // together: when its reloads fall on the boundary between two of the timeline's seconds, one
        // second holds two reloads' segments and the next none, so for it no two seconds in a row are
        // empty and the seconds hold the stream's two segments a second, give or take one reload (two
        // segments) at each end.
        let steady: Vec<&TimelinePoint> = timeline.iter().filter(|p| p.t >= 2 && p.t < 7).collect();
        for p in &steady {
            assert_eq!(p.active_clients, u64::from(clients));
        }
        if clients == 1 {
            for pair in steady.windows(2) {
                assert!(
                    pair[0].segments + pair[1].segments > 0,
                    "no segment in seconds {}-{}: {timeline:?}",
                    pair[0].t,
                    pair[1].t
                );
            }
            let total: u64 = steady.iter().map(|p| p.segments).sum();
            let expected = 2 * steady.len() as u64;
            assert!(total.abs_diff(expected) <= 4, "{total} segments in {} s: {timeline:?}", steady.len());
        } else {
            for p in &steady {
                assert!(p.segments > 0, "{clients} viewers: no segment in second {}: {timeline:?}", p.t);
            }
        }
        // Throughput windows always have data once segments flow.
        for s in run.snapshots.iter().filter(|s| s.elapsed >= Duration::from_secs(2)) {
            for w in [Window::S30, Window::S60, Window::S300, Window::Run] {
                assert!(s.window(w).segment_throughput_bps.is_some(), "{clients}: empty {w:?} at {:?}", s.elapsed);
            }
        }
        let errors = run.outcome.snapshot.windows.run.errors;
        assert_eq!(errors, 0, "{clients} viewers had errors");
        origin.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_segment_once_in_order_and_reloads_paced() {
    let origin = origin::spawn(origin_config()).await.unwrap();
    let run = swarm(&origin, 5, Duration::from_secs(5), VariantPolicy::All).await;
    let mut segments: BTreeMap<(u32, String), Vec<String>> = BTreeMap::new();
    let mut reloads: BTreeMap<(u32, String), Vec<Instant>> = BTreeMap::new();
    for e in &run.taps {
        let path = e.url.path().to_string();
        let (folder, file) = path.rsplit_once('/').unwrap();
        match e.kind {
            Kind::Segment => segments.entry((e.viewer, folder.to_string())).or_default().push(file.to_string()),
            Kind::MediaPlaylist => reloads.entry((e.viewer, folder.to_string())).or_default().push(e.started),
            _ => {}
        }
    }
    assert_eq!(segments.len(), 10, "5 viewers x 2 variants: {:?}", segments.keys());
    for (key, files) in &segments {
        let mut sorted = files.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(&sorted, files, "{key:?} fetched a segment twice or out of order");
        assert!(files.len() >= 6, "{key:?}: only {} segments", files.len());
    }
    // Target duration is 1 s: never reload faster than half of it (RFC 8216 6.3.4).
    for (key, times) in &reloads {
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap >= Duration::from_millis(500), "{key:?} reloaded after {gap:?}");
        }
    }
    origin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_count_up_and_viewers_recover() {
    let faults = FaultConfig {
        http_5xx: 0.05,
        http_404: 0.05,
        reset: 0.05,
        stale_playlist: Some(Duration::from_millis(1500)),
        ..Default::default()
    };
    let origin = origin::spawn(OriginConfig { faults, seed: 3, ..origin_config() }).await.unwrap();
    let duration = Duration::from_secs(8);
    let run = swarm(&origin, 20, duration, VariantPolicy::First).await;
    let s = &run.outcome.snapshot;
    let errors = &s.windows.run.errors_by_class;
    assert!(errors.get(ErrorClass::Http5xx) > 0, "5xx: {errors:?}");
    assert!(errors.get(ErrorClass::Http4xx) > 0, "404: {errors:?}");
    assert!(errors.get(ErrorClass::Truncated) + errors.get(ErrorClass::Reset) > 0, "resets: {errors:?}");
    let last: Vec<_> = s.timeline.iter().filter(|p| p.t >= 5 && p.t < 8).map(|p| p.segments).collect();
    assert!(last.iter().all(|n| *n > 0), "viewers stopped getting segments: {last:?}");
    assert!(run.took < duration + Duration::from_secs(6), "run took {:?}", run.took);
    assert_eq!(run.outcome.abandoned, 0);
    origin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_are_measured_not_failed() {
    let faults = FaultConfig { bandwidth: Some(200_000), delay: Some(Duration::from_millis(50)), ..Default::default() };
    let origin = origin::spawn(OriginConfig { faults, ..origin_config() }).await.unwrap();
    let run = swarm(&origin, 3, Duration::from_secs(4), VariantPolicy::First).await;
    let seg = &run.outcome.snapshot.windows.run.kinds.0[Kind::Segment.index()];
    assert!(seg.ok > 0);
    let ttfb = seg.ttfb_ms.unwrap();
    assert!(ttfb.min >= 50.0, "the 50 ms delay is in every TTFB: {ttfb:?}");
    let took = seg.duration_ms.unwrap();
    assert!(took.p50 >= 140.0, "~19 KB at 200 kB/s takes ~94 ms on top of the delay: {took:?}");
    origin.shutdown().await;
}

/// Through the command line, as a user runs it: `hls-swarm run URL --report FILE`.
#[test]
fn report_counts_equal_the_origin_ground_truth() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let origin = rt.block_on(origin::spawn(origin_config())).unwrap();
    let url = format!("{}master.m3u8", origin.url());
    let dir = std::env::temp_dir().join(format!("hls-swarm-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report.json");
    let cli = <hls_swarm::cli::Cli as clap::Parser>::parse_from([
        "hls-swarm",
        "run",
        &url,
        "--clients",
        "8",
        "--ramp-rate",
        "50",
        "--duration",
        "4s",
        "--variant",
        "all",
        "--report",
        path.to_str().unwrap(),
        "--metrics-addr",
        "none",
    ]);
    hls_swarm::run(cli).unwrap();
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let c = origin.counters();
    for (kind, served) in [
        ("multivariant", ServedKind::Multivariant),
        ("media_playlist", ServedKind::MediaPlaylist),
        ("segment", ServedKind::Segment),
    ] {
        assert_eq!(report["requests"][kind]["count"].as_u64().unwrap(), c.requests_all(served), "{kind} count");
        assert_eq!(report["requests"][kind]["bytes"].as_u64().unwrap(), c.body_bytes(served), "{kind} bytes");
    }
    assert_eq!(report["segments"]["downloaded"].as_u64().unwrap(), c.requests(ServedKind::Segment, "200"));
    assert!(report["segments"]["downloaded"].as_u64().unwrap() > 8 * 2 * 4);
    // Keep-alive as a player keeps it: one connection per variant player for the whole run, plus the
    // preflight request's.
    assert_eq!(c.connections_total(), 8 * 2 + 1, "connections opened by the preflight and 8 viewers of 2 variants");
    assert_eq!(report["connections"]["opened"].as_u64(), Some(c.connections_total()), "connections in the report");
    assert_eq!(report["connections"]["connect_ms"]["count"].as_u64(), Some(c.connections_total()));
    assert!(
        report["connections"]["tls_ms"].is_null() && report["connections"]["dns_ms"].is_null(),
        "plain http to an IP"
    );
    common::validate_report(&report);
    rt.block_on(origin.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_and_counts_add_up() {
    let origin = origin::spawn(origin_config()).await.unwrap();
    let run = swarm(&origin, 4, Duration::from_secs(3), VariantPolicy::First).await;
    let s = &run.outcome.snapshot;
    assert_eq!(kind_count(s, Kind::Multivariant), 4);
    assert_eq!(s.playback().starts, 4);
    assert_eq!(s.gauges.peak_active, 4);
    assert_eq!(s.gauges.active, 0, "every viewer stopped");
    assert!(s.playback().startup_ms.is_some());
    origin.shutdown().await;
}

/// `--variant all` on the built-in three-rung ladder: the report's figures per variant are the origin's
/// per variant, request for request and byte for byte.
#[test]
fn per_variant_figures_equal_the_origins() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let config = OriginConfig {
        segment_duration: Duration::from_millis(500),
        window: 6,
        variants: vec![
            VariantSpec { name: "240p".into(), height: 240, bitrate: 300_000 },
            VariantSpec { name: "360p".into(), height: 360, bitrate: 600_000 },
            VariantSpec { name: "480p".into(), height: 480, bitrate: 900_000 },
        ],
        ..OriginConfig::local_default()
    };
    let origin = rt.block_on(origin::spawn(config)).unwrap();
    let url = format!("{}master.m3u8", origin.url());
    let dir = std::env::temp_dir().join(format!("hls-swarm-variants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report.json");
    let args =
        ["hls-swarm", "run", &url, "--clients", "4", "--ramp-rate", "50", "--duration", "3s", "--variant", "all"];
    let cli = <hls_swarm::cli::Cli as clap::Parser>::parse_from(args.into_iter().chain([
        "--metrics-addr",
        "none",
        "--report",
        path.to_str().unwrap(),
    ]));
    hls_swarm::run(cli).unwrap();
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    common::validate_report(&report);
    let variants = report["variants"].as_array().unwrap();
    let labels: Vec<&str> = variants.iter().map(|v| v["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["240p", "360p", "480p"]);
    let c = origin.counters();
    for v in variants {
        let name = v["label"].as_str().unwrap();
        assert!(v["uri"].as_str().unwrap().ends_with(&format!("/{name}/stream.m3u8")), "{v:#}");
        for (kind, served) in [("media_playlist", ServedKind::MediaPlaylist), ("segment", ServedKind::Segment)] {
            let count = v["requests"][kind]["count"].as_u64().unwrap();
            assert!(count > 0, "{name} {kind}");
            assert_eq!(count, c.variant_requests(served, name), "{name} {kind} requests");
            assert_eq!(
                v["requests"][kind]["bytes"].as_u64().unwrap(),
                c.variant_body_bytes(served, name),
                "{name} {kind} bytes"
            );
        }
        assert_eq!(v["segments"]["downloaded"], v["requests"]["segment"]["ok"], "{name}");
    }
    // The multivariant playlist belongs to no variant: only in the totals.
    assert_eq!(report["requests"]["multivariant"]["count"].as_u64(), Some(c.requests_all(ServedKind::Multivariant)));
    rt.block_on(origin.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_latency_is_about_three_target_durations() {
    // 0.5 s segments (target duration 1 s), a 5 s window, PDT on every segment: a viewer starts at the
    // last segment that begins at least three target durations from the end, so it plays 3 to 3.5 s
    // behind the newest media, plus its downloads; the newest segment is listed once complete.
    let origin = origin::spawn(OriginConfig { window: 10, ..origin_config() }).await.unwrap();
    let run = swarm(&origin, 5, Duration::from_secs(5), VariantPolicy::First).await;
    let playback = &run.outcome.snapshot.windows.run.playback;
    let latency = playback.live_latency_ms.as_ref().expect("live latency sampled");
    assert!(latency.count >= 5 * 3, "once per second of each viewer's playback: {latency:?}");
    assert!((3000.0..4500.0).contains(&latency.p50), "p50 {} ms: {latency:?}", latency.p50);
    assert!(playback.edge_distance_parts.is_none(), "no parts in regular HLS");
}
