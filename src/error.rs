//! The one error type of a command, and the exit code it ends the process with. `main` prints it once
//! (`hls-swarm: error: ...`); nothing below prints an error and returns a code of its own.
//!
//! Exit codes: 0 a completed run, 1 a run that could not start or failed on the way, 2 a usage error
//! (clap's own parse errors exit 2 as well), 3 a completed run that failed a threshold (`--fail-if`),
//! or a `report compare --fail-on-regression` that found a regression.

use std::fmt;
use std::process::ExitCode;

/// Why a command ended without doing its job.
#[derive(Debug)]
pub enum Error {
    /// Flags that cannot work together or values clap could not check: the message names the flag.
    Usage(String),
    /// The run could not start: the target did not answer the first request, FFmpeg is missing, an
    /// address is taken.
    Start(anyhow::Error),
    /// The run started and then failed (a report that cannot be written, a runtime that cannot start).
    Failed(anyhow::Error),
    /// The run completed and failed thresholds (`--fail-if`): the ones that failed, of how many.
    Thresholds { failed: Vec<String>, of: usize },
    /// `report compare --fail-on-regression` found figures worse beyond the tolerance.
    Regressions(Vec<String>),
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    pub fn start(message: impl fmt::Display + fmt::Debug + Send + Sync + 'static) -> Error {
        Error::Start(anyhow::Error::msg(message))
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code())
    }

    /// The exit code as a number (tests compare it with a child's status).
    pub fn code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Start(_) | Error::Failed(_) => 1,
            Error::Thresholds { .. } | Error::Regressions(_) => 3,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) => f.write_str(message),
            Error::Start(e) => write!(f, "cannot start the run: {e:#}"),
            Error::Failed(e) => write!(f, "{e:#}"),
            Error::Thresholds { failed, of } => {
                write!(f, "{} of {of} thresholds failed: {}", failed.len(), failed.join("; "))
            }
            Error::Regressions(found) => write!(f, "{} regression(s): {}", found.len(), found.join("; ")),
        }
    }
}

impl std::error::Error for Error {}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Error {
        Error::Failed(e)
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
