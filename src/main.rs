//! The `hls-swarm` binary: parse the command line, run the library, print the error once and exit with
//! its code (see [`hls_swarm::Error`]).

use clap::Parser;
use hls_swarm::cli::Cli;

fn main() -> std::process::ExitCode {
    match hls_swarm::run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hls-swarm: error: {err:#}");
            err.exit_code()
        }
    }
}
