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
use crate::child::ChildSpec;
use crate::context::Context;
use crate::error::ControlError;
use crate::exit::Exit;
use crate::id::{ChildId, IncarnationId};
use crate::metrics::{ChildStats, SupervisorStats};
use crate::policy::{BackoffState, RestartWindow};
use crate::state::ChildState;
use crate::status::{ChildExit, ChildInfo, ExitRecord, RestartRecord, WallClock};
use crate::tree::ChildKey;

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
    pub(crate) ready: bool,
    pub(crate) running: Option<Incarnation>,
    /// The latest incarnation's id: the lineage of the next one.
    pub(crate) last_incarnation: Option<IncarnationId>,
    /// The last exits, oldest first; never empty once one exit happened.
    pub(crate) history: VecDeque<PastRun>,
    pub(crate) supervised_since: Instant,
    pub(crate) backoff: BackoffState,
    pub(crate) budget: Option<Box<RestartWindow>>,
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
        stats.set_state(ChildState::Pending);
        ChildRecord {
            spec,
            serial,
            state: ChildState::Pending,
            generation: 0,
            ready: false,
            running: None,
            last_incarnation: None,
            history: VecDeque::new(),
            supervised_since: now,
            backoff: BackoffState::default(),
            budget,
            monitors: Vec::new(),
            timer: None,
            ready_deadline: None,
            stats,
        }
    }

    pub(crate) fn state(&self) -> ChildState {
        self.state
    }

    pub(crate) fn id(&self) -> &ChildId {
        &self.spec.id
    }

    /// Moves the state machine. An invalid pair is an engine bug: it panics
    /// under debug assertions (so tests catch it) and is logged otherwise.
    pub(crate) fn apply(&mut self, event: LifeEvent) {
        match lifecycle::on(self.state, event) {
            Ok(next) => {
                self.state = next;
                self.stats.set_state(next);
            }
            Err(invalid) => {
                debug_assert!(false, "child {}: {invalid}", self.spec.id);
                tracing::error!(child = %self.spec.id, "{invalid}");
            }
        }
    }

    /// Sets a new record's state to one at rest, without a transition: it
    /// was reached under a previous supervisor ([`ChildSpec::resting`]).
    pub(crate) fn rest(&mut self, state: ChildState) {
        debug_assert!(self.state == ChildState::Pending && state.is_at_rest());
        self.state = state;
        self.stats.set_state(state);
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
            state: self.state,
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
    /// Where each child's counters are registered for readers.
    stats: Arc<SupervisorStats>,
}

impl ChildTable {
    pub(crate) fn new(stats: Arc<SupervisorStats>) -> Self {
        ChildTable {
            slots: Vec::new(),
            free: Vec::new(),
            order: BTreeMap::new(),
            by_id: HashMap::new(),
            next_serial: 0,
            stats,
        }
    }

    /// Makes room for `more` children at once (the initial ones), so the
    /// slab is not left up to a third empty by doubling.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.slots.reserve_exact(more);
        self.by_id.reserve(more);
    }

    /// Adds a spec at the end of the start order.
    pub(crate) fn insert(&mut self, spec: ChildSpec, now: Instant) -> ChildKey {
        let serial = self.next_serial;
        self.next_serial += 1;
        let stats = self.stats.add_child(spec.id.clone());
        let id = spec.id.clone();
        let record = Some(ChildRecord::new(spec, serial, now, stats));
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = record;
                slot
            }
            None => {
                self.slots.push(record);
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 children")
            }
        };
        let key = ChildKey { slot, serial };
        self.by_id.insert(id, slot);
        self.order.insert(serial, slot);
        key
    }

    pub(crate) fn remove(&mut self, key: ChildKey) -> Option<ChildRecord> {
        self.get(key)?;
        let record = self.slots[key.slot as usize].take()?;
        self.free.push(key.slot);
        self.order.remove(&key.serial);
        self.by_id.remove(&record.spec.id);
        self.stats.remove_child(&record.stats);
        Some(record)
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
