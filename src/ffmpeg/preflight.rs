//! Checks before the FFmpeg engine starts anything: that FFmpeg runs, and that the open-file limit
//! holds the swarm's pipes and sockets (raising the soft limit up to the hard one when it does not).

use std::path::Path;
use std::process::{Command, Stdio};

/// File descriptors hls-swarm holds per FFmpeg process: its stdout and stderr pipes and the handle
/// the runtime waits on.
pub const FDS_PER_PROCESS: u64 = 3;
/// Connections FFmpeg's HLS demuxer keeps per stream it reads: playlist, segment, and the next segment
/// opened in parallel (`http_multiple`). Each costs the proxy two sockets (FFmpeg's and the origin's).
pub const CONNECTIONS_PER_STREAM: u64 = 3;
use crate::limits::FilesError;
pub use crate::limits::{FDS_BASE, FdLimit};

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(
        "cannot run '{program}': {source}; install FFmpeg (e.g. apt-get install ffmpeg) or give its path with --ffmpeg"
    )]
    NotRunnable { program: String, source: std::io::Error },
    #[error("'{program} -version' failed ({status}): {stderr}; check --ffmpeg")]
    VersionFailed { program: String, status: std::process::ExitStatus, stderr: String },
    #[error(
        "{clients} FFmpeg viewers need about {needed} open files, and the limit is {hard} (ulimit -Hn); \
         raise it (e.g. `ulimit -n {needed}` as root, or LimitNOFILE= for a service) or lower --clients"
    )]
    TooFewFiles { clients: u32, needed: u64, hard: u64 },
    #[error("cannot read or raise the open-file limit: {0}; check `ulimit -n`")]
    Rlimit(std::io::Error),
}

/// The first line of `PROGRAM -version`, e.g. `ffmpeg version 5.1.6-0+deb12u1 ...`.
pub fn ffmpeg_version(program: &Path) -> Result<String, PreflightError> {
    let name = program.display().to_string();
    let out = Command::new(program)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| PreflightError::NotRunnable { program: name.clone(), source })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().chars().take(300).collect();
        return Err(PreflightError::VersionFailed { program: name, status: out.status, stderr });
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_string())
}

/// Open files a swarm of `clients` FFmpeg viewers, each reading `streams` streams, needs.
pub fn fds_needed(clients: u32, streams: u32) -> u64 {
    let per_viewer = FDS_PER_PROCESS + 1 + 2 * CONNECTIONS_PER_STREAM * u64::from(streams.max(1));
    FDS_BASE + u64::from(clients) * per_viewer
}

/// Makes sure the soft limit is at least `needed`, raising it (never above the hard limit).
pub fn ensure_fd_limit(clients: u32, needed: u64) -> Result<FdLimit, PreflightError> {
    crate::limits::ensure_open_files(needed).map_err(|e| match e {
        FilesError::TooFew { needed, hard } => PreflightError::TooFewFiles { clients, needed, hard },
        FilesError::Rlimit(e) => PreflightError::Rlimit(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_grow_with_viewers_and_streams() {
        assert_eq!(fds_needed(1, 1), 64 + 10);
        assert_eq!(fds_needed(250, 1), 64 + 2_500);
        assert_eq!(fds_needed(10, 3), 64 + 10 * 22);
    }

    #[test]
    fn a_missing_program_names_the_flag() {
        let err = ffmpeg_version(Path::new("/nonexistent/ffmpeg")).unwrap_err().to_string();
        assert!(err.contains("--ffmpeg") && err.contains("/nonexistent/ffmpeg"), "{err}");
    }

    #[test]
    fn the_current_limit_is_enough_for_one_viewer() {
        let limit = ensure_fd_limit(1, fds_needed(1, 1)).unwrap();
        assert!(limit.now >= fds_needed(1, 1));
        let err = ensure_fd_limit(u32::MAX, u64::MAX).unwrap_err().to_string();
        assert!(err.contains("ulimit -n"), "{err}");
    }
}
