//! Taking the terminal (raw mode, alternate screen, hidden cursor) and giving it back on every way out:
//! the guard's `Drop` on a normal or early return, and a panic hook that restores the terminal before
//! the panic message is printed (otherwise the message would be drawn into the alternate screen in raw
//! mode and vanish with it). Restoring is idempotent, so the hook and the guard can both run, and it
//! takes turns with drawing, so the drawing thread cannot paint over a panic message after a restore.

use std::cell::Cell;
use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Mutex, Once, PoisonError};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};

/// The terminal is in dashboard mode (raw, alternate screen): something to restore.
static ACTIVE: AtomicBool = AtomicBool::new(false);

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the dashboard draws; dropping it restores the terminal.
pub struct TerminalGuard {
    terminal: Term,
}

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, SeqCst);
        let setup = execute!(io::stdout(), EnterAlternateScreen, Hide)
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())))
            .and_then(|mut terminal| terminal.clear().map(|()| terminal));
        match setup {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    pub fn terminal(&mut self) -> &mut Term {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Runs `draw` while the terminal is still the dashboard's, or returns `None` once it was given back
/// (e.g. by the panic hook after a panic on another thread). Drawing and restoring take the same lock,
/// so a frame never lands on the main screen over a panic message.
pub fn while_active<R>(draw: impl FnOnce() -> R) -> Option<R> {
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    if !ACTIVE.load(SeqCst) {
        return None;
    }
    DRAWING.set(true);
    let _reset = Reset;
    Some(draw())
}

/// Serializes drawing and restoring.
static TURN: Mutex<()> = Mutex::new(());

thread_local! {
    /// This thread holds [`TURN`] to draw: a panic inside the drawing restores without taking it again.
    static DRAWING: Cell<bool> = const { Cell::new(false) };
}

struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        DRAWING.set(false);
    }
}

/// Leaves raw mode and the alternate screen and shows the cursor, once; errors are ignored because
/// this runs on the way out (drop, panic) where nothing better can be done. Waits for a frame being
/// drawn on another thread to finish.
pub fn restore() {
    let _turn = (!DRAWING.get()).then(|| TURN.lock().unwrap_or_else(PoisonError::into_inner));
    if ACTIVE.swap(false, SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
    }
}

/// Chains a hook that restores the terminal in front of the current one; installed once per process,
/// and a no-op while the dashboard is not up.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
