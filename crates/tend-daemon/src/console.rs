//! The lifecycle lines `tend up` prints beside the services' output: one
//! per start, exit, restart decision, failure and give-up, worded as every
//! other screen words them.

use std::collections::HashSet;
use std::time::Duration;

use tend_engine::Event;
use tend_wire::Record;
use tokio::sync::broadcast;

use crate::board::Board;
use crate::life::Life;
use crate::progress::Follow;

/// How often start-up progress is looked at; a line is printed only when
/// it changed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Prints start-up progress (who is up, who waits on what) while it
/// changes, then one line once everything started. Nothing for a start
/// that settles within the first look: the lifecycle lines said it all.
pub fn progress(board: Board, life: Life, coloured: bool) {
    tokio::spawn(async move {
        let mut follow = Follow::new(false);
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            if life.is_closing() {
                return;
            }
            let (line, over) = follow.look(&board.status(false));
            if let Some(line) = line {
                say(coloured, &line);
            }
            if over {
                return;
            }
        }
    });
}

/// One line on standard error; on a terminal, its control characters
/// escaped (a line may carry a service's words, as a reason).
fn say(coloured: bool, line: &str) {
    // Asked once (an `ioctl`), not for every line of a restart storm.
    static TERMINAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let escaped;
    let line = if *TERMINAL.get_or_init(|| std::io::IsTerminal::is_terminal(&std::io::stderr())) {
        escaped = tend_wire::escape(line);
        &*escaped
    } else {
        line
    };
    if coloured {
        tend_process::diag!("\x1b[1mtend |\x1b[0m {line}");
    } else {
        tend_process::diag!("tend | {line}");
    }
}

/// Prints the tree's lifecycle to standard error until the stream ends:
/// each fact worth a line as every other screen words it
/// ([`Record::line`]).
pub fn print(mut events: broadcast::Receiver<Event>, coloured: bool) {
    tokio::spawn(async move {
        // The children that run a process: a group's or a replica set's
        // supervisor ending is told by its give-up, not as an "exit".
        let mut processes = HashSet::new();
        loop {
            match events.recv().await {
                Ok(event) => {
                    let Ok(record) = Record::try_from(&event) else {
                        continue;
                    };
                    let shown = match &record {
                        Record::Started {
                            service,
                            pid: Some(_),
                            ..
                        } => {
                            processes.insert((event.supervisor.clone(), service.clone()));
                            true
                        }
                        Record::Exited { service, .. } => {
                            processes.remove(&(event.supervisor.clone(), service.clone()))
                        }
                        Record::StartFailed { .. }
                        | Record::Restarting { .. }
                        | Record::CrashLoop { .. }
                        | Record::Failed { .. }
                        | Record::Isolated { .. }
                        | Record::ResourceWarning { .. }
                        | Record::GaveUp { .. } => true,
                        _ => false,
                    };
                    if shown {
                        say(coloured, &record.line(&event.supervisor).to_string());
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tend_process::diag!("tend | ({n} events not shown)")
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
            // In a storm, let events gather before the next look: a wake-up
            // per few milliseconds' worth, not per event (issue 26).
            if events.is_empty() {
                tokio::time::sleep(GATHER).await;
            }
        }
    });
}

/// How long lifecycle events gather between two looks.
const GATHER: Duration = Duration::from_millis(2);
