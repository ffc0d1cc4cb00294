//! How `tend top` draws its model: a header, the tree as a table (only the
//! rows in view are built, so a thousand services cost what a screenful
//! does), the selected instance's CPU and memory plots beside its log
//! pane, and a line of keys or of what the keys are doing.

use std::time::Instant;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row as TableRow, Sparkline, Table};
use ratatui::Frame;
use tend_wire::{ServiceStatus, State};

use super::model::{Mode, Model, Row};
use crate::show::short_duration;

/// The colour a state is drawn in.
pub fn colour(state: State) -> Color {
    match state {
        State::Running => Color::Green,
        State::Pending | State::Starting => Color::Cyan,
        State::Stopping | State::Restarting | State::BackingOff => Color::Yellow,
        State::CrashLoopBackOff | State::Isolated => Color::Magenta,
        State::Failed => Color::Red,
        State::Completed => Color::Blue,
        State::Shutdown => Color::DarkGray,
    }
}

/// Eight levels of a bar, for sparklines in table cells.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// `values` as a line of bars, scaled to its largest (blank for zero).
fn sparkline(values: impl Iterator<Item = u32> + Clone) -> String {
    let top = values.clone().max().unwrap_or(0).max(1);
    values
        .map(|v| {
            if v == 0 {
                '·'
            } else {
                BARS[((v * 7).div_ceil(top) as usize).min(7)]
            }
        })
        .collect()
}

/// Bytes the way `ps` users read them: `812K`, `12.4M`, `1.2G`.
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.1}G", n / 1_073_741_824.0)
    } else if n >= 1e6 {
        format!("{:.1}M", n / 1_048_576.0)
    } else {
        format!("{:.0}K", n / 1024.0)
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, model: &mut Model, scroll: &mut usize) {
    let now = Instant::now();
    let [header, table, bottom, event, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(12),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, model);
    draw_table(frame, table, model, scroll, now);
    let [plots, logs] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(bottom);
    draw_plots(frame, plots, model);
    draw_logs(frame, logs, model);
    draw_event(frame, event, model);
    draw_keys(frame, keys, model);
    // NO_COLOR (no-color.org): the same screen in the terminal's own
    // colours; the selection stays marked (reversed, not coloured).
    if !tend_daemon::logs::colours(true) {
        for cell in &mut frame.buffer_mut().content {
            cell.set_fg(Color::Reset).set_bg(Color::Reset);
        }
    }
}

/// The latest journal entry, as every screen words it.
fn draw_event(frame: &mut Frame<'_>, area: Rect, model: &Model) {
    let Some(entry) = &model.last_event else {
        return;
    };
    let colour = if entry.record.is_problem() {
        Color::Red
    } else {
        Color::Gray
    };
    frame.render_widget(
        Line::from(vec![
            Span::styled("last event: ", Style::new().fg(Color::DarkGray)),
            Span::styled(
                tend_wire::escape(&entry.line().to_string()).into_owned(),
                Style::new().fg(colour),
            ),
        ]),
        area,
    );
}

fn draw_header(frame: &mut Frame<'_>, area: Rect, model: &Model) {
    let mut spans = vec![Span::styled("tend top", Style::new().bold())];
    match &model.daemon {
        Some(d) if model.connected => spans.push(Span::raw(format!(
            " · {} · pid {} · up {} · {} instances · ",
            d.config,
            d.pid,
            short_duration(model.daemon_uptime(Instant::now())),
            model.services.len()
        ))),
        _ => spans.push(Span::styled(
            " · not connected: waiting for tend… ",
            Style::new().fg(Color::Red),
        )),
    }
    for (state, n) in crate::show::state_counts(&model.services) {
        spans.push(Span::styled(
            format!("{n} {state}  "),
            Style::new().fg(colour(state)),
        ));
    }
    frame.render_widget(Line::from(spans), area);
}

const HEADER: [&str; 10] = [
    "NAME",
    "STATE",
    "PID",
    "UPTIME",
    "RESTARTS",
    "RESTARTS 2m",
    "CPU",
    "MEM",
    "READY",
    "LAST EXIT",
];

fn draw_table(frame: &mut Frame<'_>, area: Rect, model: &Model, scroll: &mut usize, now: Instant) {
    let visible = area.height.saturating_sub(1) as usize;
    // Keep the selection in view.
    if model.selected < *scroll {
        *scroll = model.selected;
    } else if visible > 0 && model.selected >= *scroll + visible {
        *scroll = model.selected + 1 - visible;
    }
    *scroll = (*scroll).min(model.rows.len().saturating_sub(visible));
    let end = (*scroll + visible).min(model.rows.len());
    let rows: Vec<TableRow<'_>> = (*scroll..end)
        .map(|i| {
            let row = match &model.rows[i] {
                Row::Group(name, members) => group_row(model, name, members),
                Row::Instance(index) => instance_row(model, &model.services[*index], now),
            };
            if i == model.selected {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    let name_width = model
        .services
        .iter()
        .map(|s| s.name.chars().count() + 2)
        .chain(model.rows.iter().filter_map(|r| match r {
            Row::Group(name, _) => Some(name.chars().count() + 2),
            Row::Instance(_) => None,
        }))
        .max()
        .unwrap_or(4)
        .clamp(6, 40) as u16;
    // Wide enough for every state as it reads (a failed one says why).
    let state_width = model
        .services
        .iter()
        .map(|s| s.text().state.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(19, 32) as u16;
    let widths = [
        Constraint::Length(name_width),
        Constraint::Length(state_width),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(12),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Min(12),
    ];
    let table = Table::new(rows, widths)
        .header(TableRow::new(HEADER).style(Style::new().bold().underlined()))
        .column_spacing(1);
    frame.render_widget(table, area);
}

fn group_row<'a>(model: &Model, name: &str, members: &[usize]) -> TableRow<'a> {
    let running = members
        .iter()
        .filter(|&&i| model.services[i].state == State::Running)
        .count();
    TableRow::new(vec![
        Line::from(format!("▾ {name}")).bold(),
        Line::from(format!("{running}/{} running", members.len())),
    ])
}

fn instance_row<'a>(model: &Model, s: &ServiceStatus, now: Instant) -> TableRow<'a> {
    let trend = model.trends.get(&s.name);
    let indent = if s.group.is_some() { "  " } else { "" };
    let text = s.text();
    let dash = || "-".to_owned();
    TableRow::new(vec![
        Line::from(format!("{indent}{}", s.name)),
        Line::from(text.state).fg(colour(s.state)),
        Line::from(s.pid.map_or_else(dash, |p| p.to_string())),
        Line::from(if s.state == State::Running {
            short_duration(model.uptime(s, now))
        } else {
            dash()
        }),
        Line::from(s.restarts.to_string()),
        Line::from(trend.map_or_else(String::new, |t| {
            // The last twelve buckets: two minutes.
            let skip = t.restarts.len().saturating_sub(12);
            sparkline(t.restarts.iter().skip(skip).copied())
        }))
        .fg(Color::Yellow),
        Line::from(match (s.pid, trend.and_then(|t| t.cpu_now())) {
            (Some(_), Some(cpu)) => format!("{cpu:.1}%"),
            _ => dash(),
        }),
        Line::from(
            s.memory_bytes
                .filter(|_| s.pid.is_some())
                .map_or_else(dash, bytes),
        ),
        Line::from(if s.pid.is_none() {
            "-"
        } else if s.ready {
            "yes"
        } else {
            "no"
        }),
        // A service's own words (a reason, its `STATUS=`): escaped.
        Line::from(
            tend_wire::escape(&if s.waiting_for.is_empty() {
                text.last_exit.unwrap_or_else(dash)
            } else {
                text.status.unwrap_or_else(dash)
            })
            .into_owned(),
        ),
    ])
}

fn draw_plots(frame: &mut Frame<'_>, area: Rect, model: &Model) {
    let Some(s) = model.selected_instance() else {
        frame.render_widget(Block::bordered().title(" nothing selected "), area);
        return;
    };
    let [cpu_area, memory_area] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let trend = model.trends.get(&s.name);
    let width = area.width.saturating_sub(2) as usize;
    let tail = |values: Vec<u64>| -> Vec<u64> {
        let skip = values.len().saturating_sub(width);
        values.into_iter().skip(skip).collect()
    };
    let cpu: Vec<u64> = tail(trend.map_or_else(Vec::new, |t| {
        t.cpu.iter().map(|c| (c * 10.0) as u64).collect()
    }));
    let memory: Vec<u64> =
        tail(trend.map_or_else(Vec::new, |t| t.memory.iter().copied().collect()));
    let cpu_now = trend.and_then(|t| t.cpu_now()).unwrap_or(0.0);
    let peak = cpu.iter().max().copied().unwrap_or(0) as f64 / 10.0;
    frame.render_widget(
        Sparkline::default()
            .block(
                Block::new()
                    .borders(Borders::ALL)
                    .title(format!(" {} CPU {cpu_now:.1}% (peak {peak:.1}%) ", s.name)),
            )
            .data(&cpu)
            .style(Style::new().fg(Color::Cyan)),
        cpu_area,
    );
    let memory_now = memory.last().copied().unwrap_or(0);
    frame.render_widget(
        Sparkline::default()
            .block(
                Block::new()
                    .borders(Borders::ALL)
                    .title(format!(" memory {} ", bytes(memory_now))),
            )
            .data(&memory)
            .style(Style::new().fg(Color::Magenta)),
        memory_area,
    );
}

fn draw_logs(frame: &mut Frame<'_>, area: Rect, model: &Model) {
    let title = match &model.logs_of {
        Some(name) => format!(" logs of {name} (following) "),
        None => " logs ".to_owned(),
    };
    let height = area.height.saturating_sub(2) as usize;
    let skip = model.logs.len().saturating_sub(height);
    let lines: Vec<Line<'_>> = model
        .logs
        .iter()
        .skip(skip)
        .map(|l| Line::raw(l.as_str()))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

fn draw_keys(frame: &mut Frame<'_>, area: Rect, model: &Model) {
    let line = match &model.mode {
        Mode::Normal => {
            let keys = "↑↓ select  / filter  r restart  s stop  S start  K kill  x signal  q quit";
            match &model.message {
                Some(message) => Line::from(vec![
                    Span::styled(message.clone(), Style::new().bold()),
                    Span::raw("   "),
                    Span::styled(keys, Style::new().fg(Color::DarkGray)),
                ]),
                None => Line::styled(keys, Style::new().fg(Color::DarkGray)),
            }
        }
        Mode::Filter => Line::from(format!(
            "filter: {}█  (enter keeps it, esc clears)",
            model.filter
        )),
        Mode::Signal(text) => Line::from(format!(
            "signal to send to {}: {text}█  (e.g. HUP, USR1, TERM; enter sends, esc cancels)",
            model.target().unwrap_or_default()
        )),
        Mode::Confirm(action, target) => {
            let what = match action {
                super::model::Action::Signal(signal) => format!("send {signal} to {target}"),
                other => format!("{} {target}", other.verb()),
            };
            Line::styled(
                format!("{what}? y/n"),
                Style::new().bold().fg(Color::Yellow),
            )
        }
    };
    frame.render_widget(line, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_scales_to_its_peak_and_shows_nothing_as_dots() {
        assert_eq!(sparkline([0, 1, 2, 4].into_iter()), "·▃▅█");
        assert_eq!(sparkline([0, 0].into_iter()), "··");
    }

    #[test]
    fn bytes_read_like_ps() {
        assert_eq!(bytes(812 * 1024), "812K");
        assert_eq!(bytes(13_002_342), "12.4M");
    }
}
