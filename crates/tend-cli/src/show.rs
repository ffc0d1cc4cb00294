//! How answers are printed for people: the status table and its count
//! line, the process tree, event lines.

use std::fmt::Write as _;
use std::time::Duration;

use tend_daemon::wire::{Entry, Record, ServiceStatus, State, TreeNode};

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

/// What a service says it is doing, or what it waits for.
pub fn status_text(s: &ServiceStatus) -> String {
    match (&s.status_text, s.waiting_for.as_slice()) {
        (Some(text), _) => text.clone(),
        (None, []) => "-".to_owned(),
        (None, waits) => {
            let waits: Vec<String> = waits.iter().map(ToString::to_string).collect();
            format!("waiting for {}", waits.join(" and "))
        }
    }
}

/// The status table, with a count by state under it.
pub fn status_table(services: &[ServiceStatus]) -> String {
    let rows: Vec<[String; 7]> = services
        .iter()
        .map(|s| {
            let state = match &s.failed_because {
                Some(why) => format!("{} ({why})", s.state),
                None => s.state.to_string(),
            };
            [
                s.name.clone(),
                state,
                s.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
                if s.state == State::Running {
                    short_duration(s.uptime_s)
                } else {
                    "-".to_owned()
                },
                s.restarts.to_string(),
                s.last_exit
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string),
                status_text(s),
            ]
        })
        .collect();
    let header = [
        "NAME",
        "STATE",
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
    let line = |cells: [&str; 7], out: &mut String| {
        for (i, cell) in cells.iter().enumerate() {
            if i == 6 {
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

/// `4 services: 3 running, 1 backing_off`.
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
    if counts.is_empty() {
        format!("{} {noun}", services.len())
    } else {
        format!("{} {noun}: {}", services.len(), counts.join(", "))
    }
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
        let marker = if node.kind == "supervisor" {
            "▾ "
        } else {
            "• "
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

/// One event for people.
pub fn event_line(entry: &Entry) -> String {
    let at = humantime::format_rfc3339_millis(entry.at);
    let what = match &entry.record {
        Record::SupervisorStarted => format!("{} started", entry.supervisor),
        Record::SupervisorStopped { exit } => format!("{} stopped: {exit}", entry.supervisor),
        Record::Started {
            service,
            generation,
            pid,
        } => match pid {
            Some(pid) => format!("{service} started (pid {pid}, generation {generation})"),
            None => format!("{service} started (generation {generation})"),
        },
        Record::Ready { service, .. } => format!("{service} ready"),
        Record::StartFailed { service, exit, .. } => format!("{service} failed to start: {exit}"),
        Record::Exited {
            service,
            exit,
            ran_for_ms,
            pid,
            ..
        } => {
            let ran = humantime::format_duration(Duration::from_millis(*ran_for_ms));
            match pid {
                Some(pid) => format!("{service} (pid {pid}) exited after {ran}: {exit}"),
                None => format!("{service} exited after {ran}: {exit}"),
            }
        }
        Record::Restarting {
            service, delay_ms, ..
        } => match delay_ms {
            0 => format!("{service} restarting"),
            _ => format!(
                "{service} restarting in {}",
                humantime::format_duration(Duration::from_millis(*delay_ms))
            ),
        },
        Record::CrashLoop {
            service, delay_ms, ..
        } => format!(
            "{service} crash-looping: next try in {}",
            humantime::format_duration(Duration::from_millis(*delay_ms))
        ),
        Record::Failed {
            service, reason, ..
        } => format!("{service} failed: {reason}"),
        Record::Isolated { service, cause, .. } => format!("{service} isolated: {cause}"),
        Record::Stopping {
            service, because, ..
        } => format!("{service} stopping: {because}"),
        Record::ProbeFailed {
            service,
            probe,
            failures,
            reason,
        } => format!("{service} {probe} probe failed ({failures} in a row): {reason}"),
        Record::NotReady {
            service, reason, ..
        } => format!("{service} not ready: {reason}"),
        Record::ResourceWarning {
            service,
            resource,
            used,
            limit,
        } => {
            format!("{service} uses {used} of its {limit} {resource} limit")
        }
        Record::ResourceExceeded {
            service,
            resource,
            used,
            limit,
        } => {
            format!("{service} exceeded its {resource} limit ({used} of {limit})")
        }
        Record::Terminated { service } => format!("{service} stopped"),
        Record::Added { service } => format!("{service} added"),
        Record::Removed { service } => format!("{service} removed"),
        Record::GaveUp { service, reason } => {
            format!("{} gave up ({reason}) after {service}", entry.supervisor)
        }
        Record::AutoShutdown { service } => {
            format!("{} shutting down after {service}", entry.supervisor)
        }
        Record::WriteFailed {
            file,
            service,
            error,
        } => match service {
            Some(service) => {
                format!("{service}: its {file} cannot be written ({error}): holding it")
            }
            None => format!("the {file} cannot be written ({error}): holding it"),
        },
        Record::WriteRecovered {
            file,
            service,
            after_ms,
            dropped,
        } => {
            let what = match service {
                Some(service) => format!("{service}: its {file}"),
                None => format!("the {file}"),
            };
            format!(
                "{what} is written again after {} ({dropped} dropped)",
                humantime::format_duration(Duration::from_millis(*after_ms))
            )
        }
        Record::LeftoverStopped { service, pids, how } => {
            let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
            format!(
                "{service}: left running by a previous tend, {how} (pid {})",
                pids.join(", ")
            )
        }
        Record::Upgraded { from, to, kept } => format!(
            "tend upgraded from {from} to {to}: {} kept running",
            if kept.is_empty() {
                "no process".to_owned()
            } else {
                kept.join(", ")
            }
        ),
        Record::Command {
            command,
            services,
            outcome,
        } => {
            let mut line = format!("operator: {command}");
            if !services.is_empty() {
                let _ = write!(line, " {}", services.join(" "));
            }
            if let Some(outcome) = outcome {
                let _ = write!(line, " ({outcome})");
            }
            line
        }
        other => format!("{other:?}"),
    };
    format!("{at}  {what}")
}
