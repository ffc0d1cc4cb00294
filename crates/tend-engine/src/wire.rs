//! The engine's facts in the output vocabulary ([`tend_wire`]): every
//! conversion from an engine type into the types the journal keeps and the
//! daemon's API sends, in one place, each an exhaustive match (a new state,
//! reason or kind does not compile until it is given its word).

use std::time::Duration;

use tend_wire as wire;

use crate::event::{Event, EventKind};
use crate::exit::{Exit, ExitKind, GiveUp};
use crate::state::{BudgetStatus, ChildKind, ChildState, FailReason, IsolateCause, ProbeRole};

impl From<ChildState> for wire::State {
    fn from(state: ChildState) -> Self {
        match state {
            ChildState::Pending => wire::State::Pending,
            ChildState::Starting => wire::State::Starting,
            ChildState::Running => wire::State::Running,
            ChildState::Stopping => wire::State::Stopping,
            ChildState::BackingOff => wire::State::BackingOff,
            ChildState::CrashLoopBackOff => wire::State::CrashLoopBackOff,
            ChildState::Restarting => wire::State::Restarting,
            ChildState::Completed => wire::State::Completed,
            ChildState::Shutdown => wire::State::Shutdown,
            ChildState::Failed(_) => wire::State::Failed,
            ChildState::Isolated => wire::State::Isolated,
        }
    }
}

impl From<FailReason> for wire::FailReason {
    fn from(reason: FailReason) -> Self {
        match reason {
            FailReason::Crashed => wire::FailReason::Crashed,
            FailReason::ResourceExceeded => wire::FailReason::ResourceExceeded,
            FailReason::Unhealthy => wire::FailReason::Unhealthy,
            FailReason::Linked => wire::FailReason::Linked,
            FailReason::StartFailed => wire::FailReason::StartFailed,
            FailReason::NotAvailable => wire::FailReason::NotAvailable,
            FailReason::CircuitBreakerOpen => wire::FailReason::CircuitBreakerOpen,
            FailReason::GaveUp => wire::FailReason::GaveUp,
            FailReason::StartLimit => wire::FailReason::StartLimit,
            FailReason::DependencyFailed => wire::FailReason::DependencyFailed,
        }
    }
}

/// Back from the wire: a resting state handed over to a new image of the
/// daemon (`tend upgrade`) is the engine's again.
impl From<wire::FailReason> for FailReason {
    fn from(reason: wire::FailReason) -> Self {
        match reason {
            wire::FailReason::Crashed => FailReason::Crashed,
            wire::FailReason::ResourceExceeded => FailReason::ResourceExceeded,
            wire::FailReason::Unhealthy => FailReason::Unhealthy,
            wire::FailReason::Linked => FailReason::Linked,
            wire::FailReason::StartFailed => FailReason::StartFailed,
            wire::FailReason::NotAvailable => FailReason::NotAvailable,
            wire::FailReason::CircuitBreakerOpen => FailReason::CircuitBreakerOpen,
            wire::FailReason::GaveUp => FailReason::GaveUp,
            wire::FailReason::StartLimit => FailReason::StartLimit,
            wire::FailReason::DependencyFailed => FailReason::DependencyFailed,
        }
    }
}

impl From<IsolateCause> for wire::IsolateCause {
    fn from(cause: IsolateCause) -> Self {
        match cause {
            IsolateCause::CrashPolicy => wire::IsolateCause::CrashPolicy,
            IsolateCause::BudgetExhausted => wire::IsolateCause::BudgetExhausted,
            IsolateCause::Unhealthy => wire::IsolateCause::Unhealthy,
        }
    }
}

impl From<ProbeRole> for wire::ProbeRole {
    fn from(role: ProbeRole) -> Self {
        match role {
            ProbeRole::Startup => wire::ProbeRole::Startup,
            ProbeRole::Readiness => wire::ProbeRole::Readiness,
            ProbeRole::Liveness => wire::ProbeRole::Liveness,
        }
    }
}

impl From<GiveUp> for wire::GiveUp {
    fn from(reason: GiveUp) -> Self {
        match reason {
            GiveUp::IntensityReached => wire::GiveUp::IntensityReached,
            GiveUp::BudgetExhausted => wire::GiveUp::BudgetExhausted,
        }
    }
}

impl From<ChildKind> for wire::NodeKind {
    fn from(kind: ChildKind) -> Self {
        match kind {
            ChildKind::Worker => wire::NodeKind::Service,
            ChildKind::Supervisor => wire::NodeKind::Supervisor,
        }
    }
}

/// The kind's word; what the engine's kind says beyond it (which backend,
/// which resource, why a supervisor gave up) goes to the front of the
/// wire exit's reason.
impl From<ExitKind> for wire::ExitKind {
    fn from(kind: ExitKind) -> Self {
        match kind {
            ExitKind::Normal => wire::ExitKind::Normal,
            ExitKind::Shutdown => wire::ExitKind::Shutdown,
            ExitKind::Error => wire::ExitKind::Error,
            ExitKind::Panic => wire::ExitKind::Panic,
            ExitKind::Killed => wire::ExitKind::Killed,
            ExitKind::StartFailure => wire::ExitKind::StartFailure,
            ExitKind::NotAvailable(_) => wire::ExitKind::NotAvailable,
            ExitKind::ResourceExceeded(_) => wire::ExitKind::ResourceExceeded,
            ExitKind::Unhealthy => wire::ExitKind::Unhealthy,
            ExitKind::Watchdog => wire::ExitKind::Watchdog,
            ExitKind::Linked => wire::ExitKind::Linked,
            ExitKind::GaveUp(_) => wire::ExitKind::GaveUp,
            ExitKind::AutoShutdown => wire::ExitKind::AutoShutdown,
        }
    }
}

/// What an exit's kind says beyond its word.
fn detail(kind: ExitKind) -> Option<String> {
    match kind {
        ExitKind::NotAvailable(backend) => Some(backend.to_string()),
        ExitKind::ResourceExceeded(resource) => Some(resource.to_string()),
        ExitKind::GaveUp(reason) => Some(wire::GiveUp::from(reason).to_string()),
        ExitKind::Normal
        | ExitKind::Shutdown
        | ExitKind::Error
        | ExitKind::Panic
        | ExitKind::Killed
        | ExitKind::StartFailure
        | ExitKind::Unhealthy
        | ExitKind::Watchdog
        | ExitKind::Linked
        | ExitKind::AutoShutdown => None,
    }
}

impl From<&Exit> for wire::Exit {
    fn from(exit: &Exit) -> Self {
        let reason = match (detail(exit.kind()), exit.reason()) {
            (Some(detail), Some(reason)) => Some(format!("{detail}, {reason}")),
            (Some(detail), None) => Some(detail),
            (None, reason) => reason.map(str::to_owned),
        };
        wire::Exit {
            kind: exit.kind().into(),
            class: exit.class(),
            code: exit.code(),
            signal: exit.signal(),
            reason,
        }
    }
}

impl From<&BudgetStatus> for wire::BudgetInfo {
    fn from(budget: &BudgetStatus) -> Self {
        wire::BudgetInfo {
            failures: budget.used,
            limit: budget.max_restarts,
            window_ms: ms(budget.window),
        }
    }
}

/// A duration in whole milliseconds, as the wire keeps them.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// An [`Event`] the output vocabulary has no [`Record`](wire::Record) for
/// (so the journal does not keep it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unrecorded;

impl TryFrom<&Event> for wire::Record {
    type Error = Unrecorded;

    fn try_from(event: &Event) -> Result<Self, Unrecorded> {
        let service = |id: &crate::id::ChildId| id.to_string();
        Ok(match &event.kind {
            EventKind::SupervisorStarted => wire::Record::SupervisorStarted,
            EventKind::SupervisorStopped { exit } => {
                wire::Record::SupervisorStopped { exit: exit.into() }
            }
            EventKind::ChildStarted {
                id,
                generation,
                pid,
                pid_start_ticks,
                ..
            } => wire::Record::Started {
                service: service(id),
                generation: *generation,
                pid: *pid,
                start_ticks: *pid_start_ticks,
                boot_id: pid_start_ticks.and_then(|_| boot_id()),
            },
            EventKind::ChildReady { id, generation } => wire::Record::Ready {
                service: service(id),
                generation: *generation,
            },
            EventKind::ChildNotReady {
                id,
                generation,
                reason,
            } => wire::Record::NotReady {
                service: service(id),
                generation: *generation,
                reason: reason.to_string(),
            },
            EventKind::ChildStartFailed {
                id,
                generation,
                exit,
                ..
            } => wire::Record::StartFailed {
                service: service(id),
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
            } => wire::Record::Exited {
                service: service(id),
                generation: *generation,
                exit: exit.into(),
                ran_for_ms: ms(*ran_for),
                pid: *pid,
            },
            EventKind::ChildRestarting {
                id,
                delay,
                restarts,
            } => wire::Record::Restarting {
                service: service(id),
                delay_ms: ms(*delay),
                restarts: *restarts,
            },
            EventKind::ChildCrashLoop {
                id,
                delay,
                restarts,
            } => wire::Record::CrashLoop {
                service: service(id),
                delay_ms: ms(*delay),
                restarts: *restarts,
            },
            EventKind::ChildFailed {
                id,
                reason,
                exit,
                budget,
            } => wire::Record::Failed {
                service: service(id),
                reason: (*reason).into(),
                exit: exit.as_ref().map(wire::Exit::from),
                budget: budget.as_ref().map(wire::BudgetInfo::from),
            },
            EventKind::ChildIsolated { id, cause, exit } => wire::Record::Isolated {
                service: service(id),
                cause: (*cause).into(),
                exit: exit.as_ref().map(wire::Exit::from),
            },
            EventKind::ChildStopping {
                id,
                generation,
                because,
            } => wire::Record::Stopping {
                service: service(id),
                generation: *generation,
                because: because.into(),
            },
            EventKind::ProbeFailed {
                id,
                probe,
                failures,
                reason,
                ..
            } => wire::Record::ProbeFailed {
                service: service(id),
                probe: (*probe).into(),
                failures: *failures,
                reason: reason.to_string(),
            },
            EventKind::ResourceWarning {
                id,
                resource,
                used,
                limit,
                ..
            } => wire::Record::ResourceWarning {
                service: service(id),
                resource: resource.to_string(),
                used: *used,
                limit: *limit,
            },
            EventKind::ResourceExceeded {
                id,
                resource,
                used,
                limit,
                ..
            } => wire::Record::ResourceExceeded {
                service: service(id),
                resource: resource.to_string(),
                used: *used,
                limit: *limit,
            },
            EventKind::ChildTerminated { id } => wire::Record::Terminated {
                service: service(id),
            },
            EventKind::ChildAdded { id } => wire::Record::Added {
                service: service(id),
            },
            EventKind::ChildRemoved { id } => wire::Record::Removed {
                service: service(id),
            },
            EventKind::GaveUp { offender, reason } => wire::Record::GaveUp {
                service: service(offender),
                reason: (*reason).into(),
            },
            EventKind::AutoShutdown { trigger } => wire::Record::AutoShutdown {
                service: service(trigger),
            },
            // Kinds added since: not journaled until given a record.
            #[allow(unreachable_patterns)]
            _ => return Err(Unrecorded),
        })
    }
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), read once: journaled
/// with a process's start ticks, which count from this boot.
fn boot_id() -> Option<String> {
    static BOOT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT.get_or_init(|| {
        let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(id.trim().to_owned()).filter(|id| !id.is_empty())
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Resource;
    use tend_spec::{Backend, Signal};

    #[test]
    fn an_exit_reads_the_same_in_the_engine_and_on_the_wire() {
        let exits = [
            Exit::normal(),
            Exit::failed("connection refused"),
            Exit::from(ExitKind::Error).with_code(3),
            Exit::from(ExitKind::Killed).with_signal(Signal::Kill),
            Exit::from(ExitKind::Shutdown).with_signal(Signal::Term),
            Exit::from(ExitKind::Watchdog).with_reason("no keep-alive"),
            Exit::from(ExitKind::StartFailure),
            Exit::from(ExitKind::Panic).with_reason("boom"),
        ];
        for exit in &exits {
            let sent = wire::Exit::from(exit);
            assert_eq!(sent.to_string(), exit.to_string());
            assert_eq!((sent.class, sent.code), (exit.class(), exit.code()));
        }
    }

    #[test]
    fn what_a_kind_says_beyond_its_word_leads_the_reason() {
        let over = Exit::new(ExitKind::ResourceExceeded(Resource::Memory), "101 of 100");
        assert_eq!(
            wire::Exit::from(&over).to_string(),
            "resource exceeded: memory, 101 of 100"
        );
        let missing = Exit::from(ExitKind::NotAvailable(Backend::Wasm));
        assert_eq!(
            wire::Exit::from(&missing).reason.as_deref(),
            Some(Backend::Wasm.to_string().as_str())
        );
        let gave_up = Exit::from(ExitKind::GaveUp(GiveUp::IntensityReached));
        assert_eq!(
            wire::Exit::from(&gave_up).to_string(),
            "gave up: restart intensity reached"
        );
    }

    #[test]
    fn every_state_and_reason_has_its_word() {
        let words: std::collections::BTreeSet<wire::State> =
            ChildState::ALL.into_iter().map(wire::State::from).collect();
        assert_eq!(words.into_iter().collect::<Vec<_>>(), wire::State::ALL);
        for reason in wire::FailReason::ALL {
            assert_eq!(wire::FailReason::from(FailReason::from(*reason)), *reason);
        }
    }
}
