//! `hls-swarm report compare BASE NEW`: the figures people gate on, side by side, with their change,
//! and the ones that got worse by more than a tolerance marked as regressions.

use std::fmt::Write as _;

use serde_json::Value;

use super::json::Report;
use super::thresholds::Measure;

/// Which way a figure gets worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Worse {
    Higher,
    Lower,
    /// Shown for context (how much was done), never a regression.
    Neither,
}

/// The figures compared, in the order printed; a row is left out when neither report has the figure.
const FIGURES: [(&str, Worse); 24] = [
    ("segment.count", Worse::Neither),
    ("segment.bytes", Worse::Neither),
    ("segment.ttfb.p50", Worse::Higher),
    ("segment.ttfb.p90", Worse::Higher),
    ("segment.ttfb.p99", Worse::Higher),
    ("segment.ttfb.max", Worse::Higher),
    ("segment.duration.p99", Worse::Higher),
    ("media_playlist.ttfb.p50", Worse::Higher),
    ("media_playlist.ttfb.p99", Worse::Higher),
    ("part.ttfb.p99", Worse::Higher),
    ("blocking_playlist.duration.p99", Worse::Higher),
    ("throughput.p50", Worse::Lower),
    ("throughput.min", Worse::Lower),
    ("errors.count", Worse::Higher),
    ("errors.rate", Worse::Higher),
    ("stalls.count", Worse::Higher),
    ("stalls.ratio", Worse::Higher),
    ("startup.p50", Worse::Higher),
    ("startup.p95", Worse::Higher),
    ("startup.p99", Worse::Higher),
    ("live_latency.p50", Worse::Higher),
    ("live_latency.p99", Worse::Higher),
    ("generator.saturated_seconds", Worse::Higher),
    ("generator.lateness_p99", Worse::Higher),
];

/// What a comparison printed and the regressions it found.
#[derive(Debug)]
pub struct Comparison {
    pub text: String,
    /// `figure: base -> new (+12.0%)` for each figure worse by more than the tolerance.
    pub regressions: Vec<String>,
}

/// `--tolerance`: `10%` or a fraction (`0.1`).
pub fn parse_tolerance(text: &str) -> Result<f64, String> {
    let (number, scale) = match text.trim().strip_suffix('%') {
        Some(n) => (n, 0.01),
        None => (text.trim(), 1.0),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v * scale)
        .ok_or_else(|| format!("--tolerance '{text}': give a percentage such as 10% or a fraction such as 0.1"))
}

/// Compares `new` with `base`; a figure worse by more than `tolerance` (a fraction of the base value)
/// is a regression. From a base of zero any worsening is one.
pub fn compare(base: &Report, new: &Report, tolerance: f64) -> Comparison {
    let (b, n) = (figures(base), figures(new));
    let mut text = String::new();
    let _ = writeln!(
        text,
        "base  {}  {}  {:.1} s  {} viewers",
        base.target, base.started_at, base.duration_seconds, base.clients.target
    );
    let _ = writeln!(
        text,
        "new   {}  {}  {:.1} s  {} viewers",
        new.target, new.started_at, new.duration_seconds, new.clients.target
    );
    if base.target != new.target {
        let _ = writeln!(text, "warning: the reports are of different targets");
    }
    let _ = writeln!(text);
    let _ = writeln!(text, "{:<31} {:>14} {:>14} {:>9}", "figure", "base", "new", "change");
    let mut regressions = Vec::new();
    for (name, worse) in FIGURES {
        let Ok(measure) = Measure::parse(name) else { continue };
        let (old, now) = (measure.value(&b), measure.value(&n));
        if old.is_none() && now.is_none() {
            continue;
        }
        let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| measure.show(v));
        let (change, verdict) = match (old, now) {
            (Some(old), Some(now)) => {
                let change =
                    if old == 0.0 { if now == 0.0 { Some(0.0) } else { None } } else { Some((now - old) / old.abs()) };
                let worse_by = match worse {
                    Worse::Higher => now > old && change.is_none_or(|c| c > tolerance),
                    Worse::Lower => now < old && change.is_none_or(|c| -c > tolerance),
                    Worse::Neither => false,
                };
                let shown = change.map_or_else(|| "new".to_owned(), |c| format!("{:+.1}%", c * 100.0));
                if worse_by {
                    regressions.push(format!("{name}: {} -> {} ({shown})", measure.show(old), measure.show(now)));
                }
                (shown, if worse_by { "  REGRESSION" } else { "" })
            }
            _ => ("-".to_owned(), ""),
        };
        let _ = writeln!(text, "{name:<31} {:>14} {:>14} {change:>9}{verdict}", show(old), show(now));
    }
    let _ = writeln!(text);
    let _ = writeln!(text, "{} regression(s) beyond the tolerance of {:.1}%", regressions.len(), tolerance * 100.0);
    Comparison { text, regressions }
}

fn figures(report: &Report) -> Value {
    serde_json::to_value(report).unwrap_or(Value::Null)
}
