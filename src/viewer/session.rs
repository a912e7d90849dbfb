//! One playing session of a viewer (RFC 8216 6.3): load the playlist the run was given, choose the
//! variants, and play each chosen one as a [`Track`]. Also the pieces every request shares: loading and
//! checking a playlist, and recording a request once with its kind.

use std::sync::Arc;
use std::time::Instant;

use super::track::Track;
use super::{Playback, TapEvent, ViewerConfig};
use crate::engine::{SessionEnd, StopSignal, Stopped};
use crate::hls::{self, MediaPlaylist, Playlist};
use crate::net::{BodyMode, Fetch, Loader};
use crate::stats::{ErrorClass, Kind, RequestRecord};

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
}

/// Plays until the stop signal, the end of a VOD stream, or an error.
pub async fn run_session(viewer: u32, config: &ViewerConfig, stop: StopSignal) -> Result<SessionEnd, SessionError> {
    let started = Instant::now();
    let asker = Asker { viewer, variant: None, config };
    let mut loader = Loader::new(Arc::clone(&config.net));
    let url = config.url.clone();
    let entry = async {
        stop.check()?;
        let fetch = loader.get(&url, BodyMode::Collect { limit: super::PLAYLIST_LIMIT }).await;
        Ok::<_, Halt>(load_entry(asker, &mut loader, fetch)?)
    };
    let entry = match entry.await {
        Ok(playlist) => playlist,
        Err(halt) => return settle(Err(halt)),
    };
    match entry {
        Playlist::Media(media) => {
            let track = Track::new(asker, stop, Some(loader), Some(Playback::new(started)));
            settle(track.play(url, Some(media)).await)
        }
        Playlist::Multivariant(master) => {
            let chosen = hls::choose_variants(&master, config.policy);
            let Some((&primary, others)) = chosen.split_first() else {
                let detail = "no variant to play".to_owned();
                return Err(SessionError { url: url.to_string(), class: ErrorClass::PlaylistParse, detail });
            };
            let variant = |i: usize| Asker { variant: Some(i as u16), ..asker };
            let main = Track::new(variant(primary), stop.clone(), Some(loader), Some(Playback::new(started)));
            let main = main.play(master.variants[primary].uri.clone(), None);
            // `all`: every variant is loaded, as the old tool's default did; the buffer model follows the
            // first and the others only download, each with loaders of its own.
            let rest = others.iter().map(|&i| {
                let track = Track::new(variant(i), stop.clone(), None, None);
                let uri = master.variants[i].uri.clone();
                async move { settle(track.play(uri, None).await) }
            });
            let (main, rest) = tokio::join!(main, futures_util::future::join_all(rest));
            rest.into_iter().fold(settle(main), |acc, r| acc.and(r))
        }
    }
}

/// The first playlist of a session: counted as what it turned out to be (a media playlist given as the
/// run's URL is a `media_playlist` request, never a `multivariant` one); a load that fails before
/// saying so counts as what the run's first check found.
fn load_entry(asker: Asker<'_>, loader: &mut Loader, fetch: Fetch) -> Result<Playlist, SessionError> {
    let parsed = parse(&fetch, Ok);
    let kind = match &parsed {
        Ok(Playlist::Media(_)) => Kind::MediaPlaylist,
        Ok(Playlist::Multivariant(_)) => Kind::Multivariant,
        Err(_) => asker.config.entry_kind,
    };
    settle_load(asker, loader, kind, &fetch, parsed)
}

/// Parses a fetched playlist and runs `check` on it; the error class and detail when either fails.
pub(super) fn parse<T>(
    fetch: &Fetch,
    check: impl FnOnce(Playlist) -> Result<T, String>,
) -> Result<T, (ErrorClass, String)> {
    if let Some(failure) = failure_of(fetch) {
        return Err(failure);
    }
    let body = fetch.body.as_deref().unwrap_or_default();
    hls::parse_playlist(body, &fetch.url)
        .map_err(|e| e.to_string())
        .and_then(check)
        .map_err(|detail| (ErrorClass::PlaylistParse, detail))
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

/// The check for playlists that must be media playlists.
pub(super) fn media_only(p: Playlist) -> Result<MediaPlaylist, String> {
    match p {
        Playlist::Media(m) => Ok(m),
        Playlist::Multivariant(_) => Err("expected a media playlist, got a multivariant playlist".into()),
    }
}

/// Records one request, and shows it to the tap when there is one.
pub(super) fn record(asker: Asker<'_>, kind: Kind, fetch: &Fetch, error: Option<ErrorClass>) {
    let config = asker.config;
    config.recorder.record_request(&request_record(kind, asker.variant, fetch, error));
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
    RequestRecord { kind, variant, status: fetch.status, timings: fetch.timings, body_bytes: fetch.body_bytes, error }
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
