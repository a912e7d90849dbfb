//! Thresholds (`--fail-if`): a small grammar over the figures of the JSON report, k6-like, and their
//! evaluation on a report. Pure: text in, a checked [`Threshold`] or an error that says what is
//! allowed; a report in, a verdict with the figure's value.
//!
//! ```text
//! EXPR    := FIGURE OP VALUE
//! FIGURE  := KIND ['[' VARIANT ']'] '.' ('ttfb' | 'duration' | 'hold') '.' STAT   time of one kind's
//!                                                                         requests; hold: held ones
//!          | KIND ['[' VARIANT ']'] '.' ('count' | 'errors' | 'bytes' | 'error_rate' | 'held' | 'unblocked')
//!          | 'errors' '.' ('rate' | 'count' | CLASS)                       every request
//!          | 'stalls' '.' ('ratio' | 'count' | 'seconds')                  ratio: stalled / viewer time
//!          | 'startup' '.' STAT | 'live_latency' '.' STAT                   times
//!          | 'edge_distance' '.' STAT                                       parts behind the live edge
//!          | 'throughput' '.' STAT                                          segment bytes per second
//!          | 'generator' '.' ('saturated_seconds' | 'lateness_p99')
//! KIND    := multivariant | media_playlist | segment | init | key | part | other | preload_hint
//!          | blocking_playlist
//! STAT    := min | mean | p25 | p50 | p75 | p90 | p95 | p99 | max
//! OP      := '<' | '<=' | '>' | '>=' | '==' | '!='
//! VALUE   := NUMBER [UNIT]   time: us ms s m; ratio: %; size: B kB MB GB;
//!                            rate: B/s kB/s MB/s bit/s kbit/s Mbit/s Gbit/s
//! ```
//! A time, size or rate figure needs a unit (`800` alone could be anything); a ratio takes `%` or a
//! fraction; a count none.

use std::fmt;

use serde_json::Value;

use crate::stats::Kind;

const STATS: [&str; 9] = ["min", "mean", "p25", "p50", "p75", "p90", "p95", "p99", "max"];

/// What a figure measures, so the value given can be checked for a fitting unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dimension {
    /// Milliseconds.
    Time,
    /// A fraction.
    Ratio,
    Count,
    /// Bytes.
    Size,
    /// Bytes per second.
    Rate,
}

/// One checked threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// As the user wrote it.
    pub text: String,
    measure: Measure,
    op: Op,
    /// In the figure's base unit (ms, fraction, count, bytes, bytes/s).
    limit: f64,
}

/// A figure of the report (`FIGURE` in the grammar), what `report compare` and thresholds read.
#[derive(Clone, Debug, PartialEq)]
pub struct Measure {
    figure: Figure,
    dimension: Dimension,
}

impl Measure {
    /// `FIGURE` as in a threshold, e.g. `segment.ttfb.p99`; the error says what is allowed.
    pub fn parse(text: &str) -> Result<Measure, String> {
        figure(text.trim()).map(|(figure, dimension)| Measure { figure, dimension })
    }

    /// The figure's value in its base unit in a JSON report; `None` when the report has none.
    pub fn value(&self, report: &Value) -> Option<f64> {
        lookup(&self.figure, report)
    }

    /// A value of this figure (in its base unit) as people read it: `812.3 ms`, `1.20%`.
    pub fn show(&self, value: f64) -> String {
        match self.dimension {
            Dimension::Time => format!("{value:.1} ms"),
            Dimension::Ratio => format!("{:.2}%", value * 100.0),
            Dimension::Count => format!("{value}"),
            Dimension::Size => super::bytes(value),
            Dimension::Rate => format!("{}/s", super::bytes(value)),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Figure {
    KindTime { kind: String, variant: Option<String>, field: &'static str, stat: String },
    KindCount { kind: String, variant: Option<String>, field: String },
    ErrorRate,
    ErrorCount,
    ErrorClass(String),
    StallRatio,
    Stall(&'static str),
    Playback { field: &'static str, stat: String },
    Throughput(String),
    Generator(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// The result of one threshold on one report.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The figure's value in its base unit; `None` when the report has no such figure (no request of
    /// that kind, no such variant): the threshold then fails, since it could not be shown to hold.
    pub value: Option<f64>,
    pub passed: bool,
}

/// Why an expression is not a threshold; the message says what is allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--fail-if '{text}': {reason}")]
pub struct ThresholdError {
    text: String,
    reason: String,
}

impl Threshold {
    pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
        let error = |reason: String| ThresholdError { text: text.to_owned(), reason };
        let (figure_text, op, value_text) = split(text).ok_or_else(|| {
            error("expected FIGURE OP VALUE with OP one of < <= > >= == !=, e.g. 'segment.ttfb.p99 < 800ms'".into())
        })?;
        let measure = Measure::parse(figure_text).map_err(error)?;
        let limit = value(value_text, measure.dimension).map_err(error)?;
        Ok(Threshold { text: text.trim().to_owned(), measure, op, limit })
    }

    /// A value of this threshold's figure (in its base unit) as people read it: `812.3 ms`, `1.20%`.
    pub fn show(&self, value: f64) -> String {
        self.measure.show(value)
    }

    /// Evaluates the threshold on a JSON report.
    pub fn evaluate(&self, report: &Value) -> Verdict {
        let value = self.measure.value(report);
        let passed = value.is_some_and(|v| self.op.holds(v, self.limit));
        Verdict { value, passed }
    }
}

/// Evaluates `thresholds` on `report` and keeps their verdicts in it; returns the expressions that failed.
pub fn check(thresholds: &[Threshold], report: &mut super::Report) -> anyhow::Result<Vec<String>> {
    if thresholds.is_empty() {
        return Ok(Vec::new());
    }
    let figures = serde_json::to_value(&*report)?;
    report.thresholds = thresholds
        .iter()
        .map(|t| {
            let verdict = t.evaluate(&figures);
            super::ThresholdReport { expression: t.to_string(), value: verdict.value, passed: verdict.passed }
        })
        .collect();
    Ok(report.thresholds.iter().filter(|r| !r.passed).map(|r| r.expression.clone()).collect())
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Op {
    fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Lt => value < limit,
            Op::Le => value <= limit,
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
            Op::Eq => value == limit,
            Op::Ne => value != limit,
        }
    }
}

fn split(text: &str) -> Option<(&str, Op, &str)> {
    const OPS: [(&str, Op); 6] =
        [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne), ("<", Op::Lt), (">", Op::Gt)];
    let at = text.find(['<', '>', '=', '!'])?;
    let (op_text, op) = OPS.iter().find(|(o, _)| text[at..].starts_with(o))?;
    let (figure, value) = (text[..at].trim(), text[at + op_text.len()..].trim());
    (!figure.is_empty() && !value.is_empty()).then_some((figure, *op, value))
}

fn figure(text: &str) -> Result<(Figure, Dimension), String> {
    let parts: Vec<&str> = text.split('.').collect();
    let stat = |s: &str| -> Result<String, String> {
        if STATS.contains(&s) {
            Ok(s.to_owned())
        } else {
            Err(format!("'{s}' is not a statistic; use one of {}", STATS.join(", ")))
        }
    };
    match parts.as_slice() {
        ["errors", "rate"] => Ok((Figure::ErrorRate, Dimension::Ratio)),
        ["errors", "count"] => Ok((Figure::ErrorCount, Dimension::Count)),
        ["errors", class] => Ok((Figure::ErrorClass((*class).to_owned()), Dimension::Count)),
        ["stalls", "ratio"] => Ok((Figure::StallRatio, Dimension::Ratio)),
        ["stalls", "count"] => Ok((Figure::Stall("stall_count"), Dimension::Count)),
        ["stalls", "seconds"] => Ok((Figure::Stall("stall_seconds"), Dimension::Time)),
        ["startup", s] => Ok((Figure::Playback { field: "startup_ms", stat: stat(s)? }, Dimension::Time)),
        ["live_latency", s] => Ok((Figure::Playback { field: "live_latency_ms", stat: stat(s)? }, Dimension::Time)),
        ["edge_distance", s] => {
            Ok((Figure::Playback { field: "edge_distance_parts", stat: stat(s)? }, Dimension::Count))
        }
        ["throughput", s] => Ok((Figure::Throughput(stat(s)?), Dimension::Rate)),
        ["generator", "saturated_seconds"] => Ok((Figure::Generator("saturated_seconds"), Dimension::Count)),
        ["generator", "lateness_p99"] => Ok((Figure::Generator("lateness_p99"), Dimension::Time)),
        [kind, rest @ ..] => kind_figure(kind, rest, stat),
        [] => Err("no figure".into()),
    }
}

fn kind_figure(
    kind: &str,
    rest: &[&str],
    stat: impl Fn(&str) -> Result<String, String>,
) -> Result<(Figure, Dimension), String> {
    let (name, variant) = match kind.split_once('[') {
        Some((name, v)) => {
            let v = v
                .strip_suffix(']')
                .filter(|v| !v.is_empty())
                .ok_or("a variant is written KIND[LABEL], e.g. segment[720p]")?;
            (name, Some(v.to_owned()))
        }
        None => (kind, None),
    };
    let kinds = Kind::ALL.map(Kind::as_str);
    if !kinds.contains(&name) {
        return Err(format!(
            "'{name}' is not a figure; use a kind ({}), errors, stalls, startup, live_latency, edge_distance, \
             throughput or generator",
            kinds.join(", ")
        ));
    }
    let kind = name.to_owned();
    match rest {
        [measure @ ("ttfb" | "duration" | "hold"), s] => {
            let field = match *measure {
                "ttfb" => "ttfb_ms",
                "duration" => "duration_ms",
                _ => "hold_ms",
            };
            Ok((Figure::KindTime { kind, variant, field, stat: stat(s)? }, Dimension::Time))
        }
        [field @ ("count" | "errors" | "held" | "unblocked")] => {
            Ok((Figure::KindCount { kind, variant, field: (*field).to_owned() }, Dimension::Count))
        }
        ["bytes"] => Ok((Figure::KindCount { kind, variant, field: "bytes".into() }, Dimension::Size)),
        ["error_rate"] => Ok((Figure::KindCount { kind, variant, field: "error_rate".into() }, Dimension::Ratio)),
        _ => Err(format!(
            "after '{name}' comes .ttfb.STAT, .duration.STAT, .hold.STAT, .count, .errors, .bytes, .error_rate, \
             .held or .unblocked"
        )),
    }
}

/// The limit in the figure's base unit.
fn value(text: &str, dimension: Dimension) -> Result<f64, String> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(text.len());
    let (number, unit) = (text[..split].trim(), text[split..].trim());
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| format!("'{text}' does not start with a number"))?;
    let scale = match (dimension, unit) {
        (Dimension::Time, "us") => 0.001,
        (Dimension::Time, "ms") => 1.0,
        (Dimension::Time, "s") => 1_000.0,
        (Dimension::Time, "m") => 60_000.0,
        (Dimension::Time, _) => return Err(format!("'{text}': a time needs a unit: us, ms, s or m, e.g. 800ms")),
        (Dimension::Ratio, "%") => 0.01,
        (Dimension::Ratio, "") => 1.0,
        (Dimension::Ratio, _) => return Err(format!("'{text}': a ratio is a percentage (1%) or a fraction (0.01)")),
        (Dimension::Count, "") => 1.0,
        (Dimension::Count, _) => return Err(format!("'{text}': a count takes no unit")),
        (Dimension::Size, u) => {
            size_unit(u).ok_or_else(|| format!("'{text}': a size needs a unit: B, kB, MB or GB"))?
        }
        (Dimension::Rate, u) => rate_unit(u).ok_or_else(|| {
            format!("'{text}': a rate needs a unit: B/s, kB/s, MB/s, bit/s, kbit/s, Mbit/s or Gbit/s")
        })?,
    };
    Ok(n * scale)
}

fn size_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    })
}

fn rate_unit(unit: &str) -> Option<f64> {
    if let Some(bytes) = unit.strip_suffix("/s").and_then(size_unit) {
        return Some(bytes);
    }
    Some(match unit {
        "bit/s" => 1.0 / 8.0,
        "kbit/s" => 1e3 / 8.0,
        "Mbit/s" => 1e6 / 8.0,
        "Gbit/s" => 1e9 / 8.0,
        _ => return None,
    })
}

fn lookup(figure: &Figure, r: &Value) -> Option<f64> {
    let f = |v: &Value| v.as_f64();
    match figure {
        Figure::KindTime { kind, variant, field, stat } => f(&requests(r, variant.as_deref())?[kind][field][stat]),
        Figure::KindCount { kind, variant, field } => {
            let k = &requests(r, variant.as_deref())?[kind];
            match field.as_str() {
                "error_rate" => ratio(f(&k["errors"])?, f(&k["count"])?),
                // Written only when not zero: a kind that was asked for and has none held has 0.
                held @ ("held" | "unblocked") => f(&k[held]).or_else(|| k.is_object().then_some(0.0)),
                other => f(&k[other]),
            }
        }
        Figure::ErrorRate => {
            let total =
                |field| r["requests"].as_object().map(|o| o.values().filter_map(|k| k[field].as_f64()).sum::<f64>());
            ratio(total("errors")?, total("count")?)
        }
        // A download the viewer abandoned is listed with the errors, and is not one.
        Figure::ErrorCount => {
            let failed = |(class, n): (&String, &Value)| (class != "abandoned").then(|| n.as_f64()).flatten();
            r["errors"].as_object().map(|o| o.iter().filter_map(failed).sum())
        }
        Figure::ErrorClass(class) => f(&r["errors"][class.as_str()]),
        Figure::StallRatio => {
            let viewer_seconds: f64 =
                r["timeline"].as_array()?.iter().filter_map(|p| p["active_clients"].as_f64()).sum();
            ratio(f(&r["playback"]["stall_seconds"])?, viewer_seconds)
        }
        Figure::Stall("stall_seconds") => f(&r["playback"]["stall_seconds"]).map(|s| s * 1_000.0),
        Figure::Stall(field) => f(&r["playback"][*field]),
        Figure::Playback { field, stat } => f(&r["playback"][*field][stat.as_str()]),
        Figure::Throughput(stat) => f(&r["segments"]["throughput_bytes_per_second"][stat.as_str()]),
        Figure::Generator("lateness_p99") => f(&r["generator"]["lateness_ms"]["p99"]),
        Figure::Generator(field) => f(&r["generator"][*field]),
    }
}

/// The `requests` object of the whole run or of one variant (by label).
fn requests<'r>(report: &'r Value, variant: Option<&str>) -> Option<&'r Value> {
    match variant {
        None => Some(&report["requests"]),
        Some(label) => {
            report["variants"].as_array()?.iter().find(|v| v["label"].as_str() == Some(label)).map(|v| &v["requests"])
        }
    }
}

fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report() -> Value {
        json!({
            "requests": {
                "segment": {"count": 1000, "ok": 990, "errors": 10, "bytes": 64_000_000,
                            "ttfb_ms": {"p50": 12.0, "p99": 640.5}, "duration_ms": {"p99": 900.0}},
                "media_playlist": {"count": 1000, "ok": 1000, "errors": 0, "bytes": 500_000, "ttfb_ms": {"p99": 3.0}}
            },
            "variants": [{"label": "720p", "requests": {"segment": {"count": 10, "errors": 0, "ttfb_ms": {"p99": 980.0}}}}],
            "errors": {"http_5xx": 7, "timeout": 3, "dns": 0},
            "segments": {"throughput_bytes_per_second": {"p50": 2_000_000.0}},
            "playback": {"startup_ms": {"p95": 1500.0}, "stall_count": 4, "stall_seconds": 2.0,
                         "live_latency_ms": {"p50": 2400.0, "p99": 3100.0}, "edge_distance_parts": {"p99": 6.0}},
            "timeline": [{"active_clients": 100}, {"active_clients": 100}, {"active_clients": 200}]
        })
    }

    fn verdict(text: &str) -> Verdict {
        Threshold::parse(text).unwrap_or_else(|e| panic!("{e}")).evaluate(&report())
    }

    #[test]
    fn figures_compare_in_their_units() {
        assert_eq!(verdict("segment.ttfb.p99 < 800ms"), Verdict { value: Some(640.5), passed: true });
        assert!(!verdict("segment.ttfb.p99 < 0.5s").passed);
        assert!(verdict("errors.rate < 1%").passed, "10 of 2000 = 0.5 %");
        assert!(!verdict("errors.rate < 0.004").passed);
        assert_eq!(verdict("errors.count == 10").value, Some(10.0));
        assert!(verdict("errors.http_5xx <= 7").passed);
        assert_eq!(verdict("stalls.ratio < 0.5%").value, Some(2.0 / 400.0));
        assert!(verdict("startup.p95 < 2s").passed);
        assert!(verdict("throughput.p50 >= 16Mbit/s").passed, "2 MB/s is 16 Mbit/s");
        assert!(verdict("segment.bytes > 60MB").passed);
        assert!(verdict("segment.error_rate < 2%").passed);
        assert_eq!(verdict("live_latency.p99 < 3s"), Verdict { value: Some(3100.0), passed: false });
        assert!(verdict("live_latency.p50 <= 2400ms").passed);
        assert_eq!(verdict("edge_distance.p99 <= 6"), Verdict { value: Some(6.0), passed: true });
        assert!(Threshold::parse("edge_distance.p99 < 6s").unwrap_err().to_string().contains("count takes no unit"));
    }

    #[test]
    fn per_variant_figures_come_from_the_variant() {
        assert_eq!(verdict("segment[720p].ttfb.p99 < 800ms"), Verdict { value: Some(980.0), passed: false });
    }

    #[test]
    fn low_latency_kinds_are_figures() {
        let report = json!({"requests": {"blocking_playlist": {"count": 8, "errors": 0, "duration_ms": {"p99": 3.0}}}});
        let parse = |t: &str| Threshold::parse(t).unwrap_or_else(|e| panic!("{e}"));
        assert!(parse("blocking_playlist.duration.p99 < 5ms").evaluate(&report).passed);
        assert!(parse("blocking_playlist.error_rate == 0").evaluate(&report).passed);
        assert_eq!(parse("preload_hint.count > 0").evaluate(&report).value, None);
    }

    #[test]
    fn holds_are_figures_and_no_unblocked_is_zero() {
        let report = json!({"requests": {
            "blocking_playlist": {"count": 8, "held": 8, "unblocked": 2, "hold_ms": {"p99": 1900.0}},
            "preload_hint": {"count": 8, "held": 8},
        }});
        let verdict = |t: &str| Threshold::parse(t).unwrap_or_else(|e| panic!("{e}")).evaluate(&report);
        assert_eq!(verdict("blocking_playlist.hold.p99 < 2s"), Verdict { value: Some(1900.0), passed: true });
        assert_eq!(verdict("blocking_playlist.unblocked == 0"), Verdict { value: Some(2.0), passed: false });
        assert_eq!(verdict("preload_hint.unblocked == 0"), Verdict { value: Some(0.0), passed: true });
        assert_eq!(verdict("preload_hint.held >= 8").value, Some(8.0));
        assert_eq!(verdict("part.held == 0").value, None, "no part was asked for");
        assert_eq!(verdict("preload_hint.hold.p50 < 1s").value, None);
        assert!(Threshold::parse("part.hold.p99 < 800").unwrap_err().to_string().contains("a time needs a unit"));
    }

    #[test]
    fn a_figure_the_report_lacks_fails() {
        assert_eq!(verdict("live_latency.p95 < 6s"), Verdict { value: None, passed: false });
        assert_eq!(verdict("segment[4k].ttfb.p99 < 1s").value, None);
        assert_eq!(verdict("key.ttfb.p99 < 1s").value, None);
    }

    #[test]
    fn bad_expressions_say_what_is_allowed() {
        let message = |t: &str| Threshold::parse(t).unwrap_err().to_string();
        assert!(message("segment.ttfb.p99 800ms").contains("FIGURE OP VALUE"));
        assert!(message("segment.ttfb.p99 < 800").contains("a time needs a unit"));
        assert!(message("segment.ttfb.p42 < 1s").contains("p99"));
        assert!(message("video.ttfb.p99 < 1s").contains("blocking_playlist"), "the message lists every kind");
        assert!(message("errors.rate < 1ms").contains("ratio"));
        assert!(message("errors.count < 1%").contains("count takes no unit"));
        assert!(message("segment[].ttfb.p99 < 1s").contains("KIND[LABEL]"));
        assert!(message("segment.speed < 1s").contains(".hold.STAT"));
        assert!(message("throughput.p50 > 5").contains("rate needs a unit"));
        assert!(message("startup.p95 < fast").contains("number"));
    }
}

#[cfg(test)]
mod generator_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_generators_figures_and_abandons_that_are_no_errors() {
        let report = json!({
            "generator": { "lateness_ms": { "p99": 12.5 }, "saturated_seconds": 3.0 },
            "errors": { "timeout": 1, "abandoned": 5 },
        });
        let check = |text: &str| Threshold::parse(text).unwrap().evaluate(&report);
        assert_eq!(check("generator.lateness_p99 < 10ms").value, Some(12.5));
        assert!(!check("generator.saturated_seconds == 0").passed);
        assert_eq!(check("errors.count <= 1").value, Some(1.0), "a download the viewer gave up is not counted");
        assert_eq!(check("errors.abandoned == 5").value, Some(5.0), "and is there by its class");
        let t = Threshold::parse("segment.ttfb.p99 < 800ms").unwrap();
        assert_eq!(
            (t.show(812.34), Threshold::parse("errors.rate < 1%").unwrap().show(0.0123)),
            ("812.3 ms".into(), "1.23%".into())
        );
    }
}
