//! Building blocks every panel uses: the bordered panel and dimmed text. A leaf: the panels import it,
//! it imports none of them.

use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

pub(super) fn panel(title: impl Into<Line<'static>>, compact: bool) -> Block<'static> {
    let borders = if compact { Borders::TOP } else { Borders::ALL };
    Block::new().borders(borders).border_style(Style::new().fg(Color::DarkGray)).title(title.into().bold())
}

pub(super) fn dim(text: impl Into<String>) -> Span<'static> {
    Span::styled(text.into(), Style::new().fg(Color::DarkGray))
}
