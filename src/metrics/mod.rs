//! Metrics in and out.
//! - the run's Prometheus endpoint: `exporter` (the HTTP side), `exposition` (what it says), `text`
//!   (the 0.0.4 text format);
//! - the origin side: [`textformat`] (a Prometheus text-format parser, pure), `derive` (from successive
//!   pages to rates and windowed figures, pure), [`scrape`] (the task that scrapes node_exporter and the
//!   nginx exporter and reads the built-in origin's counters), publishing an [`origin::OriginView`] that
//!   the dashboard, the exporter and the report show.

mod derive;
pub mod exporter;
pub mod exposition;
pub mod origin;
pub mod scrape;
pub mod text;
pub mod textformat;

pub use scrape::{ScrapeConfig, spawn_scraper};

#[cfg(test)]
mod tests;
