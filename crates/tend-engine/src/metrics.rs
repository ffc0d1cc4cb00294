//! Counters of supervisors and of each child, readable at any time without
//! asking a supervisor's loop: snapshots read them, and the `prometheus`
//! module exposes them.
//!
//! Only a supervisor's own task writes its counters and its children's, so
//! an increment is a relaxed load and store (no locked read-modify-write on
//! the hot path); readers on other threads see each value whole. With the
//! `prometheus` feature, registries (which children a supervisor has, which
//! supervisors a tree has) let a collector find them; they take a lock only
//! when a child or supervisor comes or goes, and when a scrape reads them.
//! Without the feature they do not exist.

#[cfg(feature = "prometheus")]
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
#[cfg(feature = "prometheus")]
use std::sync::{Mutex, MutexGuard, Weak};
use std::time::Duration;

use tend_spec::ExitClass;

use crate::id::ChildId;
use crate::state::ChildState;

fn bump(counter: &AtomicU64) {
    add(counter, 1);
}

fn add(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).saturating_add(n), Relaxed);
}

#[cfg(feature = "prometheus")]
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counters kept by one supervisor about all its children.
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

impl Counters {
    pub(crate) fn spawned(&self) {
        bump(&self.spawned);
        self.active.store(self.active.load(Relaxed) + 1, Relaxed);
    }

    pub(crate) fn exited(&self, class: ExitClass) {
        self.active.store(self.active.load(Relaxed) - 1, Relaxed);
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
/// use tend_engine::{ChildSpec, Context, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("idle", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// let m = sup.metrics();
/// assert_eq!((m.spawned, m.active, m.restarts), (1, 1, 0));
/// // Snapshots serialise (serde), for an API or a log line.
/// let json = serde_json::to_string(&m).unwrap();
/// assert!(json.contains(r#""spawned":1"#), "{json}");
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
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

/// The states, in the order of their codes in [`ChildStats`].
#[cfg(feature = "prometheus")]
const STATE_NAMES: [&str; 11] = [
    "pending",
    "starting",
    "running",
    "stopping",
    "backing-off",
    "crash-loop-backoff",
    "restarting",
    "completed",
    "shutdown",
    "failed",
    "isolated",
];

/// A state's code: its index in `STATE_NAMES` (a match, not a search: it
/// runs on every transition).
fn state_code(state: ChildState) -> u8 {
    match state {
        ChildState::Pending => 0,
        ChildState::Starting => 1,
        ChildState::Running => 2,
        ChildState::Stopping => 3,
        ChildState::BackingOff => 4,
        ChildState::CrashLoopBackOff => 5,
        ChildState::Restarting => 6,
        ChildState::Completed => 7,
        ChildState::Shutdown => 8,
        ChildState::Failed(_) => 9,
        ChildState::Isolated => 10,
    }
}

/// One child's counters, kept across its incarnations for as long as its
/// spec is supervised.
#[derive(Debug)]
pub(crate) struct ChildStats {
    /// For a collector's labels.
    #[cfg(feature = "prometheus")]
    pub(crate) id: ChildId,
    starts: AtomicU64,
    restarts: AtomicU64,
    failures: AtomicU64,
    breaker_trips: AtomicU64,
    give_ups: AtomicU64,
    /// Microseconds run by incarnations that ended.
    ran_us: AtomicU64,
    state: AtomicU8,
    ready: AtomicBool,
    /// Where it is in its supervisor's registry (for O(1) removal).
    #[cfg(feature = "prometheus")]
    slot: AtomicUsize,
    #[cfg(feature = "prometheus")]
    uptime: UptimeHistogram,
}

/// What a [`ChildStats`] holds at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChildCountersSnapshot {
    pub(crate) starts: u64,
    pub(crate) restarts: u64,
    pub(crate) failures: u64,
    pub(crate) breaker_trips: u64,
    pub(crate) give_ups: u64,
    pub(crate) ran: Duration,
}

impl ChildStats {
    #[cfg_attr(not(feature = "prometheus"), allow(unused_variables))]
    fn new(id: ChildId) -> Self {
        ChildStats {
            #[cfg(feature = "prometheus")]
            id,
            starts: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            breaker_trips: AtomicU64::new(0),
            give_ups: AtomicU64::new(0),
            ran_us: AtomicU64::new(0),
            state: AtomicU8::new(0),
            ready: AtomicBool::new(false),
            #[cfg(feature = "prometheus")]
            slot: AtomicUsize::new(0),
            #[cfg(feature = "prometheus")]
            uptime: UptimeHistogram::default(),
        }
    }

    /// An incarnation started (it was spawned and, if awaited, is ready).
    pub(crate) fn started(&self) {
        bump(&self.starts);
    }

    /// An automatic restart was made.
    pub(crate) fn restarted(&self) {
        bump(&self.restarts);
    }

    /// Automatic restarts so far.
    pub(crate) fn restarts(&self) -> u64 {
        self.restarts.load(Relaxed)
    }

    /// Incarnations started so far.
    pub(crate) fn starts(&self) -> u64 {
        self.starts.load(Relaxed)
    }

    /// Failures so far (abnormal exits and failed starts).
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Relaxed)
    }

    /// An incarnation ended, after running `ran_for`, with `class`.
    pub(crate) fn ended(&self, class: ExitClass, ran_for: Duration) {
        if class == ExitClass::Abnormal {
            bump(&self.failures);
        }
        add(&self.ran_us, ran_for.as_micros() as u64);
        #[cfg(feature = "prometheus")]
        self.uptime.observe(ran_for);
    }

    /// A start failed without any incarnation running (a backend that is
    /// not available).
    pub(crate) fn failed_to_start(&self) {
        bump(&self.failures);
    }

    /// The child was given up on (failed or isolated).
    pub(crate) fn given_up(&self) {
        bump(&self.give_ups);
    }

    /// Its circuit breaker opened (it is also given up on).
    pub(crate) fn breaker_tripped(&self) {
        bump(&self.breaker_trips);
    }

    pub(crate) fn set_state(&self, state: ChildState) {
        self.state.store(state_code(state), Relaxed);
    }

    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Relaxed);
    }

    /// Whether its running incarnation is ready now.
    #[cfg(feature = "prometheus")]
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Relaxed)
    }

    /// The name of its state now.
    #[cfg(feature = "prometheus")]
    pub(crate) fn state_name(&self) -> &'static str {
        STATE_NAMES[usize::from(self.state.load(Relaxed)).min(STATE_NAMES.len() - 1)]
    }

    pub(crate) fn snapshot(&self) -> ChildCountersSnapshot {
        ChildCountersSnapshot {
            starts: self.starts.load(Relaxed),
            restarts: self.restarts.load(Relaxed),
            failures: self.failures.load(Relaxed),
            breaker_trips: self.breaker_trips.load(Relaxed),
            give_ups: self.give_ups.load(Relaxed),
            ran: Duration::from_micros(self.ran_us.load(Relaxed)),
        }
    }

    #[cfg(feature = "prometheus")]
    pub(crate) fn uptime(&self) -> &UptimeHistogram {
        &self.uptime
    }
}

#[cfg(all(test, feature = "prometheus"))]
mod tests {
    use super::*;

    #[test]
    fn each_state_code_names_its_state() {
        for state in ChildState::ALL {
            assert_eq!(STATE_NAMES[usize::from(state_code(state))], state.as_str());
        }
    }
}

/// How long incarnations ran, in fixed buckets (seconds), for Prometheus.
#[cfg(feature = "prometheus")]
#[derive(Debug, Default)]
pub(crate) struct UptimeHistogram {
    buckets: [AtomicU64; UPTIME_BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

/// Upper bounds of the uptime buckets, in seconds: one second to one day.
#[cfg(feature = "prometheus")]
pub(crate) const UPTIME_BUCKETS: [f64; 8] =
    [1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 21_600.0, 86_400.0];

#[cfg(feature = "prometheus")]
impl UptimeHistogram {
    fn observe(&self, ran_for: Duration) {
        let seconds = ran_for.as_secs_f64();
        if let Some(i) = UPTIME_BUCKETS.iter().position(|&le| seconds <= le) {
            bump(&self.buckets[i]);
        }
        bump(&self.count);
        add(&self.sum_us, ran_for.as_micros() as u64);
    }

    /// Sum (seconds), count, and per-bucket counts (not cumulative).
    pub(crate) fn read(&self) -> (f64, u64, Vec<u64>) {
        (
            self.sum_us.load(Relaxed) as f64 / 1e6,
            self.count.load(Relaxed),
            self.buckets.iter().map(|b| b.load(Relaxed)).collect(),
        )
    }
}

/// One supervisor's counters, and (for a collector) its children's.
#[derive(Debug)]
pub(crate) struct SupervisorStats {
    /// The supervisor's path, e.g. `root/workers`.
    #[cfg(feature = "prometheus")]
    pub(crate) path: Arc<str>,
    pub(crate) counters: Counters,
    #[cfg(feature = "prometheus")]
    children: Mutex<Vec<Arc<ChildStats>>>,
}

impl SupervisorStats {
    #[cfg_attr(not(feature = "prometheus"), allow(unused_variables))]
    pub(crate) fn new(path: &Arc<str>) -> Self {
        SupervisorStats {
            #[cfg(feature = "prometheus")]
            path: path.clone(),
            counters: Counters::default(),
            #[cfg(feature = "prometheus")]
            children: Mutex::new(Vec::new()),
        }
    }

    /// A new child's counters, registered for a collector.
    pub(crate) fn add_child(&self, id: ChildId) -> Arc<ChildStats> {
        let stats = Arc::new(ChildStats::new(id));
        #[cfg(feature = "prometheus")]
        {
            let mut children = lock(&self.children);
            stats.slot.store(children.len(), Relaxed);
            children.push(stats.clone());
        }
        stats
    }

    /// Forgets a removed child's counters.
    #[cfg_attr(not(feature = "prometheus"), allow(unused_variables))]
    pub(crate) fn remove_child(&self, stats: &ChildStats) {
        #[cfg(feature = "prometheus")]
        {
            let mut children = lock(&self.children);
            let slot = stats.slot.load(Relaxed);
            if slot < children.len() && std::ptr::eq(&*children[slot], stats) {
                children.swap_remove(slot);
                if let Some(moved) = children.get(slot) {
                    moved.slot.store(slot, Relaxed);
                }
            }
        }
    }

    /// Every child's counters, for a scrape.
    #[cfg(feature = "prometheus")]
    pub(crate) fn children(&self) -> Vec<Arc<ChildStats>> {
        lock(&self.children).clone()
    }
}

/// Every supervisor of one tree, for a collector that walks it.
#[derive(Debug, Default)]
pub(crate) struct TreeStats {
    #[cfg(feature = "prometheus")]
    supervisors: Mutex<Vec<Weak<SupervisorStats>>>,
}

impl TreeStats {
    /// Registers a supervisor (a nested one registers anew each time it is
    /// restarted; the ended one's entry goes).
    #[cfg_attr(not(feature = "prometheus"), allow(unused_variables))]
    pub(crate) fn register(&self, supervisor: &Arc<SupervisorStats>) {
        #[cfg(feature = "prometheus")]
        {
            let mut supervisors = lock(&self.supervisors);
            supervisors.retain(|s| s.strong_count() > 0);
            supervisors.push(Arc::downgrade(supervisor));
        }
    }

    /// The supervisors alive now, in the order they started.
    #[cfg(feature = "prometheus")]
    pub(crate) fn supervisors(&self) -> Vec<Arc<SupervisorStats>> {
        lock(&self.supervisors)
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }
}
