//! The engine's words for how a viewer's session goes on or ends, shared by both engines: the run's
//! [`StopSignal`], the [`Stopped`] outcome every wait can return (so `?` carries a stop up), and how a
//! session ended ([`SessionEnd`]).

use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A viewer's view of the run's stop signal: once set, it starts no new request.
#[derive(Clone)]
pub struct StopSignal(pub watch::Receiver<bool>);

/// The run is stopping: whatever waited or was about to start a request gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped;

impl StopSignal {
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// `Err(Stopped)` once the run is stopping: the check before a new request.
    pub fn check(&self) -> Result<(), Stopped> {
        if self.is_set() { Err(Stopped) } else { Ok(()) }
    }

    /// Sleeps until `deadline`, or returns `Stopped` when the stop signal comes first.
    pub async fn sleep_until(&mut self, deadline: Instant) -> Result<(), Stopped> {
        self.check()?;
        let stop = &mut self.0;
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => {}
            _ = async { let _ = stop.wait_for(|s| *s).await; } => {}
        }
        self.check()
    }

    /// Completes when the stop signal is set (never before).
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }
}

/// How a session ended without error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// The run's stop signal.
    Stopped,
    /// A VOD stream played to its end; the viewer starts over, no sooner than `pace` after the session
    /// began (one target duration: a VOD whose durations add up to nothing must not replay in a loop).
    Finished { pace: Duration },
}

impl From<Stopped> for SessionEnd {
    fn from(_: Stopped) -> SessionEnd {
        SessionEnd::Stopped
    }
}
