//! The supervisor's table of children, in start order.
//!
//! Children are keyed by a sequence number given when the spec is added; start
//! order is the order of those numbers (dynamic children go last, as in OTP),
//! so a `BTreeMap` gives in-order and reverse-order walks and O(log n) removal.
//! Exit messages carry the sequence number, so the hot path never hashes an id.

use std::collections::{BTreeMap, HashMap, VecDeque};

use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::time::delay_queue;

use crate::child::lifecycle::{self, LifeEvent};
use crate::child::ChildSpec;
use crate::context::Context;
use crate::error::ControlError;
use crate::id::ChildId;
use crate::policy::{BackoffState, RestartWindow};
use crate::state::ChildState;
use crate::status::{ChildExit, ChildInfo, ExitRecord};

/// A running incarnation.
pub(crate) struct Incarnation {
    pub(crate) ctx: Context,
    pub(crate) abort: AbortHandle,
    pub(crate) since: Instant,
}

pub(crate) type MonitorReply = oneshot::Sender<Result<ChildExit, ControlError>>;

/// Everything the supervisor knows about one child.
pub(crate) struct ChildRecord {
    pub(crate) spec: ChildSpec,
    state: ChildState,
    pub(crate) generation: u64,
    pub(crate) restarts: u64,
    pub(crate) ready: bool,
    pub(crate) running: Option<Incarnation>,
    pub(crate) last_exit: Option<ExitRecord>,
    pub(crate) history: VecDeque<ExitRecord>,
    pub(crate) supervised_since: Instant,
    pub(crate) backoff: BackoffState,
    pub(crate) budget: Option<RestartWindow>,
    pub(crate) monitors: Vec<MonitorReply>,
    pub(crate) timer: Option<delay_queue::Key>,
}

impl ChildRecord {
    fn new(spec: ChildSpec, now: Instant) -> Self {
        let budget = spec
            .options
            .budget
            .map(|b| RestartWindow::new(b.max_restarts, b.window));
        ChildRecord {
            spec,
            state: ChildState::Pending,
            generation: 0,
            restarts: 0,
            ready: false,
            running: None,
            last_exit: None,
            history: VecDeque::new(),
            supervised_since: now,
            backoff: BackoffState::default(),
            budget,
            monitors: Vec::new(),
            timer: None,
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
            Ok(next) => self.state = next,
            Err(invalid) => {
                debug_assert!(false, "child {}: {invalid}", self.spec.id);
                tracing::error!(child = %self.spec.id, "{invalid}");
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

    pub(crate) fn record_exit(&mut self, record: ExitRecord, history_cap: usize) {
        if history_cap > 0 {
            if self.history.len() >= history_cap {
                self.history.pop_front();
            }
            self.history.push_back(record.clone());
        }
        self.last_exit = Some(record);
    }

    pub(crate) fn info(&self) -> ChildInfo {
        ChildInfo {
            id: self.spec.id.clone(),
            kind: self.spec.kind,
            backend: self.spec.options.backend,
            state: self.state,
            generation: self.generation,
            restarts: self.restarts,
            pid: self.running.as_ref().and_then(|r| r.ctx.pid()),
            ready: self.ready,
            restart: self.spec.restart,
            on_crash: self.spec.on_crash,
            significant: self.spec.significant,
            last_exit: self.last_exit.clone(),
            running_since: self.running.as_ref().map(|r| r.since),
            supervised_since: self.supervised_since,
            usage: self.running.as_ref().and_then(|r| r.ctx.usage()),
            history: self.history.iter().cloned().collect(),
        }
    }
}

/// The children of one supervisor, in start order.
#[derive(Default)]
pub(crate) struct ChildTable {
    by_seq: BTreeMap<u64, ChildRecord>,
    by_id: HashMap<ChildId, u64>,
    next_seq: u64,
}

impl ChildTable {
    /// Adds a spec at the end of the start order.
    pub(crate) fn insert(&mut self, spec: ChildSpec, now: Instant) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_id.insert(spec.id.clone(), seq);
        self.by_seq.insert(seq, ChildRecord::new(spec, now));
        seq
    }

    pub(crate) fn remove(&mut self, seq: u64) -> Option<ChildRecord> {
        let record = self.by_seq.remove(&seq)?;
        self.by_id.remove(&record.spec.id);
        Some(record)
    }

    pub(crate) fn seq_of(&self, id: &str) -> Option<u64> {
        self.by_id.get(id).copied()
    }

    pub(crate) fn get(&self, seq: u64) -> Option<&ChildRecord> {
        self.by_seq.get(&seq)
    }

    pub(crate) fn get_mut(&mut self, seq: u64) -> Option<&mut ChildRecord> {
        self.by_seq.get_mut(&seq)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_seq.len()
    }

    pub(crate) fn records(&self) -> impl DoubleEndedIterator<Item = &ChildRecord> {
        self.by_seq.values()
    }

    /// All children, in start order.
    pub(crate) fn all(&self) -> Vec<u64> {
        self.by_seq.keys().copied().collect()
    }

    /// `seq` and every child started after it, in start order.
    pub(crate) fn from(&self, seq: u64) -> Vec<u64> {
        self.by_seq.range(seq..).map(|(&s, _)| s).collect()
    }
}

impl Drop for ChildTable {
    /// A supervisor dropped without stopping its children (its own task was
    /// aborted) must not leave them running unsupervised.
    fn drop(&mut self) {
        for record in self.by_seq.values() {
            if let Some(incarnation) = &record.running {
                incarnation.abort.abort();
            }
        }
    }
}
