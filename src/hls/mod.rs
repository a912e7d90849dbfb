//! Pure HLS logic (RFC 8216) for one simulated viewer: no I/O, only functions over bytes and plain
//! data, so every rule is unit- and property-tested.
//!
//! - [`parse_playlist`]: bytes and the playlist URL to our own [`Playlist`] model, with strict
//!   errors ([`ParseError`]) for anything a real player could not play.
//! - [`resolve`]: URI resolution against the playlist URL (RFC 8216 4.1, RFC 3986 5).

mod attr;
mod date;
mod error;
mod lines;
mod media;
mod model;
mod multivariant;
mod parse;
mod tags;
mod uri;

#[cfg(test)]
mod tests;

pub use error::{ParseError, SequenceError};
pub use model::{
    ByteRange, InitSection, Key, KeyMethod, MediaPlaylist, MultivariantPlaylist, Playlist, PlaylistType, Rendition,
    RenditionType, Segment, ServerControl, Variant,
};
pub use parse::parse_playlist;
pub use uri::resolve;
