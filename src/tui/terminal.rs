//! Taking the terminal (raw mode, alternate screen, hidden cursor) and giving it back on every way out:
//! the guard's `Drop` on a normal or early return, and a panic hook that restores the terminal before
//! the panic message is printed (otherwise the message would be drawn into the alternate screen in raw
//! mode and vanish with it). Restoring is idempotent, so the hook and the guard can both run.

use std::io::{self, Stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

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
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match setup {
            Ok(mut terminal) => {
                terminal.clear()?;
                Ok(TerminalGuard { terminal })
            }
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

/// False once the terminal was given back, e.g. by the panic hook after a panic on another thread: the
/// dashboard must not draw over the panic message.
pub fn is_active() -> bool {
    ACTIVE.load(SeqCst)
}

/// Leaves raw mode and the alternate screen and shows the cursor, once; errors are ignored because
/// this runs on the way out (drop, panic) where nothing better can be done.
pub fn restore() {
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
