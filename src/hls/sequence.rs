//! Following one media playlist across reloads (RFC 8216 6.3.5): after the first segment, the next
//! one to load is the one whose media sequence number is one greater than the last one loaded.
//!
//! Sequence numbers, not URIs, identify segments: 6.2.1 lets a server change a live playlist only
//! by appending segments, removing them from the front (raising EXT-X-MEDIA-SEQUENCE), raising
//! EXT-X-DISCONTINUITY-SEQUENCE and adding EXT-X-ENDLIST. So the window `[first, end)` with those
//! two counters and the ENDLIST flag tells every legal change apart, and a window that moves back
//! is an origin or cache fault worth reporting.

use super::error::SequenceError;
use super::model::{MediaPlaylist, Segment};
use super::timing::live_edge_index;

/// What one playlist load brought.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// Segments not yielded before, in sequence order.
    pub new: Vec<Segment>,
    /// Segments that left the window before this tracker saw them: the viewer fell behind.
    pub skipped: u64,
    /// Whether the playlist differs from the previous load (for [`super::reload_delay`]).
    pub changed: bool,
    /// The previous playlist had ended and this one starts over (a new stream at the same URL).
    pub restarted: bool,
}

/// The window of one load: sequence numbers `[first, end)` and the counters 6.2.1 lets change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    first: u64,
    end: u64,
    discontinuity_sequence: u64,
    ended: bool,
}

impl Window {
    fn of(playlist: &MediaPlaylist) -> Self {
        Self {
            first: playlist.media_sequence,
            end: playlist.end_sequence(),
            discontinuity_sequence: playlist.discontinuity_sequence,
            ended: !playlist.is_live(),
        }
    }
}

/// Yields each segment of one viewer's variant exactly once, in order, across playlist reloads.
#[derive(Debug, Clone, Default)]
pub struct SequenceTracker {
    /// The sequence number of the next segment to yield.
    next: Option<u64>,
    last: Option<Window>,
    yielded: u64,
    skipped: u64,
}

impl SequenceTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The first load of a playlist: forget any history and yield from the live edge (6.3.3), or
    /// from the first segment of a playlist that will not change. Segments before the live edge
    /// are passed over on purpose and are not counted as skipped.
    pub fn start_at_live_edge(&mut self, playlist: &MediaPlaylist) -> Update {
        let window = Window::of(playlist);
        let start = live_edge_index(playlist).map_or(window.end, |i| playlist.segments[i].sequence);
        self.next = Some(start);
        self.last = None;
        self.take_new(playlist, window)
    }

    /// A reload. Without a previous `start_at_live_edge`, the first call yields every segment.
    /// On error the tracker is unchanged, so the caller can record the fault and reload again; a
    /// caller that decides the origin restarted calls `start_at_live_edge`.
    pub fn update(&mut self, playlist: &MediaPlaylist) -> Result<Update, SequenceError> {
        let window = Window::of(playlist);
        if let Some(last) = self.last {
            let backwards = window.first < last.first;
            let shrank = window.end < last.end;
            if last.ended && (backwards || shrank) {
                let mut update = self.start_at_live_edge(playlist);
                update.restarted = true;
                return Ok(update);
            }
            if backwards {
                return Err(SequenceError::WentBackwards { previous: last.first, current: window.first });
            }
            if shrank {
                return Err(SequenceError::Shrank { previous_end: last.end, current_end: window.end });
            }
        }
        Ok(self.take_new(playlist, window))
    }

    /// Another rendition of the same stream from here on (an adaptive switch), whose media sequence
    /// numbers are this one's: the tracker yields from `next` in the new rendition's next playlist, and
    /// does not compare that playlist's window with the old rendition's.
    pub fn switch_rendition(&mut self, next: Option<u64>) {
        self.next = next;
        self.last = None;
    }

    fn take_new(&mut self, playlist: &MediaPlaylist, window: Window) -> Update {
        let changed = self.last != Some(window);
        let next = self.next.unwrap_or(window.first);
        let skipped = window.first.saturating_sub(next);
        let from = next.max(window.first);
        // The first listed segment is `first` unless a delta update skipped some (EXT-X-SKIP). The
        // index is clamped to the list, so the slice cannot panic.
        let listed = playlist.segments.first().map_or(window.end, |s| s.sequence);
        let index = usize::try_from(from.saturating_sub(listed)).unwrap_or(usize::MAX).min(playlist.segments.len());
        let new = playlist.segments[index..].to_vec();
        self.next = Some(from.max(window.end));
        self.last = Some(window);
        self.yielded += new.len() as u64;
        self.skipped += skipped;
        Update { new, skipped, changed, restarted: false }
    }

    /// The sequence number the next yielded segment will have, once a playlist was seen.
    pub fn next_sequence(&self) -> Option<u64> {
        self.next
    }

    /// Segments yielded since the tracker was created.
    pub fn total_yielded(&self) -> u64 {
        self.yielded
    }

    /// Segments skipped since the tracker was created.
    pub fn total_skipped(&self) -> u64 {
        self.skipped
    }
}
