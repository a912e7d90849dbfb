//! What a finished run leaves behind: the text summary (stdout) and the JSON report
//! (`schema/report.schema.json`). Both are built from the final [`Snapshot`], never from live state.

#[cfg(test)]
mod fixture;
mod json;
mod summary;
pub mod thresholds;

use std::sync::Arc;

use crate::live::RunInfo;
use crate::metrics::origin_view::OriginView;
use crate::origin::{Counters, ServedKind};

pub use json::{REPORT_SCHEMA_VERSION, Report, build_report, report_json};
pub use summary::{bytes, progress_line, summary};

/// What the reports need besides the snapshot: the run's facts (the same the live consumers read) and
/// what its end adds.
#[derive(Clone, Debug)]
pub struct RunMeta {
    pub info: Arc<RunInfo>,
    /// Viewers still busy when the drain timeout ran out.
    pub abandoned: usize,
    /// The built-in origin's own counts, when it was the target.
    pub origin: Option<BuiltinOriginCounts>,
    /// The last view of the origin-metrics scraper, when anything was scraped.
    pub origin_metrics: Option<OriginView>,
}

/// What the origin says it served, by kind (`multivariant`, `media_playlist`, `segment`, `init`, `key`,
/// `other`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct BuiltinOriginCounts {
    pub source: &'static str,
    pub requests: std::collections::BTreeMap<&'static str, u64>,
    pub bytes: std::collections::BTreeMap<&'static str, u64>,
}

impl BuiltinOriginCounts {
    /// Reads the built-in origin's counters.
    pub fn from_counters(c: &Counters) -> Self {
        let mut t = BuiltinOriginCounts { source: "built-in", ..Default::default() };
        for kind in ServedKind::ALL {
            t.requests.insert(kind.as_str(), c.requests_all(kind));
            t.bytes.insert(kind.as_str(), c.body_bytes(kind));
        }
        t
    }
}
