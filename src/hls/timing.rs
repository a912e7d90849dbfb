//! Where a viewer starts in a live playlist and how long it waits between reloads.

use std::time::Duration;

use super::model::MediaPlaylist;

/// The index in `playlist.segments` of the first segment to play, `None` when there is none.
///
/// RFC 8216 6.3.3: for a live playlist the client SHOULD NOT choose a segment that starts less
/// than three target durations from the end of the playlist. The start is therefore the *last*
/// segment that starts at least that far from the end, and the first segment when the window is
/// shorter than that. A playlist that will not change (ENDLIST or VOD) is played from the start.
///
/// An LL-HLS server may state the distance itself with `EXT-X-SERVER-CONTROL:HOLD-BACK`
/// (rfc8216bis 4.4.3.8, which also defaults it to three target durations); it is used when given.
pub fn live_edge_index(playlist: &MediaPlaylist) -> Option<usize> {
    if playlist.segments.is_empty() {
        return None;
    }
    if !playlist.is_live() {
        return Some(0);
    }
    let hold_back = playlist.server_control.as_ref().and_then(|c| c.hold_back);
    let hold_back = hold_back.unwrap_or(playlist.target_duration * 3);
    // A window shorter than the hold-back has no segment far enough from the end. (Clamping to
    // zero instead would let zero-length segments at the start all qualify and pick the last.)
    let Some(latest_start) = playlist.duration().checked_sub(hold_back) else { return Some(0) };
    let mut start = Duration::ZERO;
    let mut chosen = 0;
    for (index, segment) in playlist.segments.iter().enumerate() {
        if start > latest_start {
            break;
        }
        chosen = index;
        start += segment.duration;
    }
    Some(chosen)
}

/// How long to wait before reloading `playlist`, counted from when its load *began* (6.3.4), so a
/// caller subtracts the time the load itself took.
///
/// RFC 8216 6.3.4: after a load that found the playlist changed, wait at least the target
/// duration; after one that found it unchanged, half the target duration. Some players wait the
/// last segment's duration instead; it is never longer (every EXTINF rounds to at most the target
/// duration, 4.3.3.1), so reloading earlier than the RFC's minimum would add load a spec-following
/// player does not. The result is never below half a target duration, and the parser refuses a
/// target duration under one second, so a viewer cannot reload in a busy loop.
///
/// A playlist that is not live needs no reload at all; the value is then only a retry interval.
pub fn reload_delay(changed: bool, playlist: &MediaPlaylist) -> Duration {
    if changed { playlist.target_duration } else { playlist.target_duration / 2 }
}
