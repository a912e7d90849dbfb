//! The built-in origin: a synthetic live (or VOD) HLS stream served from memory.
//!
//! - [`media`]: the MPEG-TS/H.264/AAC muxer that builds segments without an encoder;
//! - `clock`: which segments exist at a given instant (live window, VOD, stale-playlist fault);
//! - `playlist`: multivariant and media playlist text (pure);
//! - `server`: the hyper server, routing, Range, faults and counting bodies;
//! - `counters`: the ground truth it exposes on `/metrics`.

pub mod media;

use std::net::SocketAddr;
use std::time::Duration;

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

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve_until_signal(config: OriginConfig) -> anyhow::Result<()> {
    let _ = config;
    anyhow::bail!("not built yet")
}
