//! One step from flags to a validated plan, as ripgrep goes from its flags to `HiArgs`: every check of
//! `hls-swarm run`'s and `hls-swarm origin`'s flags is made here, once, and the code after this step
//! reads the settings, never the flags. Value checks that need one flag only are clap's value parsers
//! (`cli`, `units`); checks across flags, and building what the flags describe, are here. Each error
//! names the flag to change.

use std::path::PathBuf;
use std::time::Duration;

use http::HeaderValue;
use url::Url;

use crate::cli::{ContainerArg, EngineArg, LowLatencyArg, OriginArgs, OriginMetricsArgs, RunArgs, VariantArg};
use crate::engine::{Plan, RunShard};
use crate::error::{Error, Result};
use crate::hls::{RenditionPolicy, VariantPolicy};
use crate::metrics::ScrapeConfig;
use crate::metrics::exporter::MetricsAddr;
use crate::net::{NetConfig, NetworkPlan};
use crate::origin::{Container, Encryption, FaultConfig, LowLatency, OriginConfig};
use crate::report::thresholds::Threshold;
use crate::viewer::abr::{Caps, Settings as AbrSettings};

/// Redirects a request follows before it is a `redirect_loop` error.
const MAX_REDIRECTS: u32 = 5;

/// Everything `hls-swarm run` does, checked.
pub struct RunSettings {
    /// The playlist to play; `None`: the built-in origin, started in-process.
    pub url: Option<Url>,
    pub engine: Engine,
    /// When viewers start, how the run ends, how many threads.
    pub plan: Plan,
    pub variant: VariantPolicy,
    /// How adaptive viewers start and what they may pick (`--variant abr`).
    pub abr: AbrSettings,
    /// Each viewer's link: rate cap and added round trip (`--network`, `--bandwidth`, `--rtt`,
    /// `--bandwidth-trace`).
    pub network: NetworkPlan,
    /// The alternate audio and subtitle renditions the native viewers play.
    pub renditions: RenditionPolicy,
    /// Decrypt the start of each new key's first segment and check it is media.
    pub decrypt_check: bool,
    /// Play LL-HLS with parts (`--low-latency auto`).
    pub low_latency: bool,
    /// VOD: media a viewer buffers ahead before it waits.
    pub buffer: Duration,
    pub net: NetConfig,
    pub scrape: ScrapeConfig,
    pub metrics_addr: Option<MetricsAddr>,
    pub report: Option<PathBuf>,
    /// `--fail-if`: checked on the report at the end.
    pub thresholds: Vec<Threshold>,
    /// `--start-at`: when the ramp starts.
    pub start_at: Option<std::time::SystemTime>,
    /// `--report-html`: the report as an HTML page.
    pub report_html: Option<PathBuf>,
    /// `--junit`: the thresholds as JUnit XML.
    pub junit: Option<PathBuf>,
    /// `--abort-on-fail`: also checked each second after this grace, ending the run when one fails.
    pub abort_on_fail: Option<Duration>,
    /// Show the dashboard when stdout is a terminal (`--no-tui` turns it off).
    pub dashboard: bool,
    pub log_file: Option<PathBuf>,
}

/// Who plays the viewers.
pub enum Engine {
    Native,
    Ffmpeg(FfmpegSettings),
}

impl Engine {
    /// The name reports and the dashboard show.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Native => "native",
            Engine::Ffmpeg(_) => "ffmpeg",
        }
    }
}

/// What only the FFmpeg engine uses.
pub struct FfmpegSettings {
    pub program: PathBuf,
    /// Print viewer 0's command and exit.
    pub print_cmd: bool,
}

impl RunSettings {
    /// Checks the flags of `hls-swarm run` and builds what they describe.
    pub fn from_args(args: RunArgs) -> Result<RunSettings> {
        let engine = engine(&args)?;
        let network = network_plan(&args)?;
        // Adaptive by default where viewers can adapt (the native engine); FFmpeg plays one variant.
        let variant = match (args.variant, &engine) {
            (Some(v), _) => policy(v),
            (None, Engine::Native) => VariantPolicy::Abr,
            (None, Engine::Ffmpeg(_)) => VariantPolicy::First,
        };
        let shard = run_shard(args.shard, args.clients, |name| std::env::var(name).ok())?;
        let here = shard.viewers(args.clients);
        let threads = args.threads.map_or_else(|| default_threads(&engine, here), usize::from);
        let plan = Plan {
            clients: args.clients,
            ramp_rate: args.ramp_rate,
            ramp_jitter: args.ramp_jitter,
            duration: (!args.duration.is_zero()).then_some(args.duration),
            drain_timeout: args.drain_timeout,
            seed: args.seed,
            threads,
            max_lateness: args.max_lateness,
            shard,
            behind: Duration::ZERO,
        };
        Ok(RunSettings {
            net: net_config(&args)?,
            scrape: scrape_config(&args.origin_metrics)?,
            url: args.url,
            engine,
            plan,
            variant,
            abr: AbrSettings {
                start_bps: args.abr_start_bandwidth as f64,
                start: args.abr_start.unwrap_or_default(),
                caps: Caps { max_height: args.abr_max_height, max_bandwidth: args.abr_max_bandwidth },
            },
            network,
            decrypt_check: args.decrypt_check,
            low_latency: args.low_latency == LowLatencyArg::Auto,
            renditions: RenditionPolicy {
                audio: args.audio.unwrap_or_default(),
                language: args.audio_lang.clone(),
                subtitles: args.subtitles,
            },
            buffer: args.buffer,
            metrics_addr: args.metrics_addr,
            thresholds: thresholds(&args.fail_if)?,
            abort_on_fail: args.abort_on_fail.then_some(args.threshold_grace),
            junit: args.junit,
            report_html: args.report_html,
            start_at: args.start_at,
            report: args.report,
            dashboard: !args.no_tui,
            log_file: args.log_file,
        })
    }
}

fn engine(args: &RunArgs) -> Result<Engine> {
    match args.engine {
        EngineArg::Native if args.print_cmd => {
            Err(Error::usage("--print-cmd prints the FFmpeg command; add --engine ffmpeg"))
        }
        EngineArg::Native => Ok(Engine::Native),
        EngineArg::Ffmpeg if args.http2 => {
            Err(Error::usage("--http2 is for the native engine (FFmpeg speaks HTTP/1.1); drop it or --engine ffmpeg"))
        }
        EngineArg::Ffmpeg if args.audio.is_some() || args.audio_lang.is_some() || args.subtitles => Err(Error::usage(
            "--audio, --audio-lang and --subtitles choose what the native viewers play; FFmpeg plays the renditions \
             its playlist gives it (--variant all: every one); drop them or --engine ffmpeg",
        )),
        EngineArg::Ffmpeg if args.http2_prior_knowledge => Err(Error::usage(
            "--http2-prior-knowledge is for the native engine (FFmpeg speaks HTTP/1.1); drop it or --engine ffmpeg",
        )),
        EngineArg::Ffmpeg if args.variant == Some(VariantArg::Abr) => Err(Error::usage(
            "--variant abr is the native viewers' (FFmpeg's HLS reader plays one variant); use --variant first, \
             highest, lowest or all with --engine ffmpeg",
        )),
        EngineArg::Ffmpeg
            if args.bandwidth.is_some()
                || args.network.is_some()
                || args.rtt.is_some()
                || args.bandwidth_trace.is_some() =>
        {
            Err(Error::usage(
                "--bandwidth, --network, --rtt and --bandwidth-trace shape the native viewers' links (FFmpeg reads \
                 at the speed it gets); drop them or --engine ffmpeg",
            ))
        }
        EngineArg::Ffmpeg if args.decrypt_check => Err(Error::usage(
            "--decrypt-check is the native viewers' (FFmpeg decrypts for itself); drop it or --engine ffmpeg",
        )),
        EngineArg::Ffmpeg => {
            Ok(Engine::Ffmpeg(FfmpegSettings { program: args.ffmpeg.clone(), print_cmd: args.print_cmd }))
        }
    }
}

/// Viewer threads when `--threads` is not given: one per 5,000 native viewers, up to one per CPU. An
/// idle-heavy swarm spends more on waking threads than on requests, so it uses as few as its load needs
/// (see `engine::shards`); shaped viewers too (2,000 capped by `--network` keep one thread's timers within
/// 2.5 ms in the README's ABR benchmark, now that a paced download waits a few times, not once per frame).
/// The FFmpeg engine: one proxy thread per 100 viewers; each viewer relays a whole stream's bytes through
/// the proxy, far more work per viewer than a native viewer's requests.
fn default_threads(engine: &Engine, clients: u32) -> usize {
    let per_thread = match engine {
        Engine::Native => 5_000,
        Engine::Ffmpeg(_) => 100,
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (clients as usize).div_ceil(per_thread).clamp(1, cpus)
}

/// Each viewer's link from the flags: profiles, then `--bandwidth` and `--rtt` over theirs; a trace is
/// the bandwidth over time, so not with `--bandwidth`.
fn network_plan(args: &RunArgs) -> Result<NetworkPlan> {
    let trace = match &args.bandwidth_trace {
        Some(_) if args.bandwidth.is_some() => {
            return Err(Error::usage(
                "--bandwidth-trace gives each viewer's bandwidth over time; drop --bandwidth or the trace",
            ));
        }
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::usage(format!("--bandwidth-trace {}: {e}", path.display())))?;
            let trace = crate::net::link::parse_trace(&text)
                .map_err(|e| Error::usage(format!("--bandwidth-trace {}: {e}", path.display())))?;
            Some(trace)
        }
        None => None,
    };
    Ok(NetworkPlan {
        mix: args.network.clone().map(|m| m.0).unwrap_or_default(),
        bandwidth: args.bandwidth,
        rtt: args.rtt,
        trace,
        trace_in_step: false,
        seed: args.seed,
    })
}

fn policy(v: VariantArg) -> VariantPolicy {
    match v {
        VariantArg::All => VariantPolicy::All,
        VariantArg::Highest => VariantPolicy::Highest,
        VariantArg::Lowest => VariantPolicy::Lowest,
        VariantArg::First => VariantPolicy::First,
        VariantArg::Abr => VariantPolicy::Abr,
    }
}

fn net_config(args: &RunArgs) -> Result<NetConfig> {
    let user_agent = HeaderValue::from_str(&args.user_agent)
        .map_err(|_| Error::usage("--user-agent has characters a header cannot carry"))?;
    let tls = crate::net::client_config(args.insecure, args.http2)
        .map_err(|e| Error::start(format!("cannot set up TLS: {e}")))?;
    crate::limits::check_sources(&args.source_addrs).map_err(Error::usage)?;
    Ok(NetConfig {
        resolve: args.resolve,
        headers: args.headers.clone(),
        no_cache: args.no_cache,
        user_agent,
        timeout: args.timeout,
        tls,
        max_redirects: MAX_REDIRECTS,
        h2_prior_knowledge: args.http2_prior_knowledge,
        sources: crate::net::SourceAddrs::new(args.source_addrs.clone()),
        clock: None,
    })
}

/// What the origin-metrics scraper reads (`--origin-metrics*`, `--nginx-metrics`).
fn scrape_config(args: &OriginMetricsArgs) -> Result<ScrapeConfig> {
    if args.window < args.interval {
        return Err(Error::usage(format!(
            "--origin-metrics-window ({:?}) must be at least --origin-metrics-interval ({:?})",
            args.window, args.interval
        )));
    }
    let defaults = match &args.host {
        Some(host) => Some(
            ScrapeConfig::host_defaults(host)
                .map_err(|e| Error::usage(format!("--origin-metrics-host '{host}' does not make a URL: {e}")))?,
        ),
        None => None,
    };
    let (node, nginx) = defaults.map_or((None, None), |(n, x)| (Some(n), Some(x)));
    Ok(ScrapeConfig {
        node: args.node.clone().or(node),
        nginx: args.nginx.clone().or(nginx),
        interval: args.interval,
        window: args.window,
    })
}

/// Checks the flags of `hls-swarm origin` and builds the origin's configuration.
pub fn origin_config(args: &OriginArgs) -> Result<OriginConfig> {
    if args.vod.is_some_and(|vod| vod < args.segment_duration) {
        return Err(Error::usage("--vod must be at least one --segment-duration long"));
    }
    if args.key_rotation.is_some() && args.encrypt.is_none() {
        return Err(Error::usage("--key-rotation needs --encrypt aes-128"));
    }
    if args.part_duration.is_some() && !args.low_latency {
        return Err(Error::usage("--part-duration needs --low-latency"));
    }
    // Low-latency parts are CMAF fragments: --low-latency implies fMP4 (a --container ts with it is
    // refused by the config's own check).
    let container = match args.container {
        Some(ContainerArg::Ts) => Container::Ts,
        Some(ContainerArg::Fmp4) => Container::Fmp4,
        None if args.low_latency => Container::Fmp4,
        None => Container::Ts,
    };
    let config = OriginConfig {
        listen: args.listen,
        variants: args.variants.0.clone(),
        window: args.window,
        segment_duration: args.segment_duration,
        vod: args.vod,
        start_sequence: args.start_sequence,
        audio: !args.no_audio,
        seed: args.seed,
        faults: FaultConfig {
            http_5xx: args.faults.http_5xx.unwrap_or(0.0),
            http_404: args.faults.http_404.unwrap_or(0.0),
            reset: args.faults.reset.unwrap_or(0.0),
            delay: args.faults.delay,
            bandwidth: args.faults.bandwidth,
            stale_playlist: args.faults.stale_playlist.filter(|d| !d.is_zero()),
            schedule: args.faults.schedule.clone().map(|s| s.0).unwrap_or_default(),
        },
        container,
        audio_rendition: args.audio_rendition,
        byterange: args.byterange,
        encryption: args
            .encrypt
            .map(|_| Encryption { key_rotation: args.key_rotation.unwrap_or(Encryption::DEFAULT_KEY_ROTATION) }),
        low_latency: args
            .low_latency
            .then(|| LowLatency { part_duration: args.part_duration.unwrap_or(LowLatency::DEFAULT_PART_DURATION) }),
    };
    config.check().map_err(Error::usage)?;
    Ok(config)
}

/// `--shard`, or a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` with `HLS_SWARM_SHARDS`; every shard
/// must have a viewer.
fn run_shard(flag: Option<RunShard>, clients: u32, env: impl Fn(&str) -> Option<String>) -> Result<RunShard> {
    let shard = match (flag, env("JOB_COMPLETION_INDEX"), env("HLS_SWARM_SHARDS")) {
        (Some(shard), _, _) => shard,
        (None, Some(index), Some(count)) => RunShard::parse(&format!("{index}/{count}"))
            .map_err(|e| Error::usage(format!("JOB_COMPLETION_INDEX and HLS_SWARM_SHARDS: {e}; or give --shard")))?,
        (None, _, _) => RunShard::WHOLE,
    };
    if shard.count > clients {
        return Err(Error::usage(format!(
            "--shard {}/{}: {clients} viewers leave some of {} shards without any; give fewer shards or more --clients",
            shard.index, shard.count, shard.count
        )));
    }
    Ok(shard)
}

/// `--fail-if`: each expression checked now, so a typo is a usage error before the run, not a failure
/// after it.
fn thresholds(expressions: &[String]) -> Result<Vec<Threshold>> {
    expressions.iter().map(|e| Threshold::parse(e).map_err(|err| Error::usage(err.to_string()))).collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn a_shard_comes_from_the_flag_or_an_indexed_jobs_environment() {
        let env = |index: &'static str, count: &'static str| {
            move |name: &str| match name {
                "JOB_COMPLETION_INDEX" => Some(index.to_owned()),
                "HLS_SWARM_SHARDS" => Some(count.to_owned()),
                _ => None,
            }
        };
        let none = |_: &str| None;
        assert_eq!(run_shard(None, 10, none).unwrap(), RunShard::WHOLE);
        assert_eq!(run_shard(None, 10, env("2", "4")).unwrap(), RunShard { index: 2, count: 4 });
        let flag = Some(RunShard { index: 1, count: 2 });
        assert_eq!(run_shard(flag, 10, env("2", "4")).unwrap(), RunShard { index: 1, count: 2 }, "the flag wins");
        let err = run_shard(None, 10, env("4", "4")).unwrap_err().to_string();
        assert!(err.contains("JOB_COMPLETION_INDEX") && err.contains("--shard"), "{err}");
        let err = run_shard(Some(RunShard { index: 0, count: 8 }), 4, none).unwrap_err().to_string();
        assert!(err.contains("without any"), "{err}");
    }
    use crate::cli::{Cli, Command};

    fn run_settings(args: &[&str]) -> Result<RunSettings> {
        let cli = Cli::try_parse_from([&["hls-swarm", "run"], args].concat()).expect("flags parse");
        let Command::Run(args) = cli.command else { unreachable!("a run command") };
        RunSettings::from_args(*args)
    }

    fn usage_message(args: &[&str]) -> String {
        match run_settings(args) {
            Err(Error::Usage(message)) => message,
            Err(other) => panic!("{args:?}: not a usage error: {other}"),
            Ok(_) => panic!("{args:?}: accepted"),
        }
    }

    #[test]
    fn flags_that_cannot_work_together_are_usage_errors_naming_a_flag() {
        assert!(usage_message(&["--print-cmd"]).contains("--engine ffmpeg"));
        assert!(usage_message(&["--engine", "ffmpeg", "--http2"]).contains("--http2"));
        let window = usage_message(&["--origin-metrics-interval", "5s", "--origin-metrics-window", "2s"]);
        assert!(window.contains("--origin-metrics-window"), "{window}");
        assert!(usage_message(&["--user-agent", "a\u{7f}b"]).contains("--user-agent"));
    }

    #[test]
    fn threads_default_by_engine() {
        let native = run_settings(&["--clients", "10"]).unwrap();
        assert_eq!(native.plan.threads, 1);
        let ffmpeg = run_settings(&["--clients", "10", "--engine", "ffmpeg"]).unwrap();
        assert_eq!(ffmpeg.plan.threads, 1);
        let given = run_settings(&["--threads", "3"]).unwrap();
        assert_eq!(given.plan.threads, 3);
        assert_eq!(given.engine.name(), "native");
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let plain = run_settings(&["--clients", "2000"]).unwrap();
        assert_eq!(plain.plan.threads, 1);
        let shaped = run_settings(&["--clients", "2000", "--network", "3g:20%,4g:50%,cable:30%"]).unwrap();
        assert_eq!(shaped.plan.threads, 1, "paced viewers as many per thread");
        let many = run_settings(&["--clients", "10000"]).unwrap();
        assert_eq!(many.plan.threads, 2.min(cpus), "one per 5,000");
    }

    #[test]
    fn zero_duration_runs_until_stopped() {
        assert_eq!(run_settings(&["--duration", "0"]).unwrap().plan.duration, None);
        assert_eq!(run_settings(&["--duration", "3s"]).unwrap().plan.duration, Some(Duration::from_secs(3)));
    }

    fn origin_settings(args: &[&str]) -> Result<OriginConfig> {
        let cli = Cli::try_parse_from([&["hls-swarm", "origin"], args].concat()).expect("flags parse");
        let Command::Origin(args) = cli.command else { unreachable!("an origin command") };
        origin_config(&args)
    }

    #[test]
    fn a_vod_shorter_than_a_segment_is_a_usage_error() {
        let result = origin_settings(&["--vod", "1s", "--segment-duration", "2s"]);
        assert!(matches!(result, Err(Error::Usage(m)) if m.contains("--vod")));
    }

    #[test]
    fn stream_forms_combine_and_unsupported_combinations_name_the_flags() {
        let all = ["--container", "fmp4", "--audio-rendition", "--byterange", "4", "--encrypt", "aes-128"];
        let config = origin_settings(&all).unwrap();
        assert_eq!(config.container, Container::Fmp4);
        assert!(config.audio_rendition);
        assert_eq!(config.byterange, Some(4));
        assert_eq!(config.encryption, Some(Encryption { key_rotation: 10 }));
        let rotated = origin_settings(&["--encrypt", "aes-128", "--key-rotation", "3"]).unwrap();
        assert_eq!(rotated.encryption, Some(Encryption { key_rotation: 3 }));
        let plain = origin_settings(&[]).unwrap();
        assert_eq!(
            (plain.container, plain.audio_rendition, plain.byterange, plain.encryption),
            (Container::Ts, false, None, None)
        );
        let usage = |args: &[&str]| match origin_settings(args) {
            Err(Error::Usage(m)) => m,
            other => panic!("{args:?}: {:?}", other.map(|_| ())),
        };
        let no_audio = usage(&["--audio-rendition", "--no-audio"]);
        assert!(no_audio.contains("--audio-rendition") && no_audio.contains("--no-audio"), "{no_audio}");
        let rotation = usage(&["--key-rotation", "5"]);
        assert!(rotation.contains("--key-rotation") && rotation.contains("--encrypt"), "{rotation}");
        let low_latency = origin_settings(&["--low-latency"]).unwrap();
        assert_eq!(low_latency.container, Container::Fmp4, "implied");
        assert_eq!((low_latency.frames_per_part(), low_latency.parts_per_segment()), (10, 6));
        let short =
            origin_settings(&["--low-latency", "--segment-duration", "1s", "--part-duration", "200ms"]).unwrap();
        assert_eq!((short.frames_per_part(), short.parts_per_segment()), (6, 5));
        let uneven = usage(&["--low-latency", "--segment-duration", "1s", "--part-duration", "300ms"]);
        assert!(uneven.contains("--segment-duration") && uneven.contains("--part-duration"), "{uneven}");
        let longer = usage(&["--low-latency", "--segment-duration", "1s", "--part-duration", "2s"]);
        assert!(longer.contains("--part-duration"), "{longer}");
        assert!(usage(&["--part-duration", "200ms"]).contains("--low-latency"));
        for (clash, flag) in [
            (&["--container", "ts"][..], "--container fmp4"),
            (&["--vod", "10s"], "--vod"),
            (&["--byterange", "2"], "--byterange"),
            (&["--encrypt", "aes-128"], "--encrypt"),
        ] {
            let message = usage(&[&["--low-latency"], clash].concat());
            assert!(message.contains("--low-latency") && message.contains(flag), "{message}");
        }
        for bad in [
            &["--byterange", "0"][..],
            &["--encrypt", "aes-256"],
            &["--container", "mp4"],
            &["--encrypt", "aes-128", "--key-rotation", "0"],
        ] {
            assert!(Cli::try_parse_from([&["hls-swarm", "origin"], bad].concat()).is_err(), "{bad:?}");
        }
    }
}
