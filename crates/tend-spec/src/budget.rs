use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A child's own restart budget: at most `max_restarts` restarts within
/// `window`, and what to do when a restart would exceed it.
///
/// This is in addition to the supervisor's [`Intensity`](crate::Intensity):
/// a budget lets one flapping child be dealt with on its own (circuit
/// breaker, isolation, crash-loop back-off) instead of taking its siblings
/// down with the supervisor. Restarts refused by the budget do not count
/// toward the supervisor's intensity.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::{OnExhausted, RestartBudget};
///
/// // 5 restarts in 5 minutes, then a retry every 30 seconds instead of
/// // hot-looping.
/// let b = RestartBudget::new(5, Duration::from_secs(300))
///     .on_exhausted(OnExhausted::CrashLoopBackOff(Duration::from_secs(30)));
/// assert_eq!(b.max_restarts, 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartBudget {
    /// Restarts allowed within `window`.
    pub max_restarts: u32,
    /// The sliding window; must be longer than zero.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// What happens when a restart would exceed the budget.
    #[serde(default)]
    pub on_exhausted: OnExhausted,
}

impl RestartBudget {
    /// At most `max_restarts` within `window`; escalates when exhausted.
    #[must_use]
    pub const fn new(max_restarts: u32, window: Duration) -> Self {
        RestartBudget {
            max_restarts,
            window,
            on_exhausted: OnExhausted::Escalate,
        }
    }

    /// Sets what happens when the budget runs out.
    #[must_use]
    pub const fn on_exhausted(mut self, action: OnExhausted) -> Self {
        self.on_exhausted = action;
        self
    }
}

/// What happens to a child whose own restart budget runs out.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::OnExhausted;
///
/// // The circuit breaker: no restart until an operator asks for one.
/// let stop: OnExhausted = serde_json::from_str("\"stop\"").unwrap();
/// assert_eq!(stop, OnExhausted::Stop);
/// // Kubernetes' CrashLoopBackOff: wait, then try again.
/// let back_off: OnExhausted =
///     serde_json::from_str(r#"{ "crash_loop_back_off": "30s" }"#).unwrap();
/// assert_eq!(back_off, OnExhausted::CrashLoopBackOff(Duration::from_secs(30)));
/// assert_eq!(OnExhausted::default(), OnExhausted::Escalate);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExhausted {
    /// The supervisor gives up, as if its intensity were exceeded: it stops
    /// all children and exits, and its parent decides. The default.
    #[default]
    Escalate,
    /// Circuit breaker: the child is not restarted and stays `Failed`
    /// ("circuit breaker open") until an operator restarts it.
    Stop,
    /// The child is kept, marked `Isolated` for inspection, and not restarted.
    Isolate,
    /// Wait this long, then restart (Kubernetes' CrashLoopBackOff).
    #[serde(alias = "crash_loop")]
    CrashLoopBackOff(#[serde(with = "humantime_serde")] Duration),
}
