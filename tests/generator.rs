//! The generator's own limits: a viewer thread kept busy on purpose (a task that blocks its runtime)
//! wakes its timers late; the run says so in the summary, the report and Prometheus, and a run without
//! the blocker says nothing of the kind.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hls_swarm::engine::run_swarm;
use hls_swarm::live::RunInfo;
use hls_swarm::metrics::origin_view::OriginView;
use hls_swarm::origin::{self, OriginConfig};
use hls_swarm::report::{RunMeta, build_report, report_json, summary};
use hls_swarm::stats::Snapshot;
use tokio::sync::watch;
use url::Url;

/// Two viewers of the built-in origin for `secs` on one viewer thread (the test's runtime); with
/// `block`, a task on that runtime blocks it for 60 ms at a time from the first second to the fourth.
/// The summary, the report's JSON and the Prometheus exposition of the run.
async fn run(block: bool, secs: u64) -> (Arc<Snapshot>, String, serde_json::Value, String) {
    let origin =
        origin::spawn(OriginConfig { segment_duration: Duration::from_millis(500), ..OriginConfig::local_default() })
            .await
            .unwrap();
    let url = Url::parse(&format!("{}master.m3u8", origin.url())).unwrap();
    let config = common::swarm_config(url.clone(), 2, Duration::from_secs(secs), 50.0, 1);
    let started = Instant::now();
    if block {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            while started.elapsed() < Duration::from_secs(4) {
                // Blocking on purpose: the thread does nothing else meanwhile, as an overloaded one.
                std::thread::sleep(Duration::from_millis(60));
                tokio::task::yield_now().await;
            }
        });
    }
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let outcome = run_swarm(config, std::future::pending(), tx).await;
    origin.shutdown().await;
    let info = Arc::new(RunInfo {
        target: url.to_string(),
        engine: "native",
        clients_target: 2,
        duration: Some(Duration::from_secs(secs)),
        ramp_rate: 50.0,
        started,
        started_at: std::time::SystemTime::UNIX_EPOCH,
        ladder: Vec::new(),
    });
    let meta = RunMeta { info: info.clone(), abandoned: 0, origin: None, origin_metrics: None, notes: Vec::new() };
    let snapshot = outcome.snapshot;
    let report = build_report(&snapshot, &meta);
    let text = summary(&report.as_written().unwrap());
    let json = serde_json::from_str(&report_json(&report).unwrap()).unwrap();
    let exposition = hls_swarm::metrics::exposition::render(&info, &snapshot, &OriginView::default());
    (snapshot, text, json, exposition)
}

/// The value of an unlabelled Prometheus sample.
fn sample(exposition: &str, name: &str) -> f64 {
    let line = exposition.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_viewer_thread_blocked_on_purpose_is_reported_saturated() {
    let (snapshot, text, json, exposition) = run(true, 7).await;
    let g = &snapshot.generator;
    // Blocked for 3 s, each 5 s look back holding it: saturated from about 1 s to about 9 s (the run
    // ends at 7), in one episode.
    assert!(g.saturated_seconds >= 4.0, "{g:?}");
    assert_eq!(g.episodes, 1, "{g:?}");
    assert!(text.contains("generator saturated for"), "{text}");
    assert!(text.contains("run fewer viewers per machine, more `--threads`, or shard the run"), "{text}");
    let report = &json["generator"];
    assert!(report["saturated_seconds"].as_f64().unwrap() >= 4.0, "{report}");
    assert!(report["lateness_ms"]["max"].as_f64().unwrap() >= 50.0, "{report}");
    assert!(report["cpu_seconds"].as_f64().unwrap() > 0.0, "{report}");
    let late_points =
        json["timeline"].as_array().unwrap().iter().filter(|p| p["lateness_p99_ms"].as_f64().unwrap_or(0.0) >= 50.0);
    assert!(late_points.count() >= 2, "{}", json["timeline"]);
    assert!(sample(&exposition, "hls_swarm_generator_saturated_seconds_total") >= 4.0);
    assert!(sample(&exposition, "hls_swarm_generator_lateness_seconds_count{probe=\"timer\"}") > 100.0);
}

#[tokio::test]
async fn a_run_the_machine_keeps_up_with_says_nothing_of_it() {
    let (snapshot, text, json, exposition) = run(false, 4).await;
    let g = &snapshot.generator;
    assert_eq!((g.saturated_seconds, g.episodes, g.saturated), (0.0, 0, false), "{g:?}");
    assert!(!text.contains("saturated"), "{text}");
    assert!(text.contains("generator timer lateness"), "the lateness is reported all the same: {text}");
    assert_eq!(json["generator"]["saturated_seconds"].as_f64(), Some(0.0));
    assert!(json["generator"]["lateness_ms"]["p99"].as_f64().unwrap() < 10.0, "{}", json["generator"]);
    assert_eq!(sample(&exposition, "hls_swarm_generator_saturated_seconds_total"), 0.0);
}
