//! Where `tracing` output goes, switchable while the process runs.
//!
//! The dashboard owns the terminal while it is up: a log line written to stderr then would land in the
//! middle of its frame. So the one subscriber writes through [`LogSink`], which sends each event to the
//! `--log-file` when there is one, else to stderr, and drops it while stderr is muted (the dashboard is
//! up). Dropped events are counted, so the user can be told afterwards that some were not shown.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The process's log destination; see the module docs.
struct LogSink {
    file: Mutex<Option<File>>,
    mute_stderr: AtomicBool,
    dropped: AtomicU64,
}

static SINK: LogSink =
    LogSink { file: Mutex::new(None), mute_stderr: AtomicBool::new(false), dropped: AtomicU64::new(0) };

/// Sends `tracing` output to stderr, or to `log_file` when given (appended). `RUST_LOG` overrides the
/// level. A second call (tests running several commands in one process) keeps the first subscriber and
/// its colour setting but switches the destination.
pub fn init_logging(log_file: Option<&Path>) -> anyhow::Result<()> {
    let file = match log_file {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log file {}; check --log-file", path.display()))?,
        ),
        None => None,
    };
    *lock(&SINK.file) = file;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = log_file.is_none() && io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(Global)
        .try_init();
    Ok(())
}

/// Mutes (or unmutes) log output to stderr; a log file keeps receiving everything. Returns the events
/// dropped since the last call, so the caller can say how many were not shown.
pub fn mute_stderr(mute: bool) -> u64 {
    SINK.mute_stderr.store(mute, Relaxed);
    SINK.dropped.swap(0, Relaxed)
}

/// A poisoned lock only means a panic while writing a log line: the file is still usable.
fn lock(file: &Mutex<Option<File>>) -> MutexGuard<'_, Option<File>> {
    file.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where one event is written.
enum SinkWriter<'a> {
    File(MutexGuard<'a, Option<File>>),
    Stderr(io::Stderr),
    Discard,
}

/// The subscriber's handle on [`SINK`].
struct Global;

impl MakeWriter<'_> for Global {
    type Writer = SinkWriter<'static>;

    fn make_writer(&self) -> SinkWriter<'static> {
        SINK.writer()
    }
}

impl LogSink {
    fn writer(&'static self) -> SinkWriter<'static> {
        let file = lock(&self.file);
        if file.is_some() {
            SinkWriter::File(file)
        } else if self.mute_stderr.load(Relaxed) {
            self.dropped.fetch_add(1, Relaxed);
            SinkWriter::Discard
        } else {
            SinkWriter::Stderr(io::stderr())
        }
    }
}

impl Write for SinkWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            SinkWriter::File(file) => file.as_mut().map_or(Ok(buf.len()), |f| f.write(buf)),
            SinkWriter::Stderr(err) => err.write(buf),
            SinkWriter::Discard => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            SinkWriter::File(file) => file.as_mut().map_or(Ok(()), |f| f.flush()),
            SinkWriter::Stderr(err) => err.flush(),
            SinkWriter::Discard => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test for the process-wide sink, so no other test in this binary switches it meanwhile.
    #[test]
    fn the_sink_switches_between_file_stderr_and_nothing() {
        let path = std::env::temp_dir().join(format!("hls-swarm-log-test-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&path);
        init_logging(Some(&path)).unwrap();
        mute_stderr(true);
        tracing::error!("to the file even while muted");
        assert_eq!(mute_stderr(false), 0, "a log file receives everything");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("to the file even while muted"), "{text:?}");

        init_logging(None).unwrap();
        mute_stderr(true);
        tracing::error!("dropped while muted");
        assert!(mute_stderr(false) >= 1, "dropped events are counted");
        assert_eq!(mute_stderr(false), 0, "the count restarts");
        let _ = std::fs::remove_file(&path);
        let err = init_logging(Some(Path::new("/nonexistent-dir/x.log"))).unwrap_err();
        assert!(format!("{err:#}").contains("--log-file"), "{err:#}");
    }
}
