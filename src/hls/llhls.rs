//! The low-latency tags of a media playlist (draft-pantos-hls-rfc8216bis): `EXT-X-PART` (4.4.4.9),
//! `EXT-X-PRELOAD-HINT` (4.4.5.3), `EXT-X-RENDITION-REPORT` (4.4.5.4) and `EXT-X-SKIP` (4.4.5.2), each
//! read from its attribute list. The media playlist builder places them.

use std::time::Duration;

use url::Url;

use super::attr::{Attributes, byte_range};
use super::error::{ParseError, clip};
use super::model::{ByteRange, HintKind, Part, PreloadHint, RenditionReport};
use super::tags::resolve_at;
use super::uri::Base;

/// A part's written byte range: length, and the offset when given.
pub(crate) type WrittenRange = (u64, Option<u64>);

/// `EXT-X-PART`: the part with its byte range still as written (the builder fills the offset in).
pub(crate) fn part(
    line: usize,
    value: Option<&str>,
    base: &Base<'_>,
) -> Result<(Part, Option<WrittenRange>), ParseError> {
    const TAG: &str = "#EXT-X-PART";
    let attrs = Attributes::parse(value.unwrap_or_default(), line, TAG)?;
    let uri = resolve_at(base, line, attrs.required("URI", attrs.quoted("URI")?)?)?;
    let duration = attrs.required("DURATION", attrs.seconds("DURATION")?)?;
    // A quoted-string in rfc8216bis; some packagers write it unquoted, and players read both.
    let written = attrs.quoted("BYTERANGE").or_else(|_| attrs.enumerated("BYTERANGE"))?;
    let range = match written {
        None => None,
        Some(text) => Some(byte_range(text).ok_or_else(|| ParseError::InvalidAttribute {
            line,
            tag: TAG.to_owned(),
            name: "BYTERANGE",
            value: clip(text),
            expected: "a byte range <length>[@<offset>]",
        })?),
    };
    let part =
        Part { uri, duration, independent: attrs.yes_no("INDEPENDENT")?, byte_range: None, gap: attrs.yes_no("GAP")? };
    Ok((part, range))
}

/// The offset of a part range written without one: right after the previous part of the same URI
/// (rfc8216bis 4.4.4.9, as 4.3.2.2 for segments).
pub(crate) fn part_range(
    line: usize,
    written: WrittenRange,
    uri: &Url,
    previous: Option<&Part>,
) -> Result<ByteRange, ParseError> {
    let (length, offset) = written;
    if let Some(offset) = offset {
        return Ok(ByteRange { length, offset });
    }
    let follows =
        previous.filter(|p| &p.uri == uri).and_then(|p| p.byte_range).and_then(|r| r.offset.checked_add(r.length));
    let offset = follows.ok_or_else(|| ParseError::InvalidAttribute {
        line,
        tag: "#EXT-X-PART".to_owned(),
        name: "BYTERANGE",
        value: length.to_string(),
        expected: "<length>@<offset>: without an offset the previous part must be a range of the same URI",
    })?;
    Ok(ByteRange { length, offset })
}

/// `EXT-X-PRELOAD-HINT`.
pub(crate) fn preload_hint(line: usize, value: Option<&str>, base: &Base<'_>) -> Result<PreloadHint, ParseError> {
    const TAG: &str = "#EXT-X-PRELOAD-HINT";
    let attrs = Attributes::parse(value.unwrap_or_default(), line, TAG)?;
    let kind = match attrs.required("TYPE", attrs.enumerated("TYPE")?)? {
        "PART" => HintKind::Part,
        "MAP" => HintKind::Map,
        other => {
            return Err(ParseError::InvalidAttribute {
                line,
                tag: TAG.to_owned(),
                name: "TYPE",
                value: clip(other),
                expected: "PART or MAP",
            });
        }
    };
    Ok(PreloadHint {
        kind,
        uri: resolve_at(base, line, attrs.required("URI", attrs.quoted("URI")?)?)?,
        start: attrs.integer("BYTERANGE-START")?.unwrap_or(0),
        length: attrs.integer("BYTERANGE-LENGTH")?,
    })
}

/// `EXT-X-RENDITION-REPORT`.
pub(crate) fn rendition_report(
    line: usize,
    value: Option<&str>,
    base: &Base<'_>,
) -> Result<RenditionReport, ParseError> {
    let attrs = Attributes::parse(value.unwrap_or_default(), line, "#EXT-X-RENDITION-REPORT")?;
    Ok(RenditionReport {
        uri: resolve_at(base, line, attrs.required("URI", attrs.quoted("URI")?)?)?,
        last_msn: attrs.integer("LAST-MSN")?,
        last_part: attrs.integer("LAST-PART")?,
    })
}

/// `EXT-X-SKIP:SKIPPED-SEGMENTS=n`. Only the count matters here; a malformed
/// `RECENTLY-REMOVED-DATERANGES` (date ranges are not read) does not fail the playlist, as in players.
pub(crate) fn skip(line: usize, value: Option<&str>) -> Result<u64, ParseError> {
    const TAG: &str = "#EXT-X-SKIP";
    let text = value.unwrap_or_default();
    match Attributes::parse(text, line, TAG) {
        Ok(attrs) => attrs.required("SKIPPED-SEGMENTS", attrs.integer("SKIPPED-SEGMENTS")?),
        Err(malformed) => {
            let count = text.split(',').find_map(|a| a.trim().strip_prefix("SKIPPED-SEGMENTS="));
            count.and_then(|n| n.trim().parse().ok()).ok_or(malformed)
        }
    }
}

/// rfc8216bis 4.4.4.9: a part's duration is at most the part target. Packagers round: a part up to
/// 1 ms over is accepted.
pub(crate) fn check_part_duration(line: usize, part: &Part, target: Option<Duration>) -> Result<(), ParseError> {
    match target {
        Some(target) if part.duration > target + Duration::from_millis(1) => Err(ParseError::InvalidAttribute {
            line,
            tag: "#EXT-X-PART".to_owned(),
            name: "DURATION",
            value: format!("{:.3}", part.duration.as_secs_f64()),
            expected: "at most the PART-TARGET of #EXT-X-PART-INF",
        }),
        _ => Ok(()),
    }
}
