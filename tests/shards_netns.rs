//! A sharded run across machines, as near as one machine gets: `hls-swarm origin` in one network
//! namespace and four shards in four others, each with its own address on a bridge (veth pairs; the
//! bridge in a namespace of its own, so the machine's own network is not touched). The shards start
//! together at one `--start-at`, print their reports as their last line (`--report -`), and `report merge
//! -` reads them from their joined output as from `kubectl logs`. The merged report must count what the
//! origin served, hold the percentiles of the four histograms added here, and ramp as an unsharded run
//! with the same seed does.
//!
//! Needs root (network namespaces) and iproute2; `scripts/test.sh` installs iproute2 and CI runs as root.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SHARDS: usize = 4;
const ORIGIN: &str = "192.0.2.1";
const PORT: u16 = 8080;
const VIEWERS: &str = "40";
const RAMP: &str = "10";
const DURATION: &str = "6s";

/// The namespaces of this test (named by its process, so two runs never meet), deleted when dropped,
/// and the processes started in them, killed first.
struct Hosts {
    prefix: String,
    children: Vec<Child>,
}

impl Hosts {
    fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    fn names(&self) -> Vec<String> {
        let mut names = vec![self.ns("bridge"), self.ns("origin")];
        names.extend((0..SHARDS).map(|i| self.ns(&format!("shard{i}"))));
        names
    }

    /// The bridge, and each host wired to it: `eth0` with its address, loopback up.
    fn build() -> Hosts {
        let hosts = Hosts { prefix: format!("hs{}", std::process::id()), children: Vec::new() };
        for name in hosts.names() {
            ip(&["netns", "add", &name]);
        }
        let bridge = hosts.ns("bridge");
        ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &bridge, "link", "set", "br0", "up"]);
        let mut wired = vec![(hosts.ns("origin"), ORIGIN.to_owned())];
        wired.extend((0..SHARDS).map(|i| (hosts.ns(&format!("shard{i}")), format!("192.0.2.{}", 10 + i))));
        for (i, (ns, addr)) in wired.iter().enumerate() {
            let port = format!("v{i}");
            ip(&["-n", &bridge, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", ns]);
            ip(&["-n", &bridge, "link", "set", &port, "master", "br0", "up"]);
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        hosts
    }

    fn command(&self, host: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(host), env!("CARGO_BIN_EXE_hls-swarm")]);
        c
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for name in self.names() {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip (iproute2): {e}; scripts/test.sh installs it"));
    assert!(
        out.status.success(),
        "ip {}: {} (this test needs root for network namespaces)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// GET `path` from the origin, from inside its namespace: a thread of this test joins it (`setns`
/// changes only the calling thread's namespace) and speaks HTTP/1.0 over a plain socket.
fn origin_get(netns: &str, path: &str) -> String {
    let file = std::fs::File::open(format!("/var/run/netns/{netns}")).expect("the origin's namespace");
    let path = path.to_owned();
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd as _;
        // SAFETY: setns on a namespace file this thread holds open; it affects this thread only.
        let joined = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(joined, 0, "setns: {}", std::io::Error::last_os_error());
        let mut stream = std::net::TcpStream::connect((ORIGIN, PORT)).expect("connect to the origin");
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {ORIGIN}\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    })
    .join()
    .expect("the origin's answer")
}

/// What the origin served of `kind`: requests and body bytes, summed over variants and statuses.
fn served(metrics: &str, kind: &str) -> (u64, u64) {
    let sum = |family: &str| -> u64 {
        let prefix = format!("{family}{{kind=\"{kind}\",");
        metrics
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<u64>().ok()))
            .sum()
    };
    (sum("hls_origin_requests_total"), sum("hls_origin_response_body_bytes_total"))
}

/// Standard base64 (with padding) back to bytes: the reports' histograms.
fn unbase64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("a base64 character") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn histogram(report: &serde_json::Value, name: &str) -> hdrhistogram::Histogram<u64> {
    let bytes = unbase64(report["histograms"][name].as_str().unwrap_or_else(|| panic!("histogram {name}")));
    hdrhistogram::serialization::Deserializer::new().deserialize(&mut &bytes[..]).expect("an HdrHistogram")
}

/// An instant at least `ahead` from now, on a whole second, as RFC 3339.
fn start_at(ahead: Duration) -> String {
    let at = (SystemTime::now() + ahead).duration_since(UNIX_EPOCH).unwrap().as_secs() + 1;
    let at = time::OffsetDateTime::from_unix_timestamp(at as i64).unwrap();
    at.format(&time::format_description::well_known::Rfc3339).unwrap()
}

fn run_args<'a>(url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", url, "--clients", VIEWERS, "--ramp-rate", RAMP, "--duration", DURATION];
    args.extend(["--variant", "first", "--seed", "7", "--metrics-addr", "none"]);
    args.extend(extra);
    args
}

#[test]
fn four_shards_on_four_hosts_merge_into_what_the_origin_served_ramping_as_one_run() {
    let mut hosts = Hosts::build();
    let listen = format!("{ORIGIN}:{PORT}");
    let mut origin = hosts
        .command("origin")
        .args(["origin", "--listen", &listen, "--segment-duration", "500ms", "--window", "6"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the origin");
    let mut first = String::new();
    BufReader::new(origin.stdout.take().unwrap()).read_line(&mut first).expect("the origin's URL");
    hosts.children.push(origin);
    let url = format!("{}master.m3u8", first.trim());
    assert!(url.starts_with(&format!("http://{listen}/")), "{url}");

    // The four shards, started together, as four pods of an Indexed Job.
    let at = start_at(Duration::from_secs(3));
    let runs: Vec<std::thread::JoinHandle<std::process::Output>> = (0..SHARDS)
        .map(|i| {
            let shard = format!("{i}/{SHARDS}");
            let mut command = hosts.command(&format!("shard{i}"));
            command.args(run_args(&url, &["--shard", &shard, "--start-at", &at, "--report", "-"]));
            std::thread::spawn(move || command.output().expect("run a shard"))
        })
        .collect();
    // As `kubectl logs --prefix` joins the pods' output: each line behind its pod's name.
    let mut logs = String::new();
    let mut reports = Vec::new();
    for (i, run) in runs.into_iter().enumerate() {
        let out = run.join().expect("a shard");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "shard {i}: {stdout}{stderr}");
        assert!(stderr.contains("for --start-at"), "shard {i} waited for the shared start: {stderr}");
        let last = stdout.lines().last().unwrap_or_default();
        reports.push(serde_json::from_str::<serde_json::Value>(last).expect("the report, the last line of stdout"));
        for line in stdout.lines() {
            logs.push_str(&format!("[pod/swarm-{i}/hls-swarm] {line}\n"));
        }
    }
    let metrics = origin_get(&hosts.ns("origin"), "/metrics");

    let dir = std::env::temp_dir().join(format!("hls-swarm-shards-netns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let all = dir.join("all.json");
    let mut merge = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["report", "merge", "-", "-o", all.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    merge.stdin.take().unwrap().write_all(logs.as_bytes()).unwrap();
    let out = merge.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let merged: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&all).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    // Every shard is there, each with its viewers (i, i + 4, ...) and its clock against the origin's.
    assert_eq!(merged["shards"]["present"], serde_json::json!([0, 1, 2, 3]), "{}", merged["shards"]);
    assert_eq!(merged["clients"]["target"], 40);
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r["shard"]["index"], i);
        assert_eq!(r["clients"]["target"], 10);
        let clock = &r["shard"]["clock_offset"];
        // One machine, one clock: the offset is zero within its bounds (and the bounds under a second).
        let (offset, within) = (clock["offset_ms"].as_f64().unwrap(), clock["uncertainty_ms"].as_f64().unwrap());
        assert!(offset.abs() <= within + 1.0 && within < 500.0, "shard {i}: {clock}");
    }
    assert!(!merged["warnings"]["notes"].to_string().contains("clocks"), "{}", merged["warnings"]);

    // Counts and bytes per kind are the origin's.
    for kind in ["multivariant", "media_playlist", "segment"] {
        let (requests, bytes) = served(&metrics, kind);
        assert!(requests > 0, "{kind}: {metrics}");
        assert_eq!(merged["requests"][kind]["count"].as_u64(), Some(requests), "{kind} requests");
        assert_eq!(merged["requests"][kind]["bytes"].as_u64(), Some(bytes), "{kind} bytes");
    }

    // The percentiles are those of the four histograms added here.
    for (name, figure) in [
        ("ttfb_us.segment", &merged["requests"]["segment"]["ttfb_ms"]),
        ("startup_us", &merged["playback"]["startup_ms"]),
    ] {
        let mut all = histogram(&reports[0], name);
        for r in &reports[1..] {
            all.add(histogram(r, name)).unwrap();
        }
        assert_eq!(figure["count"].as_u64(), Some(all.len()), "{name}");
        for (key, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
            let ms = all.value_at_quantile(q) as f64 / 1_000.0;
            assert!((figure[key].as_f64().unwrap() - ms).abs() < 0.001, "{name} {key}: {figure} vs {ms}");
        }
        assert!((figure["max"].as_f64().unwrap() - all.max() as f64 / 1_000.0).abs() < 0.001, "{name} max");
    }

    // The same run unsharded (same seed, same schedule), from one host after the shards are done:
    // viewers active each second within one of the union's.
    let whole = hosts.command("shard0").args(run_args(&url, &["--report", "-"])).output().unwrap();
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let whole: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&whole.stdout).lines().last().unwrap()).unwrap();
    // Viewers at the end of each second: a run's points in one second (its last tick and its end)
    // count as one, the later.
    let active = |r: &serde_json::Value| -> Vec<(u64, i64)> {
        let mut by_second = std::collections::BTreeMap::new();
        for p in r["timeline"].as_array().unwrap() {
            by_second.insert(p["t"].as_u64().unwrap(), p["active_clients"].as_i64().unwrap());
        }
        by_second.into_iter().collect()
    };
    let (union, one) = (active(&merged), active(&whole));
    assert_eq!(union.len(), one.len(), "{union:?} vs {one:?}");
    assert!(
        union.iter().zip(&one).all(|(u, o)| u.0 == o.0 && (u.1 - o.1).abs() <= 1),
        "viewers each second: {union:?} vs {one:?}"
    );
    let one: Vec<i64> = one.iter().map(|(_, n)| *n).collect();
    assert!(one.iter().any(|n| *n < 40) && one.contains(&40), "a ramp to 40: {one:?}");
}
