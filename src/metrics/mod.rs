//! Metrics in and out: the Prometheus exporter of the swarm's snapshots (`exporter`), and the origin
//! side: a Prometheus text-format parser ([`textformat`]) and the scraper of node_exporter, nginx
//! exporter or the built-in origin, whose derived figures ([`origin`]) the dashboard, the exporter
//! and the report show.

pub mod origin;
pub mod textformat;

#[cfg(test)]
mod tests;
