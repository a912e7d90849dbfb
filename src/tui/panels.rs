//! The figure panels: requests, segment throughput, latency, playback, errors. Each renders its
//! model as fixed-width text lines, with more lines (column heads, detail) when the panel is wide.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{
    NONE, byte_rate, count, ms_unit, opt_byte_rate, opt_ms, opt_ms_unit, opt_per_s, per_s, percent, window,
};
use super::model::{Counter, Health, ViewModel};
use super::widgets::{dim, panel};
use crate::report::bytes;
use crate::stats::Percentiles;

fn render(frame: &mut Frame, area: Rect, title: impl Into<Line<'static>>, compact: bool, lines: Vec<Line<'static>>) {
    frame.render_widget(Paragraph::new(lines).block(panel(title, compact)), area);
}

/// Playlists, segments, other kinds and bytes: totals and rates over the last second (and 30 s when
/// the panel is wide enough).
pub fn requests(frame: &mut Frame, area: Rect, vm: &ViewModel, compact: bool) {
    let r = &vm.requests;
    let with_30s = area.width >= 46;
    let row = |label: &str, c: &Counter, fmt: fn(Option<f64>) -> String, total: String| {
        let mut text = format!("{label:<10}{total:>10}{:>12}", fmt(c.rate_1s));
        if with_30s {
            text += &format!("{:>12}", fmt(c.rate_30s));
        }
        Line::from(text)
    };
    let req_rate = |v: Option<f64>| v.map_or_else(|| NONE.into(), |v| format!("{}/s", per_s(v)));
    let mut lines = vec![];
    if !compact {
        let mut head = format!("{:<10}{:>10}{:>12}", "", "total", "last 1 s");
        if with_30s {
            head += &format!("{:>12}", "last 30 s");
        }
        lines.push(Line::from(dim(head)));
    }
    lines.push(row("playlists", &r.playlists, req_rate, count(r.playlists.total)));
    lines.push(row("segments", &r.segments, req_rate, count(r.segments.total)));
    if let Some(other) = r.other.as_ref().filter(|_| !compact) {
        lines.push(row("other", other, req_rate, count(other.total)));
    }
    lines.push(row("bytes", &r.bytes, opt_byte_rate, bytes(r.bytes.total as f64)));
    if !compact {
        lines.push(row("conns", &r.connections, req_rate, count(r.connections.total)));
        lines.push(Line::from(vec![
            dim("ok "),
            Span::from(count(r.ok)),
            dim("  errors "),
            Span::styled(count(r.errors), if r.errors > 0 { Style::new().fg(Color::Red) } else { Style::new() }),
        ]));
    }
    // Per variant, when the panel has a row to spare for each (inside its border).
    let room = usize::from(area.height.saturating_sub(2));
    if !compact && !r.variants.is_empty() && lines.len() + r.variants.len() <= room {
        for v in &r.variants {
            let label = format!("{:<10}", v.label);
            lines.push(Line::from(vec![
                dim(label),
                Span::from(format!("{:>10} seg", count(v.segments))),
                dim(format!("{:>12}", bytes(v.bytes as f64))),
                Span::from(format!("{:>4} now", count(v.watching))),
            ]));
        }
    }
    let title = if compact { " Requests (rate: last 1 s) " } else { " Requests " };
    render(frame, area, title, compact, lines);
}

/// Swarm-wide segment body rate over every window, and the total.
pub fn throughput(frame: &mut Frame, area: Rect, vm: &ViewModel, compact: bool) {
    let t = &vm.throughput;
    let total = bytes(t.total_bytes as f64);
    let lines = if compact {
        let cell = |i: usize| {
            let row = &t.rows[i];
            format!("{:<6}{:>11}", window(row.window), opt_byte_rate(row.bytes_per_s))
        };
        vec![
            Line::from(format!("{}   {}", cell(0), cell(1))),
            Line::from(format!("{}   {}", cell(2), cell(3))),
            Line::from(format!("{}   {:<6}{total:>11}", cell(4), "total")),
        ]
    } else {
        let mut lines = vec![Line::from(dim(format!("{:<8}{:>12}{:>12}", "window", "bytes/s", "segments/s")))];
        for row in &t.rows {
            lines.push(Line::from(format!(
                "{:<8}{:>12}{:>12}",
                window(row.window),
                opt_byte_rate(row.bytes_per_s),
                opt_per_s(row.segments_per_s)
            )));
        }
        let per_segment =
            t.per_segment.map_or_else(|| NONE.into(), |p| format!("{}, min {}", byte_rate(p.p50), byte_rate(p.min)));
        // Each segment's own download rate (body / total time), what a player's bandwidth estimate sees.
        lines.push(Line::from(vec![dim("per seg p50 "), Span::from(per_segment)]));
        lines
    };
    let title = format!(" Segment throughput · {total} total ");
    render(frame, area, if compact { " Segment throughput ".to_string() } else { title }, compact, lines);
}

/// TTFB and total time of media playlists and segments over the last 30 s.
pub fn latency(frame: &mut Frame, area: Rect, vm: &ViewModel, compact: bool) {
    let mut lines = vec![Line::from(dim(format!(
        "{:<16}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}",
        "", "p25", "p50", "p75", "p95", "p99", "max"
    )))];
    for row in &vm.latency {
        let p = row.pct.as_ref();
        let cell = |pick: fn(&Percentiles) -> f64| opt_ms(p.map(pick));
        lines.push(Line::from(format!(
            "{:<16}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}",
            row.label,
            cell(|p| p.p25),
            cell(|p| p.p50),
            cell(|p| p.p75),
            cell(|p| p.p95),
            cell(|p| p.p99),
            cell(|p| p.max),
        )));
    }
    render(frame, area, " Latency, last 30 s (ms) ", compact, lines);
}

/// Startup, live latency (when viewers sample it), stalls and skipped segments.
pub fn playback(frame: &mut Frame, area: Rect, vm: &ViewModel, compact: bool) {
    let p = &vm.playback;
    let startup =
        p.startup.map_or_else(|| "waiting".into(), |s| format!("p50 {} · p95 {}", ms_unit(s.p50), ms_unit(s.p95)));
    let live = p.live_latency.map(|l| {
        let pick = |f: fn(&Percentiles) -> f64| opt_ms_unit(l.last_30s.as_ref().map(f));
        format!("p50 {} · p99 {}", pick(|p| p.p50), pick(|p| p.p99))
    });
    let ratio = p.stall_ratio.map_or_else(|| NONE.into(), percent);
    let stalled = Span::styled(
        p.stalled_now.to_string(),
        if p.stalled_now > 0 { Style::new().fg(Color::Yellow) } else { Style::new() },
    );
    let mut lines = if compact {
        vec![
            Line::from(vec![dim("startup "), Span::from(startup)]),
            Line::from(vec![
                dim("stalled now "),
                stalled,
                dim(" · stalls "),
                Span::from(format!("{} ({} in 30 s)", count(p.stalls), p.stalls_30s)),
            ]),
            Line::from(vec![
                dim("stall ratio "),
                Span::from(ratio),
                dim(" · skipped segs "),
                Span::from(count(p.skipped)),
            ]),
            Line::from(vec![
                dim("peak stalled "),
                Span::from(count(p.stalled_peak)),
                dim(" · restarts "),
                Span::from(count(p.restarts)),
            ]),
        ]
    } else {
        let label = |s: &str| dim(format!("{s:<14}"));
        vec![
            Line::from(vec![label("startup"), Span::from(startup)]),
            Line::from(vec![label("stalled now"), stalled, dim(format!(" (peak {})", p.stalled_peak))]),
            Line::from(vec![label("stalls"), Span::from(format!("{} · {} in 30 s", count(p.stalls), p.stalls_30s))]),
            Line::from(vec![
                label("stall ratio"),
                Span::from(ratio),
                dim(format!(" ({:.1} s stalled)", p.stall_seconds)),
            ]),
            Line::from(vec![label("skipped segs"), Span::from(count(p.skipped))]),
            Line::from(vec![label("restarts"), Span::from(count(p.restarts))]),
        ]
    };
    // Under the startup: what a live viewer feels most. A short compact panel loses its last line.
    if let Some(live) = live {
        let line = if compact {
            Line::from(vec![dim("live latency "), Span::from(live)])
        } else {
            Line::from(vec![dim(format!("{:<14}", "live latency")), Span::from(live), dim(" (30 s)")])
        };
        lines.insert(1, line);
    }
    render(frame, area, " Playback ", compact, lines);
}

fn health_style(h: Health) -> Style {
    let color = match h {
        Health::Waiting | Health::NoTraffic => Color::DarkGray,
        Health::Healthy => Color::Green,
        Health::Degraded => Color::Yellow,
        Health::Unhealthy => Color::LightRed,
        Health::Critical => Color::Red,
    };
    Style::new().fg(color).add_modifier(Modifier::BOLD)
}

/// The error rate and health word over the last 30 s, and each class seen: per second over 30 s and
/// the run's count.
pub fn errors(frame: &mut Frame, area: Rect, vm: &ViewModel, compact: bool) {
    let e = &vm.errors;
    let rate = e.rate.map_or_else(String::new, |r| format!(" {}", percent(r)));
    let verdict = vec![Span::styled(e.health.word(), health_style(e.health)), Span::from(rate)];
    let mut lines = vec![];
    let mut title = vec![Span::from(" Errors, last 30 s")];
    if compact {
        title.push(Span::from(": "));
        title.extend(verdict);
        title.push(Span::from(" "));
    } else {
        title.push(Span::from(" "));
        lines.push(Line::from(verdict));
        if !e.rows.is_empty() {
            lines.push(Line::from(dim(format!("{:<15}{:>10}{:>10}", "class", "per s", "run"))));
        }
    }
    let room = usize::from(area.height.saturating_sub(if compact { 1 } else { 2 })).saturating_sub(lines.len());
    if e.rows.is_empty() {
        lines.push(Line::from(dim("no errors")));
    }
    let shown = if e.rows.len() > room { room.saturating_sub(1) } else { e.rows.len() };
    for row in &e.rows[..shown] {
        let text = if compact {
            format!("{:<15}{:>7}/s  run {}", row.class.as_str(), per_s(row.per_s), count(row.total))
        } else {
            format!("{:<15}{:>8}/s{:>10}", row.class.as_str(), per_s(row.per_s), count(row.total))
        };
        let style = if row.last_30s > 0 { Style::new().fg(Color::Red) } else { Style::new() };
        lines.push(Line::styled(text, style));
    }
    if shown < e.rows.len() {
        let rest: u64 = e.rows[shown..].iter().map(|r| r.total).sum();
        lines.push(Line::from(dim(format!("+{} more classes, {} errors", e.rows.len() - shown, count(rest)))));
    }
    render(frame, area, Line::from(title), compact, lines);
}
