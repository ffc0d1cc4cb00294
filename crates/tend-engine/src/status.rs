//! Snapshots answered by a supervisor: its children, their counts, its
//! restarts, its process table, the stop report, and a child's exit as seen
//! by a monitor.
//!
//! Times an operator reads are wall-clock ([`SystemTime`]). The engine
//! stamps events with its monotonic clock (tokio's, so a paused clock drives
//! tests exactly) and converts when a snapshot is taken ([`WallClock`]):
//! nothing is paid for wall-clock time on the restart path.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tend_spec::{Backend, Condition, CrashPolicy, Restart};
use tokio::time::Instant;

use crate::exit::{Exit, ExitKind};
use crate::id::{ChildId, IncarnationId};
use crate::state::{BudgetStatus, ChildKind, ChildState, IsolateCause, Usage};

/// The wall clock and the monotonic clock read at one moment, to turn
/// monotonic stamps into wall-clock times. A past stamp becomes "now minus
/// how long ago", so it moves if the system clock is set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    wall: SystemTime,
    mono: Instant,
}

impl WallClock {
    pub(crate) fn now() -> Self {
        WallClock {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }

    /// The wall-clock time of monotonic instant `at`.
    pub(crate) fn at(&self, at: Instant) -> SystemTime {
        match self.mono.checked_duration_since(at) {
            Some(ago) => self.wall.checked_sub(ago).unwrap_or(SystemTime::UNIX_EPOCH),
            None => self.wall + at.duration_since(self.mono),
        }
    }
}

/// Where a supervisor is in its life, from
/// [`SupervisorHandle::status`](crate::SupervisorHandle::status).
///
/// # Examples
///
/// ```
/// use tend_engine::{Supervisor, SupervisorStatus};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app").start().await.unwrap();
/// assert_eq!(sup.status(), SupervisorStatus::Running);
/// sup.shutdown().await;
/// assert!(matches!(sup.status(), SupervisorStatus::Stopped(_)));
/// assert!(sup.is_shutting_down());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupervisorStatus {
    /// Starting its initial children.
    Starting,
    /// Its start is over; it supervises.
    Running,
    /// Stopping its children, in reverse start order, before it ends.
    Stopping,
    /// Ended with this exit: on request, or by auto-shutdown.
    Stopped(Exit),
    /// Ended with this exit because it failed: it gave up (its restart
    /// intensity, or a child's budget), or its start failed.
    Failed(Exit),
}

impl SupervisorStatus {
    /// Where a supervisor that ended with `exit` rests.
    pub(crate) fn ended(exit: Exit) -> Self {
        match exit.kind() {
            ExitKind::GaveUp(_) | ExitKind::StartFailure => SupervisorStatus::Failed(exit),
            _ => SupervisorStatus::Stopped(exit),
        }
    }

    /// Its exit, once it has ended.
    #[must_use]
    pub fn exit(&self) -> Option<&Exit> {
        match self {
            SupervisorStatus::Stopped(exit) | SupervisorStatus::Failed(exit) => Some(exit),
            _ => None,
        }
    }
}

/// One ended incarnation: which, how, when, and how long it ran.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, ExitClass, Restart, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("job", |_ctx: Context| async {}).restart(Restart::Transient))
///     .start()
///     .await
///     .unwrap();
/// # tokio::task::yield_now().await;
/// let last = sup.child_info("job").await.unwrap().last_exit.unwrap();
/// assert_eq!((last.generation, last.exit.class()), (1, ExitClass::Normal));
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExitRecord {
    /// The incarnation number (per child).
    pub generation: u64,
    /// The incarnation's id in the tree.
    pub incarnation: IncarnationId,
    /// How it ended.
    pub exit: Exit,
    /// When it ended (wall clock).
    pub at: SystemTime,
    /// How long it ran.
    pub ran_for: Duration,
}

/// What an operator asks about a child, from
/// [`which_children`](crate::SupervisorHandle::which_children).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, ChildState, Context, ExitClass, Restart, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(
///         ChildSpec::task("once", |_ctx: Context| async { Err::<(), _>("bad input") })
///             .restart(Restart::Temporary),
///     )
///     .child(ChildSpec::task("steady", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// let steady = &sup.which_children().await[0]; // "once" ended and was removed
/// assert_eq!((steady.id.as_str(), steady.state), ("steady", ChildState::Running));
/// assert_eq!((steady.generation, steady.restarts), (1, 0));
/// assert!(steady.last_exit.is_none() && steady.running_since.is_some());
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChildInfo {
    /// The child's id.
    pub id: ChildId,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Where it is in its life.
    pub state: ChildState,
    /// The current (or last) incarnation number; 0 if it never started.
    pub generation: u64,
    /// The current (or last) incarnation's id in the tree.
    pub incarnation: Option<IncarnationId>,
    /// Incarnations that started (spawned, and ready if awaited).
    pub starts: u64,
    /// Abnormal exits, start failures included.
    pub failures: u64,
    /// Automatic restarts so far, including those caused by a sibling under
    /// one-for-all or rest-for-one (not operator restarts).
    pub restarts: u64,
    /// Times it was given up on (failed or isolated by its crash policy or
    /// its budget).
    pub give_ups: u64,
    /// How long its incarnations have run, the current one included.
    pub uptime: Duration,
    /// Its OS process, if it runs one (beside `incarnation`).
    pub pid: Option<u32>,
    /// Whether the running incarnation declared itself ready.
    pub ready: bool,
    /// What runs it.
    pub backend: Backend,
    /// Its restart type.
    pub restart: Restart,
    /// What an abnormal exit leads to.
    pub on_crash: CrashPolicy,
    /// Whether it is significant for auto-shutdown.
    pub significant: bool,
    /// How the last incarnation ended, if one did.
    pub last_exit: Option<ExitRecord>,
    /// When the running incarnation started (wall clock).
    pub running_since: Option<SystemTime>,
    /// When the spec was added to the supervisor (wall clock).
    pub supervised_since: SystemTime,
    /// What the running incarnation uses now, measured when asked (by
    /// backends that can: OS processes).
    pub usage: Option<Usage>,
    /// What the running incarnation says it is doing
    /// ([`Context::set_status`](crate::Context::set_status)), if anything.
    pub status: Option<String>,
    /// The last exits, oldest first (bounded; see
    /// [`SupervisorBuilder::history`](crate::SupervisorBuilder::history)).
    pub history: Vec<ExitRecord>,
    /// While it is due to start: what it still waits for, each sibling with
    /// the condition it must meet (the sibling ahead of it in OTP's order
    /// must be up: `Ready`; its dependencies' conditions). Empty otherwise.
    pub waiting_for: Vec<(ChildId, Condition)>,
    /// Its restart budget as it stands, if it has one.
    pub budget: Option<BudgetStatus>,
    /// When its running incarnation last passed a probe (startup,
    /// readiness or liveness), if it has probes and one passed.
    pub last_healthy: Option<SystemTime>,
}

/// How many of a supervisor's children are in each state, from
/// [`count_by_state`](crate::SupervisorHandle::count_by_state).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("a", |ctx: Context| async move { ctx.cancelled().await }))
///     .child(ChildSpec::task("b", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// sup.terminate_child("b").await.unwrap();
/// let counts = sup.count_by_state().await;
/// assert_eq!((counts.running, counts.shutdown, counts.total()), (1, 1, 2));
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct StateCounts {
    /// [`ChildState::Pending`].
    pub pending: usize,
    /// [`ChildState::Starting`].
    pub starting: usize,
    /// [`ChildState::Running`].
    pub running: usize,
    /// [`ChildState::Stopping`].
    pub stopping: usize,
    /// [`ChildState::BackingOff`].
    pub backing_off: usize,
    /// [`ChildState::CrashLoopBackOff`].
    pub crash_loop_backoff: usize,
    /// [`ChildState::Restarting`].
    pub restarting: usize,
    /// [`ChildState::Completed`].
    pub completed: usize,
    /// [`ChildState::Shutdown`].
    pub shutdown: usize,
    /// [`ChildState::Failed`], whatever the reason.
    pub failed: usize,
    /// [`ChildState::Isolated`].
    pub isolated: usize,
}

impl StateCounts {
    /// Counts one child in `state`.
    pub(crate) fn add(&mut self, state: ChildState) {
        let slot = match state {
            ChildState::Pending => &mut self.pending,
            ChildState::Starting => &mut self.starting,
            ChildState::Running => &mut self.running,
            ChildState::Stopping => &mut self.stopping,
            ChildState::BackingOff => &mut self.backing_off,
            ChildState::CrashLoopBackOff => &mut self.crash_loop_backoff,
            ChildState::Restarting => &mut self.restarting,
            ChildState::Completed => &mut self.completed,
            ChildState::Shutdown => &mut self.shutdown,
            ChildState::Failed(_) => &mut self.failed,
            ChildState::Isolated => &mut self.isolated,
        };
        *slot += 1;
    }

    /// All children counted.
    #[must_use]
    pub fn total(&self) -> usize {
        self.pending
            + self.starting
            + self.running
            + self.stopping
            + self.backing_off
            + self.crash_loop_backoff
            + self.restarting
            + self.completed
            + self.shutdown
            + self.failed
            + self.isolated
    }
}

/// One restart a supervisor made, from
/// [`restart_history`](crate::SupervisorHandle::restart_history).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_engine::{ChildSpec, Context, Intensity, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .intensity(Intensity::new(5, Duration::from_secs(5)))
///     .child(ChildSpec::task("flaky", |ctx: Context| async move {
///         if ctx.generation() == 1 {
///             return Err("first run fails");
///         }
///         ctx.cancelled().await;
///         Ok(())
///     }))
///     .start()
///     .await
///     .unwrap();
/// # while sup.child_info("flaky").await.unwrap().generation < 2 { tokio::task::yield_now().await; }
/// let history = sup.restart_history().await;
/// assert_eq!(history[0].id.as_str(), "flaky");
/// assert_eq!(history[0].after.exit.reason(), Some("first run fails"));
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestartRecord {
    /// When it was decided (wall clock).
    pub at: SystemTime,
    /// The child restarted.
    pub id: ChildId,
    /// The incarnation that ended, and why: the restart's reason.
    pub after: ExitRecord,
    /// How long the restart waited (backoff, crash-loop delay).
    pub delay: Duration,
}

/// A supervisor's room for children (its `max_children`).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .max_children(10)
///     .child(ChildSpec::task("w", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// let table = sup.process_table().await;
/// assert_eq!(table.entries[0].capacity.children, 1);
/// assert_eq!(table.entries[0].capacity.max, Some(10));
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Child specs it has now.
    pub children: usize,
    /// The most it accepts, if bounded.
    pub max: Option<usize>,
}

/// One live incarnation in a [`ProcessTable`].
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
/// let entry = &sup.process_table().await.entries[0];
/// assert_eq!((entry.path(), entry.generation, entry.parent), ("app/w".to_owned(), 1, None));
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessEntry {
    /// Its id in the tree.
    pub incarnation: IncarnationId,
    /// The incarnation it replaced (its restart lineage), if any.
    pub parent: Option<IncarnationId>,
    /// The path of its supervisor, e.g. `root/workers`.
    pub supervisor: Arc<str>,
    /// The child.
    pub id: ChildId,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// What runs it.
    pub backend: Backend,
    /// Where it is in its life (starting, running or stopping).
    pub state: ChildState,
    /// Its OS process, if it runs one.
    pub pid: Option<u32>,
    /// Its incarnation number (per child).
    pub generation: u64,
    /// When it started (wall clock).
    pub started: SystemTime,
    /// Its supervisor's room for children.
    pub capacity: Capacity,
}

impl ProcessEntry {
    /// `supervisor/id`, e.g. `root/workers/w1`.
    #[must_use]
    pub fn path(&self) -> String {
        format!("{}/{}", self.supervisor, self.id)
    }
}

/// The live incarnations of a supervisor's whole subtree (a kernel-style
/// process table), from [`process_table`](crate::SupervisorHandle::process_table):
/// each supervisor's children in start order, a nested supervisor's
/// children right after it.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, ChildState, Context, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("root")
///     .child(ChildSpec::task("a", |ctx: Context| async move { ctx.cancelled().await }))
///     .child(ChildSpec::supervisor(
///         Supervisor::builder("workers")
///             .child(ChildSpec::task("w1", |ctx: Context| async move { ctx.cancelled().await })),
///     ))
///     .start()
///     .await
///     .unwrap();
/// let table = sup.process_table().await;
/// let paths: Vec<String> = table.entries.iter().map(|e| e.path()).collect();
/// assert_eq!(paths, ["root/a", "root/workers", "root/workers/w1"]);
/// assert_eq!(table.in_state(ChildState::Running).count(), 3);
/// let w1 = table.entries[2].incarnation;
/// assert_eq!(table.get(w1).unwrap().id.as_str(), "w1");
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessTable {
    /// One entry per live incarnation.
    pub entries: Vec<ProcessEntry>,
}

impl ProcessTable {
    /// The entry of an incarnation, if it is live.
    #[must_use]
    pub fn get(&self, incarnation: IncarnationId) -> Option<&ProcessEntry> {
        self.entries.iter().find(|e| e.incarnation == incarnation)
    }

    /// The entry of the incarnation running OS process `pid`.
    #[must_use]
    pub fn by_pid(&self, pid: u32) -> Option<&ProcessEntry> {
        self.entries.iter().find(|e| e.pid == Some(pid))
    }

    /// Entries in a state (`running`, say).
    pub fn in_state(&self, state: ChildState) -> impl Iterator<Item = &ProcessEntry> {
        self.entries.iter().filter(move |e| e.state == state)
    }
}

/// What an [`on_isolate`](crate::ChildSpec::on_isolate) hook is told about
/// the child it runs for.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, CrashPolicy, IsolateCause};
///
/// let spec = ChildSpec::task("web", |_ctx: Context| async { Err::<(), _>("boom") })
///     .on_crash(CrashPolicy::Isolate)
///     .on_isolate(|isolation| async move {
///         assert_eq!(isolation.cause, IsolateCause::CrashPolicy);
///         println!("take {} out of the load balancer: {}", isolation.id, isolation.exit);
///     });
/// # let _ = spec;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Isolation {
    /// The path of its supervisor, e.g. `"root/web"`.
    pub supervisor: Arc<str>,
    /// The child.
    pub id: ChildId,
    /// The incarnation whose exit led to the isolation.
    pub generation: u64,
    /// Why it was isolated.
    pub cause: IsolateCause,
    /// That incarnation's exit.
    pub exit: Exit,
}

/// Counts of a supervisor's children (OTP's `count_children`).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("w", |ctx: Context| async move { ctx.cancelled().await }))
///     .child(ChildSpec::supervisor(Supervisor::builder("group")))
///     .start()
///     .await
///     .unwrap();
/// let counts = sup.count_children().await;
/// assert_eq!((counts.specs, counts.active, counts.supervisors, counts.workers), (2, 2, 1, 1));
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ChildCounts {
    /// Child specs, running or not.
    pub specs: usize,
    /// Children with a running incarnation.
    pub active: usize,
    /// Specs that are supervisors.
    pub supervisors: usize,
    /// Specs that are workers.
    pub workers: usize,
}

/// A child's exit as delivered to a [`monitor`](crate::SupervisorHandle::monitor).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, ExitKind, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("w", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// let next_exit = sup.monitor("w");
/// sup.kill_child("w").await.unwrap();
/// let exit = next_exit.await.unwrap();
/// assert_eq!((exit.id.as_str(), exit.generation, exit.exit.kind()), ("w", 1, ExitKind::Killed));
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildExit {
    /// The child.
    pub id: ChildId,
    /// The incarnation that ended.
    pub generation: u64,
    /// How it ended.
    pub exit: Exit,
    /// When.
    pub at: Instant,
}

/// How one child's stop went.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_engine::{ChildSpec, Context, Shutdown, StopOutcome, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("polite", |ctx: Context| async move { ctx.cancelled().await }))
///     .child(
///         ChildSpec::task("deaf", |_ctx: Context| std::future::pending::<()>())
///             .shutdown(Shutdown::Timeout(Duration::from_millis(10))),
///     )
///     .start()
///     .await
///     .unwrap();
/// let report = sup.shutdown().await;
/// assert_eq!(report.children[0].outcome, StopOutcome::Killed); // "deaf", stopped first
/// assert!(matches!(report.children[1].outcome, StopOutcome::Stopped(_)));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// It ended within its shutdown timeout, with this exit.
    Stopped(Exit),
    /// It had to be killed (brutal kill, or its timeout ran out).
    Killed,
    /// Nothing was running.
    NotRunning,
}

/// One line of a [`StopReport`].
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
/// let stop = &sup.shutdown().await.children[0];
/// assert_eq!(stop.id.as_str(), "w");
/// assert!(stop.took < std::time::Duration::from_secs(1));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildStop {
    /// The child.
    pub id: ChildId,
    /// How its stop went.
    pub outcome: StopOutcome,
    /// How long stopping it took.
    pub took: Duration,
}

/// What a supervisor's shutdown did, child by child in stop order (reverse
/// start order).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("a", |ctx: Context| async move { ctx.cancelled().await }))
///     .child(ChildSpec::task("b", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// let report = sup.shutdown().await;
/// let order: Vec<_> = report.children.iter().map(|c| c.id.as_str()).collect();
/// assert_eq!(order, ["b", "a"]);
/// assert!(report.killed().next().is_none());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReport {
    /// Each child, in the order it was stopped.
    pub children: Vec<ChildStop>,
    /// The supervisor's own exit.
    pub exit: Exit,
}

impl StopReport {
    /// The children that had to be killed.
    pub fn killed(&self) -> impl Iterator<Item = &ChildId> {
        self.children
            .iter()
            .filter(|c| c.outcome == StopOutcome::Killed)
            .map(|c| &c.id)
    }

    /// The children that ended by themselves when asked.
    pub fn stopped_cleanly(&self) -> impl Iterator<Item = &ChildId> {
        self.children
            .iter()
            .filter(|c| matches!(c.outcome, StopOutcome::Stopped(_)))
            .map(|c| &c.id)
    }
}
