//! The `hls-swarm` binary: parse the command line, run the library, print the error chain.

use clap::Parser;
use hls_swarm::cli::Cli;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match hls_swarm::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("hls-swarm: error: {err:#}");
            std::process::ExitCode::from(1)
        }
    }
}
