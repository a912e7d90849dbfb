//! Metrics in and out: the Prometheus exporter of the swarm's snapshots (`exporter`), and the origin
//! side:
//! - [`textformat`]: a Prometheus text-format parser (pure);
//! - `derive`: from successive pages to rates and windowed figures (pure);
//! - [`scrape`]: the task that scrapes node_exporter and the nginx exporter, reads the built-in
//!   origin's counters, and publishes an [`origin::OriginView`] that the dashboard, the exporter and
//!   the report show.

mod derive;
pub mod origin;
pub mod scrape;
pub mod textformat;

pub use scrape::{ScrapeConfig, spawn_scraper};

#[cfg(test)]
mod tests;
