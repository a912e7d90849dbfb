//! Origin metrics against real peers: Debian's prometheus-node-exporter, and prometheus-nginx-exporter
//! in front of a real nginx, each started here on a free loopback port and killed on drop. Also the
//! flags (`--origin-metrics-host` defaults, bad values exit 2 naming the flag) and the report's
//! `origin_metrics` object. The peers are installed by scripts/test.sh; without them these tests fail,
//! they do not skip.

mod common;

use common::peers::{self, Peer, free_port, program, scratch, start};

use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use hls_swarm::metrics::origin_view::OriginView;
use hls_swarm::metrics::{ScrapeConfig, spawn_scraper};
use tokio::sync::watch;
use url::Url;

fn node_exporter() -> (Peer, Url) {
    let port = free_port();
    let mut cmd = Command::new(program("prometheus-node-exporter"));
    cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let peer = start("prometheus-node-exporter", cmd, port, scratch("node-exporter"));
    (peer, Url::parse(&format!("http://127.0.0.1:{port}/metrics")).unwrap())
}

/// nginx with `stub_status` on a loopback port.
fn nginx() -> (Peer, u16) {
    peers::nginx("nginx", |port, _| {
        format!("  access_log off;\n  server {{ listen 127.0.0.1:{port}; location = /stub_status {{ stub_status; }} }}")
    })
}

fn nginx_exporter(nginx_port: u16) -> (Peer, Url) {
    let port = free_port();
    let mut cmd = Command::new(program("prometheus-nginx-exporter"));
    cmd.arg(format!("--nginx.scrape-uri=http://127.0.0.1:{nginx_port}/stub_status"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let peer = start("prometheus-nginx-exporter", cmd, port, scratch("nginx-exporter"));
    (peer, Url::parse(&format!("http://127.0.0.1:{port}/metrics")).unwrap())
}

/// Waits (20 s at most) for a published view that satisfies `ok`.
async fn wait_for(
    rx: &mut watch::Receiver<Arc<OriginView>>,
    what: &str,
    ok: impl Fn(&OriginView) -> bool,
) -> Arc<OriginView> {
    let wait = async {
        loop {
            let view = rx.borrow_and_update().clone();
            if ok(&view) {
                return view;
            }
            rx.changed().await.expect("the scraper is running");
        }
    };
    match tokio::time::timeout(Duration::from_secs(20), wait).await {
        Ok(view) => view,
        Err(_) => panic!("no view where {what} within 20 s; the last: {:#?}", rx.borrow()),
    }
}

#[tokio::test]
async fn node_and_nginx_exporters_give_sane_figures() {
    let (_node, node_url) = node_exporter();
    let (nginx, nginx_port) = nginx();
    let (_exporter, nginx_url) = nginx_exporter(nginx_port);
    let _held = TcpStream::connect(("127.0.0.1", nginx_port)).unwrap();
    let config = ScrapeConfig {
        node: Some(node_url),
        nginx: Some(nginx_url),
        interval: Duration::from_millis(500),
        window: Duration::from_secs(10),
    };
    let (tx, mut rx) = watch::channel(Arc::new(OriginView::default()));
    let task = spawn_scraper(config, None, tx, std::future::pending());
    let view = wait_for(&mut rx, "every figure is known, both sources fresh", |v| {
        let h = v.host.as_ref().is_some_and(|h| {
            h.cpu_percent.is_some() && h.net_rx_bytes_per_s.is_some() && h.source.last_ok_ago.is_some()
        });
        let n = v.nginx.as_ref().is_some_and(|n| n.requests_per_s.is_some() && !n.source.stale);
        h && n && !v.host.as_ref().unwrap().source.stale
    })
    .await;
    let host = view.host.as_ref().unwrap();
    assert_eq!(host.source.last_error, None, "no scrape failed");
    let cpu = host.cpu_percent.unwrap();
    assert!((0.0..=100.0).contains(&cpu.now) && cpu.p50 <= cpu.max, "{cpu:?}");
    let mem = host.memory_used_percent.unwrap().now;
    assert!(mem > 0.0 && mem < 100.0, "{mem}");
    assert!(host.net_rx_bytes_per_s.unwrap().now >= 0.0 && host.net_tx_bytes_per_s.unwrap().now >= 0.0);
    let n = view.nginx.as_ref().unwrap();
    assert!(n.active_connections.unwrap().now >= 1.0, "the held connection is active: {n:?}");
    // Each scrape of the exporter is a stub_status request to nginx.
    assert!(n.requests_per_s.unwrap().now > 0.0, "{n:?}");

    // nginx gone: the exporter answers nginx_up 0, the source is stale and keeps its figures.
    drop(nginx);
    let view = wait_for(&mut rx, "nginx is stale", |v| v.nginx.as_ref().is_some_and(|n| n.source.stale)).await;
    let n = view.nginx.as_ref().unwrap();
    assert!(n.source.last_error.as_deref().unwrap().contains("nginx_up 0"), "{:?}", n.source);
    assert!(n.active_connections.unwrap().now >= 1.0);
    assert!(view.host.as_ref().unwrap().memory_used_percent.is_some());
    task.abort();
}

#[test]
fn run_reports_origin_metrics_of_the_host_and_the_builtin_origin() {
    let (_node, node_url) = node_exporter();
    let dir = scratch("report");
    let path = dir.join("report.json");
    let cli = <hls_swarm::cli::Cli as clap::Parser>::parse_from([
        "hls-swarm",
        "run",
        "--clients",
        "2",
        "--duration",
        "3s",
        "--origin-metrics",
        node_url.as_str(),
        "--origin-metrics-interval",
        "500ms",
        "--report",
        path.to_str().unwrap(),
    ]);
    hls_swarm::run(cli).unwrap();
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let om = &report["origin_metrics"];
    assert_eq!(om["host"]["source"]["url"], node_url.as_str());
    assert_eq!(om["host"]["source"]["stale"], false);
    assert!(om["host"]["cpu_percent"]["now"].is_number(), "{om:#}");
    assert!(om["host"]["memory_used_percent"]["max"].is_number(), "{om:#}");
    assert!(om["builtin"]["requests_total"].as_u64().unwrap() > 0, "{om:#}");
    assert!(om["builtin"]["bytes_per_s"]["max"].as_f64().unwrap() > 0.0, "{om:#}");
    assert!(om.get("nginx").is_none());
    common::validate_report(&report);
}

fn scrape_config(args: &[&str]) -> Result<ScrapeConfig, String> {
    let cli = <hls_swarm::cli::Cli as clap::Parser>::try_parse_from(["hls-swarm", "run"].iter().chain(args))
        .map_err(|e| e.to_string())?;
    match cli.command {
        hls_swarm::cli::Command::Run(run) => {
            hls_swarm::settings::RunSettings::from_args(*run).map(|s| s.scrape).map_err(|e| e.to_string())
        }
        _ => unreachable!(),
    }
}

#[test]
fn origin_metrics_host_gives_both_default_ports_and_urls_override_them() {
    let c = scrape_config(&["--origin-metrics-host", "origin.example"]).unwrap();
    assert_eq!(c.node.unwrap().as_str(), "http://origin.example:9100/metrics");
    assert_eq!(c.nginx.unwrap().as_str(), "http://origin.example:9113/metrics");
    assert_eq!((c.interval, c.window), (Duration::from_secs(2), Duration::from_secs(30)));
    let c = scrape_config(&["--origin-metrics-host", "::1", "--nginx-metrics", "http://10.0.0.9:9999"]).unwrap();
    assert_eq!(c.node.unwrap().as_str(), "http://[::1]:9100/metrics");
    assert_eq!(c.nginx.unwrap().as_str(), "http://10.0.0.9:9999/metrics", "a URL without a path gets /metrics");
    let c = scrape_config(&[]).unwrap();
    assert!(c.node.is_none() && c.nginx.is_none());
    let err = scrape_config(&["--origin-metrics-interval", "5s", "--origin-metrics-window", "2s"]).unwrap_err();
    assert!(err.contains("--origin-metrics-window") && err.contains("--origin-metrics-interval"), "{err}");
}

#[test]
fn bad_origin_metrics_values_name_the_flag_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--origin-metrics", "localhost:9100"], "--origin-metrics"),
        (&["--origin-metrics", "ftp://h/metrics"], "--origin-metrics"),
        (&["--nginx-metrics", "not a url"], "--nginx-metrics"),
        (&["--origin-metrics-host", "h:9100"], "--origin-metrics-host"),
        (&["--origin-metrics-host", "h/metrics"], "--origin-metrics-host"),
        (&["--origin-metrics-host", ""], "--origin-metrics-host"),
        (&["--origin-metrics-interval", "10ms"], "--origin-metrics-interval"),
        (&["--origin-metrics-interval", "often"], "--origin-metrics-interval"),
        (&["--origin-metrics-window", "0"], "--origin-metrics-window"),
        (&["--origin-metrics-window", "1s", "--origin-metrics-interval", "2s"], "--origin-metrics-window"),
    ];
    for (args, flag) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm")).arg("run").args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: the message does not name {flag}: {err}");
    }
}
