//! One simulated viewer: plays HLS like a player (RFC 8216 section 6.3) and records every request.
//!
//! - [`abr`]: the adaptive bitrate estimate and choice, pure (hls.js's rules);
//! - `playback`: the buffer model (startup, stalls), pure;
//! - `session`: one playing session: multivariant, variant choice, live edge, segment downloads in order,
//!   playlist reloads; it ends when the run stops, when a VOD ends, or with an error the engine's
//!   supervisor answers with a restart after backoff.

pub mod abr;
mod playback;
mod session;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use url::Url;

use crate::hls::VariantPolicy;
use crate::net::NetConfig;
use crate::stats::{Kind, Recorder};

pub use playback::Playback;
pub use session::{SessionEnd, SessionError, failure_of, request_record, run_session};

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
    pub policy: VariantPolicy,
    /// VOD: stop downloading ahead once this much media is buffered.
    pub buffer_target: Duration,
    pub net: Arc<NetConfig>,
    pub recorder: Recorder,
    pub tap: Option<RequestTap>,
}

/// A viewer's view of the run's stop signal: once set, it starts no new request.
#[derive(Clone)]
pub struct StopSignal(pub watch::Receiver<bool>);

impl StopSignal {
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Sleeps until `deadline`; returns false when the stop signal came first.
    pub async fn sleep_until(&mut self, deadline: Instant) -> bool {
        if self.is_set() {
            return false;
        }
        let stop = &mut self.0;
        let slept = tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => true,
            _ = async { let _ = stop.wait_for(|s| *s).await; } => false,
        };
        slept && !self.is_set()
    }
}
