//! The operator queue: every command that changes the tree (start, stop,
//! restart, kill, signal, reload, upgrade, shutdown) is a typed operation
//! on one queue, carried out by one task in the order it came: a reload
//! never interleaves with a restart, and two stops of a group never cross.
//!
//! Each command is journaled before its effect. A start or restart sends
//! its request to the engine from the queue (so the engine sees commands in
//! their order), and its wait for the new incarnation to be up (ready,
//! where it has a readiness condition) happens beside the queue: a service
//! slow to become ready holds no one else's command. A stop is waited for
//! in the queue, as OTP's `terminate_child` is. Nothing here is read by
//! `tend status` and its kin: they read the [`Board`].

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::future::join_all;
use tend_config::{Config, Plan};
use tend_engine::{ChildState, ControlError, SupervisorHandle};
use tend_journal::{JournalWriter, Record};
use tend_process::Signal;
use tend_wire::{Acted, Action, Bound, ErrorCode, ReloadReport, State, UpgradePlan};
use tokio::sync::{mpsc, oneshot};

use crate::board::Board;
use crate::failure::Failure;
use crate::hooks::Hooks;
use crate::life::Life;
use crate::logs::Sinks;
use crate::reload;
use crate::tree::{self, Instance, ROOT};
use crate::upgrade;

/// How many commands may wait in the queue; past it one is refused (a
/// client in a loop must not grow the daemon without bound).
const QUEUE: usize = 1024;

/// One operator command, with where its answer goes.
enum Operation {
    Act {
        name: String,
        action: Action,
        begun: Arc<AtomicBool>,
        done: oneshot::Sender<Result<Acted, Failure>>,
    },
    Signal {
        name: String,
        signal: Signal,
        reply: oneshot::Sender<Result<Acted, Failure>>,
    },
    Reload {
        reply: oneshot::Sender<Result<ReloadReport, Failure>>,
    },
    Upgrade {
        binary: Option<PathBuf>,
        reply: oneshot::Sender<Result<UpgradePlan, Failure>>,
    },
    Hold {
        held: oneshot::Sender<()>,
    },
}

/// A start, stop, restart or kill on its way: whether the queue reached it,
/// and its outcome once its effect holds.
#[derive(Debug)]
pub struct Pending {
    begun: Arc<AtomicBool>,
    done: oneshot::Receiver<Result<Acted, Failure>>,
}

impl Pending {
    /// Whether the queue has reached it (it is no longer behind others).
    #[must_use]
    pub fn begun(&self) -> bool {
        self.begun.load(Ordering::Acquire)
    }

    /// Its outcome, once its effect holds on every instance it names (or
    /// failed to).
    ///
    /// # Errors
    /// What failed; a conflict if the daemon went before carrying it out.
    pub async fn outcome(&mut self) -> Result<Acted, Failure> {
        (&mut self.done).await.unwrap_or_else(|_| Err(gone()))
    }
}

/// The answer to a command the queue dropped: the daemon ended or handed
/// over first.
fn gone() -> Failure {
    Failure::new(
        ErrorCode::Conflict,
        "tend is shutting down or upgrading: the command was not carried out",
    )
}

/// What the operator task is given to work with.
#[derive(Debug)]
pub struct Desk {
    /// The tree.
    pub root: SupervisorHandle,
    /// The config being run.
    pub config: Arc<Config>,
    /// The status board (told of a new config; asked which incarnation
    /// runs).
    pub board: Board,
    /// The instances' log sinks.
    pub sinks: Sinks,
    /// Where every command is written first.
    pub journal: JournalWriter,
    /// The hook runner (told of a new config).
    pub hooks: Arc<Hooks>,
    /// The daemon's life flags (shutdown and upgrade are set here).
    pub life: Life,
    /// The state directory (an upgrade's check runs against it).
    pub state_dir: PathBuf,
    /// Upgrades before this image.
    pub upgrades: u32,
}

/// The queue's sending end: cheap to clone.
#[derive(Debug, Clone)]
pub struct Operator {
    queue: mpsc::Sender<Operation>,
    life: Life,
    journal: JournalWriter,
}

impl Operator {
    /// Starts the task that carries out every command, on `desk`.
    #[must_use]
    pub fn start(desk: Desk) -> Operator {
        let (queue, commands) = mpsc::channel(QUEUE);
        let life = desk.life.clone();
        let journal = desk.journal.clone();
        tokio::spawn(desk.serve(commands));
        Operator {
            queue,
            life,
            journal,
        }
    }

    fn send(&self, operation: Operation) -> Result<(), Failure> {
        if let Some(why) = self.life.refusal() {
            return Err(Failure::new(ErrorCode::Conflict, why));
        }
        self.queue.try_send(operation).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => Failure::new(
                ErrorCode::Conflict,
                format!("{QUEUE} commands are already waiting; try again once they are done"),
            ),
            mpsc::error::TrySendError::Closed(_) => gone(),
        })
    }

    /// Queues `action` (start, stop, restart or kill) on every instance
    /// `name` means.
    ///
    /// # Errors
    /// A conflict if the daemon is ending or the queue is full.
    pub fn act(&self, name: &str, action: Action) -> Result<Pending, Failure> {
        let begun = Arc::new(AtomicBool::new(false));
        let (done, outcome) = oneshot::channel();
        self.send(Operation::Act {
            name: name.to_owned(),
            action,
            begun: begun.clone(),
            done,
        })?;
        Ok(Pending {
            begun,
            done: outcome,
        })
    }

    /// Sends `signal` to the running process of every instance `name`
    /// means, through its incarnation.
    ///
    /// # Errors
    /// An unknown name, or none with a process to signal.
    pub async fn signal(&self, name: &str, signal: Signal) -> Result<Acted, Failure> {
        let (reply, answer) = oneshot::channel();
        self.send(Operation::Signal {
            name: name.to_owned(),
            signal,
            reply,
        })?;
        answer.await.unwrap_or_else(|_| Err(gone()))
    }

    /// Reads the config file again and applies what changed.
    ///
    /// # Errors
    /// An invalid config (nothing changed), or a conflict.
    pub async fn reload(&self) -> Result<ReloadReport, Failure> {
        let (reply, answer) = oneshot::channel();
        self.send(Operation::Reload { reply })?;
        answer.await.unwrap_or_else(|_| Err(gone()))
    }

    /// Asks the daemon to become `binary` (the running one when `None`),
    /// once that binary's own check of the config passed.
    ///
    /// # Errors
    /// A conflict if an upgrade or shutdown is under way or the binary
    /// refused the config; a bad request for a relative path.
    pub async fn upgrade(&self, binary: Option<PathBuf>) -> Result<UpgradePlan, Failure> {
        let (reply, answer) = oneshot::channel();
        self.send(Operation::Upgrade { binary, reply })?;
        answer.await.unwrap_or_else(|_| Err(gone()))
    }

    /// Asks the daemon to shut down, at once: not behind the commands
    /// queued before it (a restart waiting out a stop timeout must not
    /// delay it), which are called off: those not begun are answered that
    /// tend is shutting down, and nothing starts once it is asked. Asking
    /// again changes nothing.
    ///
    /// # Errors
    /// A conflict while an upgrade is under way.
    pub fn shutdown(&self) -> Result<(), Failure> {
        if *self.life.shutdown_asked().borrow() {
            return Ok(());
        }
        if let Some(binary) = self.life.upgrade_asked().borrow().as_ref() {
            return Err(Failure::new(
                ErrorCode::Conflict,
                format!(
                    "tend is upgrading to {}; try again in a moment",
                    binary.display()
                ),
            ));
        }
        self.journal.record(
            ROOT,
            Record::command(Action::Shutdown, None, Vec::new(), None),
        );
        self.life.ask_shutdown();
        Ok(())
    }

    /// Returns once every command before this one is done; the queue
    /// takes no other after it (an upgrade's handover: no command may wait
    /// on a parked process). Answered even while an upgrade is under way.
    pub async fn hold(&self) {
        let (held, answer) = oneshot::channel();
        if self.queue.send(Operation::Hold { held }).await.is_ok() {
            let _ = answer.await;
        }
    }
}

/// An effect on one instance, holding once the future resolves.
type Effect = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

fn holds() -> Effect {
    Box::pin(std::future::ready(Ok(())))
}

fn failed(why: impl ToString) -> Effect {
    Box::pin(std::future::ready(Err(why.to_string())))
}

impl Desk {
    async fn serve(mut self, mut commands: mpsc::Receiver<Operation>) {
        while let Some(operation) = commands.recv().await {
            match operation {
                Operation::Act {
                    name,
                    action,
                    begun,
                    done,
                } => {
                    begun.store(true, Ordering::Release);
                    self.act(&name, action, done).await;
                }
                Operation::Signal {
                    name,
                    signal,
                    reply,
                } => {
                    let _ = reply.send(self.signal(&name, signal).await);
                }
                Operation::Reload { reply } => {
                    let _ = reply.send(self.reload().await);
                }
                Operation::Upgrade { binary, reply } => {
                    let _ = reply.send(self.upgrade(binary).await);
                }
                Operation::Hold { held } => {
                    let _ = held.send(());
                    // What waits behind is answered `gone` as the queue
                    // drops.
                    return;
                }
            }
        }
    }

    /// The instances `name` means now, or why none.
    fn find(&self, name: &str) -> Result<Vec<Instance>, Failure> {
        if let Some(why) = self.life.refusal() {
            return Err(Failure::new(ErrorCode::Conflict, why));
        }
        let layout = self.board.layout();
        let found = layout.find(std::slice::from_ref(&name.to_owned()))?;
        Ok(found.into_iter().cloned().collect())
    }

    /// Carries out a start, stop, restart or kill, and answers `done` once
    /// its effect holds everywhere (beside the queue, for what waits on a
    /// start).
    async fn act(&self, name: &str, action: Action, done: oneshot::Sender<Result<Acted, Failure>>) {
        let instances = match self.find(name) {
            Ok(instances) => instances,
            Err(failure) => {
                let _ = done.send(Err(failure));
                return;
            }
        };
        let names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
        self.journal
            .record(ROOT, Record::command(action, None, names.clone(), None));
        let also = self.bound(&instances, action);
        let mut effects = Vec::with_capacity(instances.len());
        if action == Action::Stop {
            // Every instance's stop at once; the queue waits for them all.
            let stops = join_all(instances.iter().map(|i| self.stop(i))).await;
            effects.extend(stops.into_iter().map(|stopped| match stopped {
                Ok(()) => holds(),
                Err(e) => failed(e),
            }));
        } else {
            for instance in &instances {
                effects.push(self.effect(instance, action).await);
            }
        }
        let journal = self.journal.clone();
        let board = self.board.clone();
        tokio::spawn(async move {
            let outcomes = join_all(effects).await;
            let mut acted = Vec::new();
            let mut problems = Vec::new();
            for (name, outcome) in names.into_iter().zip(outcomes) {
                match outcome {
                    Ok(()) => acted.push(name),
                    Err(why) => problems.push(format!("{name}: {why}")),
                }
            }
            // A start or restart is done once what it stopped through a
            // binding is up again too.
            if problems.is_empty() && matches!(action, Action::Start | Action::Restart) {
                let ups = join_all(also.iter().map(|(b, was)| board.up(&b.service, *was))).await;
                for ((bound, _), up) in also.iter().zip(ups) {
                    if let Err(why) = up {
                        problems.push(format!(
                            "{} (binds to {}): {why}",
                            bound.service, bound.binds_to
                        ));
                    }
                }
            }
            let answer = if problems.is_empty() {
                Ok(Acted {
                    services: acted,
                    also: also.into_iter().map(|(bound, _)| bound).collect(),
                })
            } else {
                let message = problems.join("; ");
                journal.record(
                    ROOT,
                    Record::command(action, None, Vec::new(), Some(format!("failed: {message}"))),
                );
                // A part that failed fails the command, saying what was done.
                let done = if acted.is_empty() {
                    String::new()
                } else {
                    format!(" ({action} done: {})", acted.join(", "))
                };
                Err(Failure::new(
                    ErrorCode::Conflict,
                    format!("{message}{done}"),
                ))
            };
            let _ = done.send(answer);
        });
    }

    /// The instances `action` on `instances` reaches through a binding:
    /// for a stop or restart those running now (the engine stops them
    /// first, and a restart brings them back); for a start those the
    /// binding holds back, waiting to start.
    /// Each with its incarnation's generation now (what comes back is a
    /// later one).
    fn bound(&self, instances: &[Instance], action: Action) -> Vec<(Bound, u64)> {
        if !matches!(action, Action::Start | Action::Stop | Action::Restart) {
            return Vec::new();
        }
        let layout = self.board.layout();
        let mut services: Vec<&str> = instances.iter().map(|i| i.service.as_str()).collect();
        services.dedup();
        let mut found: Vec<(Bound, u64)> = Vec::new();
        for service in services {
            for (dependent, binds_to) in self.config.bound_to(service) {
                for instance in layout.instances.iter().filter(|i| i.service == dependent) {
                    let named = instances.iter().any(|i| i.name == instance.name);
                    let seen = found.iter().any(|(b, _)| b.service == instance.name);
                    let status = self
                        .board
                        .statuses(std::slice::from_ref(&instance.name), false)
                        .pop();
                    let state = status.as_ref().map(|s| s.state);
                    let generation = status.map_or(0, |s| s.generation);
                    let reached = match action {
                        Action::Start => state == Some(State::Pending),
                        _ => matches!(
                            state,
                            Some(State::Starting | State::Running | State::Stopping)
                        ),
                    };
                    if !named && !seen && reached {
                        let bound = Bound {
                            service: instance.name.clone(),
                            binds_to: binds_to.to_owned(),
                        };
                        found.push((bound, generation));
                    }
                }
            }
        }
        found
    }

    /// Stops one instance (if it is in the tree), waiting for its end.
    async fn stop(&self, instance: &Instance) -> Result<(), ControlError> {
        let supervisor = tree::supervisor_at(&self.root, &instance.parents).await?;
        let id = instance.name.as_str();
        match supervisor.child_info(id).await {
            Ok(_) => supervisor.terminate_child(id).await,
            // Not started yet (its unit waits): nothing runs to stop.
            Err(_) => Ok(()),
        }
    }

    /// Sends the engine a start, restart or kill of one instance, and
    /// returns what holds once it took effect.
    async fn effect(&self, instance: &Instance, action: Action) -> Effect {
        let supervisor = match tree::supervisor_at(&self.root, &instance.parents).await {
            Ok(supervisor) => supervisor,
            Err(e) => return failed(e),
        };
        let id = instance.name.as_str();
        let present = supervisor.child_info(id).await.ok();
        match (action, present) {
            (Action::Start, Some(info)) if is_down(info.state) => {
                let up = supervisor.restart_child(id);
                Box::pin(async move { up.await.map(drop).map_err(called_off) })
            }
            // Waiting out a backoff: started now, as systemctl start does.
            (Action::Start, Some(info)) if info.state.is_restarting() && info.pid.is_none() => {
                let up = supervisor.restart_child_now(id);
                Box::pin(async move { up.await.map(drop).map_err(called_off) })
            }
            // Starting, running or waiting for a dependency: done once up.
            (Action::Start, Some(_)) => {
                let board = self.board.clone();
                let name = instance.name.clone();
                Box::pin(async move { board.up(&name, 0).await })
            }
            (Action::Restart, Some(_)) => {
                let up = supervisor.restart_child_now(id);
                Box::pin(async move { up.await.map(drop).map_err(called_off) })
            }
            (Action::Kill, Some(info)) => match supervisor.kill_child(id).await {
                Ok(()) => {
                    let board = self.board.clone();
                    let name = instance.name.clone();
                    Box::pin(async move {
                        board.ended(&name, info.generation).await;
                        Ok(())
                    })
                }
                Err(e) => failed(e),
            },
            (Action::Kill, None) => failed(ControlError::NotRunning(id.into())),
            (_, None) => failed(ControlError::NotFound(id.into())),
            (_, Some(_)) => failed(format!("{action} is not done this way")),
        }
    }

    async fn signal(&self, name: &str, signal: Signal) -> Result<Acted, Failure> {
        let instances = self.find(name)?;
        let names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
        self.journal.record(
            ROOT,
            Record::command(Action::Signal, Some(&signal.to_string()), names, None),
        );
        let mut done = Vec::new();
        for instance in instances {
            // Through the engine to the running incarnation, which signals
            // its process through its pidfd: never a pid read from a
            // snapshot, which a process started meanwhile could have taken.
            let Ok(supervisor) = tree::supervisor_at(&self.root, &instance.parents).await else {
                continue;
            };
            if supervisor
                .signal_child(instance.name.as_str(), signal)
                .await
                .is_ok()
            {
                done.push(instance.name);
            }
        }
        if done.is_empty() {
            return Err(Failure::new(
                ErrorCode::Conflict,
                format!("{name} has no running process to signal"),
            ));
        }
        Ok(Acted::only(done))
    }

    async fn reload(&mut self) -> Result<ReloadReport, Failure> {
        if let Some(why) = self.life.refusal() {
            return Err(Failure::new(ErrorCode::Conflict, why));
        }
        let new = match reload::read_config(&self.config.file).await {
            Ok(config) => Arc::new(config),
            Err(failure) => {
                self.journal.record(
                    ROOT,
                    Record::command(
                        Action::Reload,
                        None,
                        Vec::new(),
                        Some("rejected: invalid config".to_owned()),
                    ),
                );
                return Err(failure);
            }
        };
        let plan = Plan::between(&self.config, &new);
        let mut report = reload::report(&plan, &self.config);
        let touched: Vec<String> = plan
            .added
            .iter()
            .chain(&plan.removed)
            .chain(&plan.changed)
            .cloned()
            .collect();
        let summary = format!(
            "added {}, removed {}, changed {}, unchanged {}",
            plan.added.len(),
            plan.removed.len(),
            plan.changed.len(),
            plan.unchanged.len()
        );
        self.journal.record(
            ROOT,
            Record::command(Action::Reload, None, touched, Some(summary)),
        );
        // Readers see the new config's instances from now on: those about
        // to start as pending, not as unknown.
        self.board.set_config(&new);
        let failures = reload::apply(&self.root, &plan, &self.config, &new, &self.sinks).await;
        self.hooks.set_config(&new);
        self.config = new;
        if !failures.is_empty() {
            self.journal.record(
                ROOT,
                Record::command(
                    Action::Reload,
                    None,
                    Vec::new(),
                    Some(format!("not applied: {}", failures.join("; "))),
                ),
            );
        }
        report.not_applied.extend(failures);
        Ok(report)
    }

    async fn upgrade(&self, binary: Option<PathBuf>) -> Result<UpgradePlan, Failure> {
        if self.life.refusal().is_some() {
            return Err(Failure::new(
                ErrorCode::Conflict,
                "an upgrade or a shutdown is already under way",
            ));
        }
        let binary = match binary {
            Some(binary) if binary.is_absolute() => binary,
            Some(binary) => {
                return Err(Failure::new(
                    ErrorCode::BadRequest,
                    format!(
                        "the binary must be an absolute path, not {}",
                        binary.display()
                    ),
                ))
            }
            None => upgrade::running_binary().map_err(|e| {
                Failure::new(
                    ErrorCode::Internal,
                    format!("finding the running binary: {e}"),
                )
            })?,
        };
        let version = upgrade::check_binary(&binary, &self.config.file, &self.state_dir)
            .await
            .map_err(|e| Failure::new(ErrorCode::Conflict, e.to_string()))?;
        self.journal.record(
            ROOT,
            Record::command(
                Action::Upgrade,
                Some(&binary.display().to_string()),
                Vec::new(),
                None,
            ),
        );
        let plan = UpgradePlan {
            binary: binary.display().to_string(),
            version,
            upgrades: self.upgrades + 1,
        };
        self.life.ask_upgrade(binary);
        Ok(plan)
    }
}

/// Why a start did not conclude, as the answer says it.
fn called_off(error: ControlError) -> String {
    match error {
        ControlError::SupervisorGone => "called off: tend is shutting down".to_owned(),
        error => error.to_string(),
    }
}

fn is_down(state: ChildState) -> bool {
    matches!(
        state,
        ChildState::Shutdown | ChildState::Completed | ChildState::Failed(_) | ChildState::Isolated
    )
}
