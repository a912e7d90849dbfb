//! From successive scrapes to the figures of an [`OriginView`](super::origin_view::OriginView): pure state
//! machines fed with (instant, page) pairs, so every rule is tested without a network.
//!
//! Rules:
//! - A rate is the increase of a counter between two scrapes over the time between them, never a
//!   counter divided by uptime: "CPU since boot" hides the load the swarm adds.
//! - A counter that goes down (exporter or host restart, device re-created) restarts the delta from its
//!   new value: that interval yields no rate rather than a negative one.
//! - A failed scrape marks the source stale and keeps the last good figures: a dashboard that shows 0 %
//!   CPU because a scrape timed out lies exactly when the origin is overloaded.
//! - Each figure is a [`Stat`]: the latest value, and the median and max over the window.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::origin_view::{BuiltInFigures, HostFigures, NginxFigures, SourceState, Stat};
use super::text_parser::Exposition;
use crate::origin::{Counters, ServedKind};

/// Most points a [`Series`] keeps, whatever the window and interval.
const MAX_POINTS: usize = 4096;

/// One figure's recent values, for its [`Stat`] over a time window.
#[derive(Clone, Debug)]
pub struct Series {
    window: Duration,
    points: VecDeque<(Instant, f64)>,
}

impl Series {
    pub fn new(window: Duration) -> Self {
        Self { window, points: VecDeque::new() }
    }

    /// Adds a value and drops those that left the window (the newest point always stays).
    pub fn push(&mut self, at: Instant, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.points.push_back((at, value));
        while self.points.len() > MAX_POINTS
            || self.points.front().is_some_and(|(t, _)| at.saturating_duration_since(*t) > self.window)
        {
            self.points.pop_front();
        }
    }

    /// Latest value, median (nearest rank: the smallest value with at least half the points at or
    /// below it) and max; `None` before the first value.
    pub fn stat(&self) -> Option<Stat> {
        let (_, now) = *self.points.back()?;
        let mut values: Vec<f64> = self.points.iter().map(|(_, v)| *v).collect();
        values.sort_unstable_by(f64::total_cmp);
        Some(Stat { now, p50: values[(values.len() - 1) / 2], max: values[values.len() - 1] })
    }
}

/// The previous readings of a set of counter series (keyed by their labels), for their summed
/// increase between two scrapes.
#[derive(Clone, Debug, Default)]
pub struct CounterDelta {
    prev: Option<(Instant, HashMap<String, f64>)>,
}

impl CounterDelta {
    /// Sum of the increases of the series present in both scrapes, and the time between the scrapes.
    /// `None` on the first reading and after a reset (any series went down), which both start the
    /// delta afresh from `now`. Series that appear or vanish between scrapes add nothing.
    pub fn update(&mut self, at: Instant, now: HashMap<String, f64>) -> Option<(f64, Duration)> {
        let prev = self.prev.take();
        let delta = prev.and_then(|(then, old)| Some((increase(&old, &now)?, at.saturating_duration_since(then))));
        self.prev = Some((at, now));
        delta.filter(|(inc, dt)| !dt.is_zero() && inc.is_finite())
    }

    /// The per-second rate of [`CounterDelta::update`].
    pub fn rate(&mut self, at: Instant, now: HashMap<String, f64>) -> Option<f64> {
        self.update(at, now).map(|(inc, dt)| inc / dt.as_secs_f64())
    }
}

/// Summed increase of the series in both maps; `None` when any went down.
fn increase(old: &HashMap<String, f64>, new: &HashMap<String, f64>) -> Option<f64> {
    let mut sum = 0.0;
    for (key, v) in new {
        match old.get(key) {
            Some(o) if v < o => return None,
            Some(o) => sum += v - o,
            None => {}
        }
    }
    Some(sum)
}

/// Health of one scraped source.
#[derive(Clone, Debug)]
pub struct Tracker {
    url: String,
    last_ok: Option<Instant>,
    stale: bool,
    last_error: Option<String>,
}

impl Tracker {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), last_ok: None, stale: false, last_error: None }
    }

    /// Records a good scrape; the error of an earlier failure goes with the staleness.
    pub fn ok(&mut self, at: Instant) {
        self.last_ok = Some(at);
        self.stale = false;
        self.last_error = None;
    }

    /// Records a failure; returns true when the source was fine until now (worth one log line).
    pub fn failed(&mut self, error: String) -> bool {
        let news = !self.stale;
        self.stale = true;
        self.last_error = Some(error);
        news
    }

    pub fn state(&self, now: Instant) -> SourceState {
        SourceState {
            url: self.url.clone(),
            last_ok_ago: self.last_ok.map(|t| now.saturating_duration_since(t)),
            stale: self.stale,
            last_error: self.last_error.clone(),
        }
    }
}

/// Figures derived from node_exporter pages.
#[derive(Clone, Debug)]
pub struct HostState {
    cpu_busy: CounterDelta,
    rx: CounterDelta,
    tx: CounterDelta,
    cpu: Series,
    memory: Series,
    rx_rate: Series,
    tx_rate: Series,
}

impl HostState {
    pub fn new(window: Duration) -> Self {
        Self {
            cpu_busy: CounterDelta::default(),
            rx: CounterDelta::default(),
            tx: CounterDelta::default(),
            cpu: Series::new(window),
            memory: Series::new(window),
            rx_rate: Series::new(window),
            tx_rate: Series::new(window),
        }
    }

    /// Reads one page; an error when it holds none of the node_exporter series used here.
    pub fn read(&mut self, at: Instant, page: &Exposition) -> Result<(), String> {
        let mut busy = HashMap::new();
        let mut cpus = HashSet::new();
        for s in page.named("node_cpu_seconds_total") {
            let (cpu, mode) = (s.label("cpu").unwrap_or(""), s.label("mode").unwrap_or(""));
            cpus.insert(cpu);
            if mode != "idle" {
                busy.insert(format!("{cpu}/{mode}"), s.value);
            }
        }
        let total = page.value("node_memory_MemTotal_bytes");
        let rx = per_device(page, "node_network_receive_bytes_total");
        let tx = per_device(page, "node_network_transmit_bytes_total");
        if cpus.is_empty() && total.is_none() && rx.is_empty() && tx.is_empty() {
            return Err("no node_cpu_seconds_total, node_memory_* or node_network_* series: \
                        is this node_exporter's /metrics?"
                .into());
        }
        if !cpus.is_empty()
            && let Some((busy, dt)) = self.cpu_busy.update(at, busy)
        {
            // Busy CPU-seconds over available CPU-seconds; timing jitter between scrapes can
            // push it a hair past 100.
            let percent = busy / (dt.as_secs_f64() * cpus.len() as f64) * 100.0;
            self.cpu.push(at, percent.clamp(0.0, 100.0));
        }
        if let (Some(total), Some(avail)) = (total, page.value("node_memory_MemAvailable_bytes"))
            && total > 0.0
        {
            self.memory.push(at, ((1.0 - avail / total) * 100.0).clamp(0.0, 100.0));
        }
        if let Some(r) = self.rx.rate(at, rx) {
            self.rx_rate.push(at, r);
        }
        if let Some(r) = self.tx.rate(at, tx) {
            self.tx_rate.push(at, r);
        }
        Ok(())
    }

    pub fn figures(&self, source: SourceState) -> HostFigures {
        HostFigures {
            source,
            cpu_percent: self.cpu.stat(),
            memory_used_percent: self.memory.stat(),
            net_rx_bytes_per_s: self.rx_rate.stat(),
            net_tx_bytes_per_s: self.tx_rate.stat(),
        }
    }
}

/// A counter per network device, loopback left out (its traffic never leaves the host).
fn per_device(page: &Exposition, name: &str) -> HashMap<String, f64> {
    page.named(name)
        .filter_map(|s| {
            let dev = s.label("device").unwrap_or("");
            (dev != "lo").then(|| (dev.to_owned(), s.value))
        })
        .collect()
}

/// Figures derived from nginx exporter pages (nginx's `stub_status`).
#[derive(Clone, Debug)]
pub struct NginxState {
    requests: CounterDelta,
    active: Series,
    request_rate: Series,
}

impl NginxState {
    pub fn new(window: Duration) -> Self {
        Self { requests: CounterDelta::default(), active: Series::new(window), request_rate: Series::new(window) }
    }

    /// Reads one page; an error when the exporter says it cannot reach nginx, or the page is not
    /// the nginx exporter's.
    pub fn read(&mut self, at: Instant, page: &Exposition) -> Result<(), String> {
        if page.value("nginx_up") == Some(0.0) {
            return Err("the nginx exporter cannot read nginx's stub_status (nginx_up 0)".into());
        }
        let active = page.value("nginx_connections_active");
        let requests = page.value("nginx_http_requests_total");
        if active.is_none() && requests.is_none() {
            return Err("no nginx_connections_active or nginx_http_requests_total: \
                        is this the nginx exporter's /metrics?"
                .into());
        }
        if let Some(a) = active {
            self.active.push(at, a);
        }
        if let Some(r) = requests.and_then(|r| self.requests.rate(at, HashMap::from([(String::new(), r)]))) {
            self.request_rate.push(at, r);
        }
        Ok(())
    }

    pub fn figures(&self, source: SourceState) -> NginxFigures {
        NginxFigures { source, active_connections: self.active.stat(), requests_per_s: self.request_rate.stat() }
    }
}

/// One reading of the built-in origin's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BuiltinReading {
    pub requests_total: u64,
    pub segment_requests_total: u64,
    pub body_bytes_total: u64,
    pub segment_bytes_total: u64,
    pub connections_active: i64,
}

impl BuiltinReading {
    pub fn from_counters(c: &Counters) -> Self {
        Self {
            requests_total: ServedKind::ALL.iter().map(|&k| c.requests_all(k)).sum(),
            segment_requests_total: c.requests_all(ServedKind::Segment),
            body_bytes_total: ServedKind::ALL.iter().map(|&k| c.body_bytes(k)).sum(),
            segment_bytes_total: c.body_bytes(ServedKind::Segment),
            connections_active: c.connections_active(),
        }
    }
}

/// Figures of the built-in origin ("origin sent"), read in-process.
#[derive(Clone, Debug)]
pub struct BuiltinState {
    last: BuiltinReading,
    requests: CounterDelta,
    bytes: CounterDelta,
    request_rate: Series,
    byte_rate: Series,
}

impl BuiltinState {
    pub fn new(window: Duration) -> Self {
        Self {
            last: BuiltinReading::default(),
            requests: CounterDelta::default(),
            bytes: CounterDelta::default(),
            request_rate: Series::new(window),
            byte_rate: Series::new(window),
        }
    }

    pub fn read(&mut self, at: Instant, r: BuiltinReading) {
        self.last = r;
        let one = |v: u64| HashMap::from([(String::new(), v as f64)]);
        if let Some(rate) = self.requests.rate(at, one(r.requests_total)) {
            self.request_rate.push(at, rate);
        }
        if let Some(rate) = self.bytes.rate(at, one(r.body_bytes_total)) {
            self.byte_rate.push(at, rate);
        }
    }

    pub fn figures(&self) -> BuiltInFigures {
        let r = &self.last;
        BuiltInFigures {
            requests_total: r.requests_total,
            segment_requests_total: r.segment_requests_total,
            body_bytes_total: r.body_bytes_total,
            segment_bytes_total: r.segment_bytes_total,
            bytes_per_s: self.byte_rate.stat(),
            requests_per_s: self.request_rate.stat(),
            connections_active: r.connections_active,
        }
    }
}
