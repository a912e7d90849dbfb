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
            let mut inputs = Vec::new();
            for path in &reports {
                if path == Path::new("-") {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
                        .context("cannot read standard input")
                        .map_err(Error::Failed)?;
                    inputs.extend(reports_in_log(&text)?);
                } else {
                    inputs.push((path.display().to_string(), read(path)?));
                }
            }
            let mut merged = super::merge::merge(&inputs, allow_missing).map_err(|e| match e {
                // Fewer than two reports is how the command was called, as clap's own checks are.
                super::merge::MergeError::TooFew(_) => Error::usage(e.to_string()),
                e => Error::Failed(e.into()),
            })?;
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

/// The reports in a log (`run --report -` prints each as one line, last): every line that starts with `{`,
/// after the `[pod/NAME/CONTAINER] ` that `kubectl logs --prefix` puts before it, is read as a report and
/// named `-:LINE`, or the shard it says it is; other lines are left. A line that begins as a report
/// and does not read as one (cut off) is an error, not a shard quietly lost.
pub fn reports_in_log(text: &str) -> Result<Vec<(String, Report)>, Error> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = match line.strip_prefix('[').and_then(|rest| rest.split_once("] ")) {
            Some((_, after)) if after.starts_with('{') => after,
            _ => line,
        };
        if !line.starts_with('{') {
            continue;
        }
        let name = format!("-:{}", number + 1);
        let report = Report::from_json(line, &name).map_err(|e| Error::Failed(e.into()))?;
        let name = match &report.shard {
            Some(s) => format!("{name} (shard {}/{} on {})", s.index, s.count, s.host),
            None => name,
        };
        found.push((name, report));
    }
    if found.is_empty() {
        return Err(Error::Failed(anyhow::anyhow!(
            "no report in standard input: each run prints its report as the last line of its output with --report -"
        )));
    }
    Ok(found)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_found_among_the_other_lines_of_collected_logs() {
        let (snapshot, meta) = crate::report::fixture::ll_run();
        let mut report = crate::report::build_report(&snapshot, &meta).as_written().unwrap();
        let one = serde_json::to_string(&report).unwrap();
        report.shard =
            Some(crate::report::ShardReport { index: 1, count: 2, host: "pod-b".into(), clock_offset: None });
        let two = serde_json::to_string(&report).unwrap();
        // As `kubectl logs --prefix` prints two pods: their summaries, a log line, each report last.
        let log = format!(
            "[pod/a/swarm] hls-swarm 0.1 run\n[pod/a/swarm] segments 10\n[pod/a/swarm] {one}\n\
             [pod/b/swarm] 2026-12-04T10:00:00Z WARN [slow]\n[pod/b/swarm] {two}\n"
        );
        let found = reports_in_log(&log).unwrap();
        let names: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["-:3", "-:5 (shard 1/2 on pod-b)"]);
        assert_eq!(found[1].1, report);
        // Without the prefix, as `kubectl logs` prints one pod.
        assert_eq!(reports_in_log(&format!("summary\n{two}\n")).unwrap().len(), 1);
        // A report cut off is an error that says where; no report at all says how to print one.
        let cut = format!("{}\n", &two[..two.len() / 2]);
        let err = reports_in_log(&cut).unwrap_err().to_string();
        assert!(err.contains("-:1"), "{err}");
        let err = reports_in_log("segments 10\n").unwrap_err().to_string();
        assert!(err.contains("--report -"), "{err}");
    }
}
