//! The supervisor's one task: its state and its loop.
//!
//! # Priority
//!
//! Before each turn the loop settles (`start.rs`): it begins the starts
//! whose turn came. Then it takes, in this order (a `biased` select):
//!
//! 1. the stop request from its parent (nested supervisors only);
//! 2. commands from handles: a shutdown or a terminate is never starved by
//!    a flood of exits, nor by children whose restarts keep failing;
//! 3. messages it set aside while it waited inline for a stop (oldest
//!    first), then its inbox: exits, readiness, faults;
//! 4. expired restart delays;
//! 5. expired readiness deadlines of starts.
//!
//! Nothing in the loop waits for a start: a command is answered after at
//! most the message being handled (and the stops it makes).
//!
//! # Invariants
//!
//! - A child has a running incarnation exactly when its state is active
//!   (`Starting`, `Running`, `Stopping`), or it is `Isolated` while kept
//!   running for debugging.
//! - Messages about an incarnation other than the current one are ignored:
//!   each carries its child's key and its generation.
//! - A child with a pending delay has exactly one timer key.
//! - A queued child is `Pending` or, when its own restart is due,
//!   `Restarting` (or `BackingOff`/`CrashLoopBackOff`, holding its wave).

use std::future::poll_fn;
use std::sync::Arc;

use tend_spec::{AutoShutdown, Intensity, Strategy};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::handle::{Command, Shared, SupervisorHandle};
use super::incarnation::Incarnations;
use crate::child::ChildSpec;
use crate::context::Context;
use crate::error::StartError;
use crate::event::EventKind;
use crate::exit::Exit;
use crate::metrics::SupervisorStats;
use crate::policy::RestartWindow;
use crate::status::SupervisorStatus;
use crate::tree::{ChildKey, Message, TreeLinks};

/// The flags of a supervisor, fixed at build time.
pub(crate) struct Settings {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) max_children: Option<usize>,
    pub(crate) history: usize,
    /// Children start as their dependencies allow, not one after another
    /// (`start.rs`).
    pub(crate) concurrent: bool,
    /// A stop of every child asks them all at once (`incarnation.rs`).
    pub(crate) concurrent_stop: bool,
}

/// Who awaits the supervisor's own start, until it is over.
pub(crate) enum Init {
    /// A root's `start()`.
    Root(oneshot::Sender<Result<(), StartError>>),
    /// A nested supervisor's parent, told through its context.
    Nested(Context),
}

pub(crate) struct Server {
    pub(crate) settings: Settings,
    pub(crate) intensity: RestartWindow,
    pub(crate) children: Incarnations,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    /// Cancelled by the parent to stop a nested supervisor.
    stop: CancellationToken,
    /// Who awaits the supervisor's own start, while it goes on.
    pub(crate) init: Option<Init>,
    /// Starts whose spawn failed, to be handled when the loop settles.
    pub(crate) unspawned: Vec<(ChildKey, Exit)>,
    /// The children settling looks at (kept to reuse its allocation).
    pub(crate) looking: Vec<ChildKey>,
}

impl Server {
    pub(crate) fn new(
        settings: Settings,
        links: Arc<TreeLinks>,
        stop: Option<CancellationToken>,
        init: Init,
    ) -> (Server, SupervisorHandle) {
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let stats = Arc::new(SupervisorStats::new(&links.path));
        links.stats.register(&stats);
        let shared = Arc::new(Shared {
            links,
            stats,
            status: watch::Sender::new(SupervisorStatus::Starting),
            shutdown_asked: std::sync::atomic::AtomicBool::new(false),
        });
        let intensity =
            RestartWindow::new(settings.intensity.max_restarts, settings.intensity.period);
        let children =
            Incarnations::new(shared.clone(), settings.history, settings.concurrent_stop);
        let server = Server {
            settings,
            intensity,
            children,
            commands,
            commands_open: true,
            stop: stop.unwrap_or_default(),
            init: Some(init),
            unspawned: Vec::new(),
            looking: Vec::new(),
        };
        (server, SupervisorHandle::new(commands_tx, shared))
    }

    /// Adds the initial children and queues their start as one wave (under
    /// OTP's order, one after another). A child handed over at rest
    /// ([`ChildSpec::resting`]) is not started.
    pub(crate) fn add_initial(&mut self, specs: Vec<ChildSpec>) {
        self.children.table.reserve(specs.len());
        let mut wave = Vec::with_capacity(specs.len());
        for spec in specs {
            let key = self.children.add(spec);
            if !self.children.rest_if_handed(key) {
                wave.push(key);
            }
        }
        let ordered = self.ordered();
        self.children.queue.push_wave(wave, ordered, None);
    }

    /// The loop, from the initial start on. Returns the supervisor's exit
    /// once it has stopped all children.
    pub(crate) async fn run(mut self) -> Exit {
        // One registration for the whole life of the loop, not one per turn.
        let stop = self.stop.clone();
        let stop_requested = stop.cancelled();
        tokio::pin!(stop_requested);
        let exit = loop {
            // Once a stop is asked, nothing new starts: a restart that was
            // on its way when it came is called off by the stop (asked
            // through a handle, it may still wait in the mailbox).
            if self.unsettled() && !self.stopping() {
                if let Some(exit) = self.settle_fully().await {
                    break exit;
                }
            }
            let ended = tokio::select! {
                biased;
                () = &mut stop_requested => {
                    Some(self.children.stop_all(Exit::requested()).await.exit)
                }
                command = self.commands.recv(), if self.commands_open => match command {
                    Some(command) => self.on_command(command).await,
                    None => {
                        self.commands_open = false;
                        None
                    }
                },
                message = self.children.mailbox.next() => self.on_message(message).await,
                Some(expired) = poll_fn(|cx| self.children.timers.poll_expired(cx)), if !self.children.timers.is_empty() => {
                    self.on_delay_elapsed(expired.into_inner()).await
                }
                Some(expired) = poll_fn(|cx| self.children.ready_deadlines.poll_expired(cx)), if !self.children.ready_deadlines.is_empty() => {
                    let (key, generation) = expired.into_inner();
                    self.on_ready_deadline(key, generation).await
                }
            };
            if let Some(exit) = ended {
                break exit;
            }
        };
        self.finish(exit.clone());
        exit
    }

    /// Whether a stop was asked: by the parent (its token) or through a
    /// handle (the request may still wait in the mailbox).
    pub(crate) fn stopping(&self) -> bool {
        self.stop.is_cancelled()
            || self
                .children
                .shared
                .shutdown_asked
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Settles (`start.rs`) and handles what failed to spawn meanwhile
    /// (`restart.rs`), until both are done; then whoever awaits the
    /// supervisor's own start is told, once it is over. Returns the
    /// supervisor's exit if a failed start ended it.
    async fn settle_fully(&mut self) -> Option<Exit> {
        loop {
            self.settle().await;
            if self.unspawned.is_empty() {
                self.announce_if_started();
                return None;
            }
            if let Some(exit) = self.after_failed_spawns().await {
                return Some(exit);
            }
        }
    }

    /// Publishes the supervisor's end; whoever awaited its start learns it
    /// did not start.
    pub(crate) fn finish(&mut self, exit: Exit) {
        if let Some(Init::Root(reply)) = self.init.take() {
            let _ = reply.send(Err(StartError::Aborted));
        }
        self.children
            .emit(|| EventKind::SupervisorStopped { exit: exit.clone() });
        self.children
            .shared
            .set_status(SupervisorStatus::ended(exit));
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
                // A start waits for this without blocking.
                let starting = self.children.table.get(key).is_some_and(|c| {
                    c.is_current(generation) && c.state() == crate::state::ChildState::Starting
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
        }
    }
}
