//! How a viewer paces its requests when the stream or the origin is not the easy case: a media playlist
//! given as the URL, a VOD that adds up to no time at all, an origin slower than the stream. The
//! yardstick is a player (hls.js): the kinds it would report, the reloads it would make, the segments
//! it would never ask for.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hls_swarm::engine::{SwarmConfig, run_swarm};
use hls_swarm::origin::{self, FaultConfig, OriginConfig, ServedKind, VariantSpec};
use hls_swarm::stats::{ErrorClass, Kind, Snapshot};
use hls_swarm::viewer::TapEvent;
use tokio::sync::watch;
use url::Url;

fn one_rung(bitrate: u64, window: u32, vod: Option<Duration>) -> OriginConfig {
    OriginConfig {
        variants: vec![VariantSpec { name: "360p".into(), height: 360, bitrate }],
        segment_duration: Duration::from_millis(500),
        window,
        vod,
        ..OriginConfig::local_default()
    }
}

/// Runs the binary's code path (`hls_swarm::run`) on `url` and returns the report.
fn run_cli(url: &str, clients: u32, seconds: u32, name: &str) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("hls-swarm-pacing-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report.json");
    let (clients, seconds) = (clients.to_string(), format!("{seconds}s"));
    let args = ["hls-swarm", "run", url, "--clients", &clients, "--ramp-rate", "50", "--duration", &seconds];
    let cli = <hls_swarm::cli::Cli as clap::Parser>::parse_from(args.iter().copied().chain([
        "--metrics-addr",
        "none",
        "--report",
        path.to_str().unwrap(),
    ]));
    hls_swarm::run(cli).unwrap();
    let report = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    report
}

#[test]
fn a_media_playlist_url_is_never_counted_as_multivariant() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    for (name, vod) in [("live", None), ("vod", Some(Duration::from_secs(2)))] {
        let origin = rt.block_on(origin::spawn(one_rung(400_000, 6, vod))).unwrap();
        let report = run_cli(&format!("{}stream.m3u8", origin.url()), 3, 4, name);
        assert_eq!(report["requests"]["multivariant"]["count"], 0, "{name}: {:#}", report["requests"]);
        let c = origin.counters();
        for (kind, served) in [
            ("multivariant", ServedKind::Multivariant),
            ("media_playlist", ServedKind::MediaPlaylist),
            ("segment", ServedKind::Segment),
        ] {
            assert_eq!(report["requests"][kind]["count"].as_u64(), Some(c.requests_all(served)), "{name} {kind}");
            assert_eq!(report["requests"][kind]["bytes"].as_u64(), Some(c.body_bytes(served)), "{name} {kind} bytes");
        }
        // The VOD (2 s) plays through and starts over within the 4 s: its reloads are media playlists too.
        assert!(c.requests_all(ServedKind::MediaPlaylist) > 3, "{name}: the preflight and every viewer loaded it");
        rt.block_on(origin.shutdown());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vod_of_zero_duration_replays_at_most_once_a_second() {
    let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0,\na.ts\n#EXTINF:0,\nb.ts\n#EXT-X-ENDLIST\n";
    let segment = Bytes::from(vec![0x47u8; 188 * 4]);
    let routes = vec![("/zero.m3u8", Bytes::from(playlist)), ("/a.ts", segment.clone()), ("/b.ts", segment)];
    let (addr, counts) = common::fixed_server(routes).await;
    let url = Url::parse(&format!("http://{addr}/zero.m3u8")).unwrap();
    let seconds = 4;
    let mut config = common::swarm_config(url, 1, Duration::from_secs(seconds), 10.0, 1);
    config.viewer.entry_kind = Kind::MediaPlaylist;
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let outcome = run_swarm(config, std::future::pending(), tx).await;
    let loads = counts.lock().unwrap().iter().filter(|(path, _)| path == "/zero.m3u8").count() as u32;
    assert!(loads >= 2, "the VOD was replayed: {loads}");
    assert!(loads <= seconds as u32 + 1, "{loads} playlist loads in {seconds} s: a replay is paced");
    let run = &outcome.snapshot.windows.run;
    assert_eq!(run.kinds.0[Kind::Multivariant.index()].requests, 0);
    assert_eq!(run.errors, 0);
}

/// A swarm on the in-process origin, with every request seen by a tap.
async fn tapped(config: OriginConfig, clients: u32, seconds: u64) -> (Vec<TapEvent>, Arc<Snapshot>) {
    let origin = origin::spawn(config).await.unwrap();
    let url = Url::parse(origin.url()).unwrap().join("master.m3u8").unwrap();
    let taps = Arc::new(Mutex::new(Vec::new()));
    let sink = taps.clone();
    let mut config: SwarmConfig = common::swarm_config(url, clients, Duration::from_secs(seconds), 50.0, 1);
    config.viewer.tap = Some(Arc::new(move |e: &TapEvent| sink.lock().unwrap().push(e.clone())));
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let outcome = run_swarm(config, std::future::pending(), tx).await;
    origin.shutdown().await;
    let taps = std::mem::take(&mut *taps.lock().unwrap());
    (taps, outcome.snapshot)
}

/// Per viewer: the start times of its media playlist loads, and its segment file names in order.
fn per_viewer(taps: &[TapEvent]) -> BTreeMap<u32, (Vec<Instant>, Vec<String>)> {
    let mut out: BTreeMap<u32, (Vec<Instant>, Vec<String>)> = BTreeMap::new();
    for e in taps {
        let entry = out.entry(e.viewer).or_default();
        match e.kind {
            Kind::MediaPlaylist => entry.0.push(e.started),
            Kind::Segment => entry.1.push(e.url.path().rsplit('/').next().unwrap().to_string()),
            _ => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_slow_origin_a_viewer_reloads_on_schedule_and_skips_what_left_the_window() {
    // 800 kbit/s segments of 0.5 s (50 kB) sent at 40 kB/s: each takes 1.25 s, so the viewer falls
    // behind 0.75 s per segment, out of the 5 s window within the run.
    let faults = FaultConfig { bandwidth: Some(40_000), ..Default::default() };
    let config = OriginConfig { faults, ..one_rung(800_000, 10, None) };
    let (taps, snapshot) = tapped(config, 2, 12).await;
    for (viewer, (reloads, segments)) in per_viewer(&taps) {
        // Target duration 1 s: a reload every second (6.3.4), downloads or not. The playlists come
        // slowly too (about 0.1 s), so allow for that and the timer.
        let gaps: Vec<Duration> = reloads.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(reloads.len() >= 9, "viewer {viewer}: {} reloads in 12 s", reloads.len());
        assert!(gaps.iter().all(|g| *g < Duration::from_millis(1_600)), "viewer {viewer}: reload gaps {gaps:?}");
        assert!(gaps.iter().all(|g| *g >= Duration::from_millis(500)), "viewer {viewer}: reload gaps {gaps:?}");
        let mut unique = segments.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), segments.len(), "viewer {viewer} fetched a segment twice: {segments:?}");
    }
    let run = &snapshot.windows.run;
    // A segment asked for after it left the window (and its 1.5 s grace) is a 404 a player never causes.
    assert_eq!(run.errors_by_class.get(ErrorClass::Http4xx), 0, "404s: {:?}", run.errors_by_class);
    assert!(snapshot.playback().segments_skipped > 0, "what the viewers passed over is counted as skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_healthy_origin_the_cadence_is_a_players() {
    // 0.5 s segments, target duration 1 s: a viewer reloads once a second and fetches two segments a
    // second, each once, starting three target durations from the end.
    let (taps, snapshot) = tapped(one_rung(400_000, 10, None), 3, 8).await;
    for (viewer, (reloads, segments)) in per_viewer(&taps) {
        let span = reloads.last().unwrap().duration_since(reloads[0]).as_secs_f64();
        let per_second = (reloads.len() - 1) as f64 / span;
        assert!((0.9..=1.1).contains(&per_second), "viewer {viewer}: {per_second:.2} reloads/s");
        // The first load lists 6 segments from the live edge, then 2 new ones per reload.
        let expected = 6.0 + 2.0 * span;
        assert!(
            (segments.len() as f64 - expected).abs() <= 3.0,
            "viewer {viewer}: {} segments, ~{expected:.0}",
            segments.len()
        );
    }
    assert_eq!(snapshot.windows.run.errors, 0);
    assert_eq!(snapshot.playback().segments_skipped, 0);
}
