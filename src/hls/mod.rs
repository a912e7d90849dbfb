//! Pure HLS logic (RFC 8216) for one simulated viewer: no I/O, only functions over bytes and plain
//! data, so every rule is unit- and property-tested.
//!
//! - [`parse_playlist`]: bytes and the playlist URL to our own [`Playlist`] model; malformed input
//!   is a [`ParseError`] naming the line, never a panic or a silently different stream; what players
//!   accept against the letter of the RFC is accepted with a [`ParseWarning`]. `EXT-X-DEFINE`
//!   variables are substituted first ([`parse_playlist_with`] gives a media playlist the
//!   multivariant playlist's [`Variables`] to import).
//! - [`choose_variants`]: which variants a viewer plays, by [`VariantPolicy`]; [`choose_renditions`]:
//!   which alternate audio and subtitle renditions with them, by [`RenditionPolicy`].
//! - [`live_edge_index`]: where a live viewer starts (RFC 8216 6.3.3).
//! - [`reload_delay`]: how long to wait between playlist reloads (RFC 8216 6.3.4).
//! - [`SequenceTracker`]: which segments of a reloaded live playlist are new, skipped, or a fault
//!   (RFC 8216 6.3.5, 6.2.1).
//! - [`apply_delta`]: a delta update (`EXT-X-SKIP`) completed from the playlist held (rfc8216bis 6.3.7).
//! - [`PartTracker`]: low-latency playback: the join point (`PART-HOLD-BACK`, an independent part),
//!   each part once and in order across reloads, the next blocking reload's directives.
//! - [`RequestPlan`]: what a track requests for each segment, in order: init section, key, the
//!   segment with its `Range` (RFC 8216 4.3.2.2, 4.3.2.4, 4.3.2.5); nothing for an `EXT-X-GAP`.
//! - [`crypto`]: AES-128 segment encryption (RFC 8216 4.3.2.4, 5.2): IVs, encrypt, decrypt, and
//!   whether decrypted bytes start as media.
//! - [`resolve`]: URI resolution against the playlist URL (RFC 8216 4.1, RFC 3986 5).

mod attr;
pub mod crypto;
mod date;
mod defines;
mod delta;
mod error;
mod lines;
mod llhls;
mod media;
mod model;
mod multivariant;
mod parse;
mod parts;
mod plan;
mod rendition;
mod sequence;
mod tags;
mod timing;
mod uri;
mod variant;

#[cfg(test)]
mod tests;

pub use defines::Variables;
pub use delta::{DeltaError, apply_delta, check_delta};
pub use error::{ParseError, ParseWarning, SequenceError};
pub use model::{
    ByteRange, HintKind, InitSection, Key, KeyMethod, MediaPlaylist, MultivariantPlaylist, Part, Playlist,
    PlaylistType, PreloadHint, Rendition, RenditionReport, RenditionType, Segment, ServerControl, Variant,
};
pub use parse::{parse_playlist, parse_playlist_with, parse_reload};
pub use parts::{
    LowLatencyFetch, PartPosition, PartTracker, PartUpdate, blocking_query, fill_program_date_times, lists_part,
    next_part_after, parent_of, part_as_segment, part_hint, part_hold_back, reported_part, skip_directive,
};
pub use plan::{Planned, RequestPlan, SegmentPlan, range_header};
pub use rendition::{AudioPolicy, ChosenRendition, RenditionPolicy, choose_renditions};
pub use sequence::{SequenceTracker, Update};
pub use timing::{live_edge_index, reload_delay};
pub use uri::resolve;
pub use variant::{VariantPolicy, choose_variants};
