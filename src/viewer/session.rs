//! One playing session of a viewer (RFC 8216 6.3): load the playlist the run was given, choose the
//! variants, and play each chosen one as a [`Track`].

use std::sync::Arc;
use std::time::Instant;

use super::request::{Asker, Halt, SessionError, parse, settle, settle_load};
use super::track::Track;
use super::{Playback, ViewerConfig};
use crate::engine::{SessionEnd, StopSignal};
use crate::hls::{self, Playlist};
use crate::net::{BodyMode, Fetch, Loader};
use crate::stats::{ErrorClass, Kind};

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
