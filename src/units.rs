//! Parsers for the values users type on the command line: durations, bitrates, rates, byte sizes.
//! Each returns a message that says what form is expected; clap adds the flag's name.

use std::time::Duration;

/// `2`, `0.5`, `500ms`, `2s`, `1.5m`, `1h`: a plain number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    let value: f64 =
        num.trim().parse().map_err(|_| format!("'{text}' is not a duration; use e.g. 2s, 500ms, 1.5m or 0.5"))?;
    let secs = value * scale;
    if !(0.0..=1e9).contains(&secs) {
        return Err(format!("'{text}' is out of range; use a duration from 0 to 1e9 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `800k`, `2.5M`, `5000000`: bits per second, k = 1,000 and M = 1,000,000.
pub fn parse_bitrate(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, scale) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('m' | 'M') => (&t[..t.len() - 1], 1e6),
        Some('g' | 'G') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    let value: f64 = num.parse().map_err(|_| format!("'{text}' is not a bitrate; use e.g. 800k, 2.5M or 5000000"))?;
    let bits = (value * scale).round();
    if !(1.0..=1e11).contains(&bits) {
        return Err(format!("bitrate '{text}' is out of range; use 1 to 100G bits per second"));
    }
    Ok(bits as u64)
}

/// A probability: `0.05` or `5%`.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("'{text}' is not a rate; use a fraction such as 0.05 or a percentage such as 5%"))?;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("rate '{text}' is out of range; use 0 to 1 (or 0% to 100%)"));
    }
    Ok(value)
}

/// A byte count with optional `k`/`M`/`G` (powers of 1,000) or `KiB`/`MiB`/`GiB` suffix.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let suffixes: [(&str, f64); 6] = [
        ("KiB", 1024.0),
        ("MiB", 1024.0 * 1024.0),
        ("GiB", 1024.0 * 1024.0 * 1024.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
    ];
    let (num, scale) = suffixes.iter().find_map(|(s, f)| t.strip_suffix(s).map(|n| (n, *f))).unwrap_or((t, 1.0));
    let value: f64 =
        num.trim().parse().map_err(|_| format!("'{text}' is not a size; use e.g. 250000, 250k or 2MiB"))?;
    let bytes = (value * scale).round();
    if !(1.0..=1e15).contains(&bytes) {
        return Err(format!("size '{text}' is out of range; use at least 1 byte"));
    }
    Ok(bytes as u64)
}

/// `--start-at`: an RFC 3339 time (`2026-12-01T10:00:00Z`) or `+DURATION` from now (`+30s`).
pub fn parse_start_at(text: &str) -> Result<std::time::SystemTime, String> {
    let t = text.trim();
    if let Some(after) = t.strip_prefix('+') {
        return parse_duration(after).map(|d| std::time::SystemTime::now() + d);
    }
    let at = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).map_err(|_| {
        format!("'{text}' is not a start time: give an RFC 3339 time such as 2026-12-01T10:00:00Z, or +30s")
    })?;
    let nanos = at.unix_timestamp_nanos();
    let since_epoch =
        std::time::Duration::from_nanos(u64::try_from(nanos).map_err(|_| format!("'{text}' is before 1970"))?);
    Ok(std::time::UNIX_EPOCH + since_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_is_a_time_or_a_delay_from_now() {
        let at = parse_start_at("2026-12-01T10:00:00Z").unwrap();
        assert_eq!(at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(), 1_796_119_200);
        let soon = parse_start_at("+30s").unwrap().duration_since(std::time::SystemTime::now()).unwrap();
        assert!(soon.as_secs_f64() > 29.0 && soon.as_secs_f64() <= 30.0, "{soon:?}");
        assert!(parse_start_at("tomorrow").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("NaN").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn bitrates() {
        assert_eq!(parse_bitrate("800k").unwrap(), 800_000);
        assert_eq!(parse_bitrate("2.5M").unwrap(), 2_500_000);
        assert_eq!(parse_bitrate("5000000").unwrap(), 5_000_000);
        assert!(parse_bitrate("0").is_err());
        assert!(parse_bitrate("fast").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("0.05").unwrap(), 0.05);
        assert_eq!(parse_rate("5%").unwrap(), 0.05);
        assert!(parse_rate("1.5").is_err());
        assert!(parse_rate("-0.1").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("250k").unwrap(), 250_000);
        assert_eq!(parse_bytes("2MiB").unwrap(), 2 * 1024 * 1024);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("0").is_err());
    }
}
