//! The built-in origin: a synthetic live (or VOD) HLS stream served from memory.
//!
//! - [`media`]: the MPEG-TS/H.264/AAC muxer that builds segments without an encoder;
//! - `clock`: which segments exist at a given instant (live window, VOD, stale-playlist fault);
//! - `playlist`: multivariant and media playlist text (pure);
//! - `server`: the hyper server, routing, Range, faults and counting bodies;
//! - `counters`: the ground truth it exposes on `/metrics`.

mod body;
pub mod clock;
pub mod counters;
mod faults;
pub mod media;
pub mod playlist;
mod range;
mod segments;
mod server;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::HeaderValue;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use counters::{Counters, Fault, ServedKind};
use media::{FPS, MediaFormat, width_for_height};

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
}

#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error("cannot listen on {addr}: {source}; pick another address with --listen (port 0 picks a free one)")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the origin's threads: {0}")]
    Runtime(std::io::Error),
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
            audio: self.audio,
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

/// Binds `config.listen` and serves in a background task of the current tokio runtime.
pub async fn spawn(config: OriginConfig) -> Result<OriginHandle, OriginError> {
    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| OriginError::Bind { addr: config.listen, source })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let state = Arc::new(build_state(&config));
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
    let bind = |source| OriginError::Bind { addr: config.listen, source };
    let std_listener = std::net::TcpListener::bind(config.listen).map_err(bind)?;
    std_listener.set_nonblocking(true).map_err(bind)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("hls-swarm-origin")
        .enable_all()
        .build()
        .map_err(OriginError::Runtime)?;
    let listener = {
        let _inside = runtime.enter();
        TcpListener::from_std(std_listener).map_err(bind)?
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let state = Arc::new(build_state(&config));
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

fn build_state(config: &OriginConfig) -> server::OriginState {
    let segment = config.effective_segment_duration();
    let clock = clock::StreamClock::new(
        Instant::now(),
        SystemTime::now(),
        segment,
        config.window,
        config.vod,
        config.faults.stale_playlist,
    );
    let capacity = (config.window as usize + clock::LATE_GRACE_SEGMENTS as usize + 2).max(16);
    let formats: Vec<MediaFormat> = config.variants.iter().map(|v| config.format(v)).collect();
    let codecs: Vec<String> = formats.iter().map(MediaFormat::codecs).collect();
    let entries: Vec<playlist::VariantEntry<'_>> = config
        .variants
        .iter()
        .zip(&formats)
        .zip(&codecs)
        .map(|((v, f), c)| playlist::VariantEntry {
            name: &v.name,
            bandwidth: v.bitrate,
            width: f.width,
            height: f.height,
            codecs: c,
        })
        .collect();
    let master = Bytes::from(playlist::multivariant(&entries));
    let max_age = segment.as_secs() / 2;
    server::OriginState {
        clock,
        variants: config
            .variants
            .iter()
            .zip(formats)
            .map(|(v, f)| server::Variant { name: v.name.clone(), cache: segments::SegmentCache::new(f, capacity) })
            .collect(),
        master,
        params: playlist::MediaParams { segment_duration: segment, start_sequence: config.start_sequence },
        counters: Arc::new(Counters::with_variants(config.variants.iter().map(|v| v.name.clone()).collect())),
        faults: faults::FaultPlan::new(config.faults.clone(), config.seed),
        playlist_cache_control: HeaderValue::from_str(&format!("max-age={max_age}"))
            .unwrap_or(HeaderValue::from_static("max-age=1")),
    }
}

/// Serves until Ctrl-C or SIGTERM; prints the base URL as the first line on stdout.
pub async fn serve_until_signal(config: OriginConfig) -> anyhow::Result<()> {
    let stop = crate::signals::shutdown_signal();
    let origin = spawn(config.clone()).await?;
    println!("{}", origin.url());
    tracing::info!(
        "origin: {} variant(s), {:.3} s segments, {}",
        config.variants.len(),
        config.effective_segment_duration().as_secs_f64(),
        if config.vod.is_some() { "VOD" } else { "live" }
    );
    stop.await;
    tracing::info!("origin: shutting down");
    origin.shutdown().await;
    Ok(())
}
