//! How the run's FFmpeg processes ended, by category, and the drift of each when it ended: a summary
//! for the end of the run (the report's figures all come from the proxy's records).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::process::Exit;

/// Warnings printed for failed processes before the rest go to the debug log only.
const WARNINGS: u64 = 10;

#[derive(Debug, Default)]
pub struct Tally {
    clean: AtomicU64,
    error: AtomicU64,
    signal: AtomicU64,
    stopped: AtomicU64,
    spawn_failed: AtomicU64,
    warned: AtomicU64,
    /// Drift (s) of each process that had started playing, when it ended.
    drifts: Mutex<Vec<f64>>,
}

/// The tally at the end of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TallySummary {
    pub clean: u64,
    pub error: u64,
    pub signal: u64,
    pub stopped: u64,
    pub spawn_failed: u64,
    /// Median and largest drift at exit, in seconds.
    pub drift_median: Option<f64>,
    pub drift_max: Option<f64>,
}

impl Tally {
    pub fn exited(&self, exit: Exit, drift: Option<f64>) {
        let counter = match exit {
            Exit::Clean => &self.clean,
            Exit::Error(_) => &self.error,
            Exit::Signal(_) => &self.signal,
            Exit::Stopped => &self.stopped,
        };
        counter.fetch_add(1, Relaxed);
        if let Some(d) = drift {
            self.drifts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(d);
        }
    }

    pub fn spawn_failed(&self) {
        self.spawn_failed.fetch_add(1, Relaxed);
    }

    /// Whether a failure should be printed as a warning (the first few only).
    pub fn should_warn(&self) -> bool {
        self.warned.fetch_add(1, Relaxed) < WARNINGS
    }

    pub fn summary(&self) -> TallySummary {
        let mut drifts = self.drifts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        drifts.sort_by(f64::total_cmp);
        TallySummary {
            clean: self.clean.load(Relaxed),
            error: self.error.load(Relaxed),
            signal: self.signal.load(Relaxed),
            stopped: self.stopped.load(Relaxed),
            spawn_failed: self.spawn_failed.load(Relaxed),
            drift_median: drifts.get(drifts.len() / 2).copied(),
            drift_max: drifts.last().copied(),
        }
    }
}

impl std::fmt::Display for TallySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ffmpeg processes: {} stopped at the end, {} exited cleanly, {} with an error, {} killed by a signal",
            self.stopped, self.clean, self.error, self.signal
        )?;
        if self.spawn_failed > 0 {
            write!(f, ", {} failed to start", self.spawn_failed)?;
        }
        if let (Some(median), Some(max)) = (self.drift_median, self.drift_max) {
            write!(f, "; drift (wall minus media time) at exit: median {median:+.2} s, max {max:+.2} s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_category_and_drift() {
        let t = Tally::default();
        t.exited(Exit::Stopped, Some(-2.5));
        t.exited(Exit::Stopped, Some(-1.0));
        t.exited(Exit::Error(1), None);
        t.exited(Exit::Signal(9), Some(4.0));
        let s = t.summary();
        assert_eq!((s.stopped, s.error, s.signal, s.clean), (2, 1, 1, 0));
        assert_eq!((s.drift_median, s.drift_max), (Some(-1.0), Some(4.0)));
        assert!(s.to_string().contains("median -1.00 s, max +4.00 s"), "{s}");
    }
}
