//! One typed event per lifecycle fact, on a broadcast stream shared by the
//! whole tree.
//!
//! Events are the single source for logs, metrics, journals and API streams:
//! each fact is emitted in one place in the supervisor. Sending never blocks
//! the supervisor: a subscriber that falls behind by more than the stream's
//! capacity gets [`RecvError::Lagged`](tokio::sync::broadcast::error::RecvError)
//! with the number of events it missed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::exit::{Exit, GiveUp, Resource};
use crate::id::{ChildId, IncarnationId};
use tend_spec::Condition;

use crate::state::{BudgetStatus, ChildState, FailReason, IsolateCause, ProbeRole, Usage};

/// What a running incarnation tells from outside its supervisor (its
/// context, which implements this below the event layer's sight).
pub(crate) trait Live: Send + Sync {
    fn pid(&self) -> Option<u32>;
    fn is_ready(&self) -> bool;
    fn status(&self) -> Option<String>;
    fn usage(&self) -> Option<Usage>;
}

/// A look at a running incarnation from outside its supervisor: its pid,
/// readiness, what it says it does, and its usage, read live without
/// asking the supervisor (which may be busy, stopping a sibling). It does
/// not keep the incarnation alive: once it has ended, every answer is
/// empty. Carried by [`EventKind::ChildSpawned`]; made by
/// [`Context::view`](crate::Context::view).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, EventKind, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (sup, mut events) = Supervisor::builder("app")
///     .child(ChildSpec::task("w", |ctx: Context| async move {
///         ctx.set_status("warming up");
///         ctx.cancelled().await
///     }))
///     .start_with_events()
///     .await
///     .unwrap();
/// let view = loop {
///     if let EventKind::ChildSpawned { view, .. } = events.recv().await.unwrap().kind {
///         break view;
///     }
/// };
/// # tokio::task::yield_now().await;
/// assert_eq!(view.status().as_deref(), Some("warming up"));
/// sup.shutdown().await;
/// assert!(!view.is_live());
/// # }
/// ```
#[derive(Clone)]
pub struct IncarnationView {
    live: Weak<dyn Live>,
}

impl IncarnationView {
    pub(crate) fn new(live: Weak<dyn Live>) -> Self {
        IncarnationView { live }
    }

    /// Whether the incarnation still runs.
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.live.strong_count() > 0
    }

    /// Its OS process, if it runs one.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.live.upgrade()?.pid()
    }

    /// Whether it is ready.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.live.upgrade().is_some_and(|live| live.is_ready())
    }

    /// What it says it does (`Context::set_status`).
    #[must_use]
    pub fn status(&self) -> Option<String> {
        self.live.upgrade()?.status()
    }

    /// Its usage, measured now, by backends that can.
    #[must_use]
    pub fn usage(&self) -> Option<Usage> {
        self.live.upgrade()?.usage()
    }
}

impl std::fmt::Debug for IncarnationView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncarnationView")
            .field("live", &self.is_live())
            .finish()
    }
}

/// A lifecycle fact, stamped with the supervisor it happened in and when.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, EventKind, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app").start().await.unwrap();
/// let mut events = sup.subscribe();
/// sup.start_child(ChildSpec::task("job", |_ctx: Context| async {})).await.unwrap();
/// loop {
///     let event = events.recv().await.unwrap();
///     if let EventKind::ChildStarted { id, .. } = &event.kind {
///         assert_eq!(id.as_str(), "job");
///         assert_eq!(&*event.supervisor, "app");
///         break;
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Event {
    /// The path of the supervisor, e.g. `"root/workers"`.
    pub supervisor: Arc<str>,
    /// When it happened, on tokio's monotonic clock.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// What happened. New variants may be added.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, EventKind, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (sup, mut events) = Supervisor::builder("app")
///     .child(ChildSpec::task("once", |_ctx: Context| async {}).restart(tend_engine::Restart::Transient))
///     .start_with_events()
///     .await
///     .unwrap();
/// let mut seen = Vec::new();
/// while seen.len() < 2 {
///     match events.recv().await.unwrap().kind {
///         EventKind::ChildStarted { id, .. } => seen.push(format!("started {id}")),
///         EventKind::ChildExited { id, exit, .. } => seen.push(format!("{id}: {}", exit.class())),
///         _ => {}
///     }
/// }
/// assert_eq!(seen, ["started once", "once: normal"]);
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventKind {
    /// The supervisor started all its initial children.
    SupervisorStarted,
    /// An incarnation started (and is ready, if its spec awaits readiness).
    ChildStarted {
        /// The child.
        id: ChildId,
        /// Its incarnation number.
        generation: u64,
        /// Its id in the tree.
        incarnation: IncarnationId,
        /// The incarnation it replaced, if any (its restart lineage).
        replaces: Option<IncarnationId>,
        /// Its OS process, if any.
        pid: Option<u32>,
        /// That process's start time in clock ticks since boot, where its
        /// backend knows it: with the pid, it names the process exactly.
        pid_start_ticks: Option<u64>,
        /// The child's incarnations started so far, this one included.
        starts: u64,
    },
    /// A new incarnation was spawned: it is starting. Its view reads its
    /// pid, readiness, status and usage live, without asking the
    /// supervisor, for as long as it runs.
    ChildSpawned {
        /// The child.
        id: ChildId,
        /// Its incarnation number.
        generation: u64,
        /// Its id in the tree.
        incarnation: IncarnationId,
        /// The incarnation it replaces, if any.
        replaces: Option<IncarnationId>,
        /// A live look at it.
        view: IncarnationView,
    },
    /// A child's state changed (as
    /// [`which_children`](crate::SupervisorHandle::which_children) reports
    /// it), or a child was added in it: one event per change, so a
    /// listener can follow every child's state without asking.
    ChildState {
        /// The child.
        id: ChildId,
        /// Its new state.
        state: ChildState,
    },
    /// A child due to start still waits, for these siblings to meet these
    /// conditions (the sibling ahead of it in OTP's order must be up:
    /// `Ready`; its dependencies). Told each time what it waits for may
    /// have changed.
    ChildWaiting {
        /// The child.
        id: ChildId,
        /// What it waits for.
        waiting_for: Vec<(ChildId, Condition)>,
    },
    /// An incarnation declared itself ready (again, after a
    /// [`ChildNotReady`](Self::ChildNotReady)).
    ChildReady {
        /// The child.
        id: ChildId,
        /// Its incarnation number.
        generation: u64,
    },
    /// A ready incarnation is no longer ready: its readiness probe failed,
    /// it said so, or it was isolated. It keeps running.
    ChildNotReady {
        /// The child.
        id: ChildId,
        /// Its incarnation number.
        generation: u64,
        /// Why.
        reason: Arc<str>,
    },
    /// An incarnation failed to start (an exit or a timeout before ready, or
    /// a panic in its factory).
    ChildStartFailed {
        /// The child.
        id: ChildId,
        /// The incarnation number tried.
        generation: u64,
        /// Why.
        exit: Exit,
        /// The child's failures so far (abnormal exits and failed starts).
        failures: u64,
    },
    /// An incarnation ended.
    ChildExited {
        /// The child.
        id: ChildId,
        /// Its incarnation number.
        generation: u64,
        /// Its id in the tree.
        incarnation: IncarnationId,
        /// How it ended.
        exit: Exit,
        /// How long it ran.
        ran_for: Duration,
        /// Its OS process, if it had one (also for an incarnation that
        /// ended before it was confirmed started, so every process a tree
        /// ran is named in its events).
        pid: Option<u32>,
        /// The child's failures so far, this end included if abnormal.
        failures: u64,
    },
    /// A restart was decided; it happens after `delay`.
    ChildRestarting {
        /// The child whose exit caused the restart.
        id: ChildId,
        /// The delay before it (zero when at once).
        delay: Duration,
        /// The child's automatic restarts so far, this one included.
        restarts: u64,
    },
    /// A child's restart budget ran out and it will be retried after a long
    /// delay (CrashLoopBackOff). A [`ChildRestarting`](Self::ChildRestarting)
    /// with the same delay follows.
    ChildCrashLoop {
        /// The child.
        id: ChildId,
        /// The delay before the next try.
        delay: Duration,
        /// The child's automatic restarts so far, this one included.
        restarts: u64,
    },
    /// A child is given up on and stays failed until restarted through the
    /// API: its crash policy is `shutdown`, its circuit breaker opened, its
    /// backend is not available, or a dependency failed.
    ChildFailed {
        /// The child.
        id: ChildId,
        /// Why.
        reason: FailReason,
        /// How its last incarnation ended (code or signal inside), if one
        /// ran.
        exit: Option<Exit>,
        /// When its circuit breaker opened: its budget, used up.
        budget: Option<BudgetStatus>,
    },
    /// A child is isolated: kept for inspection and not restarted (its
    /// crash policy, or its budget ran out). Its `on_isolate` hook runs.
    ChildIsolated {
        /// The child.
        id: ChildId,
        /// Why.
        cause: IsolateCause,
        /// The exit (or, for an unhealthy incarnation kept running, the
        /// fault) that led there, if any.
        exit: Option<Exit>,
    },
    /// The supervisor is stopping a running incarnation for a reason other
    /// than a stop request: a failed health check, a missed heartbeat, a
    /// resource limit reached, a linked party that ended, or
    /// [`kill_child`](crate::SupervisorHandle::kill_child). Its exit will
    /// be `because`, handled by its crash policy and restart type.
    ChildStopping {
        /// The child.
        id: ChildId,
        /// Its incarnation number.
        generation: u64,
        /// The exit it will be recorded with.
        because: Exit,
    },
    /// A probe of a running incarnation failed (a readiness probe's
    /// failures are told only while they count toward not ready).
    ProbeFailed {
        /// The child.
        id: ChildId,
        /// Its incarnation number.
        generation: u64,
        /// Which probe.
        probe: ProbeRole,
        /// Failures in a row so far.
        failures: u32,
        /// Failures in a row that make the probe fail.
        threshold: u32,
        /// What the check said.
        reason: Arc<str>,
    },
    /// A running incarnation crossed 80 % of one of its resource limits (for
    /// a process, its backend checks, and the kernel enforces the limit
    /// itself at 100 %).
    ResourceWarning {
        /// The child.
        id: ChildId,
        /// Its incarnation number.
        generation: u64,
        /// Which resource (see [`Resource`] for its unit).
        resource: Resource,
        /// What it uses.
        used: u64,
        /// Its limit.
        limit: u64,
    },
    /// A running incarnation reached a resource limit that nothing else
    /// enforces (a task's limit, or a process's without a cgroup): it is
    /// stopped with [`ExitKind::ResourceExceeded`](crate::ExitKind::ResourceExceeded),
    /// then handled by its crash policy and restart type.
    ResourceExceeded {
        /// The child.
        id: ChildId,
        /// Its incarnation number.
        generation: u64,
        /// Which resource (see [`Resource`] for its unit).
        resource: Resource,
        /// What it uses.
        used: u64,
        /// Its limit.
        limit: u64,
    },
    /// A child was terminated through the API (its incarnation stopped, or
    /// its pending restart called off).
    ChildTerminated {
        /// The child.
        id: ChildId,
    },
    /// A child spec was added through `start_child`.
    ChildAdded {
        /// The child.
        id: ChildId,
    },
    /// A child spec was removed (`delete_child`, or a temporary child ended).
    ChildRemoved {
        /// The child.
        id: ChildId,
    },
    /// The supervisor gave up: its restart intensity was reached or a child's
    /// budget escalated. It now stops all children and exits with
    /// [`ExitKind::GaveUp`](crate::ExitKind::GaveUp).
    GaveUp {
        /// The child whose exit tipped it over.
        offender: ChildId,
        /// Why.
        reason: GiveUp,
    },
    /// A significant child ended and auto-shutdown applies.
    AutoShutdown {
        /// The significant child.
        trigger: ChildId,
    },
    /// The supervisor has stopped all its children and ended.
    SupervisorStopped {
        /// Its exit.
        exit: Exit,
    },
}

/// The tree's event stream; cloned into every nested supervisor.
#[derive(Clone, Debug)]
pub(crate) struct EventBus {
    sender: broadcast::Sender<Event>,
    /// Whether anyone may be listening: cleared when a send finds no
    /// receiver, set by every subscribe. Read on every emit instead of the
    /// channel's receiver count, which takes a lock.
    listened: Arc<AtomicBool>,
}

impl EventBus {
    pub(crate) fn new(capacity: usize) -> Self {
        EventBus {
            sender: broadcast::channel(capacity.max(1)).0,
            listened: Arc::new(AtomicBool::new(false)),
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        // The receiver first: an emit that then finds the flag set finds
        // the receiver too.
        let receiver = self.sender.subscribe();
        self.listened.store(true, Ordering::SeqCst);
        receiver
    }

    /// Emits an event (and a trace line). The event is only built when
    /// someone listens, so an unobserved tree pays nearly nothing: this
    /// check is inlined at every call (several per restart), the rest is
    /// not.
    #[inline]
    pub(crate) fn emit(&self, supervisor: &Arc<str>, kind: impl FnOnce() -> EventKind) {
        // The global level first: a load, where `enabled!` asks the
        // subscriber.
        let tracing_on = tracing::level_enabled!(tracing::Level::DEBUG)
            && tracing::enabled!(tracing::Level::DEBUG);
        if !self.listened.load(Ordering::Relaxed) && !tracing_on {
            return;
        }
        self.send(supervisor, None, kind(), tracing_on);
    }

    /// Emits an event that happened `at`, before now (an exit seen late).
    pub(crate) fn emit_at(
        &self,
        supervisor: &Arc<str>,
        at: Instant,
        kind: impl FnOnce() -> EventKind,
    ) {
        let tracing_on = tracing::enabled!(tracing::Level::DEBUG);
        if self.listened.load(Ordering::Relaxed) || tracing_on {
            self.send(supervisor, Some(at), kind(), tracing_on);
        }
    }

    #[inline(never)]
    fn send(&self, supervisor: &Arc<str>, at: Option<Instant>, kind: EventKind, tracing_on: bool) {
        let event = Event {
            supervisor: supervisor.clone(),
            at: at.unwrap_or_else(Instant::now),
            kind,
        };
        if tracing_on {
            tracing::debug!(supervisor = %event.supervisor, event = ?event.kind, "tend");
        }
        if self.sender.send(event).is_err() {
            // Nobody is listening any more. A subscribe racing with this
            // either made its receiver before the count below (seen here)
            // or sets the flag again after it.
            self.listened.store(false, Ordering::SeqCst);
            if self.sender.receiver_count() > 0 {
                self.listened.store(true, Ordering::SeqCst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started() -> EventKind {
        EventKind::SupervisorStarted
    }

    #[tokio::test]
    async fn events_reach_subscribers_and_stop_being_built_when_none_is_left() {
        let bus = EventBus::new(8);
        let path: Arc<str> = "s".into();
        let mut built = 0;
        bus.emit(&path, || {
            built += 1;
            started()
        });
        assert_eq!(built, 0, "nobody listens: nothing built");
        let mut first = bus.subscribe();
        bus.emit(&path, started);
        assert!(matches!(
            first.try_recv().unwrap().kind,
            EventKind::SupervisorStarted
        ));
        drop(first);
        // The first emit after the last receiver left finds out.
        bus.emit(&path, started);
        let mut built = 0;
        bus.emit(&path, || {
            built += 1;
            started()
        });
        assert_eq!(built, 0);
        let mut again = bus.subscribe();
        bus.emit(&path, started);
        assert!(
            again.try_recv().is_ok(),
            "a new subscriber is heard at once"
        );
    }
}
