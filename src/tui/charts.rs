//! The charts over time: active viewers, bytes received per second, segment TTFB p99 and errors per
//! second, as sparklines with the newest point at the right edge. Each chart is scaled to the points
//! it shows, so its title carries the latest value.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::bar;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, RenderDirection, Sparkline, SparklineBar};

use super::format::{byte_rate, count, opt_ms_unit, per_s};
use super::model::Charts;
use super::widgets::{dim, panel};

/// One chart: its name, latest value, and bars (oldest first; `None` is a gap).
struct Series {
    name: &'static str,
    latest: Option<String>,
    bars: Vec<Option<u64>>,
    color: Color,
}

fn series(c: &Charts) -> [Series; 4] {
    // Sparklines take integers: bytes/s as is, TTFB in microseconds, errors/s in hundredths.
    let scaled = |v: &[f64], k: f64| v.iter().map(|x| Some((x * k).round() as u64)).collect();
    [
        Series {
            name: "active viewers",
            latest: c.viewers.last().map(|v| count(*v)),
            bars: c.viewers.iter().map(|v| Some(*v)).collect(),
            color: Color::Cyan,
        },
        Series {
            name: "received",
            latest: c.bytes_per_s.last().map(|v| byte_rate(*v)),
            bars: scaled(&c.bytes_per_s, 1.0),
            color: Color::Green,
        },
        Series {
            name: "segment TTFB p99",
            latest: c.ttfb_p99_ms.iter().rev().find_map(|v| *v).map(|v| opt_ms_unit(Some(v))),
            bars: c.ttfb_p99_ms.iter().map(|v| v.map(|ms| (ms * 1000.0).round() as u64)).collect(),
            color: Color::Yellow,
        },
        Series {
            name: "errors",
            latest: c.errors_per_s.last().map(|v| format!("{}/s", per_s(*v))),
            bars: scaled(&c.errors_per_s, 100.0),
            color: Color::Red,
        },
    ]
}

/// The newest `width` bars, newest first (drawn right to left), so the scale fits what is shown.
fn sparkline(s: &Series, width: u16) -> Sparkline<'static> {
    let shown: Vec<SparklineBar> =
        s.bars.iter().rev().take(usize::from(width)).map(|v| SparklineBar::from(*v)).collect();
    Sparkline::default().data(shown).direction(RenderDirection::RightToLeft).style(Style::new().fg(s.color))
}

fn latest(s: &Series) -> String {
    s.latest.clone().unwrap_or_else(|| "waiting".into())
}

/// Wide: a 2 x 2 grid of bordered charts.
pub fn grid(frame: &mut Frame, area: Rect, charts: &Charts) {
    let [top, bottom] = Layout::vertical([Constraint::Ratio(1, 2); 2]).areas(area);
    let [a, b] = Layout::horizontal([Constraint::Ratio(1, 2); 2]).areas(top);
    let [c, d] = Layout::horizontal([Constraint::Ratio(1, 2); 2]).areas(bottom);
    for (s, cell) in series(charts).iter().zip([a, b, c, d]) {
        let block =
            panel(Line::from(vec![Span::from(format!(" {} ", s.name)), Span::from(latest(s)), Span::from(" ")]), false);
        let inner = block.inner(cell);
        frame.render_widget(block, cell);
        frame.render_widget(sparkline(s, inner.width), inner);
    }
}

/// Compact: one strip per chart, name and latest value on the left; a title rule when `titled`.
pub fn strips(frame: &mut Frame, area: Rect, charts: &Charts, titled: bool) {
    let inner = if titled {
        let block = panel(" Over time ", true);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        inner
    } else {
        area
    };
    // Equal heights, so no chart looks taller (more important) than another; spare rows stay blank.
    let rows = Layout::vertical([Constraint::Length((inner.height / 4).max(1)); 4]).split(inner);
    for (s, row) in series(charts).iter().zip(rows.iter()) {
        let [label, chart] = Layout::horizontal([Constraint::Length(30), Constraint::Fill(1)]).areas(*row);
        let text = Line::from(vec![dim(format!("{:<17}", s.name)), Span::from(format!("{:>12} ", latest(s)))]);
        frame.render_widget(Paragraph::new(text), label);
        let mut spark = sparkline(s, chart.width);
        if chart.height == 1 {
            // One row: a value too small for the lowest bar (a measured zero) shows as a baseline dot, a
            // gap (no sample) as blank.
            spark = spark.bar_set(bar::Set { empty: "·", ..bar::NINE_LEVELS });
        }
        frame.render_widget(spark, chart);
    }
}
