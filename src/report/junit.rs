//! `--junit FILE`: the thresholds as JUnit XML (one test case each), the format CI systems (Jenkins,
//! GitLab, GitHub's test reporters) read. A few elements and attributes, escaped by hand: no XML crate
//! is worth a dependency for writing this much.

use std::fmt::Write as _;

use super::json::Report;
use super::xml_escape as escape;

/// The report's thresholds as a JUnit `testsuites` document.
pub fn junit(report: &Report) -> String {
    let tests = report.thresholds.len();
    let failures = report.thresholds.iter().filter(|t| !t.passed).count();
    let time = format!("{:.3}", report.duration_seconds);
    // JUnit's timestamp is a local date-time without a zone; the report's is UTC.
    let timestamp = report.started_at.trim_end_matches('Z').split('.').next().unwrap_or_default().to_owned();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"hls-swarm\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"hls-swarm thresholds\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"0\" time=\"{time}\" timestamp=\"{}\" hostname=\"localhost\" id=\"0\" package=\"hls-swarm\">",
        escape(&timestamp)
    );
    let _ = writeln!(out, "    <properties>");
    for (name, value) in [
        ("target", report.target.clone()),
        ("engine", report.engine.clone()),
        ("viewers", report.clients.target.to_string()),
        ("started_at", report.started_at.clone()),
    ] {
        let _ = writeln!(out, "      <property name=\"{name}\" value=\"{}\"/>", escape(&value));
    }
    let _ = writeln!(out, "    </properties>");
    // A passed case is an empty element, a failed one has its failure: the strictest readers (the Ant
    // schema) allow nothing else in a test case; every value is in the suite's system-out.
    let mut values = String::new();
    for t in &report.thresholds {
        let shown = t.shown();
        let name = escape(&t.expression);
        let open = format!("    <testcase name=\"{name}\" classname=\"hls-swarm.thresholds\" time=\"{time}\"");
        let verdict = if t.passed { "pass" } else { "FAIL" };
        let _ = writeln!(values, "threshold {verdict}  {}  ({shown})", t.expression);
        if t.passed {
            let _ = writeln!(out, "{open}/>");
        } else {
            let message = escape(&format!("{} failed: value {shown}", t.expression));
            let _ = writeln!(out, "{open}>");
            let _ = writeln!(out, "      <failure message=\"{message}\" type=\"threshold\">{message}</failure>");
            let _ = writeln!(out, "    </testcase>");
        }
    }
    let _ = writeln!(out, "    <system-out>{}</system-out>", escape(&values));
    let _ = writeln!(out, "    <system-err></system-err>");
    let _ = writeln!(out, "  </testsuite>");
    let _ = writeln!(out, "</testsuites>");
    out
}
