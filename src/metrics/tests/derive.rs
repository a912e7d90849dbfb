//! Derived figures from synthetic successive scrapes: CPU from the delta (not since boot), counter
//! resets, loopback left out, stale sources keeping their last good figures, window p50 and max.

use std::time::{Duration, Instant};

use super::{NGINX_EXPORTER, NODE_EXPORTER};
use crate::metrics::derive::{BuiltinReading, BuiltinState, HostState, NginxState, Series, Tracker};
use crate::metrics::origin_view::Stat;
use crate::metrics::text_parser::{Exposition, parse};

const WINDOW: Duration = Duration::from_secs(30);

/// A node_exporter page: per CPU (idle, user, system, iowait) seconds, memory, per device (rx, tx).
fn node(cpus: &[[f64; 4]], mem: (f64, f64), devices: &[(&str, f64, f64)]) -> Exposition {
    let mut text = String::from("# TYPE node_cpu_seconds_total counter\n");
    for (i, c) in cpus.iter().enumerate() {
        for (mode, v) in ["idle", "user", "system", "iowait"].iter().zip(c) {
            text += &format!("node_cpu_seconds_total{{cpu=\"{i}\",mode=\"{mode}\"}} {v}\n");
        }
    }
    text += &format!("node_memory_MemAvailable_bytes {}\nnode_memory_MemTotal_bytes {}\n", mem.0, mem.1);
    for (dev, rx, tx) in devices {
        text += &format!("node_network_receive_bytes_total{{device=\"{dev}\"}} {rx}\n");
        text += &format!("node_network_transmit_bytes_total{{device=\"{dev}\"}} {tx}\n");
    }
    let page = parse(&text);
    assert_eq!(page.bad_lines, 0);
    page
}

fn secs(t0: Instant, s: f64) -> Instant {
    t0 + Duration::from_secs_f64(s)
}

fn figures(h: &HostState) -> crate::metrics::origin_view::HostFigures {
    h.figures(Tracker::new("x").state(Instant::now()))
}

#[test]
fn cpu_is_the_busy_share_between_scrapes_not_since_boot() {
    let (t0, mut h) = (Instant::now(), HostState::new(WINDOW));
    let mem = (6e9, 8e9);
    // Since boot: 1000 s idle and 1000 s busy per CPU (50 %); the host is idle when the run starts.
    h.read(t0, &node(&[[1000.0, 800.0, 150.0, 50.0], [1000.0, 700.0, 300.0, 0.0]], mem, &[])).unwrap();
    assert_eq!(figures(&h).cpu_percent, None, "one scrape gives no rate");
    assert_eq!(figures(&h).memory_used_percent.map(|s| s.now), Some(25.0));
    // 2 s later, 2 CPUs: 1.0 + 0.5 + 0.5 (iowait counts as busy) = 2 busy seconds of 4: 50 %.
    h.read(secs(t0, 2.0), &node(&[[1001.0, 801.0, 150.0, 50.0], [1001.5, 700.5, 300.0, 0.5]], mem, &[])).unwrap();
    assert_eq!(figures(&h).cpu_percent.map(|s| s.now), Some(50.0));
    // Then idle: 0 %.
    h.read(secs(t0, 4.0), &node(&[[1003.0, 801.0, 150.0, 50.0], [1003.5, 700.5, 300.0, 0.5]], mem, &[])).unwrap();
    assert_eq!(figures(&h).cpu_percent, Some(Stat { now: 0.0, p50: 0.0, max: 50.0 }));
}

#[test]
fn a_counter_reset_restarts_the_delta_instead_of_going_negative() {
    let (t0, mut h) = (Instant::now(), HostState::new(WINDOW));
    let mem = (1.0, 2.0);
    h.read(t0, &node(&[[100.0, 100.0, 0.0, 0.0]], mem, &[("eth0", 1e9, 5e8)])).unwrap();
    h.read(secs(t0, 1.0), &node(&[[100.5, 100.5, 0.0, 0.0]], mem, &[("eth0", 1e9 + 1000.0, 5e8 + 10.0)])).unwrap();
    let before = figures(&h);
    assert_eq!(before.cpu_percent.map(|s| s.now), Some(50.0));
    assert_eq!(before.net_rx_bytes_per_s.map(|s| s.now), Some(1000.0));
    // The host rebooted: every counter starts again near zero. No rate for this interval.
    h.read(secs(t0, 2.0), &node(&[[1.0, 0.2, 0.0, 0.0]], mem, &[("eth0", 300.0, 30.0)])).unwrap();
    let after = figures(&h);
    assert_eq!(after.cpu_percent, before.cpu_percent);
    assert_eq!(after.net_rx_bytes_per_s, before.net_rx_bytes_per_s);
    assert_eq!(after.net_tx_bytes_per_s, before.net_tx_bytes_per_s);
    // The next interval is measured from the reset values.
    h.read(secs(t0, 3.0), &node(&[[1.25, 0.95, 0.0, 0.0]], mem, &[("eth0", 800.0, 30.0)])).unwrap();
    let next = figures(&h);
    assert_eq!(next.cpu_percent.map(|s| s.now), Some(75.0));
    assert_eq!(next.net_rx_bytes_per_s.map(|s| s.now), Some(500.0));
    assert_eq!(next.net_tx_bytes_per_s.map(|s| (s.now, s.max)), Some((0.0, 10.0)));
}

#[test]
fn network_sums_devices_but_loopback_and_ignores_new_ones() {
    let (t0, mut h) = (Instant::now(), HostState::new(WINDOW));
    let mem = (1.0, 2.0);
    h.read(t0, &node(&[], mem, &[("lo", 0.0, 0.0), ("eth0", 0.0, 0.0), ("eth1", 0.0, 0.0)])).unwrap();
    let devices = [("lo", 9e9, 9e9), ("eth0", 2000.0, 400.0), ("eth1", 1000.0, 0.0), ("veth9", 5e9, 5e9)];
    h.read(secs(t0, 2.0), &node(&[], mem, &devices)).unwrap();
    let f = figures(&h);
    assert_eq!(f.net_rx_bytes_per_s.map(|s| s.now), Some(1500.0));
    assert_eq!(f.net_tx_bytes_per_s.map(|s| s.now), Some(200.0));
    assert_eq!(f.cpu_percent, None);
}

#[test]
fn recorded_node_exporter_page_reads_and_memory_matches() {
    let mut h = HostState::new(WINDOW);
    h.read(Instant::now(), &parse(NODE_EXPORTER)).unwrap();
    let mem = figures(&h).memory_used_percent.unwrap().now;
    assert!((mem - (1.0 - 2.3331926016e10 / 2.5276063744e10) * 100.0).abs() < 1e-9, "{mem}");
}

#[test]
fn a_page_that_is_not_node_exporters_is_an_error() {
    let mut h = HostState::new(WINDOW);
    let err = h.read(Instant::now(), &parse(NGINX_EXPORTER)).unwrap_err();
    assert!(err.contains("node_exporter"), "{err}");
    let err = NginxState::new(WINDOW).read(Instant::now(), &parse(NODE_EXPORTER)).unwrap_err();
    assert!(err.contains("nginx exporter"), "{err}");
}

#[test]
fn nginx_active_connections_and_request_rate() {
    let (t0, mut n) = (Instant::now(), NginxState::new(WINDOW));
    let page = |active: u32, requests: u32| {
        parse(&format!("nginx_up 1\nnginx_connections_active {active}\nnginx_http_requests_total {requests}\n"))
    };
    n.read(t0, &page(3, 1000)).unwrap();
    n.read(secs(t0, 2.0), &page(5, 1400)).unwrap();
    n.read(secs(t0, 4.0), &page(4, 1500)).unwrap();
    let f = n.figures(Tracker::new("x").state(t0));
    assert_eq!(f.active_connections, Some(Stat { now: 4.0, p50: 4.0, max: 5.0 }));
    assert_eq!(f.requests_per_s, Some(Stat { now: 50.0, p50: 50.0, max: 200.0 }));
    let err = n.read(secs(t0, 6.0), &parse("nginx_up 0\n")).unwrap_err();
    assert!(err.contains("nginx_up 0"), "{err}");
}

#[test]
fn a_failed_scrape_is_stale_with_its_error_and_age() {
    let t0 = Instant::now();
    let mut t = Tracker::new("http://127.0.0.1:9100/metrics");
    assert_eq!((t.state(t0).stale, t.state(t0).last_ok_ago), (false, None));
    assert!(t.failed("connect failed".into()), "the first failure is news");
    assert!(!t.failed("connect failed".into()), "the second is not");
    let s = t.state(t0);
    assert_eq!((s.stale, s.last_ok_ago, s.last_error.as_deref()), (true, None, Some("connect failed")));
    t.ok(t0);
    let s = t.state(secs(t0, 1.0));
    assert_eq!((s.stale, s.last_ok_ago, s.last_error), (false, Some(Duration::from_secs(1)), None));
    t.failed("HTTP 500".into());
    let s = t.state(secs(t0, 7.0));
    assert_eq!(
        (s.stale, s.last_ok_ago, s.last_error.as_deref()),
        (true, Some(Duration::from_secs(7)), Some("HTTP 500"))
    );
    assert_eq!(s.url, "http://127.0.0.1:9100/metrics");
}

#[test]
fn window_p50_and_max_forget_old_values() {
    let (t0, mut s) = (Instant::now(), Series::new(Duration::from_secs(2)));
    assert_eq!(s.stat(), None);
    for (t, v) in [(0.0, 90.0), (1.0, 30.0), (2.0, 20.0), (3.0, 50.0), (3.5, 10.0)] {
        s.push(secs(t0, t), v);
    }
    // 90 and 30 are over 2 s old; 20, 50, 10 remain: median (nearest rank) 20, max 50.
    assert_eq!(s.stat(), Some(Stat { now: 10.0, p50: 20.0, max: 50.0 }));
    s.push(secs(t0, 9.0), 7.0);
    assert_eq!(s.stat(), Some(Stat { now: 7.0, p50: 7.0, max: 7.0 }));
    s.push(secs(t0, 9.5), f64::NAN);
    assert_eq!(s.stat().map(|s| s.now), Some(7.0), "non-finite values are not figures");
}

#[test]
fn builtin_rates_come_from_its_counters() {
    let (t0, mut b) = (Instant::now(), BuiltinState::new(WINDOW));
    let r = |req: u64, bytes: u64| BuiltinReading {
        requests_total: req,
        segment_requests_total: req / 2,
        body_bytes_total: bytes,
        segment_bytes_total: bytes - req,
        connections_active: 3,
    };
    b.read(t0, r(10, 10_000));
    assert_eq!(b.figures().requests_per_s, None);
    b.read(secs(t0, 2.0), r(30, 4_010_000));
    let f = b.figures();
    assert_eq!((f.requests_total, f.segment_requests_total, f.body_bytes_total), (30, 15, 4_010_000));
    assert_eq!(f.requests_per_s.map(|s| s.now), Some(10.0));
    assert_eq!(f.bytes_per_s.map(|s| s.now), Some(2_000_000.0));
    assert_eq!(f.connections_active, 3);
}
