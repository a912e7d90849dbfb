//! What a finished run leaves behind: the text summary (stdout) and the JSON report
//! (`schema/report.schema.json`). Both are built from the final [`Snapshot`], never from live state.

pub mod command;
pub mod compare;
#[cfg(test)]
mod fixture;
pub mod html;
mod json;
pub mod junit;
pub mod merge;
mod summary;
pub mod thresholds;

use std::sync::Arc;

use crate::live::RunInfo;
use crate::metrics::origin_view::OriginView;
use crate::origin::{Counters, ServedKind};

pub use json::{
    Aborted, MergedInput, MergedShards, REPORT_SCHEMA_VERSION, ReadError, Report, ShardReport, ThresholdReport,
    build_report, figures, report_json,
};
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
    /// What the summary says of the run's setup: e.g. viewers capped below the lowest variant.
    pub notes: Vec<String>,
}

/// What the origin says it served, by kind (`multivariant`, `media_playlist`, `segment`, `init`, `key`,
/// the low-latency `part`, `preload_hint` and `blocking_playlist`, `other`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BuiltinOriginCounts {
    pub source: String,
    pub requests: std::collections::BTreeMap<String, u64>,
    pub bytes: std::collections::BTreeMap<String, u64>,
}

impl BuiltinOriginCounts {
    /// Reads the built-in origin's counters.
    pub fn from_counters(c: &Counters) -> Self {
        let mut t = BuiltinOriginCounts { source: "built-in".into(), ..Default::default() };
        for kind in ServedKind::ALL {
            t.requests.insert(kind.as_str().into(), c.requests_all(kind));
            t.bytes.insert(kind.as_str().into(), c.body_bytes(kind));
        }
        t
    }
}

/// XML and HTML text and attribute values: the five specials, and control characters dropped (XML 1.0 has no
/// way to write most of them).
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod origin_counts_tests {
    use super::*;

    #[test]
    fn specials_are_escaped_and_controls_dropped() {
        assert_eq!(xml_escape("a < 1ms & \"b\" > 'c'\u{1}"), "a &lt; 1ms &amp; &quot;b&quot; &gt; &apos;c&apos;");
    }

    #[test]
    fn the_builtin_origin_counts_have_every_kind_low_latency_ones_included() {
        let c = Counters::with_variants(vec!["360p".into()]);
        c.record_for(ServedKind::Part, Some(0), "200", 500);
        c.record_for(ServedKind::PreloadHint, Some(0), "200", 400);
        c.record_for(ServedKind::BlockingPlaylist, Some(0), "200", 900);
        let t = BuiltinOriginCounts::from_counters(&c);
        assert_eq!(t.requests.len(), ServedKind::ALL.len());
        for (kind, bytes) in [("part", 500), ("preload_hint", 400), ("blocking_playlist", 900)] {
            assert_eq!((t.requests[kind], t.bytes[kind]), (1, bytes), "{kind}");
        }
    }
}
