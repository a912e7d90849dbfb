//! The parser's entry point: bytes to [`Playlist`].
//!
//! # Why not m3u8-rs
//! The crate depends on m3u8-rs 6, and it was tried first against the bad-input rules this tool
//! needs. It accepts too much to measure an origin by: a non-numeric `#EXTINF:abc,` is read as a
//! comment and the segment gets duration 0; a URI without `#EXTINF` becomes a 0-second segment; a
//! missing `#EXT-X-TARGETDURATION` becomes 0; `#EXT-X-TARGETDURATION:2.5` yields 2 plus a bogus
//! segment named `.5`; a `#EXT-X-STREAM-INF` without BANDWIDTH silently drops the variant; parsing
//! stops quietly at the first line it cannot read. It also refuses what players accept (a leading
//! BOM), reports errors as nom positions without line numbers, stores durations as `f32`, took
//! about 4 s (release build) for a 30 MB playlist, and knows no LL-HLS tags. The format is
//! line-based (RFC 8216 4.1), so a small one-pass parser of our own is both stricter and simpler.

use url::Url;

use super::defines::{self, Variables};
use super::error::ParseError;
use super::lines::{self, LineKind};
use super::model::{MediaPlaylist, MultivariantPlaylist, Playlist};
use super::tags::{MEDIA_TAGS, MULTIVARIANT_TAGS};
use super::{media, multivariant};

/// Parses a playlist body fetched from `base` (the URL after redirects; relative URIs are
/// resolved against it). Never panics; runs in time linear in `body.len()`.
pub fn parse_playlist(body: &[u8], base: &Url) -> Result<Playlist, ParseError> {
    parse_playlist_with(body, base, None)
}

/// [`parse_playlist`] for a media playlist of a multivariant playlist: `parent` holds the variables
/// its `EXT-X-DEFINE:IMPORT` tags may take.
pub fn parse_playlist_with(body: &[u8], base: &Url, parent: Option<&Variables>) -> Result<Playlist, ParseError> {
    parse_reload(body, base, parent, None)
}

/// [`parse_playlist_with`] for a reload of a media playlist whose last load, `held`, the viewer keeps:
/// the same playlist, parsed faster, with the URLs `held` resolved reused where a reference resolves
/// to one of them.
pub fn parse_reload(
    body: &[u8],
    base: &Url,
    parent: Option<&Variables>,
    held: Option<&MediaPlaylist>,
) -> Result<Playlist, ParseError> {
    let text = lines::decode(body)?;
    let (text, variables) = defines::expand(text, base, parent)?;
    match kind(&text)? {
        Kind::Multivariant => multivariant::parse(lines::lines(&text), base)
            .map(|m| Playlist::Multivariant(MultivariantPlaylist { variables, ..m })),
        Kind::Media => media::parse(lines::lines(&text), base, held).map(Playlist::Media),
    }
}

enum Kind {
    Multivariant,
    Media,
}

/// The first tag that belongs to only one kind of playlist decides; the chosen parser rejects a
/// later tag of the other kind (4.3.4). A URI line with no such tag before it is read as a media
/// playlist, which then reports the missing `#EXTINF`.
fn kind(text: &str) -> Result<Kind, ParseError> {
    for line in lines::lines(text) {
        match line.kind {
            LineKind::Tag { name, .. } if MULTIVARIANT_TAGS.contains(&name) => {
                return Ok(Kind::Multivariant);
            }
            LineKind::Tag { name, .. } if MEDIA_TAGS.contains(&name) => return Ok(Kind::Media),
            LineKind::Tag { .. } => {}
            LineKind::Uri(_) => return Ok(Kind::Media),
        }
    }
    Err(ParseError::NoContent)
}
