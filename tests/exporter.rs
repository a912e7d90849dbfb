//! The Prometheus endpoint end to end: scraped during a real swarm against the in-process origin, the
//! `--metrics-addr` rules, and the `run` command's wiring.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Client;
use hls_swarm::engine::{SwarmConfig, run_swarm};
use hls_swarm::live::{LiveFeed, RunInfo};
use hls_swarm::metrics::exporter::{self, Binding, MetricsAddr};
use hls_swarm::metrics::origin_view::OriginView;
use hls_swarm::origin::{self, OriginConfig};
use hls_swarm::stats::Snapshot;
use tokio::net::TcpListener;
use tokio::sync::watch;
use url::Url;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A parsed exposition: each series (`name{labels}`) with its family's type and its value.
struct Parsed {
    series: BTreeMap<String, (String, f64)>,
}

/// Parses a 0.0.4 exposition strictly enough to catch format slips: every sample belongs to the
/// family of the `# TYPE` line before it, and every value is a number.
fn parse(text: &str) -> Parsed {
    let mut series = BTreeMap::new();
    let mut family: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
            assert!(["counter", "gauge", "histogram", "summary"].contains(&kind), "{line}");
            family = Some((name.to_owned(), kind.to_owned()));
            continue;
        }
        if line.starts_with('#') {
            assert!(line.starts_with("# HELP hls_swarm_"), "{line}");
            continue;
        }
        let (key, value) = line.rsplit_once(' ').expect("sample: series value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let name = key.split('{').next().unwrap();
        let (fam, kind) = family.as_ref().unwrap_or_else(|| panic!("sample before any # TYPE: {line}"));
        let suffix = name.strip_prefix(fam.as_str()).unwrap_or_else(|| panic!("{line} is not in family {fam}"));
        assert!(["", "_bucket", "_sum", "_count"].contains(&suffix), "{line} in family {fam}");
        assert!(series.insert(key.to_owned(), (kind.clone(), value)).is_none(), "duplicate series {key}");
    }
    Parsed { series }
}

impl Parsed {
    fn get(&self, key: &str) -> f64 {
        self.series.get(key).unwrap_or_else(|| panic!("no series {key}")).1
    }

    /// Series that may only grow: counters, and histograms' and summaries' buckets, sums, counts.
    /// Every one of them stays (a gauge may vanish: a window without segments has no throughput).
    fn monotonic(&self) -> impl Iterator<Item = (&String, f64)> {
        self.series.iter().filter_map(|(key, (kind, value))| {
            let cumulative = match kind.as_str() {
                "counter" | "histogram" => true,
                "summary" => !key.contains("quantile="),
                _ => false,
            };
            cumulative.then_some((key, *value))
        })
    }

    fn sum(&self, prefix: &str) -> f64 {
        self.series.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, (_, v))| v).sum()
    }
}

fn run_info(target: &str, clients: u32) -> RunInfo {
    RunInfo {
        target: target.to_owned(),
        engine: "native",
        clients_target: clients,
        duration: Some(Duration::from_secs(4)),
        ramp_rate: 50.0,
        started: Instant::now(),
        started_at: std::time::SystemTime::UNIX_EPOCH,
        ladder: Vec::new(),
    }
}

fn swarm_config(url: Url, clients: u32, duration: Duration) -> SwarmConfig {
    common::swarm_config(url, clients, duration, 50.0, 2)
}

/// Scrapes once per new snapshot while the swarm runs, then once more after it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_during_a_run_only_grow_and_end_at_the_final_snapshot() {
    let config =
        OriginConfig { segment_duration: Duration::from_millis(500), window: 6, ..OriginConfig::local_default() };
    let origin = origin::spawn(config).await.unwrap();
    let url = Url::parse(origin.url()).unwrap().join("master.m3u8").unwrap();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::empty()));
    let (_origin_tx, origin_rx) = watch::channel(Arc::new(OriginView::default()));
    let feed = LiveFeed { info: Arc::new(run_info(url.as_str(), 20)), snapshots: snap_rx.clone(), origin: origin_rx };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = exporter::spawn(listener, feed).unwrap();
    let addr = handle.addr();
    let scraper = tokio::spawn(async move {
        let mut client = Client::connect(addr).await;
        let (mut rx, mut scrapes, mut slowest) = (snap_rx, Vec::new(), Duration::ZERO);
        while rx.changed().await.is_ok() {
            rx.borrow_and_update();
            let started = Instant::now();
            let resp = client.get("/metrics").await;
            slowest = slowest.max(started.elapsed());
            assert_eq!(resp.status, 200);
            assert_eq!(resp.headers["content-type"], CONTENT_TYPE);
            scrapes.push(resp.text());
        }
        (scrapes, slowest)
    });
    let outcome =
        run_swarm(swarm_config(url.clone(), 20, Duration::from_secs(4)), std::future::pending(), snap_tx).await;
    let (scrapes, slowest) = scraper.await.unwrap();
    eprintln!("{} scrapes during the run, slowest {slowest:?}", scrapes.len());
    assert!(scrapes.len() >= 4, "only {} scrapes", scrapes.len());
    let parsed: Vec<Parsed> = scrapes.iter().map(|s| parse(s)).collect();
    for pair in parsed.windows(2) {
        for (key, before) in pair[0].monotonic() {
            let after = pair[1].get(key);
            assert!(after >= before, "{key} went down from {before} to {after}");
        }
    }
    let mid = &parsed[parsed.len() / 2];
    assert_eq!(
        mid.get(&format!(
            "hls_swarm_info{{version=\"{}\",target=\"{url}\",engine=\"native\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    assert_eq!(mid.get("hls_swarm_clients_target"), 20.0);
    assert!(mid.sum("hls_swarm_requests_total{kind=\"segment\",variant=\"") > 0.0, "segments by variant");
    assert!(mid.get("hls_swarm_segment_throughput_bytes_per_second{window=\"30s\",quantile=\"0.5\"}") > 0.0);
    assert_eq!(mid.get("hls_swarm_ramp_progress"), 1.0, "20 viewers at 50/s have all started");

    // The run is over: the endpoint serves the final snapshot until it is shut down.
    let mut client = Client::connect(addr).await;
    let last = parse(&client.get("/metrics").await.text());
    let s = &outcome.snapshot;
    assert_eq!(last.sum("hls_swarm_requests_total{"), s.totals.requests() as f64);
    assert_eq!(last.sum("hls_swarm_bytes_total{"), s.totals.bytes() as f64);
    let ok_segments = s.totals.segments_downloaded() as f64;
    assert_eq!(last.get("hls_swarm_request_duration_seconds_count{kind=\"segment\"}"), ok_segments);
    assert_eq!(last.get("hls_swarm_request_duration_seconds_bucket{kind=\"segment\",le=\"+Inf\"}"), ok_segments);
    assert_eq!(last.get("hls_swarm_clients_active"), 0.0);
    assert_eq!(last.get("hls_swarm_startup_seconds_count"), s.playback().startups as f64);

    let health = client.get("/healthz").await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));
    assert_eq!(client.get("/nothing").await.status, 404);
    let post = client.request("POST", "/metrics", &[]).await;
    assert_eq!((post.status, &post.headers["allow"]), (405, &"GET, HEAD".parse::<http::HeaderValue>().unwrap()));
    let head = client.request("HEAD", "/metrics", &[]).await;
    assert!(head.status == 200 && head.body.is_empty());
    drop(client);
    handle.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still listening after shutdown");
    origin.shutdown().await;
}

#[tokio::test]
async fn a_taken_default_is_skipped_but_a_taken_explicit_address_is_an_error() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    match exporter::bind(None, addr).await.unwrap() {
        Binding::DefaultUnavailable { addr: a, .. } => assert_eq!(a, addr),
        other => panic!("expected the default to be skipped, got {other:?}"),
    }
    let err = exporter::bind(Some(MetricsAddr::At(addr)), exporter::DEFAULT_ADDR).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("--metrics-addr") && message.contains(&addr.to_string()), "{message}");
    assert!(matches!(exporter::bind(Some(MetricsAddr::Off), addr).await.unwrap(), Binding::Off));
    let free: SocketAddr = "127.0.0.1:0".parse().unwrap();
    assert!(matches!(exporter::bind(Some(MetricsAddr::At(free)), addr).await.unwrap(), Binding::Listening(_)));
}

fn hls_swarm(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm")).args(args).output().expect("run the binary");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn run_with_a_taken_metrics_addr_does_not_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err) = hls_swarm(&["run", "--duration", "1s", "--metrics-addr", &addr]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--metrics-addr") && err.contains(&addr), "{err}");
    assert!(!err.contains("built-in origin"), "the run started anyway: {err}");
}

#[test]
fn run_goes_on_when_the_default_metrics_port_is_taken() {
    // Held here, or already held by someone else: either way the default is taken.
    let _held = std::net::TcpListener::bind(exporter::DEFAULT_ADDR);
    let (code, err) = hls_swarm(&["run", "--duration", "1s", "--clients", "1", "--ramp-rate", "10"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no metrics endpoint") && err.contains("17091"), "{err}");
}

/// The `run` command's wiring: the endpoint named on stderr serves the run's figures.
#[test]
fn run_serves_metrics_on_the_given_address() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["run", "--duration", "3s", "--clients", "3", "--ramp-rate", "10", "--metrics-addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let addr: SocketAddr = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no metrics line on stderr: {seen}");
        seen.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("hls-swarm: Prometheus metrics at http://") {
            break rest.trim_end_matches("/metrics").parse().unwrap();
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Polls until the first tick's snapshot is served.
    let (text, parsed) = rt.block_on(async {
        let mut client = Client::connect(addr).await;
        loop {
            let text = client.get("/metrics").await.text();
            let parsed = parse(&text);
            if parsed.get("hls_swarm_elapsed_seconds") > 0.0 {
                break (text, parsed);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    assert_eq!(parsed.get("hls_swarm_clients_target"), 3.0);
    assert!(text.contains("engine=\"native\"") && text.contains("master.m3u8"), "{text}");
    assert!(parsed.get("hls_swarm_elapsed_seconds") >= 1.0);
    let _ = std::io::copy(&mut stderr, &mut std::io::sink());
    assert!(child.wait().unwrap().success());
}
