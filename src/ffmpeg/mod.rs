//! The FFmpeg engine: real FFmpeg players, one process per viewer, measured by a proxy of our own.
//!
//! FFmpeg does the playing (its HLS demuxer's reload timing, retries and parallel connections) and
//! hls-swarm does the measuring: every FFmpeg gets `http_proxy` pointing at its own port of the
//! measuring [`proxy`], which relays each request and records it as the native engine records its own.
//! Nothing is parsed out of FFmpeg's log to count traffic; `-progress` gives playback health only.
//!
//! - [`command`]: the FFmpeg command line (pure), also what `--print-cmd` prints;
//! - [`process`]: process groups, parent-death signal, SIGTERM then SIGKILL, exit categories;
//! - [`progress`]: the `-progress` parser (pure); [`health`]: startup, stalls and drift from it (pure);
//! - [`proxy`]: the measuring forward proxy; `session`: one viewer's processes, supervised by
//!   [`crate::engine::supervise`] with the same backoff as the native engine;
//! - [`preflight`]: FFmpeg present, enough open files; [`tally`]: exits and drift for the summary.

pub mod command;
pub mod health;
pub mod preflight;
pub mod process;
pub mod progress;
pub mod proxy;
mod session;
pub mod tally;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::engine::StopSignal;
use crate::engine::{Plan, SwarmOutcome, run_viewers, supervise};
use crate::stats::Snapshot;
pub use command::{CommandSpec, FfmpegOptions, ffmpeg_command};
pub use proxy::{ProxyConfig, ViewerProxy};
use session::{FfmpegViewer, SessionConfig};
pub use tally::{Tally, TallySummary};

/// Default time FFmpeg gets between SIGTERM and SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(3);
/// How long a viewer's proxy waits for its connections to close at the very end.
const PROXY_CLOSE: Duration = Duration::from_secs(1);

/// How the FFmpeg swarm runs.
#[derive(Clone)]
pub struct FfmpegSwarmConfig {
    /// Ramp, duration, seed, threads; `plan.drain_timeout` is how long requests in flight may take
    /// at the stop (FFmpeg's termination comes on top).
    pub plan: Plan,
    pub options: Arc<FfmpegOptions>,
    pub proxy: Arc<ProxyConfig>,
    pub term_grace: Duration,
}

/// What a finished FFmpeg run hands back: the same outcome as the native engine, plus how the
/// processes ended.
pub struct FfmpegOutcome {
    pub swarm: SwarmOutcome,
    pub tally: TallySummary,
}

/// Runs the FFmpeg swarm until its duration ends or `stop` completes.
///
/// At the stop each viewer, all at once: its proxy refuses new requests, the ones in flight finish
/// (up to the drain timeout), FFmpeg gets SIGTERM (then SIGKILL after the grace), the proxy closes.
pub async fn run_ffmpeg_swarm(
    config: FfmpegSwarmConfig,
    stop: impl Future<Output = ()>,
    snapshots: watch::Sender<Arc<Snapshot>>,
) -> FfmpegOutcome {
    let recorder = config.proxy.recorder.clone();
    let tally = Arc::new(Tally::default());
    let session = SessionConfig {
        options: config.options.clone(),
        recorder: recorder.clone(),
        drain: config.plan.drain_timeout,
        term_grace: config.term_grace,
        tally: tally.clone(),
    };
    let mut plan = config.plan.clone();
    plan.drain_timeout += config.term_grace + PROXY_CLOSE + Duration::from_secs(1);
    let seed = plan.seed;
    let proxy = config.proxy.clone();
    let spawn =
        move |id: u32, at: Instant, stop: StopSignal| viewer_task(id, at, seed, proxy.clone(), session.clone(), stop);
    let swarm = run_viewers(&plan, recorder, spawn, stop, snapshots).await;
    FfmpegOutcome { swarm, tally: tally.summary() }
}

async fn viewer_task(
    id: u32,
    at: Instant,
    seed: u64,
    proxy: Arc<ProxyConfig>,
    config: SessionConfig,
    mut stop: StopSignal,
) {
    if stop.sleep_until(at).await.is_err() {
        return;
    }
    let proxy = match ViewerProxy::bind(id, proxy).await {
        Ok(p) => p,
        Err(err) => {
            tracing::warn!(viewer = id, "cannot open the viewer's proxy port on 127.0.0.1: {err}; viewer not started");
            return;
        }
    };
    let recorder = config.recorder.clone();
    let mut viewer = FfmpegViewer { id, config, proxy };
    supervise(id, seed, &recorder, stop, &mut viewer).await;
    viewer.proxy.shutdown(PROXY_CLOSE).await;
}
