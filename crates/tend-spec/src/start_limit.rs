use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A child's start limit: after `burst` failed starts within `interval`,
/// it is not started again and stays `Failed` ("start limit") until an
/// operator starts it (systemd's `StartLimitBurst` / `StartLimitIntervalSec`).
///
/// A *failed start* is an incarnation that could not be started (a spawn
/// that failed, a factory that panicked), that ended before it was up or
/// ready (a readiness deadline, a startup probe), or that ended abnormally
/// within `settle` of its start (a program that exits at once with an
/// error; supervisord's `startsecs`). A child that ran longer and then
/// crashed is not failing to start: that is what a
/// [`RestartBudget`](crate::RestartBudget) limits. Any other end (a clean
/// one, or a crash after `settle`) ends the run of failed starts.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::StartLimit;
///
/// let limit = StartLimit::new(5, Duration::from_secs(60));
/// assert_eq!(limit.settle, StartLimit::SETTLE);
/// let read: StartLimit = serde_json::from_str(r#"{ "burst": 5, "interval": "60s" }"#).unwrap();
/// assert_eq!(read, limit);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartLimit {
    /// Failed starts that end it, within `interval`; at least 1.
    pub burst: u32,
    /// The sliding window; must be longer than zero.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// An abnormal end this soon after the start is a failed start.
    #[serde(with = "humantime_serde", default = "settle")]
    pub settle: Duration,
}

fn settle() -> Duration {
    StartLimit::SETTLE
}

impl StartLimit {
    /// The default `settle`: 1 s, as supervisord's `startsecs`.
    pub const SETTLE: Duration = Duration::from_secs(1);

    /// At most `burst` failed starts within `interval`.
    #[must_use]
    pub const fn new(burst: u32, interval: Duration) -> Self {
        StartLimit {
            burst,
            interval,
            settle: Self::SETTLE,
        }
    }

    /// Sets how soon after its start an abnormal end is a failed start.
    #[must_use]
    pub const fn settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }
}
