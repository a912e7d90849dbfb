//! The native engine on each of the built-in origin's stream forms (fMP4, an audio rendition, byte
//! ranges, rotating AES-128 keys checked by decryption, and all at once), run as a user runs it: the
//! report's requests and bytes per kind equal what the origin says it served, each viewer's init
//! sections and keys are asked for once each, and nothing failed or stalled. A low-latency origin with
//! `--low-latency off` is played as regular HLS, by its whole segments (tests/swarm_llhls.rs plays it by
//! its parts).

mod common;

use std::time::Duration;

use hls_swarm::origin::{self, Container, Encryption, LowLatency, OriginConfig, ServedKind, VariantSpec};

const CLIENTS: u64 = 3;

fn live(set: impl FnOnce(&mut OriginConfig)) -> OriginConfig {
    let mut config = OriginConfig {
        segment_duration: Duration::from_millis(500),
        window: 6,
        variants: vec![VariantSpec { name: "360p".into(), height: 360, bitrate: 600_000 }],
        ..OriginConfig::local_default()
    };
    set(&mut config);
    config
}

/// Runs the binary's `run` in-process against an origin of `config` for 3 s; the report, and the
/// origin's counters as (requests, body bytes) per kind.
fn play(name: &str, config: OriginConfig, extra: &[&str]) -> (serde_json::Value, Served) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let origin = rt.block_on(origin::spawn(config)).unwrap();
    let url = format!("{}master.m3u8", origin.url());
    let dir = std::env::temp_dir().join(format!("hls-swarm-forms-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report.json");
    let clients = CLIENTS.to_string();
    let args = ["hls-swarm", "run", &url, "--clients", &clients, "--ramp-rate", "50", "--duration", "3s"];
    let tail = ["--metrics-addr", "none", "--report", path.to_str().unwrap()];
    let cli = <hls_swarm::cli::Cli as clap::Parser>::parse_from(args.iter().chain(extra).chain(&tail));
    hls_swarm::run(cli).unwrap();
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    common::validate_report(&report);
    let _ = std::fs::remove_dir_all(&dir);
    let c = origin.counters();
    let served = KINDS.map(|kind| (c.requests_all(kind), c.body_bytes(kind)));
    (report, Served(served))
}

const KINDS: [ServedKind; 8] = [
    ServedKind::Multivariant,
    ServedKind::MediaPlaylist,
    ServedKind::Segment,
    ServedKind::Init,
    ServedKind::Key,
    ServedKind::Part,
    ServedKind::PreloadHint,
    ServedKind::BlockingPlaylist,
];

/// What the origin served: (requests, body bytes) per kind of [`KINDS`].
struct Served([(u64, u64); 8]);

impl Served {
    fn get(&self, kind: ServedKind) -> (u64, u64) {
        self.0[KINDS.iter().position(|k| *k == kind).unwrap()]
    }
}

/// The report's (requests, bytes) of `kind`, 0 when it has none.
fn reported(report: &serde_json::Value, kind: &str) -> (u64, u64) {
    let k = &report["requests"][kind];
    (k["count"].as_u64().unwrap_or(0), k["bytes"].as_u64().unwrap_or(0))
}

fn check(name: &str, report: &serde_json::Value, served: &Served) {
    for kind in KINDS {
        assert_eq!(reported(report, kind.as_str()), served.get(kind), "{name}: {} requests and bytes", kind.as_str());
    }
    let errors = report["errors"].as_object().unwrap();
    assert!(errors.values().all(|n| n == 0), "{name}: {errors:?}");
    assert_eq!(report["playback"]["stall_count"], 0, "{name}");
    assert_eq!(report["clients"]["restarts"], 0, "{name}");
    assert!(reported(report, "segment").0 >= CLIENTS * 4, "{name}: segments played");
}

#[test]
fn fmp4_asks_for_each_init_section_once_per_viewer() {
    let (report, served) = play("fmp4", live(|c| c.container = Container::Fmp4), &[]);
    check("fmp4", &report, &served);
    assert_eq!(reported(&report, "init").0, CLIENTS, "one init section, once per viewer");
}

#[test]
fn an_audio_rendition_is_played_and_counted_under_its_own_name() {
    let (report, served) = play("audio", live(|c| c.audio_rendition = true), &[]);
    check("audio", &report, &served);
    let variants = report["variants"].as_array().unwrap();
    let audio = variants.iter().find(|v| v["type"] == "audio").expect("an audio rendition in the report");
    assert_eq!((audio["group"].as_str(), audio["name"].as_str()), (Some("aud"), Some("English")), "{audio:#}");
    assert_eq!(audio["label"], "aud/English");
    let loads = audio["requests"]["media_playlist"]["count"].as_u64().unwrap();
    assert!(loads >= CLIENTS, "each viewer loads the audio playlist, then reloads it: {audio:#}");
    assert!(audio["segments"]["downloaded"].as_u64().unwrap() >= CLIENTS * 4, "{audio:#}");
    assert!(report["playback"]["startup_ms"].is_object(), "playback started with video and audio");
}

#[test]
fn byte_ranges_are_asked_as_ranges() {
    let (report, served) = play("byterange", live(|c| c.byterange = Some(3)), &[]);
    check("byterange", &report, &served);
}

#[test]
fn rotating_keys_decrypt_to_media() {
    let encrypted = live(|c| c.encryption = Some(Encryption { key_rotation: 2 }));
    let (report, served) = play("aes", encrypted, &["--decrypt-check"]);
    check("aes", &report, &served);
    let keys = reported(&report, "key").0;
    // 3 s of 0.5 s segments under keys of two segments: each viewer meets at least three keys, and
    // asks for each once (a wrong key would be a key error and a second request).
    assert!(keys >= CLIENTS * 3, "{keys} key requests");
    assert_eq!(reported(&report, "key").1, keys * 16);
}

#[test]
fn every_form_at_once() {
    let all = live(|c| {
        c.container = Container::Fmp4;
        c.audio_rendition = true;
        c.byterange = Some(4);
        c.encryption = Some(Encryption { key_rotation: 4 });
    });
    let (report, served) = play("all", all, &["--decrypt-check"]);
    check("all", &report, &served);
    assert_eq!(reported(&report, "init").0, 2 * CLIENTS, "video and audio init sections, once per viewer");
}

#[test]
fn a_low_latency_origin_with_low_latency_off_is_played_by_its_whole_segments() {
    let low_latency = live(|c| {
        c.container = Container::Fmp4;
        c.audio_rendition = true;
        c.low_latency = Some(LowLatency { part_duration: Duration::from_millis(100) });
    });
    let (report, served) = play("ll", low_latency, &["--audio", "default", "--low-latency", "off"]);
    check("ll", &report, &served);
    assert_eq!(report["warnings"]["playlist"], 0, "the low-latency tags read without a leniency");
    for kind in [ServedKind::Part, ServedKind::PreloadHint, ServedKind::BlockingPlaylist] {
        assert_eq!(served.get(kind), (0, 0), "{}: --low-latency off follows no parts", kind.as_str());
    }
}
