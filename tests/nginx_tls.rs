//! Runs over TLS against a real server: Debian's nginx terminating TLS (and, for `--http2`, HTTP/2) in
//! front of the in-process origin. The runs are the binary as a user runs it. nginx's access log says
//! which protocol and which connection each request came on and what it sent; the origin's counters say
//! what reached it. nginx and ffmpeg are installed by scripts/test.sh; without them these tests fail,
//! they do not skip.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::peers::{Peer, nginx, program};
use hls_swarm::origin::{self, OriginConfig, ServedKind, VariantSpec};

/// nginx with TLS (a self-signed certificate for `localhost`), and HTTP/2 with `http2`, on a free port,
/// proxying to `upstream` over kept-alive HTTP/1.1. Its access log has one line a request:
/// `<protocol> <connection serial> <uri> <status> <bytes sent>`.
fn nginx_tls(upstream: std::net::SocketAddr, http2: bool) -> (Peer, u16) {
    let http2 = if http2 { " http2" } else { "" };
    nginx("nginx-tls", |port, dir| {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
        let p = dir.display();
        format!(
            "  log_format proto '$server_protocol $connection $request_uri $status $bytes_sent';\n  \
             access_log {p}/access.log proto;\n  \
             upstream origin {{ server {upstream}; keepalive 16; }}\n  \
             server {{\n    listen 127.0.0.1:{port} ssl{http2};\n    ssl_certificate {p}/cert.pem;\n    \
             ssl_certificate_key {p}/key.pem;\n    location / {{ proxy_pass http://origin; proxy_http_version 1.1; \
             proxy_set_header Connection \"\"; }}\n  }}"
        )
    })
}

fn origin(rt: &tokio::runtime::Runtime, segment: Duration) -> hls_swarm::origin::OriginHandle {
    rt.block_on(origin::spawn(OriginConfig {
        variants: vec![VariantSpec { name: "240p".into(), height: 240, bitrate: 300_000 }],
        segment_duration: segment,
        window: 6,
        ..OriginConfig::local_default()
    }))
    .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// nginx's access log: one `(protocol, connection, uri, status, bytes sent)` a request.
fn access_log(nginx: &Peer) -> Vec<(String, String, String, u16, u64)> {
    let log = std::fs::read_to_string(nginx.dir.join("access.log")).unwrap();
    log.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0].into(), f[1].into(), f[2].into(), f[3].parse().unwrap(), f[4].parse().unwrap())
        })
        .collect()
}

#[test]
fn http2_run_through_nginx_counts_what_the_origin_served() {
    let rt = runtime();
    let origin = origin(&rt, Duration::from_millis(500));
    let (nginx, port) = nginx_tls(origin.addr(), true);
    let report_path = nginx.dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["run", &format!("https://localhost:{port}/master.m3u8"), "--http2"])
        .args(["--resolve", "127.0.0.1", "--insecure", "--dangerous"])
        .args(["--clients", "4", "--ramp-rate", "50", "--duration", "3s", "--metrics-addr", "none"])
        .arg("--report")
        .arg(&report_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("answered over HTTP/2"), "the run does not say it got HTTP/2: {stderr}");

    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    common::validate_report(&report);
    let errors: u64 = report["errors"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(errors, 0, "{:#}", report["errors"]);
    let c = origin.counters();
    let mut total = 0;
    for (kind, served) in [
        ("multivariant", ServedKind::Multivariant),
        ("media_playlist", ServedKind::MediaPlaylist),
        ("segment", ServedKind::Segment),
    ] {
        let count = report["requests"][kind]["count"].as_u64().unwrap();
        assert_eq!(count, c.requests_all(served), "{kind} count");
        assert_eq!(report["requests"][kind]["bytes"].as_u64().unwrap(), c.body_bytes(served), "{kind} bytes");
        total += count;
    }
    assert!(report["segments"]["downloaded"].as_u64().unwrap() >= 4 * 3, "{:#}", report["segments"]);

    let log = access_log(&nginx);
    assert_eq!(log.len() as u64, total, "nginx logged a request the report does not count, or the reverse");
    assert!(log.iter().all(|l| l.0 == "HTTP/2.0"), "a request was not HTTP/2:\n{log:?}");
    let connections: BTreeSet<&str> = log.iter().map(|l| l.1.as_str()).collect();
    assert_eq!(connections.len(), 4 + 1, "one HTTP/2 connection per viewer and the preflight's:\n{log:?}");
    assert_eq!(report["connections"]["opened"].as_u64(), Some(5), "{:#}", report["connections"]);
    assert_eq!(report["connections"]["tls_ms"]["count"].as_u64(), Some(5), "{:#}", report["connections"]);
    drop(nginx);
    rt.block_on(origin.shutdown());
}

/// The FFmpeg engine over https: FFmpeg tunnels through the measuring proxy (CONNECT), which sees each
/// tunnel, not the requests inside. Each tunnel is counted once, with the encrypted bytes the origin
/// sent, and a player closing its own end (FFmpeg does, and it is stopped at the end) is no error.
#[test]
fn ffmpeg_over_https_counts_each_tunnel_and_no_false_errors() {
    let rt = runtime();
    let origin = origin(&rt, Duration::from_secs(1));
    let (nginx, port) = nginx_tls(origin.addr(), false);
    let report_path = nginx.dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["run", &format!("https://localhost:{port}/master.m3u8"), "--engine", "ffmpeg"])
        .arg("--ffmpeg")
        .arg(program("ffmpeg"))
        .args(["--insecure", "--dangerous", "--clients", "2", "--ramp-rate", "10", "--duration", "6s"])
        .args(["--metrics-addr", "none", "--report"])
        .arg(&report_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    common::validate_report(&report);
    let errors: u64 = report["errors"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(errors, 0, "{:#}\n{stderr}", report["errors"]);

    let log = access_log(&nginx);
    let tunnels = &report["requests"]["other"];
    let count = tunnels["count"].as_u64().unwrap();
    assert!(count >= 2, "one tunnel per FFmpeg at least: {tunnels:#}");
    assert_eq!(tunnels["ok"].as_u64(), Some(count), "{tunnels:#}");
    // Every connection nginx saw is the preflight's or a tunnel, each counted once with its setup.
    let connections: BTreeSet<&str> = log.iter().map(|l| l.1.as_str()).collect();
    assert_eq!(connections.len() as u64, count + 1, "{log:?}");
    assert_eq!(report["connections"]["opened"].as_u64(), Some(count + 1), "{:#}", report["connections"]);
    // What the tunnels carried from nginx: its HTTP responses, encrypted. TLS adds record headers and
    // tags (under 1 %) and a handshake (a few KB) per tunnel, never less than the plaintext.
    let preflight = log.iter().find(|l| l.2 == "/master.m3u8").map(|l| l.4).unwrap();
    let plaintext: u64 = log.iter().map(|l| l.4).sum::<u64>() - preflight;
    let carried = tunnels["bytes"].as_u64().unwrap();
    assert!(
        carried >= plaintext && carried <= plaintext + plaintext / 50 + count * 8192,
        "tunnels carried {carried} bytes for {plaintext} bytes of responses"
    );
    assert!(log.iter().filter(|l| l.2.ends_with(".ts")).count() >= 2 * 3, "segments played: {log:?}");
    drop(nginx);
    rt.block_on(origin.shutdown());
}
