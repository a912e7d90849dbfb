//! Number formatting for narrow columns. `-` stands for "no sample yet" and nothing else.

use std::time::Duration;

use crate::report::bytes;

pub const NONE: &str = "-";

/// `MM:SS`, or `H:MM:SS` from one hour on.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match s / 3600 {
        0 => format!("{:02}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", s / 60 % 60, s % 60),
    }
}

/// `12,345,678`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds in at most 5 characters: `0.42`, `12.3`, `812.0`, `1234`, then seconds `12.3s`.
/// Thresholds sit just below the powers of ten so that rounding never adds a character.
pub fn ms(v: f64) -> String {
    match v {
        v if v < 9.995 => format!("{v:.2}"),
        v if v < 999.95 => format!("{v:.1}"),
        v if v < 9_999.5 => format!("{v:.0}"),
        v => format!("{:.1}s", v / 1000.0),
    }
}

/// A duration given in ms, with its unit: `0.42 ms`, `8.5 ms`, `812 ms`, `1.23 s`.
pub fn ms_unit(v: f64) -> String {
    match v {
        v if v < 0.995 => format!("{v:.2} ms"),
        v if v < 9.95 => format!("{v:.1} ms"),
        v if v < 999.5 => format!("{v:.0} ms"),
        v => format!("{:.2} s", v / 1000.0),
    }
}

pub fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| NONE.into(), ms)
}

/// Bytes per second: `12.3 MB/s`.
pub fn byte_rate(v: f64) -> String {
    format!("{}/s", bytes(v))
}

pub fn opt_byte_rate(v: Option<f64>) -> String {
    v.map_or_else(|| NONE.into(), byte_rate)
}

/// Events per second: `0.40`, `12.3`, `1234`.
pub fn per_s(v: f64) -> String {
    match v {
        v if v < 9.995 => format!("{v:.2}"),
        v if v < 999.95 => format!("{v:.1}"),
        v => format!("{v:.0}"),
    }
}

pub fn opt_per_s(v: Option<f64>) -> String {
    v.map_or_else(|| NONE.into(), per_s)
}

/// A fraction as a percentage: `0.31 %`.
pub fn percent(fraction: f64) -> String {
    format!("{:.2} %", fraction * 100.0)
}

/// Window names as people say them.
pub fn window(w: crate::stats::Window) -> &'static str {
    use crate::stats::Window;
    match w {
        Window::S1 => "1 s",
        Window::S30 => "30 s",
        Window::S60 => "60 s",
        Window::S300 => "5 min",
        Window::Run => "run",
    }
}

/// Milliseconds for the charts' titles.
pub fn opt_ms_unit(v: Option<f64>) -> String {
    v.map_or_else(|| NONE.into(), ms_unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_numbers() {
        assert_eq!(clock(Duration::from_secs(75)), "01:15");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
        assert_eq!([count(0), count(999), count(1000), count(1_234_567)], ["0", "999", "1,000", "1,234,567"]);
        assert_eq!(
            [ms(0.4211), ms(12.34), ms(812.0), ms(1234.4), ms(12_345.0)],
            ["0.42", "12.3", "812.0", "1234", "12.3s"]
        );
        assert_eq!([ms(9.999), ms(999.99), per_s(9.999)], ["10.0", "1000", "10.0"]);
        assert_eq!(
            [ms_unit(0.42), ms_unit(8.46), ms_unit(812.2), ms_unit(1234.0)],
            ["0.42 ms", "8.5 ms", "812 ms", "1.23 s"]
        );
        assert_eq!(opt_byte_rate(Some(12_300_000.0)), "12.3 MB/s");
        assert_eq!(opt_per_s(None), "-");
        assert_eq!(percent(0.0031), "0.31 %");
    }
}
