//! Errors of the `hls` layer: one enum for parsing a playlist, one for following a live playlist.
//! Every parse error names the line (1-based, counted after a BOM) and what was expected.

use thiserror::Error;

/// Why a playlist body was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("playlist is empty")]
    Empty,

    #[error("playlist is not UTF-8 text (invalid byte at offset {offset}); RFC 8216 4.1 requires UTF-8")]
    NotUtf8 { offset: usize },

    #[error("line {line}: control character U+{code:04X}; a playlist is text (RFC 8216 4.1)")]
    ControlCharacter { line: usize, code: u32 },

    #[error("first line is {found:?}, expected #EXTM3U (RFC 8216 4.3.1.1)")]
    MissingHeader { found: String },

    #[error(
        "playlist has neither variants (#EXT-X-STREAM-INF) nor segments (#EXTINF, \
         #EXT-X-TARGETDURATION)"
    )]
    NoContent,

    #[error("line {line}: {tag} mixes multivariant and media playlist tags (RFC 8216 4.3.4)")]
    MixedPlaylist { line: usize, tag: String },

    #[error("media playlist has no #EXT-X-TARGETDURATION (required, RFC 8216 4.3.3.1)")]
    MissingTargetDuration,

    #[error("line {line}: segment URI {uri:?} has no #EXTINF before it (RFC 8216 4.3.2.1)")]
    UriWithoutExtinf { line: usize, uri: String },

    #[error("line {line}: #EXTINF is not followed by a segment URI (RFC 8216 4.3.2.1)")]
    ExtinfWithoutUri { line: usize },

    #[error("multivariant playlist lists no variant streams (#EXT-X-STREAM-INF, RFC 8216 4.3.4.2)")]
    NoVariants,

    #[error("line {line}: variant URI {uri:?} has no #EXT-X-STREAM-INF before it")]
    UriWithoutStreamInf { line: usize, uri: String },

    #[error("line {line}: #EXT-X-STREAM-INF is not followed by a URI (RFC 8216 4.3.4.2)")]
    StreamInfWithoutUri { line: usize },

    #[error("line {line}: {tag} value {value:?} is not {expected}")]
    InvalidValue { line: usize, tag: String, value: String, expected: &'static str },

    #[error("line {line}: {tag} has a malformed attribute list at {rest:?} (RFC 8216 4.2)")]
    InvalidAttributeList { line: usize, tag: String, rest: String },

    #[error("line {line}: {tag} attribute {name}={value} is not {expected}")]
    InvalidAttribute { line: usize, tag: String, name: &'static str, value: String, expected: &'static str },

    #[error("line {line}: {tag} lacks the required attribute {name}")]
    MissingAttribute { line: usize, tag: String, name: &'static str },

    #[error("line {line}: URI {uri:?} cannot be resolved: {reason}")]
    InvalidUri { line: usize, uri: String, reason: url::ParseError },

    #[error("media sequence numbers overflow a 64-bit counter")]
    SequenceOverflow,

    #[error("line {line}: variable {name:?} {reason} (EXT-X-DEFINE, rfc8216bis 4.4.2.3)")]
    InvalidVariable { line: usize, name: String, reason: &'static str },
}

impl ParseError {
    /// A stable snake_case name for counting errors by kind (metrics labels, report keys); the
    /// message text carries the details and may change.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::NotUtf8 { .. } => "not_utf8",
            Self::ControlCharacter { .. } => "control_character",
            Self::MissingHeader { .. } => "missing_header",
            Self::NoContent => "no_content",
            Self::MixedPlaylist { .. } => "mixed_playlist",
            Self::MissingTargetDuration => "missing_target_duration",
            Self::UriWithoutExtinf { .. } => "uri_without_extinf",
            Self::ExtinfWithoutUri { .. } => "extinf_without_uri",
            Self::NoVariants => "no_variants",
            Self::UriWithoutStreamInf { .. } => "uri_without_stream_inf",
            Self::StreamInfWithoutUri { .. } => "stream_inf_without_uri",
            Self::InvalidValue { .. } => "invalid_value",
            Self::InvalidAttributeList { .. } => "invalid_attribute_list",
            Self::InvalidAttribute { .. } => "invalid_attribute",
            Self::MissingAttribute { .. } => "missing_attribute",
            Self::InvalidUri { .. } => "invalid_uri",
            Self::SequenceOverflow => "sequence_overflow",
            Self::InvalidVariable { .. } => "invalid_variable",
        }
    }
}

/// Something a strict reading rejects but players accept; the parser goes on and says it once.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseWarning {
    /// The last `#EXTINF` has no URI after it: the segment is not there yet (hls.js ignores it).
    #[error("line {line}: the last #EXTINF has no URI after it; ignored until the segment is listed")]
    TrailingExtinf { line: usize },
    /// A URI line after a multivariant tag that takes none (`EXT-X-MEDIA`, `EXT-X-I-FRAME-STREAM-INF`).
    #[error("line {line}: URI {uri:?} follows no #EXT-X-STREAM-INF; ignored, as players do")]
    StrayUri { line: usize, uri: String },
    /// `#EXT-X-TARGETDURATION:0`, which FFmpeg writes for segments of half a second or less: read as
    /// one second, as hls.js reads it.
    #[error("line {line}: #EXT-X-TARGETDURATION:0 read as 1 s, as players do")]
    ZeroTargetDuration { line: usize },
    /// `#EXT-X-STREAM-INF` without `BANDWIDTH` (required): read as 0, ranked by its position when
    /// adapting, as hls.js plays such a ladder.
    #[error("line {line}: #EXT-X-STREAM-INF without BANDWIDTH; ranked by its position")]
    MissingBandwidth { line: usize },
}

/// Why a reloaded live playlist cannot follow the previous one. The tracker keeps its state, so
/// the viewer can record the error and reload again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SequenceError {
    /// The first segment's sequence number decreased although the stream did not end (RFC 8216
    /// 6.2.1 only lets a server remove segments from the front): a restarted origin or a stale cache.
    #[error("media sequence went backwards from {previous} to {current}")]
    WentBackwards { previous: u64, current: u64 },

    /// Segments disappeared from the end of the playlist (6.2.1 forbids it): typically an older
    /// copy served by another cache.
    #[error("playlist end went backwards from sequence {previous_end} to {current_end}")]
    Shrank { previous_end: u64, current_end: u64 },
}

impl SequenceError {
    /// A stable snake_case name for counting errors by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::WentBackwards { .. } => "sequence_went_backwards",
            Self::Shrank { .. } => "playlist_shrank",
        }
    }
}

/// Cuts text quoted in an error message, so a 50 MB garbage line cannot make a 50 MB message.
pub(crate) fn clip(text: &str) -> String {
    const MAX_CHARS: usize = 80;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_on_a_char_boundary() {
        assert_eq!(clip("seg1.ts"), "seg1.ts");
        let long = "é".repeat(200);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), 83);
        assert!(clipped.ends_with("..."));
    }
}
