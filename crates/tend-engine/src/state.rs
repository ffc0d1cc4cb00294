//! Where a child is in its life and why it is there, and what kind of child
//! it is: the values every layer above shows (status, events, metrics), kept
//! in a low module so that none of them depends on the supervisor.

use std::fmt;
use std::time::Duration;

use crate::exit::{ExitKind, Resource};

/// Where a child is in its life, as shown by
/// [`which_children`](crate::SupervisorHandle::which_children).
///
/// The states at rest say why the child rests: [`Completed`](Self::Completed)
/// (ended normally, not restarted), [`Shutdown`](Self::Shutdown) (stopped on
/// request), [`Failed`](Self::Failed) with its [`FailReason`], or
/// [`Isolated`](Self::Isolated). The full table of transitions is in the
/// repository's [`docs/lifecycle.md`](https://github.com/tend-rs/tend/blob/main/docs/lifecycle.md).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildState, FailReason};
///
/// assert!(ChildState::Running.is_active());
/// assert!(!ChildState::BackingOff.is_active());
/// assert_eq!(ChildState::CrashLoopBackOff.to_string(), "crash-loop-backoff");
/// let failed = ChildState::Failed(FailReason::CircuitBreakerOpen);
/// assert_eq!(failed.as_str(), "failed");
/// assert_eq!(failed.to_string(), "failed (circuit breaker open)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChildState {
    /// Added, and its first start not begun yet.
    Pending,
    /// An incarnation was spawned and has not yet been confirmed started
    /// (ready, when the spec awaits readiness).
    Starting,
    /// An incarnation is running.
    Running,
    /// Asked to stop; waiting for the incarnation to end.
    Stopping,
    /// Waiting out a backoff delay before a restart.
    BackingOff,
    /// Waiting out a crash-loop delay after its restart budget ran out.
    CrashLoopBackOff,
    /// A restart is due: queued behind a sibling's, or retrying a failed start.
    Restarting,
    /// Its last incarnation ended normally and it is not restarted (a
    /// transient child that finished its work).
    Completed,
    /// Stopped on request (by an operator, or a shutdown) or it shut itself
    /// down, and not restarted.
    Shutdown,
    /// Given up on, for this reason; it stays so until restarted through the
    /// API.
    Failed(FailReason),
    /// Kept for debugging and not restarted (its crash policy, or a budget
    /// that ran out with `OnExhausted::Isolate`), until restarted through
    /// the API.
    Isolated,
}

impl ChildState {
    /// One of each state (`Failed` with one reason), for tests that walk
    /// them all.
    #[cfg(test)]
    pub(crate) const ALL: [ChildState; 11] = [
        ChildState::Pending,
        ChildState::Starting,
        ChildState::Running,
        ChildState::Stopping,
        ChildState::BackingOff,
        ChildState::CrashLoopBackOff,
        ChildState::Restarting,
        ChildState::Completed,
        ChildState::Shutdown,
        ChildState::Failed(FailReason::Crashed),
        ChildState::Isolated,
    ];

    /// Whether an incarnation exists (starting, running or stopping).
    #[must_use]
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ChildState::Starting | ChildState::Running | ChildState::Stopping
        )
    }

    /// Whether a restart is pending (OTP's `restarting` pid).
    #[must_use]
    pub fn is_restarting(self) -> bool {
        matches!(
            self,
            ChildState::BackingOff | ChildState::CrashLoopBackOff | ChildState::Restarting
        )
    }

    /// Whether it rests with nothing running and nothing due (OTP's
    /// `undefined` pid): completed, shut down, failed or isolated.
    #[must_use]
    pub fn is_at_rest(self) -> bool {
        matches!(
            self,
            ChildState::Completed
                | ChildState::Shutdown
                | ChildState::Failed(_)
                | ChildState::Isolated
        )
    }

    /// A short kebab-case name, as shown to operators (a failed child's
    /// reason is not part of it; see [`Display`](fmt::Display)).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ChildState::Pending => "pending",
            ChildState::Starting => "starting",
            ChildState::Running => "running",
            ChildState::Stopping => "stopping",
            ChildState::BackingOff => "backing-off",
            ChildState::CrashLoopBackOff => "crash-loop-backoff",
            ChildState::Restarting => "restarting",
            ChildState::Completed => "completed",
            ChildState::Shutdown => "shutdown",
            ChildState::Failed(_) => "failed",
            ChildState::Isolated => "isolated",
        }
    }
}

impl fmt::Display for ChildState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildState::Failed(reason) => write!(f, "failed ({reason})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// Why a child is [`Failed`](ChildState::Failed).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildState, ExitKind, FailReason};
///
/// let reason = FailReason::of(ExitKind::Watchdog);
/// assert_eq!(reason, FailReason::Unhealthy);
/// assert_eq!(ChildState::Failed(reason).to_string(), "failed (unhealthy)");
/// assert_eq!(FailReason::CircuitBreakerOpen.as_str(), "circuit-breaker-open");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailReason {
    /// It exited abnormally (an error, a panic, a kill) and nothing
    /// restarted it: its crash policy is `shutdown`, or its supervisor gave
    /// up.
    Crashed,
    /// It was stopped for reaching a resource limit, and not restarted.
    ResourceExceeded,
    /// Its health check or watchdog failed, and it was not restarted.
    Unhealthy,
    /// It was stopped because a child it was linked to ended, and not
    /// restarted.
    Linked,
    /// Its last start failed and is not retried (an operator's restart).
    StartFailed,
    /// Its backend cannot run here: retrying would not help.
    NotAvailable,
    /// Its restart budget ran out with `OnExhausted::Stop`: the circuit
    /// breaker is open.
    CircuitBreakerOpen,
    /// It is a supervisor that gave up, and its restart type did not
    /// restart it.
    GaveUp,
    /// Its starts kept failing: it reached its
    /// [`StartLimit`](crate::StartLimit), and is not started again.
    StartLimit,
    /// It waited to start on a sibling that can no longer meet its
    /// condition (failed, isolated, stopped or gone).
    DependencyFailed,
}

impl FailReason {
    /// The reason an abnormal exit of `kind` gives.
    #[must_use]
    pub fn of(kind: ExitKind) -> FailReason {
        match kind {
            ExitKind::ResourceExceeded(_) => FailReason::ResourceExceeded,
            ExitKind::Unhealthy | ExitKind::Watchdog => FailReason::Unhealthy,
            ExitKind::Linked => FailReason::Linked,
            ExitKind::StartFailure => FailReason::StartFailed,
            ExitKind::NotAvailable(_) => FailReason::NotAvailable,
            ExitKind::GaveUp(_) => FailReason::GaveUp,
            _ => FailReason::Crashed,
        }
    }

    /// A stable kebab-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Crashed => "crashed",
            FailReason::ResourceExceeded => "resource-exceeded",
            FailReason::Unhealthy => "unhealthy",
            FailReason::Linked => "linked",
            FailReason::StartFailed => "start-failed",
            FailReason::NotAvailable => "not-available",
            FailReason::CircuitBreakerOpen => "circuit-breaker-open",
            FailReason::GaveUp => "gave-up",
            FailReason::StartLimit => "start-limit",
            FailReason::DependencyFailed => "dependency-failed",
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailReason::Crashed => "crashed",
            FailReason::ResourceExceeded => "resource exceeded",
            FailReason::Unhealthy => "unhealthy",
            FailReason::Linked => "linked exit",
            FailReason::StartFailed => "start failed",
            FailReason::NotAvailable => "backend not available",
            FailReason::CircuitBreakerOpen => "circuit breaker open",
            FailReason::GaveUp => "gave up",
            FailReason::StartLimit => "start limit",
            FailReason::DependencyFailed => "dependency failed",
        })
    }
}

/// Why a child was isolated.
///
/// # Examples
///
/// ```
/// use tend_engine::IsolateCause;
///
/// assert_eq!(IsolateCause::BudgetExhausted.to_string(), "restart budget exhausted");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IsolateCause {
    /// It crashed and its crash policy is `isolate`.
    CrashPolicy,
    /// Its restart budget ran out with `OnExhausted::Isolate`.
    BudgetExhausted,
    /// Its liveness probe or watchdog failed under `OnUnhealthy::Isolate`:
    /// it keeps running.
    Unhealthy,
}

impl fmt::Display for IsolateCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IsolateCause::CrashPolicy => "crash policy",
            IsolateCause::BudgetExhausted => "restart budget exhausted",
            IsolateCause::Unhealthy => "unhealthy",
        })
    }
}

/// Which of a child's probes (Kubernetes' three) a result is about.
///
/// # Examples
///
/// ```
/// use tend_engine::ProbeRole;
///
/// assert_eq!(ProbeRole::Liveness.as_str(), "liveness");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeRole {
    /// Checked from the start until it passes; gates the other two.
    Startup,
    /// Makes the child ready and not ready.
    Readiness,
    /// Its failure stops (or isolates) the child.
    Liveness,
}

impl ProbeRole {
    /// A stable lowercase name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeRole::Startup => "startup",
            ProbeRole::Readiness => "readiness",
            ProbeRole::Liveness => "liveness",
        }
    }
}

impl fmt::Display for ProbeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a child is a worker or a nested supervisor (OTP's `child_type`).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildKind, ChildSpec, Context, Supervisor};
///
/// let worker = ChildSpec::task("w", |ctx: Context| async move { ctx.cancelled().await });
/// let nested = ChildSpec::supervisor(Supervisor::builder("group"));
/// assert_eq!((worker.kind(), nested.kind()), (ChildKind::Worker, ChildKind::Supervisor));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildKind {
    /// A task (or, with a backend, a process).
    Worker,
    /// A nested supervisor.
    Supervisor,
}

/// A child's restart budget ([`RestartBudget`](crate::RestartBudget)) as it
/// stands: how much of it the restarts within its window use.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_engine::{ChildSpec, Context, Restart, RestartBudget, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(
///         ChildSpec::task("w", |ctx: Context| async move { ctx.cancelled().await })
///             .budget(RestartBudget::new(5, Duration::from_secs(60))),
///     )
///     .start()
///     .await
///     .unwrap();
/// let budget = sup.child_info("w").await.unwrap().budget.unwrap();
/// assert_eq!((budget.used, budget.remaining, budget.exhausted), (0, 5, false));
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetStatus {
    /// Restarts the budget allows within its window.
    pub max_restarts: u32,
    /// The sliding window.
    pub window: Duration,
    /// Restarts within the window now (a refused one included).
    pub used: u32,
    /// Restarts still allowed within the window now.
    pub remaining: u32,
    /// Whether it ran out: the last restart asked for was refused.
    pub exhausted: bool,
}

/// Resources a running incarnation uses now, as its backend measures them
/// (for an OS process: its cgroup, or `/proc`; for a task with limits: its
/// meters). Fields that are not measured are `None` (or empty).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_engine::Usage;
///
/// let usage = Usage::new(Some(64 << 20), Some(Duration::from_millis(250)), Some(3));
/// assert_eq!(usage.memory, Some(67_108_864));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Usage {
    /// Memory in bytes (resident set, or the cgroup's charge).
    pub memory: Option<u64>,
    /// CPU time consumed so far (for a task: busy time in its polls).
    pub cpu_time: Option<Duration>,
    /// Processes (or threads) counted against it.
    pub pids: Option<u64>,
    /// What a task charged, for each counter it has a limit for.
    pub counters: Vec<(Resource, u64)>,
}

impl Usage {
    /// A usage with these measurements.
    #[must_use]
    pub fn new(memory: Option<u64>, cpu_time: Option<Duration>, pids: Option<u64>) -> Self {
        Usage {
            memory,
            cpu_time,
            pids,
            counters: Vec::new(),
        }
    }
}
