//! The built-in origin: a synthetic live (or VOD) HLS stream served from memory.
//!
//! - [`media`]: the MPEG-TS and fMP4 H.264/AAC muxers that build segments without an encoder;
//! - `clock`: which segments exist at a given instant (live window, VOD, stale-playlist fault);
//! - `playlist`: multivariant and media playlist text (pure);
//! - `keys`: AES-128 keys from the seed, and segment encryption;
//! - `llhls`: low-latency HLS, pure: part names, the low-latency tags, delivery directives;
//! - `hold`: held requests (blocking reloads, preload hints), woken as parts are produced;
//! - `server`: the hyper server, routing, Range, byte-range resources, faults and counting bodies;
//! - `counters`: the ground truth it exposes on `/metrics` (`cells`: the memory it lives in);
//! - `workers`: `hls-swarm origin --workers N`, one origin served by N processes on one port.
//!
//! The stream forms combine freely: MPEG-TS or fMP4 (`Container`), audio muxed or an audio rendition
//! of its own, a file per segment or byte ranges of a resource per N segments, clear or AES-128.

mod body;
mod cells;
pub mod clock;
pub mod counters;
mod faults;
mod hold;
mod keys;
mod listing;
pub mod llhls;
#[cfg(test)]
mod llhls_tests;
mod lowlatency;
pub mod media;
pub mod playlist;
mod range;
mod segments;
mod server;
mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::HeaderValue;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use workers::Role;

pub use counters::{Counters, Fault, ServedKind};
pub use faults::parse_schedule as parse_fault_schedule;
pub use llhls::PartParams;
pub use media::Container;
use media::{FPS, MediaFormat, Rendition, width_for_height};

/// Folder and counter label of the audio rendition (`/audio/stream.m3u8`).
pub const AUDIO_RENDITION: &str = "audio";

/// One rendition of the ABR ladder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantSpec {
    /// Path segment and label, e.g. `720p`.
    pub name: String,
    /// Picture height; the width follows at 16:9.
    pub height: u32,
    /// Bits per second of the segment bodies.
    pub bitrate: u64,
}

/// Injected faults; rates are probabilities per request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultConfig {
    pub http_5xx: f64,
    pub http_404: f64,
    pub reset: f64,
    pub delay: Option<Duration>,
    pub bandwidth: Option<u64>,
    pub stale_playlist: Option<Duration>,
    /// Faults switched over time (`--fault-schedule`): from each step's time since the origin started,
    /// its faults replace those in force (the ones above before the first step).
    pub schedule: Vec<(Duration, FaultConfig)>,
}

#[derive(Clone, Debug)]
pub struct OriginConfig {
    pub listen: SocketAddr,
    pub variants: Vec<VariantSpec>,
    pub window: u32,
    pub segment_duration: Duration,
    pub vod: Option<Duration>,
    pub start_sequence: u64,
    pub audio: bool,
    pub seed: u64,
    pub faults: FaultConfig,
    /// MPEG-TS segments, or fMP4 ones with an init section per variant (`init.mp4`).
    pub container: Container,
    /// Audio as an EXT-X-MEDIA rendition of its own (`audio/stream.m3u8`), the variants video only.
    pub audio_rendition: bool,
    /// Segments per byte-range resource (EXT-X-BYTERANGE), or `None`: a file per segment.
    pub byterange: Option<u32>,
    /// AES-128 segment encryption, when set.
    pub encryption: Option<Encryption>,
    /// Low-latency HLS (parts, blocking reloads, preload hints, delta updates), when set; fMP4 only.
    pub low_latency: Option<LowLatency>,
}

/// Low-latency HLS (draft-pantos-hls-rfc8216bis): each segment served also as parts of
/// `part_duration`, under `/<track>/part<msn>.<part>.m4s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowLatency {
    /// Duration of a part, rounded to whole frames at [`FPS`]; the segment must be a whole number of
    /// parts.
    pub part_duration: Duration,
}

impl LowLatency {
    /// `--part-duration`'s default: 10 frames, a third of a second.
    pub const DEFAULT_PART_DURATION: Duration = Duration::from_millis(333);
}

/// AES-128-CBC of every whole segment (RFC 8216 4.3.2.4), keys under `/keys/<n>.key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encryption {
    /// Segments per key (at least 1).
    pub key_rotation: u32,
}

impl Encryption {
    /// `--key-rotation`'s default.
    pub const DEFAULT_KEY_ROTATION: u32 = 10;
}

#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error("cannot listen on {addr}: {source}; pick another address with --listen (port 0 picks a free one)")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the origin's threads: {0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Config(String),
}

impl OriginConfig {
    /// Defaults for tests and for `hls-swarm run` without a URL: one 720p 2.5 Mbps variant is not
    /// assumed; this is the CLI's default ladder on 127.0.0.1:0.
    pub fn local_default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            variants: vec![
                VariantSpec { name: "360p".into(), height: 360, bitrate: 800_000 },
                VariantSpec { name: "720p".into(), height: 720, bitrate: 2_500_000 },
                VariantSpec { name: "1080p".into(), height: 1080, bitrate: 5_000_000 },
            ],
            window: 10,
            segment_duration: Duration::from_secs(2),
            vod: None,
            start_sequence: 0,
            audio: true,
            seed: 1,
            faults: FaultConfig::default(),
            container: Container::Ts,
            audio_rendition: false,
            byterange: None,
            encryption: None,
            low_latency: None,
        }
    }

    /// Rejects forms that cannot be served together; each message names the flags to change.
    pub fn check(&self) -> Result<(), String> {
        if self.audio_rendition && !self.audio {
            return Err("--audio-rendition needs audio: leave out --no-audio".into());
        }
        if self.byterange == Some(0) {
            return Err("--byterange must be at least 1 (segments per resource)".into());
        }
        if self.encryption.is_some_and(|e| e.key_rotation == 0) {
            return Err("--key-rotation must be at least 1 (segments per key)".into());
        }
        if self.low_latency.is_some() {
            self.check_low_latency()?;
        }
        if let Some(v) = self.variants.iter().find(|v| v.name == AUDIO_RENDITION || v.name == "keys") {
            return Err(format!(
                "variant name '{}' is taken by the origin's own paths; rename it in --variants",
                v.name
            ));
        }
        Ok(())
    }

    fn check_low_latency(&self) -> Result<(), String> {
        let clash = |flag: &str, why: &str| Err(format!("--low-latency {why}: leave out {flag}"));
        if self.container != Container::Fmp4 {
            return Err("--low-latency needs --container fmp4 (parts are CMAF fragments)".into());
        }
        if self.vod.is_some() {
            return clash("--vod", "is for live streams");
        }
        if self.byterange.is_some() {
            return clash("--byterange", "serves parts as files of their own, not byte ranges");
        }
        if self.encryption.is_some() {
            return clash("--encrypt", "does not encrypt parts");
        }
        let (segment, part) = (self.frames_per_segment(), self.frames_per_part());
        if part > segment || segment % part != 0 {
            return Err(format!(
                "--segment-duration ({segment} frames at {FPS} fps) must be a whole number of --part-duration \
                 ({part} frames); e.g. --segment-duration 2s with --part-duration 333ms or 400ms"
            ));
        }
        Ok(())
    }

    /// Frames per LL-HLS part at [`FPS`]: the part duration rounded to whole frames (at least one);
    /// 0 without low-latency (a segment is one fragment).
    pub fn frames_per_part(&self) -> u32 {
        self.low_latency.map_or(0, |l| ((l.part_duration.as_secs_f64() * f64::from(FPS)).round() as u32).max(1))
    }

    /// Parts per segment (1 without low-latency).
    pub fn parts_per_segment(&self) -> u32 {
        match self.frames_per_part() {
            0 => 1,
            part => (self.frames_per_segment() / part).max(1),
        }
    }

    /// Frames per segment at [`FPS`]: the segment duration rounded to whole frames (at least one).
    pub fn frames_per_segment(&self) -> u32 {
        ((self.segment_duration.as_secs_f64() * f64::from(FPS)).round() as u32).max(1)
    }

    /// The exact segment duration the stream uses (whole frames).
    pub fn effective_segment_duration(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.frames_per_segment()) / f64::from(FPS))
    }

    fn format(&self, v: &VariantSpec) -> MediaFormat {
        MediaFormat {
            width: width_for_height(v.height),
            height: v.height,
            bitrate: v.bitrate,
            frames_per_segment: self.frames_per_segment(),
            audio: self.audio && !self.audio_rendition,
        }
    }
}

/// A running origin. Dropping it without [`OriginHandle::shutdown`] stops it too (the task ends when the
/// shutdown sender is dropped).
pub struct OriginHandle {
    url: String,
    addr: SocketAddr,
    counters: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    /// Completes when the server has stopped (its task, or its own runtime's thread, ended).
    done: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl OriginHandle {
    /// Base URL with a trailing slash, e.g. `http://127.0.0.1:17080/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The ground truth: what the origin has served so far.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Stops accepting, lets open responses finish (bounded), and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await;
        }
    }
}

/// The most connections waiting to be accepted the origin asks for; the kernel holds at most
/// `net.core.somaxconn` of them (`TcpListener::bind`'s 1,024 is less than a fast ramp brings).
pub const ACCEPT_BACKLOG: u32 = 65_535;

/// A listening socket on `addr` with [`ACCEPT_BACKLOG`]; inside a tokio runtime.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Binds `config.listen` and serves in a background task of the current tokio runtime.
pub async fn spawn(config: OriginConfig) -> Result<OriginHandle, OriginError> {
    config.check().map_err(OriginError::Config)?;
    let listener = listen(config.listen).map_err(|source| OriginError::Bind { addr: config.listen, source })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let state = Arc::new(build_state(&config, Counters::with_variants(variant_labels(&config))));
    let handle = OriginHandle::new(&listener, &config, &state, stop)?;
    let task = tokio::spawn(server::run(listener, state, async move {
        let _ = stopped.await;
    }));
    Ok(OriginHandle {
        done: Some(Box::pin(async move {
            let _ = task.await;
        })),
        ..handle
    })
}

/// Binds `config.listen` and serves on a multi-threaded runtime of its own (`threads` workers, named
/// `hls-swarm-origin`), as `hls-swarm origin` does: `hls-swarm run` without a URL uses it, so the
/// server under test never shares a thread with the viewers timing it.
pub fn spawn_dedicated(config: OriginConfig, threads: usize) -> Result<OriginHandle, OriginError> {
    config.check().map_err(OriginError::Config)?;
    let bind = |source| OriginError::Bind { addr: config.listen, source };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("hls-swarm-origin")
        .enable_all()
        .build()
        .map_err(OriginError::Runtime)?;
    let listener = {
        let _inside = runtime.enter();
        listen(config.listen).map_err(bind)?
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let state = Arc::new(build_state(&config, Counters::with_variants(variant_labels(&config))));
    let handle = OriginHandle::new(&listener, &config, &state, stop)?;
    let thread = std::thread::Builder::new()
        .name("hls-swarm-origin".into())
        .spawn(move || {
            runtime.block_on(server::run(listener, state, async move {
                let _ = stopped.await;
            }));
            // The runtime is dropped here, outside any async context: its workers are joined.
            drop(runtime);
        })
        .map_err(OriginError::Runtime)?;
    Ok(OriginHandle { done: Some(Box::pin(join_thread(thread))), ..handle })
}

/// Waits for the origin's own thread to end (without blocking the caller's runtime); a panic in it is
/// logged, as a task's would be.
async fn join_thread(thread: std::thread::JoinHandle<()>) {
    let joined = tokio::task::spawn_blocking(move || thread.join()).await;
    if !matches!(joined, Ok(Ok(()))) {
        tracing::error!("origin: its thread ended with a panic");
    }
}

impl OriginHandle {
    fn new(
        listener: &TcpListener,
        config: &OriginConfig,
        state: &server::OriginState,
        stop: oneshot::Sender<()>,
    ) -> Result<OriginHandle, OriginError> {
        let addr = listener.local_addr().map_err(|source| OriginError::Bind { addr: config.listen, source })?;
        let counters = state.counters.clone();
        Ok(OriginHandle { url: format!("http://{addr}/"), addr, counters, stop: Some(stop), done: None })
    }
}

fn build_state(config: &OriginConfig, counters: Counters) -> server::OriginState {
    let segment = config.effective_segment_duration();
    let clock = clock::StreamClock::new(
        Instant::now(),
        SystemTime::now(),
        segment,
        config.window,
        config.vod,
        config.faults.stale_playlist,
    )
    .with_parts(config.parts_per_segment());
    let frames_per_part = config.frames_per_part();
    let parts = config.low_latency.map(|_| llhls::PartParams {
        parts_per_segment: config.parts_per_segment(),
        part_duration: Duration::from_secs_f64(f64::from(frames_per_part) / f64::from(FPS)),
    });
    let params = playlist::MediaParams {
        segment_duration: segment,
        start_sequence: config.start_sequence,
        container: config.container,
        byterange: config.byterange.map(u64::from),
        key_rotation: config.encryption.map(|e| u64::from(e.key_rotation)),
        parts,
    };
    let keys = config.encryption.map(|e| keys::KeySchedule::new(config.seed, u64::from(e.key_rotation)));
    let mut renditions: Vec<(String, Rendition)> =
        config.variants.iter().map(|v| (v.name.clone(), Rendition::Muxed(config.format(v)))).collect();
    if config.audio_rendition {
        let frames_per_segment = config.frames_per_segment();
        renditions.push((AUDIO_RENDITION.to_string(), Rendition::AudioOnly { frames_per_segment }));
    }
    let max_age = segment.as_secs() / 2;
    server::OriginState {
        clock,
        master: Bytes::from(multivariant(config, params.version())),
        tracks: renditions.into_iter().map(|(name, rendition)| track(config, name, rendition, keys.clone())).collect(),
        params,
        keys,
        counters: Arc::new(counters),
        faults: faults::FaultPlan::new(config.faults.clone(), config.seed),
        playlist_cache_control: HeaderValue::from_str(&format!("max-age={max_age}"))
            .unwrap_or(HeaderValue::from_static("max-age=1")),
        ticks: hold::PartTicks::new(),
    }
}

/// Counter labels: the ladder's names, then the audio rendition's.
fn variant_labels(config: &OriginConfig) -> Vec<String> {
    let mut names: Vec<String> = config.variants.iter().map(|v| v.name.clone()).collect();
    if config.audio_rendition {
        names.push(AUDIO_RENDITION.to_string());
    }
    names
}

/// The multivariant playlist. With an audio rendition each variant's CODECS and BANDWIDTH also
/// count the audio it plays (RFC 8216 4.3.4.2).
fn multivariant(config: &OriginConfig, version: u8) -> String {
    let audio_bitrate = config.audio_rendition.then(|| {
        Rendition::audio_peak_bitrate(config.frames_per_segment(), config.container, config.frames_per_part())
    });
    let formats: Vec<MediaFormat> = config.variants.iter().map(|v| config.format(v)).collect();
    let codecs: Vec<String> = formats
        .iter()
        .map(|f| if audio_bitrate.is_some() { format!("{},mp4a.40.2", f.codecs()) } else { f.codecs() })
        .collect();
    let entries: Vec<playlist::VariantEntry<'_>> = config
        .variants
        .iter()
        .zip(&formats)
        .zip(&codecs)
        .map(|((v, f), c)| playlist::VariantEntry {
            name: &v.name,
            bandwidth: v.bitrate + audio_bitrate.unwrap_or(0),
            width: f.width,
            height: f.height,
            codecs: c,
        })
        .collect();
    playlist::multivariant(&entries, config.audio_rendition.then_some(AUDIO_RENDITION), version)
}

/// One playlist's track: its segments (encrypted when keys are given) and its fMP4 init section.
fn track(config: &OriginConfig, name: String, rendition: Rendition, keys: Option<keys::KeySchedule>) -> server::Track {
    let capacity = (config.window as usize + clock::LATE_GRACE_SEGMENTS as usize + 2).max(16);
    let init = (config.container == Container::Fmp4).then(|| rendition.init());
    let (container, start_sequence) = (config.container, config.start_sequence);
    let frames_per_part = config.frames_per_part();
    let build: segments::Builder = Box::new(move |index| {
        let plain = rendition.segment_in_parts(container, index, frames_per_part);
        match &keys {
            Some(keys) => Bytes::from(keys.encrypt(index, start_sequence.wrapping_add(index), &plain)),
            None => plain,
        }
    });
    server::Track { name, cache: segments::SegmentCache::new(build, capacity), init, rendered: Default::default() }
}

/// `hls-swarm origin`: serves `config` from `workers` processes (this one and `workers - 1` forked from
/// it, see [`workers`]) until SIGINT or SIGTERM, printing the base URL first. Call it before any thread
/// or runtime exists: it forks, then makes each process's runtime.
pub fn serve_until_signal(config: OriginConfig, workers: usize) -> anyhow::Result<()> {
    use std::io::Write;
    config.check().map_err(OriginError::Config)?;
    // Each connection is a descriptor: take what the hard limit allows, as the swarm does.
    if let Err(e) = crate::limits::raise_open_files() {
        tracing::warn!("origin: {e}");
    }
    let workers = workers.max(1);
    let listeners =
        workers::bind(config.listen, workers).map_err(|source| OriginError::Bind { addr: config.listen, source })?;
    let labels = variant_labels(&config);
    let counters = if workers > 1 {
        Counters::shared(labels, workers)
            .map_err(|e| anyhow::anyhow!("cannot map the workers' shared counters: {e}"))?
    } else {
        Counters::with_variants(labels)
    };
    let state = Arc::new(build_state(&config, counters));
    let addr = listeners[0].local_addr().map_err(|source| OriginError::Bind { addr: config.listen, source })?;
    let (index, listener, mut role) = workers::fork(listeners).map_err(|e| anyhow::anyhow!("origin: {e}"))?;
    state.counters.set_worker(index);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads((cpus / workers).max(1))
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the origin's runtime: {e}"))?;
    runtime.block_on(async {
        let listener = TcpListener::from_std(listener)?;
        let stop = crate::signals::shutdown_signal();
        // The URL once every worker exists and this one answers SIGTERM: whoever reads it may count
        // on all of them, and stop them.
        if matches!(role, Role::First { .. }) {
            println!("http://{addr}/");
            std::io::stdout().flush()?;
            tracing::info!(
                "origin: {} variant(s), {:.3} s segments, {}, {:?}{}{}{}{}{}",
                config.variants.len(),
                config.effective_segment_duration().as_secs_f64(),
                if config.vod.is_some() { "VOD" } else { "live" },
                config.container,
                if config.audio_rendition { ", audio rendition" } else { "" },
                config.byterange.map_or(String::new(), |n| format!(", byte ranges of {n} segment(s)")),
                config
                    .encryption
                    .map_or(String::new(), |e| format!(", AES-128 (a key per {} segments)", e.key_rotation)),
                config.low_latency.map_or(String::new(), |_| format!(
                    ", low-latency ({} parts of {} frames a segment)",
                    config.parts_per_segment(),
                    config.frames_per_part()
                )),
                if workers > 1 { format!(", {workers} worker processes") } else { String::new() },
            );
        }
        let role = &mut role;
        let stopped = async move {
            let Role::First { others } = role else { return stop.await };
            let mut ended = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child()) {
                Ok(signal) => Some(signal),
                Err(e) => {
                    tracing::warn!("origin: cannot watch the worker processes (SIGCHLD): {e}");
                    None
                }
            };
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    _ = &mut stop => break,
                    Some(()) = async { ended.as_mut()?.recv().await } => workers::reap_ended(others),
                }
            }
            // The others drain their responses while this one drains its own.
            workers::signal_stop(others);
        };
        server::run(listener, state, async move {
            stopped.await;
            tracing::info!("origin: shutting down");
        })
        .await;
        anyhow::Ok(())
    })?;
    drop(runtime);
    if let Role::First { others } = &mut role {
        // Their own grace, and a little for their runtimes to wind down.
        workers::stop(others, server::SHUTDOWN_GRACE + Duration::from_secs(2));
    }
    Ok(())
}
