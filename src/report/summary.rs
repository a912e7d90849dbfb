//! The end-of-run summary table printed on stdout.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use super::json::{KindReport, Report};
use super::thresholds::Threshold;
use crate::stats::{ErrorClass, Kind, Percentiles, Snapshot};

/// Human-readable bytes: 1.2 KB, 3.4 MB (powers of 1,000, as network rates are quoted).
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{v:.0} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

fn ms(p: Option<&Percentiles>, pick: impl Fn(&Percentiles) -> f64) -> String {
    p.map_or_else(|| "-".into(), |p| format!("{:.1}", pick(p)))
}

/// The summary, from the report (the run prints it from its report read back, and `hls-swarm report
/// show` from a saved one, so both print the same): one writer per section, in the order they print.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    let sections: [fn(&mut String, &Report); 12] = [
        header,
        requests,
        held,
        variants,
        segments,
        playback,
        connections,
        errors,
        warnings,
        builtin_origin,
        generator,
        thresholds,
    ];
    for section in sections {
        section(&mut out, report);
    }
    out
}

fn header(out: &mut String, r: &Report) {
    let c = &r.clients;
    let _ = writeln!(
        out,
        "hls-swarm {} engine: {} viewers against {}, {:.1} s",
        r.engine, c.target, r.target, r.duration_seconds
    );
    let busy = if r.abandoned_viewers > 0 {
        format!("  still busy at drain timeout {}", r.abandoned_viewers)
    } else {
        String::new()
    };
    let _ = writeln!(out, "viewers   peak {}  starts {}  restarts {}{busy}", c.peak_active, c.starts, c.restarts);
    let _ = writeln!(out);
}

/// The kinds of `requests` that `show` picks, in [`Kind::ALL`]'s order.
fn kinds_shown(
    requests: &BTreeMap<String, KindReport>,
    show: impl Fn(&KindReport) -> bool,
) -> Vec<(&'static str, &KindReport)> {
    Kind::ALL.iter().filter_map(|k| requests.get(k.as_str()).filter(|r| show(r)).map(|r| (k.as_str(), r))).collect()
}

/// The per-kind table; the kind column is as wide as the longest kind shown (`blocking_playlist`).
fn requests(out: &mut String, r: &Report) {
    let shown = kinds_shown(&r.requests, |k| k.count > 0);
    let w = shown.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(15);
    let _ = writeln!(
        out,
        "{:<w$} {:>8} {:>8} {:>7} {:>10}   {:>8} {:>8} {:>8} {:>8}   {:>8}",
        "requests", "count", "ok", "errors", "bytes", "ttfb p50", "p90", "p99", "max", "total p99"
    );
    for (kind, k) in shown {
        let t = k.ttfb_ms.as_ref();
        let _ = writeln!(
            out,
            "{:<w$} {:>8} {:>8} {:>7} {:>10}   {:>8} {:>8} {:>8} {:>8}   {:>8}",
            kind,
            k.count,
            k.ok,
            k.errors,
            bytes(k.bytes as f64),
            ms(t, |p| p.p50),
            ms(t, |p| p.p90),
            ms(t, |p| p.p99),
            ms(t, |p| p.max),
            ms(k.duration_ms.as_ref(), |p| p.p99),
        );
    }
    let _ = writeln!(out, "{:>1$}", "(times in ms)", 78 + w - 15);
}

/// The held requests per kind (blocking reloads, preload hints), when there were any: how many, how
/// many came back without what they asked for, and how long the server held them.
fn held(out: &mut String, r: &Report) {
    let shown = kinds_shown(&r.requests, |k| k.held > 0);
    if shown.is_empty() {
        return;
    }
    let w = shown.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(15);
    let _ = writeln!(
        out,
        "{:<w$} {:>8} {:>9}   {:>8} {:>8} {:>8} {:>8}",
        "held", "count", "unblocked", "hold p50", "p90", "p99", "max"
    );
    for (kind, k) in shown {
        let h = k.hold_ms.as_ref();
        let _ = writeln!(
            out,
            "{:<w$} {:>8} {:>9}   {:>8} {:>8} {:>8} {:>8}",
            kind,
            k.held,
            k.unblocked,
            ms(h, |p| p.p50),
            ms(h, |p| p.p90),
            ms(h, |p| p.p99),
            ms(h, |p| p.max),
        );
    }
    // Right-aligned under the last column.
    let _ = writeln!(out, "{:>1$}", "(hold: to the first byte, in ms; a held request's total is the rest)", w + 57);
}

/// The per-variant table, when more than one variant was played.
fn variants(out: &mut String, r: &Report) {
    let played = &r.variants;
    if played.len() < 2 {
        return;
    }
    // Labels from URIs can be long: the column is as wide as the longest.
    let w = played.iter().map(|v| v.label.chars().count()).max().unwrap_or(0).max(15);
    let _ = writeln!(
        out,
        "{:<w$} {:>8} {:>8} {:>7} {:>10}   {:>8} {:>8} {:>10}",
        "variant", "requests", "segments", "errors", "bytes", "seg p50", "p99", "throughput"
    );
    for v in played {
        let count = |f: fn(&KindReport) -> u64| v.requests.values().map(f).sum::<u64>();
        let ttfb = v.requests.get(Kind::Segment.as_str()).and_then(|k| k.ttfb_ms.as_ref());
        let tp = v.segments.throughput_bytes_per_second.as_ref();
        let _ = writeln!(
            out,
            "{:<w$} {:>8} {:>8} {:>7} {:>10}   {:>8} {:>8} {:>10}",
            v.label,
            count(|k| k.count),
            v.segments.downloaded,
            count(|k| k.errors),
            bytes(count(|k| k.bytes) as f64),
            ms(ttfb, |p| p.p50),
            ms(ttfb, |p| p.p99),
            tp.map_or_else(|| "-".into(), |p| format!("{}/s", bytes(p.p50))),
        );
    }
    let _ = writeln!(out, "{:>78}", "(segment TTFB in ms, throughput p50 per segment)");
    // Where playback spent its media, when viewers switched: each variant's share of it.
    let media: f64 = played.iter().map(|v| v.playback.media_seconds).sum();
    if r.playback.switches_up + r.playback.switches_down > 0 && media > 0.0 {
        let shares: Vec<String> = played
            .iter()
            .filter(|v| v.playback.media_seconds > 0.0)
            .map(|v| format!("{} {:.0}%", v.label, v.playback.media_seconds * 100.0 / media))
            .collect();
        let _ = writeln!(out, "media     {} of the media buffered", shares.join(", "));
    }
}

fn segments(out: &mut String, r: &Report) {
    let s = &r.segments;
    let secs = r.duration_seconds;
    let rate = |pick: fn(&Percentiles) -> f64| {
        s.throughput_bytes_per_second.as_ref().map_or_else(|| "-".into(), |p| format!("{}/s", bytes(pick(p))))
    };
    let _ = writeln!(
        out,
        "segments  downloaded {}  skipped {}  {}  ({}/s over the run)  per-segment throughput p50 {}  min {}",
        s.downloaded,
        s.skipped,
        bytes(s.bytes as f64),
        bytes(if secs > 0.0 { s.bytes as f64 / secs } else { 0.0 }),
        rate(|p| p.p50),
        rate(|p| p.min),
    );
}

fn playback(out: &mut String, r: &Report) {
    let pb = &r.playback;
    let st = pb.startup_ms.as_ref();
    // Live figures only when viewers sampled them (a live stream with program date-times).
    let live = pb.live_latency_ms.as_ref().map_or(String::new(), |p| {
        format!("  live latency p50 {} ms  p99 {} ms", ms(Some(p), |p| p.p50), ms(Some(p), |p| p.p99))
    });
    let edge =
        pb.edge_distance_parts.as_ref().map_or(String::new(), |p| format!("  parts behind the edge p50 {:.0}", p.p50));
    // Adaptive viewers' switches and the bitrate they played, when there were any.
    let switches = if pb.switches_up + pb.switches_down > 0 {
        let bitrate = pb.average_bitrate.map_or(String::new(), |b| format!("  avg bitrate {}", bitrate_text(b as f64)));
        format!("  switches up {} down {}{bitrate}", pb.switches_up, pb.switches_down)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "playback  startup p50 {} ms  p90 {} ms  p99 {} ms  stalls {} ({:.1} s)  peak stalled viewers {}{live}{edge}{switches}",
        ms(st, |p| p.p50),
        ms(st, |p| p.p90),
        ms(st, |p| p.p99),
        pb.stall_count,
        pb.stall_seconds,
        pb.stalled_viewers_peak
    );
}

/// The time-weighted `BANDWIDTH` of the media buffered, bits per second; `None` without any.
pub fn average_bitrate(p: &crate::stats::PlaybackCounts) -> Option<f64> {
    (p.media_us > 0 && p.media_bits > 0).then(|| p.media_bits as f64 / (p.media_us as f64 / 1e6))
}

fn bitrate_text(bits: f64) -> String {
    if bits >= 1e6 { format!("{:.2} Mbit/s", bits / 1e6) } else { format!("{:.0} kbit/s", bits / 1e3) }
}

fn connections(out: &mut String, r: &Report) {
    let c = &r.connections;
    let phase = |name: &str, p: Option<&Percentiles>| {
        p.map_or(String::new(), |p| format!("  {name} p50 {:.1} ms  p99 {:.1} ms", p.p50, p.p99))
    };
    let _ = writeln!(
        out,
        "conns     opened {}{}{}{}",
        c.opened,
        phase("connect", c.connect_ms.as_ref()),
        phase("tls", c.tls_ms.as_ref()),
        phase("dns", c.dns_ms.as_ref()),
    );
}

fn errors(out: &mut String, r: &Report) {
    let errors: Vec<String> = ErrorClass::ALL
        .iter()
        .filter_map(|&c| {
            let n = r.errors.get(c.as_str()).copied().unwrap_or(0);
            (n > 0).then(|| format!("{} {n}", c.as_str()))
        })
        .collect();
    // The generator's own limits are not the target's errors: said so where they are counted.
    let own = if r.errors.get(ErrorClass::LocalLimit.as_str()).is_some_and(|n| *n > 0) {
        "  (local_limit: hls-swarm's own open files or local ports ran out, not the target)"
    } else {
        ""
    };
    let _ = writeln!(out, "errors    {}{own}", if errors.is_empty() { "none".to_string() } else { errors.join(", ") });
}

/// What the viewers accepted or left alone that a strict player would not, said once; nothing when none.
fn warnings(out: &mut String, r: &Report) {
    let w = &r.warnings;
    let mut said = w.notes.clone();
    if w.playlist > 0 {
        said.push(format!("{} playlist leniencies accepted as players accept them (see the log)", w.playlist));
    }
    if w.keys_skipped > 0 {
        said.push(format!(
            "{} keys not fetched (DRM key formats or data: URIs; once per viewer and key)",
            w.keys_skipped
        ));
    }
    if !said.is_empty() {
        let _ = writeln!(out, "warnings  {}", said.join("; "));
    }
}

/// What the built-in origin says it sent, when it was the target.
fn builtin_origin(out: &mut String, r: &Report) {
    let Some(o) = &r.origin else { return };
    let get = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "origin    ({}) sent {} segments, {} playlists, {} of segment bodies",
        o.source,
        get(&o.requests, "segment"),
        get(&o.requests, "media_playlist") + get(&o.requests, "multivariant"),
        bytes(get(&o.bytes, "segment") as f64)
    );
}

/// The generator's own health: its timers' lateness and CPU, and, last, whether it was saturated.
fn generator(out: &mut String, r: &Report) {
    let g = &r.generator;
    let Some(late) = g.lateness_ms.as_ref() else { return };
    let _ = writeln!(
        out,
        "generator timer lateness p50 {:.1} / p99 {:.1} / max {:.1} ms  cpu {:.1} s on {} thread(s)",
        late.p50, late.p99, late.max, g.cpu_seconds, g.threads
    );
    if g.saturated_seconds > 0.0 {
        let _ = writeln!(out, "{}", saturated_warning(g.saturated_seconds));
    }
}

/// What the summary ends with when the generator was saturated.
fn saturated_warning(seconds: f64) -> String {
    let advice = crate::stats::generator::ADVICE;
    format!(
        "generator saturated for {seconds:.0} s: latencies in those seconds include hls-swarm's own delay; {advice}"
    )
}

/// Each `--fail-if` threshold with its value and verdict, last; first, the one that ended the run early.
fn thresholds(out: &mut String, r: &Report) {
    if let Some(a) = &r.aborted {
        let value = Threshold::parse(&a.threshold).map_or_else(|_| format!("{}", a.value), |t| t.show(a.value));
        let _ = writeln!(
            out,
            "aborted   at {:.0} s: threshold {} failed on the figures so far ({value}) (--abort-on-fail)",
            a.at_seconds, a.threshold
        );
    }
    for t in &r.thresholds {
        let shown = t.shown();
        let _ = writeln!(out, "threshold {}  {}  ({shown})", if t.passed { "pass" } else { "FAIL" }, t.expression);
    }
}

/// One progress line: viewers, request and byte rates and segment TTFB over the last 30 s, errors,
/// and the live latency over the last 30 s when viewers sampled it.
pub fn progress_line(s: &Snapshot, target: u32) -> String {
    use crate::stats::Window;
    let w = s.window(Window::S30);
    let seg = &w.kinds.0[Kind::Segment.index()];
    let run = s.window(Window::Run);
    let pct = if run.requests > 0 { 100.0 * run.errors as f64 / run.requests as f64 } else { 0.0 };
    let mut live = w.playback.live_latency_ms.map_or(String::new(), |p| format!(" | live latency p50 {:.1} ms", p.p50));
    if s.generator.saturated {
        live.push_str(" | GENERATOR SATURATED");
    }
    format!(
        "[{:>5.0}s] viewers {}/{} | {:.1} req/s | {}/s | segment ttfb p50 {} ms p99 {} ms | errors {} ({pct:.1}%) | stalled {}{live}",
        s.elapsed.as_secs_f64(),
        s.gauges.active,
        target,
        w.request_rate,
        bytes(w.byte_rate),
        ms(seg.ttfb_ms.as_ref(), |p| p.p50),
        ms(seg.ttfb_ms.as_ref(), |p| p.p99),
        run.errors,
        s.gauges.stalled
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant, SystemTime};

    use super::*;
    use crate::live::{RunInfo, Rung};
    use crate::report::{RunMeta, build_report};
    use crate::stats::{Aggregator, PlaybackEvent, Recorder, RequestRecord};

    fn request(kind: Kind, variant: Option<u16>, ms: u64, bytes: u64) -> RequestRecord {
        let mut r = RequestRecord::ok(kind, Duration::from_millis(ms), bytes);
        r.timings.ttfb = Some(Duration::from_millis(ms / 2));
        r.variant = variant;
        r
    }

    /// A run of one viewer over a three-rung ladder with these labels, each rung a little slower.
    fn three_rungs(labels: [&str; 3]) -> (Arc<Snapshot>, RunMeta) {
        let start = Instant::now();
        let recorder = Recorder::with_shards(1);
        let agg = Aggregator::new(recorder.clone(), start);
        recorder.record_playback(PlaybackEvent::Started);
        recorder.record_request(&request(Kind::Multivariant, None, 3, 400));
        for (variant, ms, bytes) in [(0u16, 8, 100_000), (1, 20, 300_000), (2, 40, 600_000)] {
            recorder.record_request(&request(Kind::MediaPlaylist, Some(variant), 2, 700));
            for _ in 0..4 {
                recorder.record_request(&request(Kind::Segment, Some(variant), ms, bytes));
            }
        }
        let snapshot = agg.finish(start + Duration::from_secs(4));
        let variant = |i: u16, bandwidth| Rung {
            index: i,
            label: labels[usize::from(i)].into(),
            bandwidth,
            uri: format!("http://o/{}/stream.m3u8", labels[usize::from(i)]),
            rendition: None,
        };
        let info = RunInfo {
            target: "http://o/master.m3u8".into(),
            engine: "native",
            clients_target: 1,
            duration: Some(Duration::from_secs(4)),
            ramp_rate: 5.0,
            started: start,
            started_at: SystemTime::UNIX_EPOCH,
            ladder: vec![variant(0, 800_000), variant(1, 2_500_000), variant(2, 5_000_000)],
        };
        (
            snapshot,
            RunMeta { info: Arc::new(info), abandoned: 0, origin: None, origin_metrics: None, notes: Vec::new() },
        )
    }

    /// The summary as the run prints it: from its report as written.
    fn text(snapshot: &Snapshot, meta: &RunMeta) -> String {
        summary(&build_report(snapshot, meta).as_written().unwrap())
    }

    #[test]
    fn the_summary_has_a_table_per_variant_when_several_were_played() {
        let (snapshot, meta) = three_rungs(["360p", "720p", "1080p"]);
        insta::assert_snapshot!(text(&snapshot, &meta));
    }

    #[test]
    fn a_long_variant_label_widens_its_column() {
        let long = "chunklist_w1234567_b2500000";
        let (snapshot, meta) = three_rungs(["low", long, "high"]);
        let text = text(&snapshot, &meta);
        let header = text.lines().find(|l| l.starts_with("variant ")).unwrap();
        let row = text.lines().find(|l| l.starts_with(long)).unwrap();
        let end = |l: &str, word: &str| l.find(word).map(|i| i + word.len());
        assert_eq!(end(header, "requests"), end(row, " 5"), "the requests column lines up:\n{text}");
    }

    #[test]
    fn low_latency_kinds_have_rows_and_the_kind_column_widens() {
        let (snapshot, meta) = crate::report::fixture::ll_run();
        let text = text(&snapshot, &meta);
        let header = text.lines().find(|l| l.starts_with("requests ")).unwrap();
        for kind in ["part", "preload_hint", "blocking_playlist"] {
            let row = text.lines().find(|l| l.starts_with(&format!("{kind} "))).unwrap_or_else(|| panic!("{text}"));
            let end = |l: &str, word: &str| l.find(word).map(|i| i + word.len());
            assert_eq!(end(row, " 8"), end(header, "count"), "counts line up:\n{text}");
        }
        assert!(!text.lines().any(|l| l.starts_with("key ")), "no row for a kind never asked for:\n{text}");
    }

    #[test]
    fn held_requests_have_a_table_only_when_there_are_some() {
        let (snapshot, meta) = three_rungs(["360p", "720p", "1080p"]);
        assert!(!text(&snapshot, &meta).contains("unblocked"), "no held request: no table");
        let (snapshot, meta) = crate::report::fixture::ll_run();
        let text = text(&snapshot, &meta);
        let table: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("held ")).take(4).collect();
        assert!(table[0].contains("unblocked") && table[0].contains("hold p50"), "{text}");
        assert!(table[1].starts_with("preload_hint ") && table[1].contains(" 8         0 "), "{text}");
        assert!(table[2].starts_with("blocking_playlist ") && table[2].contains(" 8         2 "), "{text}");
        assert!(table[3].contains("(hold: to the first byte"), "{text}");
    }

    #[test]
    fn live_latency_is_said_when_viewers_sampled_it() {
        let (plain, meta) = three_rungs(["360p", "720p", "1080p"]);
        let line = |s: &Snapshot| text(s, &meta).lines().find(|l| l.starts_with("playback")).unwrap().to_owned();
        assert!(!line(&plain).contains("live"), "{}", line(&plain));
        assert!(!progress_line(&plain, 1).contains("live"), "{}", progress_line(&plain, 1));
        let (ll, _) = crate::report::fixture::ll_run();
        let text = line(&ll);
        assert!(text.ends_with("  live latency p50 2400.3 ms  p99 3000.3 ms  parts behind the edge p50 4"), "{text}");
        let progress = progress_line(&ll, 2);
        assert!(progress.ends_with(" | stalled 0 | live latency p50 2400.3 ms"), "{progress}");
    }

    #[test]
    fn warnings_are_said_once_and_only_when_there_are_some() {
        let (snapshot, meta) = three_rungs(["360p", "720p", "1080p"]);
        assert!(!text(&snapshot, &meta).contains("warnings"), "none: no line");
        let mut snapshot = (*snapshot).clone();
        snapshot.totals.playback.playlist_warnings = 3;
        snapshot.totals.playback.keys_skipped = 2;
        let text = text(&snapshot, &meta);
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("warnings")).collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert!(lines[0].contains("3 playlist leniencies") && lines[0].contains("2 keys not fetched"), "{text}");
    }
}
