//! Per-supervisor counters, readable at any time without asking the
//! supervisor's loop (exposed to Prometheus by the `prometheus` module).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use tend_spec::ExitClass;

/// Counters kept by one supervisor.
///
/// Only the supervisor's own task writes them, so an increment is a relaxed
/// load and store (no locked read-modify-write on the hot path); readers on
/// other threads see each value whole.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    spawned: AtomicU64,
    restarts: AtomicU64,
    exits_normal: AtomicU64,
    exits_shutdown: AtomicU64,
    exits_abnormal: AtomicU64,
    start_failures: AtomicU64,
    give_ups: AtomicU64,
    active: AtomicI64,
}

fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed) + 1, Relaxed);
}

fn add(gauge: &AtomicI64, delta: i64) {
    gauge.store(gauge.load(Relaxed) + delta, Relaxed);
}

impl Counters {
    pub(crate) fn spawned(&self) {
        bump(&self.spawned);
        add(&self.active, 1);
    }

    pub(crate) fn exited(&self, class: ExitClass) {
        add(&self.active, -1);
        bump(match class {
            ExitClass::Normal => &self.exits_normal,
            ExitClass::Shutdown => &self.exits_shutdown,
            ExitClass::Abnormal => &self.exits_abnormal,
        });
    }

    pub(crate) fn restarted(&self) {
        bump(&self.restarts);
    }

    pub(crate) fn start_failed(&self) {
        bump(&self.start_failures);
    }

    pub(crate) fn gave_up(&self) {
        bump(&self.give_ups);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            spawned: self.spawned.load(Relaxed),
            restarts: self.restarts.load(Relaxed),
            exits_normal: self.exits_normal.load(Relaxed),
            exits_shutdown: self.exits_shutdown.load(Relaxed),
            exits_abnormal: self.exits_abnormal.load(Relaxed),
            start_failures: self.start_failures.load(Relaxed),
            give_ups: self.give_ups.load(Relaxed),
            active: self.active.load(Relaxed).max(0) as u64,
        }
    }
}

/// A supervisor's counters at one moment, from
/// [`SupervisorHandle::metrics`](crate::SupervisorHandle::metrics).
///
/// # Examples
///
/// ```
/// use tend::{ChildSpec, Context, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("idle", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// let m = sup.metrics();
/// assert_eq!((m.spawned, m.active, m.restarts), (1, 1, 0));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Incarnations spawned.
    pub spawned: u64,
    /// Automatic restarts (one per child restarted).
    pub restarts: u64,
    /// Exits of class normal.
    pub exits_normal: u64,
    /// Exits of class shutdown.
    pub exits_shutdown: u64,
    /// Exits of class abnormal.
    pub exits_abnormal: u64,
    /// Incarnations that failed to start.
    pub start_failures: u64,
    /// Times the supervisor gave up (0 or 1 per supervisor).
    pub give_ups: u64,
    /// Incarnations running now.
    pub active: u64,
}
