//! The one start machine: every start of every child goes through it.
//!
//! A child due to start (an initial child, a restart, `start_child`,
//! `restart_child`) is *scheduled*: it begins at once if nothing holds it
//! back, or is queued (`queue.rs`) until its wave lets it go (OTP's order:
//! the sibling before it is up; a restart delay holding its siblings) and
//! its dependencies hold (`depends_on`: `started`, `ready`, `completed`).
//! After every message, command or timer the loop *settles*: it looks again
//! at the queued children something woke (a wave moved on, a dependency
//! changed) and begins those whose turn came; one whose dependency can no
//! longer hold fails (`DependencyFailed`); a running child that `binds_to`
//! a dependency that stopped or gave up is stopped.
//!
//! Beginning spawns the incarnation and never waits: one that awaits
//! readiness stays `Starting` while the loop goes on serving commands and
//! other children; its `Ready` message confirms it, its deadline (a timer)
//! or its end fails it. Only stops are waited for inline.
//!
//! What follows a failed start (its caller told, OTP's answers, or an exit
//! like any other) is `restart.rs`'s, above: a spawn that fails here is left
//! for it in `unspawned`, so that this module never calls up.

use tend_spec::Condition;

use super::children::Snapshot;
use super::incarnation::Halt;
use super::queue::Turn;
use super::server::{Init, Server};
use crate::child::lifecycle::LifeEvent;
use crate::error::ControlError;
use crate::event::EventKind;
use crate::exit::{Exit, ExitClass, ExitKind};
use crate::id::ChildId;
use crate::state::{ChildState, FailReason};
use crate::tree::ChildKey;

/// Whether a child's dependencies allow it to start.
enum Holds {
    Yes,
    NotYet,
    /// This dependency can no longer meet its condition.
    Never(ChildId),
}

impl Server {
    /// Whether children start one after another in start order (OTP), not
    /// as their dependencies allow.
    pub(crate) fn ordered(&self) -> bool {
        !self.settings.concurrent
    }

    /// Starts `key` now if nothing holds it back, or queues it.
    pub(crate) fn schedule(&mut self, key: ChildKey) {
        let free = self
            .children
            .table
            .get(key)
            .is_some_and(|c| c.spec.options.depends_on.is_empty());
        // Once a stop is asked nothing starts: queued, it is called off
        // by the stop like any start still on its way.
        if free && !self.stopping() {
            self.begin(key);
        } else {
            self.children.queue.push(key);
        }
    }

    /// Whether settling could change anything, or the supervisor's own
    /// start is yet to be told over.
    pub(crate) fn unsettled(&self) -> bool {
        self.children.queue.has_woken()
            || self.children.table.has_changed()
            || !self.unspawned.is_empty()
            || self.init.is_some()
    }

    /// Begins what may start, fails what never can, stops what lost a
    /// dependency it binds to; until nothing changes. Spawns that failed
    /// are left in `unspawned`, for what follows a failed start.
    pub(crate) async fn settle(&mut self) {
        loop {
            let mut look = std::mem::take(&mut self.looking);
            self.children.queue.take_woken(&mut look);
            self.children.table.take_changed(&mut look);
            if look.is_empty() {
                self.looking = look;
                return;
            }
            look.sort_unstable_by_key(|k| k.serial);
            look.dedup();
            for &key in &look {
                if let Some(turn) = self.children.queue.turn(key) {
                    self.start_if_due(key, turn);
                } else if let Some(gone) = self.lost_binding(key) {
                    let exit = Exit::shutdown(format_args!("its dependency {gone} stopped"));
                    self.children.stop_for(key, exit, Halt::Ask).await;
                    self.requeue_bound(key);
                }
            }
            look.clear();
            self.looking = look;
        }
    }

    /// A queued child something woke, whose wave says `turn`: it starts if
    /// its dependencies hold too, or fails if one never can.
    fn start_if_due(&mut self, key: ChildKey, turn: Turn) {
        match self.dependencies_hold(key) {
            Holds::Yes if turn == Turn::Go => self.begin(key),
            Holds::Yes | Holds::NotYet => {
                let Some(id) = self.children.table.get(key).map(|c| c.id().clone()) else {
                    return;
                };
                self.children.emit(|| EventKind::ChildWaiting {
                    id,
                    waiting_for: self.waits_of(key, turn),
                });
            }
            Holds::Never(dependency) => self.never_starts(key, &dependency),
        }
    }

    /// The running children bound to `key` (`binds_to`, and a dependency
    /// on it), and those bound to them, dependents last-started first: the
    /// order they stop in before `key` does.
    pub(crate) fn bound_to(&self, key: ChildKey) -> Vec<ChildKey> {
        let mut found: Vec<ChildKey> = Vec::new();
        let mut look = vec![key];
        while let Some(at) = look.pop() {
            let Some(id) = self.children.table.get(at).map(|c| c.id().clone()) else {
                continue;
            };
            for &dependent in self.children.table.dependents_of(&id) {
                let bound = self.children.table.get(dependent).is_some_and(|c| {
                    c.spec.options.binds_to && (c.running.is_some() || c.state().is_active())
                });
                if bound && dependent != key && !found.contains(&dependent) {
                    found.push(dependent);
                    look.push(dependent);
                }
            }
        }
        found.sort_unstable_by_key(|k| std::cmp::Reverse(k.serial));
        found
    }

    /// Stops the children bound to `key` before it stops (as systemd stops
    /// the units bound to one it stops), each queued to start again once
    /// its dependencies hold again; returns their ids, in stop order.
    pub(crate) async fn stop_bound(&mut self, key: ChildKey) -> Vec<ChildId> {
        // Most children nobody depends on: no lookup for them.
        let Some(id) = self
            .children
            .table
            .get(key)
            .filter(|c| c.is_depended_on())
            .map(|c| c.id().clone())
        else {
            return Vec::new();
        };
        let mut stopped = Vec::new();
        for dependent in self.bound_to(key) {
            let exit = Exit::shutdown(format_args!("it binds to {id}, which is stopping"));
            self.children.stop_for(dependent, exit, Halt::Ask).await;
            self.requeue_bound(dependent);
            if let Some(child) = self.children.table.get(dependent) {
                stopped.push(child.id().clone());
            }
        }
        stopped
    }

    /// Queues a child stopped for its binding to start again once its
    /// dependencies hold: a dependency restarted or started again brings
    /// it back (one that can never hold fails it, as at first start).
    fn requeue_bound(&mut self, key: ChildKey) {
        if let Some(child) = self.children.table.get_mut(key) {
            child.rebound = true;
        }
        self.children.table.apply(key, LifeEvent::Queue);
        self.children.queue.push(key);
    }

    /// The dependency a running child that `binds_to` its dependencies
    /// lost (stopped or given up on), if it is such a child and lost one.
    fn lost_binding(&self, key: ChildKey) -> Option<ChildId> {
        let bound = self.children.table.get(key).is_some_and(|c| {
            c.spec.options.binds_to && c.running.is_some() && c.state().is_active()
        });
        bound.then(|| self.lost_dependency(key)).flatten()
    }

    /// Starts `key` now, without waiting for its readiness (its `Ready`
    /// message or its deadline decides later). A spawn that fails is
    /// handled when the loop next settles, so that a failed start never
    /// calls back into the restart that began it.
    pub(crate) fn begin(&mut self, key: ChildKey) {
        self.children.queue.begin(key);
        if let Some(child) = self.children.table.get_mut(key) {
            child.rebound = false;
        }
        match self.children.spawn(key) {
            Ok(generation) => {
                let Some(child) = self.children.table.get(key) else {
                    return;
                };
                match child.spec.ready_wait() {
                    None => self.children.confirm_up(key),
                    Some(None) => {}
                    Some(Some(within)) => {
                        self.children.set_ready_deadline(key, generation, within);
                    }
                }
            }
            Err(exit) => {
                self.children.queue.concluded(key);
                self.unspawned.push((key, exit));
            }
        }
    }

    /// Tells whoever awaits the supervisor's own start that it is over,
    /// once it is: every initial child started (up), or, for a root that
    /// starts concurrently, spawned what could be spawned.
    pub(crate) fn announce_if_started(&mut self) {
        let over = match &self.init {
            None => return,
            Some(Init::Root(_)) if !self.ordered() => true,
            Some(_) => self.children.queue.is_empty() && !self.children.table.any_starting(),
        };
        if over {
            self.children.emit(|| EventKind::SupervisorStarted);
            self.children.set_running();
            match self.init.take() {
                Some(Init::Root(reply)) => {
                    let _ = reply.send(Ok(()));
                }
                Some(Init::Nested(ctx)) => ctx.ready(),
                None => {}
            }
        }
    }

    /// A queued child whose `dependency` can no longer meet its condition.
    fn never_starts(&mut self, key: ChildKey, dependency: &ChildId) {
        self.children.queue.skip(key);
        let Some(id) = self.children.table.get(key).map(|c| c.id().clone()) else {
            return;
        };
        tracing::warn!(child = %id, %dependency, "not started: its dependency failed");
        if let Some(awaiter) = self.children.awaiting.remove(&key) {
            let exit = Exit::new(
                ExitKind::StartFailure,
                format_args!("its dependency {dependency} can no longer meet its condition"),
            );
            awaiter.answer(Err(ControlError::start_failed(id, exit)));
        }
        self.children.fail(key, FailReason::DependencyFailed);
    }

    fn dependencies_hold(&self, key: ChildKey) -> Holds {
        let Some(child) = self.children.table.get(key) else {
            return Holds::NotYet;
        };
        let mut holds = Holds::Yes;
        for (id, condition) in &child.spec.options.depends_on {
            match self.condition_holds(id, *condition) {
                Some(true) => {}
                Some(false) => holds = Holds::NotYet,
                // Stopped by an operator, or replaced (a reload): one
                // stopped for its binding waits for it to be back.
                None if child.rebound && self.may_return(id) => holds = Holds::NotYet,
                None => return Holds::Never(id.clone()),
            }
        }
        holds
    }

    /// A child's snapshot with what it still waits for, while it is queued.
    pub(crate) fn with_waits(&self, snapshot: Snapshot) -> Snapshot {
        let Some(key) = self.children.table.key_of(snapshot.id().as_str()) else {
            return snapshot;
        };
        match self.children.queue.turn(key) {
            Some(turn) => {
                let waits = self.waits_of(key, turn);
                snapshot.waiting_for(waits)
            }
            None => snapshot,
        }
    }

    /// What a queued child waits for, its wave saying `turn`: the sibling
    /// its wave waits on (to be up), and its dependencies whose condition
    /// does not hold yet.
    fn waits_of(&self, key: ChildKey, turn: Turn) -> Vec<(ChildId, Condition)> {
        let Some(child) = self.children.table.get(key) else {
            return Vec::new();
        };
        let mut waits: Vec<(ChildId, Condition)> = Vec::new();
        if let Turn::After(sibling) = turn {
            if let Some(sibling) = self.children.table.get(sibling) {
                waits.push((sibling.id().clone(), Condition::Ready));
            }
        }
        waits.extend(
            child
                .spec
                .options
                .depends_on
                .iter()
                .filter(|(id, condition)| self.condition_holds(id, *condition) != Some(true))
                .cloned(),
        );
        waits
    }

    /// Whether sibling `id` meets `condition`: yes, not yet, or never
    /// (`None`: it is gone, or at rest where it cannot meet it).
    /// Whether the sibling `id` may come back: it rests stopped (not
    /// failed, not given up), or it is gone (a reload replacing it adds it
    /// again).
    fn may_return(&self, id: &ChildId) -> bool {
        self.children
            .table
            .key_of(id.as_str())
            .and_then(|key| self.children.table.get(key))
            .is_none_or(|dep| dep.state() == ChildState::Shutdown)
    }

    fn condition_holds(&self, id: &ChildId, condition: Condition) -> Option<bool> {
        let key = self.children.table.key_of(id.as_str())?;
        let dep = self.children.table.get(key)?;
        let state = dep.state();
        // Completed ends normally by definition, also when it was reached
        // under a previous supervisor and no run is remembered.
        let completed = state == ChildState::Completed
            || dep
                .last_run()
                .is_some_and(|run| run.exit.class() == ExitClass::Normal);
        let holds = match condition {
            Condition::Started => {
                matches!(state, ChildState::Starting | ChildState::Running) || completed
            }
            Condition::Ready => {
                let ready = dep.is_ready() || dep.spec.ready_wait().is_none();
                (state == ChildState::Running && ready) || state == ChildState::Completed
            }
            Condition::Completed => completed && !state.is_active(),
        };
        if holds {
            return Some(true);
        }
        let dead = matches!(
            state,
            ChildState::Failed(_) | ChildState::Isolated | ChildState::Shutdown
        ) || (state == ChildState::Completed && condition == Condition::Completed);
        (!dead).then_some(false)
    }

    /// The dependency of `key` that stopped or was given up on, if any.
    fn lost_dependency(&self, key: ChildKey) -> Option<ChildId> {
        let child = self.children.table.get(key)?;
        child
            .spec
            .options
            .depends_on
            .iter()
            .find(|(id, condition)| {
                let Some(dep) = self.children.table.key_of(id.as_str()) else {
                    return true;
                };
                let state = self.children.table.get(dep).map(|d| d.state());
                match state {
                    Some(ChildState::Failed(_) | ChildState::Shutdown | ChildState::Isolated) => {
                        true
                    }
                    Some(ChildState::Completed) => *condition != Condition::Completed,
                    _ => false,
                }
            })
            .map(|(id, _)| id.clone())
    }
}
