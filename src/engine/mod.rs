//! The swarm: ramps viewers up on schedule, supervises them (restart with backoff), ticks the
//! aggregator once a second, and stops through one path (duration, Ctrl-C, SIGTERM, or the TUI's `q`):
//! no new requests, in-flight ones finish within the drain timeout, a last snapshot is taken.

pub mod schedule;
mod shards;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::stats::{Aggregator, PlaybackEvent, Recorder, Snapshot};
use crate::viewer::{SessionEnd, StopSignal, ViewerConfig, run_session};
use schedule::{Backoff, start_offset};

/// How the swarm runs.
#[derive(Clone)]
pub struct SwarmConfig {
    pub clients: u32,
    pub ramp_rate: f64,
    pub ramp_jitter: Duration,
    /// `None`: until the stop future completes.
    pub duration: Option<Duration>,
    pub drain_timeout: Duration,
    pub seed: u64,
    /// Single-threaded runtimes the viewers are spread over (the caller's and `threads - 1` more);
    /// 0 or 1 keeps every viewer on the caller's runtime.
    pub threads: usize,
    pub viewer: ViewerConfig,
}

/// What a finished run hands to the reports.
pub struct SwarmOutcome {
    pub snapshot: Arc<Snapshot>,
    pub elapsed: Duration,
    /// Viewer tasks still busy when the drain timeout ran out (their in-flight requests are lost).
    pub abandoned: usize,
}

/// Runs the swarm until its duration ends or `stop` completes. `snapshots` receives the aggregator's
/// snapshot every second for the live consumers.
pub async fn run_swarm(
    config: SwarmConfig,
    stop: impl Future<Output = ()>,
    snapshots: watch::Sender<Arc<Snapshot>>,
) -> SwarmOutcome {
    let recorder = config.viewer.recorder.clone();
    let started = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let ticker = tokio::spawn(tick_loop(Aggregator::new(recorder.clone(), started), snapshots, done_rx));
    let shards = shards::Shards::start(config.threads);
    let mut viewers = JoinSet::new();
    for i in 0..config.clients {
        let at = started + start_offset(i, config.ramp_rate, config.ramp_jitter, config.seed);
        let task = viewer_task(i, at, config.clone(), StopSignal(stop_rx.clone()));
        viewers.spawn_on(task, shards.handle(i as usize));
    }
    let until_end = async {
        match config.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = until_end => {}
        _ = stop => tracing::info!("stopping: signal"),
    }
    let _ = stop_tx.send(true);
    let drain = async { while viewers.join_next().await.is_some() {} };
    let abandoned = match tokio::time::timeout(config.drain_timeout, drain).await {
        Ok(()) => 0,
        Err(_) => {
            let n = viewers.len();
            tracing::warn!("{n} viewer(s) still busy after the drain timeout; their requests in flight are lost");
            viewers.abort_all();
            n
        }
    };
    shards.stop();
    let _ = done_tx.send(());
    let snapshot = match ticker.await {
        Ok(s) => s,
        Err(_) => Aggregator::new(recorder, started).finish(Instant::now()),
    };
    SwarmOutcome { snapshot, elapsed: started.elapsed(), abandoned }
}

/// The only place that rotates the recorder's intervals: one tick a second, through the drain, until
/// `done`; then the final snapshot, which holds every record made before it.
async fn tick_loop(
    mut aggregator: Aggregator,
    snapshots: watch::Sender<Arc<Snapshot>>,
    mut done: tokio::sync::oneshot::Receiver<()>,
) -> Arc<Snapshot> {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = interval.tick() => {
                let _ = snapshots.send(aggregator.tick(Instant::now()));
            }
            _ = &mut done => break,
        }
    }
    let last = aggregator.finish(Instant::now());
    let _ = snapshots.send(last.clone());
    last
}

/// One viewer: waits for its ramp slot, then plays sessions until stop, restarting failed ones after
/// backoff.
async fn viewer_task(id: u32, start_at: Instant, config: SwarmConfig, mut stop: StopSignal) {
    if !stop.sleep_until(start_at).await {
        return;
    }
    let recorder: &Recorder = &config.viewer.recorder;
    recorder.record_playback(PlaybackEvent::Started);
    let mut backoff = Backoff::new(config.seed, id);
    loop {
        let began = Instant::now();
        match run_session(id, &config.viewer, stop.clone()).await {
            Ok(SessionEnd::Stopped) => break,
            Ok(SessionEnd::Finished) => continue,
            Err(err) => {
                if stop.is_set() {
                    break;
                }
                tracing::debug!(viewer = id, "session failed: {err}");
                let delay = backoff.next(began.elapsed());
                if !stop.sleep_until(Instant::now() + delay).await {
                    break;
                }
                recorder.record_playback(PlaybackEvent::Restarted);
            }
        }
    }
    recorder.record_playback(PlaybackEvent::Stopped);
}
