//! Playlist text (RFC 8216 section 4): pure functions from the ladder and a clock view to strings.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::clock::PlaylistView;

/// What the multivariant playlist says of one variant.
#[derive(Clone, Debug)]
pub struct VariantEntry<'a> {
    pub name: &'a str,
    pub bandwidth: u64,
    pub width: u32,
    pub height: u32,
    pub codecs: &'a str,
}

/// The multivariant playlist (RFC 8216 4.3.4.2); variant URIs are relative (`720p/stream.m3u8`).
pub fn multivariant(variants: &[VariantEntry<'_>]) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for v in variants {
        let _ = writeln!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{},FRAME-RATE=30.000,CODECS=\"{}\"\n{}/stream.m3u8",
            v.bandwidth, v.width, v.height, v.codecs, v.name
        );
    }
    out
}

/// Everything a media playlist needs besides the view.
#[derive(Clone, Debug)]
pub struct MediaParams {
    pub segment_duration: Duration,
    pub start_sequence: u64,
}

/// EXT-X-TARGETDURATION: every EXTINF rounded to the nearest integer must not exceed it (RFC 8216
/// 4.3.3.1), so round the exact segment duration up, and never below 1.
pub fn target_duration(segment: Duration) -> u64 {
    (segment.as_secs_f64().ceil() as u64).max(1)
}

/// Segment file name for media sequence number `sequence`.
pub fn segment_name(sequence: u64) -> String {
    format!("seg{sequence:05}.ts")
}

/// Parses a segment file name back to its media sequence number.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg")?.strip_suffix(".ts")?;
    if digits.len() < 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A media playlist (RFC 8216 4.3.3): sliding window with EXT-X-PROGRAM-DATE-TIME on every segment;
/// VOD playlists carry EXT-X-PLAYLIST-TYPE:VOD and EXT-X-ENDLIST.
/// `prefix` goes before each segment name: empty for `/<variant>/stream.m3u8`, `<variant>/` for the
/// root `/stream.m3u8`, so relative URIs resolve to the variant's folder either way.
pub fn media(view: &PlaylistView, params: &MediaParams, prefix: &str, pdt: impl Fn(u64) -> SystemTime) -> String {
    let mut out = String::with_capacity(64 + view.count as usize * 80);
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{}\n",
        target_duration(params.segment_duration),
        params.start_sequence + view.first
    );
    if view.ended {
        out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
    }
    let extinf = params.segment_duration.as_secs_f64();
    for index in view.first..view.first + view.count {
        let _ = write!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{extinf:.3},\n{prefix}{}\n",
            iso8601(pdt(index)),
            segment_name(params.start_sequence + index)
        );
    }
    if view.ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// `2026-11-26T21:34:17.250Z` (RFC 3339 with milliseconds, as EXT-X-PROGRAM-DATE-TIME wants).
pub fn iso8601(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    #[test]
    fn multivariant_text() {
        let v = [
            VariantEntry { name: "360p", bandwidth: 800_000, width: 640, height: 360, codecs: "avc1.42c01e,mp4a.40.2" },
            VariantEntry { name: "720p", bandwidth: 2_500_000, width: 1280, height: 720, codecs: "avc1.42c01f" },
        ];
        insta::assert_snapshot!(multivariant(&v));
    }

    #[test]
    fn live_media_text() {
        let view = PlaylistView { first: 40, count: 3, ended: false, stale: false };
        let params = MediaParams { segment_duration: Duration::from_millis(2000), start_sequence: 2 };
        insta::assert_snapshot!(media(&view, &params, "", |i| wall(i * 2)));
    }

    #[test]
    fn vod_media_text_with_subsecond_segments() {
        let view = PlaylistView { first: 0, count: 2, ended: true, stale: false };
        let params = MediaParams { segment_duration: Duration::from_millis(500), start_sequence: 0 };
        insta::assert_snapshot!(media(&view, &params, "360p/", |i| wall(0) + Duration::from_millis(500 * i)));
    }

    #[test]
    fn target_duration_rounds_up() {
        assert_eq!(target_duration(Duration::from_millis(500)), 1);
        assert_eq!(target_duration(Duration::from_secs(2)), 2);
        assert_eq!(target_duration(Duration::from_millis(2_033)), 3);
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(segment_name(42), "seg00042.ts");
        assert_eq!(parse_segment_name("seg00042.ts"), Some(42));
        assert_eq!(parse_segment_name(&segment_name(1_234_567)), Some(1_234_567));
        assert_eq!(parse_segment_name("seg42.ts"), None);
        assert_eq!(parse_segment_name("seg0004x.ts"), None);
        assert_eq!(parse_segment_name("seg00042.mp4"), None);
        assert_eq!(parse_segment_name("seg+0042.ts"), None);
    }
}
