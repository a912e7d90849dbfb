//! What the consumers of a run (dashboard, Prometheus exporter, progress lines, and at the end the
//! reports) know of it besides the snapshots: its fixed facts, and the two `watch` channels they read.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use crate::metrics::origin_view::OriginView;
use crate::stats::Snapshot;

/// Facts fixed for the whole run.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub target: String,
    pub engine: &'static str,
    pub clients_target: u32,
    /// `None`: until Ctrl-C.
    pub duration: Option<Duration>,
    pub ramp_rate: f64,
    /// The run's start: `started` for durations, `started_at` for the reports' wall clock.
    pub started: Instant,
    pub started_at: SystemTime,
    /// The variants of the multivariant playlist the run was given (empty for a media playlist URL):
    /// what the per-variant figures are labelled with.
    pub ladder: Vec<Rung>,
}

/// One variant of the ladder, as reports name it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rung {
    pub index: u16,
    /// `720p` from the resolution; with the bandwidth (`720p@2500k`) when two share a height; the
    /// bandwidth (`2500k`) without a resolution.
    pub label: String,
    pub bandwidth: u64,
    pub uri: String,
}

impl Rung {
    /// The ladder of a multivariant playlist.
    pub fn ladder(variants: &[crate::hls::Variant]) -> Vec<Rung> {
        let height = |v: &crate::hls::Variant| v.resolution.map(|(_, h)| h);
        let label = |v: &crate::hls::Variant| match height(v) {
            Some(h) if variants.iter().filter(|o| height(o) == Some(h)).count() == 1 => format!("{h}p"),
            _ => v.label(),
        };
        let mut rungs: Vec<Rung> = variants
            .iter()
            .map(|v| Rung {
                index: u16::try_from(v.index).unwrap_or(u16::MAX),
                label: label(v),
                bandwidth: v.bandwidth,
                uri: v.uri.to_string(),
            })
            .collect();
        // Labels are unique: a report's readers key on them.
        for i in 0..rungs.len() {
            if rungs[..i].iter().any(|r| r.label == rungs[i].label) {
                rungs[i].label = format!("v{}", rungs[i].index);
            }
        }
        rungs
    }

    /// The label of variant `index` in `ladder`, `others` for the slot beyond the cap, `v<index>` else.
    pub fn label_of(ladder: &[Rung], index: u16) -> String {
        if usize::from(index) >= crate::stats::MAX_RENDITIONS {
            return "others".into();
        }
        ladder.iter().find(|r| r.index == index).map_or_else(|| format!("v{index}"), |r| r.label.clone())
    }
}

impl RunInfo {
    /// Viewers that should have started by `elapsed` (ramp progress).
    pub fn ramp_expected(&self, elapsed: Duration) -> u32 {
        let n = (elapsed.as_secs_f64() * self.ramp_rate).floor() as u64 + 1;
        n.min(u64::from(self.clients_target)) as u32
    }
}

/// The read side of a live run; cheap to clone, one per consumer.
#[derive(Clone)]
pub struct LiveFeed {
    pub info: Arc<RunInfo>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub origin: watch::Receiver<Arc<OriginView>>,
}
