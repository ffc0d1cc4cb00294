//! The one home of an incarnation's start, stop, wait and record, on the
//! supervisor's side (the task side is `child/task.rs`).
//!
//! [`Incarnations`] owns the children's table, the mailbox their
//! incarnations report to and the timers of pending restarts. Everything
//! that happens to one incarnation goes through it: spawn and await
//! readiness, stop by the shutdown spec, kill, record the end. The policy
//! that decides *when* (restart types, strategies, intensity) lives above,
//! in `restart.rs` and `control.rs`, and calls down into this.
//!
//! Stopping one child is a small protocol (OTP's `shutdown/2`, s6's
//! `up_d` → `uptimeout`):
//!
//! 1. `BrutalKill`: abort the task at once.
//!    `Timeout(d)` / `Infinity`: cancel the incarnation's context and wait
//!    for its exit, up to `d` (or forever), or until the tree is hurried.
//! 2. Past the deadline: abort the task.
//! 3. Wait for the exit the aborted task reports, and record it.
//!
//! An exit that arrives after the request is recorded as a shutdown-class
//! exit (its reason kept): the incarnation ended because it was asked to.
//! Aborting a task that never yields (a blocking loop) cannot complete; such a
//! child delays its supervisor's shutdown, as an unkillable process would.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use tend_spec::{Restart, Shutdown};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::time::DelayQueue;

use super::children::{ChildTable, Incarnation, PastRun, Snapshot};
use super::handle::Shared;
use super::mailbox::{Hurry, Mailbox, Waited};
use super::queue::StartQueue;
use crate::child::lifecycle::{Ending, LifeEvent};
use crate::child::sentinel;
use crate::child::task::{panicked, ExitGuard};
use crate::child::ChildSpec;
use crate::context::{Context, Readiness};
use crate::error::ControlError;
use crate::event::EventKind;
use crate::exit::{Exit, ExitKind};
use crate::id::ChildId;
use crate::id::IncarnationId;
use crate::policy::Meter;
use crate::state::{ChildState, FailReason};
use crate::status::{
    ChildExit, ChildStop, RestartRecord, StopOutcome, StopReport, SupervisorStatus, WallClock,
};
use crate::tree::ChildKey;

/// How a running incarnation is made to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Halt {
    /// By its shutdown spec: asked, then killed past its timeout.
    Ask,
    /// At once.
    Kill,
}

/// The answer to a caller awaiting a start: the new incarnation's id, or
/// why it did not start.
pub(crate) type StartReply = oneshot::Sender<Result<IncarnationId, ControlError>>;

/// Who awaits a child's start, and so how its failure is answered under
/// OTP's order.
pub(crate) enum Awaiter {
    /// `start_child`: a failed start keeps no spec.
    Add(StartReply),
    /// `restart_child` or `restart_child_now`: a failed start leaves the
    /// child failed. A restart asked while one is on its way joins it:
    /// every caller is answered by the start that concluded.
    Restart(Vec<StartReply>),
}

impl Awaiter {
    /// Answers every caller.
    pub(crate) fn answer(self, result: Result<IncarnationId, ControlError>) {
        match self {
            Awaiter::Add(reply) => {
                let _ = reply.send(result);
            }
            Awaiter::Restart(replies) => {
                for reply in replies {
                    let _ = reply.send(result.clone());
                }
            }
        }
    }
}

/// How a halted incarnation ended.
enum Halted {
    /// By itself, after it was asked.
    AsAsked(Exit),
    /// Killed (its timeout ran out, the tree was hurried, or no grace).
    Killed(Exit),
}

/// A supervisor's children and their incarnations.
pub(crate) struct Incarnations {
    pub(crate) shared: Arc<Shared>,
    pub(crate) table: ChildTable,
    pub(crate) mailbox: Mailbox,
    /// Pending restart delays, by child.
    pub(crate) timers: DelayQueue<ChildKey>,
    /// Deadlines of starts waiting for readiness, by child and generation.
    pub(crate) ready_deadlines: DelayQueue<(ChildKey, u64)>,
    /// Children due to start once nothing holds them back.
    pub(crate) queue: StartQueue,
    /// Callers awaiting a child's start (rare: a map, not a field of every
    /// record).
    pub(crate) awaiting: HashMap<ChildKey, Awaiter>,
    /// How many past exits each child keeps.
    history: usize,
    /// Whether a stop of every child asks them all at once
    /// ([`concurrent_stop`](crate::SupervisorBuilder::concurrent_stop)).
    side_by_side: bool,
}

impl Incarnations {
    pub(crate) fn new(shared: Arc<Shared>, history: usize, side_by_side: bool) -> Self {
        Incarnations {
            table: ChildTable::new(shared.stats.clone(), shared.links.clone()),
            shared,
            mailbox: Mailbox::new(),
            timers: DelayQueue::new(),
            ready_deadlines: DelayQueue::new(),
            queue: StartQueue::default(),
            awaiting: HashMap::new(),
            history,
            side_by_side,
        }
    }

    /// What an operator asks about one child.
    pub(crate) fn info(&self, key: ChildKey) -> Snapshot {
        let child = self.table.get(key).expect("info of a known child");
        child.info(&WallClock::now(), self.history)
    }

    /// The restarts the children's histories remember, oldest first.
    pub(crate) fn restart_history(&self) -> Vec<RestartRecord> {
        let clock = WallClock::now();
        let mut restarts: Vec<(Instant, RestartRecord)> = self
            .table
            .records()
            .flat_map(|child| child.restarts(&clock))
            .collect();
        restarts.sort_by_key(|(at, _)| *at);
        restarts.into_iter().map(|(_, record)| record).collect()
    }

    /// The children whose state `keep` accepts, in start order.
    pub(crate) fn infos(&self, keep: impl Fn(ChildState) -> bool) -> Vec<Snapshot> {
        let clock = WallClock::now();
        self.table
            .records()
            .filter(|c| keep(c.reported_state()))
            .map(|c| c.info(&clock, self.history))
            .collect()
    }

    /// The supervisor's own start is over.
    pub(crate) fn set_running(&self) {
        self.shared.set_status(SupervisorStatus::Running);
    }

    /// Emits an event from this supervisor.
    pub(crate) fn emit(&self, kind: impl FnOnce() -> EventKind) {
        let links = &self.shared.links;
        links.bus.emit(&links.path, kind);
    }

    /// Emits an event that happened `at`, before now.
    fn emit_at(&self, at: Instant, kind: impl FnOnce() -> EventKind) {
        let links = &self.shared.links;
        links.bus.emit_at(&links.path, at, kind);
    }

    /// Adds a spec at the end of the start order.
    pub(crate) fn add(&mut self, spec: ChildSpec) -> ChildKey {
        self.table.insert(spec, Instant::now())
    }

    /// Puts a child just added at rest, if its spec says where a previous
    /// supervisor left it ([`ChildSpec::resting`]); tells whether it did
    /// (then it is not to be started).
    pub(crate) fn rest_if_handed(&mut self, key: ChildKey) -> bool {
        let Some(state) = self.table.get(key).and_then(|c| c.spec.options.resting) else {
            return false;
        };
        self.table.rest(key, state);
        true
    }

    /// Removes a child's spec (it must have nothing running). Siblings
    /// queued behind it in its wave go on without it.
    pub(crate) fn remove(&mut self, key: ChildKey) {
        self.queue.skip(key);
        self.awaiting.remove(&key);
        if let Some(child) = self.table.remove(key) {
            let id = child.id().clone();
            self.emit(|| EventKind::ChildRemoved { id });
        }
    }

    /// Removes the spec if the child is temporary (OTP's `del_child` of a
    /// temporary child that ended or was stopped); tells whether it did.
    /// A temporary child some sibling depends on is kept, so that its
    /// dependents can see it completed, and so is one whose spec says to
    /// keep it.
    pub(crate) fn drop_if_temporary(&mut self, key: ChildKey) -> bool {
        let temporary = self.table.get(key).is_some_and(|c| {
            c.spec.restart == Restart::Temporary && !c.spec.options.keep_spec && !c.is_depended_on()
        });
        if temporary {
            self.remove(key);
        }
        temporary
    }

    /// Spawns a new incarnation of `key` without waiting for it: it stays
    /// `Starting` until [`confirm_up`](Self::confirm_up). Returns its
    /// generation. On failure (a backend that is not available, a factory
    /// that panicked) nothing runs and the reason is returned.
    pub(crate) fn spawn(&mut self, key: ChildKey) -> Result<u64, Exit> {
        let inbox = self.mailbox.sender().clone();
        let links = self.shared.links.clone();
        let child = self.table.get_mut(key).expect("start of a known child");
        if let Some(error) = &child.spec.options.unavailable {
            let exit = Exit::new(ExitKind::NotAvailable(error.backend), &error.reason);
            child.stats.failed_to_start();
            let generation = child.generation;
            self.table
                .apply(key, LifeEvent::GiveUp(FailReason::NotAvailable));
            return Err(self.note_failed_start(key, generation, exit));
        }
        child.generation += 1;
        let generation = child.generation;
        let incarnation = links.ids.next();
        let lineage = (incarnation, child.last_incarnation.replace(incarnation));
        let options = &child.spec.options;
        let ctx = Context::new(
            child.spec.id.clone(),
            generation,
            lineage,
            key,
            (
                options.traps_exits,
                Readiness::needs(
                    options.startup.is_some() || options.readiness.is_some(),
                    options.signals_ready,
                ),
            ),
            inbox,
            links,
        );
        if options.watchdog.is_some() || !options.limits.is_empty() {
            let meters = options.limits.iter().map(|&(r, max)| Meter::new(r, max));
            ctx.watch(meters.collect());
        }
        let guard = ExitGuard::new(ctx.clone());
        let launch = child.spec.launch.clone();
        let spawned = std::panic::catch_unwind(AssertUnwindSafe(|| launch(ctx.clone(), guard)));
        let abort = match spawned {
            Ok(abort) => abort,
            Err(panic) => {
                // The factory panicked before any task existed.
                let exit = panicked(panic.as_ref()).into_start_failure();
                self.table.apply(key, LifeEvent::Spawn);
                self.table.apply(key, LifeEvent::Exited(Ending::of(&exit)));
                return Err(self.note_failed_start(key, generation, exit));
            }
        };
        let sentinel = sentinel::spawn(&ctx, &child.spec.options);
        let links = &self.shared.links;
        links.bus.emit(&links.path, || EventKind::ChildSpawned {
            id: child.spec.id.clone(),
            generation,
            incarnation,
            replaces: ctx.replaces(),
            view: ctx.view(),
        });
        child.running = Some(Incarnation {
            ctx,
            abort,
            since: Instant::now(),
            sentinel,
        });
        self.table.apply(key, LifeEvent::Spawn);
        self.shared.stats.counters.spawned();
        Ok(generation)
    }

    /// Confirms the starting incarnation of `key` started (spawned, and
    /// ready when its spec awaits readiness).
    /// Its wave moves on and whoever awaited the start is told.
    pub(crate) fn confirm_up(&mut self, key: ChildKey) {
        let child = self.table.get_mut(key).expect("known child");
        if let Some(deadline) = child.ready_deadline.take() {
            self.ready_deadlines.remove(&deadline);
        }
        child.stats.started();
        let id = child.id().clone();
        let (generation, starts) = (child.generation, child.stats.starts());
        let (incarnation, pid, pid_start_ticks, replaces) =
            child
                .running
                .as_ref()
                .map_or((None, None, None, None), |r| {
                    (
                        Some(r.ctx.incarnation()),
                        r.ctx.pid(),
                        r.ctx.pid_start_ticks(),
                        r.ctx.replaces(),
                    )
                });
        self.table.apply(key, LifeEvent::Up);
        self.queue.concluded(key);
        let Some(incarnation) = incarnation else {
            return;
        };
        if !self.awaiting.is_empty() {
            if let Some(awaiter) = self.awaiting.remove(&key) {
                awaiter.answer(Ok(incarnation));
            }
        }
        self.emit(|| EventKind::ChildStarted {
            id,
            generation,
            incarnation,
            replaces,
            pid,
            pid_start_ticks,
            starts,
        });
    }

    /// Gives up on a child: it stays failed, for `reason`, until an
    /// operator restarts it.
    pub(crate) fn fail(&mut self, key: ChildKey, reason: FailReason) {
        let Some(child) = self.table.get(key) else {
            return;
        };
        child.stats.given_up();
        let budget = if reason == FailReason::CircuitBreakerOpen {
            child.stats.breaker_tripped();
            child.budget_status(Instant::now())
        } else {
            None
        };
        let id = child.id().clone();
        let exit = child.last_run().map(|run| run.exit.clone());
        self.table.apply(key, LifeEvent::GiveUp(reason));
        self.emit(|| EventKind::ChildFailed {
            id,
            reason,
            exit,
            budget,
        });
    }

    /// Makes a start that waits for readiness without blocking the
    /// supervisor (a concurrent start) end at its deadline, if it has one.
    pub(crate) fn set_ready_deadline(&mut self, key: ChildKey, generation: u64, within: Duration) {
        let child = self.table.get_mut(key).expect("known child");
        if let Some(old) = child.ready_deadline.take() {
            self.ready_deadlines.remove(&old);
        }
        child.ready_deadline = Some(
            self.ready_deadlines
                .insert_at((key, generation), Instant::now() + within),
        );
    }

    /// Moves a concurrent start's deadline to `by` from now, if later.
    pub(crate) fn extend_ready_deadline(&mut self, key: ChildKey, generation: u64, by: Duration) {
        let Some(child) = self.table.get_mut(key) else {
            return;
        };
        if !child.is_current(generation) {
            return;
        }
        if let Some(deadline) = &child.ready_deadline {
            let asked = Instant::now() + by;
            if asked > self.ready_deadlines.deadline(deadline) {
                self.ready_deadlines.reset_at(deadline, asked);
            }
        }
    }

    /// Counts a failed start of `key` and tells of it (what follows is
    /// the start machine's to decide); returns `exit`.
    pub(crate) fn note_failed_start(&self, key: ChildKey, generation: u64, exit: Exit) -> Exit {
        self.shared.stats.counters.start_failed();
        if let Some(child) = self.table.get(key) {
            let id = child.id().clone();
            let reported = exit.clone();
            let failures = child.stats.failures();
            self.emit(|| EventKind::ChildStartFailed {
                id,
                generation,
                exit: reported,
                failures,
            });
        }
        exit
    }

    /// A running incarnation's readiness, reported by `ctx.ready()`. An
    /// isolated incarnation stays not ready.
    pub(crate) fn on_ready(&mut self, key: ChildKey, generation: u64) {
        let Some(child) = self.table.get_mut(key) else {
            return;
        };
        if !child.is_current(generation)
            || child.is_ready()
            || child.state() == ChildState::Isolated
        {
            return;
        }
        let id = child.id().clone();
        self.table.set_ready(key, true);
        self.emit(|| EventKind::ChildReady { id, generation });
    }

    /// A running incarnation is no longer ready (`ctx.not_ready`, or
    /// isolation).
    pub(crate) fn on_not_ready(&mut self, key: ChildKey, generation: u64, reason: Arc<str>) {
        let Some(child) = self.table.get_mut(key) else {
            return;
        };
        if !child.is_current(generation) || !child.is_ready() {
            return;
        }
        let id = child.id().clone();
        self.table.set_ready(key, false);
        self.emit(|| EventKind::ChildNotReady {
            id,
            generation,
            reason,
        });
    }

    /// Stops the running incarnation of `key` (by its shutdown spec, or at
    /// once) and records its end as a shutdown.
    async fn stop(&mut self, key: ChildKey, how: Halt) -> ChildStop {
        let started = Instant::now();
        let child = self.table.get(key).expect("stop of a known child");
        let id = child.id().clone();
        if child.running.is_none() {
            return ChildStop {
                id,
                outcome: StopOutcome::NotRunning,
                took: Duration::ZERO,
            };
        }
        let outcome = match self.halt_running(key, how).await {
            Halted::AsAsked(exit) => {
                self.record_exit(key, exit.clone().into_shutdown(), Instant::now());
                StopOutcome::Stopped(exit)
            }
            Halted::Killed(exit) => {
                self.record_exit(key, exit.into_shutdown(), Instant::now());
                StopOutcome::Killed
            }
        };
        ChildStop {
            id,
            outcome,
            took: started.elapsed(),
        }
    }

    /// Stops the running incarnation of `key` because of a fault (or an
    /// operator's kill), and records `fault` as its end. Returns how long it
    /// ran.
    pub(crate) async fn stop_for(&mut self, key: ChildKey, fault: Exit, halt: Halt) -> Duration {
        let Some(child) = self.table.get(key) else {
            return Duration::ZERO;
        };
        if child.running.is_none() {
            return Duration::ZERO;
        }
        let generation = child.generation;
        let because = fault.clone();
        let id = child.id().clone();
        self.emit(|| EventKind::ChildStopping {
            id,
            generation,
            because,
        });
        self.halt_running(key, halt).await;
        self.record_exit(key, fault, Instant::now())
    }

    /// Makes the running incarnation of `key` end, by its shutdown spec (ask,
    /// wait up to its timeout or until the tree is hurried, then kill) or at
    /// once, and waits for it. Records nothing.
    async fn halt_running(&mut self, key: ChildKey, halt: Halt) -> Halted {
        let started = Instant::now();
        let child = self.table.get_mut(key).expect("halt of a known child");
        let generation = child.generation;
        let running = child.running.as_ref().expect("halt of a running child");
        let deadline = match (halt, child.spec.shutdown) {
            (Halt::Kill, _) | (_, Shutdown::BrutalKill) => None,
            (Halt::Ask, Shutdown::Timeout(timeout)) => Some(Some(started + timeout)),
            (Halt::Ask, Shutdown::Infinity) => Some(None),
        };
        if deadline.is_some() {
            running.ctx.cancel();
        }
        self.table.apply(key, LifeEvent::Stop);
        if let Some(deadline) = deadline {
            let hurry = self.shared.links.hurry.clone();
            let waited = self
                .mailbox
                .wait_for_exit(key, generation, deadline, Hurry::CutShort(&hurry))
                .await;
            if let Waited::Exited(exit) = waited {
                return Halted::AsAsked(exit);
            }
        }
        Halted::Killed(self.kill(key, generation).await)
    }

    /// Aborts the running incarnation and waits for the exit its task
    /// reports. Records nothing.
    async fn kill(&mut self, key: ChildKey, generation: u64) -> Exit {
        if let Some(running) = self.table.get(key).and_then(|c| c.running.as_ref()) {
            running.abort.abort();
        }
        let waited = self
            .mailbox
            .wait_for_exit(key, generation, None, Hurry::Ignore)
            .await;
        match waited {
            Waited::Exited(exit) => exit,
            Waited::TimedOut => Exit::killed(),
        }
    }

    /// Stops the child if it runs, or calls off its pending start or
    /// restart, and the starts queued behind it in its wave: whatever it
    /// was doing, afterwards nothing runs and nothing is due.
    pub(crate) async fn halt(&mut self, key: ChildKey) -> ChildStop {
        self.halt_with(key, Halt::Ask).await
    }

    /// [`halt`](Self::halt), stopping a running incarnation as `how` says.
    pub(crate) async fn halt_with(&mut self, key: ChildKey, how: Halt) -> ChildStop {
        let queued = self.queue.contains(key);
        for behind in self.queue.call_off(key) {
            self.table.apply(behind, LifeEvent::Cancel);
        }
        let child = self.table.get(key).expect("halt of a known child");
        let state = child.state();
        // An isolated child may still run.
        if state.is_active() || child.running.is_some() {
            return self.stop(key, how).await;
        }
        let id = child.id().clone();
        if state.is_restarting() {
            self.cancel_delay(key);
        } else if queued {
            self.table.apply(key, LifeEvent::Cancel);
        }
        ChildStop {
            id,
            outcome: StopOutcome::NotRunning,
            took: Duration::ZERO,
        }
    }

    /// Asks the running incarnation of `key` to stop, when its shutdown
    /// asks (not a brutal kill) and no sibling that depends on it still
    /// runs; its stop (`halt`) then waits for it as usual.
    fn ask_to_stop(&self, key: ChildKey) {
        let Some(child) = self.table.get(key) else {
            return;
        };
        if child.spec.shutdown == Shutdown::BrutalKill {
            return;
        }
        let dependents_run = child.is_depended_on()
            && self
                .table
                .dependents_of(child.id())
                .iter()
                .any(|&d| self.table.get(d).is_some_and(|c| c.running.is_some()));
        if dependents_run {
            return;
        }
        if let Some(running) = &child.running {
            running.ctx.cancel();
        }
    }

    /// Calls off a pending restart (and its timer, if it has one).
    pub(crate) fn cancel_delay(&mut self, key: ChildKey) {
        let Some(child) = self.table.get_mut(key) else {
            return;
        };
        if let Some(timer) = child.timer.take() {
            self.timers.remove(&timer);
        }
        self.table.apply(key, LifeEvent::Cancel);
    }

    /// Stops every child in reverse start order, calls off pending restarts,
    /// and returns the report with `exit` as the supervisor's exit. Side by
    /// side, every child no sibling depends on is asked first, all at once,
    /// and then each is waited for in that order: a thousand stop in about
    /// the time of one, not one after another (issue 26). A dependency is
    /// asked once the last of its dependents has ended, beside the others
    /// asked then (two services that both depend on a third stop together,
    /// the third after them).
    pub(crate) async fn stop_all(&mut self, exit: Exit) -> StopReport {
        self.shared.set_status(SupervisorStatus::Stopping);
        self.awaiting.clear();
        let mut report = Vec::with_capacity(self.table.len());
        let keys = self.table.all();
        if self.side_by_side {
            for &key in keys.iter().rev() {
                self.ask_to_stop(key);
            }
        }
        for key in keys.into_iter().rev() {
            let Some(child) = self.table.get(key) else {
                continue;
            };
            let dependencies: Vec<ChildId> = if self.side_by_side {
                child
                    .spec
                    .dependencies()
                    .iter()
                    .map(|(id, _)| id.clone())
                    .collect()
            } else {
                Vec::new()
            };
            report.push(self.halt(key).await);
            // Its dependencies whose last dependent it was are asked now.
            for id in &dependencies {
                if let Some(dependency) = self.table.key_of(id.as_str()) {
                    self.ask_to_stop(dependency);
                }
            }
        }
        self.timers.clear();
        self.queue.clear();
        StopReport {
            children: report,
            exit,
        }
    }

    /// Records the end of the running incarnation of `key`: history, last
    /// exit, counters, monitors, links, event. Returns how long it ran.
    pub(crate) fn record_exit(&mut self, key: ChildKey, exit: Exit, now: Instant) -> Duration {
        self.record(key, None, exit, now).unwrap_or_default()
    }

    /// Records the end of incarnation `generation` of `key` if it is the
    /// running one (an exit it reported itself); `None` if it is not.
    pub(crate) fn record_exit_of(
        &mut self,
        key: ChildKey,
        generation: u64,
        exit: Exit,
        now: Instant,
    ) -> Option<Duration> {
        self.record(key, Some(generation), exit, now)
    }

    /// Records the end of the running incarnation (only if it is
    /// `generation`, when given).
    fn record(
        &mut self,
        key: ChildKey,
        generation: Option<u64>,
        exit: Exit,
        now: Instant,
    ) -> Option<Duration> {
        let history = self.history;
        let child = self.table.get_mut(key)?;
        if generation.is_some_and(|g| g != child.generation) {
            return None;
        }
        let incarnation = child.running.take()?;
        let was_starting = child.state() == ChildState::Starting;
        if let Some(sentinel) = &incarnation.sentinel {
            sentinel.abort();
        }
        // Linked parties hear of the end as it is recorded.
        if let Some(port) = incarnation.ctx.port_if_linked() {
            port.fire(&exit);
        }
        // An exit seen late (it happened while the supervisor was down) is
        // dated back, even before the incarnation began here (a process
        // taken back that had ended meanwhile).
        let late = exit.lateness();
        let now = now.checked_sub(late).unwrap_or(now);
        let ran_for = now.saturating_duration_since(incarnation.since);
        let generation = child.generation;
        let id_in_tree = incarnation.ctx.incarnation();
        let pid = incarnation.ctx.pid();
        if let Some(deadline) = child.ready_deadline.take() {
            self.ready_deadlines.remove(&deadline);
        }
        child.stats.ended(exit.class(), ran_for);
        child.remember(
            PastRun {
                generation,
                incarnation: id_in_tree,
                exit: exit.clone(),
                ended: now,
                ran_for,
                restarted: None,
            },
            history,
        );
        for monitor in child.monitors.drain(..) {
            let _ = monitor.send(Ok(ChildExit {
                id: child.spec.id.clone(),
                generation,
                exit: exit.clone(),
                at: now,
            }));
        }
        let id = child.id().clone();
        let failures = child.stats.failures();
        self.table.set_ready(key, false);
        self.table.apply(key, LifeEvent::Exited(Ending::of(&exit)));
        if was_starting {
            self.queue.concluded(key);
        }
        self.shared.stats.counters.exited(exit.class());
        let exited = || EventKind::ChildExited {
            id,
            generation,
            incarnation: id_in_tree,
            exit,
            ran_for,
            pid,
            failures,
        };
        if late.is_zero() {
            self.emit(exited);
        } else {
            self.emit_at(now, exited);
        }
        Some(ran_for)
    }
}

/// The exit of a start that was not ready in time.
pub(crate) fn not_ready_within(timeout: Duration) -> Exit {
    Exit::new(
        ExitKind::StartFailure,
        format_args!("not ready within {timeout:?}"),
    )
}
