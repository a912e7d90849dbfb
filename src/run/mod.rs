//! `hls-swarm run`: the edge where the command line meets the engine. Builds the configuration, starts
//! the built-in origin when no URL is given, checks the target once, runs the swarm, then prints the
//! summary and writes the report. The FFmpeg engine's own setup is in `ffmpeg`.

mod ffmpeg;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use http::HeaderValue;
use tokio::sync::watch;
use url::Url;

use crate::cli::{EngineArg, RunArgs, VariantArg};
use crate::engine::{SwarmConfig, SwarmOutcome, run_swarm};
use crate::hls::{self, VariantPolicy};
use crate::net::{BodyMode, Loader, NetConfig};
use crate::origin::{self, OriginConfig, OriginHandle};
use crate::report::{OriginTotals, RunMeta, build_report, summary};
use crate::stats::{ErrorClass, Kind, Recorder, RequestRecord, Snapshot};
use crate::viewer::{PLAYLIST_LIMIT, ViewerConfig};

/// Seconds between progress lines when stdout is not a terminal.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    crate::init_logging(None)?;
    crate::cli::current_thread_runtime()?.block_on(run_async(args))
}

async fn run_async(args: RunArgs) -> anyhow::Result<ExitCode> {
    let (url, origin) = match &args.url {
        Some(url) => (url.clone(), None),
        None => {
            let config = OriginConfig { seed: args.seed, ..OriginConfig::local_default() };
            let origin = origin::spawn(config).await.context("cannot start the built-in origin")?;
            let url = Url::parse(origin.url())?.join("master.m3u8")?;
            eprintln!("hls-swarm: no URL given: using the built-in origin at {url}");
            (url, Some(origin))
        }
    };
    if args.print_cmd && args.engine != EngineArg::Ffmpeg {
        eprintln!("hls-swarm: error: --print-cmd prints the FFmpeg command; add --engine ffmpeg");
        return Ok(ExitCode::from(2));
    }
    let net = Arc::new(net_config(&args)?);
    let recorder = Recorder::new();
    let playlist = match preflight(&url, &net, &recorder).await {
        Ok(p) => p,
        Err(message) => {
            eprintln!("hls-swarm: error: cannot start the run: {message}");
            return Ok(ExitCode::from(1));
        }
    };
    if args.engine == EngineArg::Ffmpeg {
        return ffmpeg::run(&args, url, playlist, recorder, origin).await;
    }
    let viewer = ViewerConfig {
        url: url.clone(),
        policy: policy(args.variant),
        buffer_target: args.buffer,
        net,
        recorder,
        tap: None,
    };
    let swarm = SwarmConfig {
        clients: args.clients,
        ramp_rate: args.ramp_rate,
        ramp_jitter: args.ramp_jitter,
        duration: (!args.duration.is_zero()).then_some(args.duration),
        drain_timeout: args.drain_timeout,
        seed: args.seed,
        threads: args.threads.map_or_else(|| default_threads(args.clients), usize::from),
        viewer,
    };
    let started_at = SystemTime::now();
    let (snap_tx, progress) = live_outputs(args.clients);
    let outcome = run_swarm(swarm, crate::signals::shutdown_signal(), snap_tx).await;
    progress.abort();
    let origin = finish_origin(origin).await;
    finish(&args, &url, started_at, outcome, origin)
}

/// The snapshot channel of a run and its plain progress lines.
fn live_outputs(clients: u32) -> (watch::Sender<Arc<Snapshot>>, tokio::task::JoinHandle<()>) {
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::empty()));
    (snap_tx, tokio::spawn(progress_lines(snap_rx, clients)))
}

async fn finish_origin(origin: Option<OriginHandle>) -> Option<OriginTotals> {
    let origin = origin?;
    let totals = OriginTotals::from_counters(origin.counters());
    origin.shutdown().await;
    Some(totals)
}

fn finish(
    args: &RunArgs,
    url: &Url,
    started_at: SystemTime,
    outcome: SwarmOutcome,
    origin: Option<OriginTotals>,
) -> anyhow::Result<ExitCode> {
    let meta = RunMeta {
        target: url.to_string(),
        engine: args.engine.as_str(),
        clients_target: args.clients,
        started_at,
        abandoned: outcome.abandoned,
        origin,
    };
    print!("{}", summary(&outcome.snapshot, &meta));
    if let Some(path) = &args.report {
        let report = build_report(&outcome.snapshot, &meta);
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write the report to {}; check --report", path.display()))?;
        eprintln!("hls-swarm: report written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// One request before the swarm starts, so a wrong URL, a refused connection or bad TLS ends the run
/// at once with a clear message instead of a swarm of errors. It is measured and counted like any other.
/// Returns the playlist (the FFmpeg engine chooses its variant from it).
async fn preflight(url: &Url, net: &Arc<NetConfig>, recorder: &Recorder) -> Result<hls::Playlist, String> {
    let mut loader = Loader::new(net.clone());
    let fetch = loader.get(url, BodyMode::Collect { limit: PLAYLIST_LIMIT }).await;
    let parsed = fetch.body.as_deref().map(|b| hls::parse_playlist(b, &fetch.url));
    let kind = match &parsed {
        Some(Ok(hls::Playlist::Media(_))) => Kind::MediaPlaylist,
        _ => Kind::Multivariant,
    };
    let failure = if let Some(e) = &fetch.error {
        Some((ErrorClass::Other, e.to_string()))
    } else {
        match (fetch.status, &parsed) {
            (Some(s), _) if !(200..300).contains(&s) => Some((ErrorClass::Other, format!("HTTP {s}"))),
            (_, Some(Err(e))) => Some((ErrorClass::PlaylistParse, format!("not an HLS playlist: {e}"))),
            _ => None,
        }
    };
    let t = &fetch.timings;
    let error = failure.as_ref().map(|(c, _)| match (c, fetch.status) {
        (ErrorClass::PlaylistParse, _) => ErrorClass::PlaylistParse,
        (_, Some(s)) if (400..500).contains(&s) => ErrorClass::Http4xx,
        (_, Some(s)) if (500..600).contains(&s) => ErrorClass::Http5xx,
        _ => ErrorClass::Other,
    });
    recorder.record_request(&RequestRecord {
        kind,
        variant: None,
        status: fetch.status,
        dns: t.dns,
        connect: t.connect,
        tls: t.tls,
        headers: t.headers,
        ttfb: t.ttfb,
        total: t.total,
        body_bytes: fetch.body_bytes,
        error,
    });
    match (failure, parsed) {
        (Some((_, detail)), _) => Err(format!("{url}: {detail}; check the URL, --resolve and --timeout")),
        (None, Some(Ok(playlist))) => Ok(playlist),
        (None, _) => Err(format!("{url}: empty response; check the URL")),
    }
}

fn net_config(args: &RunArgs) -> anyhow::Result<NetConfig> {
    Ok(NetConfig {
        resolve: args.resolve,
        headers: args.headers.clone(),
        no_cache: args.no_cache,
        user_agent: HeaderValue::from_str(&args.user_agent)
            .map_err(|_| anyhow::anyhow!("--user-agent has characters a header cannot carry"))?,
        timeout: args.timeout,
        tls: crate::net::client_config(args.insecure).context("cannot set up TLS")?,
        max_redirects: 5,
    })
}

/// One viewer thread per 5,000 viewers, up to one per CPU: an idle-heavy swarm spends more on waking
/// threads than on requests, so it uses as few as its load needs (see `engine::shards`).
fn default_threads(clients: u32) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (clients as usize).div_ceil(5_000).clamp(1, cpus)
}

fn policy(v: VariantArg) -> VariantPolicy {
    match v {
        VariantArg::All => VariantPolicy::All,
        VariantArg::Highest => VariantPolicy::Highest,
        VariantArg::Lowest => VariantPolicy::Lowest,
        VariantArg::First => VariantPolicy::First,
    }
}

/// Plain progress lines on stderr, for runs whose stdout is not a terminal (CI, pipes, files).
async fn progress_lines(mut snapshots: watch::Receiver<Arc<Snapshot>>, target: u32) {
    let mut next = Instant::now() + PROGRESS_EVERY;
    loop {
        tokio::time::sleep_until(next.into()).await;
        next += PROGRESS_EVERY;
        let s = snapshots.borrow_and_update().clone();
        eprintln!("{}", crate::report::progress_line(&s, target));
    }
}
