//! hls-swarm: a load tester for HLS origins and CDNs, and a built-in live origin to test against.
//!
//! # Layout
//! The folders follow the pipeline (see `docs/DESIGN.md`):
//! - [`cli`]: the command line (clap derive), flags only; value parsers that name the flag on bad input,
//!   with [`units`] (durations, bitrates, rates, sizes).
//! - [`settings`]: the one step from flags to a checked plan (`RunSettings`, the origin's config); every
//!   check across flags is there. [`error`]: the one error type, with its exit code; `main` prints it.
//! - `run` (private): `hls-swarm run` from settings to the report: built-in origin when no URL, the
//!   first request, the engine, the live consumers, the summary and the report.
//! - [`origin`]: the built-in live origin: stream clock, synthetic MPEG-TS muxer, playlist writer, HTTP
//!   server, fault injection and its ground-truth counters.
//! - [`stats`]: request and playback records, the recorder and the aggregator's snapshots.
//! - [`hls`]: pure HLS logic (RFC 8216): playlist model, variant choice, live edge, reload timing.
//! - [`net`]: the HTTP client with phase timings and error classes, and the accept loop servers share.
//! - [`viewer`]: one simulated player: session state machine and playback buffer model.
//! - [`engine`]: ramp, supervision with backoff, the one-per-second aggregator tick, drain and stop;
//!   shared by both engines.
//! - [`ffmpeg`]: the FFmpeg engine: one FFmpeg process per viewer, its HTTP relayed and recorded by a
//!   measuring proxy, its `-progress` read for playback health.
//! - [`report`]: the text summary, progress lines and the JSON report (`schema/report.schema.json`).
//! - [`tui`]: the terminal dashboard; reads snapshots and the origin view, never touches viewers.
//! - [`logging`]: where `tracing` output goes (stderr, muted under the dashboard, or `--log-file`).
//! - [`live`]: what the run's consumers read besides snapshots: the run's facts and the origin view.
//! - [`metrics`]: the run's Prometheus endpoint (text format 0.0.4, rendered from the latest snapshot),
//!   and the origin side: a text-format parser and the scraper of node_exporter, the nginx exporter
//!   and the built-in origin's counters (`--origin-metrics`).
//! - [`signals`]: Ctrl-C and SIGTERM as one shutdown future. [`seeded`]: the deterministic random numbers
//!   behind jitter, backoff and the origin's faults (`--seed`).
//!
//! No module imports one that imports it back: `cli` knows no command, `settings` knows
//! the flags and the types they build, `run` knows the settings.

pub mod cli;
pub mod engine;
pub mod error;
pub mod ffmpeg;
pub mod hls;
pub mod limits;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod origin;
pub mod report;
mod run;
pub mod seeded;
pub mod settings;
pub mod signals;
pub mod stats;
pub mod tui;
pub mod units;
pub mod viewer;

use cli::{Cli, Command};
pub use error::Error;
pub use logging::init_logging;

/// Runs one parsed command line. `main` prints the error once and exits with its code.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => run::run(settings::RunSettings::from_args(*args)?),
        Command::Origin(args) => {
            let config = settings::origin_config(&args)?;
            init_logging(None)?;
            origin::serve_until_signal(config, usize::from(args.workers)).map_err(Error::Start)
        }
        Command::Report { command } => report::command::run(command),
    }
}
