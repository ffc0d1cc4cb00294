//! Commands from handles: OTP's `start_child`, `terminate_child`,
//! `restart_child`, `delete_child`, `which_children`, `count_children`, plus
//! monitors, nested handles and shutdown. Each answers as OTP's supervisor
//! does in the same situation.

use std::sync::Arc;

use super::builder::check_childspec;
use super::handle::{Command, SignalAnswer, SupervisorHandle, TableRow};
use super::incarnation::{Awaiter, Halt, StartReply};
use super::server::Server;
use tend_spec::{Signal, SpecError};

use crate::child::lifecycle::LifeEvent;
use crate::child::ChildSpec;
use crate::error::{ChildSpecError, ControlError};
use crate::event::EventKind;
use crate::exit::{Exit, ExitKind};
use crate::id::ChildId;
use crate::link::{Ended, Link, Port};
use crate::state::{ChildKind, ChildState};
use crate::status::{Capacity, ProcessEntry, WallClock};
use crate::tree::ChildKey;

impl Server {
    /// Carries out one command; `Some(exit)` when the supervisor ends.
    pub(crate) async fn on_command(&mut self, command: Command) -> Option<Exit> {
        match command {
            Command::StartChild(spec, reply) => return self.add_child(spec, reply).await,
            Command::Terminate(id, reply) => {
                let _ = reply.send(self.terminate(&id, Halt::Ask).await);
            }
            Command::Abort(id, reply) => {
                let _ = reply.send(self.terminate(&id, Halt::Kill).await);
            }
            Command::Restart(id, reply) => {
                let key = match self.find_not_running(&id) {
                    Ok(key) => key,
                    Err(error) => {
                        let _ = reply.send(Err(error));
                        return None;
                    }
                };
                return self.restart_by_operator(key, reply).await;
            }
            Command::RestartNow(id, reply) => {
                let key = match self.find(&id) {
                    Ok(key) => key,
                    Err(error) => {
                        let _ = reply.send(Err(error));
                        return None;
                    }
                };
                return self.restart_by_operator(key, reply).await;
            }
            Command::Kill(id, reply) => {
                let key = match self.find_active(&id) {
                    Ok(key) => key,
                    Err(error) => {
                        let _ = reply.send(Err(error));
                        return None;
                    }
                };
                let _ = reply.send(Ok(()));
                let killed = Exit::new(ExitKind::Killed, "killed through kill_child");
                // Whoever awaits its start is told it was killed first.
                if let Some(awaiter) = self.children.awaiting.remove(&key) {
                    awaiter.answer(Err(ControlError::start_failed(id, killed.clone())));
                }
                return self.stop_faulty(key, killed, Halt::Kill).await;
            }
            Command::Signal(id, signal, reply) => {
                let _ = reply.send(self.signal(&id, signal));
            }
            Command::Link(a, b, reply) => {
                let _ = reply.send(self.link(&a, &b));
            }
            Command::LinkTo(id, reply) => {
                let link = self.find_active(&id).and_then(|key| {
                    let port = self.port_of(key);
                    Link::to(&port).map_err(|Ended| ControlError::NotRunning(id))
                });
                let _ = reply.send(link);
            }
            Command::Delete(id, reply) => {
                let _ = reply.send(self.delete(&id));
            }
            Command::WhichChildren(filter, reply) => {
                let keep = |state: ChildState| filter.as_ref().is_none_or(|keep| keep(state));
                let infos = self.children.infos(keep);
                let _ = reply.send(infos.into_iter().map(|s| self.with_waits(s)).collect());
            }
            Command::ChildInfo(id, reply) => {
                let info = self.find(&id).map(|key| self.children.info(key));
                let _ = reply.send(info.map(|s| self.with_waits(s)));
            }
            Command::CountByState(reply) => {
                let _ = reply.send(self.children.table.counts());
            }
            Command::RestartHistory(reply) => {
                let _ = reply.send(self.children.restart_history());
            }
            Command::Table(reply) => {
                let _ = reply.send(self.table_rows());
            }
            Command::CountChildren(reply) => {
                let _ = reply.send(self.children.table.child_counts());
            }
            Command::Monitor(id, reply) => {
                let Some(key) = self.children.table.key_of(id.as_str()) else {
                    let _ = reply.send(Err(ControlError::NotFound(id)));
                    return None;
                };
                let child = self.children.table.get_mut(key).expect("indexed child");
                if child.is_alive() {
                    child.monitors.push(reply);
                } else {
                    let _ = reply.send(Err(ControlError::NotRunning(id)));
                }
            }
            Command::Nested(id, reply) => {
                let _ = reply.send(self.nested(id));
            }
            Command::Shutdown(reply) => {
                let report = self.children.stop_all(Exit::requested()).await;
                let exit = report.exit.clone();
                let _ = reply.send(report);
                return Some(exit);
            }
        }
        None
    }

    /// Hands `signal` to the child's running incarnation; its answer comes
    /// to the caller, not to this loop.
    fn signal(&self, id: &ChildId, signal: Signal) -> Result<SignalAnswer, ControlError> {
        let key = self.find(id)?;
        let child = self.children.table.get(key).expect("indexed child");
        let running = child
            .running
            .as_ref()
            .ok_or_else(|| ControlError::NotRunning(id.clone()))?;
        running
            .ctx
            .send_signal(signal)
            .ok_or_else(|| ControlError::Signal {
                id: id.clone(),
                reason: "it takes no signals (a task)".to_owned(),
            })
    }

    /// Links two children's running incarnations.
    fn link(&self, a: &ChildId, b: &ChildId) -> Result<(), ControlError> {
        let (a_seq, b_seq) = (self.find_active(a)?, self.find_active(b)?);
        let (a_port, b_port) = (self.port_of(a_seq), self.port_of(b_seq));
        Port::link(&a_port, &b_port).map_err(|Ended| ControlError::NotRunning(a.clone()))
    }

    /// The link port of a child's running incarnation.
    fn port_of(&self, key: ChildKey) -> Arc<Port> {
        let child = self.children.table.get(key).expect("indexed child");
        let running = child.running.as_ref().expect("an active child runs");
        running.ctx.port().clone()
    }

    /// The child, if an incarnation of it runs (and is not being stopped).
    fn find_active(&self, id: &ChildId) -> Result<ChildKey, ControlError> {
        let key = self.find(id)?;
        let state = self.children.table.get(key).expect("indexed child").state();
        match state {
            ChildState::Starting | ChildState::Running => Ok(key),
            _ => Err(ControlError::NotRunning(id.clone())),
        }
    }

    fn find(&self, id: &ChildId) -> Result<ChildKey, ControlError> {
        self.children
            .table
            .key_of(id.as_str())
            .ok_or_else(|| ControlError::NotFound(id.clone()))
    }

    /// OTP's `start_child`: checks the spec, adds it last and starts it;
    /// `reply` is answered once the start concluded (`start.rs`).
    async fn add_child(&mut self, spec: ChildSpec, reply: StartReply) -> Option<Exit> {
        if let Err(error) = self.check_new(&spec) {
            let _ = reply.send(Err(error));
            return None;
        }
        let id = spec.id.clone();
        let key = self.children.add(spec);
        self.children.emit(|| EventKind::ChildAdded { id });
        self.children.awaiting.insert(key, Awaiter::Add(reply));
        self.schedule(key);
        None
    }

    /// Whether a spec may be added: valid, its id free, room left, its
    /// dependencies known.
    fn check_new(&self, spec: &ChildSpec) -> Result<(), ControlError> {
        check_childspec(spec, self.settings.auto_shutdown).map_err(ControlError::InvalidSpec)?;
        if let Some(key) = self.children.table.key_of(spec.id.as_str()) {
            let child = self.children.table.get(key).expect("indexed child");
            return Err(if child.reported_state().is_active() {
                ControlError::AlreadyStarted(spec.id.clone())
            } else {
                ControlError::AlreadyPresent(spec.id.clone())
            });
        }
        if let Some(max) = self.settings.max_children {
            if self.children.table.len() >= max {
                return Err(ControlError::MaxChildren { max });
            }
        }
        if let Some((unknown, _)) = spec
            .options
            .depends_on
            .iter()
            .find(|(dep, _)| self.children.table.key_of(dep.as_str()).is_none())
        {
            return Err(ControlError::InvalidSpec(ChildSpecError {
                id: spec.id.to_string(),
                error: SpecError::UnknownDependency {
                    child: spec.id.to_string(),
                    name: unknown.to_string(),
                },
            }));
        }
        Ok(())
    }

    /// Stops a child (by its shutdown spec, or at once) or calls off its
    /// pending start or restart, and the starts that waited for it (OTP:
    /// they stay `undefined`). Whoever awaited its start is told it did not
    /// happen.
    async fn terminate(&mut self, id: &ChildId, how: Halt) -> Result<(), ControlError> {
        let key = self.find(id)?;
        if how == Halt::Ask {
            self.stop_bound(key).await;
        }
        self.children.halt_with(key, how).await;
        if let Some(child) = self.children.table.get_mut(key) {
            child.rebound = false;
        }
        if let Some(awaiter) = self.children.awaiting.remove(&key) {
            let exit = Exit::shutdown("terminated before it was up");
            awaiter.answer(Err(ControlError::start_failed(id.clone(), exit)));
        }
        let terminated = id.clone();
        self.children
            .emit(|| EventKind::ChildTerminated { id: terminated });
        self.children.drop_if_temporary(key);
        Ok(())
    }

    /// An operator's restart: whatever `key` does is stopped or called
    /// off, and a new incarnation starts; `reply` is answered once the
    /// start concluded. One kept running in isolation is stopped first. Its
    /// start limit counts afresh.
    async fn restart_by_operator(&mut self, key: ChildKey, reply: StartReply) -> Option<Exit> {
        // What binds to it stops first, and starts again once it is back.
        self.stop_bound(key).await;
        self.children.halt(key).await;
        // An operator's start is a fresh try: its failed starts are forgotten.
        if let Some(limit) = self
            .children
            .table
            .get_mut(key)
            .and_then(|c| c.start_limit.as_mut())
        {
            limit.reset();
        }
        // Callers of a start still on its way are answered by this one.
        let mut replies = match self.children.awaiting.remove(&key) {
            Some(Awaiter::Restart(replies)) => replies,
            Some(Awaiter::Add(first)) => vec![first],
            None => Vec::new(),
        };
        replies.push(reply);
        self.children.table.apply(key, LifeEvent::Queue);
        self.children
            .awaiting
            .insert(key, Awaiter::Restart(replies));
        self.schedule(key);
        None
    }

    fn delete(&mut self, id: &ChildId) -> Result<(), ControlError> {
        let key = self.find_not_running(id)?;
        self.children.remove(key);
        Ok(())
    }

    /// The child, if nothing runs and no restart is pending (OTP: its pid is
    /// `undefined`); otherwise OTP's `running` or `restarting` answer (an
    /// automatic restart is `restarting` until its incarnation is up).
    fn find_not_running(&self, id: &ChildId) -> Result<ChildKey, ControlError> {
        let key = self.find(id)?;
        let state = self
            .children
            .table
            .get(key)
            .expect("indexed child")
            .reported_state();
        if state.is_restarting() {
            return Err(ControlError::Restarting(id.clone()));
        }
        if state.is_active() {
            return Err(ControlError::Running(id.clone()));
        }
        Ok(key)
    }

    /// This supervisor's live incarnations, each with its nested
    /// supervisor's handle if it runs one.
    fn table_rows(&self) -> Vec<TableRow> {
        let clock = WallClock::now();
        let capacity = Capacity {
            children: self.children.table.len(),
            max: self.settings.max_children,
        };
        let supervisor = &self.children.shared.links.path;
        self.children
            .table
            .records()
            .filter_map(|child| {
                let running = child.running.as_ref()?;
                let entry = ProcessEntry {
                    incarnation: running.ctx.incarnation(),
                    parent: running.ctx.replaces(),
                    supervisor: supervisor.clone(),
                    id: child.id().clone(),
                    kind: child.spec.kind,
                    backend: child.spec.options.backend,
                    state: child.reported_state(),
                    pid: running.ctx.pid(),
                    generation: child.generation,
                    started: clock.at(running.since),
                    capacity,
                };
                Some((entry, running.ctx.attached::<SupervisorHandle>().cloned()))
            })
            .collect()
    }

    fn nested(&self, id: ChildId) -> Result<SupervisorHandle, ControlError> {
        let key = self.find(&id)?;
        let child = self.children.table.get(key).expect("indexed child");
        if child.spec.kind != ChildKind::Supervisor || child.state() != ChildState::Running {
            return Err(ControlError::NotASupervisor(id));
        }
        child
            .running
            .as_ref()
            .and_then(|r| r.ctx.attached::<SupervisorHandle>().cloned())
            .ok_or(ControlError::NotASupervisor(id))
    }
}
