//! The engine's words for how a viewer's session goes on or ends, shared by both engines: the run's
//! [`StopSignal`], the [`Stopped`] outcome every wait can return (so `?` carries a stop up), and how a
//! session ended ([`SessionEnd`]).

use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A viewer's view of the run's stop signal: once set, it starts no new request. A session of several
/// tracks adds a signal of its own ([`StopSignal::for_session`]): one track's failure stops the others
/// as the run's stop would, each letting its request in flight finish.
#[derive(Clone)]
pub struct StopSignal {
    run: watch::Receiver<bool>,
    session: Option<watch::Receiver<bool>>,
}

/// The run is stopping: whatever waited or was about to start a request gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped;

/// Stops one session's tracks (see [`StopSignal::for_session`]).
pub struct SessionStop(watch::Sender<bool>);

impl SessionStop {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl StopSignal {
    pub fn new(run: watch::Receiver<bool>) -> Self {
        Self { run, session: None }
    }

    /// This signal, also set by the returned [`SessionStop`].
    pub fn for_session(&self) -> (StopSignal, SessionStop) {
        let (tx, rx) = watch::channel(false);
        (StopSignal { run: self.run.clone(), session: Some(rx) }, SessionStop(tx))
    }

    pub fn is_set(&self) -> bool {
        *self.run.borrow() || self.session.as_ref().is_some_and(|s| *s.borrow())
    }

    /// `Err(Stopped)` once the run is stopping: the check before a new request.
    pub fn check(&self) -> Result<(), Stopped> {
        if self.is_set() { Err(Stopped) } else { Ok(()) }
    }

    /// Sleeps until `deadline`, or returns `Stopped` when the stop signal comes first.
    pub async fn sleep_until(&mut self, deadline: Instant) -> Result<(), Stopped> {
        self.check()?;
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => {}
            _ = self.stopped() => {}
        }
        self.check()
    }

    /// Completes when the stop signal is set (never before).
    pub async fn stopped(&mut self) {
        let run = async {
            let _ = self.run.wait_for(|s| *s).await;
        };
        match self.session.as_mut() {
            None => run.await,
            Some(session) => {
                // A session signal whose sender is gone never fires: only the run's then.
                let session = async {
                    if session.wait_for(|s| *s).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                tokio::select! {
                    _ = run => {}
                    _ = session => {}
                }
            }
        }
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
