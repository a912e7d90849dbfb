//! One playing session of a viewer (RFC 8216 6.3): load the multivariant playlist, choose variants,
//! start at the live edge, download each new segment once and in order, reload the media playlist on
//! the RFC's schedule, pace VOD downloads by the buffer target.

use std::sync::Arc;
use std::time::Instant;

use url::Url;

use super::{Playback, StopSignal, TapEvent, ViewerConfig};
use crate::hls::{self, MediaPlaylist, Playlist, SequenceTracker};
use crate::net::{BodyMode, Fetch, Loader};
use crate::stats::{ErrorClass, Kind, PlaybackEvent, RequestRecord};

/// Consecutive failed segments after which the session gives up (and the supervisor restarts it).
const MAX_SEGMENT_FAILURES: u32 = 3;

/// How a session ended without error.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// The run's stop signal.
    Stopped,
    /// A VOD stream played to its end; the viewer starts over.
    Finished,
}

/// Why a session failed; the supervisor restarts it after backoff.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {class}: {detail}")]
pub struct SessionError {
    pub url: String,
    pub class: &'static str,
    pub detail: String,
}

/// Plays until the stop signal, the end of a VOD stream, or an error.
pub async fn run_session(viewer: u32, config: &ViewerConfig, stop: StopSignal) -> Result<SessionEnd, SessionError> {
    let started = Instant::now();
    let mut first = Player::new(viewer, config, stop.clone(), None, Some(Playback::new(started)));
    let url = config.url.clone();
    let Some(playlist) = first.load_playlist(&url, Kind::Multivariant, Ok).await? else {
        return Ok(SessionEnd::Stopped);
    };
    match playlist {
        Playlist::Media(media) => first.play(url, Some(media)).await,
        Playlist::Multivariant(master) => {
            let chosen = hls::choose_variants(&master, config.policy);
            let Some((&primary, others)) = chosen.split_first() else {
                return Err(SessionError {
                    url: url.to_string(),
                    class: "playlist_parse",
                    detail: "no variant to play".into(),
                });
            };
            first.variant = Some(primary as u16);
            let main = first.play(master.variants[primary].uri.clone(), None);
            // `all`: every variant is loaded, as the old tool's default did; the buffer model follows the
            // first and the others only download, each with loaders of its own.
            let rest = others.iter().map(|&i| {
                let mut p = Player::new(viewer, config, stop.clone(), Some(i as u16), None);
                let uri = master.variants[i].uri.clone();
                async move { p.play(uri, None).await }
            });
            let (main, rest) = tokio::join!(main, futures_util::future::join_all(rest));
            rest.into_iter().fold(main, |acc, r| acc.and(r))
        }
    }
}

/// Plays one variant: its own loader (keep-alive connection), sequence tracker and (for the primary
/// variant) the buffer model.
struct Player<'a> {
    viewer: u32,
    config: &'a ViewerConfig,
    stop: StopSignal,
    variant: Option<u16>,
    /// One keep-alive connection for playlists and segments: a player's requests for one variant never
    /// overlap, so a second connection would sit idle and cost a swarm its memory.
    loader: Loader,
    playback: Option<Playback>,
    events: Vec<PlaybackEvent>,
}

impl<'a> Player<'a> {
    fn new(
        viewer: u32,
        config: &'a ViewerConfig,
        stop: StopSignal,
        variant: Option<u16>,
        playback: Option<Playback>,
    ) -> Self {
        let net = Arc::clone(&config.net);
        Self { viewer, config, stop, variant, loader: Loader::new(net), playback, events: Vec::new() }
    }

    /// Plays `url` (a media playlist; `first` if already loaded) until stop, VOD end or error.
    async fn play(&mut self, url: Url, first: Option<MediaPlaylist>) -> Result<SessionEnd, SessionError> {
        let result = self.play_inner(url, first).await;
        if let Some(p) = self.playback.as_mut() {
            p.finish(Instant::now(), &mut self.events);
        }
        self.flush_events();
        result
    }

    async fn play_inner(&mut self, url: Url, first: Option<MediaPlaylist>) -> Result<SessionEnd, SessionError> {
        let mut playlist = match first {
            Some(p) => p,
            None => match self.load_playlist(&url, Kind::MediaPlaylist, media_only).await? {
                Some(p) => p,
                None => return Ok(SessionEnd::Stopped),
            },
        };
        let mut tracker = SequenceTracker::new();
        let mut pending = tracker.start_at_live_edge(&playlist).new;
        // Only the new segments are kept between reloads; the rest of the list is a few KB per viewer.
        playlist.segments = Vec::new();
        let mut failures = 0u32;
        let mut loaded_at = Instant::now();
        let mut changed = true;
        loop {
            for segment in std::mem::take(&mut pending) {
                if !self.pace(&playlist).await {
                    return Ok(SessionEnd::Stopped);
                }
                match self.fetch_segment(&segment).await {
                    None => return Ok(SessionEnd::Stopped),
                    Some(true) => failures = 0,
                    Some(false) => {
                        failures += 1;
                        if failures >= MAX_SEGMENT_FAILURES {
                            let detail = format!("{failures} segments in a row failed");
                            return Err(SessionError { url: segment.uri.to_string(), class: "segment", detail });
                        }
                    }
                }
            }
            if playlist.ended {
                return if self.wait_until_played().await { Ok(SessionEnd::Finished) } else { Ok(SessionEnd::Stopped) };
            }
            // RFC 8216 6.3.4: the next reload is timed from the start of the previous one.
            let next = loaded_at + hls::reload_delay(changed, &playlist);
            if !self.sleep_watching_buffer(next).await {
                return Ok(SessionEnd::Stopped);
            }
            loaded_at = Instant::now();
            let check = |p: Playlist| {
                let media = media_only(p)?;
                let update = tracker.update(&media).map_err(|e| e.to_string())?;
                Ok((media, update))
            };
            let update;
            (playlist, update) = match self.load_playlist(&url, Kind::MediaPlaylist, check).await? {
                Some(loaded) => loaded,
                None => return Ok(SessionEnd::Stopped),
            };
            changed = update.changed;
            if update.skipped > 0 {
                self.events.push(PlaybackEvent::SegmentSkipped { count: update.skipped });
            }
            pending = update.new;
            playlist.segments = Vec::new();
        }
    }
}

/// The check for playlists that must be media playlists.
fn media_only(p: Playlist) -> Result<MediaPlaylist, String> {
    match p {
        Playlist::Media(m) => Ok(m),
        Playlist::Multivariant(_) => Err("expected a media playlist, got a multivariant playlist".into()),
    }
}

impl Player<'_> {
    /// Loads and parses a playlist, runs `check` on it, and records the request once, with
    /// `playlist_parse` when parsing or the check failed. `None` when the run is stopping.
    async fn load_playlist<T>(
        &mut self,
        url: &Url,
        kind: Kind,
        check: impl FnOnce(Playlist) -> Result<T, String>,
    ) -> Result<Option<T>, SessionError> {
        if self.stop.is_set() {
            return Ok(None);
        }
        let fetch = self.loader.get(url, BodyMode::Collect { limit: super::PLAYLIST_LIMIT }).await;
        let mut failure = failure_of(&fetch);
        let mut value = None;
        if failure.is_none() {
            let body = fetch.body.as_deref().unwrap_or_default();
            let base = &fetch.url;
            match hls::parse_playlist(body, base).map_err(|e| e.to_string()).and_then(check) {
                Ok(v) => value = Some(v),
                Err(detail) => failure = Some((ErrorClass::PlaylistParse, detail)),
            }
        }
        self.record(kind, &fetch, failure.as_ref().map(|f| f.0));
        match failure {
            Some((class, detail)) => {
                if class != ErrorClass::Http4xx && class != ErrorClass::Http5xx {
                    self.loader.reset();
                }
                Err(SessionError { url: fetch.url.to_string(), class: class.as_str(), detail })
            }
            None => Ok(value),
        }
    }

    /// Downloads one segment; `Some(true)` when it arrived in full, `None` when the run is stopping.
    async fn fetch_segment(&mut self, segment: &hls::Segment) -> Option<bool> {
        if self.stop.is_set() {
            return None;
        }
        let fetch = self.loader.get(&segment.uri, BodyMode::Discard).await;
        let failure = failure_of(&fetch);
        self.record(Kind::Segment, &fetch, failure.as_ref().map(|f| f.0));
        let ok = failure.is_none();
        if ok {
            if let Some(p) = self.playback.as_mut() {
                p.on_segment(Instant::now(), segment.duration, &mut self.events);
            }
        } else {
            tracing::debug!(viewer = self.viewer, "segment {}: {:?}", segment.uri, failure);
        }
        self.flush_events();
        Some(ok)
    }

    /// VOD pacing: waits while the buffer holds more than the target. False when stopping.
    async fn pace(&mut self, playlist: &MediaPlaylist) -> bool {
        if !playlist.ended {
            return !self.stop.is_set();
        }
        let Some(p) = self.playback.as_ref() else { return !self.stop.is_set() };
        let now = Instant::now();
        let level = p.level(now);
        if level <= self.config.buffer_target {
            return !self.stop.is_set();
        }
        self.stop.sleep_until(now + (level - self.config.buffer_target)).await
    }

    /// VOD end: lets the buffer play out before the viewer starts over. False when stopping.
    async fn wait_until_played(&mut self) -> bool {
        let until = self.playback.as_ref().and_then(Playback::empty_at).unwrap_or_else(Instant::now);
        self.stop.sleep_until(until).await
    }

    /// Sleeps until `deadline`, waking when the buffer runs empty so a stall is recorded when it begins.
    async fn sleep_watching_buffer(&mut self, deadline: Instant) -> bool {
        loop {
            let empty = self.playback.as_ref().and_then(Playback::empty_at).filter(|t| *t < deadline);
            let wake = empty.unwrap_or(deadline);
            if !self.stop.sleep_until(wake).await {
                return false;
            }
            if let Some(p) = self.playback.as_mut() {
                self.events.extend(p.advance(Instant::now()));
                self.flush_events();
            }
            if Instant::now() >= deadline {
                return true;
            }
        }
    }

    fn flush_events(&mut self) {
        for event in self.events.drain(..) {
            self.config.recorder.record_playback(event);
        }
    }

    fn record(&self, kind: Kind, fetch: &Fetch, error: Option<ErrorClass>) {
        self.config.recorder.record_request(&request_record(kind, self.variant, fetch, error));
        if let Some(tap) = &self.config.tap {
            tap(&TapEvent {
                viewer: self.viewer,
                kind,
                url: fetch.url.clone(),
                started: fetch.started,
                status: fetch.status,
                ok: error.is_none(),
            });
        }
    }
}

/// The record of one measured request.
pub fn request_record(kind: Kind, variant: Option<u16>, fetch: &Fetch, error: Option<ErrorClass>) -> RequestRecord {
    let t = &fetch.timings;
    RequestRecord {
        kind,
        variant,
        status: fetch.status,
        dns: t.dns,
        connect: t.connect,
        tls: t.tls,
        headers: t.headers,
        ttfb: t.ttfb,
        total: t.total,
        body_bytes: fetch.body_bytes,
        error,
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
