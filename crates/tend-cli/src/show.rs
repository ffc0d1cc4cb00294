//! How answers are printed for people: the status table and its count
//! line, the process tree, event lines.

use std::fmt::Write as _;

use tend_wire::{Entry, NodeKind, ServiceStatus, State, TreeNode};

/// A duration the way `uptime` says it: `42s`, `3m12s`, `5h03m`, `2d4h`.
pub fn short_duration(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// The status table, with a count by state under it (and how many are
/// not ready, when some are).
pub fn status_table(services: &[ServiceStatus]) -> String {
    let rows: Vec<[String; 8]> = services
        .iter()
        .map(|s| {
            let text = s.text();
            let dash = || "-".to_owned();
            [
                s.name.clone(),
                text.state,
                ready(s).to_owned(),
                s.pid.map_or_else(dash, |p| p.to_string()),
                if s.state == State::Running {
                    short_duration(s.uptime_s)
                } else {
                    dash()
                },
                s.restarts.to_string(),
                text.last_exit.unwrap_or_else(dash),
                text.status.unwrap_or_else(dash),
            ]
        })
        .collect();
    let header = [
        "NAME",
        "STATE",
        "READY",
        "PID",
        "UPTIME",
        "RESTARTS",
        "LAST EXIT",
        "STATUS",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: [&str; 8], out: &mut String| {
        for (i, cell) in cells.iter().enumerate() {
            if i == 7 {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push('\n');
    };
    line(header, &mut out);
    for row in &rows {
        line(row.each_ref().map(String::as_str), &mut out);
    }
    out.push_str(&count_line(services));
    out.push('\n');
    out
}

/// The READY column: `yes` or `no` for an instance whose service has a
/// readiness condition (ready as `/readyz` counts it: running and ready,
/// or completed), `-` for one without, so running but not ready never
/// reads like running and fine.
pub fn ready(s: &ServiceStatus) -> &'static str {
    if !s.has_readiness {
        "-"
    } else if (s.state == State::Running && s.ready) || s.state == State::Completed {
        "yes"
    } else {
        "no"
    }
}

/// `4 services: 3 running, 1 backing_off; 1 not ready`.
pub fn count_line(services: &[ServiceStatus]) -> String {
    let counts: Vec<String> = state_counts(services)
        .into_iter()
        .map(|(state, n)| format!("{n} {state}"))
        .collect();
    let noun = if services.len() == 1 {
        "service"
    } else {
        "services"
    };
    let mut line = if counts.is_empty() {
        format!("{} {noun}", services.len())
    } else {
        format!("{} {noun}: {}", services.len(), counts.join(", "))
    };
    let not_ready = services.iter().filter(|s| ready(s) == "no").count();
    if not_ready > 0 {
        let _ = write!(line, "; {not_ready} not ready");
    }
    line
}

/// How many instances are in each state, in lifecycle order; the states
/// with none left out.
pub fn state_counts(services: &[ServiceStatus]) -> Vec<(State, usize)> {
    State::ALL
        .iter()
        .map(|&state| (state, services.iter().filter(|s| s.state == state).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The tree, one node per line, indented.
pub fn tree(node: &TreeNode) -> String {
    let mut out = String::new();
    fn walk(node: &TreeNode, depth: usize, out: &mut String) {
        let pid = node.pid.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let mut facts = vec![format!("pid {pid}"), node.state.to_string()];
        if node.state == State::Running {
            facts.push(format!("up {}", short_duration(node.uptime_s)));
        }
        if let Some(bytes) = node.memory_bytes {
            facts.push(format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0)));
        }
        if let Some(cpu) = node.cpu_s {
            facts.push(format!("cpu {cpu:.2}s"));
        }
        if let Some(pids) = node.pids {
            facts.push(format!("{pids} tasks"));
        }
        let marker = match node.kind {
            NodeKind::Supervisor => "▾ ",
            NodeKind::Service => "• ",
        };
        let _ = writeln!(
            out,
            "{}{marker}{}  ({})",
            "  ".repeat(depth),
            node.name,
            facts.join(", ")
        );
        for child in &node.children {
            walk(child, depth + 1, out);
        }
    }
    walk(node, 0, &mut out);
    out
}

/// One event for people: when, then what happened as every screen says
/// it.
pub fn event_line(entry: &Entry) -> String {
    let at = humantime::format_rfc3339_millis(entry.at);
    format!("{at}  {}", entry.line())
}
