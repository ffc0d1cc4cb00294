//! What the journal keeps: one [`Record`] per fact, in a stable JSON shape
//! that is also what the API streams.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tend_engine::{Event, EventKind, Exit};

/// How an incarnation ended, as data.
///
/// # Examples
///
/// ```
/// use tend_journal::ExitInfo;
///
/// let exit = ExitInfo {
///     kind: "error".into(),
///     class: "abnormal".into(),
///     code: Some(3),
///     signal: None,
///     reason: None,
/// };
/// assert_eq!(exit.to_string(), "error (exit code 3)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// What kind of end (`normal`, `error`, `killed`, `start-failure`, …).
    pub kind: String,
    /// What restart types read: `normal`, `shutdown` or `abnormal`.
    pub class: String,
    /// The process's exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that killed it, e.g. `SIGKILL`.
    pub signal: Option<String>,
    /// Prose for people.
    pub reason: Option<String>,
}

impl From<&Exit> for ExitInfo {
    fn from(exit: &Exit) -> Self {
        ExitInfo {
            kind: exit.kind().as_str().to_owned(),
            class: exit.class().as_str().to_owned(),
            code: exit.code(),
            signal: exit.signal().map(|s| s.to_string()),
            reason: exit.reason().map(str::to_owned),
        }
    }
}

impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, &self.signal) {
            (_, Some(signal)) => write!(f, "{} (killed by {signal})", self.kind)?,
            (Some(code), None) => write!(f, "{} (exit code {code})", self.kind)?,
            (None, None) => f.write_str(&self.kind)?,
        }
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        Ok(())
    }
}

/// A duration in whole milliseconds, as the journal's JSON keeps them.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

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

impl From<&tend_engine::BudgetStatus> for BudgetInfo {
    fn from(budget: &tend_engine::BudgetStatus) -> Self {
        BudgetInfo {
            failures: budget.used,
            limit: budget.max_restarts,
            window_ms: ms(budget.window),
        }
    }
}

/// One fact, tagged by `kind` (snake_case) in JSON.
///
/// # Examples
///
/// ```
/// use tend_journal::Record;
///
/// let record = Record::Restarting { service: "web".into(), delay_ms: 200, restarts: 3 };
/// let json = serde_json::to_value(&record).unwrap();
/// assert_eq!(json["kind"], "restarting");
/// assert_eq!(record.service(), Some("web"));
/// assert_eq!(record.kind(), "restarting");
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
        exit: ExitInfo,
    },
    /// An incarnation started.
    Started {
        /// The child.
        service: String,
        /// Its incarnation number.
        generation: u64,
        /// Its OS process, if any.
        pid: Option<u32>,
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
        exit: ExitInfo,
    },
    /// An incarnation ended.
    Exited {
        /// The child.
        service: String,
        /// Its incarnation number.
        generation: u64,
        /// How.
        exit: ExitInfo,
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
        /// Why (`crashed`, `circuit-breaker-open`, …).
        reason: String,
        /// How its last incarnation ended, if one ran.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<ExitInfo>,
        /// Its restart budget, used up, when its circuit breaker opened.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget: Option<BudgetInfo>,
    },
    /// A child is isolated: kept for inspection, not restarted.
    Isolated {
        /// The child.
        service: String,
        /// Why.
        cause: String,
        /// The exit (or fault) that led there, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<ExitInfo>,
    },
    /// The supervisor is stopping an incarnation for a reason of its own.
    Stopping {
        /// The child.
        service: String,
        /// Its incarnation number.
        generation: u64,
        /// The exit it will be recorded with.
        because: ExitInfo,
    },
    /// A probe failed (startup, readiness or liveness).
    ProbeFailed {
        /// The child.
        service: String,
        /// Which probe: `startup`, `readiness` or `liveness`.
        probe: String,
        /// Failures in a row.
        failures: u32,
        /// What the check said.
        reason: String,
    },
    /// 80 % of a resource limit was crossed.
    ResourceWarning {
        /// The child.
        service: String,
        /// Which resource.
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
        /// Why (`intensity-reached`, `budget-exhausted`).
        reason: String,
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
        /// The instances whose processes were kept running (journaled
        /// before their starts under the new version, which name the same
        /// pids).
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
    /// An operator asked for something.
    Command {
        /// What (`start`, `stop`, `restart`, `signal SIGHUP`, `reload`,
        /// `shutdown`, …).
        command: String,
        /// The services it names (none: the whole tree).
        services: Vec<String>,
        /// What came of it, when it did not simply succeed.
        outcome: Option<String>,
    },
}

impl Record {
    /// The record of a tree event (none for kinds the journal skips).
    #[must_use]
    pub fn from_event(event: &Event) -> Option<Record> {
        Some(match &event.kind {
            EventKind::SupervisorStarted => Record::SupervisorStarted,
            EventKind::SupervisorStopped { exit } => {
                Record::SupervisorStopped { exit: exit.into() }
            }
            EventKind::ChildStarted {
                id,
                generation,
                pid,
                ..
            } => Record::Started {
                service: id.to_string(),
                generation: *generation,
                pid: *pid,
            },
            EventKind::ChildReady { id, generation } => Record::Ready {
                service: id.to_string(),
                generation: *generation,
            },
            EventKind::ChildStartFailed {
                id,
                generation,
                exit,
                ..
            } => Record::StartFailed {
                service: id.to_string(),
                generation: *generation,
                exit: exit.into(),
            },
            EventKind::ChildExited {
                id,
                generation,
                exit,
                ran_for,
                pid,
                ..
            } => Record::Exited {
                pid: *pid,
                service: id.to_string(),
                generation: *generation,
                exit: exit.into(),
                ran_for_ms: ms(*ran_for),
            },
            EventKind::ChildRestarting {
                id,
                delay,
                restarts,
            } => Record::Restarting {
                service: id.to_string(),
                delay_ms: ms(*delay),
                restarts: *restarts,
            },
            EventKind::ChildCrashLoop {
                id,
                delay,
                restarts,
            } => Record::CrashLoop {
                service: id.to_string(),
                delay_ms: ms(*delay),
                restarts: *restarts,
            },
            EventKind::ChildFailed {
                id,
                reason,
                exit,
                budget,
            } => Record::Failed {
                service: id.to_string(),
                reason: reason.as_str().to_owned(),
                exit: exit.as_ref().map(ExitInfo::from),
                budget: budget.as_ref().map(BudgetInfo::from),
            },
            EventKind::ChildIsolated { id, cause, exit } => Record::Isolated {
                service: id.to_string(),
                cause: cause.to_string(),
                exit: exit.as_ref().map(ExitInfo::from),
            },
            EventKind::ChildStopping {
                id,
                generation,
                because,
            } => Record::Stopping {
                service: id.to_string(),
                generation: *generation,
                because: because.into(),
            },
            EventKind::ProbeFailed {
                id,
                probe,
                failures,
                reason,
                ..
            } => Record::ProbeFailed {
                service: id.to_string(),
                probe: probe.as_str().to_owned(),
                failures: *failures,
                reason: reason.to_string(),
            },
            EventKind::ChildNotReady {
                id,
                generation,
                reason,
            } => Record::NotReady {
                service: id.to_string(),
                generation: *generation,
                reason: reason.to_string(),
            },
            EventKind::ResourceWarning {
                id,
                resource,
                used,
                limit,
                ..
            } => Record::ResourceWarning {
                service: id.to_string(),
                resource: resource.as_str().to_owned(),
                used: *used,
                limit: *limit,
            },
            EventKind::ResourceExceeded {
                id,
                resource,
                used,
                limit,
                ..
            } => Record::ResourceExceeded {
                service: id.to_string(),
                resource: resource.as_str().to_owned(),
                used: *used,
                limit: *limit,
            },
            EventKind::ChildTerminated { id } => Record::Terminated {
                service: id.to_string(),
            },
            EventKind::ChildAdded { id } => Record::Added {
                service: id.to_string(),
            },
            EventKind::ChildRemoved { id } => Record::Removed {
                service: id.to_string(),
            },
            EventKind::GaveUp { offender, reason } => Record::GaveUp {
                service: offender.to_string(),
                reason: reason.as_str().to_owned(),
            },
            EventKind::AutoShutdown { trigger } => Record::AutoShutdown {
                service: trigger.to_string(),
            },
            _ => return None,
        })
    }

    /// The service it is about, if one.
    #[must_use]
    pub fn service(&self) -> Option<&str> {
        match self {
            Record::SupervisorStarted
            | Record::SupervisorStopped { .. }
            | Record::Command { .. }
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

    /// Its `kind` tag, as in JSON.
    #[must_use]
    pub fn kind(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
            .unwrap_or_default()
    }
}

/// A record as kept: its row id, when, and which supervisor.
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
/// use tend_journal::{Journal, Record};
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut journal = Journal::open(dir.path().join("journal.db")).unwrap();
/// let written = journal.append([(SystemTime::now(), "root", &Record::SupervisorStarted)]).unwrap();
/// let entry = &written[0];
/// assert_eq!((entry.id, entry.supervisor.as_str()), (1, "root"));
/// assert_eq!(entry.record, Record::SupervisorStarted);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
