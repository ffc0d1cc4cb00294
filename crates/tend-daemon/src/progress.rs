//! Start-up progress: how many instances are up, and which wait on which
//! dependency. `tend up` prints it until everything started, in the
//! foreground and after `-d` alike.

use std::fmt;
use std::time::Instant;

use tend_wire::{ExitKind, ServiceStatus, State};

/// Where a start-up stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Instances in all.
    pub total: usize,
    /// Running or completed.
    pub up: usize,
    /// Spawned, not ready yet.
    pub starting: Vec<String>,
    /// Not started yet, with no dependency to wait for (their
    /// supervisor is about to start them).
    pub pending: Vec<String>,
    /// Waiting for dependencies: the instance and what it waits for
    /// (`db (ready)`).
    pub waiting: Vec<(String, Vec<String>)>,
    /// Failed or given up on.
    pub failed: Vec<String>,
    /// Exited and waiting out a backoff before it is started again (not
    /// up: a service failing at start must not read as started).
    pub restarting: Vec<String>,
    /// Of `restarting`, how many wait to retry a start that failed before
    /// their process ran (no program, no descriptor left): start-up is not
    /// over until they run, are given up on (their start limit) or the
    /// root gives up. A service that ran and crashed does not hold it.
    pub retrying_start: usize,
}

/// How many waits a progress line names before it says "and N more".
const NAMED: usize = 4;

impl Progress {
    /// The progress `status` shows.
    #[must_use]
    pub fn of(status: &[ServiceStatus]) -> Progress {
        let mut progress = Progress {
            total: status.len(),
            up: 0,
            starting: Vec::new(),
            pending: Vec::new(),
            waiting: Vec::new(),
            failed: Vec::new(),
            restarting: Vec::new(),
            retrying_start: 0,
        };
        for s in status {
            match s.state {
                // A service awaited for readiness is `starting` until ready.
                State::Running | State::Completed => progress.up += 1,
                State::Starting => progress.starting.push(s.name.clone()),
                State::Pending if s.waiting_for.is_empty() => progress.pending.push(s.name.clone()),
                State::Pending => progress.waiting.push((
                    s.name.clone(),
                    s.waiting_for.iter().map(ToString::to_string).collect(),
                )),
                State::Failed | State::Isolated => progress.failed.push(s.name.clone()),
                State::Restarting | State::BackingOff | State::CrashLoopBackOff => {
                    if s.last_exit
                        .as_ref()
                        .is_some_and(|exit| exit.kind == ExitKind::StartFailure)
                    {
                        progress.retrying_start += 1;
                    }
                    progress.restarting.push(s.name.clone());
                }
                // Stopping or stopped: started once, and now in an
                // operator's or its restart type's hands.
                _ => progress.up += 1,
            }
        }
        progress
    }

    /// Whether start-up is over: nothing waits, is still starting or
    /// retries a start that failed.
    #[must_use]
    pub fn settled(&self) -> bool {
        self.starting.is_empty()
            && self.pending.is_empty()
            && self.waiting.is_empty()
            && self.retrying_start == 0
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} up", self.up, self.total)?;
        if !self.starting.is_empty() {
            write!(f, "; starting: {}", named(&self.starting))?;
        }
        if !self.pending.is_empty() {
            write!(f, "; pending: {}", named(&self.pending))?;
        }
        if !self.waiting.is_empty() {
            let waits: Vec<String> = self
                .waiting
                .iter()
                .map(|(name, on)| format!("{name} on {}", on.join(" and ")))
                .collect();
            write!(f, "; waiting: {}", named(&waits))?;
        }
        if !self.restarting.is_empty() {
            write!(f, "; restarting: {}", named(&self.restarting))?;
        }
        if !self.failed.is_empty() {
            write!(f, "; failed: {}", named(&self.failed))?;
        }
        Ok(())
    }
}

/// Start-up as it goes, for a loop that looks at the status now and then:
/// the lines worth printing, each once.
#[derive(Debug)]
pub struct Follow {
    started: Instant,
    last: String,
    said: bool,
    always_conclude: bool,
}

impl Follow {
    /// Following from now. With `always_conclude`, the line that says
    /// start-up is over comes even when nothing was said before it (for
    /// `up -d`, whose user waits for it); without, a start that is over at
    /// the first look says nothing.
    #[must_use]
    pub fn new(always_conclude: bool) -> Follow {
        Follow {
            started: Instant::now(),
            last: String::new(),
            said: false,
            always_conclude,
        }
    }

    /// The line to print for `status`, if any: `starting: …` when it
    /// changed, `started in … s: …` once start-up is over; and whether it
    /// is over.
    pub fn look(&mut self, status: &[ServiceStatus]) -> (Option<String>, bool) {
        let progress = Progress::of(status);
        if progress.settled() {
            let line = (self.said || self.always_conclude).then(|| {
                format!(
                    "started in {:.1} s: {progress}",
                    self.started.elapsed().as_secs_f64()
                )
            });
            return (line, true);
        }
        let line = progress.to_string();
        if line == self.last {
            return (None, false);
        }
        self.said = true;
        self.last.clone_from(&line);
        (Some(format!("starting: {line}")), false)
    }
}

/// The first few names, then how many more.
fn named(names: &[String]) -> String {
    if names.len() <= NAMED {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..NAMED].join(", "),
        names.len() - NAMED
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tend_engine::Condition;
    use tend_wire::Waiting;

    fn status(name: &str, state: State, ready: bool, waits: &[&str]) -> ServiceStatus {
        ServiceStatus {
            state,
            ready,
            waiting_for: waits
                .iter()
                .map(|w| Waiting {
                    service: (*w).to_owned(),
                    condition: Condition::Ready,
                })
                .collect(),
            ..ServiceStatus::pending(name, name, None)
        }
    }

    #[test]
    fn says_who_is_up_starting_and_waiting_on_what() {
        let progress = Progress::of(&[
            status("db", State::Starting, false, &[]),
            status("api", State::Pending, false, &["db"]),
            status("web", State::Pending, false, &["api", "db"]),
            status("setup", State::Completed, false, &[]),
            status("cache", State::Running, false, &[]),
        ]);
        assert!(!progress.settled());
        assert_eq!(
            progress.to_string(),
            "2/5 up; starting: db; waiting: api on db (ready), web on api (ready) and db (ready)"
        );
        let queued = Progress::of(&[
            status("db", State::Pending, false, &[]),
            status("api", State::Pending, false, &["db"]),
        ]);
        assert!(!queued.settled());
        assert_eq!(
            queued.to_string(),
            "0/2 up; pending: db; waiting: api on db (ready)",
            "a pending instance waits on nothing: it is not said to"
        );
        let done = Progress::of(&[
            status("db", State::Running, true, &[]),
            status("x", State::Failed, false, &[]),
            status("bad", State::BackingOff, false, &[]),
        ]);
        assert!(
            done.settled(),
            "a service failing at start does not hold it"
        );
        assert_eq!(
            done.to_string(),
            "1/3 up; restarting: bad; failed: x",
            "nor is it said to be up"
        );
        // One whose process could not even be made (no descriptor left)
        // retries its start: the root may yet give up, so `up -d` waits.
        let mut unspawned = status("s7", State::BackingOff, false, &[]);
        unspawned.last_exit = Some(tend_wire::Exit {
            kind: ExitKind::StartFailure,
            class: tend_wire::ExitClass::Abnormal,
            code: None,
            signal: None,
            reason: Some("Too many open files".into()),
        });
        let retrying = Progress::of(&[status("db", State::Running, true, &[]), unspawned]);
        assert!(!retrying.settled(), "a start being retried holds it");
        assert_eq!(retrying.to_string(), "1/2 up; restarting: s7");
    }

    #[test]
    fn following_says_each_change_once_then_the_end() {
        let waiting = [status("db", State::Starting, false, &[])];
        let up = [status("db", State::Running, true, &[])];
        let mut follow = Follow::new(false);
        assert_eq!(
            follow.look(&waiting),
            (Some("starting: 0/1 up; starting: db".into()), false)
        );
        assert_eq!(follow.look(&waiting), (None, false), "said once");
        let (end, over) = follow.look(&up);
        assert!(over && end.unwrap().ends_with(" s: 1/1 up"));
        assert_eq!(
            Follow::new(false).look(&up),
            (None, true),
            "nothing to tell"
        );
        let (end, over) = Follow::new(true).look(&up);
        assert!(
            over && end.unwrap().starts_with("started in"),
            "up -d always concludes"
        );
    }

    #[test]
    fn long_lists_are_cut() {
        let many: Vec<ServiceStatus> = (0..10)
            .map(|i| status(&format!("s{i}"), State::Starting, false, &[]))
            .collect();
        assert_eq!(
            Progress::of(&many).to_string(),
            "0/10 up; starting: s0, s1, s2, s3 and 6 more"
        );
    }
}
