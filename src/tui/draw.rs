//! Layout: which panels fit, and where. Two arrangements:
//! - *wide* (at least [`WIDE`]): bordered panels in three bands, the charts as a 2 x 2 grid of
//!   sparklines and the origin panel beside them;
//! - *compact* (down to 80 x 24): panels titled by a top rule only, side by side in pairs, the charts
//!   as one-line sparklines. Charts give way first, then the origin panel, when rows run out.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::clock;
use super::model::{Header, ViewModel};
use super::widgets::{dim, panel};
use super::{charts, origin_panel, panels};

/// Smallest size for the wide arrangement (columns, rows).
pub const WIDE: (u16, u16) = (120, 36);

/// Draws one frame of the dashboard. Pure: everything shown comes from `vm`.
pub fn draw(frame: &mut Frame, vm: &ViewModel) {
    let area = frame.area();
    if area.width >= WIDE.0 && area.height >= WIDE.1 {
        wide(frame, area, vm);
    } else {
        compact(frame, area, vm);
    }
}

/// A panel's frame: a full border when wide, a titled top rule when compact.
fn wide(frame: &mut Frame, area: Rect, vm: &ViewModel) {
    // A row per variant in the top band, when the charts below keep at least 15 rows.
    let variants = u16::try_from(vm.requests.variants.len()).unwrap_or(u16::MAX);
    let extra = if area.height >= 36 + variants { variants } else { 0 };
    let [header, top, middle, bottom, footer] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(9 + extra),
        Constraint::Length(7),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, panel(" hls-swarm ", false).inner(header), &vm.header, false);
    frame.render_widget(panel(" hls-swarm ", false), header);
    let [requests, throughput, playback] = Layout::horizontal([Constraint::Ratio(1, 3); 3]).areas(top);
    panels::requests(frame, requests, vm, false);
    panels::throughput(frame, throughput, vm, false);
    panels::playback(frame, playback, vm, false);
    let [latency, errors] = Layout::horizontal([Constraint::Ratio(2, 3), Constraint::Ratio(1, 3)]).areas(middle);
    panels::latency(frame, latency, vm, false);
    panels::errors(frame, errors, vm, false);
    match &vm.origin {
        Some(origin) => {
            // Columns line up with the band above: charts under the latency, origin under the errors.
            let [chart_area, origin_area] =
                Layout::horizontal([Constraint::Ratio(2, 3), Constraint::Ratio(1, 3)]).areas(bottom);
            charts::grid(frame, chart_area, &vm.charts);
            origin_panel::origin(frame, origin_area, origin, false);
        }
        None => charts::grid(frame, bottom, &vm.charts),
    }
    draw_footer(frame, footer, vm);
}

/// Rows of the compact arrangement's flexible parts.
#[derive(Debug, PartialEq, Eq)]
struct CompactRows {
    /// Playback and errors: 4, plus rows nothing else can use.
    middle: u16,
    charts: u16,
    /// The charts have a title rule (not when squeezed next to the origin panel).
    charts_titled: bool,
    origin: u16,
}

/// Header 2, requests and throughput 4, latency 6, playback and errors 4, footer 1.
const COMPACT_FIXED: u16 = 2 + 4 + 6 + 4 + 1;

/// Shares the rows left over by the fixed panels: the origin panel first (3 rows), then the charts
/// (four strips of equal height, titled when there is a row for it); what remains goes to playback
/// and errors, which show more lines with it.
fn compact_rows(height: u16, has_origin: bool) -> CompactRows {
    let spare = height.saturating_sub(COMPACT_FIXED);
    let origin = if has_origin && spare >= 3 { 3 } else { 0 };
    let avail = spare - origin;
    let (charts, charts_titled) = match avail {
        n if n >= 5 => (1 + (n - 1) / 4 * 4, true),
        4 if origin > 0 => (4, false),
        _ => (0, false),
    };
    CompactRows { middle: 4 + avail - charts, charts, charts_titled, origin }
}

fn compact(frame: &mut Frame, area: Rect, vm: &ViewModel) {
    let rows = compact_rows(area.height, vm.origin.is_some());
    let [header, top, latency, middle, chart_area, origin_area, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Length(rows.middle),
        Constraint::Length(rows.charts),
        Constraint::Length(rows.origin),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, &vm.header, true);
    let [left, right] = Layout::horizontal([Constraint::Ratio(1, 2); 2]).spacing(1).areas(top);
    panels::requests(frame, left, vm, true);
    panels::throughput(frame, right, vm, true);
    panels::latency(frame, latency, vm, true);
    let [left, right] = Layout::horizontal([Constraint::Ratio(1, 2); 2]).spacing(1).areas(middle);
    panels::playback(frame, left, vm, true);
    panels::errors(frame, right, vm, true);
    if rows.charts > 0 {
        charts::strips(frame, chart_area, &vm.charts, rows.charts_titled);
    }
    if let Some(origin) = vm.origin.as_ref().filter(|_| rows.origin > 0) {
        origin_panel::origin(frame, origin_area, origin, true);
    }
    draw_footer(frame, footer, vm);
}

/// Target, engine and clock; then the viewers against the target with a ramp bar.
fn draw_header(frame: &mut Frame, area: Rect, h: &Header, compact: bool) {
    let [first, second] = Layout::vertical([Constraint::Length(1); 2]).areas(area);
    // Compact: the words that a glance does without go, so an 80-column line keeps the whole target.
    let elapsed = if compact { clock(h.elapsed) } else { format!("{} elapsed", clock(h.elapsed)) };
    let time = match h.duration {
        Some(d) => format!("{elapsed} / {} left", clock(d.saturating_sub(h.elapsed))),
        None => format!("{elapsed} / until stopped"),
    };
    let [what, when] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(time.len() as u16 + 1)]).areas(first);
    let mut title = vec![];
    if compact {
        title.push(Span::from("hls-swarm ").bold().fg(Color::Cyan));
    }
    let engine = if compact { format!("{} → ", h.engine) } else { format!("{} engine → ", h.engine) };
    title.extend([dim(engine), Span::from(h.target.clone())]);
    frame.render_widget(Paragraph::new(Line::from(title)), what);
    frame.render_widget(Paragraph::new(time).right_aligned(), when);

    let count = format!("viewers {}/{} ", h.active, h.clients_target);
    let ramp = if h.expected < h.clients_target {
        format!(" ramp {}/s, {} expected", ramp(h.ramp_rate), h.expected)
    } else {
        " all started".to_string()
    };
    let tail = format!("{ramp} · stalled now {}", h.stalled);
    let bar_width = second.width.saturating_sub((count.len() + tail.chars().count()) as u16).min(60);
    let ratio = if h.clients_target == 0 { 0.0 } else { (h.active as f64 / f64::from(h.clients_target)).min(1.0) };
    let filled = (ratio * f64::from(bar_width)).round() as usize;
    let line = Line::from(vec![
        Span::from(count).bold(),
        Span::styled("█".repeat(filled), Style::new().fg(Color::Green)),
        Span::styled("░".repeat(usize::from(bar_width) - filled), Style::new().fg(Color::DarkGray)),
        Span::from(tail),
    ]);
    frame.render_widget(Paragraph::new(line), second);
}

/// Viewers per second: `5`, `0.5`, `2.25`.
fn ramp(rate: f64) -> String {
    let text = format!("{rate:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Keys, the stopping notice, and where logs go. The keys stay when the generator is saturated: that is
/// when a user most wants to stop.
fn draw_footer(frame: &mut Frame, area: Rect, vm: &ViewModel) {
    let left = if let (Some(late), false) = (vm.saturated, vm.stopping) {
        Line::from(vec![
            Span::styled(
                format!(" GENERATOR SATURATED: timers {late:.0} ms late; latencies include hls-swarm's own delay"),
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ),
            dim(" · "),
            Span::from("q / Ctrl-C").bold(),
            dim(" stop"),
        ])
    } else if vm.stopping {
        Line::from(Span::styled(
            " stopping: finishing requests in flight, then the summary…",
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ))
    } else {
        Line::from(vec![
            Span::from(" q").bold(),
            Span::from(" / "),
            Span::from("Ctrl-C").bold(),
            dim(" stop (drain, summary, report)"),
        ])
    };
    let right = match &vm.log_file {
        Some(path) => format!("logs → {path} "),
        None => "logs hidden, see --log-file ".to_string(),
    };
    let [l, r] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(right.chars().count() as u16)]).areas(area);
    frame.render_widget(Paragraph::new(left), l);
    frame.render_widget(Paragraph::new(dim(right)), r);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_rows_drop_charts_then_origin() {
        let rows = |h, o| {
            let r = compact_rows(h, o);
            (r.middle, r.charts, r.charts_titled, r.origin)
        };
        assert_eq!(rows(24, false), (6, 5, true, 0));
        assert_eq!(rows(24, true), (4, 4, false, 3));
        assert_eq!(rows(22, true), (6, 0, false, 3));
        assert_eq!(rows(20, false), (7, 0, false, 0));
        assert_eq!(rows(30, true), (5, 9, true, 3));
        assert_eq!(rows(10, true), (4, 0, false, 0));
    }
}
