//! One playing session of a viewer (RFC 8216 6.3): load the playlist the run was given, choose the
//! variants and the alternate renditions that go with them, and play each as a [`Track`], side by side.
//!
//! The first variant and its audio rendition feed the buffer model (two lanes: a stall is either
//! running empty); other variants (`--variant all`), other audio renditions (`--audio all`) and
//! subtitles only download. Each track has its own connections, as a player's stream controllers do.
//! One track's failure stops the others (each lets its request in flight finish) and fails the
//! session, which the supervisor restarts.

use std::time::Instant;

use super::ViewerConfig;
use super::playback::PlaybackLane;
use super::request::{Asker, Halt, SessionError, media_only, parse, settle, settle_load};
use super::track::{Adaptive, Track};
use crate::engine::{SessionEnd, StopSignal};
use crate::hls::{self, MultivariantPlaylist, Playlist, VariantPolicy};
use crate::net::{BodyMode, Fetch, H2Pool, Loader};
use crate::stats::{ErrorClass, Kind, PlaybackEvent};

/// Plays until the stop signal, the end of a VOD stream, or an error.
pub async fn run_session(viewer: u32, config: &ViewerConfig, stop: StopSignal) -> Result<SessionEnd, SessionError> {
    let started = Instant::now();
    let pool = config.net.speaks_http2().then(H2Pool::default);
    let link = config.network.link_for(viewer, started);
    let asker = Asker { viewer, variant: None, config, imports: None, pool: pool.as_ref(), link: link.as_ref() };
    let mut loader = asker.loader();
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
            let lane = PlaybackLane::model(started, 1).pop();
            let track = Track::new(asker, stop, Some(loader), lane.clone());
            let result = settle(track.play(url, Some(media)).await);
            finish(asker, lane);
            result
        }
        Playlist::Multivariant(master) => play_multivariant(asker, &master, loader, stop, started).await,
    }
}

/// One track to play: who asks, the media playlist, and its lane of the buffer model if it has one.
struct Chosen<'a> {
    asker: Asker<'a>,
    url: url::Url,
    lane: Option<PlaybackLane>,
    /// The ladder it adapts over, for the variant of an adaptive viewer.
    adaptive: Option<Adaptive>,
    /// The variant's `BANDWIDTH` (0 for a rendition).
    bandwidth: u64,
}

async fn play_multivariant(
    asker: Asker<'_>,
    master: &MultivariantPlaylist,
    loader: Loader,
    stop: StopSignal,
    started: Instant,
) -> Result<SessionEnd, SessionError> {
    let config = asker.config;
    // An adaptive viewer plays one variant at a time, starting where its settings say.
    let mut adaptive =
        (config.policy == VariantPolicy::Abr && master.variants.len() > 1).then(|| Adaptive::new(master, config.abr));
    let chosen = match &adaptive {
        Some(a) => vec![a.current()],
        None => hls::choose_variants(master, config.policy),
    };
    if chosen.is_empty() {
        let detail = "no variant to play".to_owned();
        return Err(SessionError { url: config.url.to_string(), class: ErrorClass::PlaylistParse, detail });
    }
    let renditions = hls::choose_renditions(master, &chosen, &config.renditions);
    let with_audio = renditions.iter().any(|r| r.follows_playback);
    let mut lanes = PlaybackLane::model(started, if with_audio { 2 } else { 1 }).into_iter();
    let video_lane = lanes.next();
    let audio_lane = lanes.next();
    let imports = Some(&master.variables);
    let at = |index: usize| Asker { variant: Some(u16::try_from(index).unwrap_or(u16::MAX)), imports, ..asker };
    let mut tracks: Vec<Chosen<'_>> = Vec::with_capacity(chosen.len() + renditions.len());
    for (position, &v) in chosen.iter().enumerate() {
        let lane = if position == 0 { video_lane.clone() } else { None };
        let adaptive = if position == 0 { adaptive.take() } else { None };
        // As ranked: a variant without `BANDWIDTH` counts at the highest listed before it.
        let bandwidth = adaptive.as_ref().map_or(master.variants[v].bandwidth, Adaptive::bandwidth);
        tracks.push(Chosen { asker: at(v), url: master.variants[v].uri.clone(), lane, adaptive, bandwidth });
    }
    for r in &renditions {
        let Some(url) = master.renditions[r.index].uri.clone() else { continue };
        let lane = if r.follows_playback { audio_lane.clone() } else { None };
        // Renditions are counted after the variants: index = variants + their place among the renditions.
        tracks.push(Chosen { asker: at(master.variants.len() + r.index), url, lane, adaptive: None, bandwidth: 0 });
    }
    let result = if tracks.len() == 1 {
        let Chosen { asker, url, lane, adaptive, bandwidth } = tracks.pop().expect("one track");
        let track = Track::new(asker, stop, Some(loader), lane).adapting(adaptive).with_bandwidth(bandwidth);
        settle(track.play(url, None).await)
    } else {
        let (stop, session_stop) = stop.for_session();
        let mut loader = Some(loader);
        let plays = tracks.into_iter().map(|Chosen { asker, url, lane, adaptive, bandwidth }| {
            // The session's connection goes on with the first variant; the others open their own.
            let track =
                Track::new(asker, stop.clone(), loader.take(), lane).adapting(adaptive).with_bandwidth(bandwidth);
            let session_stop = &session_stop;
            async move {
                let result = track.play(url, None).await;
                if matches!(result, Err(Halt::Failed(_))) {
                    session_stop.stop();
                }
                settle(result)
            }
        });
        combine(futures_util::future::join_all(plays).await)
    };
    finish(asker, video_lane);
    result
}

/// A session's end from its tracks': the first failure; else stopped if any track was; else finished,
/// replayed no sooner than the longest pace.
fn combine(results: Vec<Result<SessionEnd, SessionError>>) -> Result<SessionEnd, SessionError> {
    let mut end = None;
    for result in results {
        end = Some(match (end, result?) {
            (_, SessionEnd::Stopped) | (Some(SessionEnd::Stopped), _) => SessionEnd::Stopped,
            (Some(SessionEnd::Finished { pace: a }), SessionEnd::Finished { pace: b }) => {
                SessionEnd::Finished { pace: a.max(b) }
            }
            (None, finished) => finished,
        });
    }
    Ok(end.unwrap_or(SessionEnd::Stopped))
}

/// Ends the buffer model (an open stall is closed so its time counts), once all its tracks are done.
fn finish(asker: Asker<'_>, lane: Option<PlaybackLane>) {
    let Some(lane) = lane else { return };
    let mut events: Vec<PlaybackEvent> = Vec::new();
    lane.finish(Instant::now(), &mut events);
    let variant = lane.variant();
    for event in events {
        asker.config.recorder.record_playback(event);
        if let Some(v) = variant {
            asker.config.recorder.record_variant_playback(v, event);
        }
    }
}

/// The first playlist of a session: counted as what it turned out to be (a media playlist given as the
/// run's URL is a `media_playlist` request, never a `multivariant` one); a load that fails before
/// saying so counts as what the run's first check found.
fn load_entry(asker: Asker<'_>, loader: &mut Loader, fetch: Fetch) -> Result<Playlist, SessionError> {
    let parsed = parse(asker, &fetch, |p| match p {
        Playlist::Media(_) => media_only(p).map(Playlist::Media),
        multivariant => Ok(multivariant),
    });
    let kind = match &parsed {
        Ok(Playlist::Media(_)) => Kind::MediaPlaylist,
        Ok(Playlist::Multivariant(_)) => Kind::Multivariant,
        Err(_) => asker.config.entry_kind,
    };
    settle_load(asker, loader, kind, &fetch, parsed)
}
