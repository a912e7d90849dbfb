//! The origin panel: host and nginx figures from the scraper, and what the built-in origin says it sent
//! next to what the swarm received. A figure whose source failed its last scrape is marked stale (its
//! last good value, if any, stays visible); one never scraped yet reads "waiting". None shows as zero.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{byte_rate, count, opt_byte_rate, per_s};
use super::model::Origin;
use super::widgets::{dim, panel};
use crate::metrics::origin_view::{SourceState, Stat};
use crate::report::bytes;

/// One scraped figure as spans: its value, or why there is none.
fn figure(source: &SourceState, stat: Option<Stat>, fmt: fn(f64) -> String) -> Vec<Span<'static>> {
    let stale = Style::new().fg(Color::Yellow);
    match (stat, source.stale) {
        (Some(s), false) => vec![Span::from(fmt(s.now))],
        (Some(s), true) => {
            vec![Span::styled(fmt(s.now), Style::new().fg(Color::DarkGray)), Span::styled(" stale", stale)]
        }
        (None, true) => vec![Span::styled("stale", stale)],
        (None, false) if source.last_ok_ago.is_none() => vec![dim("waiting")],
        (None, false) => vec![dim("n/a")],
    }
}

fn pct(v: f64) -> String {
    format!("{v:.1} %")
}

fn whole(v: f64) -> String {
    count(v.round() as u64)
}

/// `label value`, one pair of a line.
fn pair(label: &str, value: Vec<Span<'static>>) -> Vec<Span<'static>> {
    let mut spans = vec![dim(format!("{label} "))];
    spans.extend(value);
    spans
}

fn join(parts: Parts) -> Line<'static> {
    let mut spans = vec![];
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            spans.push(dim(" · "));
        }
        spans.extend(part);
    }
    Line::from(spans)
}

/// Label-value pairs, joined into one line by [`join`].
type Parts = Vec<Vec<Span<'static>>>;

fn host_parts(o: &Origin, compact: bool) -> Option<(Parts, Parts)> {
    let h = o.host.as_ref()?;
    let s = &h.source;
    if compact && s.stale {
        return Some((stale_source("host"), vec![]));
    }
    let load = vec![pair("cpu", figure(s, h.cpu_percent, pct)), pair("mem", figure(s, h.memory_used_percent, pct))];
    let net = vec![
        pair("net in", figure(s, h.net_rx_bytes_per_s, byte_rate)),
        pair("out", figure(s, h.net_tx_bytes_per_s, byte_rate)),
    ];
    Some((load, net))
}

/// In a compact panel a stale source is one word, not one per figure.
fn stale_source(name: &str) -> Parts {
    vec![pair(name, vec![Span::styled("stale", Style::new().fg(Color::Yellow))])]
}

fn nginx_part(o: &Origin, compact: bool) -> Option<Parts> {
    let n = o.nginx.as_ref()?;
    let s = &n.source;
    if compact && s.stale {
        return Some(stale_source("nginx"));
    }
    Some(vec![
        pair("nginx conns", figure(s, n.active_connections, whole)),
        pair("req/s", figure(s, n.requests_per_s, per_s)),
    ])
}

/// "origin sent" (built-in ground truth) next to "swarm received" (measured by the swarm).
fn transfer_parts(o: &Origin, compact: bool) -> Parts {
    let received = opt_byte_rate(o.received_per_s);
    let Some(b) = &o.builtin else {
        return vec![pair("swarm received", vec![Span::from(received)])];
    };
    let sent = b.bytes_per_s.map_or_else(|| dim("waiting"), |s| Span::from(byte_rate(s.now)));
    if compact {
        return vec![pair("origin sent", vec![sent, dim(format!(" (swarm {received})"))])];
    }
    vec![
        pair("origin sent", vec![sent, dim(format!(" ({})", bytes(b.body_bytes_total as f64)))]),
        pair("swarm received", vec![Span::from(received), dim(format!(" ({})", bytes(o.received_total as f64)))]),
    ]
}

pub fn origin(frame: &mut Frame, area: Rect, o: &Origin, compact: bool) {
    let host = host_parts(o, compact);
    let nginx = nginx_part(o, compact);
    let transfer = transfer_parts(o, compact);
    let lines = if compact {
        let mut first = host.map(|(load, net)| [load, net].concat()).unwrap_or_default();
        let mut second = [nginx.unwrap_or_default(), transfer].concat();
        if first.is_empty() {
            std::mem::swap(&mut first, &mut second);
        }
        vec![join(first), join(second)]
    } else {
        let mut lines = vec![];
        if let Some((load, net)) = host {
            lines.push(join(load));
            lines.push(join(net));
        }
        if let Some(n) = nginx {
            lines.push(join(n));
        }
        lines.extend(transfer.into_iter().map(Line::from));
        if let Some(b) = &o.builtin {
            let rps = b.requests_per_s.map_or_else(|| "waiting".into(), |s| per_s(s.now));
            lines.push(Line::from(dim(format!("origin {rps} req/s · {} connections", b.connections_active))));
        }
        lines
    };
    frame.render_widget(Paragraph::new(lines).block(panel(" Origin ", compact)), area);
}
