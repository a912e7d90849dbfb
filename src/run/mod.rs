//! `hls-swarm run`: from the checked settings to a finished run. Starts the built-in origin when no URL
//! is given, checks the target once, runs the swarm (native or FFmpeg
//! engine) under the dashboard or progress lines, with the Prometheus endpoint and the origin metrics
//! scraper, then prints the summary and writes the report. The FFmpeg engine's own setup is in `ffmpeg`.

mod ffmpeg;

use std::future::Future;
use std::io::IsTerminal;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use url::Url;

use crate::engine::{SwarmConfig, SwarmOutcome, run_swarm};
use crate::error::Error;
use crate::hls;
use crate::hls::VariantPolicy;
use crate::live::{LiveFeed, RunInfo, Rung};
use crate::metrics::exporter::{self, Binding, ExporterHandle, MetricsAddr};
use crate::metrics::origin_view::OriginView;
use crate::metrics::{ScrapeConfig, spawn_scraper};
use crate::net::{BodyMode, Loader, NetConfig};
use crate::origin::{self, OriginConfig, OriginHandle};
use crate::report::thresholds::{Threshold, Verdict};
use crate::report::{Aborted, BuiltinOriginCounts, RunMeta, ShardReport, build_report, report_json, summary};
use crate::settings::{Engine, RunSettings};
use crate::stats::timeline::TIMELINE_CAP;
use crate::stats::{ErrorClass, Kind, OriginSecond, Recorder, Snapshot};
use crate::tui::Dashboard;
use crate::viewer::{PLAYLIST_LIMIT, ViewerConfig, failure_of, request_record};

/// Seconds between progress lines (when there is no dashboard).
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub fn run(settings: RunSettings) -> Result<(), Error> {
    crate::init_logging(settings.log_file.as_deref()).map_err(Error::Start)?;
    // Single-threaded: the engine adds one runtime per extra viewer thread (`engine::shards`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::start(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(run_async(settings))
}

async fn run_async(mut settings: RunSettings) -> Result<(), Error> {
    // Ctrl-C and SIGTERM from here on end the run through the drain, summary and report.
    let mut stop = Box::pin(crate::signals::shutdown_signal());
    // First, so that a --metrics-addr that cannot be served stops the run before anything starts.
    let metrics = bind_metrics(settings.metrics_addr).await.map_err(Error::Start)?;
    let (url, origin) = target(&settings).await.map_err(Error::Start)?;
    if !settings.plan.shard.is_whole() || settings.start_at.is_some() {
        // Shards start and count seconds by their own clocks: the report says how each stood.
        settings.net.clock = Some(Arc::new(crate::net::TargetClock::new()));
    }
    let net = Arc::new(settings.net.clone());
    let recorder = Recorder::new();
    let playlist = preflight(&url, &net, &recorder).await.map_err(Error::start)?;
    if let Engine::Native = settings.engine {
        local_limits(&settings, &playlist, origin.is_some()).map_err(Error::start)?;
    }
    let mut notes = Vec::new();
    if let Some(at) = settings.start_at {
        match SystemTime::now().duration_since(at) {
            // Late: the schedule started without this process; it joins where the schedule stands.
            Ok(behind) => {
                if let Some(duration) = settings.plan.duration.filter(|d| behind >= *d) {
                    // Nothing left of the run: a start left over from an earlier one (a ConfigMap's).
                    return Err(Error::usage(format!(
                        "--start-at was {:.0} s ago, past the whole run ({} s of --duration): nothing is left to play; \
                         give a later --start-at",
                        behind.as_secs_f64(),
                        duration.as_secs_f64()
                    )));
                }
                settings.plan.behind = behind;
                let note = format!(
                    "started {:.1} s after --start-at and joined the schedule there (the viewers due by then started at once)",
                    behind.as_secs_f64()
                );
                eprintln!("hls-swarm: {note}");
                notes.push(note);
            }
            Err(early) => {
                let wait = early.duration();
                eprintln!("hls-swarm: waiting {:.1} s for --start-at", wait.as_secs_f64());
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = &mut stop => {
                        eprintln!("hls-swarm: stopped before --start-at; nothing ran");
                        return Ok(());
                    }
                }
            }
        }
    }
    let engine = match &settings.engine {
        Engine::Native => SwarmEngine::Native(Box::new(native_config(&settings, &url, &playlist, net, recorder))),
        Engine::Ffmpeg(ffmpeg) => match ffmpeg::prepare(&settings, ffmpeg, &url, &playlist, recorder)? {
            ffmpeg::Prepared::Swarm(config) => SwarmEngine::Ffmpeg(config),
            ffmpeg::Prepared::Printed => return Ok(()),
        },
    };
    let info = Arc::new(run_info(&settings, &url, &playlist));
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::empty()));
    let scraper = OriginMetrics::start(settings.scrape.clone(), origin.as_ref());
    let feed = LiveFeed { info: info.clone(), snapshots: snap_rx, origin: scraper.view.clone() };
    let origin_seconds = OriginSeconds::default();
    let sampler = tokio::spawn(origin_seconds.clone().sample(scraper.view.clone(), info.started));
    let exporter = metrics.map(|listener| start_exporter(listener, feed.clone())).transpose().map_err(Error::Start)?;
    let aborted = Arc::new(std::sync::Mutex::new(None));
    let stop: Pin<Box<dyn Future<Output = ()>>> = match settings.abort_on_fail {
        Some(grace) => {
            let guard = ThresholdGuard { thresholds: settings.thresholds.clone(), grace, info: info.clone() };
            Box::pin(guard.stop_early(stop, feed.snapshots.clone(), aborted.clone()))
        }
        None => Box::pin(stop),
    };
    let mut display = Display::start(&settings, feed);
    let stop = display.stop_signal(stop);
    let outcome = engine.run(stop, snap_tx).await;
    display.close();
    let origin_metrics = scraper.finish().await;
    let origin = finish_origin(origin).await;
    notes.extend(low_caps(&settings.network, &playlist));
    let meta = RunMeta { info, abandoned: outcome.abandoned, origin, origin_metrics, notes };
    let aborted = aborted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    sampler.abort();
    let result = finish(&settings, &outcome, &meta, aborted, &origin_seconds);
    // Until here the endpoint serves the final snapshot.
    if let Some(exporter) = exporter {
        exporter.shutdown().await;
    }
    result
}

/// What a native swarm of this size needs of this machine (open files, local ports to the target, the
/// `--source-addrs`), checked before it starts; the open-file limit is raised when the hard one allows.
fn local_limits(settings: &RunSettings, playlist: &hls::Playlist, origin_in_process: bool) -> Result<(), String> {
    use crate::hls::{AudioPolicy, RenditionType};
    let tracks = match playlist {
        hls::Playlist::Multivariant(m) => {
            let count = |kind| m.renditions.iter().filter(|r| r.kind == kind && r.uri.is_some()).count() as u32;
            let audio = match settings.renditions.audio {
                AudioPolicy::None => 0,
                AudioPolicy::Default => count(RenditionType::Audio).min(1),
                AudioPolicy::All => count(RenditionType::Audio),
            };
            let subtitles = if settings.renditions.subtitles { count(RenditionType::Subtitles).min(1) } else { 0 };
            let variants = if matches!(settings.variant, VariantPolicy::All) { m.variants.len() as u32 } else { 1 };
            variants + audio + subtitles
        }
        hls::Playlist::Media(_) => 1,
    };
    // Low-latency tracks hold more connections; known here only when the URL is a media playlist (a
    // multivariant one's media playlists are read by the viewers).
    let low_latency = settings.low_latency && matches!(playlist, hls::Playlist::Media(m) if m.part_target.is_some());
    let clients = settings.plan.shard.viewers(settings.plan.clients);
    let needs = crate::limits::native_needs(clients, tracks, low_latency, origin_in_process);
    if let Some(ports) = crate::limits::local_ports() {
        crate::limits::check_ports(needs.connections, settings.net.sources.len(), ports)?;
    }
    if origin_in_process {
        // A ramp of more viewers a second than the kernel queues connections for waits on the accepts.
        let burst = (settings.plan.ramp_rate.ceil() as u64).min(u64::from(clients));
        if let Some(queued) = crate::limits::somaxconn().filter(|q| *q < burst) {
            eprintln!(
                "hls-swarm: warning: the built-in origin's accept queue holds {queued} connections \
                 (net.core.somaxconn) and the ramp starts {burst} viewers a second; raise it or lower --ramp-rate"
            );
        }
    }
    let limit = crate::limits::check_open_files(clients, needs)?;
    if limit.now > limit.was {
        eprintln!("hls-swarm: raised the open-file limit from {} to {} for {clients} viewers", limit.was, limit.now);
    }
    Ok(())
}

/// The URL to play: the one given, or the built-in origin's, started in-process.
async fn target(settings: &RunSettings) -> anyhow::Result<(Url, Option<OriginHandle>)> {
    if let Some(url) = &settings.url {
        return Ok((url.clone(), None));
    }
    let config = OriginConfig { seed: settings.plan.seed, ..OriginConfig::local_default() };
    // Its own threads, as `hls-swarm origin` has: the server under test must not share the viewers'.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let origin = origin::spawn_dedicated(config, threads).context("cannot start the built-in origin")?;
    let url = Url::parse(origin.url())?.join("master.m3u8")?;
    eprintln!("hls-swarm: no URL given: using the built-in origin at {url}");
    Ok((url, Some(origin)))
}

/// The swarm of one run: both engines produce the same records, snapshots and outcome.
enum SwarmEngine {
    Native(Box<SwarmConfig>),
    Ffmpeg(crate::ffmpeg::FfmpegSwarmConfig),
}

impl SwarmEngine {
    async fn run(
        self,
        stop: impl std::future::Future<Output = ()>,
        snapshots: watch::Sender<Arc<Snapshot>>,
    ) -> SwarmOutcome {
        match self {
            SwarmEngine::Native(config) => run_swarm(*config, stop, snapshots).await,
            SwarmEngine::Ffmpeg(config) => {
                let outcome = crate::ffmpeg::run_ffmpeg_swarm(config, stop, snapshots).await;
                eprintln!("hls-swarm: {}", outcome.tally);
                outcome.swarm
            }
        }
    }
}

fn native_config(
    settings: &RunSettings,
    url: &Url,
    playlist: &hls::Playlist,
    net: Arc<NetConfig>,
    recorder: Recorder,
) -> SwarmConfig {
    let viewer = ViewerConfig {
        url: url.clone(),
        entry_kind: match playlist {
            hls::Playlist::Media(_) => Kind::MediaPlaylist,
            hls::Playlist::Multivariant(_) => Kind::Multivariant,
        },
        policy: settings.variant,
        renditions: settings.renditions.clone(),
        decrypt_check: settings.decrypt_check,
        low_latency: settings.low_latency,
        abr: settings.abr,
        network: settings.network.clone(),
        buffer_target: settings.buffer,
        net,
        recorder,
        tap: None,
    };
    SwarmConfig { plan: settings.plan.clone(), viewer }
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

/// Viewers' links below the lowest variant's `BANDWIDTH` are allowed (a test of stalls); the summary
/// says so, naming them.
fn low_caps(network: &crate::net::NetworkPlan, playlist: &hls::Playlist) -> Option<String> {
    let hls::Playlist::Multivariant(m) = playlist else { return None };
    let lowest = m.variants.iter().map(|v| v.bandwidth).filter(|b| *b > 0).min()?;
    let mut below: Vec<String> = Vec::new();
    match (network.bandwidth, &network.trace) {
        (Some(cap), _) if cap < lowest => below.push(format!("--bandwidth {cap} bit/s")),
        (None, Some(trace)) if trace.min_rate() < lowest => {
            below.push(format!("the trace at its lowest, {} bit/s", trace.min_rate()));
        }
        (None, None) => {
            let slow = network.mix.iter().filter(|(p, _)| p.bits_per_s < lowest);
            below.extend(
                slow.map(|(p, share)| format!("{} ({} bit/s, {:.0}% of viewers)", p.name, p.bits_per_s, share * 100.0)),
            );
        }
        _ => {}
    }
    (!below.is_empty()).then(|| {
        format!("links below the lowest variant's BANDWIDTH ({lowest} bit/s), so they stall: {}", below.join(", "))
    })
}

fn run_info(settings: &RunSettings, url: &Url, playlist: &hls::Playlist) -> RunInfo {
    let ladder = match playlist {
        hls::Playlist::Multivariant(m) => Rung::ladder_of(m),
        hls::Playlist::Media(_) => Vec::new(),
    };
    RunInfo {
        target: url.to_string(),
        engine: settings.engine.name(),
        // This process's part of the run: its viewers, ramping at its share of the rate.
        clients_target: settings.plan.shard.viewers(settings.plan.clients),
        duration: settings.plan.duration,
        ramp_rate: settings.plan.ramp_rate / f64::from(settings.plan.shard.count),
        // The schedule's start: earlier than now when the process joined it late.
        started: Instant::now().checked_sub(settings.plan.behind).unwrap_or_else(Instant::now),
        started_at: SystemTime::now() - settings.plan.behind,
        ladder,
    }
}

async fn finish_origin(origin: Option<OriginHandle>) -> Option<BuiltinOriginCounts> {
    let origin = origin?;
    let totals = BuiltinOriginCounts::from_counters(origin.counters());
    origin.shutdown().await;
    Some(totals)
}

/// The summary on stdout with the thresholds' verdicts, and the JSON report when asked for. Failed
/// thresholds end the command with exit code 3, after the report is written.
fn finish(
    settings: &RunSettings,
    outcome: &SwarmOutcome,
    meta: &RunMeta,
    aborted: Option<Aborted>,
    origin_seconds: &OriginSeconds,
) -> Result<(), Error> {
    let mut report = build_report(&outcome.snapshot, meta);
    report.aborted = aborted;
    origin_seconds.fill(&mut report.timeline);
    let shard = settings.plan.shard;
    if !shard.is_whole() {
        report.shard = Some(ShardReport {
            index: shard.index,
            count: shard.count,
            host: crate::limits::host_name(),
            clock_offset: settings.net.clock.as_ref().and_then(|c| c.offset()),
        });
    }
    let failed = crate::report::thresholds::check(&settings.thresholds, &mut report)?;
    let shown = report.as_written().context("cannot serialize the report")?;
    print!("{}", summary(&shown));
    if settings.report.as_deref() == Some(Path::new("-")) {
        // `--report -`: one line, the last of stdout, for `kubectl logs ... | hls-swarm report merge -`.
        // The figures as the file has them (tidied), on one line.
        let text = report_json(&report).context("cannot serialize the report")?;
        let line = serde_json::from_str::<serde_json::Value>(&text).and_then(|v| serde_json::to_string(&v));
        let line = line.context("cannot serialize the report")?;
        println!("{line}");
    } else if let Some(path) = &settings.report {
        let text = report_json(&report).context("cannot serialize the report")?;
        crate::report::command::write_whole(path, (text + "\n").as_bytes())
            .with_context(|| format!("cannot write the report to {}; check --report", path.display()))?;
        eprintln!("hls-swarm: report written to {}", path.display());
    }
    if let Some(path) = &settings.report_html {
        crate::report::command::write_whole(path, crate::report::html::page(&shown).as_bytes())
            .with_context(|| format!("cannot write the HTML report {}; check --report-html", path.display()))?;
        eprintln!("hls-swarm: HTML report written to {}", path.display());
    }
    if let Some(path) = &settings.junit {
        crate::report::command::write_whole(path, crate::report::junit::junit(&shown).as_bytes())
            .with_context(|| format!("cannot write the JUnit file {}; check --junit", path.display()))?;
    }
    if !failed.is_empty() {
        return Err(Error::Thresholds { failed, of: settings.thresholds.len() });
    }
    Ok(())
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

/// The origin's figures once a second, by second of the run, for the report's timeline: what the
/// scraper last saw (host CPU and network, nginx's or the built-in origin's request rate, the built-in
/// origin's bytes sent). Bounded as the timeline is: past [`TIMELINE_CAP`] samples every other is
/// dropped, and each point takes the latest sample at or before its second.
#[derive(Clone, Default)]
struct OriginSeconds(Arc<std::sync::Mutex<std::collections::BTreeMap<u64, OriginSecond>>>);

impl OriginSeconds {
    async fn sample(self, view: watch::Receiver<Arc<OriginView>>, started: Instant) {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let Some(second) = origin_second(&view.borrow()) else { continue };
            let t = (started.elapsed().as_millis() as u64 + 500) / 1000;
            let mut samples = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if samples.len() >= TIMELINE_CAP {
                let mut keep = false;
                samples.retain(|_, _| {
                    keep = !keep;
                    keep
                });
            }
            samples.insert(t, second);
        }
    }

    fn fill(&self, timeline: &mut [crate::stats::TimelinePoint]) {
        let samples = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for point in timeline {
            point.origin = samples.range(..=point.t).next_back().map(|(_, s)| *s);
        }
    }
}

/// What a timeline point keeps of the origin's view; `None` when nothing is scraped. A stale source's
/// figures are left out (they are an earlier second's).
fn origin_second(view: &OriginView) -> Option<OriginSecond> {
    let fresh_host = view.host.as_ref().filter(|h| !h.source.stale);
    let fresh_nginx = view.nginx.as_ref().filter(|n| !n.source.stale);
    let now = |s: Option<crate::metrics::origin_view::Stat>| s.map(|s| s.now);
    let second = OriginSecond {
        cpu_percent: now(fresh_host.and_then(|h| h.cpu_percent)),
        net_tx_bytes_per_s: now(fresh_host.and_then(|h| h.net_tx_bytes_per_s)),
        requests_per_s: now(fresh_nginx.and_then(|n| n.requests_per_s))
            .or(now(view.builtin.as_ref().and_then(|b| b.requests_per_s))),
        bytes_per_s: now(view.builtin.as_ref().and_then(|b| b.bytes_per_s)),
    };
    (second != OriginSecond::default()).then_some(second)
}

/// `--abort-on-fail`: the thresholds checked on each snapshot after the grace.
struct ThresholdGuard {
    thresholds: Vec<Threshold>,
    grace: Duration,
    info: Arc<RunInfo>,
}

impl ThresholdGuard {
    /// `signal`, or the first threshold that fails on the figures so far, whichever comes first; that
    /// threshold is left in `aborted`. A figure the run has no sample of yet does not end it.
    async fn stop_early(
        self,
        signal: impl Future<Output = ()>,
        mut snapshots: watch::Receiver<Arc<Snapshot>>,
        aborted: Arc<std::sync::Mutex<Option<Aborted>>>,
    ) {
        let meta =
            RunMeta { info: self.info.clone(), abandoned: 0, origin: None, origin_metrics: None, notes: Vec::new() };
        let failing = async {
            while snapshots.changed().await.is_ok() {
                let s = snapshots.borrow_and_update().clone();
                if s.elapsed < self.grace {
                    continue;
                }
                let figures = crate::report::figures(&s, &meta);
                for t in &self.thresholds {
                    if let Verdict { value: Some(value), passed: false } = t.evaluate(&figures) {
                        let at_seconds = s.elapsed.as_secs_f64();
                        eprintln!(
                            "hls-swarm: threshold {t} failed at {at_seconds:.0} s ({}): ending the run (--abort-on-fail)",
                            t.show(value)
                        );
                        return Aborted { threshold: t.to_string(), value, at_seconds };
                    }
                }
            }
            std::future::pending().await
        };
        tokio::select! {
            () = signal => {}
            failed = failing => {
                *aborted.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(failed);
            }
        }
    }
}

/// How a run is shown while it goes: the dashboard when stdout is a terminal (and not `--no-tui`),
/// else progress lines on stderr.
enum Display {
    Dashboard(Dashboard),
    Lines(tokio::task::JoinHandle<()>),
}

impl Display {
    fn start(settings: &RunSettings, feed: LiveFeed) -> Display {
        if settings.dashboard && std::io::stdout().is_terminal() {
            // Log lines would be drawn into the dashboard: to the log file, or nowhere, while it is up.
            crate::logging::mute_stderr(true);
            match Dashboard::start(feed.clone(), settings.log_file.as_ref().map(|p| p.display().to_string())) {
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
    let mut episodes = 0;
    loop {
        tokio::time::sleep_until(next.into()).await;
        next += PROGRESS_EVERY;
        let s = snapshots.borrow_and_update().clone();
        if s.generator.episodes > episodes {
            // Once per episode: from here on the figures include hls-swarm's own delay.
            episodes = s.generator.episodes;
            eprintln!("{}", s.generator.saturation_message());
        }
        eprintln!("{}", crate::report::progress_line(&s, target));
    }
}
