//! Snapshots answered by a supervisor: its children, their counts, the stop
//! report, and a child's exit as seen by a monitor.

use std::sync::Arc;
use std::time::Duration;

use tend_spec::{Backend, CrashPolicy, Restart};
use tokio::time::Instant;

use crate::exit::Exit;
use crate::id::ChildId;
use crate::state::{ChildKind, ChildState, IsolateCause};

/// One ended incarnation: how and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitRecord {
    /// The incarnation number.
    pub generation: u64,
    /// How it ended.
    pub exit: Exit,
    /// When, on tokio's clock.
    pub at: Instant,
}

/// Resources a running incarnation uses now, as its backend measures them
/// (for an OS process: its cgroup, or `/proc`). Fields a backend cannot
/// measure are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Usage {
    /// Memory in bytes (resident set, or the cgroup's charge).
    pub memory: Option<u64>,
    /// CPU time consumed so far.
    pub cpu_time: Option<Duration>,
    /// Processes (or threads) counted against it.
    pub pids: Option<u64>,
}

impl Usage {
    /// A usage with these measurements.
    #[must_use]
    pub fn new(memory: Option<u64>, cpu_time: Option<Duration>, pids: Option<u64>) -> Self {
        Usage {
            memory,
            cpu_time,
            pids,
        }
    }
}

/// What an operator asks about a child, from
/// [`which_children`](crate::SupervisorHandle::which_children).
///
/// # Examples
///
/// ```
/// use tend::{ChildSpec, ChildState, Context, ExitClass, Restart, Supervisor};
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
    /// Automatic restarts so far, including those caused by a sibling under
    /// one-for-all or rest-for-one (not operator restarts).
    pub restarts: u64,
    /// Its OS process, if it runs one.
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
    /// When the running incarnation started.
    pub running_since: Option<Instant>,
    /// When the spec was added to the supervisor.
    pub supervised_since: Instant,
    /// What the running incarnation uses now, measured when asked (by
    /// backends that can: OS processes).
    pub usage: Option<Usage>,
    /// The last exits, oldest first (bounded; see
    /// [`SupervisorBuilder::history`](crate::SupervisorBuilder::history)).
    pub history: Vec<ExitRecord>,
}

/// What an [`on_isolate`](crate::ChildSpec::on_isolate) hook is told about
/// the child it runs for.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
/// use tend::{ChildSpec, Context, Supervisor};
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
