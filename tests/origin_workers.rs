//! `hls-swarm origin --workers 2`: one origin served by two processes on one port. A swarm's counts
//! equal what the workers counted together (any worker's `/metrics` has both), both workers take
//! connections, every worker serves the same stream, a worker that dies is logged and the other takes
//! the new connections, and SIGTERM stops them all.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, sample};

fn children(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(&path).unwrap_or_default().split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

fn alive(pid: u32) -> bool {
    // A reaped process has no /proc entry; a zombie (ended, not yet reaped) says so in its state.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// `hls-swarm origin --listen 127.0.0.1:0 ARGS...`, once it has printed its base URL.
fn origin(args: &[&str], stderr: Stdio) -> (std::process::Child, String) {
    let mut origin = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["origin", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(origin.stdout.take().unwrap()).read_line(&mut url).unwrap();
    (origin, url.trim_end().to_string())
}

fn kill(signal: &str, pid: u32) {
    assert!(Command::new("kill").args([signal, &pid.to_string()]).status().unwrap().success());
}

/// The first `EXT-X-PROGRAM-DATE-TIME` and the media sequence number it belongs to.
fn first_segment(playlist: &str) -> (u64, String) {
    let msn = playlist.lines().find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:")).expect("media sequence");
    let pdt = playlist.lines().find_map(|l| l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:")).expect("PDT");
    (msn.parse().unwrap(), pdt.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_serve_one_stream_and_count_it_together() {
    let args = ["--workers", "2", "--variants", "240p:256k", "--segment-duration", "0.5", "--window", "4"];
    let (origin, url) = origin(&args, Stdio::piped());
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
    let workers = children(origin.id());
    assert_eq!(workers.len(), 1, "one worker forked besides the first: {workers:?}");

    // Every worker serves the same stream: one clock, so a segment has one PDT whoever lists it.
    let (mut seen, mut ours) = (std::collections::HashMap::new(), 0);
    for _ in 0..16 {
        let mut client = Client::connect(addr).await; // a new connection each: both workers answer
        let playlist = client.get("/240p/stream.m3u8").await;
        assert_eq!(playlist.status, 200);
        ours += playlist.body.len() as u64;
        let (msn, pdt) = first_segment(&playlist.text());
        assert_eq!(seen.entry(msn).or_insert_with(|| pdt.clone()), &pdt, "segment {msn}'s PDT differs");
    }

    let dir = std::env::temp_dir().join(format!("hls-swarm-workers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("r.json");
    let run = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["run", &format!("{url}master.m3u8"), "--clients", "24", "--ramp-rate", "100", "--duration", "3s"])
        .args(["--variant", "first", "--metrics-addr", "none", "--report", report.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();

    // Scraped from one worker (whichever the connection lands on), the counts are both workers'.
    let metrics = Client::connect(addr).await.get("/metrics").await.text();
    let served = |kind: &str| {
        let count = format!("hls_origin_requests_total{{kind=\"{kind}\",variant=\"240p\",status=\"200\"}}");
        let bytes = format!("hls_origin_response_body_bytes_total{{kind=\"{kind}\",variant=\"240p\"}}");
        (sample(&metrics, &count).unwrap_or(0.0) as u64, sample(&metrics, &bytes).unwrap_or(0.0) as u64)
    };
    let swarm =
        |kind: &str| (r["requests"][kind]["count"].as_u64().unwrap(), r["requests"][kind]["bytes"].as_u64().unwrap());
    assert!(swarm("segment").0 > 24, "{}", r["requests"]);
    assert_eq!(served("segment"), swarm("segment"), "{metrics}");
    // The 16 playlists above were this test's, not the swarm's.
    let (count, bytes) = served("media_playlist");
    assert_eq!((count - 16, bytes - ours), swarm("media_playlist"), "{metrics}");
    let per_worker: Vec<u64> = (0..2)
        .map(|w| sample(&metrics, &format!("hls_origin_worker_connections_total{{worker=\"{w}\"}}")).unwrap() as u64)
        .collect();
    let total = sample(&metrics, "hls_origin_connections_total").unwrap() as u64;
    assert!(per_worker.iter().all(|n| *n > 0), "both workers accepted connections: {per_worker:?}");
    assert_eq!(per_worker.iter().sum::<u64>(), total, "{metrics}");

    // A worker killed outright: the first logs it, and new connections all go to the first.
    kill("-KILL", workers[0]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(workers[0]) || children(origin.id()).contains(&workers[0]) {
        assert!(Instant::now() < deadline, "the killed worker was not reaped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..16 {
        let playlist = Client::connect(addr).await.get("/240p/stream.m3u8").await;
        assert_eq!(playlist.status, 200);
    }

    kill("-TERM", origin.id());
    let out = origin.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("2 worker processes"), "{log}");
    assert!(
        log.contains(&format!("worker 1 (pid {}) ended (signal 9)", workers[0])),
        "the first says the worker ended: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_stops_every_worker() {
    let (mut origin, _) = origin(&["--workers", "3"], Stdio::null());
    let workers = children(origin.id());
    assert_eq!(workers.len(), 2, "{workers:?}");
    kill("-TERM", origin.id());
    assert_eq!(origin.wait().unwrap().code(), Some(0));
    // The first waits for the others before it exits, so they are gone (reaped) by now.
    assert!(workers.iter().all(|w| !alive(*w)), "workers left running: {workers:?}");
}

#[test]
fn a_worker_that_does_not_stop_is_killed_after_the_grace() {
    let (origin, _) = origin(&["--workers", "2"], Stdio::piped());
    let workers = children(origin.id());
    assert_eq!(workers.len(), 1, "{workers:?}");
    kill("-STOP", workers[0]); // a stopped process does not answer SIGTERM
    kill("-TERM", origin.id());
    let out = origin.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains(&format!("worker 1 (pid {}) did not stop in time: killed", workers[0])), "{log}");
    assert!(!alive(workers[0]), "the stopped worker was killed and reaped");
}

/// An origin out of descriptors says so once, with what to change, and again when it accepts again (not a
/// line every 50 ms while it waits).
#[test]
fn running_out_of_open_files_is_said_once_with_what_to_change() {
    use std::sync::mpsc;
    // `ulimit -n` sets the hard limit too, so the origin cannot raise it.
    let mut origin = Command::new("sh")
        .args(["-c", "ulimit -n 40 && exec \"$0\" origin --listen 127.0.0.1:0", env!("CARGO_BIN_EXE_hls-swarm")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(origin.stdout.take().unwrap()).read_line(&mut url).unwrap();
    let addr: std::net::SocketAddr = url.trim().trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
    let (lines, log) = mpsc::channel();
    let stderr = BufReader::new(origin.stderr.take().unwrap());
    std::thread::spawn(move || stderr.lines().map_while(Result::ok).for_each(|l| drop(lines.send(l))));
    let wait_for = |what: &str, seen: &mut Vec<String>| {
        while !seen.iter().any(|l| l.contains(what)) {
            seen.push(log.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("no {what:?} in {seen:?}")));
        }
    };
    let mut seen = Vec::new();
    // More connections than 40 descriptors hold: the kernel queues them, the origin cannot take them all.
    let held: Vec<_> = (0..60).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
    wait_for("accept failed", &mut seen);
    std::thread::sleep(Duration::from_millis(300)); // six retries at least, each of them silent
    drop(held);
    wait_for("accepting again, after", &mut seen);
    kill("-TERM", origin.id());
    assert_eq!(origin.wait().unwrap().code(), Some(0));
    let failed: Vec<_> = seen.iter().filter(|l| l.contains("accept failed")).collect();
    assert_eq!(failed.len(), 1, "{seen:?}");
    assert!(failed[0].contains("out of open files") && failed[0].contains("ulimit -n"), "{seen:?}");
}
