//! Metrics in and out.
//! - the run's Prometheus endpoint: `exporter` (the HTTP side), `exposition` (what it says), `text_writer`
//!   (the 0.0.4 text format);
//! - the origin side: [`text_parser`] (a Prometheus text-format parser, pure), `derive` (from successive
//!   pages to rates and windowed figures, pure), [`scrape`] (the task that scrapes node_exporter and the
//!   nginx exporter and reads the built-in origin's counters), publishing an [`origin_view::OriginView`] that
//!   the dashboard, the exporter and the report show.

mod derive;
pub mod exporter;
pub mod exposition;
pub mod origin_view;
pub mod scrape;
pub mod text_parser;
pub mod text_writer;

pub use scrape::{ScrapeConfig, spawn_scraper};

#[cfg(test)]
mod tests;
