//! The server side of low-latency HLS: what a request asks for when it arrives (its kind), blocking
//! playlist reloads (rfc8216bis 6.2.5.2), delta updates (6.2.5.1) and parts, a hinted one held until
//! it is complete (6.2.6). The rules are [`super::llhls`]'s; holding is [`super::hold`]'s.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use super::counters::ServedKind;
use super::llhls::{DirectiveError, Directives, parse_directives};
use super::media::fragment_ranges;
use super::playlist::{LowLatencyFacts, target_duration};
use super::server::{OriginState, Reply, playlist_reply, ranged};

/// What a low-latency request asks for, read when it arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    /// Not a low-latency request: the route's own kind.
    Plain,
    /// A media playlist with its delivery directives, or the 400 they earn; `blocking` when it names
    /// `_HLS_msn`.
    Playlist { directives: Result<Directives, DirectiveError>, blocking: bool },
    /// A part of a segment (its index from the stream's first) that exists.
    Part(u64),
    /// The part being produced (the preload hint's): held until complete.
    Hinted(u64),
    /// A part that neither exists nor is next: 404.
    Missing,
}

impl Ask {
    /// Reads a playlist request's query (`media`), or a part request (`part`: its media sequence
    /// number and index) at `now`; `Plain` when the origin is not low-latency.
    pub fn of(state: &OriginState, media: bool, part: Option<(u64, u64)>, query: Option<&str>, now: Instant) -> Ask {
        if state.params.parts.is_none() {
            return Ask::Plain;
        }
        if let Some((sequence, part)) = part {
            let clock = &state.clock;
            return match sequence.checked_sub(state.params.start_sequence) {
                Some(index) if clock.part_servable(index, part, now) => Ask::Part(index),
                Some(index) if index == clock.produced(now) && part == clock.parts_done(now) => Ask::Hinted(index),
                _ => Ask::Missing,
            };
        }
        if !media {
            return Ask::Plain;
        }
        let directives = parse_directives(query);
        let blocking = match &directives {
            Ok(d) => d.block.is_some(),
            Err(_) => url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).any(|(k, _)| k == "_HLS_msn"),
        };
        Ask::Playlist { directives, blocking }
    }

    /// The kind this request is counted as, when it is not the route's.
    pub fn kind(&self) -> Option<ServedKind> {
        match self {
            Ask::Plain | Ask::Playlist { blocking: false, .. } => None,
            Ask::Playlist { blocking: true, .. } => Some(ServedKind::BlockingPlaylist),
            Ask::Part(_) | Ask::Missing => Some(ServedKind::Part),
            Ask::Hinted(_) => Some(ServedKind::PreloadHint),
        }
    }
}

/// The longest a request is held: three target durations (then 503).
fn hold_limit(state: &OriginState) -> Duration {
    Duration::from_secs(3 * target_duration(state.params.segment_duration))
}

/// A low-latency media playlist of `track`: at once, or once it holds what `_HLS_msn` and
/// `_HLS_part` ask for (400 when they ask more than two segments ahead, 503 when it does not come in
/// time); a delta update with `_HLS_skip`. `prefix` goes before the playlist's URIs and
/// `report_prefix` before the other renditions' folders.
pub async fn media_playlist(
    state: &OriginState,
    track: usize,
    prefix: &str,
    report_prefix: &str,
    directives: Result<Directives, DirectiveError>,
    kind: ServedKind,
) -> Reply {
    let parts = u64::from(state.params.parts.map_or(1, |p| p.parts_per_segment));
    let start = state.params.start_sequence;
    let ready = directives.and_then(|d| {
        let view = state.clock.playlist_view(Instant::now());
        let block = d.block.map(|b| b.normalized(parts).check(&view, start)).transpose()?;
        Ok((d, block))
    });
    let (directives, block) = match ready {
        Ok(ready) => ready,
        Err(e) => return Reply::new(kind, StatusCode::BAD_REQUEST, "text/plain", Bytes::from(format!("{e}\n"))),
    };
    if let Some(block) = block {
        let held = state
            .ticks
            .hold(hold_limit(state), || block.satisfied_by(&state.clock.playlist_view(Instant::now()), start));
        if !held.await {
            return Reply::empty(kind, StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    let reports: Vec<String> = (state.tracks.iter().enumerate())
        .filter(|(t, _)| *t != track)
        .map(|(_, other)| format!("{report_prefix}{}/stream.m3u8", other.name))
        .collect();
    let facts = LowLatencyFacts { delta: directives.skip, reports: &reports };
    let mut reply = playlist_reply(state, track, prefix, Instant::now(), &facts);
    reply.kind = kind;
    reply
}

/// Part `part` of segment `sequence` of `track` as `ask` found it: served, held then served (the
/// hinted part; 503 if it does not come in time), or 404.
pub async fn part(
    state: &OriginState,
    track: usize,
    part: u64,
    ask: &Ask,
    kind: ServedKind,
    range: Option<&HeaderValue>,
) -> Reply {
    let index = match *ask {
        Ask::Part(index) => index,
        Ask::Hinted(index) => {
            let complete = || state.clock.part_servable(index, part, Instant::now());
            if !state.ticks.hold(hold_limit(state), complete).await {
                return Reply::empty(kind, StatusCode::SERVICE_UNAVAILABLE);
            }
            index
        }
        _ => return Reply::empty(kind, StatusCode::NOT_FOUND),
    };
    let now = Instant::now();
    if !state.clock.part_servable(index, part, now) {
        return Reply::empty(kind, StatusCode::NOT_FOUND);
    }
    // The segment is built in parts, each a fragment of its own: a part is a slice of it.
    let segment = state.tracks[track].cache.get(index, state.clock.oldest_servable(now));
    let Some(bytes) = usize::try_from(part).ok().and_then(|p| fragment_ranges(&segment).into_iter().nth(p)) else {
        return Reply::empty(kind, StatusCode::NOT_FOUND);
    };
    let data = segment.slice(bytes);
    let mut r = ranged(kind, state.params.container.content_type(), data.len() as u64, range, |a, b| {
        data.slice(a as usize..b as usize)
    });
    r.cache_control.get_or_insert(HeaderValue::from_static("max-age=60, immutable"));
    r
}
