//! From bytes to lines (RFC 8216 4.1): UTF-8 text, a `#EXTM3U` first line, then lines that are
//! tags (`#EXT...`), comments (other `#` lines, skipped), blank (skipped) or URIs.
//!
//! Deviations from the letter of 4.1, chosen to match what players accept:
//! - A leading UTF-8 byte order mark is skipped. 4.1 says playlists MUST NOT have one and clients
//!   SHOULD fail to parse them, but Windows tools write one and common players ignore it; a load
//!   tester that refused such a stream would report failures real viewers never see.
//! - Whitespace around a line is ignored, and TAB is not treated as a forbidden control character.
//!
//! Every step is a single forward pass over the text, so the cost is linear in the body size.

use super::error::{ParseError, clip};

const BOM: &[u8] = b"\xEF\xBB\xBF";
const HEADER: &str = "#EXTM3U";

/// One meaningful line of a playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    /// 1-based line number, counted from the `#EXTM3U` line.
    pub number: usize,
    pub kind: LineKind<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind<'a> {
    /// `#EXT-X-NAME:value`: `name` keeps the `#`; `value` is what follows the first `:`.
    Tag { name: &'a str, value: Option<&'a str> },
    /// Anything not starting with `#`: a segment or playlist URI.
    Uri(&'a str),
}

/// Checks that `body` is playlist text and returns it without a BOM.
pub(crate) fn decode(body: &[u8]) -> Result<&str, ParseError> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let text = std::str::from_utf8(body).map_err(|err| ParseError::NotUtf8 { offset: err.valid_up_to() })?;
    let first = text.split('\n').next().unwrap_or_default().trim();
    if first != HEADER {
        return Err(ParseError::MissingHeader { found: clip(first) });
    }
    check_control_characters(text)?;
    Ok(text)
}

/// 4.1: no control characters except CR and LF (and TAB, tolerated). A body that passes the UTF-8
/// check but holds NULs is binary data behind a plausible first line.
fn check_control_characters(text: &str) -> Result<(), ParseError> {
    let forbidden = |b: &u8| (*b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t')) || *b == 0x7F;
    // Whole chunks first, without stopping early (the compiler vectorizes that); the first forbidden byte
    // is looked for only in a playlist that has one.
    if !text.as_bytes().chunks(64).any(|chunk| chunk.iter().fold(false, |bad, b| bad | forbidden(b))) {
        return Ok(());
    }
    match text.as_bytes().iter().position(forbidden) {
        None => Ok(()),
        Some(pos) => {
            Err(ParseError::ControlCharacter { line: line_number_at(text, pos), code: u32::from(text.as_bytes()[pos]) })
        }
    }
}

fn line_number_at(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos].iter().filter(|b| **b == b'\n').count() + 1
}

/// The tag and URI lines after the header, with their line numbers. Lines end with LF or CRLF.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    text.split('\n').enumerate().skip(1).filter_map(|(index, raw)| {
        let kind = classify(raw.trim())?;
        Some(Line { number: index + 1, kind })
    })
}

fn classify(line: &str) -> Option<LineKind<'_>> {
    if line.is_empty() {
        return None;
    }
    if line.starts_with("#EXT") {
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (line, None),
        };
        return Some(LineKind::Tag { name, value });
    }
    if line.starts_with('#') {
        return None;
    }
    Some(LineKind::Uri(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(usize, LineKind<'_>)> {
        lines(text).map(|l| (l.number, l.kind)).collect()
    }

    /// A control character is found wherever it is, whichever 64-byte chunk holds it, with its line.
    #[test]
    fn a_control_character_anywhere_is_found() {
        let clean = format!("#EXTM3U\n{}", "#EXTINF:2.0,\nseg.ts\n".repeat(12));
        assert!(decode(clean.as_bytes()).is_ok());
        for pos in "#EXTM3U\n".len()..clean.len() {
            for bad in [0u8, 0x1F, 0x7F] {
                let mut body = clean.clone().into_bytes();
                body[pos] = bad;
                let line = line_number_at(&clean, pos);
                assert_eq!(decode(&body), Err(ParseError::ControlCharacter { line, code: u32::from(bad) }), "at {pos}");
            }
        }
    }

    #[test]
    fn splits_tags_uris_and_skips_comments_and_blanks() {
        let text =
            "#EXTM3U\r\n#EXT-X-TARGETDURATION:2\r\n\r\n# a comment\r\n#EXTINF:2.000,\r\nseg.ts\r\n#EXT-X-ENDLIST";
        assert_eq!(
            kinds(text),
            vec![
                (2, LineKind::Tag { name: "#EXT-X-TARGETDURATION", value: Some("2") }),
                (5, LineKind::Tag { name: "#EXTINF", value: Some("2.000,") }),
                (6, LineKind::Uri("seg.ts")),
                (7, LineKind::Tag { name: "#EXT-X-ENDLIST", value: None }),
            ]
        );
    }

    #[test]
    fn tag_value_keeps_later_colons() {
        let text = "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2026-11-26T21:00:00.000Z";
        let value = "2026-11-26T21:00:00.000Z";
        assert_eq!(kinds(text), vec![(2, LineKind::Tag { name: "#EXT-X-PROGRAM-DATE-TIME", value: Some(value) })]);
    }

    #[test]
    fn decode_accepts_a_bom_and_rejects_what_is_not_a_playlist() {
        assert_eq!(decode(b"\xEF\xBB\xBF#EXTM3U\n"), Ok("#EXTM3U\n"));
        assert_eq!(decode(b""), Err(ParseError::Empty));
        assert_eq!(decode(b" \r\n"), Err(ParseError::Empty));
        assert_eq!(decode(b"#EXTM3U\n\xFF"), Err(ParseError::NotUtf8 { offset: 8 }));
        assert_eq!(decode(b"<html>\n#EXTM3U"), Err(ParseError::MissingHeader { found: "<html>".into() }));
        assert_eq!(decode(b"#EXTM3U\n#EXTINF:1,\nseg\x00.ts"), Err(ParseError::ControlCharacter { line: 3, code: 0 }));
    }
}
