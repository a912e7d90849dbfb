//! The terminal dashboard (ratatui). It reads the aggregator's snapshots and the origin view from a
//! [`LiveFeed`] and never touches viewers; quitting it goes through the run's normal stop path (drain,
//! summary, report).
//!
//! - [`model`]: the [`ViewModel`], plain numbers built from the run's facts, the latest snapshot, the
//!   origin view and a short per-tick [`History`];
//! - [`draw()`]: a pure function of the view model, so frames are tested on ratatui's `TestBackend`;
//!   `panels`, `charts` and `origin_panel` draw the parts;
//! - `terminal`: raw mode and the alternate screen, restored by a drop guard and a panic hook.
//!
//! Threading: the dashboard runs on its own OS thread. Drawing writes to the terminal with blocking
//! I/O and waits for key presses; on its own thread a slow terminal cannot hold up the runtime the
//! viewers and the aggregator share. The `watch` channels it reads never block their sender.

mod charts;
mod draw;
mod format;
pub mod model;
mod origin_panel;
mod panels;
mod terminal;
#[cfg(test)]
mod tests;
mod widgets;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tokio::sync::oneshot;

use crate::live::LiveFeed;
pub use draw::draw;
pub use model::{History, Status, ViewModel};
use terminal::TerminalGuard;

/// Longest wait between frames: the clock moves every second and snapshots arrive once a second, so
/// four frames a second keep both current. A key press is handled at once.
const FRAME: Duration = Duration::from_millis(250);

/// The running dashboard. Dropping it (or [`Dashboard::close`]) stops drawing and restores the terminal.
pub struct Dashboard {
    exit: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
    quit: Option<oneshot::Receiver<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Dashboard {
    /// Takes over the terminal and starts drawing `feed`. `log_file` is shown in the footer (without
    /// one, the caller mutes log output while the dashboard is up).
    pub fn start(feed: LiveFeed, log_file: Option<String>) -> io::Result<Dashboard> {
        let guard = TerminalGuard::enter()?;
        let exit = Arc::new(AtomicBool::new(false));
        let stopping = Arc::new(AtomicBool::new(false));
        let (quit_tx, quit_rx) = oneshot::channel();
        let ui = Ui { feed, log_file, exit: exit.clone(), stopping: stopping.clone(), quit: Some(quit_tx) };
        let thread = std::thread::Builder::new().name("hls-swarm-tui".into()).spawn(move || ui.run(guard))?;
        Ok(Dashboard { exit, stopping, quit: Some(quit_rx), thread: Some(thread) })
    }

    /// The run's stop future: completes when `signal` does (Ctrl-C, SIGTERM) or the user quits the
    /// dashboard, or the dashboard fails (a run nobody can see is stopped the normal way, with its
    /// report). From then on the dashboard says the run is stopping.
    pub fn stop_signal<S: Future<Output = ()>>(&mut self, signal: S) -> impl Future<Output = ()> + use<S> {
        let quit = self.quit.take();
        let stopping = self.stopping.clone();
        let signal = Box::pin(signal);
        async move {
            match quit {
                Some(quit) => {
                    tokio::select! {
                        _ = signal => {}
                        _ = quit => {}
                    }
                }
                None => signal.await,
            }
            stopping.store(true, Relaxed);
        }
    }

    /// Stops drawing and restores the terminal; returns once it is restored, so the caller can print.
    pub fn close(mut self) -> io::Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.exit.store(true, Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(io::Error::other("the dashboard panicked")),
        }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The dashboard thread's state.
struct Ui {
    feed: LiveFeed,
    log_file: Option<String>,
    exit: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
    /// Sent on `q` / Ctrl-C; dropped (which also stops the run) if the thread ends first.
    quit: Option<oneshot::Sender<()>>,
}

impl Ui {
    fn run(mut self, mut guard: TerminalGuard) -> io::Result<()> {
        let mut history = History::default();
        while !self.exit.load(Relaxed) {
            let snapshot = self.feed.snapshots.borrow().clone();
            let origin = self.feed.origin.borrow().clone();
            history.observe(&snapshot);
            let status =
                Status { now: Instant::now(), stopping: self.stopping.load(Relaxed), log_file: self.log_file.clone() };
            let vm = ViewModel::build(&self.feed.info, &snapshot, &origin, &history, &status);
            match terminal::while_active(|| guard.terminal().draw(|frame| draw(frame, &vm)).map(drop)) {
                Some(drawn) => drawn?,
                None => break,
            }
            // Resizes need nothing more: the next `draw` fits the new size.
            if event::poll(FRAME)?
                && let Event::Key(key) = event::read()?
            {
                self.on_key(key);
            }
        }
        Ok(())
    }

    fn on_key(&mut self, key: KeyEvent) {
        let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        let q = matches!(key.code, KeyCode::Char('q' | 'Q')) && !key.modifiers.contains(KeyModifiers::CONTROL);
        if key.kind == KeyEventKind::Press && (q || ctrl_c) {
            if let Some(quit) = self.quit.take() {
                let _ = quit.send(());
            }
            self.stopping.store(true, Relaxed);
        }
    }
}
