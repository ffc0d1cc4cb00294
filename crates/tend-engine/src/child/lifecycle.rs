//! The life of one child as a complete (state, event) table.
//!
//! The supervisor never assigns a [`ChildState`] directly: it feeds a
//! [`LifeEvent`] to [`on`], which either names the next state or reports the
//! pair as invalid. Every pair is written out below, so the table can be read
//! against `docs/lifecycle.md` and tested without tokio. An invalid pair is a
//! bug in the engine; tests run with debug assertions, which turn it into a
//! panic there.

use crate::exit::{Exit, ExitClass, ExitKind};
use crate::state::{ChildState, FailReason};

/// Where an incarnation's end leaves its child, before the supervisor
/// decides what follows (a restart, or nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Ending {
    /// It ended normally (or a nested supervisor auto-shut-down).
    Completed,
    /// It ended after a stop request, or shut itself down.
    Shutdown,
    /// It failed, for this reason (a nested supervisor that gave up too).
    Failed(FailReason),
}

impl Ending {
    /// Where `exit` leaves its child.
    pub(crate) fn of(exit: &Exit) -> Ending {
        match (exit.kind(), exit.class()) {
            (ExitKind::GaveUp(_), _) => Ending::Failed(FailReason::GaveUp),
            (ExitKind::AutoShutdown, _) | (_, ExitClass::Normal) => Ending::Completed,
            (_, ExitClass::Shutdown) => Ending::Shutdown,
            (kind, ExitClass::Abnormal) => Ending::Failed(FailReason::of(kind)),
        }
    }

    fn state(self) -> ChildState {
        match self {
            Ending::Completed => ChildState::Completed,
            Ending::Shutdown => ChildState::Shutdown,
            Ending::Failed(reason) => ChildState::Failed(reason),
        }
    }
}

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
    Exited(Ending),
    /// A restart is due with no delay (or a failed start is to be retried).
    Restart,
    /// A restart is due after a backoff delay.
    Delay,
    /// A restart is due after a crash-loop delay.
    CrashLoop,
    /// The backoff or crash-loop delay ran out.
    DelayElapsed,
    /// Due to start again without a restart of its own: with a sibling
    /// whose restart stopped it, or at an operator's request. It waits for
    /// its turn (OTP's `undefined` pid).
    Queue,
    /// A pending restart was called off (terminate, shutdown).
    Cancel,
    /// The child is given up on: its crash policy, an open circuit breaker,
    /// a backend that is not available.
    GiveUp(FailReason),
    /// The child is isolated: its crash policy, or its budget ran out.
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
    let invalid = Err(InvalidTransition { state, event });
    let next = match (state, event) {
        // A new incarnation starts from any state with nothing running,
        // except while a delay is pending (its expiry comes first).
        (
            S::Pending | S::Restarting | S::Completed | S::Shutdown | S::Failed(_) | S::Isolated,
            E::Spawn,
        ) => S::Starting,
        (
            S::Starting | S::Running | S::Stopping | S::BackingOff | S::CrashLoopBackOff,
            E::Spawn,
        ) => return invalid,

        (S::Starting, E::Up) => S::Running,
        (
            S::Pending
            | S::Running
            | S::Stopping
            | S::BackingOff
            | S::CrashLoopBackOff
            | S::Restarting
            | S::Completed
            | S::Shutdown
            | S::Failed(_)
            | S::Isolated,
            E::Up,
        ) => return invalid,

        // An isolated child may still run (kept for debugging): a stop
        // ends that incarnation.
        (S::Starting | S::Running | S::Isolated, E::Stop) => S::Stopping,
        (
            S::Pending
            | S::Stopping
            | S::BackingOff
            | S::CrashLoopBackOff
            | S::Restarting
            | S::Completed
            | S::Shutdown
            | S::Failed(_),
            E::Stop,
        ) => return invalid,

        // The end of an incarnation says where the child rests.
        (S::Starting | S::Running | S::Stopping, E::Exited(ending)) => ending.state(),
        // The end of an incarnation kept running in isolation leaves it
        // isolated: nothing restarts it but an operator.
        (S::Isolated, E::Exited(_)) => S::Isolated,
        (
            S::Pending
            | S::BackingOff
            | S::CrashLoopBackOff
            | S::Restarting
            | S::Completed
            | S::Shutdown
            | S::Failed(_),
            E::Exited(_),
        ) => return invalid,

        // A restart is decided from where an ended incarnation left its
        // child, or again while one is due (a retried start). An isolated
        // child is kept as it is: no strategy restarts it.
        (S::Completed | S::Shutdown | S::Failed(_) | S::Restarting, E::Restart) => S::Restarting,
        (S::Completed | S::Shutdown | S::Failed(_) | S::Restarting, E::Delay) => S::BackingOff,
        (S::Completed | S::Shutdown | S::Failed(_) | S::Restarting, E::CrashLoop) => {
            S::CrashLoopBackOff
        }
        (
            S::Pending
            | S::Starting
            | S::Running
            | S::Stopping
            | S::BackingOff
            | S::CrashLoopBackOff
            | S::Isolated,
            E::Restart | E::Delay | E::CrashLoop,
        ) => return invalid,

        (S::BackingOff | S::CrashLoopBackOff, E::DelayElapsed) => S::Restarting,
        (
            S::Pending
            | S::Starting
            | S::Running
            | S::Stopping
            | S::Restarting
            | S::Completed
            | S::Shutdown
            | S::Failed(_)
            | S::Isolated,
            E::DelayElapsed,
        ) => return invalid,

        // Due to start again, from where a child rests (a sibling's restart
        // stopped it, or an operator asked); it waits for its turn.
        (S::Pending | S::Completed | S::Shutdown | S::Failed(_) | S::Isolated, E::Queue) => {
            S::Pending
        }
        (
            S::Starting
            | S::Running
            | S::Stopping
            | S::BackingOff
            | S::CrashLoopBackOff
            | S::Restarting,
            E::Queue,
        ) => return invalid,

        // Calling off a pending restart, or a start waiting for its turn or
        // its dependencies, leaves the child shut down; with nothing
        // pending, it is not an error and changes nothing.
        (S::Pending | S::BackingOff | S::CrashLoopBackOff | S::Restarting, E::Cancel) => {
            S::Shutdown
        }
        (S::Completed | S::Shutdown | S::Failed(_) | S::Isolated, E::Cancel) => state,
        (S::Starting | S::Running | S::Stopping, E::Cancel) => return invalid,

        // Giving up happens after an exit, on a retried start, or before a
        // start (a backend that is not available, a dependency that failed);
        // isolating after an exit, on a retried start, or while it runs.
        (
            S::Pending | S::Completed | S::Shutdown | S::Failed(_) | S::Restarting,
            E::GiveUp(reason),
        ) => S::Failed(reason),
        (
            S::Starting
            | S::Running
            | S::Stopping
            | S::BackingOff
            | S::CrashLoopBackOff
            | S::Isolated,
            E::GiveUp(_),
        ) => return invalid,
        (S::Completed | S::Shutdown | S::Failed(_) | S::Restarting, E::Isolate) => S::Isolated,
        // An unhealthy incarnation isolated by `on_unhealthy = isolate`
        // keeps running.
        (S::Starting | S::Running, E::Isolate) => S::Isolated,
        (
            S::Pending | S::Stopping | S::BackingOff | S::CrashLoopBackOff | S::Isolated,
            E::Isolate,
        ) => return invalid,
    };
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRASHED: FailReason = FailReason::Crashed;
    const STATES: [ChildState; 11] = ChildState::ALL;
    const EVENTS: [LifeEvent; 14] = [
        LifeEvent::Spawn,
        LifeEvent::Up,
        LifeEvent::Stop,
        LifeEvent::Exited(Ending::Completed),
        LifeEvent::Exited(Ending::Shutdown),
        LifeEvent::Exited(Ending::Failed(CRASHED)),
        LifeEvent::Restart,
        LifeEvent::Delay,
        LifeEvent::CrashLoop,
        LifeEvent::DelayElapsed,
        LifeEvent::Queue,
        LifeEvent::Cancel,
        LifeEvent::GiveUp(FailReason::CircuitBreakerOpen),
        LifeEvent::Isolate,
    ];

    #[test]
    fn only_exits_stops_and_isolation_leave_active_states() {
        for state in STATES.into_iter().filter(|s| s.is_active()) {
            for event in EVENTS {
                if let Ok(next) = on(state, event) {
                    assert!(
                        matches!(
                            event,
                            LifeEvent::Up
                                | LifeEvent::Stop
                                | LifeEvent::Exited(_)
                                | LifeEvent::Isolate
                        ),
                        "{state:?} --{event:?}--> {next:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_exit_always_comes_to_rest() {
        for state in STATES.into_iter().filter(|s| s.is_active()) {
            for ending in [
                Ending::Completed,
                Ending::Shutdown,
                Ending::Failed(FailReason::Linked),
            ] {
                let next = on(state, LifeEvent::Exited(ending)).unwrap();
                assert!(
                    next.is_at_rest() && next != ChildState::Isolated,
                    "{next:?}"
                );
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
    fn no_strategy_restarts_an_isolated_child() {
        for event in [LifeEvent::Restart, LifeEvent::Delay, LifeEvent::CrashLoop] {
            assert!(on(ChildState::Isolated, event).is_err());
        }
    }

    #[test]
    fn where_exits_leave_a_child() {
        use crate::exit::GiveUp;
        let cases = [
            (Exit::normal(), ChildState::Completed),
            (Exit::shutdown("asked"), ChildState::Shutdown),
            (
                Exit::failed("boom"),
                ChildState::Failed(FailReason::Crashed),
            ),
            (
                Exit::from(ExitKind::Watchdog),
                ChildState::Failed(FailReason::Unhealthy),
            ),
            (
                Exit::from(ExitKind::GaveUp(GiveUp::IntensityReached)),
                ChildState::Failed(FailReason::GaveUp),
            ),
            (Exit::from(ExitKind::AutoShutdown), ChildState::Completed),
            (Exit::failed("x").into_shutdown(), ChildState::Shutdown),
        ];
        for (exit, want) in cases {
            let next = on(ChildState::Running, LifeEvent::Exited(Ending::of(&exit)));
            assert_eq!(next, Ok(want), "{exit}");
        }
    }

    #[test]
    fn the_usual_lives_are_valid() {
        let crash = LifeEvent::Exited(Ending::Failed(CRASHED));
        let lives: &[(&[LifeEvent], ChildState)] = &[
            // crash and restart at once
            (
                &[
                    LifeEvent::Spawn,
                    LifeEvent::Up,
                    crash,
                    LifeEvent::Restart,
                    LifeEvent::Spawn,
                    LifeEvent::Up,
                ],
                ChildState::Running,
            ),
            // crash, back off, restart
            (
                &[
                    LifeEvent::Spawn,
                    LifeEvent::Up,
                    crash,
                    LifeEvent::Delay,
                    LifeEvent::DelayElapsed,
                    LifeEvent::Spawn,
                ],
                ChildState::Starting,
            ),
            // stopped on request, later restarted by an operator
            (
                &[
                    LifeEvent::Spawn,
                    LifeEvent::Up,
                    LifeEvent::Stop,
                    LifeEvent::Exited(Ending::Shutdown),
                    LifeEvent::Spawn,
                ],
                ChildState::Starting,
            ),
            // a transient child completes
            (
                &[
                    LifeEvent::Spawn,
                    LifeEvent::Up,
                    LifeEvent::Exited(Ending::Completed),
                ],
                ChildState::Completed,
            ),
            // circuit breaker
            (
                &[
                    LifeEvent::Spawn,
                    crash,
                    LifeEvent::GiveUp(FailReason::CircuitBreakerOpen),
                ],
                ChildState::Failed(FailReason::CircuitBreakerOpen),
            ),
            // crash policy isolate, then an operator restart
            (
                &[
                    LifeEvent::Spawn,
                    LifeEvent::Up,
                    crash,
                    LifeEvent::Isolate,
                    LifeEvent::Spawn,
                ],
                ChildState::Starting,
            ),
            // crash loop called off by a terminate
            (
                &[
                    LifeEvent::Spawn,
                    crash,
                    LifeEvent::CrashLoop,
                    LifeEvent::Cancel,
                ],
                ChildState::Shutdown,
            ),
            // a backend that is not available, before any start
            (
                &[LifeEvent::GiveUp(FailReason::NotAvailable)],
                ChildState::Failed(FailReason::NotAvailable),
            ),
        ];
        for (life, end) in lives {
            let mut state = ChildState::Pending;
            for &event in *life {
                state = on(state, event).unwrap_or_else(|e| panic!("{life:?}: {e}"));
            }
            assert_eq!(state, *end, "{life:?}");
        }
    }

    /// `docs/lifecycle.md` shows this table; every cell must say what `on`
    /// does.
    #[test]
    fn the_documented_table_is_this_table() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/lifecycle.md"
        ))
        .expect("docs/lifecycle.md");
        let cells = |line: &str| -> Vec<String> {
            line.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('*').to_string())
                .collect()
        };
        let header = doc
            .lines()
            .find(|l| l.starts_with("| state \\ event"))
            .expect("the table's header");
        let events: Vec<LifeEvent> = cells(header)[1..]
            .iter()
            .map(|name| match name.as_str() {
                "Spawn" => LifeEvent::Spawn,
                "Up" => LifeEvent::Up,
                "Stop" => LifeEvent::Stop,
                "Exited" => LifeEvent::Exited(Ending::Failed(FailReason::Linked)),
                "Restart" => LifeEvent::Restart,
                "Delay" => LifeEvent::Delay,
                "CrashLoop" => LifeEvent::CrashLoop,
                "DelayElapsed" => LifeEvent::DelayElapsed,
                "Queue" => LifeEvent::Queue,
                "Cancel" => LifeEvent::Cancel,
                "GiveUp(r)" => LifeEvent::GiveUp(FailReason::CircuitBreakerOpen),
                "Isolate" => LifeEvent::Isolate,
                other => panic!("unknown event column {other}"),
            })
            .collect();
        assert_eq!(events.len(), 12, "a column per event");
        let mut rows = 0;
        for line in doc.lines().filter(|l| l.starts_with("| **")) {
            let row = cells(line);
            let state = STATES
                .into_iter()
                .find(|s| {
                    let name = format!("{s:?}");
                    name == row[0] || (row[0] == "Failed(r)" && name.starts_with("Failed"))
                })
                .unwrap_or_else(|| panic!("unknown state row {}", row[0]));
            for (event, cell) in events.iter().zip(&row[1..]) {
                let documented = match cell.as_str() {
                    "—" => None,
                    "rest" => Some(ChildState::Failed(FailReason::Linked)),
                    "Failed(r)" | "Failed(r')" => Some(match event {
                        LifeEvent::GiveUp(reason) => ChildState::Failed(*reason),
                        _ => state,
                    }),
                    name => Some(
                        STATES
                            .into_iter()
                            .find(|s| format!("{s:?}") == name)
                            .unwrap_or_else(|| panic!("unknown state {name}")),
                    ),
                };
                assert_eq!(
                    on(state, *event).ok(),
                    documented,
                    "docs/lifecycle.md, row {state:?}, column {event:?}"
                );
            }
            rows += 1;
        }
        assert_eq!(rows, STATES.len(), "a row per state");
    }

    #[test]
    fn every_pair_has_an_answer_and_no_state_is_unreachable() {
        let mut reached = std::collections::HashSet::new();
        reached.insert(ChildState::Pending);
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
