//! One function per tag whose value is more than a number: each turns a tag's text into a model
//! value or a `ParseError` naming the line. Which playlist a tag may appear in is decided by the
//! callers (`media`, `multivariant`); the tag name lists below are used to tell the two apart.

use std::time::Duration;

use url::Url;

use super::attr::{Attributes, byte_range, decimal_integer, decimal_seconds};
use super::error::{ParseError, clip};
use super::model::{ByteRange, InitSection, Key, KeyMethod, Rendition, RenditionType, ServerControl};
use super::uri::Base;

/// Master playlist tags (RFC 8216 4.3.4, plus rfc8216bis `EXT-X-CONTENT-STEERING`).
pub(crate) const MULTIVARIANT_TAGS: &[&str] = &[
    "#EXT-X-STREAM-INF",
    "#EXT-X-I-FRAME-STREAM-INF",
    "#EXT-X-MEDIA",
    "#EXT-X-SESSION-DATA",
    "#EXT-X-SESSION-KEY",
    "#EXT-X-CONTENT-STEERING",
];

/// Media segment and media playlist tags (RFC 8216 4.3.2, 4.3.3, plus the rfc8216bis ones).
pub(crate) const MEDIA_TAGS: &[&str] = &[
    "#EXTINF",
    "#EXT-X-BYTERANGE",
    "#EXT-X-DISCONTINUITY",
    "#EXT-X-KEY",
    "#EXT-X-MAP",
    "#EXT-X-PROGRAM-DATE-TIME",
    "#EXT-X-DATERANGE",
    "#EXT-X-GAP",
    "#EXT-X-BITRATE",
    "#EXT-X-PART",
    "#EXT-X-TARGETDURATION",
    "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-DISCONTINUITY-SEQUENCE",
    "#EXT-X-ENDLIST",
    "#EXT-X-PLAYLIST-TYPE",
    "#EXT-X-I-FRAMES-ONLY",
    "#EXT-X-PART-INF",
    "#EXT-X-SERVER-CONTROL",
    "#EXT-X-SKIP",
    "#EXT-X-PRELOAD-HINT",
    "#EXT-X-RENDITION-REPORT",
];

/// The value after `NAME:`, or an error saying what was expected when the tag has none.
pub(crate) fn value_of<'a>(
    line: usize,
    tag: &str,
    value: Option<&'a str>,
    expected: &'static str,
) -> Result<&'a str, ParseError> {
    value.ok_or_else(|| invalid_value(line, tag, "", expected))
}

pub(crate) fn invalid_value(line: usize, tag: &str, value: &str, expected: &'static str) -> ParseError {
    ParseError::InvalidValue { line, tag: tag.to_owned(), value: clip(value), expected }
}

/// A tag whose value is a decimal-integer (4.2).
pub(crate) fn integer_tag(line: usize, tag: &str, value: Option<&str>) -> Result<u64, ParseError> {
    const EXPECTED: &str = "a decimal integer";
    let text = value_of(line, tag, value, EXPECTED)?.trim();
    decimal_integer(text).ok_or_else(|| invalid_value(line, tag, text, EXPECTED))
}

/// `EXT-X-VERSION` (4.3.1.2).
pub(crate) fn version(line: usize, tag: &str, value: Option<&str>) -> Result<u32, ParseError> {
    let number = integer_tag(line, tag, value)?;
    u32::try_from(number).map_err(|_| invalid_value(line, tag, &number.to_string(), "a version"))
}

/// `EXTINF:<duration>,[<title>]` (4.3.2.1). The comma is required by the RFC but often missing
/// after a bare number; both forms are accepted. The title is ignored.
pub(crate) fn extinf(line: usize, tag: &str, value: Option<&str>) -> Result<Duration, ParseError> {
    const EXPECTED: &str = "a decimal number of seconds followed by a comma";
    let text = value_of(line, tag, value, EXPECTED)?;
    let duration = text.split_once(',').map_or(text, |(d, _)| d).trim();
    decimal_seconds(duration).ok_or_else(|| invalid_value(line, tag, duration, EXPECTED))
}

/// Resolves a URI against the playlist URL, naming the line on failure.
pub(crate) fn resolve_at(base: &Base<'_>, line: usize, uri: &str) -> Result<Url, ParseError> {
    base.resolve(uri).map_err(|reason| ParseError::InvalidUri { line, uri: clip(uri), reason })
}

/// `EXT-X-KEY` (4.3.2.4). `METHOD=NONE` gives `None`: later segments are not encrypted.
pub(crate) fn key(line: usize, value: Option<&str>, base: &Base<'_>) -> Result<Option<Key>, ParseError> {
    const TAG: &str = "#EXT-X-KEY";
    let attrs = Attributes::parse(value.unwrap_or_default(), line, TAG)?;
    let method = match attrs.required("METHOD", attrs.enumerated("METHOD")?)? {
        "NONE" => return Ok(None),
        "AES-128" => KeyMethod::Aes128,
        "SAMPLE-AES" => KeyMethod::SampleAes,
        other => KeyMethod::Other(other.to_owned()),
    };
    let uri = attrs.required("URI", attrs.quoted("URI")?)?;
    Ok(Some(Key {
        method,
        uri: resolve_at(base, line, uri)?,
        iv: attrs.enumerated("IV")?.map(str::to_owned),
        keyformat: attrs.quoted("KEYFORMAT")?.map(str::to_owned),
    }))
}

/// `EXT-X-MAP` (4.3.2.5). A BYTERANGE without an offset starts at byte 0.
pub(crate) fn map(line: usize, value: Option<&str>, base: &Base<'_>) -> Result<InitSection, ParseError> {
    const TAG: &str = "#EXT-X-MAP";
    let attrs = Attributes::parse(value.unwrap_or_default(), line, TAG)?;
    let uri = attrs.required("URI", attrs.quoted("URI")?)?;
    let range = match attrs.quoted("BYTERANGE")? {
        None => None,
        Some(text) => {
            let expected = "a byte range <length>[@<offset>]";
            let (length, offset) = byte_range(text).ok_or_else(|| ParseError::InvalidAttribute {
                line,
                tag: TAG.to_owned(),
                name: "BYTERANGE",
                value: clip(text),
                expected,
            })?;
            Some(ByteRange { length, offset: offset.unwrap_or(0) })
        }
    };
    Ok(InitSection { uri: resolve_at(base, line, uri)?, byte_range: range })
}

/// `EXT-X-PART-INF:PART-TARGET=<s>` (rfc8216bis 4.4.3.7).
pub(crate) fn part_inf(line: usize, value: Option<&str>) -> Result<Duration, ParseError> {
    let attrs = Attributes::parse(value.unwrap_or_default(), line, "#EXT-X-PART-INF")?;
    attrs.required("PART-TARGET", attrs.seconds("PART-TARGET")?)
}

/// `EXT-X-SERVER-CONTROL` (rfc8216bis 4.4.3.8).
pub(crate) fn server_control(line: usize, value: Option<&str>) -> Result<ServerControl, ParseError> {
    let attrs = Attributes::parse(value.unwrap_or_default(), line, "#EXT-X-SERVER-CONTROL")?;
    Ok(ServerControl {
        can_block_reload: attrs.yes_no("CAN-BLOCK-RELOAD")?,
        can_skip_until: attrs.seconds("CAN-SKIP-UNTIL")?,
        hold_back: attrs.seconds("HOLD-BACK")?,
        part_hold_back: attrs.seconds("PART-HOLD-BACK")?,
        can_skip_dateranges: attrs.yes_no("CAN-SKIP-DATERANGES")?,
    })
}

/// The attributes of `EXT-X-STREAM-INF` (4.3.4.2); the URI comes from the next URI line.
#[derive(Debug)]
pub(crate) struct StreamInf {
    /// Required by RFC 8216 4.3.4.2, but seen missing: the caller warns and ranks the variant by position.
    pub bandwidth: Option<u64>,
    pub average_bandwidth: Option<u64>,
    pub resolution: Option<(u32, u32)>,
    pub codecs: Option<String>,
    pub audio: Option<String>,
    pub subtitles: Option<String>,
}

pub(crate) fn stream_inf(line: usize, value: Option<&str>) -> Result<StreamInf, ParseError> {
    let attrs = Attributes::parse(value.unwrap_or_default(), line, "#EXT-X-STREAM-INF")?;
    Ok(StreamInf {
        bandwidth: attrs.integer("BANDWIDTH")?,
        average_bandwidth: attrs.integer("AVERAGE-BANDWIDTH")?,
        resolution: attrs.resolution("RESOLUTION")?,
        codecs: attrs.quoted("CODECS")?.map(str::to_owned),
        audio: attrs.quoted("AUDIO")?.map(str::to_owned),
        subtitles: attrs.quoted("SUBTITLES")?.map(str::to_owned),
    })
}

/// `EXT-X-MEDIA` (4.3.4.1).
pub(crate) fn rendition(line: usize, value: Option<&str>, base: &Base<'_>) -> Result<Rendition, ParseError> {
    const TAG: &str = "#EXT-X-MEDIA";
    let attrs = Attributes::parse(value.unwrap_or_default(), line, TAG)?;
    let kind = match attrs.required("TYPE", attrs.enumerated("TYPE")?)? {
        "AUDIO" => RenditionType::Audio,
        "VIDEO" => RenditionType::Video,
        "SUBTITLES" => RenditionType::Subtitles,
        "CLOSED-CAPTIONS" => RenditionType::ClosedCaptions,
        other => {
            return Err(ParseError::InvalidAttribute {
                line,
                tag: TAG.to_owned(),
                name: "TYPE",
                value: clip(other),
                expected: "AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS",
            });
        }
    };
    let uri = attrs.quoted("URI")?.map(|u| resolve_at(base, line, u)).transpose()?;
    Ok(Rendition {
        kind,
        group_id: attrs.required("GROUP-ID", attrs.quoted("GROUP-ID")?)?.to_owned(),
        name: attrs.required("NAME", attrs.quoted("NAME")?)?.to_owned(),
        language: attrs.quoted("LANGUAGE")?.map(str::to_owned),
        uri,
        default: attrs.yes_no("DEFAULT")?,
        autoselect: attrs.yes_no("AUTOSELECT")?,
    })
}
