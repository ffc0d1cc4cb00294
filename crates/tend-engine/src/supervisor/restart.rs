//! What follows an incarnation's end that nobody asked for, or a failed
//! start: the crash policy, the restart type, then, for a restart, the
//! child's start limit (failed starts), its own budget, its backoff, the supervisor's intensity and the
//! strategy. A failed start is an exit like any other, except where OTP
//! answers a caller instead, under OTP's order: a failure during the
//! supervisor's own start stops what started and fails that start; a
//! `start_child` that fails keeps no spec; a `restart_child` that fails
//! leaves the child failed. The caller of a start is always told how it
//! ended.
//!
//! The strategy runs in two phases, as OTP's `restart/3`: *stop* the siblings
//! it concerns (reverse start order; temporary ones are dropped), then
//! *start* the group: the child and every sibling stopped, as one wave of
//! the start machine (`start.rs`), under OTP's order one after another in
//! start order. With a delay the wave is held until the delay ends. A start
//! that fails is an exit like any other, so a failed restart is restarted
//! again (OTP's `try_again_restart`) and counts toward intensity, while the
//! loop serves commands between attempts.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use tend_spec::{AutoShutdown, CrashPolicy, OnExhausted, OnUnhealthy, Restart, Strategy};
use tokio::time::Instant;

use super::children::Restarted;
use super::incarnation::{not_ready_within, Awaiter, Halt};
use super::server::{Init, Server};
use crate::child::lifecycle::LifeEvent;
use crate::error::{ControlError, StartError};
use crate::event::EventKind;
use crate::exit::{Exit, ExitClass, ExitKind, GiveUp};
use crate::id::ChildId;
use crate::state::{ChildState, FailReason, IsolateCause};
use crate::status::Isolation;
use crate::tree::ChildKey;

/// What a child's own restart budget says about a restart that is due.
enum Budget {
    /// Within the budget (or none).
    Allows,
    /// Exhausted, with this consequence.
    Exhausted(OnExhausted),
}

impl Server {
    /// An incarnation ended on its own: record it and decide what follows.
    /// The end of one that was still starting (a concurrent start) is a
    /// failed start; the end of one kept running in isolation is only
    /// recorded.
    pub(crate) async fn on_exit(
        &mut self,
        key: ChildKey,
        generation: u64,
        exit: Exit,
    ) -> Option<Exit> {
        let now = Instant::now();
        let state = self.children.table.get(key)?.state();
        let exit = match state {
            ChildState::Starting => exit.into_start_failure(),
            _ => exit,
        };
        // An exit of an incarnation that is no longer current is ignored.
        let ran_for = self
            .children
            .record_exit_of(key, generation, exit.clone(), now)?;
        match state {
            ChildState::Isolated => None,
            ChildState::Starting => {
                self.children
                    .note_failed_start(key, generation, exit.clone());
                self.failed_start(key, exit, ran_for).await
            }
            _ => {
                // What binds to it goes down with it, and comes back once
                // it is up again.
                self.stop_bound(key).await;
                self.after_exit(key, &exit, ran_for, now).await
            }
        }
    }

    /// A running incarnation was found faulty: stop it by its shutdown spec,
    /// record `fault` as its end, and go on as after any exit nobody asked
    /// for. An unhealthy one under `on_unhealthy = isolate` is isolated
    /// instead, still running.
    pub(crate) async fn on_fault(
        &mut self,
        key: ChildKey,
        generation: u64,
        fault: Exit,
    ) -> Option<Exit> {
        let child = self.children.table.get(key)?;
        if !(child.is_current(generation) && child.state().is_active()) {
            return None;
        }
        let unhealthy = matches!(fault.kind(), ExitKind::Unhealthy | ExitKind::Watchdog);
        let starting = child.state() == ChildState::Starting;
        if unhealthy && child.spec.options.on_unhealthy == OnUnhealthy::Isolate && !starting {
            self.isolate_running(key, generation, fault);
            return None;
        }
        if starting {
            let fault = fault.into_start_failure();
            self.children
                .note_failed_start(key, generation, fault.clone());
            let ran_for = self.children.stop_for(key, fault.clone(), Halt::Ask).await;
            return self.failed_start(key, fault, ran_for).await;
        }
        self.stop_faulty(key, fault, Halt::Ask).await
    }

    /// Stops the running incarnation of `key` (by its shutdown spec, or at
    /// once), records `fault`, and decides what follows.
    pub(crate) async fn stop_faulty(
        &mut self,
        key: ChildKey,
        fault: Exit,
        halt: Halt,
    ) -> Option<Exit> {
        self.stop_bound(key).await;
        let ran_for = self.children.stop_for(key, fault.clone(), halt).await;
        self.after_exit(key, &fault, ran_for, Instant::now()).await
    }

    /// What follows an end nobody asked for, once it is recorded: a backend
    /// that is not available fails the child for good; an abnormal exit goes
    /// to the crash policy; then the restart type decides (OTP).
    pub(crate) async fn after_exit(
        &mut self,
        key: ChildKey,
        exit: &Exit,
        ran_for: Duration,
        now: Instant,
    ) -> Option<Exit> {
        let child = self.children.table.get(key)?;
        let (restart, on_crash) = (child.spec.restart, child.spec.on_crash);
        if let ExitKind::NotAvailable(_) = exit.kind() {
            self.children.fail(key, FailReason::NotAvailable);
            return self.given_up(key).await;
        }
        if exit.is_abnormal() {
            match on_crash {
                CrashPolicy::Restart => {}
                CrashPolicy::Shutdown => {
                    self.children.fail(key, FailReason::of(exit.kind()));
                    return self.given_up(key).await;
                }
                CrashPolicy::Isolate => {
                    self.isolate(key, IsolateCause::CrashPolicy);
                    return self.given_up(key).await;
                }
            }
        }
        if restart.restarts_after(exit.class()) {
            if self.start_limit_reached(key, exit, ran_for, now) {
                // Its own matter: no restart, so nothing toward intensity,
                // and no sibling is touched.
                self.children.fail(key, FailReason::StartLimit);
                return self.given_up(key).await;
            }
            let clean = exit.class() == ExitClass::Normal;
            return self.restart(key, ran_for, clean, now).await;
        }
        // Not restarted: a temporary spec goes, others are kept (OTP's
        // `del_child`).
        let ended = self.ended_for_good(key);
        self.children.drop_if_temporary(key);
        self.consider_auto_shutdown(ended).await
    }

    /// Whether `exit`, after a run of `ran_for`, is a failed start that
    /// reaches the child's start limit (it has none: never).
    fn start_limit_reached(
        &mut self,
        key: ChildKey,
        exit: &Exit,
        ran_for: Duration,
        now: Instant,
    ) -> bool {
        let Some(child) = self.children.table.get_mut(key) else {
            return false;
        };
        match (child.spec.options.start_limit, child.start_limit.as_mut()) {
            (Some(limit), Some(state)) => state.note(&limit, exit, ran_for, now.into_std()),
            _ => false,
        }
    }

    /// A child given up on (its crash policy, its budget, its backend) is
    /// kept, whatever its restart type; then auto-shutdown is considered.
    async fn given_up(&mut self, key: ChildKey) -> Option<Exit> {
        let ended = self.ended_for_good(key);
        self.consider_auto_shutdown(ended).await
    }

    /// The child, if it is significant: it ended and is not restarted.
    fn ended_for_good(&self, key: ChildKey) -> Option<ChildId> {
        let child = self.children.table.get(key)?;
        child.spec.significant.then(|| child.id().clone())
    }

    /// OTP's auto-shutdown, after the significant child `ended` (if any)
    /// ended for good.
    async fn consider_auto_shutdown(&mut self, ended: Option<ChildId>) -> Option<Exit> {
        let id = ended?;
        if self.auto_shutdown_due() {
            self.children
                .emit(|| EventKind::AutoShutdown { trigger: id });
            let exit = Exit::from(ExitKind::AutoShutdown);
            return Some(self.children.stop_all(exit).await.exit);
        }
        None
    }

    /// OTP's `do_auto_shutdown`, once the significant child's spec was
    /// updated.
    fn auto_shutdown_due(&self) -> bool {
        match self.settings.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .table
                .records()
                .any(|c| c.spec.significant && c.is_alive()),
        }
    }

    /// Isolates a child: kept as it is, not restarted, its hook run with
    /// its last exit.
    fn isolate(&mut self, key: ChildKey, cause: IsolateCause) {
        let last = self
            .children
            .table
            .get(key)
            .and_then(|c| c.last_run())
            .map(|last| (last.generation, last.exit.clone()));
        self.mark_isolated(key, cause, last);
    }

    /// Isolates an unhealthy incarnation that keeps running for debugging:
    /// its probes stop, it is not ready, its hook runs with `fault`.
    fn isolate_running(&mut self, key: ChildKey, generation: u64, fault: Exit) {
        let Some(child) = self.children.table.get(key) else {
            return;
        };
        if let Some(sentinel) = child.running.as_ref().and_then(|r| r.sentinel.as_ref()) {
            sentinel.abort();
        }
        let reason: std::sync::Arc<str> = format!("isolated: {fault}").into();
        self.children.on_not_ready(key, generation, reason);
        self.mark_isolated(key, IsolateCause::Unhealthy, Some((generation, fault)));
    }

    /// Marks a child isolated for `cause`, runs its hook with the
    /// incarnation and exit that led there (if any), and tells.
    fn mark_isolated(&mut self, key: ChildKey, cause: IsolateCause, ran: Option<(u64, Exit)>) {
        let Some(child) = self.children.table.get(key) else {
            return;
        };
        child.stats.given_up();
        let id = child.id().clone();
        self.children.table.apply(key, LifeEvent::Isolate);
        let exit = ran.as_ref().map(|(_, exit)| exit.clone());
        if let Some((generation, exit)) = ran {
            self.run_isolate_hook(key, generation, cause, exit);
        }
        self.children
            .emit(|| EventKind::ChildIsolated { id, cause, exit });
    }

    /// Runs the child's `on_isolate` hooks, if it has any, each on a task of
    /// its own (a panic in one is logged).
    fn run_isolate_hook(&self, key: ChildKey, generation: u64, cause: IsolateCause, exit: Exit) {
        let Some(child) = self.children.table.get(key) else {
            return;
        };
        for hook in &child.spec.options.on_isolate {
            let id = child.id().clone();
            let isolation = Isolation {
                supervisor: self.children.shared.links.path.clone(),
                id: id.clone(),
                generation,
                cause,
                exit: exit.clone(),
            };
            let run = hook(isolation);
            tokio::spawn(async move {
                if AssertUnwindSafe(run).catch_unwind().await.is_err() {
                    tracing::error!(child = %id, "the on_isolate hook panicked");
                }
            });
        }
    }

    /// A restart of `key` is due after an exit. `ran_for` is how long the
    /// last incarnation ran, for backoff's reset; `clean` says it ended
    /// normally (a permanent child that exits on purpose is not failing).
    pub(crate) async fn restart(
        &mut self,
        key: ChildKey,
        ran_for: Duration,
        clean: bool,
        now: Instant,
    ) -> Option<Exit> {
        let child = self.children.table.get_mut(key)?;
        let id = child.id().clone();

        // 1. The child's own budget, if it has one.
        let budget = match (child.spec.options.budget, child.budget.as_mut()) {
            (Some(budget), Some(window)) => {
                if window.try_add(now.into_std()) {
                    Budget::Allows
                } else {
                    Budget::Exhausted(budget.on_exhausted)
                }
            }
            _ => Budget::Allows,
        };
        let mut delay = Duration::ZERO;
        let mut crash_loop = false;
        match budget {
            Budget::Allows => {}
            Budget::Exhausted(OnExhausted::Escalate) => {
                return Some(self.give_up(key, GiveUp::BudgetExhausted).await);
            }
            Budget::Exhausted(OnExhausted::Stop) => {
                self.children.fail(key, FailReason::CircuitBreakerOpen);
                return self.given_up(key).await;
            }
            Budget::Exhausted(OnExhausted::Isolate) => {
                self.isolate(key, IsolateCause::BudgetExhausted);
                return self.given_up(key).await;
            }
            Budget::Exhausted(OnExhausted::CrashLoopBackOff(wait)) => {
                delay = wait;
                crash_loop = true;
            }
        }

        // 2. Its backoff: after a clean exit a short fixed delay, and the
        // run of failures is over.
        let child = self.children.table.get_mut(key)?;
        if let Some(backoff) = child.spec.options.backoff {
            let wait = if clean {
                child.backoff.reset();
                backoff.clean_exit_delay
            } else {
                child.backoff.next_delay(&backoff, ran_for, fastrand::f64())
            };
            delay = delay.max(wait);
        }

        // 3. The supervisor's intensity (OTP's `add_restart`).
        if !self.intensity.try_add(now.into_std()) {
            return Some(self.give_up(key, GiveUp::IntensityReached).await);
        }

        // 4. The strategy: stop the siblings concerned, then start the
        // group (after the delay, if any).
        self.stop_siblings(key).await;
        let child = self.children.table.get_mut(key)?;
        // The supervisor's restart history is gathered from these marks.
        if let Some(last) = child.history.back_mut() {
            last.restarted = Some(Restarted { at: now, delay });
        }
        let restarts = child.stats.restarts() + 1;
        self.children.table.apply(
            key,
            match (delay.is_zero(), crash_loop) {
                (true, _) => LifeEvent::Restart,
                (false, false) => LifeEvent::Delay,
                (false, true) => LifeEvent::CrashLoop,
            },
        );
        if crash_loop {
            let id = id.clone();
            self.children.emit(|| EventKind::ChildCrashLoop {
                id,
                delay,
                restarts,
            });
        }
        self.children.emit(|| EventKind::ChildRestarting {
            id,
            delay,
            restarts,
        });
        if self.settings.strategy == Strategy::OneForOne {
            // The common case, without a group to gather.
            self.restarted(key);
            if delay.is_zero() {
                self.schedule(key);
            } else {
                self.set_timer(key, delay);
            }
            return None;
        }
        let group = self.group(key);
        group.iter().for_each(|&member| self.restarted(member));
        let ordered = self.ordered();
        if delay.is_zero() {
            self.children.queue.push_wave(group, ordered, None);
        } else {
            // The siblings wait out the delay with it.
            self.set_timer(key, delay);
            self.children.queue.push_wave(group, ordered, Some(key));
        }
        None
    }

    /// Counts an automatic restart of `key`'s child.
    fn restarted(&self, key: ChildKey) {
        if let Some(child) = self.children.table.get(key) {
            child.stats.restarted();
            self.children.shared.stats.counters.restarted();
        }
    }

    /// Starts `key`'s restart delay.
    fn set_timer(&mut self, key: ChildKey, delay: Duration) {
        let timer = self.children.timers.insert(key, delay);
        if let Some(child) = self.children.table.get_mut(key) {
            child.timer = Some(timer);
        }
    }

    /// A backoff or crash-loop delay ran out: the child starts, with the
    /// siblings its restart holds.
    pub(crate) async fn on_delay_elapsed(&mut self, key: ChildKey) -> Option<Exit> {
        let child = self.children.table.get_mut(key)?;
        child.timer = None;
        self.children.table.apply(key, LifeEvent::DelayElapsed);
        if self.children.queue.contains(key) {
            self.children.queue.release(key);
        } else {
            self.schedule(key);
        }
        None
    }

    /// The children a restart of `key` starts, in start order: `key` and
    /// the siblings its strategy stopped (left `Pending` by the stop phase;
    /// failed, isolated and temporary ones are not among them).
    fn group(&self, key: ChildKey) -> Vec<ChildKey> {
        let members = match self.settings.strategy {
            Strategy::OneForOne => return vec![key],
            Strategy::OneForAll => self.children.table.all(),
            Strategy::RestForOne => self.children.table.from(key),
        };
        members
            .into_iter()
            .filter(|&m| {
                m == key
                    || self
                        .children
                        .table
                        .get(m)
                        .is_some_and(|c| c.state() == ChildState::Pending)
            })
            .collect()
    }

    /// The siblings the strategy restarts with `key`, in start order
    /// (without `key` itself).
    fn siblings(&self, key: ChildKey) -> Vec<ChildKey> {
        let group = match self.settings.strategy {
            Strategy::OneForOne => return Vec::new(),
            Strategy::OneForAll => self.children.table.all(),
            Strategy::RestForOne => self.children.table.from(key),
        };
        group.into_iter().filter(|&s| s != key).collect()
    }

    /// Stop phase: stops the siblings in reverse start order and leaves them
    /// due to start with `key` (`Pending`). As in OTP, temporary siblings
    /// are dropped and every other sibling is started again, even one that
    /// completed or was stopped before; a failed or isolated sibling is
    /// left as it is.
    async fn stop_siblings(&mut self, key: ChildKey) {
        for sibling in self.siblings(key).into_iter().rev() {
            if self.children.table.get(sibling).is_none() {
                continue;
            }
            self.children.halt(sibling).await;
            if self.children.drop_if_temporary(sibling) {
                continue;
            }
            let Some(child) = self.children.table.get(sibling) else {
                continue;
            };
            // A temporary child kept listed is never restarted.
            let due = child.spec.restart != Restart::Temporary
                && matches!(child.state(), ChildState::Completed | ChildState::Shutdown);
            if due {
                self.children.table.apply(sibling, LifeEvent::Queue);
            }
        }
    }

    /// Handles the spawns that failed while the loop settled (see
    /// `start.rs`); returns the supervisor's exit if one ended it.
    pub(crate) async fn after_failed_spawns(&mut self) -> Option<Exit> {
        for (key, exit) in std::mem::take(&mut self.unspawned) {
            if let Some(exit) = self.failed_start(key, exit, Duration::ZERO).await {
                return Some(exit);
            }
        }
        None
    }

    /// A start of `key` failed with `exit` (recorded, its event emitted):
    /// the caller of the start is told, and under OTP's order the failure
    /// is answered as OTP does; otherwise it is an exit like any other.
    pub(crate) async fn failed_start(
        &mut self,
        key: ChildKey,
        exit: Exit,
        ran_for: Duration,
    ) -> Option<Exit> {
        let awaiter = self.children.awaiting.remove(&key);
        let id = self.children.table.get(key)?.id().clone();
        let error = || ControlError::start_failed(id.clone(), exit.clone());
        if self.ordered() {
            if self.init.is_some() {
                let error = StartError::child_failed(id.clone(), exit.clone());
                return Some(self.abort_start(error).await);
            }
            match awaiter {
                Some(Awaiter::Add(reply)) => {
                    // As OTP: a child that fails to start is not kept.
                    let _ = reply.send(Err(error()));
                    self.children.remove(key);
                    return None;
                }
                Some(restart @ Awaiter::Restart(_)) => {
                    restart.answer(Err(error()));
                    self.children.fail(key, FailReason::StartFailed);
                    return None;
                }
                None => {}
            }
        } else if let Some(awaiter) = awaiter {
            awaiter.answer(Err(error()));
        }
        self.after_exit(key, &exit, ran_for, Instant::now()).await
    }

    /// The supervisor's own start failed (`error`): stop what started, in
    /// reverse order, and end.
    async fn abort_start(&mut self, error: StartError) -> Exit {
        self.children
            .stop_all(Exit::shutdown("failed to start"))
            .await;
        let exit = Exit::new(ExitKind::StartFailure, &error);
        if let Some(Init::Root(reply)) = self.init.take() {
            let _ = reply.send(Err(error));
        }
        exit
    }

    /// A start's readiness deadline passed.
    pub(crate) async fn on_ready_deadline(
        &mut self,
        key: ChildKey,
        generation: u64,
    ) -> Option<Exit> {
        let child = self.children.table.get_mut(key)?;
        let starting = child.state() == ChildState::Starting && child.is_current(generation);
        child.ready_deadline = None;
        if !starting {
            return None;
        }
        let within = child.spec.await_ready.unwrap_or_default();
        self.on_fault(key, generation, not_ready_within(within))
            .await
    }

    /// Intensity reached (or a budget escalated) because of `offender`:
    /// stop everything and end with [`ExitKind::GaveUp`].
    async fn give_up(&mut self, offender: ChildKey, reason: GiveUp) -> Exit {
        self.children.shared.stats.counters.gave_up();
        let mut exit = Exit::from(ExitKind::GaveUp(reason));
        if let Some(child) = self.children.table.get(offender) {
            let offender = child.id().clone();
            exit = exit.with_reason(format_args!("because of child {offender}"));
            self.children
                .emit(|| EventKind::GaveUp { offender, reason });
        }
        self.children.stop_all(exit).await.exit
    }
}
