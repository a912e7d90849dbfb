//! Playlist delta updates (draft-pantos-hls-rfc8216bis 6.2.5.1, 6.3.7): with `_HLS_skip=YES` the server
//! leaves out the oldest segments (`EXT-X-SKIP:SKIPPED-SEGMENTS=n`) and the client takes them from the
//! playlist it holds. [`apply_delta`] does that, or says why it cannot.

use super::model::MediaPlaylist;

/// Why a delta update cannot be applied (a `playlist_parse` error for the viewer, who then reloads
/// the whole playlist).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    #[error("delta update skips segments {first}..{end} but the playlist held has {held_first}..{held_end}")]
    NotHeld { first: u64, end: u64, held_first: u64, held_end: u64 },
    #[error("delta update (EXT-X-SKIP) with no playlist held to apply it to")]
    NothingHeld,
}

/// The whole playlist `delta` stands for: the skipped segments from `held`, then the delta's own. A
/// playlist that skips nothing is returned as it is.
pub fn apply_delta(held: Option<&MediaPlaylist>, delta: MediaPlaylist) -> Result<MediaPlaylist, DeltaError> {
    check_delta(held, &delta)?;
    let Some(held) = held.filter(|_| delta.skipped_segments > 0) else { return Ok(delta) };
    let (first, end) = skipped(&delta);
    let mut segments: Vec<_> = held.segments.iter().filter(|s| (first..end).contains(&s.sequence)).cloned().collect();
    segments.extend(delta.segments);
    Ok(MediaPlaylist { segments, skipped_segments: 0, ..delta })
}

/// Whether [`apply_delta`] can complete `delta` from `held`, and if not why, without taking `delta`.
pub fn check_delta(held: Option<&MediaPlaylist>, delta: &MediaPlaylist) -> Result<(), DeltaError> {
    if delta.skipped_segments == 0 {
        return Ok(());
    }
    let held = held.ok_or(DeltaError::NothingHeld)?;
    let (first, end) = skipped(delta);
    let held_first = held.segments.first().map_or(held.end_sequence(), |s| s.sequence);
    if first < held_first || end > held.end_sequence() {
        return Err(DeltaError::NotHeld { first, end, held_first, held_end: held.end_sequence() });
    }
    Ok(())
}

/// The sequence numbers a delta update skips, `first..end`.
fn skipped(delta: &MediaPlaylist) -> (u64, u64) {
    (delta.media_sequence, delta.media_sequence.saturating_add(delta.skipped_segments))
}
