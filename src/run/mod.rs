//! `hls-swarm run`: the edge where the command line meets the engine. Builds the configuration, starts
//! the built-in origin when no URL is given, checks the target once, runs the swarm (native or FFmpeg
//! engine) under the dashboard or progress lines, with the Prometheus endpoint and the origin metrics
//! scraper, then prints the summary and writes the report. The FFmpeg engine's own setup is in `ffmpeg`.

mod ffmpeg;

use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use http::HeaderValue;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use url::Url;

use crate::cli::{EngineArg, RunArgs, VariantArg};
use crate::engine::{Plan, SwarmConfig, SwarmOutcome, run_swarm};
use crate::hls::{self, VariantPolicy};
use crate::live::{LiveFeed, RunInfo};
use crate::metrics::exporter::{self, Binding, ExporterHandle, MetricsAddr};
use crate::metrics::origin_view::OriginView;
use crate::metrics::{ScrapeConfig, spawn_scraper};
use crate::net::{BodyMode, Loader, NetConfig};
use crate::origin::{self, OriginConfig, OriginHandle};
use crate::report::{BuiltinOriginCounts, RunMeta, build_report, summary};
use crate::stats::{ErrorClass, Kind, Recorder, Snapshot};
use crate::tui::Dashboard;
use crate::viewer::{PLAYLIST_LIMIT, ViewerConfig, failure_of, request_record};

/// Seconds between progress lines (when there is no dashboard).
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    crate::init_logging(args.log_file.as_deref())?;
    crate::cli::current_thread_runtime()?.block_on(run_async(args))
}

async fn run_async(args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.print_cmd && args.engine != EngineArg::Ffmpeg {
        eprintln!("hls-swarm: error: --print-cmd prints the FFmpeg command; add --engine ffmpeg");
        return Ok(ExitCode::from(2));
    }
    if args.http2 && args.engine == EngineArg::Ffmpeg {
        eprintln!(
            "hls-swarm: error: --http2 is for the native engine (FFmpeg speaks HTTP/1.1); drop it or --engine ffmpeg"
        );
        return Ok(ExitCode::from(2));
    }
    // Ctrl-C and SIGTERM from here on end the run through the drain, summary and report.
    let stop = crate::signals::shutdown_signal();
    let Some(scrape) = usage(args.origin_metrics.to_config()) else { return Ok(ExitCode::from(2)) };
    // First, so that a --metrics-addr that cannot be served stops the run before anything starts.
    let metrics = bind_metrics(args.metrics_addr).await?;
    let (url, origin) = target(&args).await?;
    let net = Arc::new(net_config(&args)?);
    let recorder = Recorder::new();
    let playlist = match preflight(&url, &net, &recorder).await {
        Ok(p) => p,
        Err(message) => {
            eprintln!("hls-swarm: error: cannot start the run: {message}");
            return Ok(ExitCode::from(1));
        }
    };
    let engine = match args.engine {
        EngineArg::Native => Engine::Native(native_config(&args, &url, net, recorder)),
        EngineArg::Ffmpeg => match ffmpeg::prepare(&args, &url, &playlist, recorder)? {
            Ok(config) => Engine::Ffmpeg(config),
            Err(code) => return Ok(code),
        },
    };
    let started_at = SystemTime::now();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::empty()));
    let scraper = OriginMetrics::start(scrape, origin.as_ref());
    let feed = LiveFeed { info: Arc::new(run_info(&args, &url)), snapshots: snap_rx, origin: scraper.view.clone() };
    let exporter = metrics.map(|listener| start_exporter(listener, feed.clone())).transpose()?;
    let mut display = Display::start(&args, feed);
    let stop = display.stop_signal(stop);
    let outcome = engine.run(stop, snap_tx).await;
    display.close();
    let origin_view = scraper.finish().await;
    let origin = finish_origin(origin).await;
    let result = finish(&args, &url, started_at, outcome, origin, origin_view);
    // Until here the endpoint serves the final snapshot.
    if let Some(exporter) = exporter {
        exporter.shutdown().await;
    }
    result
}

/// A usage error found after parsing: printed, and `None` (the run exits 2).
fn usage<T>(checked: Result<T, String>) -> Option<T> {
    checked.map_err(|msg| eprintln!("hls-swarm: error: {msg}")).ok()
}

/// The URL to play: the one given, or the built-in origin's, started in-process.
async fn target(args: &RunArgs) -> anyhow::Result<(Url, Option<OriginHandle>)> {
    if let Some(url) = &args.url {
        return Ok((url.clone(), None));
    }
    let config = OriginConfig { seed: args.seed, ..OriginConfig::local_default() };
    let origin = origin::spawn(config).await.context("cannot start the built-in origin")?;
    let url = Url::parse(origin.url())?.join("master.m3u8")?;
    eprintln!("hls-swarm: no URL given: using the built-in origin at {url}");
    Ok((url, Some(origin)))
}

/// The swarm of one run: both engines produce the same records, snapshots and outcome.
enum Engine {
    Native(SwarmConfig),
    Ffmpeg(crate::ffmpeg::FfmpegSwarmConfig),
}

impl Engine {
    async fn run(
        self,
        stop: impl std::future::Future<Output = ()>,
        snapshots: watch::Sender<Arc<Snapshot>>,
    ) -> SwarmOutcome {
        match self {
            Engine::Native(config) => run_swarm(config, stop, snapshots).await,
            Engine::Ffmpeg(config) => {
                let outcome = crate::ffmpeg::run_ffmpeg_swarm(config, stop, snapshots).await;
                eprintln!("hls-swarm: {}", outcome.tally);
                outcome.swarm
            }
        }
    }
}

fn native_config(args: &RunArgs, url: &Url, net: Arc<NetConfig>, recorder: Recorder) -> SwarmConfig {
    let viewer = ViewerConfig {
        url: url.clone(),
        policy: policy(args.variant),
        buffer_target: args.buffer,
        net,
        recorder,
        tap: None,
    };
    SwarmConfig { plan: plan(args, default_threads), viewer }
}

/// When viewers start and how the run ends, from the flags; `default_threads` is the engine's rule
/// for `--threads` when it is not given.
fn plan(args: &RunArgs, default_threads: fn(u32) -> usize) -> Plan {
    Plan {
        clients: args.clients,
        ramp_rate: args.ramp_rate,
        ramp_jitter: args.ramp_jitter,
        duration: (!args.duration.is_zero()).then_some(args.duration),
        drain_timeout: args.drain_timeout,
        seed: args.seed,
        threads: args.threads.map_or_else(|| default_threads(args.clients), usize::from),
    }
}

/// The origin-metrics scraper of a run, and its channel; `finish` stops it and returns the last view.
struct OriginMetrics {
    view: watch::Receiver<Arc<OriginView>>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl OriginMetrics {
    fn start(config: ScrapeConfig, origin: Option<&OriginHandle>) -> Self {
        let (tx, view) = watch::channel(Arc::new(OriginView::default()));
        let (stop, stopped) = oneshot::channel::<()>();
        let builtin = origin.map(|o| o.counters().clone());
        let task = spawn_scraper(config, builtin, tx, async move {
            let _ = stopped.await;
        });
        Self { view, stop, task }
    }

    async fn finish(self) -> Option<OriginView> {
        let _ = self.stop.send(());
        let _ = self.task.await;
        let view = self.view.borrow().clone();
        (!view.is_empty()).then(|| (*view).clone())
    }
}

/// The `--metrics-addr` rules (see [`exporter::bind`]); `None`: no endpoint for this run.
async fn bind_metrics(requested: Option<MetricsAddr>) -> anyhow::Result<Option<TcpListener>> {
    match exporter::bind(requested, exporter::DEFAULT_ADDR).await? {
        Binding::Listening(listener) => Ok(Some(listener)),
        Binding::Off => Ok(None),
        Binding::DefaultUnavailable { addr, error } => {
            eprintln!(
                "hls-swarm: warning: no metrics endpoint: {addr} is not free ({error}); \
                 use --metrics-addr to pick another address"
            );
            Ok(None)
        }
    }
}

fn start_exporter(listener: TcpListener, feed: LiveFeed) -> anyhow::Result<ExporterHandle> {
    let exporter = exporter::spawn(listener, feed).context("cannot start the metrics endpoint")?;
    eprintln!("hls-swarm: Prometheus metrics at http://{}/metrics", exporter.addr());
    Ok(exporter)
}

fn run_info(args: &RunArgs, url: &Url) -> RunInfo {
    RunInfo {
        target: url.to_string(),
        engine: args.engine.as_str(),
        clients_target: args.clients,
        duration: (!args.duration.is_zero()).then_some(args.duration),
        ramp_rate: args.ramp_rate,
        started: Instant::now(),
    }
}

async fn finish_origin(origin: Option<OriginHandle>) -> Option<BuiltinOriginCounts> {
    let origin = origin?;
    let totals = BuiltinOriginCounts::from_counters(origin.counters());
    origin.shutdown().await;
    Some(totals)
}

fn finish(
    args: &RunArgs,
    url: &Url,
    started_at: SystemTime,
    outcome: SwarmOutcome,
    origin: Option<BuiltinOriginCounts>,
    origin_metrics: Option<OriginView>,
) -> anyhow::Result<ExitCode> {
    let meta = RunMeta {
        target: url.to_string(),
        engine: args.engine.as_str(),
        clients_target: args.clients,
        started_at,
        abandoned: outcome.abandoned,
        origin,
        origin_metrics,
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
    if net.offers_http2() && fetch.url.scheme() == "https" {
        // --http2 offers it; say what the server chose, so a run over HTTP/1.1 is not taken for one over h2.
        if let Some(version) = fetch.version {
            eprintln!("hls-swarm: --http2: {} answered over {version:?}", fetch.url);
        }
    }
    let parsed = fetch.body.as_deref().map(|b| hls::parse_playlist(b, &fetch.url));
    let kind = match &parsed {
        Some(Ok(hls::Playlist::Media(_))) => Kind::MediaPlaylist,
        _ => Kind::Multivariant,
    };
    let mut failure = failure_of(&fetch);
    if failure.is_none()
        && let Some(Err(e)) = &parsed
    {
        failure = Some((ErrorClass::PlaylistParse, format!("not an HLS playlist: {e}")));
    }
    recorder.record_request(&request_record(kind, None, &fetch, failure.as_ref().map(|f| f.0)));
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
        tls: crate::net::client_config(args.insecure, args.http2).context("cannot set up TLS")?,
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

/// How a run is shown while it goes: the dashboard when stdout is a terminal (and not `--no-tui`),
/// else progress lines on stderr.
enum Display {
    Dashboard(Dashboard),
    Lines(tokio::task::JoinHandle<()>),
}

impl Display {
    fn start(args: &RunArgs, feed: LiveFeed) -> Display {
        if !args.no_tui && std::io::stdout().is_terminal() {
            // Log lines would be drawn into the dashboard: to the log file, or nowhere, while it is up.
            crate::logging::mute_stderr(true);
            match Dashboard::start(feed.clone(), args.log_file.as_ref().map(|p| p.display().to_string())) {
                Ok(dashboard) => return Display::Dashboard(dashboard),
                Err(e) => {
                    crate::logging::mute_stderr(false);
                    tracing::warn!("cannot start the dashboard ({e}); printing progress lines instead");
                }
            }
        }
        Display::Lines(tokio::spawn(progress_lines(feed.snapshots, feed.info.clients_target)))
    }

    /// `signal`, or the dashboard's own stop (`q`, Ctrl-C in raw mode), whichever comes first.
    fn stop_signal(&mut self, signal: impl Future<Output = ()> + 'static) -> Pin<Box<dyn Future<Output = ()>>> {
        match self {
            Display::Dashboard(dashboard) => Box::pin(dashboard.stop_signal(signal)),
            Display::Lines(_) => Box::pin(signal),
        }
    }

    /// Ends the display; the terminal is restored when this returns, so the summary can be printed.
    fn close(self) {
        match self {
            Display::Dashboard(dashboard) => {
                if let Err(e) = dashboard.close() {
                    eprintln!("hls-swarm: the dashboard failed: {e}");
                }
                let dropped = crate::logging::mute_stderr(false);
                if dropped > 0 {
                    eprintln!(
                        "hls-swarm: {dropped} log message(s) were not shown while the dashboard was up; \
                         --log-file FILE keeps them"
                    );
                }
            }
            Display::Lines(progress) => progress.abort(),
        }
    }
}

/// Plain progress lines on stderr, for runs without the dashboard (CI, pipes, files, `--no-tui`).
async fn progress_lines(mut snapshots: watch::Receiver<Arc<Snapshot>>, target: u32) {
    let mut next = Instant::now() + PROGRESS_EVERY;
    loop {
        tokio::time::sleep_until(next.into()).await;
        next += PROGRESS_EVERY;
        let s = snapshots.borrow_and_update().clone();
        eprintln!("{}", crate::report::progress_line(&s, target));
    }
}
