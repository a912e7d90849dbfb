//! The real binary's dashboard in a real terminal: tmux runs `hls-swarm run` against the built-in origin,
//! the test reads the screen with `capture-pane`, quits with `q`, and checks that the run stopped the
//! normal way (summary printed, report written) and left the terminal as it found it.
//!
//! Needs tmux (scripts/test.sh installs it); fails loudly without it. Each test uses its own tmux server
//! socket (`-L`), so parallel tests and a user's own tmux sessions do not interfere.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A private tmux server, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.is_ok_and(|o| o.status.success()),
            "tmux is missing: install it (Debian: apt-get install tmux; scripts/test.sh does)"
        );
        Tmux { socket: format!("hls-swarm-test-{name}-{}", std::process::id()) }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("run tmux");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "test"]).stdout).into_owned()
    }

    fn display(&self, format: &str) -> String {
        String::from_utf8_lossy(&self.run(&["display-message", "-p", "-t", "test", format]).stdout).trim().to_string()
    }

    /// Polls the screen until `done` holds, for at most `limit`; returns the last screen either way.
    fn wait_for(&self, limit: Duration, done: impl Fn(&str) -> bool) -> (bool, String) {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if done(&screen) || Instant::now() > deadline {
                return (done(&screen), screen);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("hls-swarm-{name}-{}", std::process::id()))
}

/// The shell line run in the pane: the run, then its exit code and whether the terminal is back in
/// canonical mode with echo (raw mode left), then a pause so the pane stays readable.
fn pane_command(report: &std::path::Path) -> String {
    format!(
        "{bin} run --duration 30s --clients 4 --report {report}; \
         echo \"exit code $?\"; \
         echo \"tty: $(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' ')\"; \
         sleep 120",
        bin = env!("CARGO_BIN_EXE_hls-swarm"),
        report = report.display(),
    )
}

#[test]
fn dashboard_quits_with_q_and_restores_the_terminal() {
    let tmux = Tmux::new("quit");
    let report = temp_path("tui-report.json");
    let _ = std::fs::remove_file(&report);
    let command = pane_command(&report);
    tmux.run(&["new-session", "-d", "-s", "test", "-x", "120", "-y", "40", "sh", "-c", &command]);

    let panels = ["Requests", "Segment throughput", "Latency, last 30 s", "Playback", "Errors, last 30 s"];
    let (up, screen) =
        tmux.wait_for(Duration::from_secs(20), |s| panels.iter().all(|p| s.contains(p)) && s.contains("viewers 4/4"));
    assert!(up, "the dashboard did not show its panels:\n{screen}");
    assert_eq!(tmux.display("#{alternate_on}"), "1", "the dashboard draws on the alternate screen");
    assert!(screen.contains("q / Ctrl-C"), "{screen}");

    tmux.run(&["send-keys", "-t", "test", "q"]);
    let (exited, screen) = tmux.wait_for(Duration::from_secs(20), |s| s.contains("tty: "));
    assert!(exited, "hls-swarm did not exit after q:\n{screen}");
    assert!(screen.contains("exit code 0"), "{screen}");
    assert!(screen.contains("tty: icanon echo"), "raw mode was not left:\n{screen}");
    assert_eq!(tmux.display("#{alternate_on}"), "0", "the alternate screen was not left:\n{screen}");
    assert_eq!(tmux.display("#{cursor_flag}"), "1", "the cursor is still hidden");
    for text in ["hls-swarm native engine: 4 viewers", "segment", "report written to"] {
        assert!(screen.contains(text), "the summary is missing {text:?}:\n{screen}");
    }
    assert!(!screen.contains("Latency, last 30 s"), "dashboard leftovers on the main screen:\n{screen}");

    let text = std::fs::read_to_string(&report).expect("the report was written");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the report is JSON");
    assert_eq!(json["schema_version"], 1);
    assert!(json["requests"]["segment"]["count"].as_u64().unwrap() > 0, "{json}");
    let _ = std::fs::remove_file(&report);
}

#[test]
fn no_tui_prints_progress_lines_in_a_terminal() {
    let tmux = Tmux::new("no-tui");
    let command = format!(
        "{bin} run --no-tui --duration 6s --clients 2; echo \"exit code $?\"; sleep 120",
        bin = env!("CARGO_BIN_EXE_hls-swarm"),
    );
    tmux.run(&["new-session", "-d", "-s", "test", "-x", "120", "-y", "40", "sh", "-c", &command]);
    let (done, screen) = tmux.wait_for(Duration::from_secs(30), |s| s.contains("exit code"));
    assert!(done, "the run did not end:\n{screen}");
    assert!(screen.contains("exit code 0"), "{screen}");
    assert!(screen.contains("s] viewers 2/2 | "), "no progress line:\n{screen}");
    assert!(!screen.contains("Latency, last 30 s"), "the dashboard ran despite --no-tui:\n{screen}");
}

/// Set in the environment of the child test that panics under the dashboard.
const PANIC_CHILD: &str = "HLS_SWARM_TUI_PANIC_CHILD";

#[test]
fn a_panic_restores_the_terminal_before_its_message() {
    let tmux = Tmux::new("panic");
    let exe = std::env::current_exe().expect("the test binary's path");
    let command = format!(
        "{PANIC_CHILD}=1 {exe} --exact panic_child --ignored --nocapture --test-threads 1; \
         echo \"tty: $(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' ')\"; \
         sleep 120",
        exe = exe.display(),
    );
    tmux.run(&["new-session", "-d", "-s", "test", "-x", "100", "-y", "30", "sh", "-c", &command]);
    let (up, screen) = tmux.wait_for(Duration::from_secs(20), |s| s.contains("Latency, last 30 s"));
    assert!(up, "the dashboard did not show:\n{screen}");
    tmux.run(&["send-keys", "-t", "test", "q"]);
    let (done, screen) = tmux.wait_for(Duration::from_secs(20), |s| s.contains("tty: "));
    assert!(done, "the child did not end:\n{screen}");
    assert!(screen.contains("deliberate panic under the dashboard"), "the panic message is not on screen:\n{screen}");
    assert!(screen.contains("tty: icanon echo"), "raw mode was not left:\n{screen}");
    assert_eq!(tmux.display("#{alternate_on}"), "0", "the alternate screen was not left:\n{screen}");
    assert!(!screen.contains("Latency, last 30 s"), "the dashboard drew over the panic message:\n{screen}");
}

/// Run by the test above inside tmux: shows the dashboard, and panics once `q` is pressed.
#[test]
#[ignore = "run inside tmux by a_panic_restores_the_terminal_before_its_message"]
fn panic_child() {
    use hls_swarm::live::{LiveFeed, RunInfo};
    use hls_swarm::metrics::origin_view::OriginView;
    use hls_swarm::stats::Snapshot;
    use std::sync::Arc;
    use tokio::sync::watch;

    assert!(
        std::env::var_os(PANIC_CHILD).is_some(),
        "panic_child runs only inside tmux, started by a_panic_restores_the_terminal_before_its_message"
    );
    let (_snapshots_tx, snapshots) = watch::channel(Arc::new(Snapshot::empty()));
    let (_origin_tx, origin) = watch::channel(Arc::new(OriginView::default()));
    let info = RunInfo {
        target: "http://127.0.0.1:1/master.m3u8".into(),
        engine: "native",
        clients_target: 1,
        duration: None,
        ramp_rate: 1.0,
        started: Instant::now(),
        started_at: std::time::SystemTime::UNIX_EPOCH,
        ladder: Vec::new(),
    };
    let feed = LiveFeed { info: Arc::new(info), snapshots, origin };
    let mut dashboard = hls_swarm::tui::Dashboard::start(feed, None).expect("the dashboard starts");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(dashboard.stop_signal(std::future::pending()));
    panic!("deliberate panic under the dashboard");
}
