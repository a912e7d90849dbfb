//! The binary's contract: bad flags exit 2 naming the flag; a run that cannot start exits 1 with a clear
//! message; nothing panics.

use std::process::Command;

fn hls_swarm(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm")).args(args).output().expect("run the binary");
    let code = out.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_flag_values_name_the_flag_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["origin", "--segment-duration", "fast"], "--segment-duration"),
        (&["origin", "--segment-duration", "0"], "--segment-duration"),
        (&["origin", "--variants", "hd:1M"], "--variants"),
        (&["origin", "--variants", "720p:lots"], "--variants"),
        (&["origin", "--variants", "720p:1M,720p:2M"], "--variants"),
        (&["origin", "--fault-http-5xx", "2"], "--fault-http-5xx"),
        (&["origin", "--window", "0"], "--window"),
        (&["origin", "--fault-schedule", "30s:slow=1"], "--fault-schedule"),
        (&["origin", "--fault-schedule", "bandwidth=2Mbit"], "--fault-schedule"),
        (&["origin", "--listen", "nowhere"], "--listen"),
        (&["origin", "--vod", "0.01"], "--vod"),
        (&["run", "--clients", "0"], "--clients"),
        (&["run", "--ramp-rate", "-1"], "--ramp-rate"),
        (&["run", "--duration", "soon"], "--duration"),
        (&["run", "--timeout", "0"], "--timeout"),
        (&["run", "--header", "no colon"], "--header"),
        (&["run", "ftp://example.invalid/x.m3u8"], "URL"),
        (&["run", "--insecure"], "--dangerous"),
        (&["run", "--resolve", "127.0.0.1"], "--dangerous"),
        (&["run", "--variant", "middle"], "--variant"),
        (&["run", "--metrics-addr", "nowhere"], "--metrics-addr"),
        (&["run", "--engine", "ffmpeg", "--http2", "--metrics-addr", "none"], "--http2"),
        (&["run", "--audio", "loud"], "--audio"),
        (&["run", "--audio-lang", "en_US"], "--audio-lang"),
        (&["run", "--engine", "ffmpeg", "--subtitles", "--metrics-addr", "none"], "--subtitles"),
        (&["run", "--engine", "ffmpeg", "--variant", "abr", "--metrics-addr", "none"], "--variant abr"),
        (&["run", "--engine", "ffmpeg", "--bandwidth", "2M", "--metrics-addr", "none"], "--bandwidth"),
        (&["run", "--bandwidth", "fast"], "--bandwidth"),
        (&["run", "--abr-start", "middle"], "--abr-start"),
        (&["run", "--abr-max-bandwidth", "lots"], "--abr-max-bandwidth"),
        (&["run", "--network", "5g:100%"], "--network"),
        (&["run", "--network", "3g:50%,4g:20%"], "--network"),
        (&["run", "--rtt", "soon"], "--rtt"),
        (&["run", "--engine", "ffmpeg", "--network", "3g", "--metrics-addr", "none"], "--network"),
        (&["run", "--bandwidth-trace", "/nonexistent/trace.txt", "--metrics-addr", "none"], "--bandwidth-trace"),
        (&["run", "--fail-if", "segment.ttfb.p99 < 800", "--metrics-addr", "none"], "--fail-if"),
        (&["run", "--fail-if", "segment.speed < 1s", "--metrics-addr", "none"], "--fail-if"),
    ];
    for (args, flag) in cases {
        let (code, _, err) = hls_swarm(args);
        assert_eq!(code, 2, "{args:?} exited {code}: {err}");
        assert!(err.contains(flag), "{args:?}: the message does not name {flag}: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
}

#[test]
fn a_bad_trace_line_is_named_and_a_trace_goes_without_bandwidth() {
    let dir = std::env::temp_dir().join(format!("hls-swarm-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trace.txt");
    std::fs::write(&path, "0 8000\n30 fast\n").unwrap();
    let trace = path.to_str().unwrap();
    let (code, _, err) = hls_swarm(&["run", "--bandwidth-trace", trace, "--metrics-addr", "none"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 2: '30 fast'"), "{err}");
    std::fs::write(&path, "0 8000\n30 1000\n").unwrap();
    let (code, _, err) = hls_swarm(&["run", "--bandwidth-trace", trace, "--bandwidth", "2M", "--metrics-addr", "none"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("drop --bandwidth or the trace"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreachable_target_exits_1_with_a_clear_message() {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let (code, _, err) =
        hls_swarm(&["run", "http://127.0.0.1:1/live/master.m3u8", "--duration", "1s", "--metrics-addr", "none"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot start the run"), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

#[test]
fn origin_address_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = hls_swarm(&["origin", "--listen", &addr]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--listen"), "{err}");
}

/// A runtime with the in-process origin for tests that drive the real binary against it.
fn origin() -> (tokio::runtime::Runtime, hls_swarm::origin::OriginHandle) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let config = hls_swarm::origin::OriginConfig {
        segment_duration: std::time::Duration::from_millis(500),
        window: 6,
        ..hls_swarm::origin::OriginConfig::local_default()
    };
    let handle = rt.block_on(hls_swarm::origin::spawn(config)).unwrap();
    (rt, handle)
}

#[test]
fn tls_to_a_plain_http_port_is_reported_clearly() {
    let (_rt, origin) = origin();
    let url = format!("https://{}/master.m3u8", origin.addr());
    let (code, _, err) = hls_swarm(&["run", &url, "--duration", "1s", "--timeout", "3s", "--metrics-addr", "none"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("TLS"), "{err}");
}

#[test]
fn resolve_and_headers_reach_the_origin() {
    let (_rt, origin) = origin();
    let url = format!("http://origin.test:{}/master.m3u8", origin.addr().port());
    let dir = std::env::temp_dir().join(format!("hls-swarm-resolve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("r.json");
    let args = [
        "run",
        &url,
        "--resolve",
        "127.0.0.1",
        "--dangerous",
        "--header",
        "X-Test: 1",
        "--no-cache",
        "--metrics-addr",
        "none",
    ];
    let (code, out, err) =
        hls_swarm(&[&args[..], &["--clients", "2", "--duration", "2s", "--report", report.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("errors    none"), "{out}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(r["segments"]["downloaded"].as_u64().unwrap() > 0);
    assert_eq!(r["target"], url.as_str());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--variant all` over the built-in three-rung ladder: the summary printed has a row per variant, with
/// the report's figures for it.
#[test]
fn the_summary_has_a_row_per_variant_played() {
    let (_rt, origin) = origin();
    let url = format!("{}master.m3u8", origin.url());
    let dir = std::env::temp_dir().join(format!("hls-swarm-variant-rows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("r.json");
    let args = ["run", &url, "--variant", "all", "--clients", "2", "--duration", "2s", "--metrics-addr", "none"];
    let (code, out, err) = hls_swarm(&[&args[..], &["--report", report.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let table: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("variant ")).skip(1).take(3).collect();
    assert_eq!(table.len(), 3, "a row per variant:\n{out}");
    for (row, v) in table.iter().zip(r["variants"].as_array().unwrap()) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        let requests: u64 = v["requests"].as_object().unwrap().values().map(|k| k["count"].as_u64().unwrap()).sum();
        let segments = v["segments"]["downloaded"].as_u64().unwrap();
        assert!(segments > 0, "{v:#}");
        let want = [v["label"].as_str().unwrap(), &requests.to_string(), &segments.to_string()];
        assert_eq!(cells[..3], want, "label, requests and segments of the report:\n{out}");
    }
    let labels: Vec<&str> = table.iter().filter_map(|row| row.split_whitespace().next()).collect();
    assert_eq!(labels, ["360p", "720p", "1080p"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_ends_the_run_through_drain_summary_and_report() {
    use std::io::{BufRead, BufReader};
    let dir = std::env::temp_dir().join(format!("hls-swarm-sigterm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("r.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args([
            "run",
            "--clients",
            "3",
            "--duration",
            "0",
            "--metrics-addr",
            "none",
            "--report",
            report.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first progress line (every 5 s) says the run is under way.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("viewers 3/3") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "stderr closed before the run got going");
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("segments  downloaded"), "summary printed: {text}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(r["segments"]["downloaded"].as_u64().unwrap() > 0);
    assert_eq!(r["clients"]["peak_active"], 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn origin_prints_its_url_first_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["origin", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("http://127.0.0.1:") && line.trim_end().ends_with('/'), "{line:?}");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// Every way a command fails prints its error once, from `main`, with the exit code of its kind.
#[test]
fn each_failure_prints_one_error_line() {
    let missing_dir = std::env::temp_dir().join(format!("hls-swarm-no-such-dir-{}", std::process::id()));
    let report = missing_dir.join("r.json");
    let cases: &[(&[&str], i32, &str)] = &[
        // A usage error found after parsing (flags that cannot work together).
        (&["run", "--print-cmd", "--metrics-addr", "none"], 2, "--engine ffmpeg"),
        // A start failure: nothing listens on loopback port 1.
        (&["run", "http://127.0.0.1:1/master.m3u8", "--metrics-addr", "none"], 1, "cannot start the run"),
        // A run error: the run completes, the report cannot be written.
        (
            &[
                "run",
                "--clients",
                "1",
                "--duration",
                "1s",
                "--metrics-addr",
                "none",
                "--report",
                report.to_str().unwrap(),
            ],
            1,
            "--report",
        ),
    ];
    for (args, want_code, says) in cases {
        let (code, _, err) = hls_swarm(args);
        assert_eq!(code, *want_code, "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one error line expected: {err}");
        assert!(lines[0].starts_with("hls-swarm: error: ") && lines[0].contains(says), "{args:?}: {err}");
    }
}

#[test]
fn thresholds_are_checked_at_the_end_listed_in_the_summary_kept_in_the_report_and_exit_3() {
    let (_rt, origin) = origin();
    let url = format!("{}master.m3u8", origin.url());
    let dir = std::env::temp_dir().join(format!("hls-swarm-thresholds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("r.json");
    let run = ["run", &url, "--clients", "2", "--duration", "2s", "--metrics-addr", "none", "--report"];
    let run = [&run[..], &[report.to_str().unwrap()]].concat();
    let holds = ["--fail-if", "errors.rate < 1%", "--fail-if", "generator.saturated_seconds == 0"];
    let (code, out, err) = hls_swarm(&[&run[..], &holds[..]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("threshold pass  errors.rate < 1%  (0.00%)"), "{out}");
    assert!(out.contains("threshold pass  generator.saturated_seconds == 0  (0)"), "{out}");
    // A segment's first byte within a microsecond: no server does that.
    let fails = [&holds[..], &["--fail-if", "segment.ttfb.p99 < 1us"]].concat();
    let (code, out, err) = hls_swarm(&[&run[..], &fails[..]].concat());
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("threshold FAIL  segment.ttfb.p99 < 1us  ("), "{out}");
    assert!(err.contains("1 of 3 thresholds failed: segment.ttfb.p99 < 1us"), "{err}");
    assert_eq!(err.matches("hls-swarm: error:").count(), 1, "{err}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let verdicts: Vec<bool> =
        r["thresholds"].as_array().unwrap().iter().map(|t| t["passed"].as_bool().unwrap()).collect();
    assert_eq!(verdicts, [true, true, false], "the report is written all the same: {}", r["thresholds"]);
    assert!(r["thresholds"][2]["value"].as_f64().unwrap() > 0.001);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_machines_own_limits_are_named_before_the_run() {
    // More connections to one destination than one local address has ports.
    let (code, _, err) = hls_swarm(&["run", "--clients", "200000", "--metrics-addr", "none"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ip_local_port_range") && err.contains("--source-addrs with at least"), "{err}");
    let (code, _, err) = hls_swarm(&["run", "--source-addrs", "192.0.2.1", "--metrics-addr", "none"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--source-addrs 192.0.2.1"), "{err}");
    // More open files than the hard limit allows: said before the run, not found as connect errors.
    let bin = env!("CARGO_BIN_EXE_hls-swarm");
    let out = Command::new("sh")
        .args(["-c", &format!("ulimit -n 300 && ulimit -Hn 300 && exec {bin} run --clients 500 --metrics-addr none")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("500 viewers need about") && err.contains("ulimit -Hn"), "{err}");
    assert_eq!(err.matches("hls-swarm: error:").count(), 1, "{err}");
}
