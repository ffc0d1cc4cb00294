//! The supervisor's table of children, in start order.
//!
//! Records live in a slab (a vector with a free list): a child is found by
//! its slot, in a few instructions, because the restart path looks a child
//! up several times. Each child also gets a serial number when it is added,
//! never reused: its [`ChildKey`] holds both, so a message about a removed
//! child never reaches the child that reused its slot. Start order is the
//! order of serials (dynamic children go last, as in OTP): a `BTreeMap` from
//! serial to slot gives the in-order and reverse-order walks that strategies
//! and listings need. Exit messages carry the key, so the hot path never
//! hashes an id.
//!
//! A record is kept small: a supervisor may have a hundred thousand idle
//! children. What is rare (a restart budget's window) lives out of line;
//! the counters live in the child's `ChildStats`, which readers share.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tend_spec::Condition;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::time::delay_queue;

use crate::child::lifecycle::{self, LifeEvent};
use crate::child::{ChildSpec, Options};
use crate::context::Context;
use crate::error::ControlError;
use crate::event::EventKind;
use crate::exit::Exit;
use crate::id::{ChildId, IncarnationId};
use crate::metrics::{ChildStats, SupervisorStats};
use crate::policy::{BackoffState, RestartWindow, StartLimitState};
use crate::state::{BudgetStatus, ChildKind, ChildState};
use crate::status::{
    ChildCounts, ChildExit, ChildInfo, ExitRecord, RestartRecord, StateCounts, WallClock,
};
use crate::tree::{ChildKey, TreeLinks};

/// A running incarnation.
pub(crate) struct Incarnation {
    pub(crate) ctx: Context,
    pub(crate) abort: AbortHandle,
    pub(crate) since: Instant,
    /// The task running its health checks and watchdog, if it has any.
    pub(crate) sentinel: Option<AbortHandle>,
}

pub(crate) type MonitorReply = oneshot::Sender<Result<ChildExit, ControlError>>;

/// One ended incarnation, stamped on the monotonic clock.
pub(crate) struct PastRun {
    pub(crate) generation: u64,
    pub(crate) incarnation: IncarnationId,
    pub(crate) exit: Exit,
    pub(crate) ended: Instant,
    pub(crate) ran_for: Duration,
    /// The automatic restart that followed it, if one did: the
    /// supervisor's restart history is gathered from these marks, so a
    /// restart copies nothing.
    pub(crate) restarted: Option<Restarted>,
}

/// When a restart was decided, and its delay.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Restarted {
    pub(crate) at: Instant,
    pub(crate) delay: Duration,
}

impl PastRun {
    pub(crate) fn record(&self, clock: &WallClock) -> ExitRecord {
        ExitRecord {
            generation: self.generation,
            incarnation: self.incarnation,
            exit: self.exit.clone(),
            at: clock.at(self.ended),
            ran_for: self.ran_for,
        }
    }
}

/// Everything the supervisor knows about one child.
pub(crate) struct ChildRecord {
    pub(crate) spec: ChildSpec,
    /// Its serial: the start order, and the part of its key a reused slot
    /// does not share.
    serial: u64,
    state: ChildState,
    pub(crate) generation: u64,
    ready: bool,
    /// Some sibling depends on it: its changes wake that sibling.
    depended_on: bool,
    /// Its starting incarnation is an automatic restart's (see
    /// [`reported_state`](Self::reported_state)).
    restart_attempt: bool,
    /// Stopped because a dependency it binds to stopped, and queued to
    /// start again: a dependency stopped by an operator is awaited, not a
    /// failure.
    pub(crate) rebound: bool,
    pub(crate) running: Option<Incarnation>,
    /// The latest incarnation's id: the lineage of the next one.
    pub(crate) last_incarnation: Option<IncarnationId>,
    /// The last exits, oldest first; never empty once one exit happened.
    pub(crate) history: VecDeque<PastRun>,
    pub(crate) supervised_since: Instant,
    pub(crate) backoff: BackoffState,
    pub(crate) budget: Option<Box<RestartWindow>>,
    /// Its failed starts, when it has a start limit.
    pub(crate) start_limit: Option<Box<StartLimitState>>,
    pub(crate) monitors: Vec<MonitorReply>,
    pub(crate) timer: Option<delay_queue::Key>,
    /// A concurrent start's readiness deadline, while it waits.
    pub(crate) ready_deadline: Option<delay_queue::Key>,
    pub(crate) stats: Arc<ChildStats>,
}

impl ChildRecord {
    fn new(spec: ChildSpec, serial: u64, now: Instant, stats: Arc<ChildStats>) -> Self {
        let budget = spec
            .options
            .budget
            .map(|b| Box::new(RestartWindow::new(b.max_restarts, b.window)));
        let start_limit = spec
            .options
            .start_limit
            .as_ref()
            .map(|l| Box::new(StartLimitState::new(l)));
        stats.set_state(ChildState::Pending);
        ChildRecord {
            spec,
            serial,
            state: ChildState::Pending,
            generation: 0,
            ready: false,
            depended_on: false,
            restart_attempt: false,
            rebound: false,
            running: None,
            last_incarnation: None,
            history: VecDeque::new(),
            supervised_since: now,
            backoff: BackoffState::default(),
            budget,
            start_limit,
            monitors: Vec::new(),
            timer: None,
            ready_deadline: None,
            stats,
        }
    }

    /// Where it is in its life, as the supervisor works with it.
    pub(crate) fn state(&self) -> ChildState {
        self.state
    }

    /// Where it is in its life, as callers are told: an automatic restart
    /// is `Restarting` until its new incarnation is up, as OTP's record
    /// says `restarting` until the start returns (and counts it among no
    /// live children); the incarnation itself is `Starting` like any.
    pub(crate) fn reported_state(&self) -> ChildState {
        if self.restart_attempt {
            ChildState::Restarting
        } else {
            self.state
        }
    }

    pub(crate) fn id(&self) -> &ChildId {
        &self.spec.id
    }

    /// Whether the running incarnation declared itself ready.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready
    }

    /// Whether some sibling depends on it.
    pub(crate) fn is_depended_on(&self) -> bool {
        self.depended_on
    }

    /// Moves the state machine (through [`ChildTable::apply`], which keeps
    /// the counts). An invalid pair is an engine bug: it panics under debug
    /// assertions (so tests catch it) and is logged otherwise.
    #[inline]
    fn transition(&mut self, event: LifeEvent) -> Option<ChildState> {
        match lifecycle::on(self.state, event) {
            Ok(next) => {
                self.restart_attempt = next == ChildState::Starting
                    && (self.restart_attempt
                        || (event == LifeEvent::Spawn && self.state == ChildState::Restarting));
                self.state = next;
                self.stats.set_state(self.reported_state());
                Some(next)
            }
            Err(invalid) => {
                debug_assert!(false, "child {}: {invalid}", self.spec.id);
                tracing::error!(child = %self.spec.id, "{invalid}");
                None
            }
        }
    }

    /// Whether `generation` is the incarnation running now.
    pub(crate) fn is_current(&self, generation: u64) -> bool {
        self.running.is_some() && self.generation == generation
    }

    /// Whether the child counts as alive for `AutoShutdown::AllSignificant`
    /// (OTP: its pid is not `undefined`).
    pub(crate) fn is_alive(&self) -> bool {
        self.state.is_active() || self.state.is_restarting()
    }

    /// Its restart budget as it stands at `now`, if it has one.
    pub(crate) fn budget_status(&self, now: Instant) -> Option<BudgetStatus> {
        let spec = self.spec.options.budget?;
        let used = self
            .budget
            .as_ref()
            .map_or(0, |window| window.count_at(now.into_std()));
        let used = u32::try_from(used).unwrap_or(u32::MAX);
        Some(BudgetStatus {
            max_restarts: spec.max_restarts,
            window: spec.window,
            used,
            remaining: spec.max_restarts.saturating_sub(used),
            exhausted: used > spec.max_restarts,
        })
    }

    /// The last ended incarnation, if any.
    pub(crate) fn last_run(&self) -> Option<&PastRun> {
        self.history.back()
    }

    /// Keeps `run` as the newest of at most `cap` (at least one) past runs.
    pub(crate) fn remember(&mut self, run: PastRun, cap: usize) {
        while self.history.len() >= cap.max(1) {
            self.history.pop_front();
        }
        self.history.push_back(run);
    }

    /// The restarts that followed this child's remembered exits.
    pub(crate) fn restarts<'a>(
        &'a self,
        clock: &'a WallClock,
    ) -> impl Iterator<Item = (Instant, RestartRecord)> + 'a {
        self.history.iter().filter_map(move |run| {
            let restarted = run.restarted?;
            let record = RestartRecord {
                at: clock.at(restarted.at),
                id: self.spec.id.clone(),
                after: run.record(clock),
                delay: restarted.delay,
            };
            Some((restarted.at, record))
        })
    }

    pub(crate) fn info(&self, clock: &WallClock, history_cap: usize) -> Snapshot {
        let counters = self.stats.snapshot();
        let running_for = self
            .running
            .as_ref()
            .map_or(Duration::ZERO, |r| r.since.elapsed());
        let history = self.history.iter().rev().take(history_cap);
        let mut history: Vec<ExitRecord> = history.map(|run| run.record(clock)).collect();
        history.reverse();
        let info = ChildInfo {
            id: self.spec.id.clone(),
            kind: self.spec.kind,
            backend: self.spec.options.backend,
            state: self.reported_state(),
            generation: self.generation,
            incarnation: self
                .running
                .as_ref()
                .map(|r| r.ctx.incarnation())
                .or(self.last_incarnation),
            starts: counters.starts,
            failures: counters.failures,
            restarts: counters.restarts,
            give_ups: counters.give_ups,
            uptime: counters.ran + running_for,
            pid: self.running.as_ref().and_then(|r| r.ctx.pid()),
            ready: self.ready,
            restart: self.spec.restart,
            on_crash: self.spec.on_crash,
            significant: self.spec.significant,
            last_exit: self.last_run().map(|run| run.record(clock)),
            running_since: self.running.as_ref().map(|r| clock.at(r.since)),
            supervised_since: clock.at(self.supervised_since),
            usage: None,
            status: self.running.as_ref().and_then(|r| r.ctx.status()),
            history,
            waiting_for: Vec::new(),
            budget: self.budget_status(Instant::now()),
            last_healthy: self
                .running
                .as_ref()
                .and_then(|r| r.ctx.last_healthy())
                .map(|at| clock.at(at)),
        };
        Snapshot {
            info,
            running: self.running.as_ref().map(|r| r.ctx.clone()),
        }
    }
}

/// A child's info before its usage is measured. The supervisor answers
/// with this and the asker measures (a few file reads per process) on its
/// own task, so listing a thousand children never stalls the supervisor.
pub(crate) struct Snapshot {
    info: ChildInfo,
    running: Option<Context>,
}

impl Snapshot {
    /// The child's id.
    pub(crate) fn id(&self) -> &ChildId {
        &self.info.id
    }

    /// Notes the dependencies it waits for.
    pub(crate) fn waiting_for(mut self, on: Vec<(ChildId, Condition)>) -> Snapshot {
        self.info.waiting_for = on;
        self
    }

    /// The info, with the running incarnation's usage measured now.
    pub(crate) fn measured(self) -> ChildInfo {
        let mut info = self.info;
        info.usage = self.running.and_then(|ctx| ctx.usage());
        info
    }

    /// The info without usage.
    pub(crate) fn unmeasured(self) -> ChildInfo {
        self.info
    }
}

/// The children of one supervisor, in start order.
pub(crate) struct ChildTable {
    slots: Vec<Option<ChildRecord>>,
    free: Vec<u32>,
    /// Serial → slot, in start order.
    order: BTreeMap<u64, u32>,
    /// Id → slot (the serial is in the record).
    by_id: HashMap<ChildId, u32>,
    next_serial: u64,
    /// Children whose incarnation is starting (the supervisor's own start
    /// is over when none is and none is due).
    starting: usize,
    /// Specs that are nested supervisors.
    supervisors: usize,
    /// Which children depend on an id (only ids someone depends on).
    dependents: HashMap<ChildId, Vec<ChildKey>>,
    /// The children that depend on a sibling whose state or readiness
    /// changed (or that was removed) since
    /// [`take_changed`](Self::take_changed): what settling must look at
    /// again.
    changed: Vec<ChildKey>,
    /// Where each child's counters are registered for readers.
    stats: Arc<SupervisorStats>,
    /// Where state changes are told.
    links: Arc<TreeLinks>,
    /// The options of the child added last, which the next one shares if
    /// they say the same (weak: a removed child's probes and hooks are not
    /// kept alive by it).
    last_options: std::sync::Weak<Options>,
}

impl ChildTable {
    pub(crate) fn new(stats: Arc<SupervisorStats>, links: Arc<TreeLinks>) -> Self {
        ChildTable {
            slots: Vec::new(),
            free: Vec::new(),
            order: BTreeMap::new(),
            by_id: HashMap::new(),
            next_serial: 0,
            starting: 0,
            supervisors: 0,
            dependents: HashMap::new(),
            changed: Vec::new(),
            stats,
            links,
            last_options: std::sync::Weak::new(),
        }
    }

    /// Tells listeners a child is in `state` now.
    fn tell_state(&self, id: &ChildId, state: ChildState) {
        self.links
            .bus
            .emit(&self.links.path, || EventKind::ChildState {
                id: id.clone(),
                state,
            });
    }

    /// Makes room for `more` children at once (the initial ones), so the
    /// slab is not left up to a third empty by doubling.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.slots.reserve_exact(more);
        self.by_id.reserve(more);
    }

    /// Adds a spec at the end of the start order.
    pub(crate) fn insert(&mut self, mut spec: ChildSpec, now: Instant) -> ChildKey {
        if let Some(previous) = self.last_options.upgrade() {
            spec.share_options(&previous);
        }
        self.last_options = Arc::downgrade(&spec.options);
        let serial = self.next_serial;
        self.next_serial += 1;
        let stats = self.stats.add_child(spec.id.clone());
        let id = spec.id.clone();
        let mut record = ChildRecord::new(spec, serial, now, stats);
        record.depended_on = !self.dependents.is_empty() && self.dependents.contains_key(&id);
        if record.spec.kind == ChildKind::Supervisor {
            self.supervisors += 1;
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 children")
            }
        };
        let key = ChildKey { slot, serial };
        for (dependency, _) in &record.spec.options.depends_on {
            self.dependents
                .entry(dependency.clone())
                .or_default()
                .push(key);
            if let Some(&dep_slot) = self.by_id.get(dependency) {
                if let Some(dep) = self.slots[dep_slot as usize].as_mut() {
                    dep.depended_on = true;
                }
            }
        }
        self.slots[slot as usize] = Some(record);
        self.tell_state(&id, ChildState::Pending);
        self.by_id.insert(id, slot);
        self.order.insert(serial, slot);
        key
    }

    /// Removes a child's record; the children that depended on it are
    /// looked at again when the supervisor next settles.
    pub(crate) fn remove(&mut self, key: ChildKey) -> Option<ChildRecord> {
        self.get(key)?;
        let record = self.slots[key.slot as usize].take()?;
        self.free.push(key.slot);
        self.order.remove(&key.serial);
        self.by_id.remove(&record.spec.id);
        self.stats.remove_child(&record.stats);
        if record.spec.kind == ChildKind::Supervisor {
            self.supervisors -= 1;
        }
        for (dependency, _) in &record.spec.options.depends_on {
            if let Some(list) = self.dependents.get_mut(dependency) {
                list.retain(|&k| k != key);
                if list.is_empty() {
                    self.dependents.remove(dependency);
                    if let Some(&dep_slot) = self.by_id.get(dependency) {
                        if let Some(dep) = self.slots[dep_slot as usize].as_mut() {
                            dep.depended_on = false;
                        }
                    }
                }
            }
        }
        if record.depended_on {
            if let Some(list) = self.dependents.get(&record.spec.id) {
                self.changed.extend(list.iter().copied());
            }
        }
        Some(record)
    }

    /// Moves a child's state machine by `event` (see `child::lifecycle`).
    #[inline]
    pub(crate) fn apply(&mut self, key: ChildKey, event: LifeEvent) {
        // The slot alone is borrowed: the counts and the bus are fields of
        // their own.
        let slot = self
            .slots
            .get_mut(key.slot as usize)
            .and_then(Option::as_mut);
        let Some(child) = slot.filter(|record| record.serial == key.serial) else {
            return;
        };
        let (before, shown) = (child.state, child.reported_state());
        if let Some(after) = child.transition(event) {
            let watched = child.depended_on && before != after;
            let now_shown = child.reported_state();
            if now_shown != shown {
                let links = &self.links;
                links.bus.emit(&links.path, || EventKind::ChildState {
                    id: child.spec.id.clone(),
                    state: now_shown,
                });
            }
            self.starting += usize::from(after == ChildState::Starting);
            self.starting -= usize::from(before == ChildState::Starting);
            if watched {
                self.touched(key);
            }
        }
    }

    /// Notes that `key`'s child changed: the children that depend on it
    /// are looked at again when the supervisor next settles.
    fn touched(&mut self, key: ChildKey) {
        let Some(child) = self.get(key) else {
            return;
        };
        if child.depended_on {
            if let Some(dependents) = self.dependents.get(&child.spec.id) {
                self.changed.extend_from_slice(dependents);
            }
        }
    }

    /// Sets a new record's state to one at rest, without a transition: it
    /// was reached under a previous supervisor ([`ChildSpec::resting`]).
    pub(crate) fn rest(&mut self, key: ChildKey, state: ChildState) {
        let Some(child) = self.get_mut(key) else {
            return;
        };
        debug_assert!(child.state == ChildState::Pending && state.is_at_rest());
        child.state = state;
        child.stats.set_state(state);
        let id = child.spec.id.clone();
        self.tell_state(&id, state);
        self.touched(key);
    }

    /// Records whether a child's running incarnation is ready.
    #[inline]
    pub(crate) fn set_ready(&mut self, key: ChildKey, ready: bool) {
        let Some(child) = self.get_mut(key) else {
            return;
        };
        if child.ready == ready {
            return;
        }
        child.ready = ready;
        child.stats.set_ready(ready);
        if child.depended_on {
            self.touched(key);
        }
    }

    /// Moves what changed since the last call (see `changed`) into `into`.
    pub(crate) fn take_changed(&mut self, into: &mut Vec<ChildKey>) {
        into.append(&mut self.changed);
    }

    /// Whether something changed that settling must look at.
    pub(crate) fn has_changed(&self) -> bool {
        !self.changed.is_empty()
    }

    /// Whether some child's incarnation is starting.
    pub(crate) fn any_starting(&self) -> bool {
        self.starting > 0
    }

    /// How many children are in each state (as reported). A walk of the
    /// table, as OTP's `count_children` is: a query, never on a hot path.
    pub(crate) fn counts(&self) -> StateCounts {
        let mut counts = StateCounts::default();
        for child in self.records() {
            counts.add(child.reported_state());
        }
        counts
    }

    /// OTP's `count_children`: live children are those whose incarnation
    /// is up or starting, not an automatic restart still under way.
    pub(crate) fn child_counts(&self) -> ChildCounts {
        let active = self
            .records()
            .filter(|c| c.reported_state().is_active())
            .count();
        ChildCounts {
            specs: self.len(),
            active,
            supervisors: self.supervisors,
            workers: self.len() - self.supervisors,
        }
    }

    /// The children that depend on `id` (none, for an id no one names).
    pub(crate) fn dependents_of(&self, id: &ChildId) -> &[ChildKey] {
        self.dependents.get(id).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn key_of(&self, id: &str) -> Option<ChildKey> {
        let slot = *self.by_id.get(id)?;
        let serial = self.slots[slot as usize].as_ref()?.serial;
        Some(ChildKey { slot, serial })
    }

    pub(crate) fn get(&self, key: ChildKey) -> Option<&ChildRecord> {
        self.slots
            .get(key.slot as usize)?
            .as_ref()
            .filter(|record| record.serial == key.serial)
    }

    pub(crate) fn get_mut(&mut self, key: ChildKey) -> Option<&mut ChildRecord> {
        self.slots
            .get_mut(key.slot as usize)?
            .as_mut()
            .filter(|record| record.serial == key.serial)
    }

    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Every child, in start order.
    pub(crate) fn records(&self) -> impl DoubleEndedIterator<Item = &ChildRecord> {
        self.order
            .values()
            .filter_map(|&slot| self.slots[slot as usize].as_ref())
    }

    /// All children, in start order.
    pub(crate) fn all(&self) -> Vec<ChildKey> {
        self.keys(self.order.iter())
    }

    /// `key`'s child and every child started after it, in start order.
    pub(crate) fn from(&self, key: ChildKey) -> Vec<ChildKey> {
        self.keys(self.order.range(key.serial..))
    }

    fn keys<'a>(&self, entries: impl Iterator<Item = (&'a u64, &'a u32)>) -> Vec<ChildKey> {
        entries
            .map(|(&serial, &slot)| ChildKey { slot, serial })
            .collect()
    }
}

impl Drop for ChildTable {
    /// A supervisor dropped without stopping its children (its own task was
    /// aborted) must not leave them running unsupervised.
    fn drop(&mut self) {
        for record in self.slots.iter().flatten() {
            if let Some(incarnation) = &record.running {
                incarnation.abort.abort();
            }
        }
    }
}
