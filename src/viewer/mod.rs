//! One simulated viewer: plays HLS like a player (RFC 8216 section 6.3) and records every request.
//!
//! - [`abr`]: the adaptive bitrate estimate and choice, pure (hls.js's rules);
//! - `playback`: the buffer model (startup, stalls), pure;
//! - `session`: one playing session: the first playlist, variant choice, one track per variant played;
//!   it ends when the run stops, when a VOD ends, or with an error the engine's supervisor answers with
//!   a restart after backoff;
//! - `track`: one media playlist played: live edge, each segment once and in order, reloads on the
//!   RFC's schedule whatever the downloads do (a second connection while they overlap), segments that
//!   left the window skipped and the live edge rejoined, as hls.js does.

pub mod abr;
mod latency;
mod playback;
mod request;
mod session;
mod track;

use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

use crate::hls::{RenditionPolicy, VariantPolicy};
use crate::net::{NetConfig, NetworkPlan};
use crate::stats::{Kind, Recorder};

pub use playback::Playback;
pub use request::{SessionError, failure_of, request_record};
pub use session::run_session;

/// Largest playlist body accepted (a larger one is a `playlist_parse` error, not a memory blow-up).
pub const PLAYLIST_LIMIT: usize = 8 * 1024 * 1024;

/// One request as a test or a debugging tool sees it: who asked for what, when, and the answer.
#[derive(Clone, Debug)]
pub struct TapEvent {
    pub viewer: u32,
    pub kind: Kind,
    pub url: Url,
    pub started: Instant,
    pub status: Option<u16>,
    pub ok: bool,
}

/// Observer of every request (tests use it to check order and pacing); never on the hot path unless set.
pub type RequestTap = Arc<dyn Fn(&TapEvent) + Send + Sync>;

/// What every viewer of a run shares.
#[derive(Clone)]
pub struct ViewerConfig {
    pub url: Url,
    /// What `url` served when the run checked it first (`multivariant` or `media_playlist`): the kind a
    /// load of it that fails before its body says otherwise is counted under.
    pub entry_kind: Kind,
    pub policy: VariantPolicy,
    /// The alternate audio and subtitle renditions played with the variants.
    pub renditions: RenditionPolicy,
    /// Decrypt the start of the first segment under each new AES-128 key and check it is media.
    pub decrypt_check: bool,
    /// Play LL-HLS playlists (those with `EXT-X-PART-INF`) with parts, blocking reloads and preload hints
    /// (`--low-latency auto`); `false` plays them as regular live.
    pub low_latency: bool,
    /// How an adaptive viewer (`--variant abr`) starts and what it may pick.
    pub abr: abr::Settings,
    /// Each viewer's link: rate cap and added round trip, from profiles, flags or a trace.
    pub network: NetworkPlan,
    /// VOD: stop downloading ahead once this much media is buffered.
    pub buffer_target: Duration,
    pub net: Arc<NetConfig>,
    pub recorder: Recorder,
    pub tap: Option<RequestTap>,
}
