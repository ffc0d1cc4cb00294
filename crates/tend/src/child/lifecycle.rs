//! The life of one child as a complete (state, event) table.
//!
//! The supervisor never assigns a [`ChildState`] directly: it feeds a
//! [`LifeEvent`] to [`on`], which either names the next state or reports the
//! pair as invalid. Every pair is written out below, so the table can be read
//! against `docs/lifecycle.md` and tested without tokio. An invalid pair is a
//! bug in the engine; tests run with debug assertions, which turn it into a
//! panic there.

use crate::state::ChildState;

/// What happens to a child, as the supervisor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum LifeEvent {
    /// A new incarnation was spawned.
    Spawn,
    /// The incarnation is confirmed started (ready, if awaited).
    Up,
    /// The supervisor asked the incarnation to stop.
    Stop,
    /// The incarnation ended (on its own, or after a stop).
    Exited,
    /// A restart is due with no delay (or a failed start is to be retried).
    Restart,
    /// A restart is due after a backoff delay.
    Delay,
    /// A restart is due after a crash-loop delay.
    CrashLoop,
    /// The backoff or crash-loop delay ran out.
    DelayElapsed,
    /// A pending restart was called off (terminate, shutdown).
    Cancel,
    /// The restart budget ran out: circuit breaker open.
    Trip,
    /// The restart budget ran out: isolate.
    Isolate,
}

/// A (state, event) pair that the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid child transition: {event:?} in state {state:?}")]
pub(crate) struct InvalidTransition {
    pub(crate) state: ChildState,
    pub(crate) event: LifeEvent,
}

/// The transition table: the next state for `event` in `state`.
pub(crate) fn on(state: ChildState, event: LifeEvent) -> Result<ChildState, InvalidTransition> {
    use ChildState as S;
    use LifeEvent as E;
    let next = match (state, event) {
        // A new incarnation starts from any state with nothing running,
        // except while a delay is pending (its expiry comes first).
        (S::Stopped | S::Restarting | S::Failed | S::Isolated, E::Spawn) => S::Starting,
        (
            S::Starting | S::Running | S::Stopping | S::BackingOff | S::CrashLoopBackOff,
            E::Spawn,
        ) => return Err(InvalidTransition { state, event }),

        (S::Starting, E::Up) => S::Running,
        (
            S::Running
            | S::Stopping
            | S::BackingOff
            | S::CrashLoopBackOff
            | S::Restarting
            | S::Stopped
            | S::Failed
            | S::Isolated,
            E::Up,
        ) => return Err(InvalidTransition { state, event }),

        (S::Starting | S::Running, E::Stop) => S::Stopping,
        (
            S::Stopping
            | S::BackingOff
            | S::CrashLoopBackOff
            | S::Restarting
            | S::Stopped
            | S::Failed
            | S::Isolated,
            E::Stop,
        ) => return Err(InvalidTransition { state, event }),

        (S::Starting | S::Running | S::Stopping, E::Exited) => S::Stopped,
        (
            S::BackingOff
            | S::CrashLoopBackOff
            | S::Restarting
            | S::Stopped
            | S::Failed
            | S::Isolated,
            E::Exited,
        ) => return Err(InvalidTransition { state, event }),

        // A restart is decided once nothing runs; retrying keeps it pending.
        (S::Stopped | S::Restarting, E::Restart) => S::Restarting,
        (S::Stopped | S::Restarting, E::Delay) => S::BackingOff,
        (S::Stopped | S::Restarting, E::CrashLoop) => S::CrashLoopBackOff,
        (
            S::Starting
            | S::Running
            | S::Stopping
            | S::BackingOff
            | S::CrashLoopBackOff
            | S::Failed
            | S::Isolated,
            E::Restart | E::Delay | E::CrashLoop,
        ) => return Err(InvalidTransition { state, event }),

        (S::BackingOff | S::CrashLoopBackOff, E::DelayElapsed) => S::Restarting,
        (
            S::Starting
            | S::Running
            | S::Stopping
            | S::Restarting
            | S::Stopped
            | S::Failed
            | S::Isolated,
            E::DelayElapsed,
        ) => return Err(InvalidTransition { state, event }),

        // Calling off a pending restart; nothing to call off is not an error.
        (S::BackingOff | S::CrashLoopBackOff | S::Restarting, E::Cancel) => S::Stopped,
        (S::Stopped, E::Cancel) => S::Stopped,
        (S::Failed, E::Cancel) => S::Failed,
        (S::Isolated, E::Cancel) => S::Isolated,
        (S::Starting | S::Running | S::Stopping, E::Cancel) => {
            return Err(InvalidTransition { state, event })
        }

        // A budget runs out on an exit, or on a retried start that failed.
        (S::Stopped | S::Restarting, E::Trip) => S::Failed,
        (S::Stopped | S::Restarting, E::Isolate) => S::Isolated,
        (
            S::Starting
            | S::Running
            | S::Stopping
            | S::BackingOff
            | S::CrashLoopBackOff
            | S::Failed
            | S::Isolated,
            E::Trip | E::Isolate,
        ) => return Err(InvalidTransition { state, event }),
    };
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [ChildState; 9] = [
        ChildState::Starting,
        ChildState::Running,
        ChildState::BackingOff,
        ChildState::CrashLoopBackOff,
        ChildState::Restarting,
        ChildState::Stopping,
        ChildState::Stopped,
        ChildState::Failed,
        ChildState::Isolated,
    ];
    const EVENTS: [LifeEvent; 11] = [
        LifeEvent::Spawn,
        LifeEvent::Up,
        LifeEvent::Stop,
        LifeEvent::Exited,
        LifeEvent::Restart,
        LifeEvent::Delay,
        LifeEvent::CrashLoop,
        LifeEvent::DelayElapsed,
        LifeEvent::Cancel,
        LifeEvent::Trip,
        LifeEvent::Isolate,
    ];

    #[test]
    fn only_exits_and_stops_leave_active_states() {
        for state in STATES.into_iter().filter(|s| s.is_active()) {
            for event in EVENTS {
                if let Ok(next) = on(state, event) {
                    assert!(
                        matches!(event, LifeEvent::Up | LifeEvent::Stop | LifeEvent::Exited),
                        "{state:?} --{event:?}--> {next:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_new_incarnation_never_starts_while_one_runs_or_a_delay_is_pending() {
        for state in STATES {
            let allowed = on(state, LifeEvent::Spawn).is_ok();
            assert_eq!(
                allowed,
                !state.is_active()
                    && !matches!(state, ChildState::BackingOff | ChildState::CrashLoopBackOff),
                "{state:?}"
            );
        }
    }

    #[test]
    fn the_usual_lives_are_valid() {
        let lives: &[&[LifeEvent]] = &[
            // crash and restart at once
            &[
                LifeEvent::Spawn,
                LifeEvent::Up,
                LifeEvent::Exited,
                LifeEvent::Restart,
                LifeEvent::Spawn,
                LifeEvent::Up,
            ],
            // crash, back off, restart
            &[
                LifeEvent::Spawn,
                LifeEvent::Up,
                LifeEvent::Exited,
                LifeEvent::Delay,
                LifeEvent::DelayElapsed,
                LifeEvent::Spawn,
            ],
            // stopped on request, later restarted by an operator
            &[
                LifeEvent::Spawn,
                LifeEvent::Up,
                LifeEvent::Stop,
                LifeEvent::Exited,
                LifeEvent::Spawn,
            ],
            // circuit breaker, then an operator restart
            &[
                LifeEvent::Spawn,
                LifeEvent::Exited,
                LifeEvent::Trip,
                LifeEvent::Spawn,
            ],
            // crash loop called off by a terminate
            &[
                LifeEvent::Spawn,
                LifeEvent::Exited,
                LifeEvent::CrashLoop,
                LifeEvent::Cancel,
            ],
        ];
        for life in lives {
            let mut state = ChildState::Stopped;
            for &event in *life {
                state = on(state, event).unwrap_or_else(|e| panic!("{life:?}: {e}"));
            }
        }
    }

    #[test]
    fn every_pair_has_an_answer_and_no_state_is_unreachable() {
        let mut reached = std::collections::HashSet::new();
        reached.insert(ChildState::Stopped);
        for state in STATES {
            for event in EVENTS {
                if let Ok(next) = on(state, event) {
                    reached.insert(next);
                }
            }
        }
        for state in STATES {
            assert!(reached.contains(&state), "{state:?} unreachable");
        }
    }
}
