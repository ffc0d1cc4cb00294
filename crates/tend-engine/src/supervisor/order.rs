//! Starting by the dependency graph (a *concurrent* supervisor: one with
//! `concurrent_start`, or any child with `depends_on`).
//!
//! A child due to start is marked `waiting`; after each message, command or
//! timer the loop *settles*: every waiting child whose dependencies hold is
//! spawned, in start order (a topological order); one whose dependency can
//! no longer hold is failed (`DependencyFailed`); a running child that
//! `binds_to` a dependency that stopped or was given up on is stopped. A
//! spawned child that awaits readiness stays `Starting` without blocking
//! the loop: its `Ready` message confirms it, its deadline (a timer) or its
//! exit fails the start, and that failure goes where any exit goes (crash
//! policy, restart type), as a failed start does under systemd.

use std::time::Duration;

use tend_spec::Condition;
use tokio::time::Instant;

use super::children::Snapshot;
use super::incarnation::{not_ready_within, Halt};
use super::server::Server;
use crate::exit::{Exit, ExitClass};
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
    /// Whether this supervisor starts by the dependency graph.
    pub(crate) fn concurrent(&self) -> bool {
        self.settings.concurrent
    }

    /// Marks `key` due to start once its dependencies hold.
    pub(crate) fn mark_waiting(&mut self, key: ChildKey) {
        self.children.waiting.insert(key.serial, key);
    }

    /// Whether settling could change anything (or a nested supervisor has
    /// yet to tell its parent it is ready).
    pub(crate) fn unsettled(&self) -> bool {
        self.settings.concurrent
            && (!self.children.waiting.is_empty() || self.binders || self.announce.is_some())
    }

    /// Spawns what may start, fails what never can, stops what lost a
    /// dependency it binds to; until nothing changes. Returns the
    /// supervisor's exit if a failed start made it give up.
    pub(crate) async fn settle(&mut self) -> Option<Exit> {
        loop {
            let mut changed = false;
            let waiting: Vec<ChildKey> = self.children.waiting.values().copied().collect();
            for key in waiting {
                if self.children.table.get(key).is_none() {
                    self.children.waiting.remove(&key.serial);
                    continue;
                }
                match self.dependencies_hold(key) {
                    Holds::NotYet => {}
                    Holds::Yes => {
                        changed = true;
                        if let Some(exit) = self.begin(key).await {
                            return Some(exit);
                        }
                    }
                    Holds::Never(dependency) => {
                        changed = true;
                        self.never_starts(key, &dependency);
                    }
                }
            }
            if self.binders {
                for key in self.children.table.all() {
                    let bound = self.children.table.get(key).is_some_and(|c| {
                        c.spec.options.binds_to && c.running.is_some() && c.state().is_active()
                    });
                    if let Some(gone) = bound.then(|| self.lost_dependency(key)).flatten() {
                        changed = true;
                        let exit = Exit::shutdown(format_args!("its dependency {gone} stopped"));
                        self.children.stop_for(key, exit, Halt::Ask).await;
                    }
                }
            }
            if !changed {
                self.announce_ready();
                return None;
            }
        }
    }

    /// Starts `key` now, without waiting for its readiness (its `Ready`
    /// message or its deadline decides later).
    pub(crate) async fn begin(&mut self, key: ChildKey) -> Option<Exit> {
        self.children.waiting.remove(&key.serial);
        match self.children.spawn(key) {
            Ok(generation) => {
                let child = self.children.table.get(key)?;
                match child.spec.ready_wait() {
                    None => self.children.confirm_up(key),
                    Some(None) => {}
                    Some(Some(within)) => {
                        self.children.set_ready_deadline(key, generation, within);
                    }
                }
                None
            }
            Err(exit) => {
                self.after_exit(key, &exit, Duration::ZERO, Instant::now())
                    .await
            }
        }
    }

    /// A concurrent start's readiness deadline passed.
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

    /// A waiting child whose `dependency` can no longer meet its condition.
    fn never_starts(&mut self, key: ChildKey, dependency: &ChildId) {
        self.children.waiting.remove(&key.serial);
        if let Some(child) = self.children.table.get(key) {
            tracing::warn!(child = %child.id(), %dependency, "not started: its dependency failed");
        }
        self.fail(key, FailReason::DependencyFailed);
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
                None => return Holds::Never(id.clone()),
            }
        }
        holds
    }

    /// A child's snapshot with the dependencies it still waits for, while
    /// it waits to start.
    pub(crate) fn with_waits(&self, snapshot: Snapshot) -> Snapshot {
        let Some(key) = self.children.table.key_of(snapshot.id().as_str()) else {
            return snapshot;
        };
        if !self.children.waiting.contains_key(&key.serial) {
            return snapshot;
        }
        let Some(child) = self.children.table.get(key) else {
            return snapshot;
        };
        let waits = child
            .spec
            .options
            .depends_on
            .iter()
            .filter(|(id, condition)| self.condition_holds(id, *condition) != Some(true))
            .cloned()
            .collect();
        snapshot.waiting_for(waits)
    }

    /// Whether sibling `id` meets `condition`: yes, not yet, or never
    /// (`None`: it is gone, or at rest where it cannot meet it).
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
                let ready = dep.ready || dep.spec.ready_wait().is_none();
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
