//! The FFmpeg engine: real FFmpeg players, one process per viewer, measured by a proxy of our own.
//!
//! - [`command`]: the FFmpeg command line (pure), also what `--print-cmd` prints;
//! - [`process`]: process groups, parent-death signal, SIGTERM then SIGKILL, exit categories;
//! - [`progress`]: the `-progress` parser (pure); [`health`]: startup, stalls and drift from it (pure);
//! - [`proxy`]: the measuring forward proxy every FFmpeg uses through `http_proxy`;
//! - [`preflight`]: FFmpeg present, enough open files; [`tally`]: exits and drift for the summary.

pub mod command;
pub mod health;
pub mod preflight;
pub mod process;
pub mod progress;
pub mod proxy;
pub mod tally;

pub use command::{CommandSpec, FfmpegOptions, ffmpeg_command};
pub use proxy::{ProxyConfig, ViewerProxy};
pub use tally::{Tally, TallySummary};
