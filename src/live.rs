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
