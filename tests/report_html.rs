//! The HTML report opens in Debian's headless Chromium from `file://` with no console message and no
//! request to the network. Chromium runs in a network namespace of its own (`unshare -n`), so its
//! own background traffic (update checks) goes nowhere; its NetLog shows every request it began, and
//! those the page began (an initiator other than the browser's "not an origin") must be none. Two
//! control pages, one that loads an image over HTTP and one that logs to the console, show that the
//! check sees what it looks for.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hls-swarm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What Chromium did with a page: its console messages and the URLs the page asked for.
struct Opened {
    console: Vec<String>,
    page_requests: Vec<String>,
}

fn open_in_chromium(page: &Path, dir: &Path) -> Opened {
    let netlog = dir.join(format!("{}.netlog.json", page.file_stem().unwrap().to_string_lossy()));
    let shot = dir.join(format!("{}.png", page.file_stem().unwrap().to_string_lossy()));
    let out = Command::new("unshare")
        .args(["-n", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .args(["--enable-logging=stderr", "--log-level=0", "--window-size=1000,1400"])
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium (Debian's, under unshare -n; scripts/test.sh installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 1000).unwrap_or(false), "no screenshot: {stderr}");
    let console = stderr.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_owned).collect();
    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&netlog).unwrap()).unwrap();
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64().unwrap();
    let page_requests = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start_job))
        .filter(|e| e["params"]["initiator"].as_str().is_some_and(|i| i != "not an origin"))
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_owned))
        .collect();
    Opened { console, page_requests }
}

#[test]
fn the_html_report_of_a_run_opens_offline_without_console_messages_or_requests() {
    let dir = scratch("report-html");
    let (report, html) = (dir.join("run.json"), dir.join("run.html"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let config = hls_swarm::origin::OriginConfig {
        segment_duration: std::time::Duration::from_millis(500),
        window: 6,
        ..hls_swarm::origin::OriginConfig::local_default()
    };
    let origin = rt.block_on(hls_swarm::origin::spawn(config)).unwrap();
    let url = format!("{}master.m3u8", origin.url());
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["run", &url, "--clients", "4", "--duration", "3s", "--metrics-addr", "none"])
        .args(["--fail-if", "errors.rate < 1%", "--report", report.to_str().unwrap()])
        .args(["--report-html", html.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // `report html` of the saved report writes the same page.
    let again = dir.join("again.html");
    let status = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["report", "html", report.to_str().unwrap(), "-o", again.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page, std::fs::read_to_string(&again).unwrap());
    assert!(page.contains("<svg") && page.contains("errors.rate &lt; 1%"), "charts and thresholds");

    let opened = open_in_chromium(&html, &dir);
    assert!(opened.console.is_empty(), "console: {:#?}", opened.console);
    assert!(opened.page_requests.is_empty(), "requests: {:#?}", opened.page_requests);

    // The controls: what the check must see when a page does request or log.
    let fetching = dir.join("fetching.html");
    std::fs::write(&fetching, "<!doctype html><img src=\"http://127.0.0.1:9/x.png\">").unwrap();
    let seen = open_in_chromium(&fetching, &dir);
    assert_eq!(seen.page_requests, ["http://127.0.0.1:9/x.png"]);
    let logging = dir.join("logging.html");
    std::fs::write(&logging, "<!doctype html><script>console.error('seen')</script>").unwrap();
    let seen = open_in_chromium(&logging, &dir);
    assert!(seen.console.iter().any(|l| l.contains("seen")), "{:#?}", seen.console);
    let _ = std::fs::remove_dir_all(&dir);
}
