//! The lifecycle lines `tend up` prints beside the services' output: one
//! per start, exit, restart decision, failure and give-up.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tend_engine::{Event, EventKind};
use tokio::sync::broadcast;

use crate::control::Control;
use crate::progress::Follow;

/// How often start-up progress is looked at; a line is printed only when
/// it changed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Prints start-up progress (who is up, who waits on what) while it
/// changes, then one line once everything started. Nothing for a start
/// that settles within the first look: the lifecycle lines said it all.
pub fn progress(control: Arc<Control>, coloured: bool) {
    tokio::spawn(async move {
        let mut follow = Follow::new(false);
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            if *control.closing().borrow() {
                return;
            }
            let (line, over) = follow.look(&control.status(false).await);
            if let Some(line) = line {
                say(coloured, &line);
            }
            if over {
                return;
            }
        }
    });
}

fn say(coloured: bool, line: &str) {
    if coloured {
        eprintln!("\x1b[1mtend |\x1b[0m {line}");
    } else {
        eprintln!("tend | {line}");
    }
}

/// Prints the tree's lifecycle to standard error until the stream ends.
pub fn print(mut events: broadcast::Receiver<Event>, coloured: bool) {
    tokio::spawn(async move {
        // The children that run a process: a group's or a replica set's
        // supervisor ending is told by its give-up, not as an "exit".
        let mut processes = HashSet::new();
        loop {
            match events.recv().await {
                Ok(event) => {
                    match &event.kind {
                        EventKind::ChildStarted {
                            id, pid: Some(_), ..
                        } => {
                            processes.insert((event.supervisor.clone(), id.clone()));
                        }
                        EventKind::ChildExited { id, .. }
                            if !processes.remove(&(event.supervisor.clone(), id.clone())) =>
                        {
                            continue;
                        }
                        _ => {}
                    }
                    if let Some(line) = describe(&event) {
                        say(coloured, &line);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("tend | ({n} events not shown)")
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

fn describe(event: &Event) -> Option<String> {
    Some(match &event.kind {
        EventKind::ChildStarted {
            id, pid: Some(pid), ..
        } => format!("{id} started (pid {pid})"),
        EventKind::ChildStartFailed { id, exit, .. } => format!("{id} failed to start: {exit}"),
        EventKind::ChildExited { id, exit, .. } => format!("{id} exited: {exit}"),
        EventKind::ChildRestarting { id, delay, .. } if delay.is_zero() => {
            format!("{id} restarting")
        }
        EventKind::ChildRestarting { id, delay, .. } => {
            format!(
                "{id} restarting in {}",
                humantime::format_duration(round(*delay))
            )
        }
        EventKind::ChildCrashLoop { id, delay, .. } => {
            format!(
                "{id} crash-looping: next try in {}",
                humantime::format_duration(round(*delay))
            )
        }
        EventKind::ChildFailed { id, reason, .. } => format!("{id} failed: {reason}"),
        EventKind::ChildIsolated { id, cause, .. } => format!("{id} isolated ({cause})"),
        EventKind::ResourceWarning {
            id,
            resource,
            used,
            limit,
            ..
        } => {
            format!("{id} uses {used} of its {limit} {resource} limit")
        }
        EventKind::GaveUp { offender, reason } => {
            format!("{} gave up ({reason}, after {offender})", event.supervisor)
        }
        _ => return None,
    })
}

fn round(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(d.as_millis() as u64)
}
