//! Variable substitution, `EXT-X-DEFINE` (draft-pantos-hls-rfc8216bis 4.4.2.3): `NAME`/`VALUE`
//! defines a variable, `IMPORT` takes one the multivariant playlist defined, `QUERYPARAM` takes a
//! query parameter of the playlist's URL. A reference `{$name}` in a URI line or a tag's value is
//! replaced by the value; a reference to a name not defined before it fails the parse, as 4.4.2.3
//! requires, so a viewer never requests `{$name}` literally.
//!
//! Done as a pass over the text before the tags are read: the parser works on the expanded text and
//! keeps its line numbers. A playlist without `EXT-X-DEFINE` or `{$` is not copied. Values are not
//! expanded again (a value holding `{$other}` stays as written), so no definition can loop, and a
//! value or an expanded line has a size limit, so a playlist cannot make the parser build a huge text.

use std::borrow::Cow;

use url::Url;

use super::attr::Attributes;
use super::error::{ParseError, clip};

/// The largest variable value accepted.
pub const MAX_VALUE: usize = 16 * 1024;
/// The largest line a substitution may produce.
pub const MAX_LINE: usize = 64 * 1024;

const TAG: &str = "#EXT-X-DEFINE";

/// The variables a playlist defined, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variables(Vec<(String, String)>);

impl Variables {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn define(&mut self, line: usize, name: &str, value: &str) -> Result<(), ParseError> {
        if self.get(name).is_some() {
            return Err(ParseError::InvalidVariable { line, name: clip(name), reason: "is defined twice" });
        }
        if value.len() > MAX_VALUE {
            return Err(ParseError::InvalidVariable { line, name: clip(name), reason: "has a value over 16 KiB" });
        }
        self.0.push((name.to_owned(), value.to_owned()));
        Ok(())
    }
}

/// `text` with every variable reference replaced, and the variables it defined. `parent`: the
/// multivariant playlist's variables, for `IMPORT` (none when the playlist was loaded on its own).
pub(crate) fn expand<'t>(
    text: &'t str,
    base: &Url,
    parent: Option<&Variables>,
) -> Result<(Cow<'t, str>, Variables), ParseError> {
    let mut variables = Variables::default();
    if !text.contains(TAG) && !text.contains("{$") {
        return Ok((Cow::Borrowed(text), variables));
    }
    let mut out = String::with_capacity(text.len());
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if let Some(value) = trimmed.strip_prefix(TAG) {
            define(&mut variables, line, value.strip_prefix(':').unwrap_or_default(), base, parent)?;
            out.push_str(raw);
        } else if trimmed.starts_with('#') && !trimmed.starts_with("#EXT") {
            out.push_str(raw); // a comment
        } else {
            substitute(&mut out, raw, line, &variables)?;
        }
    }
    Ok((Cow::Owned(out), variables))
}

fn define(
    variables: &mut Variables,
    line: usize,
    value: &str,
    base: &Url,
    parent: Option<&Variables>,
) -> Result<(), ParseError> {
    let attrs = Attributes::parse(value, line, TAG)?;
    if let Some(name) = attrs.quoted("NAME")? {
        check_name(line, name)?;
        let value = attrs.required("VALUE", attrs.quoted("VALUE")?)?;
        return variables.define(line, name, value);
    }
    if let Some(name) = attrs.quoted("IMPORT")? {
        check_name(line, name)?;
        let reason = "is imported but the multivariant playlist does not define it";
        let value =
            parent.and_then(|p| p.get(name)).ok_or(ParseError::InvalidVariable { line, name: clip(name), reason })?;
        return variables.define(line, name, value);
    }
    if let Some(name) = attrs.quoted("QUERYPARAM")? {
        check_name(line, name)?;
        let reason = "is a QUERYPARAM the playlist's URL does not have";
        let found = base.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        let value = found.ok_or(ParseError::InvalidVariable { line, name: clip(name), reason })?;
        return variables.define(line, name, &value);
    }
    Err(ParseError::MissingAttribute { line, tag: TAG.to_owned(), name: "NAME" })
}

/// 4.4.2.3: a name is made of `[a-zA-Z0-9-_]`.
fn check_name(line: usize, name: &str) -> Result<(), ParseError> {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || !name.chars().all(valid) {
        return Err(ParseError::InvalidVariable { line, name: clip(name), reason: "is not a name of [a-zA-Z0-9-_]" });
    }
    Ok(())
}

/// Appends `raw` with its references replaced.
fn substitute(out: &mut String, raw: &str, line: usize, variables: &Variables) -> Result<(), ParseError> {
    let start = out.len();
    let mut rest = raw;
    while let Some(at) = rest.find("{$") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[at..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        let value = variables.get(name).ok_or(ParseError::InvalidVariable {
            line,
            name: clip(name),
            reason: "is used but not defined before it (EXT-X-DEFINE)",
        })?;
        out.push_str(value);
        if out.len() - start > MAX_LINE {
            return Err(ParseError::InvalidVariable { line, name: clip(name), reason: "makes the line over 64 KiB" });
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(())
}
