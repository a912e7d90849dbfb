//! The end-of-run summary table printed on stdout.

use std::fmt::Write as _;

use super::RunMeta;
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

pub fn summary(snapshot: &Snapshot, meta: &RunMeta) -> String {
    let mut out = String::new();
    let run = &snapshot.windows.run;
    let pb = snapshot.playback();
    let secs = snapshot.elapsed.as_secs_f64();
    let _ = writeln!(
        out,
        "hls-swarm {} engine: {} viewers against {}, {secs:.1} s",
        meta.info.engine, meta.info.clients_target, meta.info.target
    );
    let _ = writeln!(
        out,
        "viewers   peak {}  starts {}  restarts {}{}",
        snapshot.gauges.peak_active,
        pb.starts,
        pb.restarts,
        if meta.abandoned > 0 { format!("  still busy at drain timeout {}", meta.abandoned) } else { String::new() }
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<15} {:>8} {:>8} {:>7} {:>10}   {:>8} {:>8} {:>8} {:>8}   {:>8}",
        "requests", "count", "ok", "errors", "bytes", "ttfb p50", "p90", "p99", "max", "total p99"
    );
    for kind in Kind::ALL {
        let k = &run.kinds.0[kind.index()];
        if k.requests == 0 {
            continue;
        }
        let t = k.ttfb_ms.as_ref();
        let _ = writeln!(
            out,
            "{:<15} {:>8} {:>8} {:>7} {:>10}   {:>8} {:>8} {:>8} {:>8}   {:>8}",
            kind.as_str(),
            k.requests,
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
    let _ = writeln!(out, "{:>78}", "(times in ms)");
    let seg = &run.kinds.0[Kind::Segment.index()];
    let tp = run.segment_throughput_bps.as_ref();
    let rate = |pick: fn(&Percentiles) -> f64| tp.map_or_else(|| "-".into(), |p| format!("{}/s", bytes(pick(p))));
    let _ = writeln!(
        out,
        "segments  downloaded {}  skipped {}  {}  ({}/s over the run)  per-segment throughput p50 {}  min {}",
        run.segments_downloaded,
        pb.segments_skipped,
        bytes(seg.bytes as f64),
        bytes(if secs > 0.0 { seg.bytes as f64 / secs } else { 0.0 }),
        rate(|p| p.p50),
        rate(|p| p.min),
    );
    let st = pb.startup_ms.as_ref();
    let _ = writeln!(
        out,
        "playback  startup p50 {} ms  p90 {} ms  p99 {} ms  stalls {} ({:.1} s)  peak stalled viewers {}",
        ms(st, |p| p.p50),
        ms(st, |p| p.p90),
        ms(st, |p| p.p99),
        pb.stalls,
        pb.stall_seconds,
        snapshot.gauges.peak_stalled
    );
    let c = &run.connections;
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
    let errors: Vec<String> = ErrorClass::ALL
        .iter()
        .filter_map(|&c| {
            let n = run.errors_by_class.get(c);
            (n > 0).then(|| format!("{} {n}", c.as_str()))
        })
        .collect();
    let _ = writeln!(out, "errors    {}", if errors.is_empty() { "none".to_string() } else { errors.join(", ") });
    if let Some(o) = &meta.origin {
        let get = |m: &std::collections::BTreeMap<&str, u64>, k: &str| m.get(k).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "origin    ({}) sent {} segments, {} playlists, {} of segment bodies",
            o.source,
            get(&o.requests, "segment"),
            get(&o.requests, "media_playlist") + get(&o.requests, "multivariant"),
            bytes(get(&o.bytes, "segment") as f64)
        );
    }
    out
}

/// One progress line: viewers, request and byte rates and segment TTFB over the last 30 s, errors.
pub fn progress_line(s: &Snapshot, target: u32) -> String {
    use crate::stats::Window;
    let w = s.window(Window::S30);
    let seg = &w.kinds.0[Kind::Segment.index()];
    let run = s.window(Window::Run);
    let pct = if run.requests > 0 { 100.0 * run.errors as f64 / run.requests as f64 } else { 0.0 };
    format!(
        "[{:>5.0}s] viewers {}/{} | {:.1} req/s | {}/s | segment ttfb p50 {} ms p99 {} ms | errors {} ({pct:.1}%) | stalled {}",
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
