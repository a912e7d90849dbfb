//! Metrics in and out: the Prometheus exporter of the swarm's snapshots (`exporter`: the HTTP side;
//! `exposition`: what it says; `text`: the 0.0.4 text format), and the origin side: a Prometheus
//! text-format parser and the scraper of node_exporter, nginx exporter or the built-in origin
//! (`origin`), whose derived figures the dashboard, the exporter and the report show.

pub mod exporter;
pub mod exposition;
pub mod origin;
pub mod text;
