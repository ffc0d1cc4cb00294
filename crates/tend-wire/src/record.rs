//! What the journal keeps and the API streams: one [`Record`] per fact, an
//! [`Entry`] per kept record, and the one way a fact reads as a
//! [`Line`].

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize, Serializer};

use crate::action::Action;
use crate::exit::{Exit, GiveUp};
use crate::state::{FailReason, IsolateCause, ProbeRole};

/// A restart budget when it ran out: the restarts within its window and
/// the most it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetInfo {
    /// Restarts within the window (the refused one included).
    pub failures: u32,
    /// The most the budget allows within its window.
    pub limit: u32,
    /// The window, in milliseconds.
    pub window_ms: u64,
}

/// One fact, tagged by `kind` (snake_case) in JSON.
///
/// # Examples
///
/// ```
/// use tend_wire::{Record, RecordKind};
///
/// let record = Record::Restarting { service: "web".into(), delay_ms: 200, restarts: 1 };
/// let json = serde_json::to_value(&record).unwrap();
/// assert_eq!(json["kind"], "restarting");
/// assert_eq!(record.kind(), RecordKind::Restarting);
/// assert_eq!(record.service(), Some("web"));
/// assert_eq!(record.line("tend").to_string(), "web restarting in 200ms");
/// assert!(record.is_problem());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Record {
    /// A supervisor started its initial children.
    SupervisorStarted,
    /// A supervisor ended.
    SupervisorStopped {
        /// How.
        exit: Exit,
    },
    /// An incarnation started.
    Started {
        /// The child.
        service: String,
        /// Its incarnation number.
        generation: u64,
        /// Its OS process, if any.
        pid: Option<u32>,
        /// That process's start time in clock ticks since boot
        /// (`/proc/PID/stat` field 22): with `pid` and `boot_id`, the
        /// process exactly, which a reused pid is not. Absent in rows of
        /// older versions and for processes whose backend does not know it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_ticks: Option<u64>,
        /// The boot `start_ticks` counts from
        /// (`/proc/sys/kernel/random/boot_id`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        boot_id: Option<String>,
    },
    /// An incarnation declared itself ready.
    Ready {
        /// The child.
        service: String,
        /// Its incarnation number.
        generation: u64,
    },
    /// A ready incarnation is no longer ready; it keeps running.
    NotReady {
        /// The child.
        service: String,
        /// Its incarnation number.
        generation: u64,
        /// Why (its readiness probe, isolation, its own word).
        reason: String,
    },
    /// An incarnation failed to start.
    StartFailed {
        /// The child.
        service: String,
        /// The incarnation number tried.
        generation: u64,
        /// Why.
        exit: Exit,
    },
    /// An incarnation ended.
    Exited {
        /// The child.
        service: String,
        /// Its incarnation number.
        generation: u64,
        /// How.
        exit: Exit,
        /// How long it ran, in milliseconds.
        ran_for_ms: u64,
        /// Its OS process, if it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
    },
    /// A restart was decided.
    Restarting {
        /// The child.
        service: String,
        /// The delay before it, in milliseconds.
        delay_ms: u64,
        /// Its automatic restarts so far, this one included.
        #[serde(default)]
        restarts: u64,
    },
    /// A child's budget ran out: it waits a long delay, then tries again.
    CrashLoop {
        /// The child.
        service: String,
        /// The delay, in milliseconds.
        delay_ms: u64,
        /// Its automatic restarts so far, this one included.
        #[serde(default)]
        restarts: u64,
    },
    /// A child is given up on until an operator restarts it.
    Failed {
        /// The child.
        service: String,
        /// Why.
        reason: FailReason,
        /// How its last incarnation ended, if one ran.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<Exit>,
        /// Its restart budget, used up, when its circuit breaker opened.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget: Option<BudgetInfo>,
    },
    /// A child is isolated: kept for inspection, not restarted.
    Isolated {
        /// The child.
        service: String,
        /// Why.
        cause: IsolateCause,
        /// The exit (or fault) that led there, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<Exit>,
    },
    /// The supervisor is stopping an incarnation for a reason of its own.
    Stopping {
        /// The child.
        service: String,
        /// Its incarnation number.
        generation: u64,
        /// The exit it will be recorded with.
        because: Exit,
    },
    /// A probe failed.
    ProbeFailed {
        /// The child.
        service: String,
        /// Which probe.
        probe: ProbeRole,
        /// Failures in a row.
        failures: u32,
        /// What the check said.
        reason: String,
    },
    /// 80 % of a resource limit was crossed.
    ResourceWarning {
        /// The child.
        service: String,
        /// Which resource (`memory` in bytes, `cpu` in millicores, `pids`,
        /// …).
        resource: String,
        /// What it uses.
        used: u64,
        /// Its limit.
        limit: u64,
    },
    /// A resource limit was reached and the child is stopped.
    ResourceExceeded {
        /// The child.
        service: String,
        /// Which resource.
        resource: String,
        /// What it uses.
        used: u64,
        /// Its limit.
        limit: u64,
    },
    /// A child was stopped on request.
    Terminated {
        /// The child.
        service: String,
    },
    /// A child was added.
    Added {
        /// The child.
        service: String,
    },
    /// A child was removed.
    Removed {
        /// The child.
        service: String,
    },
    /// A supervisor gave up.
    GaveUp {
        /// The child whose exit tipped it over.
        service: String,
        /// Why.
        reason: GiveUp,
    },
    /// A significant child ended and its supervisor shuts down.
    AutoShutdown {
        /// The significant child.
        service: String,
    },
    /// Processes a previous run left running were stopped: after a `kill
    /// -9`, before this run started its own; after an upgrade, those of a
    /// service no longer configured.
    LeftoverStopped {
        /// The service they belonged to.
        service: String,
        /// Their pids.
        pids: Vec<u32>,
        /// How they ended: `stopped` (by the stop signal), `killed`, or
        /// `container removed` (a container the runtime kept running).
        how: String,
    },
    /// The daemon re-executed itself (`tend upgrade`), possibly as a new
    /// version, keeping its services' processes running.
    Upgraded {
        /// The version that handed over.
        from: String,
        /// The version that took over.
        to: String,
        /// The instances whose processes were kept running.
        kept: Vec<String>,
    },
    /// A file tend writes (the journal, a service's log) stopped taking
    /// writes: disk full, read-only or unwritable. Supervision goes on;
    /// what could not be written is held in memory.
    WriteFailed {
        /// `journal` or `log`.
        file: String,
        /// The service, for a log.
        service: Option<String>,
        /// The OS error.
        error: String,
    },
    /// The file takes writes again; what was held was written.
    WriteRecovered {
        /// `journal` or `log`.
        file: String,
        /// The service, for a log.
        service: Option<String>,
        /// How long it failed, in milliseconds.
        after_ms: u64,
        /// What was dropped meanwhile (records or lines beyond what is
        /// held in memory).
        dropped: u64,
    },
    /// The journal file was found corrupt when tend started (not a
    /// database, or damaged: SQLite's own check failed), so it was moved
    /// aside and a new file begun, whose chain this record starts. A row
    /// that was edited is not corruption: `tend journal verify` names it,
    /// and nothing moves the file.
    JournalCorrupt {
        /// Where the old file (and its `-wal`/`-shm`, if any) went:
        /// `…/journal.db.corrupt-20261206T231500Z`.
        moved_to: String,
        /// What was wrong with it, as SQLite said.
        error: String,
        /// The last row of the old file that verified, if any could be
        /// read.
        #[serde(default)]
        last_good_row: Option<i64>,
        /// That row's hash (hex).
        #[serde(default)]
        last_good_hash: Option<String>,
    },
    /// An operator asked for something (or, without an action, the
    /// journal notes something about itself).
    Command {
        /// What was asked, when an operator asked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<Action>,
        /// What was asked, for people: the action and its argument
        /// (`signal SIGHUP`, `upgrade /usr/bin/tend`).
        command: String,
        /// The services it names (none: the whole tree).
        services: Vec<String>,
        /// What came of it, when it did not simply succeed.
        outcome: Option<String>,
    },
}

vocabulary! {
    /// Which [`Record`] a fact is: its `kind` tag, as a value (for
    /// filtering: `GET /v1/events?kinds=exited,failed`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_wire::{Record, RecordKind};
    ///
    /// let kind: RecordKind = serde_json::from_str("\"crash_loop\"").unwrap();
    /// assert_eq!(kind, RecordKind::CrashLoop);
    /// assert_eq!(Record::SupervisorStarted.kind().to_string(), "supervisor_started");
    /// ```
    pub enum RecordKind {
        /// [`Record::SupervisorStarted`].
        SupervisorStarted => "supervisor_started",
        /// [`Record::SupervisorStopped`].
        SupervisorStopped => "supervisor_stopped",
        /// [`Record::Started`].
        Started => "started",
        /// [`Record::Ready`].
        Ready => "ready",
        /// [`Record::NotReady`].
        NotReady => "not_ready",
        /// [`Record::StartFailed`].
        StartFailed => "start_failed",
        /// [`Record::Exited`].
        Exited => "exited",
        /// [`Record::Restarting`].
        Restarting => "restarting",
        /// [`Record::CrashLoop`].
        CrashLoop => "crash_loop",
        /// [`Record::Failed`].
        Failed => "failed",
        /// [`Record::Isolated`].
        Isolated => "isolated",
        /// [`Record::Stopping`].
        Stopping => "stopping",
        /// [`Record::ProbeFailed`].
        ProbeFailed => "probe_failed",
        /// [`Record::ResourceWarning`].
        ResourceWarning => "resource_warning",
        /// [`Record::ResourceExceeded`].
        ResourceExceeded => "resource_exceeded",
        /// [`Record::Terminated`].
        Terminated => "terminated",
        /// [`Record::Added`].
        Added => "added",
        /// [`Record::Removed`].
        Removed => "removed",
        /// [`Record::GaveUp`].
        GaveUp => "gave_up",
        /// [`Record::AutoShutdown`].
        AutoShutdown => "auto_shutdown",
        /// [`Record::LeftoverStopped`].
        LeftoverStopped => "leftover_stopped",
        /// [`Record::Upgraded`].
        Upgraded => "upgraded",
        /// [`Record::WriteFailed`].
        WriteFailed => "write_failed",
        /// [`Record::WriteRecovered`].
        WriteRecovered => "write_recovered",
        /// [`Record::JournalCorrupt`].
        JournalCorrupt => "journal_corrupt",
        /// [`Record::Command`].
        Command => "command",
    }
}

impl Record {
    /// An operator's request: `action`, with its argument if it has one
    /// (a signal, a binary), the services it named and what came of it
    /// when it did not simply succeed.
    ///
    /// ```
    /// use tend_wire::{Action, Record};
    ///
    /// let asked = Record::command(Action::Signal, Some("SIGHUP"), vec!["web".into()], None);
    /// assert_eq!(asked.line("tend").to_string(), "operator: signal SIGHUP web");
    /// ```
    #[must_use]
    pub fn command(
        action: Action,
        argument: Option<&str>,
        services: Vec<String>,
        outcome: Option<String>,
    ) -> Record {
        Record::Command {
            action: Some(action),
            command: match argument {
                Some(argument) => format!("{action} {argument}"),
                None => action.to_string(),
            },
            services,
            outcome,
        }
    }

    /// Its `kind` tag.
    #[must_use]
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::SupervisorStarted => RecordKind::SupervisorStarted,
            Record::SupervisorStopped { .. } => RecordKind::SupervisorStopped,
            Record::Started { .. } => RecordKind::Started,
            Record::Ready { .. } => RecordKind::Ready,
            Record::NotReady { .. } => RecordKind::NotReady,
            Record::StartFailed { .. } => RecordKind::StartFailed,
            Record::Exited { .. } => RecordKind::Exited,
            Record::Restarting { .. } => RecordKind::Restarting,
            Record::CrashLoop { .. } => RecordKind::CrashLoop,
            Record::Failed { .. } => RecordKind::Failed,
            Record::Isolated { .. } => RecordKind::Isolated,
            Record::Stopping { .. } => RecordKind::Stopping,
            Record::ProbeFailed { .. } => RecordKind::ProbeFailed,
            Record::ResourceWarning { .. } => RecordKind::ResourceWarning,
            Record::ResourceExceeded { .. } => RecordKind::ResourceExceeded,
            Record::Terminated { .. } => RecordKind::Terminated,
            Record::Added { .. } => RecordKind::Added,
            Record::Removed { .. } => RecordKind::Removed,
            Record::GaveUp { .. } => RecordKind::GaveUp,
            Record::AutoShutdown { .. } => RecordKind::AutoShutdown,
            Record::LeftoverStopped { .. } => RecordKind::LeftoverStopped,
            Record::Upgraded { .. } => RecordKind::Upgraded,
            Record::WriteFailed { .. } => RecordKind::WriteFailed,
            Record::WriteRecovered { .. } => RecordKind::WriteRecovered,
            Record::JournalCorrupt { .. } => RecordKind::JournalCorrupt,
            Record::Command { .. } => RecordKind::Command,
        }
    }

    /// The service it is about, if one.
    #[must_use]
    pub fn service(&self) -> Option<&str> {
        match self {
            Record::SupervisorStarted
            | Record::SupervisorStopped { .. }
            | Record::Command { .. }
            | Record::JournalCorrupt { .. }
            | Record::Upgraded { .. } => None,
            Record::WriteFailed { service, .. } | Record::WriteRecovered { service, .. } => {
                service.as_deref()
            }
            Record::Started { service, .. }
            | Record::Ready { service, .. }
            | Record::StartFailed { service, .. }
            | Record::Exited { service, .. }
            | Record::Restarting { service, .. }
            | Record::CrashLoop { service, .. }
            | Record::Failed { service, .. }
            | Record::Isolated { service, .. }
            | Record::Stopping { service, .. }
            | Record::ProbeFailed { service, .. }
            | Record::NotReady { service, .. }
            | Record::ResourceWarning { service, .. }
            | Record::ResourceExceeded { service, .. }
            | Record::LeftoverStopped { service, .. }
            | Record::Terminated { service }
            | Record::Added { service }
            | Record::Removed { service }
            | Record::GaveUp { service, .. }
            | Record::AutoShutdown { service } => Some(service),
        }
    }

    /// Whether it tells of trouble an operator should look at: a failure,
    /// a restart, a give-up, an unhealthy or over-limit service, a file
    /// that cannot be written, a journal found corrupt. An exit is trouble
    /// when it is abnormal.
    #[must_use]
    pub fn is_problem(&self) -> bool {
        match self {
            Record::Exited { exit, .. } => exit.is_abnormal(),
            Record::StartFailed { .. }
            | Record::Restarting { .. }
            | Record::CrashLoop { .. }
            | Record::Failed { .. }
            | Record::Isolated { .. }
            | Record::GaveUp { .. }
            | Record::ProbeFailed { .. }
            | Record::NotReady { .. }
            | Record::ResourceWarning { .. }
            | Record::ResourceExceeded { .. }
            | Record::WriteFailed { .. }
            | Record::JournalCorrupt { .. } => true,
            Record::SupervisorStarted
            | Record::SupervisorStopped { .. }
            | Record::Started { .. }
            | Record::Ready { .. }
            | Record::Stopping { .. }
            | Record::Terminated { .. }
            | Record::Added { .. }
            | Record::Removed { .. }
            | Record::AutoShutdown { .. }
            | Record::LeftoverStopped { .. }
            | Record::Upgraded { .. }
            | Record::WriteRecovered { .. }
            | Record::Command { .. } => false,
        }
    }

    /// The fact as a line for people, in `supervisor` (the path of the
    /// supervisor it happened in, which a supervisor's own facts name).
    #[must_use]
    pub fn line<'a>(&'a self, supervisor: &'a str) -> Line<'a> {
        Line {
            supervisor,
            record: self,
        }
    }
}

/// A fact as one line for people, without a time: `web (pid 4242) exited
/// after 3s: error (exit code 1)`. The one wording of every fact: the
/// console of `tend up`, `tend events`, `tend-run`, `tend top`, the HTML
/// report and the dashboard (which gets it as each entry's `text`) all
/// show this.
///
/// # Examples
///
/// ```
/// use tend_wire::{FailReason, Record};
///
/// let failed = Record::Failed {
///     service: "web".into(),
///     reason: FailReason::CircuitBreakerOpen,
///     exit: None,
///     budget: None,
/// };
/// assert_eq!(failed.line("tend").to_string(), "web failed: circuit breaker open");
/// assert_eq!(Record::SupervisorStarted.line("tend/back").to_string(), "tend/back started");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    supervisor: &'a str,
    record: &'a Record,
}

/// A duration of whole milliseconds as people read it: `1s 500ms`.
fn ms(millis: u64) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_millis(millis))
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let supervisor = self.supervisor;
        match self.record {
            Record::SupervisorStarted => write!(f, "{supervisor} started"),
            Record::SupervisorStopped { exit } => write!(f, "{supervisor} stopped: {exit}"),
            Record::Started {
                service,
                generation,
                pid: Some(pid),
                ..
            } => write!(f, "{service} started (pid {pid}, generation {generation})"),
            Record::Started {
                service,
                generation,
                pid: None,
                ..
            } => write!(f, "{service} started (generation {generation})"),
            Record::Ready { service, .. } => write!(f, "{service} ready"),
            Record::NotReady {
                service, reason, ..
            } => write!(f, "{service} not ready: {reason}"),
            Record::StartFailed { service, exit, .. } => {
                write!(f, "{service} failed to start: {exit}")
            }
            Record::Exited {
                service,
                exit,
                ran_for_ms,
                pid,
                ..
            } => {
                write!(f, "{service}")?;
                if let Some(pid) = pid {
                    write!(f, " (pid {pid})")?;
                }
                write!(f, " exited after {}: {exit}", ms(*ran_for_ms))
            }
            Record::Restarting {
                service,
                delay_ms: 0,
                ..
            } => write!(f, "{service} restarting"),
            Record::Restarting {
                service, delay_ms, ..
            } => write!(f, "{service} restarting in {}", ms(*delay_ms)),
            Record::CrashLoop {
                service, delay_ms, ..
            } => write!(f, "{service} crash-looping: next try in {}", ms(*delay_ms)),
            Record::Failed {
                service, reason, ..
            } => write!(f, "{service} failed: {reason}"),
            Record::Isolated { service, cause, .. } => write!(f, "{service} isolated: {cause}"),
            Record::Stopping {
                service, because, ..
            } => write!(f, "{service} stopping: {because}"),
            Record::ProbeFailed {
                service,
                probe,
                failures,
                reason,
            } => write!(
                f,
                "{service} {probe} probe failed ({failures} in a row): {reason}"
            ),
            Record::ResourceWarning {
                service,
                resource,
                used,
                limit,
            } => write!(f, "{service} uses {used} of its {limit} {resource} limit"),
            Record::ResourceExceeded {
                service,
                resource,
                used,
                limit,
            } => write!(
                f,
                "{service} exceeded its {resource} limit ({used} of {limit})"
            ),
            Record::Terminated { service } => write!(f, "{service} stopped"),
            Record::Added { service } => write!(f, "{service} added"),
            Record::Removed { service } => write!(f, "{service} removed"),
            Record::GaveUp { service, reason } => {
                write!(f, "{supervisor} gave up ({reason}) after {service}")
            }
            Record::AutoShutdown { service } => {
                write!(f, "{supervisor} shutting down after {service}")
            }
            Record::LeftoverStopped { service, pids, how } => {
                write!(f, "{service}: left running by a previous tend, {how} (pid ")?;
                list(f, pids, ", ")?;
                f.write_str(")")
            }
            Record::Upgraded { from, to, kept } => {
                write!(f, "tend upgraded from {from} to {to}: ")?;
                if kept.is_empty() {
                    f.write_str("no process")?;
                } else {
                    list(f, kept, ", ")?;
                }
                f.write_str(" kept running")
            }
            Record::WriteFailed {
                file,
                service,
                error,
            } => {
                match service {
                    Some(service) => write!(f, "{service}: its {file}")?,
                    None => write!(f, "the {file}")?,
                }
                write!(f, " cannot be written ({error}): holding it")
            }
            Record::WriteRecovered {
                file,
                service,
                after_ms,
                dropped,
            } => {
                match service {
                    Some(service) => write!(f, "{service}: its {file}")?,
                    None => write!(f, "the {file}")?,
                }
                write!(
                    f,
                    " is written again after {} ({dropped} dropped)",
                    ms(*after_ms)
                )
            }
            Record::JournalCorrupt {
                moved_to,
                error,
                last_good_row,
                last_good_hash,
            } => {
                write!(
                    f,
                    "the journal was found corrupt ({error}) and moved to {moved_to}; "
                )?;
                match (last_good_row, last_good_hash) {
                    (Some(row), Some(hash)) => {
                        write!(f, "its last good row: {row}, hash {hash}")
                    }
                    _ => f.write_str("no good row of it could be read"),
                }
            }
            Record::Command {
                command,
                services,
                outcome,
                ..
            } => {
                write!(f, "operator: {command}")?;
                if !services.is_empty() {
                    f.write_str(" ")?;
                    list(f, services, " ")?;
                }
                match outcome {
                    Some(outcome) => write!(f, " ({outcome})"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// `items` with `between` between them.
fn list(f: &mut fmt::Formatter<'_>, items: &[impl fmt::Display], between: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(between)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// A record as kept: its row id, when, and which supervisor.
///
/// In JSON (what `GET /v1/events` and `GET /v1/watch` send) its fields are
/// flat beside the record's, with two more the server renders: `text`,
/// the entry's [`line`](Entry::line), and `problem`, whether it
/// [tells of trouble](Record::is_problem). Reading an entry ignores them.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use tend_wire::{Entry, Record};
///
/// let entry = Entry {
///     id: 7,
///     at: SystemTime::UNIX_EPOCH + Duration::from_secs(1),
///     supervisor: "tend".into(),
///     record: Record::Terminated { service: "web".into() },
/// };
/// let json = serde_json::to_value(&entry).unwrap();
/// assert_eq!(json["at"], "1970-01-01T00:00:01.000Z");
/// assert_eq!((&json["kind"], &json["service"]), (&"terminated".into(), &"web".into()));
/// assert_eq!((&json["text"], &json["problem"]), (&"web stopped".into(), &false.into()));
/// assert_eq!(serde_json::from_value::<Entry>(json).unwrap(), entry);
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Entry {
    /// The row id: increasing, gap-free unless rows were deleted.
    pub id: i64,
    /// When it happened (RFC 3339, UTC, milliseconds).
    #[serde(with = "rfc3339")]
    pub at: SystemTime,
    /// The path of the supervisor it happened in, e.g. `tend/backend`.
    pub supervisor: String,
    /// What happened.
    #[serde(flatten)]
    pub record: Record,
}

impl Entry {
    /// What happened, as a line for people (without the time).
    #[must_use]
    pub fn line(&self) -> Line<'_> {
        self.record.line(&self.supervisor)
    }
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The entry as sent: its fields, then what the server renders.
        #[derive(Serialize)]
        struct Sent<'a> {
            id: i64,
            #[serde(with = "rfc3339")]
            at: SystemTime,
            supervisor: &'a str,
            #[serde(flatten)]
            record: &'a Record,
            text: String,
            problem: bool,
        }
        let Entry {
            id,
            at,
            supervisor,
            record,
        } = self;
        Sent {
            id: *id,
            at: *at,
            supervisor,
            record,
            text: self.line().to_string(),
            problem: record.is_problem(),
        }
        .serialize(serializer)
    }
}

mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ExitKind;
    use tend_spec::ExitClass;

    fn exit() -> Exit {
        Exit {
            kind: ExitKind::Killed,
            class: ExitClass::Abnormal,
            code: None,
            signal: Some(tend_spec::Signal::Kill),
            reason: None,
        }
    }

    /// One of each kind.
    fn every_record() -> Vec<Record> {
        let service = || "web.1".to_owned();
        vec![
            Record::SupervisorStarted,
            Record::SupervisorStopped { exit: exit() },
            Record::Started {
                service: service(),
                generation: 1,
                pid: Some(42),
                start_ticks: None,
                boot_id: None,
            },
            Record::Ready {
                service: service(),
                generation: 1,
            },
            Record::NotReady {
                service: service(),
                generation: 2,
                reason: "readiness probe failed".into(),
            },
            Record::StartFailed {
                service: service(),
                generation: 1,
                exit: exit(),
            },
            Record::Exited {
                service: service(),
                generation: 1,
                exit: exit(),
                ran_for_ms: 5,
                pid: Some(4242),
            },
            Record::Restarting {
                service: service(),
                delay_ms: 100,
                restarts: 3,
            },
            Record::CrashLoop {
                service: service(),
                delay_ms: 60_000,
                restarts: 6,
            },
            Record::Failed {
                service: service(),
                reason: FailReason::CircuitBreakerOpen,
                exit: Some(exit()),
                budget: Some(BudgetInfo {
                    failures: 6,
                    limit: 5,
                    window_ms: 60_000,
                }),
            },
            Record::Isolated {
                service: service(),
                cause: IsolateCause::CrashPolicy,
                exit: Some(exit()),
            },
            Record::Stopping {
                service: service(),
                generation: 1,
                because: exit(),
            },
            Record::ProbeFailed {
                service: service(),
                probe: ProbeRole::Liveness,
                failures: 3,
                reason: "connection refused".into(),
            },
            Record::ResourceWarning {
                service: service(),
                resource: "memory".into(),
                used: 81,
                limit: 100,
            },
            Record::ResourceExceeded {
                service: service(),
                resource: "memory".into(),
                used: 101,
                limit: 100,
            },
            Record::Terminated { service: service() },
            Record::Added { service: service() },
            Record::Removed { service: service() },
            Record::GaveUp {
                service: service(),
                reason: GiveUp::IntensityReached,
            },
            Record::AutoShutdown { service: service() },
            Record::LeftoverStopped {
                service: service(),
                pids: vec![4242, 4243],
                how: "killed".into(),
            },
            Record::Upgraded {
                from: "0.1.0".into(),
                to: "0.2.0".into(),
                kept: vec![service()],
            },
            Record::WriteFailed {
                file: "log".into(),
                service: Some(service()),
                error: "No space left on device (os error 28)".into(),
            },
            Record::WriteRecovered {
                file: "journal".into(),
                service: None,
                after_ms: 5000,
                dropped: 0,
            },
            Record::JournalCorrupt {
                moved_to: ".tend/journal.db.corrupt-20261206T231500Z".into(),
                error: "file is not a database".into(),
                last_good_row: Some(41),
                last_good_hash: Some("3fa2".into()),
            },
            Record::command(Action::Restart, None, vec![service()], None),
        ]
    }

    #[test]
    fn each_kind_is_its_json_tag_and_every_kind_has_a_record_here() {
        let records = every_record();
        let kinds: Vec<RecordKind> = records.iter().map(Record::kind).collect();
        assert_eq!(kinds, RecordKind::ALL, "one sample per kind, in order");
        for record in &records {
            let json = serde_json::to_value(record).unwrap();
            assert_eq!(json["kind"], record.kind().to_string());
            assert_eq!(serde_json::to_value(record.kind()).unwrap(), json["kind"]);
            let back: Record = serde_json::from_value(json).unwrap();
            assert_eq!(&back, record);
        }
    }

    #[test]
    fn entries_carry_their_line_and_read_back_without_it() {
        for (id, record) in every_record().into_iter().enumerate() {
            let entry = Entry {
                id: id as i64 + 1,
                at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
                supervisor: "tend/back".into(),
                record,
            };
            let json = serde_json::to_value(&entry).unwrap();
            assert_eq!(json["text"], entry.line().to_string());
            assert_eq!(json["problem"], entry.record.is_problem());
            assert_eq!(serde_json::from_value::<Entry>(json).unwrap(), entry);
        }
    }

    #[test]
    fn lines_read_as_people_say_it() {
        let lines: Vec<String> = every_record()
            .iter()
            .map(|r| r.line("tend/back").to_string())
            .collect();
        assert_eq!(
            lines,
            [
                "tend/back started",
                "tend/back stopped: killed by SIGKILL",
                "web.1 started (pid 42, generation 1)",
                "web.1 ready",
                "web.1 not ready: readiness probe failed",
                "web.1 failed to start: killed by SIGKILL",
                "web.1 (pid 4242) exited after 5ms: killed by SIGKILL",
                "web.1 restarting in 100ms",
                "web.1 crash-looping: next try in 1m",
                "web.1 failed: circuit breaker open",
                "web.1 isolated: crash policy",
                "web.1 stopping: killed by SIGKILL",
                "web.1 liveness probe failed (3 in a row): connection refused",
                "web.1 uses 81 of its 100 memory limit",
                "web.1 exceeded its memory limit (101 of 100)",
                "web.1 stopped",
                "web.1 added",
                "web.1 removed",
                "tend/back gave up (restart intensity reached) after web.1",
                "tend/back shutting down after web.1",
                "web.1: left running by a previous tend, killed (pid 4242, 4243)",
                "tend upgraded from 0.1.0 to 0.2.0: web.1 kept running",
                "web.1: its log cannot be written (No space left on device (os error 28)): holding it",
                "the journal is written again after 5s (0 dropped)",
                "the journal was found corrupt (file is not a database) and moved to .tend/journal.db.corrupt-20261206T231500Z; its last good row: 41, hash 3fa2",
                "operator: restart web.1",
            ]
        );
    }

    #[test]
    fn a_corrupt_journal_of_which_nothing_could_be_read_says_so() {
        let record = Record::JournalCorrupt {
            moved_to: "journal.db.corrupt-20261206T231500Z".into(),
            error: "file is not a database".into(),
            last_good_row: None,
            last_good_hash: None,
        };
        assert_eq!(
            record.line("tend").to_string(),
            "the journal was found corrupt (file is not a database) and moved to \
             journal.db.corrupt-20261206T231500Z; no good row of it could be read"
        );
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["last_good_row"], serde_json::Value::Null);
        assert!(record.is_problem());
    }

    #[test]
    fn what_older_versions_wrote_still_reads() {
        let old = [
            r#"{"kind":"failed","service":"w","reason":"circuit-breaker-open"}"#,
            r#"{"kind":"isolated","service":"w","cause":"restart budget exhausted"}"#,
            r#"{"kind":"gave_up","service":"w","reason":"intensity-reached"}"#,
            r#"{"kind":"command","command":"signal SIGHUP","services":["w"],"outcome":null}"#,
            r#"{"kind":"exited","service":"w","generation":1,"ran_for_ms":3,"exit":{"kind":"not-available","class":"abnormal","code":null,"signal":null,"reason":null}}"#,
        ];
        for json in old {
            let record: Record =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert!(record.service().is_some() || record.kind() == RecordKind::Command);
        }
    }
}
