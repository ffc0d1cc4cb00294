//! One line on stderr per lifecycle event.

use std::collections::HashMap;
use std::io::Write;

use tend_engine::{Event, EventKind};

/// Formats an event as one line, or `None` for events not worth a line.
pub fn line(event: &Event) -> Option<String> {
    let text = match &event.kind {
        EventKind::ChildStarted {
            id,
            generation,
            pid,
            ..
        } => match pid {
            Some(pid) => format!("{id}: started (run {generation}, pid {pid})"),
            None => format!("{id}: started (run {generation})"),
        },
        EventKind::ChildExited {
            id, exit, ran_for, ..
        } => {
            format!(
                "{id}: exited after {}: {exit}",
                humantime::format_duration(round(*ran_for))
            )
        }
        EventKind::ChildStartFailed { id, exit, .. } => {
            format!("{id}: failed to start: {exit}")
        }
        EventKind::ChildRestarting { id, delay, .. } if delay.is_zero() => {
            format!("{id}: restarting")
        }
        EventKind::ChildRestarting { id, delay, .. } => {
            format!(
                "{id}: restarting in {}",
                humantime::format_duration(round(*delay))
            )
        }
        EventKind::ChildStopping { id, because, .. } => format!("{id}: stopping: {because}"),
        EventKind::ChildFailed { id, reason, .. } => format!("{id}: failed for good: {reason}"),
        EventKind::ChildIsolated { id, cause, .. } => format!("{id}: isolated ({cause})"),
        EventKind::ChildCrashLoop { id, delay, .. } => format!(
            "{id}: crash loop, next try in {}",
            humantime::format_duration(round(*delay))
        ),
        EventKind::ResourceWarning {
            id,
            resource,
            used,
            limit,
            ..
        } => format!("{id}: {resource} at {used} of {limit}"),
        EventKind::GaveUp { offender, reason } => {
            format!("giving up because of {offender}: {reason}")
        }
        EventKind::SupervisorStopped { exit } => format!("stopped: {exit}"),
        _ => return None,
    };
    Some(format!("tend-run: {text}"))
}

fn round(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(d.as_millis() as u64)
}

/// What the run came to, from the events.
#[derive(Debug, Default)]
pub struct Summary {
    /// The last exit of some child was abnormal.
    pub failed: HashMap<String, bool>,
}

impl Summary {
    /// Whether any child's last exit was a failure.
    pub fn any_failed(&self) -> bool {
        self.failed.values().any(|&failed| failed)
    }
}

/// Prints event lines to stderr until the supervisor has stopped (its last
/// event), and sums up how the children ended.
pub async fn print(mut events: tokio::sync::broadcast::Receiver<Event>) -> Summary {
    use tokio::sync::broadcast::error::RecvError;
    let mut summary = Summary::default();
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Some(line) = line(&event) {
                    let _ = writeln!(std::io::stderr().lock(), "{line}");
                }
                match event.kind {
                    EventKind::ChildExited { id, exit, .. } => {
                        summary.failed.insert(id.to_string(), exit.is_abnormal());
                    }
                    EventKind::SupervisorStopped { .. } => return summary,
                    _ => {}
                }
            }
            Err(RecvError::Lagged(missed)) => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "tend-run: ({missed} events not shown)"
                );
            }
            Err(RecvError::Closed) => return summary,
        }
    }
}
