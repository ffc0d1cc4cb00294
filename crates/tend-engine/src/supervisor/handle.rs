//! The public handle of a running supervisor, the commands it sends to the
//! server, and what handles read without asking it ([`Shared`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tend_spec::Signal;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::children::{MonitorReply, Snapshot};
use super::incarnation::StartReply;
use crate::child::ChildSpec;
use crate::error::ControlError;
use crate::event::Event;
use crate::exit::Exit;
use crate::id::{ChildId, IncarnationId};
use crate::link::Link;
use crate::metrics::{MetricsSnapshot, SupervisorStats};
use crate::state::ChildState;
use crate::status::{
    ChildCounts, ChildExit, ChildInfo, ProcessEntry, ProcessTable, RestartRecord, StateCounts,
    StopReport, SupervisorStatus,
};
use crate::tree::TreeLinks;

/// A request to the supervisor's server task.
pub(crate) enum Command {
    StartChild(ChildSpec, StartReply),
    Terminate(ChildId, oneshot::Sender<Result<(), ControlError>>),
    Abort(ChildId, oneshot::Sender<Result<(), ControlError>>),
    Restart(ChildId, StartReply),
    RestartNow(ChildId, StartReply),
    Kill(ChildId, oneshot::Sender<Result<(), ControlError>>),
    Signal(
        ChildId,
        Signal,
        oneshot::Sender<Result<SignalAnswer, ControlError>>,
    ),
    Link(ChildId, ChildId, oneshot::Sender<Result<(), ControlError>>),
    LinkTo(ChildId, oneshot::Sender<Result<Link, ControlError>>),
    Delete(ChildId, oneshot::Sender<Result<(), ControlError>>),
    WhichChildren(Option<StateFilter>, oneshot::Sender<Vec<Snapshot>>),
    ChildInfo(ChildId, oneshot::Sender<Result<Snapshot, ControlError>>),
    CountChildren(oneshot::Sender<ChildCounts>),
    CountByState(oneshot::Sender<StateCounts>),
    RestartHistory(oneshot::Sender<Vec<RestartRecord>>),
    Table(oneshot::Sender<Vec<TableRow>>),
    Monitor(ChildId, MonitorReply),
    Nested(
        ChildId,
        oneshot::Sender<Result<SupervisorHandle, ControlError>>,
    ),
    Shutdown(oneshot::Sender<StopReport>),
}

/// Whether a signal an incarnation was given could be sent.
pub(crate) type SignalAnswer = oneshot::Receiver<Result<(), String>>;

/// Which states a listing keeps.
pub(crate) type StateFilter = Box<dyn Fn(ChildState) -> bool + Send>;

/// One live incarnation in a supervisor's answer to a table request, with
/// the handle of the supervisor it runs, if it is one.
pub(crate) type TableRow = (ProcessEntry, Option<SupervisorHandle>);

/// What handles read without asking the server.
pub(crate) struct Shared {
    pub(crate) links: Arc<TreeLinks>,
    /// Its counters and its children's.
    pub(crate) stats: Arc<SupervisorStats>,
    /// Where it is in its life; its exit once it ended.
    pub(crate) status: watch::Sender<SupervisorStatus>,
    /// A shutdown was asked through a handle: nothing starts from then
    /// on, even before the server reaches the request in its mailbox (a
    /// restart whose stop it is waiting on would otherwise spawn anew).
    pub(crate) shutdown_asked: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Publishes where the supervisor is in its life. The tree's root
    /// beginning to stop cancels the tree's token.
    pub(crate) fn set_status(&self, status: SupervisorStatus) {
        if self.links.is_root && status == SupervisorStatus::Stopping {
            self.links.shutdown.cancel();
        }
        self.status.send_replace(status);
    }
}

/// A running supervisor. Cheap to clone; every clone talks to the same one.
///
/// Calls that change or read children are answered by the supervisor's task
/// in the order they were sent (like OTP's `gen_server:call`). Events,
/// metrics and the final exit are read without asking it.
///
/// The async methods are *not* cancel-safe in one sense: once polled, the
/// request is sent, and it is carried out even if the future is then dropped.
/// Dropping every handle does not stop the supervisor; call
/// [`shutdown`](Self::shutdown).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, ChildState, Context, ControlError, Restart, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app").start().await.unwrap();
/// let worker = |ctx: Context| async move { ctx.cancelled().await };
///
/// sup.start_child(ChildSpec::task("w", worker)).await.unwrap();
/// assert_eq!(
///     sup.start_child(ChildSpec::task("w", worker)).await,
///     Err(ControlError::AlreadyStarted("w".into()))
/// );
/// sup.terminate_child("w").await.unwrap();
/// assert_eq!(sup.which_children().await[0].state, ChildState::Shutdown);
/// sup.restart_child("w").await.unwrap();
/// assert_eq!(sup.which_children().await[0].generation, 2);
/// sup.shutdown().await;
/// # }
/// ```
#[derive(Clone)]
pub struct SupervisorHandle {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
}

impl SupervisorHandle {
    pub(crate) fn new(commands: mpsc::UnboundedSender<Command>, shared: Arc<Shared>) -> Self {
        SupervisorHandle { commands, shared }
    }

    /// The supervisor's path in its tree, e.g. `"root/workers"`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.links.path
    }

    async fn call<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, ControlError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(request(reply))
            .map_err(|_| ControlError::SupervisorGone)?;
        answer.await.map_err(|_| ControlError::SupervisorGone)
    }

    /// Adds a child at the end of the start order and starts it (OTP's
    /// `start_child`); returns the new incarnation's id once it is up
    /// (ready, if its spec awaits readiness; after its dependencies, if it
    /// has any). The supervisor serves other calls meanwhile.
    ///
    /// A failed start is answered with [`ControlError::StartFailed`]. Under
    /// OTP's order the spec is then not kept, as OTP does; a supervisor
    /// with [`concurrent_start`](crate::SupervisorBuilder::concurrent_start)
    /// keeps it and handles the failure like any exit (its restart type
    /// decides whether it is tried again).
    ///
    /// The request is sent when this is called: dropping the future does
    /// not call the start off.
    ///
    /// # Errors
    /// [`ControlError::InvalidSpec`], [`ControlError::AlreadyStarted`],
    /// [`ControlError::AlreadyPresent`], [`ControlError::MaxChildren`],
    /// [`ControlError::StartFailed`] or [`ControlError::SupervisorGone`].
    pub fn start_child(
        &self,
        spec: ChildSpec,
    ) -> impl Future<Output = Result<IncarnationId, ControlError>> + Send + 'static {
        self.send(|reply| Command::StartChild(spec, reply))
    }

    /// Sends a request now and returns the future of its answer.
    fn send<T: Send + 'static>(
        &self,
        request: impl FnOnce(oneshot::Sender<Result<T, ControlError>>) -> Command,
    ) -> impl Future<Output = Result<T, ControlError>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let sent = self.commands.send(request(reply));
        async move {
            sent.map_err(|_| ControlError::SupervisorGone)?;
            answer.await.map_err(|_| ControlError::SupervisorGone)?
        }
    }

    /// Stops a child's running incarnation by its shutdown spec, or calls off
    /// its pending restart. The spec is kept, unless the child is temporary.
    /// Never counts as a restart and never triggers auto-shutdown.
    ///
    /// # Errors
    /// [`ControlError::NotFound`] or [`ControlError::SupervisorGone`].
    pub async fn terminate_child(&self, id: impl Into<ChildId>) -> Result<(), ControlError> {
        let id = id.into();
        self.call(|reply| Command::Terminate(id, reply)).await?
    }

    /// Stops a child's running incarnation at once, with no grace (for an OS
    /// process, `SIGKILL` to its group), and keeps it stopped: a
    /// [`terminate_child`](Self::terminate_child) without the wait. Its end
    /// is recorded as a shutdown (`shutdown: killed`). Use
    /// [`kill_child`](Self::kill_child) to kill it as a fault that its
    /// restart type handles.
    ///
    /// # Errors
    /// [`ControlError::NotFound`] or [`ControlError::SupervisorGone`].
    pub async fn abort_child(&self, id: impl Into<ChildId>) -> Result<(), ControlError> {
        let id = id.into();
        self.call(|reply| Command::Abort(id, reply)).await?
    }

    /// Kills a child's running incarnation at once, with no grace (for an OS
    /// process, `SIGKILL` to its group), then handles the exit as any
    /// abnormal one: [`ExitKind::Killed`](crate::ExitKind::Killed), and its
    /// crash policy and restart type decide (a permanent child is
    /// restarted). Use [`terminate_child`](Self::terminate_child) to stop
    /// it gracefully and keep it stopped.
    ///
    /// # Errors
    /// [`ControlError::NotRunning`] (nothing runs), [`ControlError::NotFound`]
    /// or [`ControlError::SupervisorGone`].
    pub async fn kill_child(&self, id: impl Into<ChildId>) -> Result<(), ControlError> {
        let id = id.into();
        self.call(|reply| Command::Kill(id, reply)).await?
    }

    /// Sends `signal` to a child's running incarnation, through it: a
    /// process is signalled through its pidfd (so a pid reused meanwhile
    /// never gets it), the main process if it named another. Answers once
    /// it was sent.
    ///
    /// # Errors
    /// [`ControlError::NotRunning`] (nothing runs), [`ControlError::Signal`]
    /// (a task, which takes no signals, or the system refused),
    /// [`ControlError::NotFound`] or [`ControlError::SupervisorGone`].
    pub async fn signal_child(
        &self,
        id: impl Into<ChildId>,
        signal: Signal,
    ) -> Result<(), ControlError> {
        let id = id.into();
        let answer = self
            .call(|reply| Command::Signal(id.clone(), signal, reply))
            .await??;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(ControlError::Signal { id, reason }),
            Err(_) => Err(ControlError::NotRunning(id)),
        }
    }

    /// Links the running incarnations of two children of this supervisor,
    /// as Erlang's `link/1`: when one ends abnormally the other is stopped
    /// with [`ExitKind::Linked`](crate::ExitKind::Linked), unless it traps
    /// exits ([`ChildSpec::trap_exits`]), in which case it is told; a normal
    /// end does not propagate. The link lasts until either incarnation ends.
    ///
    /// # Errors
    /// [`ControlError::NotRunning`] (one of them runs nothing),
    /// [`ControlError::NotFound`] or [`ControlError::SupervisorGone`].
    pub async fn link(
        &self,
        a: impl Into<ChildId>,
        b: impl Into<ChildId>,
    ) -> Result<(), ControlError> {
        let (a, b) = (a.into(), b.into());
        self.call(|reply| Command::Link(a, b, reply)).await?
    }

    /// Links the calling (outside) task to a child's running incarnation:
    /// see [`Link`].
    ///
    /// # Errors
    /// [`ControlError::NotRunning`], [`ControlError::NotFound`] or
    /// [`ControlError::SupervisorGone`].
    pub async fn link_to(&self, id: impl Into<ChildId>) -> Result<Link, ControlError> {
        let id = id.into();
        self.call(|reply| Command::LinkTo(id, reply)).await?
    }

    /// Starts a new incarnation of a child that is not running (OTP's
    /// `restart_child`); works on stopped, failed and isolated children.
    /// Returns the new incarnation's id once it is up. Not counted as a
    /// restart. A failed start is answered with
    /// [`ControlError::StartFailed`]; under OTP's order the child is then
    /// `Failed(StartFailed)`, with concurrent start its restart type
    /// decides. The request is sent when this is called.
    ///
    /// # Errors
    /// [`ControlError::Running`], [`ControlError::Restarting`],
    /// [`ControlError::NotFound`], [`ControlError::StartFailed`] or
    /// [`ControlError::SupervisorGone`].
    pub fn restart_child(
        &self,
        id: impl Into<ChildId>,
    ) -> impl Future<Output = Result<IncarnationId, ControlError>> + Send + 'static {
        let id = id.into();
        self.send(|reply| Command::Restart(id, reply))
    }

    /// Restarts a child now, whatever it is doing: its running incarnation
    /// (if any) is stopped by its shutdown spec, a pending restart is
    /// called off, and a new incarnation starts, whose
    /// [`replaces`](crate::Context::replaces) names the old one. Returns
    /// the new incarnation's id once it is up. An operator's restart: it
    /// counts toward no intensity or budget and involves no sibling. A
    /// failed start is answered as for [`restart_child`](Self::restart_child).
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_engine::{ChildSpec, Context, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app")
    ///     .child(ChildSpec::task("w", |ctx: Context| async move { ctx.cancelled().await }))
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// let old = sup.child_info("w").await.unwrap().incarnation.unwrap();
    /// let new = sup.restart_child_now("w").await.unwrap();
    /// assert_ne!(old, new);
    /// assert_eq!(sup.child_info("w").await.unwrap().generation, 2);
    /// # sup.shutdown().await;
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`ControlError::NotFound`], [`ControlError::StartFailed`] or
    /// [`ControlError::SupervisorGone`].
    pub fn restart_child_now(
        &self,
        id: impl Into<ChildId>,
    ) -> impl Future<Output = Result<IncarnationId, ControlError>> + Send + 'static {
        let id = id.into();
        self.send(|reply| Command::RestartNow(id, reply))
    }

    /// Removes the spec of a child that is not running (OTP's `delete_child`).
    ///
    /// # Errors
    /// [`ControlError::Running`], [`ControlError::Restarting`],
    /// [`ControlError::NotFound`] or [`ControlError::SupervisorGone`].
    pub async fn delete_child(&self, id: impl Into<ChildId>) -> Result<(), ControlError> {
        let id = id.into();
        self.call(|reply| Command::Delete(id, reply)).await?
    }

    /// Every child, in start order, with what an operator asks about it.
    /// Empty once the supervisor has ended.
    pub async fn which_children(&self) -> Vec<ChildInfo> {
        self.snapshots(None)
            .await
            .into_iter()
            .map(Snapshot::measured)
            .collect()
    }

    /// [`which_children`](Self::which_children) without
    /// [`usage`](ChildInfo::usage) (always `None`): no file is read, so it
    /// suits frequent polling of large trees (a status page of a thousand
    /// processes).
    pub async fn which_children_unmeasured(&self) -> Vec<ChildInfo> {
        self.snapshots(None)
            .await
            .into_iter()
            .map(Snapshot::unmeasured)
            .collect()
    }

    async fn snapshots(&self, keep: Option<StateFilter>) -> Vec<Snapshot> {
        self.call(|reply| Command::WhichChildren(keep, reply))
            .await
            .unwrap_or_default()
    }

    /// The children whose state `keep` accepts, in start order (the
    /// supervisor builds no snapshot, and measures no usage, for the
    /// others).
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_engine::{ChildSpec, ChildState, Context, CrashPolicy, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app")
    ///     .child(ChildSpec::task("ok", |ctx: Context| async move { ctx.cancelled().await }))
    ///     .child(
    ///         ChildSpec::task("bad", |_ctx: Context| async { Err::<(), _>("no") })
    ///             .on_crash(CrashPolicy::Shutdown),
    ///     )
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// # tokio::task::yield_now().await;
    /// let failed = sup.which_children_where(|s| matches!(s, ChildState::Failed(_))).await;
    /// assert_eq!(failed[0].id.as_str(), "bad");
    /// assert_eq!(sup.count_by_state().await.running, 1);
    /// # sup.shutdown().await;
    /// # }
    /// ```
    pub async fn which_children_where(
        &self,
        keep: impl Fn(ChildState) -> bool + Send + 'static,
    ) -> Vec<ChildInfo> {
        self.snapshots(Some(Box::new(keep)))
            .await
            .into_iter()
            .map(Snapshot::measured)
            .collect()
    }

    /// How many children are in each state. All zero once the supervisor
    /// has ended.
    pub async fn count_by_state(&self) -> StateCounts {
        self.call(Command::CountByState).await.unwrap_or_default()
    }

    /// The supervisor's recent restarts, oldest first: when, which child,
    /// after which exit, and with what delay. Drawn from its children's
    /// histories, so each child contributes its restarts among its last
    /// [`history`](crate::SupervisorBuilder::history) exits.
    pub async fn restart_history(&self) -> Vec<RestartRecord> {
        self.call(Command::RestartHistory).await.unwrap_or_default()
    }

    /// The live incarnations of this supervisor's whole subtree, with their
    /// ids, lineage, paths, states, pids and their supervisors' capacity
    /// (a kernel-style process table). Each supervisor answers for its own
    /// children; nested ones are asked in turn.
    pub async fn process_table(&self) -> ProcessTable {
        let mut table = ProcessTable::default();
        self.collect_table(&mut table.entries).await;
        table
    }

    fn collect_table<'a>(
        &'a self,
        entries: &'a mut Vec<ProcessEntry>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let Ok(rows) = self.call(Command::Table).await else {
                return;
            };
            for (entry, nested) in rows {
                entries.push(entry);
                if let Some(nested) = nested {
                    nested.collect_table(entries).await;
                }
            }
        })
    }

    /// What an operator asks about one child (see [`ChildInfo`]).
    ///
    /// # Errors
    /// [`ControlError::NotFound`] or [`ControlError::SupervisorGone`].
    pub async fn child_info(&self, id: impl Into<ChildId>) -> Result<ChildInfo, ControlError> {
        let id = id.into();
        self.call(|reply| Command::ChildInfo(id, reply))
            .await?
            .map(Snapshot::measured)
    }

    /// Counts of specs, running children, supervisors and workers (OTP's
    /// `count_children`). All zero once the supervisor has ended.
    pub async fn count_children(&self) -> ChildCounts {
        self.call(Command::CountChildren).await.unwrap_or_default()
    }

    /// Resolves with the child's next exit, like an OTP monitor. The
    /// registration is sent when this is called, so an exit after the call
    /// returns is never missed. A child whose restart is pending is watched
    /// through its next incarnation.
    ///
    /// # Errors
    /// [`ControlError::NotFound`], [`ControlError::NotRunning`] (nothing runs
    /// and no restart is pending) or [`ControlError::SupervisorGone`] (also if
    /// the supervisor ends before the child exits).
    pub fn monitor(
        &self,
        id: impl Into<ChildId>,
    ) -> impl Future<Output = Result<ChildExit, ControlError>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let sent = self.commands.send(Command::Monitor(id.into(), reply));
        async move {
            sent.map_err(|_| ControlError::SupervisorGone)?;
            answer.await.map_err(|_| ControlError::SupervisorGone)?
        }
    }

    /// The handle of a nested supervisor child, while it runs.
    ///
    /// # Errors
    /// [`ControlError::NotFound`], [`ControlError::NotASupervisor`] or
    /// [`ControlError::SupervisorGone`].
    pub async fn supervisor(
        &self,
        id: impl Into<ChildId>,
    ) -> Result<SupervisorHandle, ControlError> {
        let id = id.into();
        self.call(|reply| Command::Nested(id, reply)).await?
    }

    /// Subscribes to the events of this supervisor's whole tree (nested
    /// supervisors share the stream). A subscriber that falls behind loses
    /// the oldest events and is told how many.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.links.bus.subscribe()
    }

    /// Every supervisor of this one's tree, for a collector.
    #[cfg(feature = "prometheus")]
    pub(crate) fn tree_stats(&self) -> &crate::metrics::TreeStats {
        &self.shared.links.stats
    }

    /// The supervisor's counters, read without asking it.
    #[must_use]
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.stats.counters.snapshot()
    }

    /// Stops all children in reverse start order (each by its shutdown spec;
    /// nested supervisors stop their subtree first), then the supervisor.
    /// Returns who stopped cleanly and who was killed. If the supervisor had
    /// already ended, the report lists no children.
    pub async fn shutdown(&self) -> StopReport {
        self.shared
            .shutdown_asked
            .store(true, std::sync::atomic::Ordering::Relaxed);
        match self.call(Command::Shutdown).await {
            Ok(report) => report,
            Err(_) => StopReport {
                children: Vec::new(),
                exit: self.wait().await,
            },
        }
    }

    /// Where the supervisor is in its life, read without asking it.
    #[must_use]
    pub fn status(&self) -> SupervisorStatus {
        self.shared.status.borrow().clone()
    }

    /// Whether the supervisor has begun to stop (or has ended).
    #[must_use]
    pub fn is_shutting_down(&self) -> bool {
        matches!(
            *self.shared.status.borrow(),
            SupervisorStatus::Stopping | SupervisorStatus::Stopped(_) | SupervisorStatus::Failed(_)
        )
    }

    /// The whole tree's cancellation token: cancelled when the tree's root
    /// begins to stop (a shutdown, or giving up). Hand it to tasks of your
    /// own that must end with the tree. (A child's own incarnation has
    /// [`Context::cancelled`](crate::Context::cancelled).)
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_engine::Supervisor;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app").start().await.unwrap();
    /// let token = sup.cancellation_token();
    /// let helper = tokio::spawn(async move { token.cancelled().await });
    /// sup.shutdown().await;
    /// helper.await.unwrap();
    /// # }
    /// ```
    #[must_use]
    pub fn cancellation_token(&self) -> CancellationToken {
        self.shared.links.shutdown.clone()
    }

    /// Turns every stop in this supervisor's subtree, ongoing or later, into
    /// an immediate kill: the second Ctrl-C.
    pub fn hurry(&self) {
        self.shared.links.hurry.cancel();
    }

    /// Resolves with the supervisor's exit once it has ended, by itself
    /// (giving up, auto-shutdown) or on request. Cancel-safe.
    pub async fn wait(&self) -> Exit {
        let mut status = self.shared.status.subscribe();
        let ended = status.wait_for(|s| s.exit().is_some()).await;
        match ended {
            Ok(status) => status.exit().cloned().unwrap_or_else(Exit::normal),
            // The server drops its sender only after publishing an exit.
            Err(_) => Exit::killed(),
        }
    }

    /// Whether the supervisor has not ended yet.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.shared.status.borrow().exit().is_none()
    }
}

impl std::fmt::Debug for SupervisorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorHandle")
            .field("name", &self.name())
            .field("running", &self.is_running())
            .finish()
    }
}
