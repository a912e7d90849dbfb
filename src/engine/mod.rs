//! The swarm: ramps viewers up on schedule, supervises them (restart with backoff), ticks the
//! aggregator once a second, and stops through one path (duration, Ctrl-C, SIGTERM, or the TUI's `q`):
//! no new requests, in-flight ones finish within the drain timeout, a last snapshot is taken.
//!
//! The skeleton ([`run_viewers`], [`supervise`]) is shared by both engines: the native one plays each
//! viewer as an async task ([`run_swarm`]); the FFmpeg one ([`crate::ffmpeg::run_ffmpeg_swarm`]) runs
//! one FFmpeg process per viewer behind a measuring proxy.

pub mod schedule;
mod shards;
pub mod stop;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::stats::generator::PROBE_EVERY;
use crate::stats::{Aggregator, PlaybackEvent, Recorder, Snapshot};
use crate::viewer::{ViewerConfig, run_session};
pub use schedule::RunShard;
use schedule::{Backoff, start_offset};
pub use stop::{SessionEnd, StopSignal, Stopped};

/// When viewers start and how the run ends; the same for every engine.
#[derive(Clone, Debug)]
pub struct Plan {
    pub clients: u32,
    pub ramp_rate: f64,
    pub ramp_jitter: Duration,
    /// `None`: until the stop future completes.
    pub duration: Option<Duration>,
    /// How long viewer tasks may take to wind down after the stop.
    pub drain_timeout: Duration,
    pub seed: u64,
    /// Single-threaded runtimes the viewers are spread over (the caller's and `threads - 1` more);
    /// 0 or 1 keeps every viewer on the caller's runtime.
    pub threads: usize,
    /// `--max-lateness`: the generator is saturated when its viewer threads' timers fire later than this.
    pub max_lateness: Duration,
    /// `--shard`: the part of the whole run's viewers this process runs (`clients` is the whole run's).
    pub shard: RunShard,
    /// How long ago the run's clock started (`--start-at` in the past): the viewers due by now start
    /// at once, and the duration counts from then.
    pub behind: Duration,
}

/// How the native swarm runs.
#[derive(Clone)]
pub struct SwarmConfig {
    pub plan: Plan,
    pub viewer: ViewerConfig,
}

/// What a finished run hands to the reports.
pub struct SwarmOutcome {
    pub snapshot: Arc<Snapshot>,
    pub elapsed: Duration,
    /// Viewer tasks still busy when the drain timeout ran out (their in-flight requests are lost).
    pub abandoned: usize,
}

/// Runs the native swarm until its duration ends or `stop` completes. `snapshots` receives the
/// aggregator's snapshot every second for the live consumers.
pub async fn run_swarm(
    config: SwarmConfig,
    stop: impl Future<Output = ()>,
    snapshots: watch::Sender<Arc<Snapshot>>,
) -> SwarmOutcome {
    let plan = config.plan;
    let recorder = config.viewer.recorder.clone();
    let seed = plan.seed;
    let viewer = config.viewer;
    let spawn = move |id: u32, at: Instant, mut stop: StopSignal| {
        let mut sessions = NativeSessions { id, config: viewer.clone() };
        async move {
            if stop.sleep_until(at).await.is_ok() {
                let recorder = sessions.config.recorder.clone();
                supervise(id, seed, &recorder, stop, &mut sessions).await;
            }
        }
    };
    run_viewers(&plan, recorder, spawn, stop, snapshots).await
}

/// The engine-independent run: starts viewer `i` with `spawn_viewer(i, start_at, stop)` on its shard,
/// ticks the aggregator, and on the stop waits up to the drain timeout for the viewer tasks to end.
pub async fn run_viewers<F, Fut>(
    plan: &Plan,
    recorder: Recorder,
    spawn_viewer: F,
    stop: impl Future<Output = ()>,
    snapshots: watch::Sender<Arc<Snapshot>>,
) -> SwarmOutcome
where
    F: Fn(u32, Instant, StopSignal) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let started = Instant::now().checked_sub(plan.behind).unwrap_or_else(Instant::now);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let shards = shards::Shards::start(plan.threads);
    let aggregator = Aggregator::publishing_to(recorder.clone(), started, snapshots)
        .with_generator(plan.max_lateness, shards.handles().len());
    let ticker = tokio::spawn(tick_loop(aggregator, done_rx));
    // One lateness probe per viewer thread, until the viewers are stopped (the drain is not judged).
    for handle in shards.handles() {
        handle.spawn(lateness_probe(recorder.clone(), stop_rx.clone()));
    }
    let mut viewers = JoinSet::new();
    // Viewer numbers are the whole run's (their seeds and start times too); threads take this shard's
    // viewers in turn.
    for (n, i) in (0..plan.clients).filter(|i| plan.shard.owns(*i)).enumerate() {
        let at = started + start_offset(i, plan.ramp_rate, plan.ramp_jitter, plan.seed);
        viewers.spawn_on(spawn_viewer(i, at, StopSignal::new(stop_rx.clone())), shards.handle(n));
    }
    let until_end = async {
        match plan.duration {
            Some(d) => tokio::time::sleep_until((started + d).into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = until_end => {}
        _ = stop => tracing::info!("stopping: signal"),
    }
    let _ = stop_tx.send(true);
    let drain = async { while viewers.join_next().await.is_some() {} };
    let abandoned = match tokio::time::timeout(plan.drain_timeout, drain).await {
        Ok(()) => 0,
        Err(_) => {
            let n = viewers.len();
            tracing::warn!("{n} viewer(s) still busy after the drain timeout; their requests in flight are lost");
            viewers.abort_all();
            while viewers.join_next().await.is_some() {}
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

/// Asks to wake every [`PROBE_EVERY`] on its viewer thread and records how late it woke: a thread too busy
/// to run its timers on time delays every request and timer of its viewers as much.
async fn lateness_probe(recorder: Recorder, mut stop: watch::Receiver<bool>) {
    let mut due = tokio::time::Instant::now() + PROBE_EVERY;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            _ = stop.changed() => return,
        }
        let now = tokio::time::Instant::now();
        recorder.record_lateness(now.saturating_duration_since(due));
        due = now + PROBE_EVERY;
    }
}

/// The only place that rotates the recorder's intervals: one tick a second, through the drain, until
/// `done`; then the final snapshot, which holds every record made before it. The aggregator publishes
/// each snapshot on the run's channel itself.
async fn tick_loop(mut aggregator: Aggregator, mut done: tokio::sync::oneshot::Receiver<()>) -> Arc<Snapshot> {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = interval.tick() => {
                aggregator.tick(Instant::now());
            }
            _ = &mut done => break,
        }
    }
    aggregator.finish(Instant::now())
}

/// A viewer's sessions, one after the other: what [`supervise`] restarts.
pub trait Sessions: Send {
    /// Plays one session until the stop signal, the end of the stream, or a failure (described by the
    /// error, for the log).
    fn play(&mut self, stop: StopSignal) -> impl Future<Output = Result<SessionEnd, String>> + Send;
}

/// Plays sessions until stop, restarting failed ones after backoff and finished ones (a VOD played
/// through) at their pace. Records `Started` once, `Restarted` per restart and `Stopped` once, as the
/// gauges expect.
pub async fn supervise(id: u32, seed: u64, recorder: &Recorder, mut stop: StopSignal, sessions: &mut impl Sessions) {
    recorder.record_playback(PlaybackEvent::Started);
    let mut backoff = Backoff::new(seed, id);
    loop {
        let began = Instant::now();
        let next = match sessions.play(stop.clone()).await {
            Ok(SessionEnd::Stopped) => break,
            Ok(SessionEnd::Finished { pace }) => began + pace.max(MIN_REPLAY_PACE),
            Err(err) => {
                if stop.is_set() {
                    break;
                }
                tracing::debug!(viewer = id, "session failed: {err}");
                let at = Instant::now() + backoff.next(began.elapsed());
                if stop.sleep_until(at).await.is_err() {
                    break;
                }
                recorder.record_playback(PlaybackEvent::Restarted);
                continue;
            }
        };
        if stop.sleep_until(next).await.is_err() {
            break;
        }
    }
    recorder.record_playback(PlaybackEvent::Stopped);
}

/// The shortest time from one VOD session's start to the next: a replay is never a busy loop.
pub const MIN_REPLAY_PACE: Duration = Duration::from_secs(1);

/// The native engine's sessions: [`run_session`] on the viewer's shard.
struct NativeSessions {
    id: u32,
    config: ViewerConfig,
}

impl Sessions for NativeSessions {
    async fn play(&mut self, stop: StopSignal) -> Result<SessionEnd, String> {
        run_session(self.id, &self.config, stop).await.map_err(|e| e.to_string())
    }
}
