//! Whether the answer to a byte-range request is the range asked for (RFC 9110 14.4, 15.3.7): a 206
//! whose `Content-Range` names exactly the requested bytes, and a body of that length. A server that
//! sends the whole resource (200) or other bytes wastes what a player would waste: the request keeps the
//! bytes it received and counts as an error of its own class.
//!
//! Pure: status, header text and body length in, verdict out.

/// Bytes `first..=last` of a resource, as a `Range: bytes=first-last` header asks for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requested {
    pub first: u64,
    pub last: u64,
}

impl Requested {
    /// Parses the `bytes=first-last` form this crate sends; `None` for any other form.
    pub fn parse(header: &str) -> Option<Requested> {
        let (first, last) = header.trim().strip_prefix("bytes=")?.split_once('-')?;
        let (first, last) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
        (first <= last).then_some(Requested { first, last })
    }

    /// Bytes asked for (never zero: `first..=last`).
    pub fn length(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// Why a ranged answer is not the range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("asked for bytes {}-{}, got the whole resource (HTTP 200, {body} bytes)", .asked.first, .asked.last)]
    WholeResource { asked: Requested, body: u64 },
    #[error("asked for bytes {}-{}, got Content-Range {got:?}", .asked.first, .asked.last)]
    OtherRange { asked: Requested, got: String },
    #[error("asked for bytes {}-{}, got a 206 without a Content-Range", .asked.first, .asked.last)]
    NoContentRange { asked: Requested },
    #[error("asked for {} bytes, the 206 body has {body}", .asked.length())]
    WrongLength { asked: Requested, body: u64 },
}

/// Checks a complete answer to a request for `asked`: `status` 200 or 206 (other statuses are judged
/// as statuses elsewhere), its `Content-Range` header, and the body bytes received.
pub fn check(asked: Requested, status: u16, content_range: Option<&str>, body: u64) -> Result<(), RangeError> {
    match status {
        206 => {
            let header = content_range.ok_or(RangeError::NoContentRange { asked })?;
            match parse_content_range(header) {
                Some((first, last)) if first == asked.first && last == asked.last => {}
                _ => return Err(RangeError::OtherRange { asked, got: clip(header) }),
            }
            if body != asked.length() {
                return Err(RangeError::WrongLength { asked, body });
            }
            Ok(())
        }
        200 => Err(RangeError::WholeResource { asked, body }),
        _ => Ok(()),
    }
}

/// `bytes first-last/complete` (or `/*`); `None` for anything else, `bytes */complete` included.
fn parse_content_range(header: &str) -> Option<(u64, u64)> {
    let rest = header.trim().strip_prefix("bytes")?.trim_start();
    let (range, complete) = rest.split_once('/')?;
    let (first, last) = range.trim().split_once('-')?;
    let (first, last): (u64, u64) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    let complete = complete.trim();
    let fits = complete == "*" || complete.parse::<u64>().is_ok_and(|n| last < n);
    (first <= last && fits).then_some((first, last))
}

fn clip(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASKED: Requested = Requested { first: 376, last: 75_607 };

    #[test]
    fn the_requested_range_is_ok() {
        assert_eq!(Requested::parse("bytes=376-75607"), Some(ASKED));
        assert_eq!(ASKED.length(), 75_232);
        assert_eq!(check(ASKED, 206, Some("bytes 376-75607/943196"), 75_232), Ok(()));
        assert_eq!(check(ASKED, 206, Some("bytes 376-75607/*"), 75_232), Ok(()));
    }

    #[test]
    fn the_whole_resource_or_other_bytes_are_range_errors() {
        assert!(matches!(check(ASKED, 200, None, 943_196), Err(RangeError::WholeResource { body: 943_196, .. })));
        assert!(matches!(check(ASKED, 206, Some("bytes 0-75231/943196"), 75_232), Err(RangeError::OtherRange { .. })));
        assert!(matches!(check(ASKED, 206, None, 75_232), Err(RangeError::NoContentRange { .. })));
        assert!(matches!(check(ASKED, 206, Some("bytes 376-75607/*"), 10), Err(RangeError::WrongLength { .. })));
        for garbage in [
            "",
            "bytes",
            "bytes 376-75607",
            "items 376-75607/9",
            "bytes 75607-376/*",
            "bytes 376-75607/100",
            "bytes */943196",
            "bytes a-b/c",
        ] {
            assert!(
                matches!(check(ASKED, 206, Some(garbage), 75_232), Err(RangeError::OtherRange { .. })),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn other_statuses_are_not_judged_here() {
        assert_eq!(check(ASKED, 416, None, 0), Ok(()));
        assert_eq!(check(ASKED, 503, None, 0), Ok(()));
    }

    #[test]
    fn only_the_form_we_send_parses() {
        for other in ["bytes=5-", "bytes=-5", "bytes=9-3", "bytes=1-2,4-5", "items=1-2"] {
            assert_eq!(Requested::parse(other), None, "{other}");
        }
    }
}
