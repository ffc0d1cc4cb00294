use std::time::{Duration, Instant};

use tend_spec::StartLimit;

use super::RestartWindow;
use crate::exit::{Exit, ExitKind};

/// The running part of a [`StartLimit`]: when the failed starts of the
/// current run happened. Pure: the caller passes each end and the time.
/// The window is the one intensity and budgets use.
#[derive(Debug, Clone)]
pub(crate) struct StartLimitState {
    window: RestartWindow,
}

impl StartLimitState {
    pub(crate) fn new(limit: &StartLimit) -> Self {
        StartLimitState {
            // `burst` failed starts end it: the window refuses the
            // `max + 1`-th.
            window: RestartWindow::new(limit.burst.saturating_sub(1), limit.interval),
        }
    }

    /// Notes how an incarnation ended after running `ran_for`; `true` when
    /// this failed start reaches the limit. An end that is not a failed
    /// start ends the run of them.
    pub(crate) fn note(
        &mut self,
        limit: &StartLimit,
        exit: &Exit,
        ran_for: Duration,
        now: Instant,
    ) -> bool {
        if !is_failed_start(limit, exit, ran_for) {
            self.window.clear();
            return false;
        }
        !self.window.try_add(now)
    }

    /// Forgets the failed starts (an operator starts the child again).
    pub(crate) fn reset(&mut self) {
        self.window.clear();
    }
}

/// Whether an end is a failed start: the incarnation never got up (a start
/// failure), or ended abnormally within `settle` of its start.
pub(crate) fn is_failed_start(limit: &StartLimit, exit: &Exit, ran_for: Duration) -> bool {
    exit.kind() == ExitKind::StartFailure || (exit.is_abnormal() && ran_for < limit.settle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn limit() -> StartLimit {
        StartLimit::new(3, Duration::from_secs(60))
    }

    fn start_failure() -> Exit {
        Exit::new(ExitKind::StartFailure, "no such file")
    }

    #[test]
    fn what_counts_as_a_failed_start() {
        let l = limit();
        let long = Duration::from_secs(3600);
        assert!(is_failed_start(&l, &start_failure(), long));
        assert!(is_failed_start(
            &l,
            &Exit::new(ExitKind::Error, "exit 1"),
            Duration::ZERO
        ));
        assert!(is_failed_start(
            &l,
            &Exit::new(ExitKind::Panic, "boom"),
            SEC / 2
        ));
        // A crash after it settled is the restart budget's business.
        assert!(!is_failed_start(
            &l,
            &Exit::new(ExitKind::Error, "exit 1"),
            SEC
        ));
        // A clean end at once is not failing.
        assert!(!is_failed_start(&l, &Exit::normal(), Duration::ZERO));
        assert!(!is_failed_start(
            &l,
            &Exit::shutdown("asked"),
            Duration::ZERO
        ));
    }

    #[test]
    fn burst_failed_starts_within_the_interval_reach_it() {
        let l = limit();
        let mut state = StartLimitState::new(&l);
        let t0 = Instant::now();
        let failed = start_failure();
        assert!(!state.note(&l, &failed, Duration::ZERO, t0));
        assert!(!state.note(&l, &failed, Duration::ZERO, t0 + SEC));
        assert!(state.note(&l, &failed, Duration::ZERO, t0 + 2 * SEC));
    }

    #[test]
    fn failed_starts_spaced_wider_than_the_interval_never_reach_it() {
        let l = limit();
        let mut state = StartLimitState::new(&l);
        let t0 = Instant::now();
        for n in 0..20 {
            assert!(!state.note(&l, &start_failure(), Duration::ZERO, t0 + n * 31 * SEC));
        }
    }

    #[test]
    fn a_start_that_held_or_a_reset_ends_the_run() {
        let l = limit();
        let mut state = StartLimitState::new(&l);
        let t0 = Instant::now();
        let failed = start_failure();
        assert!(!state.note(&l, &failed, Duration::ZERO, t0));
        assert!(!state.note(&l, &failed, Duration::ZERO, t0));
        assert!(!state.note(&l, &Exit::new(ExitKind::Error, "late"), 5 * SEC, t0));
        assert!(!state.note(&l, &failed, Duration::ZERO, t0));
        assert!(!state.note(&l, &failed, Duration::ZERO, t0));
        state.reset();
        assert!(!state.note(&l, &failed, Duration::ZERO, t0));
        assert!(!state.note(&l, &failed, Duration::ZERO, t0));
        assert!(state.note(&l, &failed, Duration::ZERO, t0));
    }

    #[test]
    fn a_burst_of_one_ends_at_the_first_failed_start() {
        let l = StartLimit::new(1, SEC);
        let mut state = StartLimitState::new(&l);
        assert!(state.note(&l, &start_failure(), Duration::ZERO, Instant::now()));
    }
}
