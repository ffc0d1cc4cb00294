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
//! 5. expired restart delays.
//!
//! # Invariants
//!
//! - A child has a running incarnation exactly when its state is active
//!   (`Starting`, `Running`, `Stopping`).
//! - Messages about an incarnation other than the current one are ignored:
//!   each carries its sequence number and generation.
//! - A child with a pending delay has exactly one timer key.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use tend_spec::{AutoShutdown, Intensity, Strategy};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::time::DelayQueue;

use super::children::{Children, Incarnation};
use super::handle::{Command, Shared};
use super::incarnation::{panicked, ExitGuard};
use super::{Internal, Links, SupervisorHandle};
use crate::child::lifecycle::LifeEvent;
use crate::metrics::Counters;
use crate::policy::RestartWindow;
use crate::{ChildSpec, Context, EventKind, Exit, ExitRecord, StartError};

/// The flags of a supervisor, fixed at build time.
pub(crate) struct Settings {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) max_children: Option<usize>,
    pub(crate) history: usize,
}

/// What an inline wait for one incarnation ended with.
pub(crate) enum Waited {
    Ready,
    Exited(Exit),
    TimedOut,
}

pub(crate) struct Server {
    pub(crate) settings: Settings,
    pub(crate) shared: Arc<Shared>,
    pub(crate) intensity: RestartWindow,
    pub(crate) children: Children,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    inbox_tx: mpsc::UnboundedSender<Internal>,
    inbox: mpsc::UnboundedReceiver<Internal>,
    /// Messages set aside during an inline wait, handled before anything new.
    deferred: VecDeque<Internal>,
    pub(crate) timers: DelayQueue<u64>,
    /// Cancelled by the parent to stop a nested supervisor.
    stop: CancellationToken,
}

impl Server {
    pub(crate) fn new(
        settings: Settings,
        links: Arc<Links>,
        stop: Option<CancellationToken>,
    ) -> (Server, SupervisorHandle) {
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let (inbox_tx, inbox) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            links,
            counters: Counters::default(),
            exit: watch::Sender::new(None),
        });
        let intensity =
            RestartWindow::new(settings.intensity.max_restarts, settings.intensity.period);
        let server = Server {
            settings,
            shared: shared.clone(),
            intensity,
            children: Children::default(),
            commands,
            commands_open: true,
            inbox_tx,
            inbox,
            deferred: VecDeque::new(),
            timers: DelayQueue::new(),
            stop: stop.unwrap_or_default(),
        };
        (server, SupervisorHandle::new(commands_tx, shared))
    }

    pub(crate) fn links(&self) -> &Links {
        &self.shared.links
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Emits an event from this supervisor.
    pub(crate) fn emit(&self, kind: impl FnOnce() -> EventKind) {
        let links = self.links();
        links.bus.emit(&links.path, kind);
    }

    /// Starts the initial children in order. On a failure, stops those
    /// already started (reverse order) and names the child that failed.
    pub(crate) async fn init(&mut self, specs: Vec<ChildSpec>) -> Result<(), StartError> {
        let now = Instant::now();
        for spec in specs {
            let seq = self.children.insert(spec, now);
            if let Err(exit) = self.start_incarnation(seq).await {
                let id = self
                    .children
                    .get(seq)
                    .map(|c| c.id().clone())
                    .expect("just inserted");
                self.stop_all(Exit::shutdown("failed to start")).await;
                return Err(StartError::ChildFailed { id, exit });
            }
        }
        self.emit(|| EventKind::SupervisorStarted);
        Ok(())
    }

    /// The loop. Returns the supervisor's exit once it has stopped all
    /// children.
    pub(crate) async fn run(mut self) -> Exit {
        // One registration for the whole life of the loop, not one per turn.
        let stop = self.stop.clone();
        let stop_requested = stop.cancelled();
        tokio::pin!(stop_requested);
        let exit = loop {
            if let Some(message) = self.deferred.pop_front() {
                if let Some(exit) = self.on_internal(message).await {
                    break exit;
                }
                continue;
            }
            tokio::select! {
                biased;
                () = &mut stop_requested => {
                    break self.stop_all(Exit::requested()).await.exit;
                }
                command = self.commands.recv(), if self.commands_open => match command {
                    Some(command) => {
                        if let Some(exit) = self.on_command(command).await {
                            break exit;
                        }
                    }
                    None => self.commands_open = false,
                },
                Some(message) = self.inbox.recv() => {
                    if let Some(exit) = self.on_internal(message).await {
                        break exit;
                    }
                }
                Some(expired) = poll_fn(|cx| self.timers.poll_expired(cx)), if !self.timers.is_empty() => {
                    if let Some(exit) = self.on_delay_elapsed(expired.into_inner()).await {
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
        self.shared.exit.send_replace(Some(exit));
    }

    async fn on_internal(&mut self, message: Internal) -> Option<Exit> {
        match message {
            Internal::Exited {
                seq,
                generation,
                exit,
            } => self.on_exit(seq, generation, exit).await,
            Internal::Ready { seq, generation } => {
                self.on_ready(seq, generation);
                None
            }
            Internal::TryAgain { seq } => {
                let pending = self
                    .children
                    .get(seq)
                    .is_some_and(|c| c.state() == crate::ChildState::Restarting);
                if pending {
                    self.restart(seq, Duration::ZERO, Instant::now()).await
                } else {
                    // Terminated or deleted meanwhile: nothing to retry.
                    None
                }
            }
        }
    }

    fn on_ready(&mut self, seq: u64, generation: u64) {
        let Some(child) = self.children.get_mut(seq) else {
            return;
        };
        if !child.is_current(generation) || child.ready {
            return;
        }
        child.ready = true;
        let id = child.id().clone();
        self.emit(|| EventKind::ChildReady { id, generation });
    }

    /// An incarnation ended on its own: record it and apply the restart type.
    async fn on_exit(&mut self, seq: u64, generation: u64, exit: Exit) -> Option<Exit> {
        let current = self
            .children
            .get(seq)
            .is_some_and(|c| c.is_current(generation));
        if !current {
            return None;
        }
        let class = exit.class();
        let now = Instant::now();
        let ran_for = self.record_exit(seq, exit, now);
        let child = self.children.get(seq)?;
        if child.spec.restart.restarts_after(class) {
            return self.restart(seq, ran_for, now).await;
        }
        // Not restarted: a temporary spec goes, others are kept (OTP's
        // `del_child`), then auto-shutdown is considered.
        let significant = child.spec.significant;
        let id = child.id().clone();
        if child.spec.restart == crate::Restart::Temporary {
            self.remove_child(seq);
        }
        if significant && self.auto_shutdown_due() {
            self.emit(|| EventKind::AutoShutdown { trigger: id });
            return Some(self.stop_all(Exit::shutdown("auto_shutdown")).await.exit);
        }
        None
    }

    /// OTP's `do_auto_shutdown`, once the significant child's spec was
    /// updated.
    fn auto_shutdown_due(&self) -> bool {
        match self.settings.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .records()
                .any(|c| c.spec.significant && c.is_alive()),
        }
    }

    /// Records the end of the running incarnation of `seq`: history, last
    /// exit, counters, monitors, event. Returns how long it ran.
    pub(crate) fn record_exit(&mut self, seq: u64, exit: Exit, now: Instant) -> Duration {
        let history = self.settings.history;
        let child = self
            .children
            .get_mut(seq)
            .expect("record_exit of a known child");
        let Some(incarnation) = child.running.take() else {
            return Duration::ZERO;
        };
        let ran_for = now.saturating_duration_since(incarnation.since);
        let generation = child.generation;
        child.ready = false;
        child.apply(LifeEvent::Exited);
        child.record_exit(
            ExitRecord {
                generation,
                exit: exit.clone(),
                at: now,
            },
            history,
        );
        for monitor in child.monitors.drain(..) {
            let _ = monitor.send(Ok(crate::ChildExit {
                id: child.spec.id.clone(),
                generation,
                exit: exit.clone(),
                at: now,
            }));
        }
        let id = child.id().clone();
        self.counters().exited(exit.class());
        self.emit(|| EventKind::ChildExited {
            id,
            generation,
            exit,
            ran_for,
        });
        ran_for
    }

    /// Spawns a new incarnation of `seq` and, if its spec asks, waits for it
    /// to be ready. On failure the child is left with nothing running and the
    /// reason is returned.
    pub(crate) async fn start_incarnation(&mut self, seq: u64) -> Result<(), Exit> {
        let inbox = self.inbox_tx.clone();
        let links = self.shared.links.clone();
        let child = self.children.get_mut(seq).expect("start of a known child");
        child.generation += 1;
        let generation = child.generation;
        child.apply(LifeEvent::Spawn);
        let ctx = Context::new(child.spec.id.clone(), generation, seq, inbox, links);
        let guard = ExitGuard::new(ctx.clone());
        let launch = child.spec.launch.clone();
        let spawned = std::panic::catch_unwind(AssertUnwindSafe(|| launch(ctx.clone(), guard)));
        let abort = match spawned {
            Ok(abort) => abort,
            Err(panic) => {
                // The factory panicked before any task existed.
                let exit = panicked(panic.as_ref());
                child.apply(LifeEvent::Exited);
                return Err(self.start_failed(seq, generation, exit));
            }
        };
        child.running = Some(Incarnation {
            ctx,
            abort,
            since: Instant::now(),
        });
        let ready_wait = child.spec.ready_wait();
        self.counters().spawned();

        if let Some(timeout) = ready_wait {
            let deadline = timeout.map(|t| Instant::now() + t);
            match self.wait_for(seq, generation, true, deadline, false).await {
                Waited::Ready => {
                    let child = self.children.get_mut(seq).expect("known child");
                    child.ready = true;
                    let id = child.id().clone();
                    self.emit(|| EventKind::ChildReady { id, generation });
                }
                Waited::Exited(exit) => {
                    self.record_exit(seq, exit.clone(), Instant::now());
                    return Err(self.start_failed(seq, generation, exit));
                }
                Waited::TimedOut => {
                    self.kill_and_reap(seq, generation).await;
                    let timeout = timeout.unwrap_or_default();
                    return Err(self.start_failed(
                        seq,
                        generation,
                        Exit::failed(format_args!("not ready within {timeout:?}")),
                    ));
                }
            }
        }
        let child = self.children.get_mut(seq).expect("known child");
        child.apply(LifeEvent::Up);
        let id = child.id().clone();
        let pid = child.running.as_ref().and_then(|r| r.ctx.pid());
        self.emit(|| EventKind::ChildStarted {
            id,
            generation,
            pid,
        });
        Ok(())
    }

    fn start_failed(&self, seq: u64, generation: u64, exit: Exit) -> Exit {
        self.counters().start_failed();
        if let Some(child) = self.children.get(seq) {
            let id = child.id().clone();
            let reported = exit.clone();
            self.emit(|| EventKind::ChildStartFailed {
                id,
                generation,
                exit: reported,
            });
        }
        exit
    }

    /// Aborts the running incarnation and records its end.
    pub(crate) async fn kill_and_reap(&mut self, seq: u64, generation: u64) -> Exit {
        if let Some(running) = self.children.get(seq).and_then(|c| c.running.as_ref()) {
            running.abort.abort();
        }
        let exit = match self.wait_for(seq, generation, false, None, false).await {
            Waited::Exited(exit) => exit,
            Waited::Ready | Waited::TimedOut => Exit::killed(),
        };
        self.record_exit(seq, exit.clone().into_shutdown(), Instant::now());
        exit
    }

    /// Waits for one incarnation's exit (or readiness, when `want_ready`),
    /// setting other messages aside. Ends early at `deadline`, and when
    /// `hurry_aware` and the tree is hurried.
    pub(crate) async fn wait_for(
        &mut self,
        seq: u64,
        generation: u64,
        want_ready: bool,
        deadline: Option<Instant>,
        hurry_aware: bool,
    ) -> Waited {
        let matches = |message: &Internal| match *message {
            Internal::Exited {
                seq: s,
                generation: g,
                ..
            } => s == seq && g == generation,
            Internal::Ready {
                seq: s,
                generation: g,
            } => want_ready && s == seq && g == generation,
            Internal::TryAgain { .. } => false,
        };
        if let Some(position) = self.deferred.iter().position(matches) {
            let message = self
                .deferred
                .remove(position)
                .expect("position is in range");
            return waited(message);
        }
        let hurry = self.shared.links.hurry.clone();
        loop {
            let message = tokio::select! {
                biased;
                () = hurry.cancelled(), if hurry_aware => return Waited::TimedOut,
                message = self.inbox.recv() => message.expect("the server holds an inbox sender"),
                () = sleep_until(deadline) => return Waited::TimedOut,
            };
            if matches(&message) {
                return waited(message);
            }
            self.deferred.push_back(message);
        }
    }

    pub(crate) fn remove_child(&mut self, seq: u64) {
        if let Some(child) = self.children.remove(seq) {
            let id = child.id().clone();
            self.emit(|| EventKind::ChildRemoved { id });
        }
    }

    pub(crate) fn inbox_sender(&self) -> &mpsc::UnboundedSender<Internal> {
        &self.inbox_tx
    }
}

fn waited(message: Internal) -> Waited {
    match message {
        Internal::Exited { exit, .. } => Waited::Exited(exit),
        Internal::Ready { .. } => Waited::Ready,
        Internal::TryAgain { .. } => unreachable!("never matched by wait_for"),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
