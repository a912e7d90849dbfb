//! Results people act on, through the real binary: thresholds on a run against a faulty built-in
//! origin (exit code 3, the summary's lines, JUnit XML valid against the format's schema),
//! `--abort-on-fail`, and `hls-swarm report show / compare / merge` on the reports written.

use std::path::{Path, PathBuf};
use std::process::Command;

fn hls_swarm(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm")).args(args).output().expect("run the binary");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// A directory of this test's own, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hls-swarm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The in-process origin, 500 ms segments, failing `http_5xx` of its requests with a 503.
fn origin(http_5xx: f64) -> (tokio::runtime::Runtime, hls_swarm::origin::OriginHandle) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let config = hls_swarm::origin::OriginConfig {
        segment_duration: std::time::Duration::from_millis(500),
        window: 6,
        faults: hls_swarm::origin::FaultConfig { http_5xx, ..Default::default() },
        ..hls_swarm::origin::OriginConfig::local_default()
    };
    let handle = rt.block_on(hls_swarm::origin::spawn(config)).unwrap();
    (rt, handle)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn thresholds_on_a_faulty_origin_exit_3_are_listed_kept_in_junit_and_show_prints_the_same_summary() {
    let (_rt, origin) = origin(0.2);
    let url = format!("{}master.m3u8", origin.url());
    let dir = scratch("thresholds-fault");
    let (report, junit) = (dir.join("run.json"), dir.join("junit.xml"));
    let (code, out, err) = hls_swarm(&[
        "run",
        &url,
        "--clients",
        "3",
        "--duration",
        "3s",
        "--variant",
        "first",
        "--metrics-addr",
        "none",
        "--report",
        path(&report),
        "--junit",
        path(&junit),
        "--fail-if",
        "errors.rate < 90%",
        "--fail-if",
        "errors.http_5xx == 0",
        "--fail-if",
        "segment.ttfb.p99 < 10s",
    ]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("1 of 3 thresholds failed: errors.http_5xx == 0"), "{err}");
    // The threshold lines, their values (which depend on the faults drawn) written as N.
    let lines: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("threshold "))
        .map(|l| match l.rfind("  (") {
            Some(at) => format!("{}  (N)", &l[..at]),
            None => l.to_owned(),
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"), @r"
    threshold pass  errors.rate < 90%  (N)
    threshold FAIL  errors.http_5xx == 0  (N)
    threshold pass  segment.ttfb.p99 < 10s  (N)
    ");
    let r = json(&report);
    assert!(r["errors"]["http_5xx"].as_u64().unwrap() > 0, "the fault was met: {}", r["errors"]);
    // `report show` prints what the run printed, byte for byte.
    let (code, shown, err) = hls_swarm(&["report", "show", path(&report)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(shown, out);
    // The JUnit file: valid against the format's schema, one case per threshold, one failure.
    let xsd = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/junit.xsd");
    let lint = Command::new("xmllint")
        .args(["--noout", "--schema", xsd, path(&junit)])
        .output()
        .expect("xmllint (Debian's libxml2-utils; scripts/test.sh installs it)");
    assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));
    let xml = std::fs::read_to_string(&junit).unwrap();
    // The schema bites: the same file with a test case's classname left out does not validate.
    let broken = dir.join("broken.xml");
    std::fs::write(&broken, xml.replacen(" classname=\"hls-swarm.thresholds\"", "", 1)).unwrap();
    let lint = Command::new("xmllint").args(["--noout", "--schema", xsd, path(&broken)]).output().unwrap();
    assert!(!lint.status.success(), "a broken file validated");
    assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(xml.contains("name=\"errors.rate &lt; 90%\""), "{xml}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn abort_on_fail_ends_a_failing_run_early_through_the_summary_and_report() {
    let (_rt, origin) = origin(0.0);
    let url = format!("{}master.m3u8", origin.url());
    let dir = scratch("abort");
    let report = dir.join("run.json");
    let started = std::time::Instant::now();
    // A segment's first byte within a microsecond: no server does that. The run asks for 60 s.
    let (code, out, err) = hls_swarm(&[
        "run",
        &url,
        "--clients",
        "2",
        "--duration",
        "60s",
        "--metrics-addr",
        "none",
        "--report",
        path(&report),
        "--fail-if",
        "segment.ttfb.p99 < 1us",
        "--abort-on-fail",
        "--threshold-grace",
        "1s",
    ]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(started.elapsed().as_secs() < 30, "ended early: {:?}", started.elapsed());
    assert!(err.contains("threshold segment.ttfb.p99 < 1us failed at"), "{err}");
    assert!(out.contains("aborted   at ") && out.contains("(--abort-on-fail)"), "{out}");
    assert!(out.contains("threshold FAIL  segment.ttfb.p99 < 1us"), "{out}");
    let r = json(&report);
    let at = r["aborted"]["at_seconds"].as_f64().unwrap();
    assert!((1.0..10.0).contains(&at), "after the grace, at the first check: {}", r["aborted"]);
    assert!(r["duration_seconds"].as_f64().unwrap() < 20.0, "{}", r["duration_seconds"]);
    // --abort-on-fail without a threshold is a usage error.
    let (code, _, err) = hls_swarm(&["run", "--abort-on-fail", "--metrics-addr", "none"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--fail-if"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reports_merge_compare_and_bad_ones_get_clear_errors_and_no_partial_output() {
    let (_rt, origin) = origin(0.0);
    let url = format!("{}master.m3u8", origin.url());
    let dir = scratch("merge");
    let runs: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("run{i}.json"))).collect();
    for (i, report) in runs.iter().enumerate() {
        let clients = (i + 1).to_string();
        let args = ["run", &url, "--clients", &clients, "--duration", "2s", "--variant", "first"];
        let (code, out, err) = hls_swarm(&[&args[..], &["--metrics-addr", "none", "--report", path(report)]].concat());
        assert_eq!(code, 0, "{out}{err}");
    }
    let all = dir.join("all.json");
    let (code, _, err) =
        hls_swarm(&["report", "merge", path(&runs[0]), path(&runs[1]), path(&runs[2]), "-o", path(&all)]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("merged 3 reports"), "{err}");
    let (merged, inputs) = (json(&all), runs.iter().map(|p| json(p)).collect::<Vec<_>>());
    let sum = |f: &dyn Fn(&serde_json::Value) -> u64| inputs.iter().map(f).sum::<u64>();
    assert_eq!(
        merged["requests"]["segment"]["count"].as_u64(),
        Some(sum(&|r| r["requests"]["segment"]["count"].as_u64().unwrap()))
    );
    assert_eq!(merged["segments"]["bytes"].as_u64(), Some(sum(&|r| r["segments"]["bytes"].as_u64().unwrap())));
    assert_eq!(merged["clients"]["target"], 6);
    assert_eq!(merged["merged_from"].as_array().unwrap().len(), 3);
    let ttfb_count = merged["requests"]["segment"]["ttfb_ms"]["count"].as_u64();
    assert_eq!(ttfb_count, Some(sum(&|r| r["requests"]["segment"]["ttfb_ms"]["count"].as_u64().unwrap())));
    // `report show` reads the merged report as any other.
    let (code, shown, err) = hls_swarm(&["report", "show", path(&all)]);
    assert_eq!(code, 0, "{err}");
    assert!(shown.starts_with("hls-swarm native engine: 6 viewers against "), "{shown}");

    // compare: the same report is no regression; one made worse by hand is, and exits 3 when asked.
    let (code, out, err) = hls_swarm(&["report", "compare", path(&runs[0]), path(&runs[0]), "--fail-on-regression"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 regression(s) beyond the tolerance of 10.0%"), "{out}");
    let mut worse = inputs[0].clone();
    let p99 = worse["requests"]["segment"]["ttfb_ms"]["p99"].as_f64().unwrap();
    worse["requests"]["segment"]["ttfb_ms"]["p99"] = (p99 * 2.0 + 1.0).into();
    let worse_path = dir.join("worse.json");
    std::fs::write(&worse_path, serde_json::to_string(&worse).unwrap()).unwrap();
    let (code, out, err) = hls_swarm(&["report", "compare", path(&runs[0]), path(&worse_path)]);
    assert_eq!(code, 0, "without --fail-on-regression: {err}");
    let row = out.lines().find(|l| l.starts_with("segment.ttfb.p99 ")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.ends_with("REGRESSION"), "{out}");
    let (code, _, err) = hls_swarm(&["report", "compare", path(&runs[0]), path(&worse_path), "--fail-on-regression"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("segment.ttfb.p99:"), "{err}");
    let (code, _, err) = hls_swarm(&["report", "compare", path(&runs[0]), path(&worse_path), "--tolerance", "lots"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--tolerance"), "{err}");

    // Bad input: truncated, another schema version, one report; never a partial output file.
    let text = std::fs::read_to_string(&runs[0]).unwrap();
    let truncated = dir.join("truncated.json");
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    let mut other = inputs[0].clone();
    other["schema_version"] = 99.into();
    let version = dir.join("v99.json");
    std::fs::write(&version, serde_json::to_string(&other).unwrap()).unwrap();
    let out_file = dir.join("never.json");
    for (args, says) in [
        (vec!["report", "show", path(&truncated)], "truncated.json: not a JSON report of hls-swarm"),
        (vec!["report", "show", path(&version)], "report schema version 99"),
        (vec!["report", "merge", path(&runs[0]), path(&truncated), "-o", path(&out_file)], "truncated.json"),
        (vec!["report", "show", "/nonexistent/run.json"], "cannot read the report /nonexistent/run.json"),
    ] {
        let (code, _, err) = hls_swarm(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.matches("hls-swarm: error:").count(), 1, "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, _, err) = hls_swarm(&["report", "merge", path(&runs[0]), "-o", path(&out_file)]);
    assert_eq!(code, 2, "one report is a usage error: {err}");
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("never") || n.contains(".partial"))
        .collect();
    assert!(left.is_empty(), "no output left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_timeline_has_each_seconds_figures_and_the_built_in_origins_side() {
    let dir = scratch("timeline");
    let (report, html) = (dir.join("run.json"), dir.join("run.html"));
    // No URL: the built-in origin, whose own counters are read each second.
    let (code, out, err) = hls_swarm(&[
        "run",
        "--clients",
        "4",
        "--ramp-rate",
        "20",
        "--duration",
        "4s",
        "--metrics-addr",
        "none",
        "--report",
        path(&report),
        "--report-html",
        path(&html),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let r = json(&report);
    let points = r["timeline"].as_array().unwrap();
    let busy: Vec<&serde_json::Value> = points.iter().filter(|p| p["segments"].as_u64() > Some(0)).collect();
    assert!(!busy.is_empty(), "{points:#?}");
    for p in &busy {
        let segment = p["ttfb_ms"].as_array().unwrap().iter().find(|k| k["kind"] == "segment");
        let segment = segment.unwrap_or_else(|| panic!("a second with segments has their TTFB: {p}"));
        assert!(segment["p50"].as_f64().unwrap() <= segment["p99"].as_f64().unwrap(), "{p}");
    }
    let viewers: u64 =
        points.iter().filter_map(|p| p["variant_viewers"].as_array()).map(|v| v.len() as u64).max().unwrap();
    assert!(viewers >= 1, "viewers per variant: {points:#?}");
    let origin: Vec<f64> = points.iter().filter_map(|p| p["origin"]["requests_per_s"].as_f64()).collect();
    assert!(origin.iter().any(|r| *r > 0.0), "the origin's side each second: {points:#?}");
    let page = std::fs::read_to_string(&html).unwrap();
    for chart in
        ["TTFB of segment requests, each second", "Origin: what it sent and was asked", "Viewers: active and stalled"]
    {
        assert!(page.contains(chart), "{chart}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_shards_side_by_side_merge_into_the_whole_run_the_origin_served() {
    let (_rt, origin) = origin(0.0);
    let url = format!("{}master.m3u8", origin.url());
    let dir = scratch("shards");
    let shard = |index: usize| {
        let report = dir.join(format!("shard{index}.json"));
        let shard = format!("{index}/2");
        let url = url.clone();
        let report_arg = report.clone();
        let run = std::thread::spawn(move || {
            let args = ["run", &url, "--clients", "5", "--ramp-rate", "10", "--duration", "3s", "--variant", "first"];
            let (code, out, err) = hls_swarm(
                &[&args[..], &["--shard", &shard, "--metrics-addr", "none", "--report", path(&report_arg)]].concat(),
            );
            assert_eq!(code, 0, "{out}{err}");
        });
        (report, run)
    };
    // Both at once, as shards on two machines run.
    let runs: Vec<(PathBuf, std::thread::JoinHandle<()>)> = (0..2).map(shard).collect();
    let reports: Vec<PathBuf> = runs
        .into_iter()
        .map(|(report, run)| {
            run.join().expect("the shard's run");
            report
        })
        .collect();
    let (a, b) = (json(&reports[0]), json(&reports[1]));
    assert_eq!(
        (a["clients"]["target"].as_u64(), b["clients"]["target"].as_u64()),
        (Some(3), Some(2)),
        "viewers 0,2,4 and 1,3"
    );
    assert_eq!(a["shard"]["index"], 0);
    let all = dir.join("all.json");
    let (code, out, err) = hls_swarm(&[
        "report",
        "merge",
        path(&reports[0]),
        path(&reports[1]),
        "-o",
        path(&all),
        "--fail-if",
        "errors.count == 0",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("threshold pass  errors.count == 0  (0)"), "{out}");
    let merged = json(&all);
    assert_eq!(merged["clients"]["target"], 5);
    assert_eq!(merged["shards"]["present"], serde_json::json!([0, 1]));
    // The origin served what the shards together counted.
    let counters = origin.counters();
    for kind in [hls_swarm::origin::ServedKind::Segment, hls_swarm::origin::ServedKind::MediaPlaylist] {
        let name = kind.as_str();
        assert_eq!(merged["requests"][name]["count"].as_u64(), Some(counters.requests_all(kind)), "{name}");
        assert_eq!(merged["requests"][name]["bytes"].as_u64(), Some(counters.body_bytes(kind)), "{name}");
    }
    // One shard alone is not the run.
    let (code, _, err) =
        hls_swarm(&["report", "merge", path(&reports[0]), path(&all), "-o", path(&dir.join("x.json"))]);
    assert_eq!(code, 1, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn start_at_waits_for_the_instant_and_a_late_process_joins_the_schedule_where_it_stands() {
    let (_rt, origin) = origin(0.0);
    let url = format!("{}master.m3u8", origin.url());
    let dir = scratch("start-at");
    let report = dir.join("run.json");
    let base = ["run", &url, "--clients", "4", "--ramp-rate", "2", "--variant", "first", "--metrics-addr", "none"];
    let asked = std::time::SystemTime::now();
    let (code, out, err) =
        hls_swarm(&[&base[..], &["--duration", "2s", "--start-at", "+2s", "--report", path(&report)]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("waiting 2.0 s for --start-at") || err.contains("waiting 1.9 s for --start-at"), "{err}");
    let started = time::OffsetDateTime::parse(
        json(&report)["started_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let asked = time::OffsetDateTime::from(asked);
    let waited = (started - asked).as_seconds_f64();
    assert!((1.8..2.5).contains(&waited), "the run's clock starts at the instant asked for: {waited} s");

    // 3 s late for a 4 s run at 2 viewers a second: the viewers due by then start at once, the run ends
    // on the schedule's time.
    let late = time::OffsetDateTime::now_utc() - time::Duration::seconds(3);
    let late = late.format(&time::format_description::well_known::Rfc3339).unwrap();
    let begun = std::time::Instant::now();
    let (code, out, err) =
        hls_swarm(&[&base[..], &["--duration", "4s", "--start-at", &late, "--report", path(&report)]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(begun.elapsed().as_secs_f64() < 3.9, "ended on the schedule's time: {:?}", begun.elapsed());
    assert!(err.contains("after --start-at and joined the schedule"), "{err}");
    let r = json(&report);
    assert_eq!(r["clients"]["starts"], 4, "all four started: {}", r["clients"]);
    assert!(r["warnings"]["notes"][0].as_str().unwrap().contains("joined the schedule"), "{}", r["warnings"]);
    // A start so far back that the whole run is over (a ConfigMap's left from an earlier run).
    let (code, _, err) = hls_swarm(&[&base[..], &["--duration", "4s", "--start-at", "2026-01-01T00:00:00Z"]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("past the whole run") && err.contains("give a later --start-at"), "{err}");
    let (code, _, err) = hls_swarm(&["run", "--start-at", "tomorrow", "--metrics-addr", "none"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--start-at") && err.contains("RFC 3339"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
