//! Tests across the `hls` modules, on playlists shaped like the built-in origin's and like the
//! broken bodies an origin or CDN can serve. Unit tests of single helpers sit next to them.

mod bad_input;
mod defines;
mod llhls;
mod parse_media;
mod parse_multivariant;
mod props;
mod sequence;
mod timing;

use std::fmt::Write as _;

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

/// A media playlist in the origin's format: segments `first..` with the given durations (ms).
pub(super) fn window_text(first: u64, durations_ms: &[u64], target_secs: u64, ended: bool) -> String {
    let mut text = format!("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target_secs}\n");
    let _ = writeln!(text, "#EXT-X-MEDIA-SEQUENCE:{first}");
    for (sequence, ms) in (first..).zip(durations_ms) {
        let _ = write!(text, "#EXTINF:{}.{:03},\nseg{sequence:05}.ts\n", ms / 1000, ms % 1000);
    }
    if ended {
        text.push_str("#EXT-X-ENDLIST\n");
    }
    text
}

/// A live window of `count` two-second segments starting at `first`.
pub(super) fn live_window(first: u64, count: usize) -> MediaPlaylist {
    media(&window_text(first, &vec![2000; count], 2, false))
}
