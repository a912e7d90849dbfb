//! What the origin side looks like to the consumers. The scraper ([`super::scrape`]) fills an
//! [`OriginView`] every `--origin-metrics-interval` and publishes it on a `watch` channel; consumers
//! only read it. The final view goes into the JSON report as `origin_metrics`.

use std::time::Duration;

use serde::{Serialize, Serializer};

/// A derived figure: its latest value and its p50 and max over `--origin-metrics-window`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Stat {
    pub now: f64,
    pub p50: f64,
    pub max: f64,
}

fn seconds<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    d.map(|d| d.as_secs_f64()).serialize(s)
}

/// One scraped source's health: a failed scrape shows as stale, never as zero.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SourceState {
    /// e.g. `http://127.0.0.1:9100/metrics`.
    pub url: String,
    /// Time since the last successful scrape (`None`: never succeeded); in seconds in JSON.
    #[serde(rename = "last_ok_ago_seconds", serialize_with = "seconds")]
    pub last_ok_ago: Option<Duration>,
    /// The last scrape failed (its figures are the last good ones, or `None`).
    pub stale: bool,
    /// Why the last scrape failed; `None` while the source is fresh.
    pub last_error: Option<String>,
}

/// node_exporter figures (CPU from the delta of `node_cpu_seconds_total` between scrapes).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HostFigures {
    pub source: SourceState,
    pub cpu_percent: Option<Stat>,
    pub memory_used_percent: Option<Stat>,
    /// Over all network devices but `lo`.
    pub net_rx_bytes_per_s: Option<Stat>,
    pub net_tx_bytes_per_s: Option<Stat>,
}

/// nginx exporter figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NginxFigures {
    pub source: SourceState,
    pub active_connections: Option<Stat>,
    pub requests_per_s: Option<Stat>,
}

/// The built-in origin's own ground truth ("origin sent"), read in-process or from its `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BuiltInFigures {
    pub requests_total: u64,
    pub segment_requests_total: u64,
    pub body_bytes_total: u64,
    pub segment_bytes_total: u64,
    pub bytes_per_s: Option<Stat>,
    pub requests_per_s: Option<Stat>,
    pub connections_active: i64,
}

/// Everything known of the origin side at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OriginView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<HostFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nginx: Option<NginxFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builtin: Option<BuiltInFigures>,
}

impl OriginView {
    /// True when no origin metrics are configured (the dashboard hides its origin panel).
    pub fn is_empty(&self) -> bool {
        self.host.is_none() && self.nginx.is_none() && self.builtin.is_none()
    }
}
