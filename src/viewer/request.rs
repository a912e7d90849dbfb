//! What every request of a viewer shares: who asks ([`Asker`]), how a step ends early ([`Halt`]),
//! checking a fetched playlist, and recording a request once, with its kind and variant.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use super::{TapEvent, ViewerConfig};
use crate::engine::{SessionEnd, Stopped};
use crate::hls::{self, MediaPlaylist, Playlist};
use crate::net::{Fetch, H2Pool, Link, Loader};
use crate::stats::{ErrorClass, Hold, Kind, PlaybackEvent, RequestRecord};

/// Why a session failed; the supervisor restarts it after backoff.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {}: {detail}", class.as_str())]
pub struct SessionError {
    pub url: String,
    pub class: ErrorClass,
    pub detail: String,
}

/// How a step of a session ends early: the run stops, or the session fails.
#[derive(Debug)]
pub(super) enum Halt {
    Stopped,
    Failed(SessionError),
}

impl From<Stopped> for Halt {
    fn from(_: Stopped) -> Halt {
        Halt::Stopped
    }
}

impl From<SessionError> for Halt {
    fn from(e: SessionError) -> Halt {
        Halt::Failed(e)
    }
}

/// A session's result from a step's.
pub(super) fn settle(result: Result<SessionEnd, Halt>) -> Result<SessionEnd, SessionError> {
    match result {
        Ok(end) => Ok(end),
        Err(Halt::Stopped) => Ok(SessionEnd::Stopped),
        Err(Halt::Failed(e)) => Err(e),
    }
}

/// Who is asking: the viewer, the variant its track plays, and the run's shared configuration.
#[derive(Clone, Copy)]
pub(super) struct Asker<'a> {
    pub viewer: u32,
    pub variant: Option<u16>,
    pub config: &'a ViewerConfig,
    /// The multivariant playlist's variables, which its media playlists may `IMPORT`.
    pub imports: Option<&'a hls::Variables>,
    /// The viewer's HTTP/2 connections (with `--http2` or `--http2-prior-knowledge`), which all its
    /// loaders share.
    pub pool: Option<&'a H2Pool>,
    /// The viewer's link (rate cap, added round trip), which all its loaders share.
    pub link: Option<&'a Link>,
}

impl Asker<'_> {
    /// A loader of this viewer's, sharing its HTTP/2 connections.
    pub fn loader(&self) -> Loader {
        Loader::pooled(std::sync::Arc::clone(&self.config.net), self.pool.cloned()).linked(self.link.cloned())
    }
}

/// Parses a fetched playlist and runs `check` on it; the error class and detail when either fails.
/// Leniencies the parser accepted are counted (`PlaylistWarnings`), the first of the process logged.
pub(super) fn parse<T>(
    asker: Asker<'_>,
    fetch: &Fetch,
    check: impl FnOnce(Playlist) -> Result<T, String>,
) -> Result<T, (ErrorClass, String)> {
    parse_reload(asker, fetch, None, check)
}

/// [`parse`] for a reload of the media playlist `held` was the last load of (its URLs are reused).
pub(super) fn parse_reload<T>(
    asker: Asker<'_>,
    fetch: &Fetch,
    held: Option<&hls::MediaPlaylist>,
    check: impl FnOnce(Playlist) -> Result<T, String>,
) -> Result<T, (ErrorClass, String)> {
    if let Some(failure) = failure_of(fetch) {
        return Err(failure);
    }
    let body = fetch.body.as_deref().unwrap_or_default();
    hls::parse_reload(body, &fetch.url, asker.imports, held)
        .map_err(|e| e.to_string())
        .inspect(|playlist| count_warnings(asker, &fetch.url, playlist))
        .and_then(check)
        .map_err(|detail| (ErrorClass::PlaylistParse, detail))
}

fn count_warnings(asker: Asker<'_>, url: &url::Url, playlist: &Playlist) {
    static LOGGED: AtomicBool = AtomicBool::new(false);
    let warnings = match playlist {
        Playlist::Media(m) => &m.warnings,
        Playlist::Multivariant(m) => &m.warnings,
    };
    let Some(first) = warnings.first() else { return };
    asker.config.recorder.record_playback(PlaybackEvent::PlaylistWarnings { count: warnings.len() as u64 });
    if !LOGGED.swap(true, Relaxed) {
        tracing::warn!("{url}: {first}; counted in the report's warnings (this message is not repeated)");
    }
}

/// Records a playlist load once, and turns its failure into the session's error. After a failure that is
/// not an HTTP status the connection is dropped, as players do.
pub(super) fn settle_load<T>(
    asker: Asker<'_>,
    loader: &mut Loader,
    kind: Kind,
    fetch: &Fetch,
    parsed: Result<T, (ErrorClass, String)>,
) -> Result<T, SessionError> {
    record(asker, kind, fetch, parsed.as_ref().err().map(|f| f.0));
    parsed.map_err(|(class, detail)| {
        if class != ErrorClass::Http4xx && class != ErrorClass::Http5xx {
            loader.reset();
        }
        SessionError { url: fetch.url.to_string(), class, detail }
    })
}

/// The check for playlists that must be media playlists; each segment's program date-time is filled in
/// from the last one dated before it (live latency needs the date of every segment played).
pub(super) fn media_only(p: Playlist) -> Result<MediaPlaylist, String> {
    match p {
        Playlist::Media(mut m) => {
            hls::fill_program_date_times(&mut m);
            Ok(m)
        }
        Playlist::Multivariant(_) => Err("expected a media playlist, got a multivariant playlist".into()),
    }
}

/// Records one request, and shows it to the tap when there is one.
pub(super) fn record(asker: Asker<'_>, kind: Kind, fetch: &Fetch, error: Option<ErrorClass>) {
    record_with(asker, kind, fetch, error, None);
}

/// [`record`] for a request the server may hold (a blocking reload, a hinted part): `hold` says so.
pub(super) fn record_with(asker: Asker<'_>, kind: Kind, fetch: &Fetch, error: Option<ErrorClass>, hold: Option<Hold>) {
    let config = asker.config;
    let mut r = request_record(kind, asker.variant, fetch, error);
    r.hold = hold;
    config.recorder.record_request(&r);
    if let Some(tap) = &config.tap {
        tap(&TapEvent {
            viewer: asker.viewer,
            kind,
            url: fetch.url.clone(),
            started: fetch.started,
            status: fetch.status,
            ok: error.is_none(),
        });
    }
}

/// The record of one measured request.
pub fn request_record(kind: Kind, variant: Option<u16>, fetch: &Fetch, error: Option<ErrorClass>) -> RequestRecord {
    RequestRecord {
        kind,
        variant,
        status: fetch.status,
        timings: fetch.timings,
        body_bytes: fetch.body_bytes,
        error,
        hold: None,
    }
}

/// The error class of a fetch, before looking at its body: network errors, then the status.
pub fn failure_of(fetch: &Fetch) -> Option<(ErrorClass, String)> {
    if let Some(e) = &fetch.error {
        let class = e.class();
        return Some((class, e.to_string()));
    }
    match fetch.status {
        Some(s) if (200..300).contains(&s) => None,
        Some(s) if (500..600).contains(&s) => Some((ErrorClass::Http5xx, format!("HTTP {s}"))),
        Some(s) if (400..500).contains(&s) => Some((ErrorClass::Http4xx, format!("HTTP {s}"))),
        Some(s) => Some((ErrorClass::Other, format!("unexpected HTTP {s}"))),
        None => Some((ErrorClass::Other, "no response".into())),
    }
}
