//! Single `Range: bytes=...` requests (RFC 9110 14.2). A syntactically invalid header or a multi-range
//! request is ignored (the full body is sent, as the RFC allows); an unsatisfiable range gets 416.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    Full,
    /// Inclusive byte positions.
    Partial {
        start: u64,
        end: u64,
    },
    Unsatisfiable,
}

pub fn parse_range(header: &str, len: u64) -> RangeOutcome {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return RangeOutcome::Full };
    if spec.contains(',') {
        return RangeOutcome::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeOutcome::Full };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) { None } else { s.parse().ok() }
    };
    match (first.trim().is_empty(), num(first), num(last)) {
        // bytes=-N: the last N bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                RangeOutcome::Unsatisfiable
            } else {
                RangeOutcome::Partial { start: len.saturating_sub(n), end: len - 1 }
            }
        }
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
            if let Some(e) = end
                && e < start
            {
                return RangeOutcome::Full;
            }
            if start >= len {
                return RangeOutcome::Unsatisfiable;
            }
            RangeOutcome::Partial { start, end: end.map_or(len - 1, |e| e.min(len - 1)) }
        }
        _ => RangeOutcome::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeOutcome::*;
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_range("bytes=0-99", 1000), Partial { start: 0, end: 99 });
        assert_eq!(parse_range("bytes=500-", 1000), Partial { start: 500, end: 999 });
        assert_eq!(parse_range("bytes=-100", 1000), Partial { start: 900, end: 999 });
        assert_eq!(parse_range("bytes=-5000", 1000), Partial { start: 0, end: 999 });
        assert_eq!(parse_range("bytes=990-5000", 1000), Partial { start: 990, end: 999 });
        assert_eq!(parse_range("bytes=999-999", 1000), Partial { start: 999, end: 999 });
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Full);
        assert_eq!(parse_range("items=0-1", 1000), Full);
        assert_eq!(parse_range("bytes=abc", 1000), Full);
        assert_eq!(parse_range("bytes=5-1", 1000), Full);
        assert_eq!(parse_range("bytes=+5-9", 1000), Full);
        assert_eq!(parse_range("bytes=-", 1000), Full);
    }

    proptest::proptest! {
        #[test]
        fn never_out_of_bounds(h in "\\PC{0,20}", len in 0u64..10_000) {
            if let Partial { start, end } = parse_range(&h, len) {
                proptest::prop_assert!(start <= end && end < len);
            }
        }
    }
}
