//! One line on stderr per lifecycle event, worded as every screen of tend
//! words it.

use std::collections::HashMap;

use tend_engine::{Event, EventKind};
use tend_wire::Record;

/// Formats an event as one line, or `None` for events not worth a line.
pub fn line(event: &Event) -> Option<String> {
    let record = Record::try_from(event).ok()?;
    let shown = matches!(
        record,
        Record::Started { .. }
            | Record::Exited { .. }
            | Record::StartFailed { .. }
            | Record::Restarting { .. }
            | Record::Stopping { .. }
            | Record::Failed { .. }
            | Record::Isolated { .. }
            | Record::CrashLoop { .. }
            | Record::ResourceWarning { .. }
            | Record::GaveUp { .. }
            | Record::SupervisorStopped { .. }
    );
    shown.then(|| format!("tend-run: {}", record.line(&event.supervisor)))
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
/// event), and sums up how the children ended. With `escape` (standard
/// error is a terminal, no `--raw`) their control characters are shown
/// escaped: a line may carry the command's words (a reason).
///
/// The lines of the events queued when it wakes go out as one diagnostic
/// write, and it lets them gather a moment before it looks again (a
/// restart is three events; issue 26).
pub async fn print(mut events: tokio::sync::broadcast::Receiver<Event>, escape: bool) -> Summary {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    let mut summary = Summary::default();
    let mut lines = String::new();
    loop {
        let mut next = Some(events.recv().await.map_err(|e| match e {
            RecvError::Lagged(missed) => TryRecvError::Lagged(missed),
            RecvError::Closed => TryRecvError::Closed,
        }));
        let mut stopped = false;
        while let Some(received) = next.take() {
            match received {
                Ok(event) => {
                    if let Some(line) = line(&event) {
                        if escape {
                            lines.push_str(&tend_wire::escape(&line));
                        } else {
                            lines.push_str(&line);
                        }
                        lines.push('\n');
                    }
                    match event.kind {
                        EventKind::ChildExited { id, exit, .. } => {
                            summary.failed.insert(id.to_string(), exit.is_abnormal());
                        }
                        EventKind::SupervisorStopped { .. } => stopped = true,
                        _ => {}
                    }
                }
                Err(TryRecvError::Lagged(missed)) => {
                    lines.push_str(&format!("tend-run: ({missed} events not shown)\n"));
                }
                Err(TryRecvError::Closed) => stopped = true,
                Err(TryRecvError::Empty) => {}
            }
            if !stopped && lines.len() < 64 * 1024 {
                next = Some(events.try_recv());
                if matches!(next, Some(Err(TryRecvError::Empty))) {
                    next = None;
                }
            }
        }
        if !lines.is_empty() {
            tend_process::diag::write(lines.as_bytes());
            lines.clear();
        }
        if stopped {
            return summary;
        }
        // Let a storm's events gather: one wake-up per a few milliseconds'
        // worth, not one per event.
        tokio::time::sleep(GATHER).await;
    }
}

/// How long event lines gather before the next are taken (issue 26).
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);
