//! Playlist text (RFC 8216 section 4): pure functions from the ladder and a clock view to strings.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::clock::PlaylistView;
use super::llhls::{self, PartParams};
use super::media::Container;

/// What the multivariant playlist says of one variant.
#[derive(Clone, Debug)]
pub struct VariantEntry<'a> {
    pub name: &'a str,
    pub bandwidth: u64,
    pub width: u32,
    pub height: u32,
    pub codecs: &'a str,
}

/// GROUP-ID of the audio rendition, and the AUDIO attribute of the variants that play it.
pub const AUDIO_GROUP: &str = "aud";

/// The multivariant playlist (RFC 8216 4.3.4.2); variant URIs are relative (`720p/stream.m3u8`).
/// With `audio_rendition` (its folder, e.g. `audio`), the audio is an EXT-X-MEDIA rendition
/// (4.3.4.1) that every variant names in its AUDIO attribute (4.3.4.2).
pub fn multivariant(variants: &[VariantEntry<'_>], audio_rendition: Option<&str>, version: u8) -> String {
    let mut out = format!("#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    if let Some(folder) = audio_rendition {
        let _ = writeln!(
            out,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{AUDIO_GROUP}\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,\
             AUTOSELECT=YES,CHANNELS=\"2\",URI=\"{folder}/stream.m3u8\""
        );
    }
    let group = if audio_rendition.is_some() { format!(",AUDIO=\"{AUDIO_GROUP}\"") } else { String::new() };
    for v in variants {
        let _ = writeln!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{},FRAME-RATE=30.000,CODECS=\"{}\"{group}\n{}/stream.m3u8",
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
    /// fMP4 adds EXT-X-MAP and `.m4s` segments.
    pub container: Container,
    /// Segments per byte-range resource (EXT-X-BYTERANGE), or `None`: a file per segment.
    pub byterange: Option<u64>,
    /// Segments per AES-128 key (EXT-X-KEY), or `None`: clear segments.
    pub key_rotation: Option<u64>,
    /// Low-latency HLS: the segments' parts (fMP4 only), or `None`.
    pub parts: Option<PartParams>,
}

impl MediaParams {
    /// EXT-X-VERSION (RFC 8216 7): 4 for EXT-X-BYTERANGE, 6 for EXT-X-MAP outside I-frame
    /// playlists; fMP4 says 7, as packagers for Apple's players write it; low-latency 9, for
    /// EXT-X-SKIP (rfc8216bis 7).
    pub fn version(&self) -> u8 {
        if self.parts.is_some() {
            return 9;
        }
        match (self.container, self.byterange) {
            (Container::Fmp4, _) => 7,
            (Container::Ts, Some(_)) => 4,
            (Container::Ts, None) => 3,
        }
    }

    /// The byte-range resource holding segment `index`, and the first segment it holds.
    pub fn resource_of(&self, index: u64) -> Option<(u64, u64)> {
        self.byterange.map(|n| (index / n, index / n * n))
    }
}

/// EXT-X-TARGETDURATION: every EXTINF rounded to the nearest integer must not exceed it (RFC 8216
/// 4.3.3.1), so round the exact segment duration up, and never below 1.
pub fn target_duration(segment: Duration) -> u64 {
    (segment.as_secs_f64().ceil() as u64).max(1)
}

/// The init section's file name in each variant's folder (EXT-X-MAP).
pub const INIT_NAME: &str = "init.mp4";

/// Segment file name for media sequence number `sequence`: `seg00042.ts` or `seg00042.m4s`.
pub fn segment_name(sequence: u64, container: Container) -> String {
    format!("seg{sequence:05}.{}", container.extension())
}

/// Parses a segment file name back to its media sequence number.
pub fn parse_segment_name(name: &str, container: Container) -> Option<u64> {
    parse_numbered(name, "seg", container.extension())
}

/// File name of byte-range resource `number` (segments `number * n .. (number + 1) * n`, counted from
/// the stream's first segment): `file00003.ts`.
pub fn resource_name(number: u64, container: Container) -> String {
    format!("file{number:05}.{}", container.extension())
}

pub fn parse_resource_name(name: &str, container: Container) -> Option<u64> {
    parse_numbered(name, "file", container.extension())
}

/// URI of AES-128 key `number` (the key of segments `number * rotation ..`), from the server root.
pub fn key_uri(number: u64) -> String {
    format!("/keys/{number}.key")
}

pub fn parse_key_path(path: &str) -> Option<u64> {
    let digits = path.strip_prefix("/keys/")?.strip_suffix(".key")?;
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `{prefix}{at least 5 digits}.{extension}` back to its number.
fn parse_numbered(name: &str, prefix: &str, extension: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(extension)?.strip_suffix('.')?;
    if digits.len() < 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What a media playlist says of each segment besides its place: its PROGRAM-DATE-TIME and, for
/// EXT-X-BYTERANGE, its length in bytes as served (encrypted when it is).
pub struct SegmentFacts<P, L> {
    pub program_date_time: P,
    pub len: L,
}

/// A media playlist (RFC 8216 4.3.3): sliding window with EXT-X-PROGRAM-DATE-TIME on every segment;
/// VOD playlists carry EXT-X-PLAYLIST-TYPE:VOD and EXT-X-ENDLIST.
/// `prefix` goes before each relative URI: empty for `/<variant>/stream.m3u8`, `<variant>/` for the
/// root `/stream.m3u8`, so relative URIs resolve to the variant's folder either way.
/// fMP4: EXT-X-MAP comes before any EXT-X-KEY, so the init section is in the clear (4.3.2.5).
/// Encrypted: an EXT-X-KEY before the first listed segment and at each key change, without IV: the
/// IV is the media sequence number (5.2). Byte ranges are written `len@offset` in full.
pub fn media<P, L>(view: &PlaylistView, params: &MediaParams, prefix: &str, facts: SegmentFacts<P, L>) -> String
where
    P: Fn(u64) -> SystemTime,
    L: Fn(u64) -> u64,
{
    media_low_latency(view, params, prefix, facts, &LowLatencyFacts::default())
}

/// What a low-latency playlist answer says besides the segments (with [`MediaParams::parts`]).
#[derive(Clone, Debug, Default)]
pub struct LowLatencyFacts<'a> {
    /// A delta update (`_HLS_skip`): the segments older than the skip boundary are left out.
    pub delta: bool,
    /// EXT-X-RENDITION-REPORT URIs of the other renditions, relative to this playlist.
    pub reports: &'a [String],
}

/// A low-latency media playlist (rfc8216bis 4.4.3.7, 4.4.3.8, 4.4.4.9, 4.4.5): [`media`], with the
/// parts of the recent segments and of the one being produced, a preload hint for the next part,
/// rendition reports and, for a delta update, EXT-X-SKIP in place of the oldest segments. Without
/// [`MediaParams::parts`] it is [`media`].
pub fn media_low_latency<P, L>(
    view: &PlaylistView,
    params: &MediaParams,
    prefix: &str,
    facts: SegmentFacts<P, L>,
    low_latency: &LowLatencyFacts<'_>,
) -> String
where
    P: Fn(u64) -> SystemTime,
    L: Fn(u64) -> u64,
{
    let target = target_duration(params.segment_duration);
    let parts = params.parts.filter(|_| !view.ended);
    let mut out = String::with_capacity(256 + view.count as usize * 120);
    let _ = write!(out, "#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-TARGETDURATION:{target}\n", params.version());
    if let Some(parts) = &parts {
        llhls::write_header(&mut out, parts, target);
    }
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", params.start_sequence + view.first);
    if view.ended {
        out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
    }
    if params.container == Container::Fmp4 {
        let _ = writeln!(out, "#EXT-X-MAP:URI=\"{prefix}{INIT_NAME}\"");
    }
    let skipped = match parts {
        Some(_) if low_latency.delta => PartParams::skipped(view, params.segment_duration, target),
        _ => 0,
    };
    if skipped > 0 {
        let _ = writeln!(out, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}");
    }
    let parts_from = PartParams::parts_from(view, params.segment_duration, target);
    let listed = view.first + skipped;
    let extinf = params.segment_duration.as_secs_f64();
    // The offset of the first listed segment in its resource: the lengths of those before it.
    let mut offset = params.resource_of(listed).map_or(0, |(_, first)| (first..listed).map(&facts.len).sum());
    for index in listed..view.first + view.count {
        if let Some(rotation) = params.key_rotation
            && (index == listed || index % rotation == 0)
        {
            let _ = writeln!(out, "#EXT-X-KEY:METHOD=AES-128,URI=\"{}\"", key_uri(index / rotation));
        }
        let sequence = params.start_sequence + index;
        let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{}", iso8601((facts.program_date_time)(index)));
        if let Some(parts) = parts.as_ref().filter(|_| index >= parts_from) {
            llhls::write_parts(&mut out, parts, prefix, sequence, u64::from(parts.parts_per_segment));
        }
        let _ = writeln!(out, "#EXTINF:{extinf:.3},");
        match params.resource_of(index) {
            None => {
                let _ = writeln!(out, "{prefix}{}", segment_name(sequence, params.container));
            }
            Some((number, first)) => {
                if index == first {
                    offset = 0;
                }
                let len = (facts.len)(index);
                let _ = write!(
                    out,
                    "#EXT-X-BYTERANGE:{len}@{offset}\n{prefix}{}\n",
                    resource_name(number, params.container)
                );
                offset += len;
            }
        }
    }
    if let Some(parts) = &parts {
        let producing = params.start_sequence + view.first + view.count;
        llhls::write_tail(&mut out, parts, prefix, producing, view.parts, low_latency.reports);
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

    fn params(segment_ms: u64, start_sequence: u64) -> MediaParams {
        MediaParams {
            segment_duration: Duration::from_millis(segment_ms),
            start_sequence,
            container: Container::Ts,
            byterange: None,
            key_rotation: None,
            parts: None,
        }
    }

    /// Segment `i` starts `2 * i` s after the epoch and is `1000 + i` bytes long.
    fn facts() -> SegmentFacts<impl Fn(u64) -> SystemTime, impl Fn(u64) -> u64> {
        SegmentFacts { program_date_time: |i| wall(i * 2), len: |i| 1000 + i }
    }

    fn ladder() -> [VariantEntry<'static>; 2] {
        [
            VariantEntry { name: "360p", bandwidth: 800_000, width: 640, height: 360, codecs: "avc1.42c01e,mp4a.40.2" },
            VariantEntry { name: "720p", bandwidth: 2_500_000, width: 1280, height: 720, codecs: "avc1.42c01f" },
        ]
    }

    #[test]
    fn multivariant_text() {
        insta::assert_snapshot!(multivariant(&ladder(), None, 3));
    }

    #[test]
    fn multivariant_text_with_an_audio_rendition() {
        insta::assert_snapshot!(multivariant(&ladder(), Some("audio"), 7));
    }

    #[test]
    fn live_media_text() {
        let view = PlaylistView { first: 40, count: 3, ended: false, stale: false, parts: 0 };
        insta::assert_snapshot!(media(&view, &params(2000, 2), "", facts()));
    }

    #[test]
    fn vod_media_text_with_subsecond_segments() {
        let view = PlaylistView { first: 0, count: 2, ended: true, stale: false, parts: 0 };
        let facts = SegmentFacts { program_date_time: |i| wall(0) + Duration::from_millis(500 * i), len: |_| 0 };
        insta::assert_snapshot!(media(&view, &params(500, 0), "360p/", facts));
    }

    #[test]
    fn fmp4_media_text() {
        let view = PlaylistView { first: 40, count: 3, ended: false, stale: false, parts: 0 };
        let params = MediaParams { container: Container::Fmp4, ..params(2000, 0) };
        insta::assert_snapshot!(media(&view, &params, "", facts()));
    }

    #[test]
    fn byterange_media_text() {
        // Resources of 3 segments; the window starts in the middle of resource 1.
        let view = PlaylistView { first: 4, count: 5, ended: false, stale: false, parts: 0 };
        let params = MediaParams { byterange: Some(3), ..params(2000, 100) };
        insta::assert_snapshot!(media(&view, &params, "", facts()));
    }

    #[test]
    fn encrypted_media_text() {
        // A key per 4 segments: one for the first listed segment, then one at each key change.
        let view = PlaylistView { first: 6, count: 6, ended: false, stale: false, parts: 0 };
        let params = MediaParams { key_rotation: Some(4), ..params(2000, 0) };
        insta::assert_snapshot!(media(&view, &params, "", facts()));
    }

    #[test]
    fn every_form_at_once_from_the_root_playlist() {
        let view = PlaylistView { first: 0, count: 4, ended: true, stale: false, parts: 0 };
        let params =
            MediaParams { container: Container::Fmp4, byterange: Some(2), key_rotation: Some(3), ..params(2000, 0) };
        insta::assert_snapshot!(media(&view, &params, "360p/", facts()));
    }

    #[test]
    fn byte_ranges_are_contiguous_and_as_long_as_the_segments() {
        for (n, first, count) in [(1, 0, 7), (3, 4, 10), (4, 5, 3), (100, 37, 20)] {
            let view = PlaylistView { first, count, ended: false, stale: false, parts: 0 };
            let params = MediaParams { byterange: Some(n), ..params(1000, 7) };
            let text = media(&view, &params, "", facts());
            let ranges: Vec<(u64, u64)> = text
                .lines()
                .filter_map(|l| l.strip_prefix("#EXT-X-BYTERANGE:"))
                .map(|r| r.split_once('@').map(|(l, o)| (l.parse().unwrap(), o.parse().unwrap())).unwrap())
                .collect();
            let uris: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
            assert_eq!(ranges.len() as u64, count);
            for (k, index) in (first..first + count).enumerate() {
                let (len, offset) = ranges[k];
                assert_eq!(len, 1000 + index, "n {n}: segment {index}'s length");
                let start = index / n * n;
                assert_eq!(offset, (start..index).map(|i| 1000 + i).sum::<u64>(), "n {n}: segment {index}'s offset");
                assert_eq!(uris[k], resource_name(index / n, Container::Ts));
            }
        }
    }

    #[test]
    fn target_duration_rounds_up() {
        assert_eq!(target_duration(Duration::from_millis(500)), 1);
        assert_eq!(target_duration(Duration::from_secs(2)), 2);
        assert_eq!(target_duration(Duration::from_millis(2_033)), 3);
    }

    #[test]
    fn names_round_trip() {
        let (ts, mp4) = (Container::Ts, Container::Fmp4);
        assert_eq!(segment_name(42, ts), "seg00042.ts");
        assert_eq!(segment_name(42, mp4), "seg00042.m4s");
        assert_eq!(parse_segment_name("seg00042.ts", ts), Some(42));
        assert_eq!(parse_segment_name("seg00042.m4s", mp4), Some(42));
        assert_eq!(parse_segment_name("seg00042.ts", mp4), None, "the other container's name");
        assert_eq!(parse_segment_name(&segment_name(1_234_567, ts), ts), Some(1_234_567));
        assert_eq!(parse_segment_name("seg42.ts", ts), None);
        assert_eq!(parse_segment_name("seg0004x.ts", ts), None);
        assert_eq!(parse_segment_name("seg00042.mp4", ts), None);
        assert_eq!(parse_segment_name("seg00042ts", ts), None);
        assert_eq!(parse_segment_name("seg+0042.ts", ts), None);
        assert_eq!(parse_resource_name(&resource_name(3, mp4), mp4), Some(3));
        assert_eq!(parse_resource_name("seg00003.ts", ts), None);
        assert_eq!(key_uri(12), "/keys/12.key");
        assert_eq!(parse_key_path("/keys/12.key"), Some(12));
        for bad in ["/keys/.key", "/keys/1x.key", "/keys/12", "/keys/99999999999999999999.key", "/keys/+1.key"] {
            assert_eq!(parse_key_path(bad), None, "{bad}");
        }
    }
}
