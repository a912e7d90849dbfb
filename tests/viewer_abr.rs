//! Adaptive viewers (`--variant abr`) against the built-in origin's 800k / 2.5M / 5M ladder with 0.5 s
//! segments, each viewer's downloads capped (`--bandwidth`) or not. A viewer capped at 3 Mbit/s settles
//! on 2.5M, one at 1 Mbit/s on 800k, one uncapped on 5M, without stalls; a capped viewer receives at its
//! cap; and after a run with switching, the per-variant requests and bytes equal the origin's.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hls_swarm::engine::run_swarm;
use hls_swarm::hls::VariantPolicy;
use hls_swarm::net::NetworkPlan;
use hls_swarm::origin::{self, OriginConfig, ServedKind, VariantSpec};
use hls_swarm::stats::{ErrorClass, Kind, Snapshot};
use hls_swarm::viewer::TapEvent;
use tokio::sync::watch;
use url::Url;

const LADDER: [&str; 3] = ["360p", "720p", "1080p"];

fn ladder_origin() -> OriginConfig {
    OriginConfig {
        variants: vec![
            VariantSpec { name: "360p".into(), height: 360, bitrate: 800_000 },
            VariantSpec { name: "720p".into(), height: 720, bitrate: 2_500_000 },
            VariantSpec { name: "1080p".into(), height: 1080, bitrate: 5_000_000 },
        ],
        segment_duration: Duration::from_millis(500),
        window: 10,
        ..OriginConfig::local_default()
    }
}

struct Played {
    taps: Vec<TapEvent>,
    snapshot: Arc<Snapshot>,
    took: Duration,
}

/// `clients` viewers with `policy`, each capped at `cap` bits per second, for `secs`; the origin's
/// per-variant (requests, bytes) of each kind are checked against the viewers' own.
async fn play(policy: VariantPolicy, cap: Option<u64>, clients: u32, secs: u64) -> Played {
    let network = NetworkPlan { bandwidth: cap, ..Default::default() };
    play_over(policy, network, clients, secs).await
}

async fn play_over(policy: VariantPolicy, network: NetworkPlan, clients: u32, secs: u64) -> Played {
    play_origin(ladder_origin(), policy, network, clients, secs).await
}

async fn play_origin(
    origin: OriginConfig,
    policy: VariantPolicy,
    network: NetworkPlan,
    clients: u32,
    secs: u64,
) -> Played {
    let origin = origin::spawn(origin).await.unwrap();
    let url = Url::parse(&format!("{}master.m3u8", origin.url())).unwrap();
    let mut config = common::swarm_config(url, clients, Duration::from_secs(secs), 100.0, 2);
    config.viewer.policy = policy;
    config.viewer.network = network;
    let taps = Arc::new(Mutex::new(Vec::new()));
    let sink = taps.clone();
    config.viewer.tap = Some(Arc::new(move |e: &TapEvent| sink.lock().unwrap().push(e.clone())));
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let started = Instant::now();
    let snapshot = run_swarm(config, std::future::pending(), tx).await.snapshot;
    let took = started.elapsed();
    // Every variant's requests and bytes, per kind, as the origin counted them.
    let c = origin.counters();
    for (index, name) in LADDER.iter().enumerate() {
        let mine = snapshot.variants.iter().find(|v| usize::from(v.index) == index);
        for (kind, served) in [(Kind::MediaPlaylist, ServedKind::MediaPlaylist), (Kind::Segment, ServedKind::Segment)] {
            let (requests, bytes) = mine.map_or((0, 0), |v| (v.kinds[kind].requests, v.kinds[kind].bytes));
            let (their_requests, their_bytes) = (c.variant_requests(served, name), c.variant_body_bytes(served, name));
            assert_eq!(requests, their_requests, "{name} {kind:?}: requests against the origin's");
            // A download the viewer abandoned may have got less than the origin had sent on its way.
            let abandoned = mine.is_some_and(|v| v.kinds[kind].errors_by_class.get(ErrorClass::Abandoned) > 0);
            if abandoned {
                assert!(bytes <= their_bytes, "{name} {kind:?}: {bytes} bytes of {their_bytes} sent");
            } else {
                assert_eq!(bytes, their_bytes, "{name} {kind:?}: bytes against the origin's");
            }
        }
    }
    origin.shutdown().await;
    let taps = std::mem::take(&mut *taps.lock().unwrap());
    each_segment_once(&taps, clients, &snapshot);
    Played { taps, snapshot, took }
}

/// Each viewer plays each media sequence number once and in order, whichever variant it came from: an
/// abandoned download's segment comes next from the lower variant, no segment of the old variant starts
/// while a switch waits, and what a viewer passed over is what the run counts as skipped.
fn each_segment_once(taps: &[TapEvent], clients: u32, snapshot: &Snapshot) {
    let sequence = |t: &TapEvent| {
        let name = t.url.path().rsplit('/').next().unwrap_or_default();
        let stem = name.strip_prefix("seg")?;
        stem.strip_suffix(".ts").or(stem.strip_suffix(".aac")).or(stem.strip_suffix(".m4s"))?.parse::<u64>().ok()
    };
    let mut passed_over = 0;
    let rung = |t: &TapEvent| LADDER.iter().position(|n| t.url.path().starts_with(&format!("/{n}/")));
    // The video's track, and the audio rendition's when there is one.
    for (viewer, video) in (0..clients).flat_map(|v| [(v, true), (v, false)]) {
        let mine: Vec<(u64, bool, Option<usize>)> = taps
            .iter()
            .filter(|t| t.viewer == viewer && t.kind == Kind::Segment && rung(t).is_some() == video)
            .map(|t| (sequence(t).expect("a segment's name"), t.ok, rung(t)))
            .collect();
        let played: Vec<u64> = mine.iter().filter(|m| m.1).map(|m| m.0).collect();
        for pair in played.windows(2) {
            assert!(pair[1] > pair[0], "viewer {viewer} played {} after {}: {mine:?}", pair[1], pair[0]);
            passed_over += pair[1] - pair[0] - 1;
        }
        for (i, (given_up, _, from)) in mine.iter().enumerate().filter(|(_, m)| !m.1) {
            if let Some((next, _, below)) = mine.get(i + 1) {
                let again = next == given_up && below < from;
                assert!(again, "viewer {viewer}: an abandoned segment comes next from below: {mine:?}");
            }
        }
    }
    assert_eq!(passed_over, snapshot.totals.playback.segments_skipped, "gaps are the skipped segments");
}

/// Each viewer's segments in order, by the variant in their path.
fn segments_by_viewer(taps: &[TapEvent], clients: u32) -> Vec<Vec<&'static str>> {
    (0..clients)
        .map(|viewer| {
            let variant = |t: &TapEvent| LADDER.iter().copied().find(|n| t.url.path().starts_with(&format!("/{n}/")));
            taps.iter().filter(|t| t.viewer == viewer && t.kind == Kind::Segment).filter_map(variant).collect()
        })
        .collect()
}

/// After its first 10 segments, each viewer played at least 90 % of the rest on `expected`, and no one
/// stalled.
fn settles_on(played: &Played, clients: u32, expected: &str) {
    for (viewer, segments) in segments_by_viewer(&played.taps, clients).iter().enumerate() {
        assert!(segments.len() >= 20, "viewer {viewer}: {} segments: {segments:?}", segments.len());
        let rest = &segments[10..];
        let on = rest.iter().filter(|v| **v == expected).count();
        assert!(on * 10 >= rest.len() * 9, "viewer {viewer}: {on} of {} on {expected}: {segments:?}", rest.len());
    }
    let playback = &played.snapshot.windows.run.playback;
    assert_eq!(playback.stalls, 0, "no stall");
    assert!(played.snapshot.variants.iter().all(|v| v.watching == 0), "every viewer's playback ended");
    assert_eq!(played.snapshot.windows.run.errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capped_at_3_mbit_a_viewer_settles_on_2500k() {
    let played = play(VariantPolicy::Abr, Some(3_000_000), 3, 10).await;
    settles_on(&played, 3, "720p");
    let totals = &played.snapshot.totals.playback;
    assert!(totals.switches_up >= 3, "each viewer climbed from where the default estimate started it: {totals:?}");
    // What playback did per variant: the media from 2500k is most of it, and the time-weighted bitrate
    // is close to 2500k's.
    let media = |name: &str| {
        let index = LADDER.iter().position(|n| *n == name).unwrap();
        played.snapshot.variants.iter().find(|v| usize::from(v.index) == index).map_or(0, |v| v.playback.media_us)
    };
    let all: u64 = LADDER.iter().map(|n| media(n)).sum();
    assert_eq!(all, totals.media_us, "every variant's media adds up to the run's");
    assert!(media("720p") * 10 >= all * 8, "720p's share of the media: {} of {all} us", media("720p"));
    let bitrate = totals.media_bits as f64 / (totals.media_us as f64 / 1e6);
    assert!((2_000_000.0..=2_600_000.0).contains(&bitrate), "time-weighted bitrate {bitrate}");
    let startups: u64 = played.snapshot.variants.iter().map(|v| v.playback.startups).sum();
    assert_eq!(startups, 3, "each viewer's startup counted under the variant it started on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capped_at_1_mbit_a_viewer_stays_on_800k() {
    let played = play(VariantPolicy::Abr, Some(1_000_000), 3, 10).await;
    settles_on(&played, 3, "360p");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncapped_a_viewer_climbs_to_5m() {
    let played = play(VariantPolicy::Abr, None, 3, 10).await;
    settles_on(&played, 3, "1080p");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_viewer_receives_at_its_cap() {
    // 5M segments through a 2 Mbit/s cap: the viewer downloads all the time, at the cap.
    let cap = 2_000_000.0;
    let played = play(VariantPolicy::Highest, Some(cap as u64), 1, 10).await;
    let run = &played.snapshot.windows.run;
    let bytes: u64 = Kind::ALL.iter().map(|k| run.kinds[*k].bytes).sum();
    let rate = bytes as f64 * 8.0 / played.took.as_secs_f64();
    assert!((rate - cap).abs() / cap < 0.05, "{rate:.0} bit/s over {:?} against a cap of {cap}", played.took);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_round_trip_is_in_every_first_byte_and_connection() {
    let rtt = Duration::from_millis(60);
    let network = NetworkPlan { rtt: Some(rtt), ..Default::default() };
    let played = play_over(VariantPolicy::First, network, 2, 3).await;
    let run = &played.snapshot.windows.run;
    // The first request opens the connection: its handshake's round trip, then its own.
    let first = run.kinds[Kind::Multivariant].ttfb_ms.as_ref().expect("answered");
    assert!(first.min >= 120.0 && first.p50 < 120.0 + 50.0, "TTFB {first:?}");
    for kind in [Kind::MediaPlaylist, Kind::Segment] {
        let ttfb = run.kinds[kind].ttfb_ms.as_ref().expect("answered");
        assert!(ttfb.min >= 60.0 && ttfb.p50 < 60.0 + 50.0, "{kind:?} on the kept connection: TTFB {ttfb:?}");
    }
    let connect = run.connections.connect_ms.as_ref().expect("connections opened");
    assert!(connect.min >= 60.0, "a new connection's handshake takes the round trip too: {connect:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bandwidth_drop_steps_viewers_down_within_two_segments() {
    // 8 Mbit/s for 6 s, then 1 Mbit/s (a trace every viewer meets at once): each climbs to 5M, and when
    // the link drops it abandons the 5M segment it is getting (the emergency rule) and plays 800k.
    let trace = hls_swarm::net::link::parse_trace("0 8000\n6 1000\n").unwrap();
    let network = NetworkPlan { trace: Some(trace), trace_in_step: true, ..Default::default() };
    let started = Instant::now();
    let played = play_over(VariantPolicy::Abr, network, 3, 11).await;
    let drop = Duration::from_secs(6);
    let segment = Duration::from_millis(500);
    for viewer in 0..3u32 {
        let mine: Vec<(&str, Duration)> = played
            .taps
            .iter()
            .filter(|t| t.viewer == viewer && t.kind == Kind::Segment)
            .filter_map(|t| {
                let v = LADDER.iter().copied().find(|n| t.url.path().starts_with(&format!("/{n}/")))?;
                Some((v, t.started.saturating_duration_since(started)))
            })
            .collect();
        let before: Vec<&str> =
            mine.iter().filter(|(_, at)| (Duration::from_secs(3)..drop).contains(at)).map(|m| m.0).collect();
        assert!(
            !before.is_empty() && before.iter().all(|v| *v == "1080p"),
            "viewer {viewer} before the drop: {mine:?}"
        );
        // Within two segments: at most two of 5M asked for after the drop (the one in flight is abandoned),
        // and the lower rendition's first within three segment durations of it.
        let down = mine.iter().find(|(v, at)| *at >= drop && *v != "1080p").expect("a lower rendition after the drop");
        let top_after = mine.iter().filter(|(v, at)| *at >= drop && *v == "1080p").count();
        assert!(top_after <= 2, "viewer {viewer}: {top_after} segments of 5M after the drop: {mine:?}");
        assert!(
            down.1 <= drop + 3 * segment,
            "viewer {viewer} stepped down {:?} after the drop: {mine:?}",
            down.1 - drop
        );
        assert!(!mine.iter().any(|(v, at)| *at > down.1 && *v == "1080p"), "viewer {viewer} climbed back: {mine:?}");
        let last: Vec<&str> = mine.iter().rev().take(3).map(|m| m.0).collect();
        assert_eq!(last, ["360p"; 3], "viewer {viewer} ends on 800k: {mine:?}");
    }
    let run = &played.snapshot.windows.run;
    assert!(run.errors_by_class.get(ErrorClass::Abandoned) >= 3, "each viewer abandoned its 5M segment");
    let totals = &played.snapshot.totals.playback;
    assert!(totals.switches_down >= 3 && totals.switches_up >= 3, "{totals:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_slowed_by_its_fault_schedule_sends_viewers_down_and_back_up() {
    // From 3 s to 6 s the origin sends each response at 2 Mbit/s (--fault-schedule 3s:bandwidth=2Mbit,6s:none).
    // Viewers step down at once; they climb back as slowly as hls.js's estimate rises (its slow average
    // has a half-life of 9 s of download time, and a fast segment download counts as 50 ms).
    let mut config = ladder_origin();
    config.faults.schedule = origin::parse_fault_schedule("3s:bandwidth=2Mbit,6s:none").unwrap();
    let started = Instant::now();
    let played = play_origin(config, VariantPolicy::Abr, NetworkPlan::default(), 3, 18).await;
    // The mean BANDWIDTH of the segments asked for in each span of the run.
    let bandwidth = |v: &str| match v {
        "360p" => 800_000.0,
        "720p" => 2_500_000.0,
        _ => 5_000_000.0,
    };
    let mean = |from: u64, to: u64| {
        let picked: Vec<f64> = played
            .taps
            .iter()
            .filter(|t| t.kind == Kind::Segment)
            .filter(|t| (Duration::from_secs(from)..Duration::from_secs(to)).contains(&(t.started - started)))
            .filter_map(|t| LADDER.iter().find(|n| t.url.path().starts_with(&format!("/{n}/"))).map(|n| bandwidth(n)))
            .collect();
        assert!(!picked.is_empty(), "segments between {from} and {to} s");
        picked.iter().sum::<f64>() / picked.len() as f64
    };
    let (before, during, after) = (mean(1, 3), mean(4, 6), mean(13, 18));
    assert!(before > 4e6, "on 5M before the fault: {before}");
    assert!(during < 0.3 * before, "down while the origin is slow: {during} after {before}");
    assert!(after > 2.0 * during, "back up after it: {after} after {during}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_audio_rendition_the_ladders_startups_and_stalls_add_up_to_the_runs() {
    // Audio in a rendition of its own, and a cap under the lowest variant: the viewer stalls, and each
    // startup and stall (and its time) is counted under a variant of the ladder, none lost or twice.
    let origin = OriginConfig { audio_rendition: true, ..ladder_origin() };
    let played =
        play_origin(origin, VariantPolicy::Abr, NetworkPlan { bandwidth: Some(500_000), ..Default::default() }, 2, 6)
            .await;
    let run = &played.snapshot.windows.run.playback;
    assert!(run.stalls > 0, "a cap under the lowest variant stalls: {run:?}");
    let ladder = played.snapshot.variants.iter().filter(|v| usize::from(v.index) < LADDER.len());
    let (stalls, stalled_us, startups) = ladder
        .fold((0, 0, 0), |t, v| (t.0 + v.playback.stalls, t.1 + v.playback.stalled_us, t.2 + v.playback.startups));
    let totals = &played.snapshot.totals.playback;
    assert_eq!((stalls, stalled_us, startups), (totals.stalls, totals.stalled_us, totals.startups), "{totals:?}");
    assert!(played.snapshot.variants.iter().all(|v| v.watching == 0), "every viewer's playback ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_vod_a_download_that_would_outlast_the_buffer_is_abandoned_for_a_lower_variant() {
    // A 30 s VOD; from 3 s on the origin sends each response at 1 Mbit/s. A 5M segment (0.5 s, 312 kB)
    // then takes 2.5 s, longer than the 2 s a viewer buffers: the emergency rule abandons it for a lower
    // variant whose segment arrives in time, and the viewer fetches that segment from there.
    let mut config = ladder_origin();
    config.vod = Some(Duration::from_secs(30));
    config.faults.schedule = origin::parse_fault_schedule("3s:bandwidth=1Mbit").unwrap();
    let played = play_origin(config, VariantPolicy::Abr, NetworkPlan::default(), 2, 8).await;
    let run = &played.snapshot.windows.run;
    let abandoned = run.kinds[Kind::Segment].errors_by_class.get(ErrorClass::Abandoned);
    assert!(abandoned > 0, "no download abandoned: {:?}", run.kinds[Kind::Segment].errors_by_class);
    let totals = &played.snapshot.totals.playback;
    assert!(totals.switches_down > 0, "{totals:?}");
    // Each segment once and in order across variants (an abandoned one fetched again from the lower
    // variant) is checked by `play_origin`.
}
