//! The playlist model the viewer works with. These are our own types, so nothing outside `hls`
//! depends on how a playlist is parsed. URIs are already resolved against the playlist's URL.

use std::time::{Duration, SystemTime};
use url::Url;

use super::defines::Variables;
use super::error::ParseWarning;

/// A parsed playlist: RFC 8216 4.1 says a playlist is either one or the other, never both.
#[derive(Debug, Clone, PartialEq)]
pub enum Playlist {
    Multivariant(MultivariantPlaylist),
    Media(MediaPlaylist),
}

/// A multivariant (master) playlist, RFC 8216 4.3.4.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MultivariantPlaylist {
    /// `EXT-X-VERSION` (4.3.1.2), if present.
    pub version: Option<u32>,
    /// `EXT-X-STREAM-INF` entries in playlist order; never empty after parsing.
    pub variants: Vec<Variant>,
    /// `EXT-X-MEDIA` renditions (alternative audio, subtitles, ...), 4.3.4.1.
    pub renditions: Vec<Rendition>,
    /// `EXT-X-INDEPENDENT-SEGMENTS` (4.3.5.1).
    pub independent_segments: bool,
    /// `EXT-X-DEFINE` variables, which its media playlists may `IMPORT` (rfc8216bis 4.4.2.3).
    pub variables: Variables,
    /// What was accepted although a strict reading rejects it.
    pub warnings: Vec<ParseWarning>,
}

/// One variant stream: an `EXT-X-STREAM-INF` tag and the URI line after it (4.3.4.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Position in the multivariant playlist, from 0.
    pub index: usize,
    /// The media playlist URL, resolved against the multivariant playlist's URL.
    pub uri: Url,
    /// `BANDWIDTH`: peak bits per second (required).
    pub bandwidth: u64,
    /// `AVERAGE-BANDWIDTH`: average bits per second.
    pub average_bandwidth: Option<u64>,
    /// `RESOLUTION` as (width, height) in pixels.
    pub resolution: Option<(u32, u32)>,
    /// `CODECS`, e.g. `avc1.42e01f,mp4a.40.2`.
    pub codecs: Option<String>,
    /// `AUDIO`: the GROUP-ID of the audio renditions that go with this variant.
    pub audio: Option<String>,
    /// `SUBTITLES`: the GROUP-ID of the subtitle renditions that go with this variant.
    pub subtitles: Option<String>,
}

impl Variant {
    /// A short stable label for reports: `720p@2500k`, or `2500k` without a resolution.
    pub fn label(&self) -> String {
        let kbps = self.bandwidth / 1000;
        match self.resolution {
            Some((_, height)) => format!("{height}p@{kbps}k"),
            None => format!("{kbps}k"),
        }
    }
}

/// `EXT-X-MEDIA` TYPE (4.3.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenditionType {
    Audio,
    Video,
    Subtitles,
    ClosedCaptions,
}

/// An alternative rendition (4.3.4.1). Kept so a viewer can later fetch demuxed audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    pub kind: RenditionType,
    pub group_id: String,
    pub name: String,
    pub language: Option<String>,
    /// Absent when the rendition is muxed into the variant stream (and always for captions).
    pub uri: Option<Url>,
    pub default: bool,
    pub autoselect: bool,
}

/// `EXT-X-PLAYLIST-TYPE` (4.3.3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistType {
    /// The playlist never changes.
    Vod,
    /// Segments are only appended.
    Event,
}

/// A media playlist, RFC 8216 4.3.3.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPlaylist {
    /// `EXT-X-VERSION` (4.3.1.2), if present.
    pub version: Option<u32>,
    /// `EXT-X-TARGETDURATION` (4.3.3.1): required, at least one second.
    pub target_duration: Duration,
    /// `EXT-X-MEDIA-SEQUENCE` (4.3.3.2): the first segment's sequence number, 0 when absent.
    pub media_sequence: u64,
    /// `EXT-X-DISCONTINUITY-SEQUENCE` (4.3.3.3), 0 when absent.
    pub discontinuity_sequence: u64,
    /// `EXT-X-ENDLIST` (4.3.3.4): no more segments will be added.
    pub ended: bool,
    /// `EXT-X-PLAYLIST-TYPE` (4.3.3.5).
    pub playlist_type: Option<PlaylistType>,
    /// `EXT-X-I-FRAMES-ONLY` (4.3.3.6).
    pub i_frames_only: bool,
    /// Segments in order; `segments[i].sequence == media_sequence + skipped_segments + i`.
    pub segments: Vec<Segment>,
    /// Low-latency HLS `EXT-X-PART-INF:PART-TARGET` (draft-pantos-hls-rfc8216bis 4.4.3.7).
    pub part_target: Option<Duration>,
    /// Low-latency HLS `EXT-X-SERVER-CONTROL` (rfc8216bis 4.4.3.8).
    pub server_control: Option<ServerControl>,
    /// Low-latency HLS: parts of the next segment, listed after the last whole one (rfc8216bis 4.4.4.9).
    pub pending_parts: Vec<Part>,
    /// `EXT-X-PRELOAD-HINT` (rfc8216bis 4.4.5.3): what the server will serve next.
    pub preload_hints: Vec<PreloadHint>,
    /// `EXT-X-RENDITION-REPORT` (rfc8216bis 4.4.5.4): where the other renditions' live edges are.
    pub rendition_reports: Vec<RenditionReport>,
    /// `EXT-X-SKIP:SKIPPED-SEGMENTS` (rfc8216bis 4.4.5.2): a delta update leaves out this many segments
    /// from the front; [`crate::hls::apply_delta`] takes them from the playlist held.
    pub skipped_segments: u64,
    /// What was accepted although a strict reading rejects it.
    pub warnings: Vec<ParseWarning>,
}

impl MediaPlaylist {
    /// Whether more segments may still appear: no `EXT-X-ENDLIST`, and not declared VOD (a VOD
    /// playlist "cannot change", 4.3.3.5, so it is complete even if the server forgot ENDLIST).
    pub fn is_live(&self) -> bool {
        !self.ended && self.playlist_type != Some(PlaylistType::Vod)
    }

    /// The sequence number after the last segment (equal to `media_sequence` when empty).
    pub fn end_sequence(&self) -> u64 {
        // The parser rejects playlists where this overflows.
        self.media_sequence.saturating_add(self.skipped_segments).saturating_add(self.segments.len() as u64)
    }

    /// The sum of all segment durations.
    pub fn duration(&self) -> Duration {
        self.segments.iter().map(|s| s.duration).sum()
    }
}

/// `EXT-X-SERVER-CONTROL` (rfc8216bis 4.4.3.8), parsed now so LL-HLS can be added later.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerControl {
    /// `CAN-BLOCK-RELOAD=YES`: the server supports blocking playlist reloads.
    pub can_block_reload: bool,
    /// `CAN-SKIP-UNTIL`: delta playlists are available.
    pub can_skip_until: Option<Duration>,
    /// `HOLD-BACK`: the minimum distance from the live edge to start playing.
    pub hold_back: Option<Duration>,
    /// `PART-HOLD-BACK`: the same for low-latency playback.
    pub part_hold_back: Option<Duration>,
    /// `CAN-SKIP-DATERANGES=YES`: a delta update may also leave out date ranges (`_HLS_skip=v2`).
    pub can_skip_dateranges: bool,
}

/// One media segment (RFC 8216 3, 4.3.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The media sequence number (3, 4.3.3.2).
    pub sequence: u64,
    /// Resolved against the playlist URL; query strings kept.
    pub uri: Url,
    /// `EXTINF` duration (4.3.2.1).
    pub duration: Duration,
    /// Preceded by `EXT-X-DISCONTINUITY` (4.3.2.3).
    pub discontinuity: bool,
    /// `EXT-X-PROGRAM-DATE-TIME` when this segment carries the tag (4.3.2.6); later segments'
    /// times are not extrapolated.
    pub program_date_time: Option<SystemTime>,
    /// `EXT-X-BYTERANGE` with the offset filled in (4.3.2.2).
    pub byte_range: Option<ByteRange>,
    /// The `EXT-X-KEY` in force for this segment (4.3.2.4); `None` for `METHOD=NONE`.
    pub key: Option<Key>,
    /// The `EXT-X-MAP` in force for this segment (4.3.2.5).
    pub map: Option<InitSection>,
    /// `EXT-X-GAP` (rfc8216bis 4.4.4.7): the segment is missing; a player never requests it and plays
    /// over it as if it were there.
    pub gap: bool,
    /// Low-latency HLS: this segment's parts, in order (rfc8216bis 4.4.4.9); empty for regular HLS.
    pub parts: Vec<Part>,
}

/// A partial segment, `EXT-X-PART` (rfc8216bis 4.4.4.9).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub uri: Url,
    pub duration: Duration,
    /// `INDEPENDENT=YES`: playback can start here (it begins with a key frame).
    pub independent: bool,
    /// `BYTERANGE`, the offset filled in from the previous part of the same URI when absent.
    pub byte_range: Option<ByteRange>,
    /// `GAP=YES`: not available; not requested.
    pub gap: bool,
}

/// `EXT-X-PRELOAD-HINT` (rfc8216bis 4.4.5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreloadHint {
    pub kind: HintKind,
    pub uri: Url,
    /// `BYTERANGE-START` (0 when absent).
    pub start: u64,
    /// `BYTERANGE-LENGTH`; `None`: to the end of the resource.
    pub length: Option<u64>,
}

/// What a preload hint points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintKind {
    Part,
    Map,
}

/// `EXT-X-RENDITION-REPORT` (rfc8216bis 4.4.5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionReport {
    /// The other rendition's media playlist.
    pub uri: Url,
    /// Its last media sequence number; `None`: the same as this playlist's.
    pub last_msn: Option<u64>,
    /// Its last part index; `None`: the same as this playlist's.
    pub last_part: Option<u64>,
}

/// A sub-range of a resource: `length` bytes starting at `offset` (4.3.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub length: u64,
    pub offset: u64,
}

/// An `EXT-X-MAP` media initialization section (4.3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitSection {
    pub uri: Url,
    pub byte_range: Option<ByteRange>,
}

/// `EXT-X-KEY` METHOD (4.3.2.4); `NONE` is represented by the absence of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMethod {
    Aes128,
    SampleAes,
    /// A method this crate does not know (e.g. `SAMPLE-AES-CTR`), kept verbatim.
    Other(String),
}

/// An encryption key (4.3.2.4). The viewer only needs to fetch it, not to decrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub method: KeyMethod,
    pub uri: Url,
    /// `IV` as written (a hexadecimal sequence).
    pub iv: Option<String>,
    pub keyformat: Option<String>,
}
