//! The supervisor's one task: its state and its loop.
//!
//! # Priority
//!
//! The loop takes, in this order (a `biased` select):
//!
//! 1. messages it set aside while waiting inline for one child (oldest first);
//! 2. the stop request from its parent (nested supervisors only);
//! 3. commands from handles: a shutdown or terminate is never starved by a
//!    flood of exits;
//! 4. its inbox: exits, readiness, retries of failed restarts;
//! 5. expired restart delays;
//! 6. expired readiness deadlines of concurrent starts.
//!
//! A concurrent supervisor settles after each (`order.rs`): it starts the
//! children whose dependencies now hold.
//!
//! # Invariants
//!
//! - A child has a running incarnation exactly when its state is active
//!   (`Starting`, `Running`, `Stopping`), or it is `Isolated` while kept
//!   running for debugging.
//! - Messages about an incarnation other than the current one are ignored:
//!   each carries its child's key and its generation.
//! - A child with a pending delay has exactly one timer key.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use tend_spec::{AutoShutdown, Intensity, Strategy};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handle::{Command, Shared, SupervisorHandle};
use super::incarnation::Incarnations;
use crate::child::ChildSpec;
use crate::error::StartError;
use crate::event::EventKind;
use crate::exit::Exit;
use crate::metrics::SupervisorStats;
use crate::policy::RestartWindow;
use crate::state::ChildState;
use crate::tree::{Message, TreeLinks};

/// The flags of a supervisor, fixed at build time.
pub(crate) struct Settings {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) max_children: Option<usize>,
    pub(crate) history: usize,
    /// Children start by the dependency graph, without waiting for each
    /// other's readiness inline (`order.rs`).
    pub(crate) concurrent: bool,
}

pub(crate) struct Server {
    pub(crate) settings: Settings,
    pub(crate) intensity: RestartWindow,
    pub(crate) children: Incarnations,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    /// Cancelled by the parent to stop a nested supervisor.
    stop: CancellationToken,
    /// Some child binds to its dependencies (settling checks them).
    pub(crate) binders: bool,
    /// A nested concurrent supervisor's context, until it tells its parent
    /// it is ready: once no initial child is waiting or starting.
    pub(crate) announce: Option<crate::context::Context>,
}

impl Server {
    pub(crate) fn new(
        settings: Settings,
        links: Arc<TreeLinks>,
        stop: Option<CancellationToken>,
    ) -> (Server, SupervisorHandle) {
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let stats = Arc::new(SupervisorStats::new(&links.path));
        links.stats.register(&stats);
        let shared = Arc::new(Shared {
            links,
            stats,
            exit: watch::Sender::new(None),
        });
        let intensity =
            RestartWindow::new(settings.intensity.max_restarts, settings.intensity.period);
        let children = Incarnations::new(shared.clone(), settings.history);
        let server = Server {
            settings,
            intensity,
            children,
            commands,
            commands_open: true,
            stop: stop.unwrap_or_default(),
            binders: false,
            announce: None,
        };
        (server, SupervisorHandle::new(commands_tx, shared))
    }

    /// Emits an event from this supervisor.
    pub(crate) fn emit(&self, kind: impl FnOnce() -> EventKind) {
        self.children.emit(kind);
    }

    /// Starts the initial children in order. On a failure, stops those
    /// already started (reverse order) and names the child that failed. A
    /// concurrent supervisor spawns what its graph allows and goes on in
    /// its loop; its children's failed starts are handled as exits.
    pub(crate) async fn init(&mut self, specs: Vec<ChildSpec>) -> Result<(), StartError> {
        self.children.table.reserve(specs.len());
        if self.settings.concurrent {
            self.binders = specs.iter().any(|s| s.options.binds_to);
            for spec in specs {
                let key = self.children.add(spec);
                if !self.children.rest_if_handed(key) {
                    self.mark_waiting(key);
                }
            }
            if let Some(exit) = self.settle().await {
                let exit = exit.into_start_failure();
                return Err(StartError::child_failed(self.settings_name(), exit));
            }
        } else {
            for spec in specs {
                let id = spec.id.clone();
                let key = self.children.add(spec);
                if self.children.rest_if_handed(key) {
                    continue;
                }
                if let Err(exit) = self.children.start(key).await {
                    self.children
                        .stop_all(Exit::shutdown("failed to start"))
                        .await;
                    return Err(StartError::child_failed(id, exit));
                }
            }
        }
        self.emit(|| EventKind::SupervisorStarted);
        Ok(())
    }

    /// The supervisor's own id, for errors about it as a whole.
    fn settings_name(&self) -> crate::id::ChildId {
        let path = &self.children.shared.links.path;
        crate::id::ChildId::from(path.rsplit('/').next().unwrap_or(path).to_owned())
    }

    /// Tells the parent of a nested concurrent supervisor that it is ready,
    /// once none of its children waits or starts.
    pub(crate) fn announce_ready(&mut self) {
        if self.announce.is_none() || !self.children.waiting.is_empty() {
            return;
        }
        let starting = self
            .children
            .table
            .records()
            .any(|c| c.state() == ChildState::Starting);
        if !starting {
            if let Some(ctx) = self.announce.take() {
                ctx.ready();
            }
        }
    }

    /// The loop. Returns the supervisor's exit once it has stopped all
    /// children.
    pub(crate) async fn run(mut self) -> Exit {
        // One registration for the whole life of the loop, not one per turn.
        let stop = self.stop.clone();
        let stop_requested = stop.cancelled();
        tokio::pin!(stop_requested);
        let exit = loop {
            if self.unsettled() {
                if let Some(exit) = self.settle().await {
                    break exit;
                }
            }
            if let Some(message) = self.children.mailbox.take_deferred() {
                if let Some(exit) = self.on_message(message).await {
                    break exit;
                }
                continue;
            }
            tokio::select! {
                biased;
                () = &mut stop_requested => {
                    break self.children.stop_all(Exit::requested()).await.exit;
                }
                command = self.commands.recv(), if self.commands_open => match command {
                    Some(command) => {
                        if let Some(exit) = self.on_command(command).await {
                            break exit;
                        }
                    }
                    None => self.commands_open = false,
                },
                message = self.children.mailbox.recv() => {
                    if let Some(exit) = self.on_message(message).await {
                        break exit;
                    }
                }
                Some(expired) = poll_fn(|cx| self.children.timers.poll_expired(cx)), if !self.children.timers.is_empty() => {
                    if let Some(exit) = self.on_delay_elapsed(expired.into_inner()).await {
                        break exit;
                    }
                }
                Some(expired) = poll_fn(|cx| self.children.ready_deadlines.poll_expired(cx)), if !self.children.ready_deadlines.is_empty() => {
                    let (key, generation) = expired.into_inner();
                    if let Some(exit) = self.on_ready_deadline(key, generation).await {
                        break exit;
                    }
                }
            }
        };
        self.finish(exit.clone());
        exit
    }

    /// Publishes the supervisor's end.
    pub(crate) fn finish(&self, exit: Exit) {
        self.emit(|| EventKind::SupervisorStopped { exit: exit.clone() });
        self.children.shared.exit.send_replace(Some(exit));
    }

    async fn on_message(&mut self, message: Message) -> Option<Exit> {
        match message {
            Message::Exited {
                key,
                generation,
                exit,
            } => self.on_exit(key, generation, exit).await,
            Message::Ready { key, generation } => {
                self.children.on_ready(key, generation);
                // A concurrent start waits for this without blocking.
                let starting =
                    self.children.table.get(key).is_some_and(|c| {
                        c.is_current(generation) && c.state() == ChildState::Starting
                    });
                if starting {
                    self.children.confirm_up(key);
                }
                None
            }
            Message::NotReady {
                key,
                generation,
                reason,
            } => {
                self.children.on_not_ready(key, generation, reason);
                None
            }
            // Only a start waiting for readiness has a deadline to move.
            Message::ExtendStart {
                key,
                generation,
                by,
            } => {
                self.children.extend_ready_deadline(key, generation, by);
                None
            }
            Message::Fault {
                key,
                generation,
                exit,
            } => self.on_fault(key, generation, exit).await,
            Message::TryAgain { key } => {
                let pending = self
                    .children
                    .table
                    .get(key)
                    .is_some_and(|c| c.state() == ChildState::Restarting);
                if pending {
                    self.restart(key, Duration::ZERO, Instant::now()).await
                } else {
                    // Terminated or deleted meanwhile: nothing to retry.
                    None
                }
            }
        }
    }
}
