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
pub async fn print(mut events: tokio::sync::broadcast::Receiver<Event>, escape: bool) -> Summary {
    use tokio::sync::broadcast::error::RecvError;
    let mut summary = Summary::default();
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Some(line) = line(&event) {
                    if escape {
                        tend_process::diag!("{}", tend_wire::escape(&line));
                    } else {
                        tend_process::diag!("{line}");
                    }
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
                tend_process::diag!("tend-run: ({missed} events not shown)");
            }
            Err(RecvError::Closed) => return summary,
        }
    }
}
