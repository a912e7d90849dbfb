//! The command line, flags only. Help text comes from the doc comments; value parsers (here and in
//! [`crate::units`]) name what form they expect, and clap names the flag and exits with code 2 on bad
//! input. Checks across flags, and turning flags into a plan, are [`crate::settings`]'s.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::hls::AudioPolicy;
use crate::metrics::ScrapeConfig;
use crate::metrics::exporter::MetricsAddr;
use crate::origin::VariantSpec;
use crate::units::{parse_bitrate, parse_bytes, parse_duration, parse_rate};

#[derive(Debug, Parser)]
#[command(name = "hls-swarm", version, about = "Load tester for HLS origins and CDNs")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Play a swarm of measured viewers against an HLS stream (the built-in origin when no URL is given).
    Run(Box<RunArgs>),
    /// Serve a synthetic live (or VOD) HLS stream from memory, with ground-truth counters and faults.
    Origin(Box<OriginArgs>),
    /// Read saved JSON reports: print one's summary, compare two, merge several, or draw one as HTML.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Print the text summary of a saved report, as the run printed it.
    Show {
        #[arg(value_name = "RUN.json")]
        report: std::path::PathBuf,
    },
    /// Print two reports' figures side by side with their change, marking regressions (figures worse
    /// by more than --tolerance).
    Compare {
        #[arg(value_name = "BASE.json")]
        base: std::path::PathBuf,
        #[arg(value_name = "NEW.json")]
        new: std::path::PathBuf,
        /// How much worse a figure may get before it is a regression: a percentage (10%) or a fraction.
        #[arg(long, default_value = "10%", value_parser = crate::report::compare::parse_tolerance)]
        tolerance: f64,
        /// Exit with code 3 when there is a regression.
        #[arg(long)]
        fail_on_regression: bool,
    },
    /// Merge reports of several runs (or shards of one) into one: counters summed, histograms added
    /// (exact percentiles of the union), timelines aligned by wall-clock second.
    Merge {
        /// Reports; `-` reads standard input and takes every line that is a report (as `run --report -`
        /// prints them, e.g. in `kubectl logs`), leaving the other lines.
        #[arg(value_name = "RUN.json", required = true, num_args = 1..)]
        reports: Vec<std::path::PathBuf>,
        /// The merged report.
        #[arg(short, long, value_name = "ALL.json")]
        output: std::path::PathBuf,
        /// Merge the shards present when some of a sharded run's are missing (they are listed).
        #[arg(long)]
        allow_missing: bool,
        /// Thresholds checked on the merged run, as `run --fail-if` checks one run's: listed, kept in the
        /// merged report, exit code 3 when any failed.
        #[arg(long = "fail-if", value_name = "EXPR")]
        fail_if: Vec<String>,
    },
    /// Write a saved report as one self-contained HTML page with charts (opens offline; no script).
    Html {
        #[arg(value_name = "RUN.json")]
        report: std::path::PathBuf,
        /// The HTML file.
        #[arg(short, long, value_name = "FILE.html")]
        output: std::path::PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Multivariant or media playlist URL (http or https). Without it, the built-in origin is started
    /// in-process on 127.0.0.1 and used.
    #[arg(value_parser = parse_target_url)]
    pub url: Option<url::Url>,
    /// Number of simulated viewers.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub clients: u32,
    /// Viewers started per second during the ramp.
    #[arg(long, default_value_t = 5.0, value_parser = parse_positive, allow_negative_numbers = true)]
    pub ramp_rate: f64,
    /// Extra start delay per viewer, uniform in [0, DUR), deterministic under --seed.
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub ramp_jitter: Duration,
    /// Run length; 0 runs until Ctrl-C.
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub duration: Duration,
    /// Run part of the whole run: viewer i of --clients is this process's when i mod COUNT is INDEX, and
    /// starts when the whole run's ramp starts it (--clients and --ramp-rate are the whole run's). Default
    /// from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's) and HLS_SWARM_SHARDS when both are set.
    #[arg(long, value_name = "INDEX/COUNT", value_parser = crate::engine::RunShard::parse)]
    pub shard: Option<crate::engine::RunShard>,
    /// When the ramp starts: an RFC 3339 time (2026-12-01T10:00:00Z) or +DURATION from now (+30s), so
    /// shards on several machines start together. A process that is late joins the schedule where it
    /// stands (the viewers due by then start at once) and says so.
    #[arg(long, value_name = "TIME|+DURATION", value_parser = crate::units::parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// Seed for jitter and backoff (and the built-in origin's faults).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Renditions each viewer plays: abr (the native engine's default) switches as a player does
    /// (hls.js's estimate and choice); the others keep one variant (all: every variant at once). With
    /// --engine ffmpeg (default first), highest/lowest/first give FFmpeg that variant's media playlist and
    /// all gives it the multivariant playlist with -map 0.
    #[arg(long, value_enum)]
    pub variant: Option<VariantArg>,
    /// --variant abr: the throughput estimate before the first download (hls.js: 500k).
    #[arg(long, value_name = "RATE", default_value = "500k", value_parser = parse_bitrate)]
    pub abr_start_bandwidth: u64,
    /// --variant abr: the variant to start on instead of the estimate's: lowest, highest, first, or its
    /// index in the multivariant playlist (0 is the first).
    #[arg(long, value_name = "lowest|highest|first|N", value_parser = parse_abr_start)]
    pub abr_start: Option<crate::viewer::abr::Start>,
    /// --variant abr: never a variant taller than this (a phone does not play 4K), e.g. 720.
    #[arg(long, value_name = "PIXELS")]
    pub abr_max_height: Option<u32>,
    /// --variant abr: never a variant whose BANDWIDTH is above this, e.g. 3M.
    #[arg(long, value_name = "RATE", value_parser = parse_bitrate)]
    pub abr_max_bandwidth: Option<u64>,
    /// Each viewer's download rate, across its connections, e.g. 4M (bits per second): the bodies are
    /// read no faster, so the time to the first byte stays the server's. Over the --network profile's.
    /// Native engine.
    #[arg(long, value_name = "RATE", value_parser = parse_bitrate)]
    pub bandwidth: Option<u64>,
    /// Each viewer's network drawn from profiles by --seed, e.g. 3g:20%,4g:50%,cable:30% (WebPageTest's
    /// presets: 2g, edge, 3gslow, 3g, 3gfast, 4g, lte, dsl, cable, fios: bandwidth and round trip).
    /// Native engine.
    #[arg(long, value_name = "PROFILE:SHARE,...", value_parser = parse_network_mix)]
    pub network: Option<NetworkMix>,
    /// A round trip added to each request (before its first byte) and to each new connection, e.g.
    /// 40ms. Over the --network profile's. Native engine.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub rtt: Option<Duration>,
    /// Each viewer's bandwidth over time from a file of 'seconds kbit/s' lines (the rate from that second
    /// on, from 0; it repeats), each viewer starting at an offset of its own drawn by --seed. Native engine.
    #[arg(long, value_name = "FILE")]
    pub bandwidth_trace: Option<std::path::PathBuf>,
    /// Alternate audio renditions (EXT-X-MEDIA TYPE=AUDIO) played with each variant that names an AUDIO
    /// group: none; default, the one a player picks (DEFAULT=YES, else the first AUTOSELECT=YES, else
    /// the first); or all of the group. Native engine.
    #[arg(long, value_name = "none|default|all", value_parser = parse_audio)]
    pub audio: Option<AudioPolicy>,
    /// Preferred audio (and subtitle) language, e.g. en or pt-BR: a rendition in it is played when the
    /// group has one. Native engine.
    #[arg(long, value_name = "LANG", value_parser = parse_language)]
    pub audio_lang: Option<String>,
    /// Also play the variant's SUBTITLES rendition (players load subtitles only when a track is shown,
    /// so this is off by default). Native engine.
    #[arg(long)]
    pub subtitles: bool,
    /// Decrypt the start of the first segment under each new AES-128 key and check it begins as media
    /// (a TS sync byte, an fMP4 box): a wrong key or IV served under load is an error of class key.
    /// Native engine.
    #[arg(long)]
    pub decrypt_check: bool,
    /// LL-HLS (media playlists with EXT-X-PART-INF): auto plays parts, blocking reloads and preload
    /// hints as a low-latency player does; off plays such streams as regular live. Native engine.
    #[arg(long, value_enum, default_value_t = LowLatencyArg::Auto)]
    pub low_latency: LowLatencyArg,
    /// Who plays: native (async viewers inside hls-swarm) or ffmpeg (one FFmpeg process per viewer,
    /// its HTTP measured by a proxy inside hls-swarm).
    #[arg(long, value_enum, default_value_t = EngineArg::Native)]
    pub engine: EngineArg,
    /// The FFmpeg program for --engine ffmpeg.
    #[arg(long, value_name = "PATH", default_value = "ffmpeg")]
    pub ffmpeg: std::path::PathBuf,
    /// With --engine ffmpeg: print viewer 0's FFmpeg command and environment as a shell line, and exit.
    #[arg(long)]
    pub print_cmd: bool,
    /// VOD: media a viewer buffers ahead before it waits.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub buffer: Duration,
    /// Connect to this IP instead of resolving the URL's host (Host header and TLS name stay). Needs
    /// --dangerous.
    #[arg(long, value_name = "IP", requires = "dangerous")]
    pub resolve: Option<std::net::IpAddr>,
    /// Extra request header "Name: value" (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Send Cache-Control: no-cache and Pragma: no-cache.
    #[arg(long)]
    pub no_cache: bool,
    /// User-Agent header.
    #[arg(long, default_value = concat!("hls-swarm/", env!("CARGO_PKG_VERSION")))]
    pub user_agent: String,
    /// Connect timeout, and the longest wait for a response head or the next body bytes.
    #[arg(long, default_value = "10s", value_parser = parse_nonzero_duration)]
    pub timeout: Duration,
    /// Offer HTTP/2 by ALPN on https URLs, as browsers and players do; the server chooses, and plain
    /// http stays HTTP/1.1. One HTTP/2 connection per variant player. Native engine only.
    #[arg(long)]
    pub http2: bool,
    /// HTTP/2 without TLS (h2c) with prior knowledge on http:// URLs: every connection starts with the
    /// HTTP/2 preface (the server must speak h2c, as LL-HLS origins behind a TLS-terminating edge do).
    /// Native engine.
    #[arg(long)]
    pub http2_prior_knowledge: bool,
    /// Local addresses to connect from, in turn, e.g. 127.0.0.2,127.0.0.3: each gives another range of
    /// local ports, for runs that open more connections to one destination than one address has ports
    /// for (net.ipv4.ip_local_port_range). The addresses must be this machine's (all of 127.0.0.0/8 is,
    /// on Linux).
    #[arg(long, value_name = "IP,...", value_delimiter = ',')]
    pub source_addrs: Vec<std::net::IpAddr>,
    /// Skip TLS certificate verification. Needs --dangerous.
    #[arg(long, requires = "dangerous")]
    pub insecure: bool,
    /// Allow --insecure and --resolve.
    #[arg(long)]
    pub dangerous: bool,
    /// At the end, how long requests in flight may take to finish.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Threads the viewers run on (one single-threaded runtime each). Default, at most one per CPU: one per
    /// 5,000 viewers for the native engine, one per 100 for --engine ffmpeg (its proxies relay every
    /// byte).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// The generator is saturated (its own delay is in the latencies it measures) when its viewer
    /// threads' timers fire later than this (p99 over 5 s); the dashboard, progress lines, summary and
    /// report say so.
    #[arg(long, default_value = "10ms", value_parser = parse_duration)]
    pub max_lateness: Duration,
    /// A threshold on the run's figures, checked at the end: e.g. 'segment.ttfb.p99 < 800ms',
    /// 'errors.rate < 1%', 'stalls.ratio < 0.5%', 'generator.saturated_seconds == 0' (repeat the flag for
    /// more; the README has the grammar). Any failed: exit code 3.
    #[arg(long = "fail-if", value_name = "EXPR")]
    pub fail_if: Vec<String>,
    /// Also check the --fail-if thresholds each second (after --threshold-grace), and end the run the
    /// normal way (drain, summary, report) when one fails on the figures so far.
    #[arg(long, requires = "fail_if")]
    pub abort_on_fail: bool,
    /// --abort-on-fail: how long the run goes before its thresholds are checked (the ramp's figures
    /// are not yet the steady state's).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub threshold_grace: Duration,
    /// Write the report as one self-contained HTML page with charts (opens offline; no script).
    #[arg(long, value_name = "FILE.html")]
    pub report_html: Option<std::path::PathBuf>,
    /// Write the --fail-if thresholds as JUnit XML to this file (one test case each), for CI systems.
    #[arg(long, value_name = "FILE.xml", requires = "fail_if")]
    pub junit: Option<std::path::PathBuf>,
    /// Write the JSON report (schema/report.schema.json) to this file; `-` prints it on one line, the
    /// last of stdout, where `hls-swarm report merge -` finds it in collected logs.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<std::path::PathBuf>,
    /// Print plain progress lines instead of the terminal dashboard (the dashboard is shown only when
    /// stdout is a terminal).
    #[arg(long)]
    pub no_tui: bool,
    /// Append log messages to this file. Without it they go to stderr, and are not shown while the
    /// dashboard is up.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<std::path::PathBuf>,
    /// Serve Prometheus metrics (GET /metrics, text format 0.0.4; GET /healthz) on this IP:PORT, or
    /// `none`. Default 127.0.0.1:17091, skipped with a warning when taken; an address given here
    /// must be free, or the run does not start.
    #[arg(long, value_name = "IP:PORT|none", value_parser = MetricsAddr::parse)]
    pub metrics_addr: Option<MetricsAddr>,
    #[command(flatten)]
    pub origin_metrics: OriginMetricsArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LowLatencyArg {
    Auto,
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    Native,
    Ffmpeg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VariantArg {
    Abr,
    All,
    Highest,
    Lowest,
    First,
}

fn parse_abr_start(text: &str) -> Result<crate::viewer::abr::Start, String> {
    use crate::viewer::abr::Start;
    match text.trim() {
        "lowest" => Ok(Start::Lowest),
        "highest" => Ok(Start::Highest),
        "first" => Ok(Start::First),
        n => n.parse().map(Start::Index).map_err(|_| {
            format!(
                "'{text}' is not a start for --abr-start; use lowest, highest, first or a variant's index (0, 1, ...)"
            )
        }),
    }
}

fn parse_target_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text)
        .map_err(|e| format!("'{text}' is not a URL ({e}); use e.g. http://host/live/master.m3u8"))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        _ => Err(format!("'{text}' must be an http:// or https:// URL with a host")),
    }
}

fn parse_positive(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{text}' must be a number above 0, e.g. 5 or 0.5")),
    }
}

fn parse_nonzero_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(format!("'{text}' must be above 0, e.g. 10s"));
    }
    Ok(d)
}

fn parse_header(text: &str) -> Result<(http::HeaderName, http::HeaderValue), String> {
    let (name, value) = text.split_once(':').ok_or_else(|| format!("'{text}' is not \"Name: value\""))?;
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("'{}' is not a valid header name", name.trim()))?;
    let value = http::HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of header '{name}' has characters a header cannot carry"))?;
    Ok((name, value))
}

fn parse_audio(text: &str) -> Result<AudioPolicy, String> {
    text.parse()
}

/// A language tag as EXT-X-MEDIA's LANGUAGE carries it (RFC 5646): letters, digits and hyphens.
fn parse_language(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 35
        && text.split('-').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok { Ok(text.to_owned()) } else { Err(format!("'{text}' is not a language tag; use e.g. en, de or pt-BR")) }
}

#[derive(Debug, Args)]
pub struct OriginArgs {
    /// Address to listen on; port 0 picks a free port. The first line printed is the base URL.
    #[arg(long, default_value = "127.0.0.1:17080")]
    pub listen: SocketAddr,
    /// ABR ladder as NAME:BITRATE,...; NAME is a height such as 720p (it gives the resolution).
    #[arg(long, default_value = "360p:800k,720p:2500k,1080p:5M", value_parser = parse_variant_list)]
    pub variants: VariantList,
    /// Segments in the live playlist's sliding window.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub window: u32,
    /// Segment duration (rounded to whole frames at 30 fps), e.g. 2s, 0.5, 200ms.
    #[arg(long, default_value = "2s", value_parser = parse_segment_duration)]
    pub segment_duration: Duration,
    /// Serve a VOD stream of this length (EXT-X-ENDLIST) instead of a live one.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub vod: Option<Duration>,
    /// Media sequence number of the stream's first segment.
    #[arg(long, default_value_t = 0)]
    pub start_sequence: u64,
    /// Video only (no AAC audio track).
    #[arg(long)]
    pub no_audio: bool,
    /// Seed for fault decisions and AES-128 keys: the same seed and request order give the same
    /// faults, the same seed the same keys.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Processes serving the stream, all on --listen (SO_REUSEPORT: the kernel spreads new connections
    /// among them), with one stream clock and one set of counters (any worker's /metrics counts them
    /// all). Each process has its own open-file limit, so N workers hold N times the connections, as
    /// nginx's worker processes do; faults are rolled by each worker on its own requests.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// Segment container: MPEG-TS, or fMP4 (CMAF) with an init section per variant (EXT-X-MAP)
    /// [default: ts; fmp4 with --low-latency].
    #[arg(long, value_enum)]
    pub container: Option<ContainerArg>,
    /// Audio as a rendition of its own (EXT-X-MEDIA, /audio/stream.m3u8); the variants are video only.
    #[arg(long)]
    pub audio_rendition: bool,
    /// Serve each variant's segments as byte ranges (EXT-X-BYTERANGE) of one file per N segments.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub byterange: Option<u32>,
    /// Encrypt every segment (AES-128-CBC); keys under /keys/<n>.key.
    #[arg(long, value_enum, value_name = "METHOD")]
    pub encrypt: Option<EncryptArg>,
    /// Segments per key with --encrypt: a new key (and EXT-X-KEY) every N segments [default: 10].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub key_rotation: Option<u32>,
    /// Low-latency HLS: every segment also served as parts (EXT-X-PART, /<variant>/part<msn>.<n>.m4s),
    /// blocking playlist reloads (_HLS_msn, _HLS_part), preload hints and delta updates (_HLS_skip).
    /// Implies --container fmp4.
    #[arg(long)]
    pub low_latency: bool,
    /// With --low-latency: duration of a part, rounded to whole frames at 30 fps; the segment
    /// duration must be a whole number of parts [default: 333ms].
    #[arg(long, value_name = "DUR", value_parser = parse_segment_duration)]
    pub part_duration: Option<Duration>,
    #[command(flatten)]
    pub faults: FaultArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ContainerArg {
    Ts,
    Fmp4,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EncryptArg {
    #[value(name = "aes-128")]
    Aes128,
}

#[derive(Debug, Args)]
pub struct FaultArgs {
    /// Fraction of playlist and segment requests answered 503, e.g. 0.05 or 5%.
    #[arg(long = "fault-http-5xx", value_name = "RATE", value_parser = parse_rate)]
    pub http_5xx: Option<f64>,
    /// Fraction of segment requests answered 404.
    #[arg(long = "fault-http-404", value_name = "RATE", value_parser = parse_rate)]
    pub http_404: Option<f64>,
    /// Fraction of segment responses whose connection is closed mid-body.
    #[arg(long = "fault-reset", value_name = "RATE", value_parser = parse_rate)]
    pub reset: Option<f64>,
    /// Delay before the response head of every playlist and segment, e.g. 200ms.
    #[arg(long = "fault-delay", value_name = "DUR", value_parser = parse_duration)]
    pub delay: Option<Duration>,
    /// Send playlist and segment bodies at most this fast (bytes per second per response), e.g. 250k.
    #[arg(long = "fault-bandwidth", value_name = "BYTES_PER_S", value_parser = parse_bytes)]
    pub bandwidth: Option<u64>,
    /// Playlists stop advancing for DUR out of every 3 x DUR (segments stay available).
    #[arg(long = "fault-stale-playlist", value_name = "DUR", value_parser = parse_duration)]
    pub stale_playlist: Option<Duration>,
    /// Faults switched on and off over time since the origin started, each step replacing those in
    /// force: e.g. 30s:bandwidth=2Mbit,60s:none; a step's faults joined by + (http-5xx=5%, http-404=1%,
    /// reset=1%, delay=200ms, bandwidth=250k bytes/s or 2Mbit), or none.
    #[arg(long = "fault-schedule", value_name = "AT:FAULT=V[+...],...", value_parser = parse_fault_schedule)]
    pub schedule: Option<FaultSchedule>,
}

/// The parsed `--fault-schedule` (a newtype so clap treats it as one value).
#[derive(Clone, Debug)]
pub struct FaultSchedule(pub Vec<(Duration, crate::origin::FaultConfig)>);

fn parse_fault_schedule(text: &str) -> Result<FaultSchedule, String> {
    crate::origin::parse_fault_schedule(text).map(FaultSchedule)
}

/// What `hls-swarm run` scrapes on the origin side while the swarm plays (see `metrics::scrape`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Origin metrics")]
pub struct OriginMetricsArgs {
    /// node_exporter's URL on the origin host, e.g. http://origin:9100/metrics (without a path:
    /// /metrics): the origin's CPU, memory and network next to the swarm's figures.
    #[arg(long = "origin-metrics", value_name = "URL", value_parser = parse_metrics_url)]
    pub node: Option<url::Url>,
    /// The nginx exporter's URL, e.g. http://origin:9113/metrics: nginx's active connections and
    /// requests per second.
    #[arg(long = "nginx-metrics", value_name = "URL", value_parser = parse_metrics_url)]
    pub nginx: Option<url::Url>,
    /// Scrape node_exporter at http://HOST:9100/metrics and the nginx exporter at
    /// http://HOST:9113/metrics; --origin-metrics and --nginx-metrics override either.
    #[arg(long = "origin-metrics-host", value_name = "HOST", value_parser = parse_metrics_host)]
    pub host: Option<String>,
    /// Time between origin scrapes; also each scrape's timeout.
    #[arg(long = "origin-metrics-interval", value_name = "DUR", default_value = "2s", value_parser = parse_scrape_interval)]
    pub interval: Duration,
    /// Span of the p50 and max shown for each origin figure; at least the interval.
    #[arg(long = "origin-metrics-window", value_name = "DUR", default_value = "30s", value_parser = parse_nonzero_duration)]
    pub window: Duration,
}

fn parse_metrics_url(text: &str) -> Result<url::Url, String> {
    let mut url = url::Url::parse(text)
        .map_err(|e| format!("'{text}' is not a URL ({e}); use e.g. http://origin:9100/metrics"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("'{text}' must be an http:// or https:// URL with a host"));
    }
    if url.path() == "/" {
        url.set_path("/metrics");
    }
    Ok(url)
}

/// A host name or IP address (IPv6 with or without brackets), without port or path.
fn parse_metrics_host(text: &str) -> Result<String, String> {
    let t = text.trim();
    let host = match t.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => format!("[{v6}]"),
        Err(_) => t.to_string(),
    };
    let ok = ScrapeConfig::host_defaults(&host).is_ok_and(|(u, _)| u.port() == Some(9100) && u.path() == "/metrics");
    if t.is_empty() || t.contains(['@', '/', '?', '#', ' ']) || !ok {
        return Err(format!("'{text}' is not a host name or IP address (no port, no path), e.g. origin.example"));
    }
    Ok(host)
}

fn parse_scrape_interval(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_millis(100) {
        return Err(format!("'{text}' is too short; scrape at most every 100ms, e.g. 2s"));
    }
    Ok(d)
}

/// The parsed `--network` mix (a newtype so clap treats it as one value).
#[derive(Clone, Debug)]
pub struct NetworkMix(pub Vec<(crate::net::link::Profile, f64)>);

fn parse_network_mix(text: &str) -> Result<NetworkMix, String> {
    crate::net::link::parse_mix(text).map(NetworkMix)
}

/// The parsed `--variants` list (a newtype so clap treats it as one value).
#[derive(Clone, Debug)]
pub struct VariantList(pub Vec<VariantSpec>);

fn parse_variant_list(text: &str) -> Result<VariantList, String> {
    let mut out: Vec<VariantSpec> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, rate) =
            item.split_once(':').ok_or_else(|| format!("'{item}' is not NAME:BITRATE; use e.g. 720p:2500k"))?;
        let height: u32 = name
            .strip_suffix('p')
            .and_then(|h| h.parse().ok())
            .filter(|h| (16..=4320).contains(h))
            .ok_or_else(|| format!("variant name '{name}' must be a height from 16p to 4320p, e.g. 720p"))?;
        if out.iter().any(|v| v.name == name) {
            return Err(format!("variant '{name}' is listed twice; give each variant its own height"));
        }
        out.push(VariantSpec { name: name.to_string(), height, bitrate: parse_bitrate(rate)? });
    }
    if out.is_empty() {
        return Err("the ladder is empty; give at least one NAME:BITRATE, e.g. 720p:2500k".into());
    }
    Ok(VariantList(out))
}

fn parse_segment_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_millis(34) || d > Duration::from_secs(600) {
        return Err(format!("'{text}' is out of range; use 34ms (one frame) to 600s"));
    }
    Ok(d)
}
