//! hls-swarm: a load tester for HLS origins and CDNs, and a built-in live origin to test against.
//!
//! # Layout
//! The folders follow the pipeline (see `docs/DESIGN.md`):
//! - [`cli`]: the command line (clap derive); value parsers that name the flag on bad input.
//! - [`origin`]: the built-in live origin: stream clock, synthetic MPEG-TS muxer, playlist writer, HTTP
//!   server, fault injection and its ground-truth counters.
//! - [`stats`]: request and playback records, the recorder and the aggregator's snapshots.
//! - [`hls`]: pure HLS logic (RFC 8216): playlist model, variant choice, live edge, reload timing.
//! - [`net`]: the HTTP client with phase timings and error classes.
//! - [`viewer`]: one simulated player: session state machine and playback buffer model.
//! - [`engine`]: ramp, supervision with backoff, the one-per-second aggregator tick, drain and stop;
//!   shared by both engines.
//! - [`ffmpeg`]: the FFmpeg engine: one FFmpeg process per viewer, its HTTP relayed and recorded by a
//!   measuring proxy, its `-progress` read for playback health.
//! - [`report`]: the text summary, progress lines and the JSON report (`schema/report.schema.json`).

pub mod cli;
pub mod engine;
pub mod ffmpeg;
pub mod hls;
pub mod live;
pub mod metrics;
pub mod net;
pub mod origin;
pub mod report;
mod run;
pub mod seeded;
pub mod signals;
pub mod stats;
pub mod units;
pub mod viewer;

use std::process::ExitCode;

/// Runs one parsed command line; returns the process exit code, or an error for `main` to print.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    cli::dispatch(cli)
}

/// Sends `tracing` output to stderr, or to `log_file` when given. `RUST_LOG` overrides the level.
pub fn init_logging(log_file: Option<&std::path::Path>) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let result = match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
            builder.with_ansi(false).with_writer(std::sync::Mutex::new(file)).try_init()
        }
        None => builder.with_writer(std::io::stderr).try_init(),
    };
    // A second init (tests running several commands in one process) keeps the first subscriber.
    let _ = result;
    Ok(())
}
