//! `EXT-X-PROGRAM-DATE-TIME` values (RFC 8216 4.3.2.6): an ISO 8601 date-time such as
//! `2026-11-26T21:00:00.000Z`, read into a `SystemTime` without a calendar crate.
//!
//! Accepted: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of any length (kept to the nanosecond),
//! then `Z`, `+HH:MM`, `+HHMM`, `+HH` (or `-`). 4.3.2.6 says the time zone SHOULD be present;
//! without one the time is read as UTC, the only reading that does not depend on the load
//! generator's own time zone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::attr::decimal_integer;

/// Parses a program date-time, or `None` when it is not one.
pub(crate) fn parse_date_time(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let separators_ok =
        b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b't') && b[13] == b':' && b[16] == b':';
    if !separators_ok {
        return None;
    }
    let field = |range: std::ops::Range<usize>| decimal_integer(text.get(range)?);
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let (nanos, zone) = split_fraction(&text[19..])?;
    let offset = zone_offset_seconds(zone)?;
    let days = days_from_civil(year as i64, month, day);
    let seconds = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64 - offset;
    let since_epoch = Duration::from_secs(seconds.unsigned_abs());
    let whole =
        if seconds >= 0 { UNIX_EPOCH.checked_add(since_epoch)? } else { UNIX_EPOCH.checked_sub(since_epoch)? };
    whole.checked_add(Duration::from_nanos(nanos))
}

/// Splits `.123Z` into (123_000_000 ns, `Z`).
fn split_fraction(text: &str) -> Option<(u64, &str)> {
    let Some(fraction) = text.strip_prefix('.') else {
        return Some((0, text));
    };
    let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let mut nanos = 0u64;
    for (i, digit) in fraction.bytes().take(digits.min(9)).enumerate() {
        nanos += u64::from(digit - b'0') * 10u64.pow(8 - i as u32);
    }
    Some((nanos, &fraction[digits..]))
}

/// `Z` or empty is UTC; `+HH:MM`, `+HHMM`, `+HH` and their `-` forms are offsets east of UTC.
fn zone_offset_seconds(zone: &str) -> Option<i64> {
    if zone.is_empty() || zone == "Z" || zone == "z" {
        return Some(0);
    }
    let sign = match zone.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &zone[1..];
    let (hours, minutes) = match rest.len() {
        2 => (rest, "00"),
        4 => rest.split_at_checked(2)?,
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return None,
    };
    let (hours, minutes) = (decimal_integer(hours)?, decimal_integer(minutes)?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60) as i64)
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant, "chrono-Compatible
/// Low-Level Date Algorithms", days_from_civil).
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month as i64 + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(text: &str) -> Option<(i64, u32)> {
        let time = parse_date_time(text)?;
        Some(match time.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => (-(e.duration().as_secs() as i64), e.duration().subsec_nanos()),
        })
    }

    #[test]
    fn reads_the_origin_format() {
        // `date -u -d 2026-11-26T21:00:00Z +%s`
        assert_eq!(unix("2026-11-26T21:00:00.000Z"), Some((1_795_726_800, 0)));
        assert_eq!(unix("2026-11-26T21:00:00.250Z"), Some((1_795_726_800, 250_000_000)));
    }

    #[test]
    fn reads_offsets_and_edge_dates() {
        assert_eq!(unix("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(unix("2026-11-26T22:00:00+01:00"), unix("2026-11-26T21:00:00Z"));
        assert_eq!(unix("2026-11-26T16:30:00-0430"), unix("2026-11-26T21:00:00Z"));
        assert_eq!(unix("2026-11-27T00:00:00+03"), unix("2026-11-26T21:00:00Z"));
        assert_eq!(unix("2026-11-26T21:00:00"), unix("2026-11-26T21:00:00Z"));
        assert_eq!(unix("2024-02-29T00:00:00Z"), Some((1_709_164_800, 0)));
        assert_eq!(unix("1969-12-31T23:59:59Z"), Some((-1, 0)));
    }

    #[test]
    fn rejects_what_is_not_a_date_time() {
        for bad in [
            "",
            "yesterday",
            "2026-11-26",
            "2026-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T21:00:00.Z",
            "2026-11-26T21:00:00+1",
            "2026-11-26T21:00:00 UTC",
            "2026-11-26T2a:00:00Z",
            "2026-11-26T21:00:00Zjunk",
        ] {
            assert_eq!(parse_date_time(bad), None, "{bad}");
        }
    }
}
