//! The FFmpeg engine against each of the origin's stream forms (fMP4, AES-128 with a key change
//! during the run, an audio rendition, byte ranges): the real binary runs Debian's FFmpeg through its
//! measuring proxy, and the report's requests and bytes per kind equal what the origin served, so the
//! proxy told init sections, keys, segments and playlists apart as the origin did. ffmpeg is installed
//! by scripts/test.sh; without it these tests fail, they do not skip.
//!
//! Debian's FFmpeg 5.1 fetches a key with the Range of the segment it is for; the origin answers a key
//! whole whatever Range is asked (a 416 would fail FFmpeg's stream), and keys with byte ranges are
//! checked too.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hls_swarm::origin::{self, Container, Counters, Encryption, LowLatency, OriginConfig, ServedKind, VariantSpec};

/// Two small variants of 1 s segments, live.
fn live() -> OriginConfig {
    OriginConfig {
        variants: vec![
            VariantSpec { name: "360p".into(), height: 360, bitrate: 300_000 },
            VariantSpec { name: "720p".into(), height: 720, bitrate: 600_000 },
        ],
        segment_duration: Duration::from_secs(1),
        window: 6,
        ..OriginConfig::local_default()
    }
}

/// Runs 2 FFmpeg viewers of `variant` against an origin of `config` for 4 s, then checks the report
/// against the origin's counters, kind by kind; `expected` must have been requested at all. Returns
/// the counters and the report.
fn play_and_compare(
    name: &str,
    config: OriginConfig,
    variant: &str,
    expected: &[ServedKind],
) -> (Arc<Counters>, serde_json::Value, String) {
    let ffmpeg = Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    assert!(ffmpeg.is_ok_and(|s| s.success()), "ffmpeg is not installed: run scripts/test.sh");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let origin = rt.block_on(origin::spawn(config)).unwrap();
    let dir = std::env::temp_dir().join(format!("hls-swarm-ffmpeg-form-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report_path = dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["run", &format!("{}master.m3u8", origin.url()), "--engine", "ffmpeg", "--variant", variant])
        .args(["--clients", "2", "--ramp-rate", "10", "--duration", "4s", "--no-tui", "--metrics-addr", "none"])
        .arg("--report")
        .arg(&report_path)
        .output()
        .expect("run hls-swarm");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let written = std::fs::read(&report_path);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{name}: hls-swarm ended with {:?}\n{log}", out.status);
    let report: serde_json::Value = serde_json::from_slice(&written.expect("report written")).unwrap();
    common::validate_report(&report);
    let c = origin.counters();
    for kind in ServedKind::ALL {
        let reported = &report["requests"][kind.as_str()];
        let (count, bytes) = (reported["count"].as_u64().unwrap_or(0), reported["bytes"].as_u64().unwrap_or(0));
        let served = (c.requests_all(kind), c.body_bytes(kind));
        assert_eq!((count, bytes), served, "{name}: {} (requests, bytes)\n{report:#}\n{log}", kind.as_str());
    }
    for kind in expected {
        assert!(c.requests_all(*kind) > 0, "{name}: no {} request\n{log}", kind.as_str());
    }
    let errors: u64 = report["errors"].as_object().unwrap().values().filter_map(|v| v.as_u64()).sum();
    assert_eq!(errors, 0, "{name}: errors {}\n{log}", report["errors"]);
    let c = c.clone();
    rt.block_on(origin.shutdown());
    (c, report, log)
}

const PLAYED: [ServedKind; 3] = [ServedKind::Multivariant, ServedKind::MediaPlaylist, ServedKind::Segment];

#[test]
fn fmp4_init_sections_are_counted_as_init() {
    let config = OriginConfig { container: Container::Fmp4, ..live() };
    play_and_compare("fmp4", config, "first", &[PLAYED.as_slice(), &[ServedKind::Init]].concat());
}

#[test]
fn aes128_keys_are_counted_as_keys_across_a_rotation() {
    // A new key every 2 segments: FFmpeg starts 3 segments from the live edge, so each viewer needs two
    // keys at once, and more as the 4 s go by.
    let config = OriginConfig { encryption: Some(Encryption { key_rotation: 2 }), ..live() };
    let (c, _, _) = play_and_compare("aes128", config, "first", &[PLAYED.as_slice(), &[ServedKind::Key]].concat());
    assert!(c.requests_all(ServedKind::Key) >= 2 * 2, "each viewer changed keys: {}", c.encode());
}

#[test]
fn the_audio_rendition_is_played_and_counted_with_every_variant() {
    let config = OriginConfig { audio_rendition: true, ..live() };
    let (c, report, _) = play_and_compare("audio", config, "all", &PLAYED);
    for played in ["360p", "720p", "audio"] {
        for kind in [ServedKind::MediaPlaylist, ServedKind::Segment] {
            assert!(c.variant_requests(kind, played) > 0, "{played} played: {}", c.encode());
        }
    }
    // The proxy counts the rendition's requests as the native engine does, under GROUP/NAME.
    let variants = report["variants"].as_array().unwrap();
    let audio = variants.iter().find(|v| v["label"] == "aud/English").expect("the audio rendition's row");
    assert_eq!(audio["type"], "audio");
    for kind in [ServedKind::MediaPlaylist, ServedKind::Segment] {
        let count = audio["requests"][kind.as_str()]["count"].as_u64();
        assert_eq!(count, Some(c.variant_requests(kind, "audio")), "{}: {audio:#}", kind.as_str());
    }
}

#[test]
fn byte_ranges_are_counted_as_segments() {
    let config = OriginConfig { byterange: Some(3), ..live() };
    play_and_compare("byterange", config, "first", &PLAYED);
}

#[test]
fn keys_with_byte_ranges() {
    let config = OriginConfig { byterange: Some(3), encryption: Some(Encryption { key_rotation: 2 }), ..live() };
    play_and_compare("aes128-byterange", config, "first", &[PLAYED.as_slice(), &[ServedKind::Key]].concat());
}

#[test]
fn ll_hls_is_played_as_regular_live_and_said_once() {
    let config = OriginConfig {
        low_latency: Some(LowLatency { part_duration: Duration::from_millis(200) }),
        container: Container::Fmp4,
        ..live()
    };
    let (c, _, log) = play_and_compare("llhls", config, "first", &[PLAYED.as_slice(), &[ServedKind::Init]].concat());
    assert_eq!(log.matches("is LL-HLS").count(), 1, "said once:\n{log}");
    assert_eq!(c.requests_all(ServedKind::Part), 0, "FFmpeg asks for no part");
}
