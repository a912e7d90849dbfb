//! Tests across the `hls` modules, on playlists shaped like the built-in origin's and like the
//! broken bodies an origin or CDN can serve. Unit tests of single helpers sit next to them.

mod bad_input;
mod parse_media;
mod parse_multivariant;

use url::Url;

use super::{MediaPlaylist, MultivariantPlaylist, ParseError, Playlist, parse_playlist};

/// Where the media playlists of these tests were "fetched" from.
pub(super) fn base() -> Url {
    Url::parse("http://127.0.0.1:8080/live/720p/stream.m3u8").unwrap()
}

pub(super) fn parse(text: &str) -> Result<Playlist, ParseError> {
    parse_playlist(text.as_bytes(), &base())
}

pub(super) fn media(text: &str) -> MediaPlaylist {
    match parse(text) {
        Ok(Playlist::Media(playlist)) => playlist,
        other => panic!("expected a media playlist, got {other:?}"),
    }
}

pub(super) fn multivariant(text: &str) -> MultivariantPlaylist {
    let base = Url::parse("http://127.0.0.1:8080/live/master.m3u8").unwrap();
    match parse_playlist(text.as_bytes(), &base) {
        Ok(Playlist::Multivariant(playlist)) => playlist,
        other => panic!("expected a multivariant playlist, got {other:?}"),
    }
}

pub(super) fn error(text: &str) -> ParseError {
    match parse(text) {
        Err(err) => err,
        Ok(playlist) => panic!("expected an error, parsed {playlist:?}"),
    }
}

/// The built-in origin's live media playlist (src/origin/playlist.rs on main).
pub(super) const ORIGIN_LIVE: &str = "\
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:42
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T21:00:00.000Z
#EXTINF:2.000,
seg00042.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T21:00:02.000Z
#EXTINF:2.000,
seg00043.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T21:00:04.000Z
#EXTINF:2.000,
seg00044.ts
";

/// The built-in origin's multivariant playlist.
pub(super) const ORIGIN_MULTIVARIANT: &str = r#"#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,FRAME-RATE=30.000,CODECS="avc1.42c01e,mp4a.40.2"
360p/stream.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="avc1.42e01f,mp4a.40.2"
720p/stream.m3u8
"#;
