//! LL-HLS end to end: the native engine against the built-in origin in low-latency mode (200 ms parts
//! in 1 s segments, three rungs, blocking reloads, preload hints, delta updates), over HTTP/1.1 and over
//! h2c. Each viewer fetches each part of its rendition once and in order (from a tap on every request),
//! its blocking reloads come about one per part, the hinted parts arrive, nothing stalls, it plays within
//! a few part targets of the live edge, and the report's counts per kind equal the origin's.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hls_swarm::engine::run_swarm;
use hls_swarm::hls::VariantPolicy;
use hls_swarm::net::NetworkPlan;
use hls_swarm::origin::{self, Container, LowLatency, OriginConfig, ServedKind, VariantSpec};
use hls_swarm::stats::{ErrorClass, Kind, Snapshot};
use hls_swarm::viewer::TapEvent;
use tokio::sync::watch;
use url::Url;

/// Viewers and seconds: 4 for 4 s in `cargo test`; the same checks at scale with
/// `LLHLS_VIEWERS=1000 LLHLS_SECONDS=60 cargo test --release --test swarm_llhls` (README).
fn scale() -> (u32, u64) {
    let get = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    (get("LLHLS_VIEWERS", 4) as u32, get("LLHLS_SECONDS", 4))
}

fn low_latency() -> OriginConfig {
    OriginConfig {
        variants: vec![
            VariantSpec { name: "240p".into(), height: 240, bitrate: 300_000 },
            VariantSpec { name: "360p".into(), height: 360, bitrate: 600_000 },
            VariantSpec { name: "480p".into(), height: 480, bitrate: 900_000 },
        ],
        segment_duration: Duration::from_secs(1),
        window: 6,
        container: Container::Fmp4,
        low_latency: Some(LowLatency { part_duration: Duration::from_millis(200) }),
        ..OriginConfig::local_default()
    }
}

/// (msn, part) of a part URL such as `/240p/part00042.3.m4s`.
fn part_position(url: &Url) -> Option<(u64, u64)> {
    let name = url.path().rsplit('/').next()?.strip_prefix("part")?.strip_suffix(".m4s")?;
    let (msn, part) = name.split_once('.')?;
    Some((msn.parse().ok()?, part.parse().ok()?))
}

/// Plays the low-latency origin with [`scale`]'s viewers and seconds; the taps, the final snapshot, and the
/// origin's (requests, bytes) and connections.
async fn play(h2c: bool) -> (Vec<TapEvent>, Arc<Snapshot>, BTreeMap<&'static str, (u64, u64)>, u64) {
    let (clients, secs) = scale();
    play_origin(low_latency(), h2c, VariantPolicy::First, NetworkPlan::default(), clients, secs, |_| {}).await
}

/// [`play`] against an origin of `config`, with a variant policy and a network, for `clients` and
/// `secs`; `check_variants` sees the origin's counters before it stops.
async fn play_origin(
    config: OriginConfig,
    h2c: bool,
    policy: VariantPolicy,
    network: NetworkPlan,
    clients: u32,
    secs: u64,
    check_variants: impl FnOnce(&origin::Counters),
) -> (Vec<TapEvent>, Arc<Snapshot>, BTreeMap<&'static str, (u64, u64)>, u64) {
    let origin = origin::spawn(config).await.unwrap();
    let url = Url::parse(&format!("{}master.m3u8", origin.url())).unwrap();
    let mut config = common::swarm_config(url, clients, Duration::from_secs(secs), 500.0, 2);
    config.viewer.policy = policy;
    config.viewer.network = network;
    let mut net = (*config.viewer.net).clone();
    net.h2_prior_knowledge = h2c;
    config.viewer.net = Arc::new(net);
    let taps = Arc::new(Mutex::new(Vec::new()));
    let sink = taps.clone();
    config.viewer.tap = Some(Arc::new(move |e: &TapEvent| sink.lock().unwrap().push(e.clone())));
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let snapshot = run_swarm(config, std::future::pending(), tx).await.snapshot;
    let c = origin.counters();
    let served = ServedKind::ALL.iter().map(|&k| (k.as_str(), (c.requests_all(k), c.body_bytes(k)))).collect();
    let connections = c.connections_total();
    check_variants(c);
    origin.shutdown().await;
    let taps = std::mem::take(&mut *taps.lock().unwrap());
    (taps, snapshot, served, connections)
}

fn check(h2c: bool, taps: &[TapEvent], snapshot: &Snapshot, served: &BTreeMap<&str, (u64, u64)>) {
    let run = &snapshot.windows.run;
    assert_eq!(run.errors, 0, "h2c {h2c}: {:?}", run.errors_by_class);
    // A part the viewer asks for from a preload hint is `preload_hint` to it; the origin counts it so if
    // the part did not exist yet when the request came (else `part`). A viewer that keeps up (it joined on
    // a fresh live edge, so a part's time is left to ask for the next) asks for every hinted part ahead.
    let mine = |k: Kind| (run.kinds[k].requests, run.kinds[k].bytes);
    for (kind, served) in served {
        let Some(k) = Kind::ALL.iter().find(|k| k.as_str() == *kind) else { continue };
        assert_eq!(mine(*k), *served, "h2c {h2c}: {kind} (requests, bytes)");
    }
    let (clients, secs) = scale();
    for viewer in 0..clients {
        let mine: Vec<&TapEvent> = taps.iter().filter(|t| t.viewer == viewer).collect();
        let parts: Vec<(u64, u64)> = mine
            .iter()
            .filter(|t| matches!(t.kind, Kind::Part | Kind::PreloadHint))
            .filter_map(|t| part_position(&t.url))
            .collect();
        assert!(parts.len() as u64 >= 3 * secs, "viewer {viewer}: {} parts in {secs} s of 200 ms parts", parts.len());
        assert!(parts.windows(2).all(|w| w[0] < w[1]), "viewer {viewer}: each part once and in order: {parts:?}");
        let blocking = mine.iter().filter(|t| t.kind == Kind::BlockingPlaylist).count() as f64;
        let ratio = blocking / parts.len() as f64;
        assert!((0.7..1.5).contains(&ratio), "viewer {viewer}: {blocking} blocking reloads for {} parts", parts.len());
        assert!(!mine.iter().any(|t| t.kind == Kind::Segment), "viewer {viewer}: no whole segment");
    }
    assert!(run.kinds[Kind::PreloadHint].ok > 0, "hinted parts answered");
    let playback = &run.playback;
    assert_eq!(playback.stalls, 0, "h2c {h2c}");
    let latency = playback.live_latency_ms.as_ref().expect("live latency sampled");
    // The part hold-back is three part targets (600 ms) from the live edge the viewer joined on (the
    // first blocking reload's, a part made that moment); the parts then arrive as they are made.
    assert!(latency.p50 < 600.0 + 50.0, "h2c {h2c}: live latency p50 {} ms: {latency:?}", latency.p50);
    assert!(latency.p50 >= 600.0, "h2c {h2c}: no closer than the hold-back: {latency:?}");
    assert!(playback.edge_distance_parts.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_part_once_in_order_with_blocking_reloads_and_hints_over_http1() {
    let (taps, snapshot, served, connections) = play(false).await;
    check(false, &taps, &snapshot, &served);
    // A track's parts on one connection, its held reloads on another.
    assert_eq!(connections, 2 * u64::from(scale().0), "two connections per viewer over HTTP/1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_over_h2c_on_one_connection_per_viewer() {
    let (taps, snapshot, served, connections) = play(true).await;
    check(true, &taps, &snapshot, &served);
    assert_eq!(connections, u64::from(scale().0), "one HTTP/2 connection per viewer");
}

/// Adaptive low-latency viewers (`--variant abr`): they start on the lowest rung (the default estimate),
/// sample each part, and climb; a switch goes through the rendition report (a blocking reload for the
/// part it names, answered at once) and goes on from the next part, so each part is fetched once and in
/// order across renditions, never a whole segment, and the per-variant counts equal the origin's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_viewers_switch_through_rendition_reports_part_by_part() {
    let (clients, secs) = (3, 5);
    let by_variant = Mutex::new(Vec::new());
    let (taps, snapshot, _, _) =
        play_origin(low_latency(), false, VariantPolicy::Abr, NetworkPlan::default(), clients, secs, |c| {
            for name in ["240p", "360p", "480p"] {
                let of = |k| (c.variant_requests(k, name), c.variant_body_bytes(k, name));
                let (part, hint) = (of(ServedKind::Part), of(ServedKind::PreloadHint));
                let mut seen = by_variant.lock().unwrap();
                seen.push((name, Kind::Part, part.0 + hint.0, part.1 + hint.1));
                let blocking = of(ServedKind::BlockingPlaylist);
                seen.push((name, Kind::BlockingPlaylist, blocking.0, blocking.1));
                let plain = of(ServedKind::MediaPlaylist);
                seen.push((name, Kind::MediaPlaylist, plain.0, plain.1));
            }
        })
        .await;
    let run = &snapshot.windows.run;
    assert_eq!(run.errors, 0, "{:?}", run.errors_by_class);
    assert!(snapshot.totals.playback.switches_up >= u64::from(clients), "{:?}", snapshot.totals.playback);
    assert_eq!(run.playback.stalls, 0, "a switch waits at most for the reload in flight: {:?}", run.playback);
    for viewer in 0..clients {
        let mine: Vec<&TapEvent> = taps.iter().filter(|t| t.viewer == viewer).collect();
        let parts: Vec<(u64, u64, String)> = mine
            .iter()
            .filter(|t| matches!(t.kind, Kind::Part | Kind::PreloadHint))
            .filter_map(|t| {
                let (msn, part) = part_position(&t.url)?;
                Some((msn, part, t.url.path().split('/').nth(1)?.to_owned()))
            })
            .collect();
        assert!(
            parts.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)),
            "viewer {viewer}: each part once and in order: {parts:?}"
        );
        assert!(!mine.iter().any(|t| t.kind == Kind::Segment), "viewer {viewer}: no whole segment");
        assert_eq!(parts.first().map(|p| p.2.as_str()), Some("240p"), "viewer {viewer} starts on the lowest");
        assert_eq!(parts.last().map(|p| p.2.as_str()), Some("480p"), "viewer {viewer} climbs to the top: {parts:?}");
        // Consecutive: a switch loses no part.
        for w in parts.windows(2) {
            let next_in_segment = w[1].0 == w[0].0 && w[1].1 == w[0].1 + 1;
            let next_segment = w[1].0 == w[0].0 + 1 && w[1].1 == 0;
            assert!(next_in_segment || next_segment, "viewer {viewer}: {:?} after {:?}: {parts:?}", w[1], w[0]);
        }
    }
    // Each variant's parts (and hinted parts, which the origin counts as parts once made), blocking and
    // plain playlist loads, as the origin counted them.
    for (name, kind, requests, bytes) in by_variant.into_inner().unwrap() {
        let index = ["240p", "360p", "480p"].iter().position(|n| *n == name).unwrap();
        let mine = snapshot.variants.iter().find(|v| usize::from(v.index) == index);
        let of = |k: Kind| mine.map_or((0, 0), |v| (v.kinds[k].requests, v.kinds[k].bytes));
        let ours = match kind {
            // A hinted part the origin had made by then is a part to it.
            Kind::Part => {
                let (p, h) = (of(Kind::Part), of(Kind::PreloadHint));
                (p.0 + h.0, p.1 + h.1)
            }
            other => of(other),
        };
        assert_eq!(ours, (requests, bytes), "{name} {kind:?}");
    }
}

/// The emergency rule on parts: adaptive viewers on the top rung when, from 4 s on, the origin sends each
/// response at 200 kbit/s. A 480p part (22.5 kB) would then take 0.9 s, longer than the buffer a
/// low-latency viewer keeps; a 240p one (7.5 kB) arrives in time. So a part in flight (or a hinted one,
/// judged from its head: the hold is the server's) is abandoned, the viewer switches down through the
/// rendition report and fetches that same part from the lower rung, and no part is skipped or fetched
/// twice otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_that_would_outlast_the_buffer_is_abandoned_and_fetched_from_a_lower_rung() {
    let mut config = low_latency();
    config.faults.schedule = origin::parse_fault_schedule("4s:bandwidth=200kbit").unwrap();
    let clients = 3;
    let (taps, snapshot, _, _) =
        play_origin(config, false, VariantPolicy::Abr, NetworkPlan::default(), clients, 8, |_| {}).await;
    let run = &snapshot.windows.run;
    let abandoned: u64 =
        [Kind::Part, Kind::PreloadHint].iter().map(|k| run.kinds[*k].errors_by_class.get(ErrorClass::Abandoned)).sum();
    assert!(abandoned > 0, "no part abandoned: {:?}", run.errors_by_class);
    assert!(snapshot.totals.playback.switches_down > 0, "{:?}", snapshot.totals.playback);
    let rung = |name: &str| ["240p", "360p", "480p"].iter().position(|n| *n == name);
    for viewer in 0..clients {
        let parts: Vec<((u64, u64), usize, bool)> = taps
            .iter()
            .filter(|t| t.viewer == viewer && matches!(t.kind, Kind::Part | Kind::PreloadHint))
            .filter_map(|t| Some((part_position(&t.url)?, rung(t.url.path().split('/').nth(1)?)?, t.ok)))
            .collect();
        let had: Vec<(u64, u64)> = parts.iter().filter(|p| p.2).map(|p| p.0).collect();
        assert!(had.windows(2).all(|w| w[0] < w[1]), "viewer {viewer}: each part once and in order: {parts:?}");
        for (i, (at, from, _)) in parts.iter().enumerate().filter(|(_, p)| !p.2) {
            if let Some((next, below, _)) = parts.get(i + 1) {
                assert!(
                    next == at && below < from,
                    "viewer {viewer}: an abandoned part comes next from below: {parts:?}"
                );
            }
        }
    }
}
