//! A writer of the Prometheus text exposition format, version 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>).
//!
//! Why not prometheus-client's encoder: it writes OpenMetrics 1.0 only. There a counter family is
//! typed under its name without `_total` (`# TYPE x counter`, then `x_total 1`), an info metric has
//! the type `info`, and the text ends with `# EOF`. Served as 0.0.4, Prometheus parses it with the
//! 0.0.4 parser, which rejects the type `info` (the whole scrape fails) and leaves every counter
//! untyped. 0.0.4 is small: `# HELP` and `# TYPE` lines, then the family's samples together, label
//! values escaped (backslash, double quote, newline).

use std::fmt::Write as _;

/// The content type of a 0.0.4 exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family's type as 0.0.4 names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
    Histogram,
    Summary,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
            Type::Summary => "summary",
        }
    }
}

/// A sample value: counts are written as integers (exact beyond 2^53), measurements as floats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(u64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

/// The exposition being written; every metric name gets `prefix`.
pub struct Exposition {
    prefix: &'static str,
    out: String,
}

/// One family's samples; they are written right after its `# TYPE` line, as 0.0.4 requires.
pub struct Family<'a> {
    prefix: &'static str,
    name: &'static str,
    out: &'a mut String,
}

impl Exposition {
    pub fn new(prefix: &'static str) -> Exposition {
        debug_assert!(valid_name(prefix));
        Exposition { prefix, out: String::with_capacity(32 * 1024) }
    }

    /// Writes the `# HELP` and `# TYPE` lines of `name` and returns the writer of its samples.
    pub fn family(&mut self, name: &'static str, kind: Type, help: &str) -> Family<'_> {
        debug_assert!(valid_name(name), "bad metric name {name}");
        let prefix = self.prefix;
        let out = &mut self.out;
        out.push_str("# HELP ");
        out.push_str(prefix);
        out.push_str(name);
        out.push(' ');
        escape_into(out, help, false);
        out.push('\n');
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# TYPE {prefix}{name} {}", kind.as_str());
        Family { prefix, name, out }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

impl Family<'_> {
    /// A sample named like the family.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.suffixed("", labels, value);
    }

    /// A sample named like the family plus `suffix` (`_bucket`, `_sum`, `_count` of histograms and
    /// summaries).
    pub fn suffixed(&mut self, suffix: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        let out = &mut *self.out;
        out.push_str(self.prefix);
        out.push_str(self.name);
        out.push_str(suffix);
        if !labels.is_empty() {
            out.push('{');
            for (i, (name, value)) in labels.iter().enumerate() {
                debug_assert!(valid_name(name) && !name.starts_with("__"), "bad label name {name}");
                if i > 0 {
                    out.push(',');
                }
                out.push_str(name);
                out.push_str("=\"");
                escape_into(out, value, true);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        write_value(out, value.into());
        out.push('\n');
    }
}

/// Escapes backslash and newline (HELP text), and double quote too in label values.
fn escape_into(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Floats as Go's `ParseFloat` reads them: Rust's shortest round-trip decimal, and `+Inf`, `-Inf`,
/// `NaN` spelled as 0.0.4 spells them (Rust writes `inf`).
pub fn write_value(out: &mut String, value: Value) {
    let _ = match value {
        Value::Int(v) => write!(out, "{v}"),
        Value::Float(v) if v.is_nan() => write!(out, "NaN"),
        Value::Float(v) if v == f64::INFINITY => write!(out, "+Inf"),
        Value::Float(v) if v == f64::NEG_INFINITY => write!(out, "-Inf"),
        Value::Float(v) => write!(out, "{v}"),
    };
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`; names here are constants, so this only guards against typos.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut e = Exposition::new("x_");
        let mut f = e.family("info", Type::Gauge, "a \\ \"quoted\"\nhelp");
        f.sample(&[("target", "http://h/a\"b\\c\nd"), ("engine", "native")], 1u64);
        let text = e.finish();
        assert_eq!(
            text,
            "# HELP x_info a \\\\ \"quoted\"\\nhelp\n\
             # TYPE x_info gauge\n\
             x_info{target=\"http://h/a\\\"b\\\\c\\nd\",engine=\"native\"} 1\n"
        );
    }

    #[test]
    fn values_parse_as_go_floats() {
        let show = |v: Value| {
            let mut s = String::new();
            write_value(&mut s, v);
            s
        };
        assert_eq!(show(Value::Int(u64::MAX)), "18446744073709551615");
        assert_eq!(show(Value::Float(0.0025)), "0.0025");
        assert_eq!(show(Value::Float(10.0)), "10");
        assert_eq!(show(Value::Float(f64::INFINITY)), "+Inf");
        assert_eq!(show(Value::Float(f64::NEG_INFINITY)), "-Inf");
        assert_eq!(show(Value::Float(f64::NAN)), "NaN");
        assert_eq!(show(Value::Float(1e-7)), "0.0000001");
    }

    #[test]
    fn samples_follow_their_family() {
        let mut e = Exposition::new("p_");
        let mut h = e.family("d_seconds", Type::Histogram, "D.");
        h.suffixed("_bucket", &[("le", "+Inf")], 2u64);
        h.suffixed("_sum", &[], 0.5);
        h.suffixed("_count", &[], 2u64);
        let mut c = e.family("n_total", Type::Counter, "N.");
        c.sample(&[], 3u64);
        let text = e.finish();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "# TYPE p_d_seconds histogram");
        assert_eq!(&lines[2..5], ["p_d_seconds_bucket{le=\"+Inf\"} 2", "p_d_seconds_sum 0.5", "p_d_seconds_count 2"]);
        assert_eq!(lines[6..], ["# TYPE p_n_total counter", "p_n_total 3"]);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("hls_swarm_requests_total"));
        assert!(!valid_name("9lives") && !valid_name("a-b") && !valid_name(""));
    }
}
