use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a child is stopped (OTP's `shutdown`).
///
/// `Timeout(d)` asks the child to stop (a task's cancellation token is
/// cancelled; a process gets its stop signal), waits up to `d`, then kills it.
/// `BrutalKill` kills at once; `Infinity` waits as long as it takes, which is
/// the right choice for a nested supervisor stopping its own subtree.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::Shutdown;
///
/// let s: Shutdown = serde_json::from_str(r#"{ "timeout": "10s" }"#).unwrap();
/// assert_eq!(s, Shutdown::Timeout(Duration::from_secs(10)));
/// assert_eq!(Shutdown::WORKER_DEFAULT, Shutdown::Timeout(Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shutdown {
    /// Kill at once, without asking.
    BrutalKill,
    /// Ask, wait up to this long, then kill.
    Timeout(#[serde(with = "humantime_serde")] Duration),
    /// Ask, and wait as long as it takes.
    Infinity,
}

impl Shutdown {
    /// The default for workers: ask, then kill after 5 seconds (OTP's 5000 ms).
    pub const WORKER_DEFAULT: Shutdown = Shutdown::Timeout(Duration::from_secs(5));
    /// The default for supervisors: wait for the subtree to stop.
    pub const SUPERVISOR_DEFAULT: Shutdown = Shutdown::Infinity;
}
