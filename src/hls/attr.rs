//! Attribute lists (RFC 8216 4.2) and the value forms tags use: decimal-integer,
//! decimal-floating-point seconds, decimal-resolution, quoted-string, enumerated-string, and the
//! `<n>[@<o>]` byte range (4.3.2.2).
//!
//! Durations are parsed exactly from their decimal digits (no `f64` round trip), so summing many
//! `#EXTINF:2.002,` segments does not drift.

use std::time::Duration;

use super::error::{ParseError, clip};

/// The `NAME=value` pairs of one tag, values still in their written form (quotes included).
#[derive(Debug)]
pub(crate) struct Attributes<'a> {
    pairs: Vec<(&'a str, &'a str)>,
    line: usize,
    tag: &'a str,
}

impl<'a> Attributes<'a> {
    /// Splits `NAME=value,NAME="quoted, value"` lists. Duplicate names: the first one wins.
    pub fn parse(input: &'a str, line: usize, tag: &'a str) -> Result<Self, ParseError> {
        let mut pairs = Vec::new();
        let mut rest = input.trim();
        while !rest.is_empty() {
            let malformed = || ParseError::InvalidAttributeList { line, tag: tag.to_owned(), rest: clip(rest) };
            let (name, after) = rest.split_once('=').ok_or_else(malformed)?;
            let name = name.trim();
            let valid_name = |c: char| c.is_ascii_alphanumeric() || c == '-';
            if name.is_empty() || !name.chars().all(valid_name) {
                return Err(malformed());
            }
            let (value, after) = split_value(after.trim_start()).ok_or_else(malformed)?;
            pairs.push((name, value));
            rest = match after.trim_start().strip_prefix(',') {
                Some(next) => next.trim_start(),
                None if after.trim().is_empty() => "",
                None => return Err(malformed()),
            };
        }
        Ok(Self { pairs, line, tag })
    }

    fn raw(&self, name: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn invalid(&self, name: &'static str, value: &str, expected: &'static str) -> ParseError {
        ParseError::InvalidAttribute { line: self.line, tag: self.tag.to_owned(), name, value: clip(value), expected }
    }

    /// Turns an absent optional attribute into the error for a required one.
    pub fn required<T>(&self, name: &'static str, value: Option<T>) -> Result<T, ParseError> {
        value.ok_or_else(|| ParseError::MissingAttribute { line: self.line, tag: self.tag.to_owned(), name })
    }

    pub fn quoted(&self, name: &'static str) -> Result<Option<&'a str>, ParseError> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        let inner = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"'));
        inner.map(Some).ok_or_else(|| self.invalid(name, raw, "a quoted string"))
    }

    pub fn enumerated(&self, name: &'static str) -> Result<Option<&'a str>, ParseError> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        if raw.starts_with('"') {
            return Err(self.invalid(name, raw, "an unquoted value"));
        }
        Ok(Some(raw))
    }

    pub fn integer(&self, name: &'static str) -> Result<Option<u64>, ParseError> {
        self.convert(name, decimal_integer, "a decimal integer")
    }

    pub fn seconds(&self, name: &'static str) -> Result<Option<Duration>, ParseError> {
        self.convert(name, decimal_seconds, "a non-negative decimal number of seconds")
    }

    pub fn resolution(&self, name: &'static str) -> Result<Option<(u32, u32)>, ParseError> {
        self.convert(name, resolution, "a resolution such as 1280x720")
    }

    /// `YES` / `NO`; absent means `NO`.
    pub fn yes_no(&self, name: &'static str) -> Result<bool, ParseError> {
        let parse = |v: &str| match v {
            "YES" => Some(true),
            "NO" => Some(false),
            _ => None,
        };
        Ok(self.convert(name, parse, "YES or NO")?.unwrap_or(false))
    }

    fn convert<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Option<T>,
        expected: &'static str,
    ) -> Result<Option<T>, ParseError> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        parse(raw).map(Some).ok_or_else(|| self.invalid(name, raw, expected))
    }
}

/// Splits one value off the front: a quoted string up to its closing quote, else up to a comma
/// (an unquoted value has no quote or whitespace, 4.2).
fn split_value(input: &str) -> Option<(&str, &str)> {
    if let Some(quoted) = input.strip_prefix('"') {
        let close = quoted.find('"')? + 2;
        return Some(input.split_at(close));
    }
    let end = input.find(',').unwrap_or(input.len());
    let (value, rest) = input.split_at(end);
    let value = value.trim_end();
    let plain = |c: char| c != '"' && !c.is_whitespace();
    (!value.is_empty() && value.chars().all(plain)).then_some((value, rest))
}

/// decimal-integer (4.2): digits only, within 0..2^64.
pub(crate) fn decimal_integer(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// decimal-floating-point seconds (4.2), non-negative, exact to the nanosecond (further digits
/// are truncated).
pub(crate) fn decimal_seconds(text: &str) -> Option<Duration> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) {
        return None;
    }
    let secs = if whole.is_empty() { 0 } else { whole.parse::<u64>().ok()? };
    let mut nanos = 0u32;
    for (i, digit) in fraction.bytes().take(9).enumerate() {
        nanos += u32::from(digit - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(Duration::new(secs, nanos))
}

/// decimal-resolution (4.2): `<width>x<height>`.
pub(crate) fn resolution(text: &str) -> Option<(u32, u32)> {
    let (width, height) = text.split_once('x')?;
    let parse = |s: &str| decimal_integer(s).and_then(|n| u32::try_from(n).ok());
    Some((parse(width)?, parse(height)?))
}

/// `<n>[@<o>]` (4.3.2.2): the length and, when given, the offset.
pub(crate) fn byte_range(text: &str) -> Option<(u64, Option<u64>)> {
    match text.split_once('@') {
        Some((length, offset)) => Some((decimal_integer(length)?, Some(decimal_integer(offset)?))),
        None => Some((decimal_integer(text)?, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODECS: &str = r#"BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="avc1.42e01f,mp4a.40.2""#;

    #[test]
    fn reads_the_origin_stream_inf() {
        let attrs = Attributes::parse(CODECS, 2, "#EXT-X-STREAM-INF").unwrap();
        assert_eq!(attrs.integer("BANDWIDTH"), Ok(Some(2_500_000)));
        assert_eq!(attrs.resolution("RESOLUTION"), Ok(Some((1280, 720))));
        assert_eq!(attrs.quoted("CODECS"), Ok(Some("avc1.42e01f,mp4a.40.2")));
        assert_eq!(attrs.integer("AVERAGE-BANDWIDTH"), Ok(None));
    }

    #[test]
    fn tolerates_spaces_and_a_trailing_comma() {
        let attrs = Attributes::parse(r#" METHOD=AES-128 , URI="k.key", "#, 1, "#EXT-X-KEY").unwrap();
        assert_eq!(attrs.enumerated("METHOD"), Ok(Some("AES-128")));
        assert_eq!(attrs.quoted("URI"), Ok(Some("k.key")));
    }

    #[test]
    fn rejects_malformed_lists() {
        for bad in ["BANDWIDTH", "=1", "A=\"open", "A=1 B=2", "A=", "A=x\"y", "A B=1"] {
            let err = Attributes::parse(bad, 3, "#EXT-X-STREAM-INF").unwrap_err();
            assert!(matches!(err, ParseError::InvalidAttributeList { line: 3, .. }), "{bad}");
        }
    }

    #[test]
    fn typed_getters_reject_the_wrong_form() {
        let attrs = Attributes::parse(r#"BANDWIDTH=fast,CODECS=avc1,TYPE="AUDIO""#, 4, "#T").unwrap();
        let err = attrs.integer("BANDWIDTH").unwrap_err();
        assert_eq!(err.to_string(), "line 4: #T attribute BANDWIDTH=fast is not a decimal integer");
        assert!(attrs.quoted("CODECS").is_err());
        assert!(attrs.enumerated("TYPE").is_err());
        let missing = attrs.required("URI", attrs.quoted("URI").unwrap()).unwrap_err();
        assert_eq!(missing.to_string(), "line 4: #T lacks the required attribute URI");
    }

    #[test]
    fn decimal_seconds_is_exact() {
        assert_eq!(decimal_seconds("2.000"), Some(Duration::from_secs(2)));
        assert_eq!(decimal_seconds("2.002"), Some(Duration::from_millis(2002)));
        assert_eq!(decimal_seconds("10"), Some(Duration::from_secs(10)));
        assert_eq!(decimal_seconds(".5"), Some(Duration::from_millis(500)));
        assert_eq!(decimal_seconds("1.0000000019"), Some(Duration::new(1, 1)));
        for bad in ["", ".", "abc", "-1", "1e3", "NaN", "inf", "1.2.3", "99999999999999999999"] {
            assert_eq!(decimal_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn integers_resolutions_and_byte_ranges() {
        assert_eq!(decimal_integer("42"), Some(42));
        assert_eq!(decimal_integer("+1"), None);
        assert_eq!(decimal_integer("18446744073709551616"), None);
        assert_eq!(resolution("1920x1080"), Some((1920, 1080)));
        assert_eq!(resolution("1920X1080"), None);
        assert_eq!(byte_range("1000@200"), Some((1000, Some(200))));
        assert_eq!(byte_range("1000"), Some((1000, None)));
        assert_eq!(byte_range("1000@"), None);
    }
}
