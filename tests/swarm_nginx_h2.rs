//! `--http2` against a real HTTP/2 server: Debian's nginx terminating TLS with `http2` in front of the
//! in-process origin. The run is the binary as a user runs it. nginx's access log says which protocol and
//! which connection each request came on; the origin's counters say what reached it. nginx is installed
//! by scripts/test.sh; without it this test fails, it does not skip.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::peers::{Peer, free_port, program, scratch, start};
use hls_swarm::origin::{self, OriginConfig, ServedKind, VariantSpec};

/// nginx with TLS (a self-signed certificate for `localhost`) and HTTP/2 on a free port, proxying to
/// `upstream` over kept-alive HTTP/1.1. Its access log has one line a request:
/// `<protocol> <connection serial> <uri> <status>`.
fn nginx_h2(upstream: std::net::SocketAddr) -> (Peer, u16) {
    let port = free_port();
    let dir = scratch("nginx-h2");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let p = dir.display();
    let conf = format!(
        "master_process off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  log_format proto '$server_protocol $connection $request_uri $status';\n  \
         access_log {p}/access.log proto;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  \
         fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  \
         upstream origin {{ server {upstream}; keepalive 16; }}\n  \
         server {{\n    listen 127.0.0.1:{port} ssl http2;\n    ssl_certificate {p}/cert.pem;\n    \
         ssl_certificate_key {p}/key.pem;\n    location / {{ proxy_pass http://origin; proxy_http_version 1.1; \
         proxy_set_header Connection \"\"; }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut cmd = Command::new(program("nginx"));
    cmd.arg("-e").arg(dir.join("error.log")).arg("-c").arg(dir.join("nginx.conf")).arg("-p").arg(&dir);
    cmd.args(["-g", "daemon off;"]);
    (start("nginx", cmd, port, dir), port)
}

#[test]
fn http2_run_through_nginx_counts_what_the_origin_served() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let origin = rt
        .block_on(origin::spawn(OriginConfig {
            variants: vec![VariantSpec { name: "240p".into(), height: 240, bitrate: 300_000 }],
            segment_duration: Duration::from_millis(500),
            window: 6,
            ..OriginConfig::local_default()
        }))
        .unwrap();
    let (nginx, port) = nginx_h2(origin.addr());
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

    let log = std::fs::read_to_string(nginx.dir.join("access.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len() as u64, total, "nginx logged a request the report does not count, or the reverse");
    assert!(lines.iter().all(|l| l.starts_with("HTTP/2.0 ")), "a request was not HTTP/2:\n{log}");
    let connections: BTreeSet<&str> = lines.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(connections.len(), 4 + 1, "one HTTP/2 connection per viewer and the preflight's:\n{log}");
    assert_eq!(report["connections"]["opened"].as_u64(), Some(5), "{:#}", report["connections"]);
    assert_eq!(report["connections"]["tls_ms"]["count"].as_u64(), Some(5), "{:#}", report["connections"]);
    drop(nginx);
    rt.block_on(origin.shutdown());
}
