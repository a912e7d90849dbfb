//! One FFmpeg process and how it ends. No FFmpeg may outlive the run, whatever happens to hls-swarm:
//!
//! - each FFmpeg leads a process group of its own, so a stop reaches anything it starts, and a Ctrl-C
//!   in the terminal (sent to hls-swarm's group) does not hit 250 FFmpegs behind the proxy's back;
//! - the normal stop is SIGTERM to the group, then SIGKILL after a grace period ([`Process::terminate`]);
//! - dropping a [`Process`] that was not waited for (an aborted task, a panic) SIGKILLs its group;
//! - the backstop for hls-swarm dying without running any of that (SIGKILL, a crash) is
//!   `PR_SET_PDEATHSIG`: the kernel sends FFmpeg SIGKILL when its parent goes. The kernel ties it to
//!   the *thread* that forked, so processes are spawned from the viewer shard threads, which live until
//!   every viewer has stopped.

use std::collections::VecDeque;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, ChildStderr, ChildStdout, Command};

use super::command::CommandSpec;

/// How a process ended, by category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exit code 0: the stream ended (VOD) or FFmpeg gave up quietly.
    Clean,
    /// A non-zero exit code FFmpeg chose (it could not open or read the stream).
    Error(i32),
    /// Killed by a signal that was not ours.
    Signal(i32),
    /// Ended after our SIGTERM or SIGKILL, whatever its status.
    Stopped,
}

impl Exit {
    pub fn of(status: ExitStatus, stopped_by_us: bool) -> Exit {
        if stopped_by_us {
            return Exit::Stopped;
        }
        match (status.code(), status.signal()) {
            (Some(0), _) => Exit::Clean,
            (Some(code), _) => Exit::Error(code),
            (None, Some(sig)) => Exit::Signal(sig),
            (None, None) => Exit::Error(-1),
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Clean => write!(f, "exited with 0"),
            Exit::Error(code) => write!(f, "exited with {code}"),
            Exit::Signal(sig) => write!(f, "killed by signal {sig}"),
            Exit::Stopped => write!(f, "stopped"),
        }
    }
}

/// A running FFmpeg, leader of its own process group.
pub struct Process {
    child: Child,
    pgid: libc::pid_t,
    reaped: bool,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

impl Process {
    pub fn spawn(spec: &CommandSpec) -> io::Result<Process> {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for name in &spec.env_remove {
            cmd.env_remove(name);
        }
        cmd.envs(spec.env_set.iter().map(|(k, v)| (k, v))).process_group(0).kill_on_drop(true);
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
        // system calls (prctl, getppid); it touches no memory shared with the parent.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died between fork and prctl: then no signal would ever come.
                if libc::getppid() as u32 != parent {
                    return Err(io::Error::other("hls-swarm exited while starting ffmpeg"));
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let pgid = child.id().map(|id| id as libc::pid_t).ok_or_else(|| io::Error::other("ffmpeg exited at once"))?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        Ok(Process { child, pgid, reaped: false, stdout, stderr })
    }

    pub fn pid(&self) -> u32 {
        self.pgid as u32
    }

    /// Waits for the process to exit (and reaps it).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.reaped = status.is_ok();
        status
    }

    /// SIGTERM to the group (FFmpeg finishes its output and exits), then SIGKILL to the group if it is
    /// still there after `grace`.
    pub async fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        self.signal_group(libc::SIGTERM);
        match tokio::time::timeout(grace, self.wait()).await {
            Ok(status) => status,
            Err(_) => {
                tracing::debug!(pid = self.pgid, "ffmpeg ignored SIGTERM for {grace:?}: SIGKILL");
                self.signal_group(libc::SIGKILL);
                self.wait().await
            }
        }
    }

    /// Signals the whole group. Only while the leader is unreaped: until then its pid, which is the
    /// group id, cannot be reused by another process.
    fn signal_group(&self, sig: libc::c_int) {
        if !self.reaped {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
            unsafe {
                libc::kill(-self.pgid, sig);
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.signal_group(libc::SIGKILL);
    }
}

/// The last lines of a process's stderr, for error messages only (never for counting anything).
#[derive(Debug)]
pub struct Tail {
    lines: VecDeque<String>,
    partial: Vec<u8>,
    max_lines: usize,
    max_len: usize,
}

impl Tail {
    pub fn new(max_lines: usize, max_len: usize) -> Self {
        Self { lines: VecDeque::with_capacity(max_lines), partial: Vec::new(), max_lines, max_len }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' || b == b'\r' {
                self.end_line();
            } else if self.partial.len() < self.max_len {
                self.partial.push(b);
            }
        }
    }

    fn end_line(&mut self) {
        if self.partial.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(&self.partial).trim_end().to_string();
        self.partial.clear();
        if self.lines.len() == self.max_lines {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// The kept lines (and an unfinished last one), joined with " | ".
    pub fn summary(&mut self) -> String {
        self.end_line();
        self.lines.iter().map(String::as_str).collect::<Vec<_>>().join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_categories() {
        assert_eq!(Exit::of(ExitStatus::from_raw(0), false), Exit::Clean);
        assert_eq!(Exit::of(ExitStatus::from_raw(1 << 8), false), Exit::Error(1));
        assert_eq!(Exit::of(ExitStatus::from_raw(9), false), Exit::Signal(9));
        assert_eq!(Exit::of(ExitStatus::from_raw(255 << 8), true), Exit::Stopped);
    }

    #[test]
    fn tail_keeps_the_last_lines_bounded() {
        let mut t = Tail::new(2, 8);
        t.feed(b"one\ntwo\r\nthree is long");
        t.feed(b"er\nfour");
        assert_eq!(t.summary(), "three is | four");
    }

    #[tokio::test]
    async fn terminate_ends_the_whole_group() {
        let spec = CommandSpec {
            program: "sh".into(),
            args: vec!["-c".into(), "trap '' TERM; sleep 30 & wait".into()],
            env_set: Vec::new(),
            env_remove: Vec::new(),
        };
        let mut p = Process::spawn(&spec).unwrap();
        let pgid = p.pid() as libc::pid_t;
        // Ready once the shell ignores SIGTERM and its sleep has started (no guessed sleep: polled,
        // bounded).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !(ignores_sigterm(p.pid()) && live_members(pgid).len() >= 2) {
            assert!(std::time::Instant::now() < deadline, "the test shell never got ready");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let status = p.terminate(Duration::from_millis(200)).await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "the shell ignores SIGTERM: {status:?}");
        // SIGKILL went to the whole group; the kernel finishes the sleep's exit on its own time.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !live_members(pgid).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the sleep in the group is gone too: {:?}",
                live_members(pgid)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Whether process `pid` ignores SIGTERM (bit 15 of SigIgn in /proc/PID/status).
    fn ignores_sigterm(pid: u32) -> bool {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:")).map(str::trim).unwrap_or("0");
        u64::from_str_radix(mask, 16).is_ok_and(|m| m & (1 << (libc::SIGTERM - 1)) != 0)
    }

    /// Processes of group `pgid` that are not zombies (a killed orphan stays a zombie until init
    /// reaps it), from /proc/PID/stat: `pid (comm) state ppid pgrp ...`.
    fn live_members(pgid: libc::pid_t) -> Vec<u32> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let Some((_, rest)) = stat.rsplit_once(") ") else { continue };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z" {
                found.push(pid);
            }
        }
        found
    }
}
