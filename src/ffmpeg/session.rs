//! One viewer of the FFmpeg engine: its proxy (kept across restarts) and one FFmpeg process per
//! session. While FFmpeg runs, its progress feeds the health model and playback events go to the
//! recorder; its stderr is kept as the last lines for the error message. Traffic is counted by the
//! proxy alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use super::command::{FfmpegOptions, ffmpeg_command};
use super::health::{Health, stall_threshold};
use super::process::{Exit, Process, Tail};
use super::progress::ProgressParser;
use super::proxy::ViewerProxy;
use super::tally::Tally;
use crate::engine::Sessions;
use crate::engine::{SessionEnd, StopSignal};
use crate::stats::{PlaybackEvent, Recorder};

/// A clean exit sooner than this after the start is treated as a failure (restart with backoff), so a
/// stream FFmpeg leaves at once cannot make a viewer spin.
const SHORTEST_CLEAN_SESSION: Duration = Duration::from_secs(1);

/// How a viewer's processes are run and stopped.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub options: Arc<FfmpegOptions>,
    pub recorder: Recorder,
    /// At the stop, how long requests in flight may take before FFmpeg is terminated.
    pub drain: Duration,
    /// Between SIGTERM and SIGKILL.
    pub term_grace: Duration,
    pub tally: Arc<Tally>,
}

pub struct FfmpegViewer {
    pub id: u32,
    pub config: SessionConfig,
    pub proxy: ViewerProxy,
}

impl Sessions for FfmpegViewer {
    fn play(&mut self, stop: StopSignal) -> impl Future<Output = Result<SessionEnd, String>> + Send {
        self.run_process(stop)
    }
}

/// Why the watch loop ended.
enum Ended {
    Exited(std::io::Result<std::process::ExitStatus>),
    Stop,
}

impl FfmpegViewer {
    async fn run_process(&mut self, mut stop: StopSignal) -> Result<SessionEnd, String> {
        let spec = ffmpeg_command(&self.config.options, self.proxy.port());
        let started = Instant::now();
        let mut process = Process::spawn(&spec).map_err(|e| {
            self.config.tally.spawn_failed();
            format!("cannot start {}: {e}", spec.program.display())
        })?;
        let mut health = Health::new(started);
        let mut tail = Tail::new(12, 400);
        let ended = self.watch(&mut process, &mut health, &mut tail, &mut stop).await;
        let mut events = Vec::new();
        let result = match ended {
            Ended::Stop => {
                self.proxy.refuse_new();
                if !self.proxy.drain(self.config.drain).await {
                    tracing::debug!(viewer = self.id, "requests still in flight after {:?}", self.config.drain);
                }
                let status = process.terminate(self.config.term_grace).await;
                self.config.tally.exited(Exit::Stopped, health.drift(Instant::now()));
                if let Err(e) = status {
                    tracing::debug!(viewer = self.id, "waiting for ffmpeg {}: {e}", process.pid());
                }
                Ok(SessionEnd::Stopped)
            }
            Ended::Exited(status) => {
                let status = status.map_err(|e| format!("waiting for ffmpeg: {e}"))?;
                let exit = Exit::of(status, false);
                self.config.tally.exited(exit, health.drift(Instant::now()));
                match exit {
                    Exit::Clean if started.elapsed() >= SHORTEST_CLEAN_SESSION => {
                        Ok(SessionEnd::Finished { pace: SHORTEST_CLEAN_SESSION })
                    }
                    _ => {
                        let message =
                            format!("ffmpeg {exit} after {:.1} s: {}", started.elapsed().as_secs_f64(), tail.summary());
                        if self.config.tally.should_warn() {
                            tracing::warn!(viewer = self.id, "{message}");
                        }
                        Err(message)
                    }
                }
            }
        };
        health.finish(Instant::now(), &mut events);
        self.flush(&mut events);
        result
    }

    /// Follows the process until it exits or the run stops: progress into the health model (and its
    /// stall timer), stderr into the tail.
    async fn watch(&self, process: &mut Process, health: &mut Health, tail: &mut Tail, stop: &mut StopSignal) -> Ended {
        let mut stdout = process.stdout.take();
        let mut stderr = process.stderr.take();
        let mut parser = ProgressParser::new();
        let mut events = Vec::new();
        let (mut out_buf, mut err_buf) = ([0u8; 2048], [0u8; 2048]);
        loop {
            let threshold = stall_threshold(self.proxy.target_duration());
            let check_at = health.next_check(threshold);
            tokio::select! {
                n = read_some(&mut stdout, &mut out_buf) => {
                    let now = Instant::now();
                    for block in parser.feed(&out_buf[..n]) {
                        health.on_progress(now, block.out_time, &mut events);
                    }
                }
                n = read_some(&mut stderr, &mut err_buf) => tail.feed(&err_buf[..n]),
                _ = sleep_until(check_at) => health.check(Instant::now(), threshold, &mut events),
                status = process.wait() => return Ended::Exited(status),
                _ = stop.stopped() => return Ended::Stop,
            }
            self.flush(&mut events);
        }
    }

    fn flush(&self, events: &mut Vec<PlaybackEvent>) {
        for event in events.drain(..) {
            self.config.recorder.record_playback(event);
        }
    }
}

/// Reads what is there; a closed or failed pipe is set to `None` and then never completes again.
async fn read_some<R: tokio::io::AsyncRead + Unpin>(pipe: &mut Option<R>, buf: &mut [u8]) -> usize {
    let Some(r) = pipe.as_mut() else { return std::future::pending().await };
    match r.read(buf).await {
        Ok(n) if n > 0 => n,
        _ => {
            *pipe = None;
            std::future::pending().await
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
