//! `hls-swarm report ...`: saved reports read, compared, merged and drawn; and the one way every
//! command writes an output file (whole or not at all).

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use super::json::{Report, report_json};
use crate::cli::ReportCommand;
use crate::error::Error;

pub fn run(command: ReportCommand) -> Result<(), Error> {
    match command {
        ReportCommand::Show { report } => {
            print!("{}", super::summary(&read(&report)?));
            Ok(())
        }
        ReportCommand::Compare { base, new, tolerance, fail_on_regression } => {
            let comparison = super::compare::compare(&read(&base)?, &read(&new)?, tolerance);
            print!("{}", comparison.text);
            if fail_on_regression && !comparison.regressions.is_empty() {
                return Err(Error::Regressions(comparison.regressions));
            }
            Ok(())
        }
        ReportCommand::Merge { reports, output, allow_missing, fail_if } => {
            let thresholds = fail_if
                .iter()
                .map(|e| super::thresholds::Threshold::parse(e).map_err(|err| Error::usage(err.to_string())))
                .collect::<Result<Vec<_>, Error>>()?;
            let inputs = reports
                .iter()
                .map(|path| Ok((path.display().to_string(), read(path)?)))
                .collect::<Result<Vec<_>, Error>>()?;
            let mut merged = super::merge::merge(&inputs, allow_missing).map_err(|e| Error::Failed(e.into()))?;
            let failed = super::thresholds::check(&thresholds, &mut merged).map_err(Error::Failed)?;
            let targets = super::merge::targets(&merged);
            if targets.len() > 1 {
                eprintln!("hls-swarm: warning: merged reports of different targets: {}", targets.join(", "));
            }
            let text = report_json(&merged).context("cannot serialize the merged report").map_err(Error::Failed)?;
            write_whole(&output, (text + "\n").as_bytes()).map_err(Error::Failed)?;
            eprintln!("hls-swarm: merged {} reports into {}", inputs.len(), output.display());
            for t in &merged.thresholds {
                println!("threshold {}  {}  ({})", if t.passed { "pass" } else { "FAIL" }, t.expression, t.shown());
            }
            if !failed.is_empty() {
                return Err(Error::Thresholds { failed, of: thresholds.len() });
            }
            Ok(())
        }
        ReportCommand::Html { report, output } => {
            let page = super::html::page(&read(&report)?);
            write_whole(&output, page.as_bytes()).map_err(Error::Failed)?;
            eprintln!("hls-swarm: HTML report written to {}", output.display());
            Ok(())
        }
    }
}

/// A saved report, or an error that names the file and what is wrong with it.
pub fn read(path: &Path) -> Result<Report, Error> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the report {}", path.display()))
        .map_err(Error::Failed)?;
    Report::from_json(&text, &path.display().to_string()).map_err(|e| Error::Failed(e.into()))
}

/// Writes `bytes` to `path` whole or not at all: into a temporary file beside it, then renamed over
/// it, so an error (a full disk, a signal) never leaves a partial file where a reader expects one.
pub fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path.file_name().with_context(|| format!("{} is not a file name", path.display()))?;
    let mut temporary = name.to_owned();
    temporary.push(format!(".{}.partial", std::process::id()));
    let temporary = path.with_file_name(temporary);
    let written = std::fs::File::create(&temporary)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}
