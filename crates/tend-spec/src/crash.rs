use serde::{Deserialize, Serialize};

/// What a child's abnormal exit leads to: restarted, shut down, or isolated
/// (config key `on_crash`).
///
/// Normal and shutdown exits are never crashes: the restart type alone
/// decides about them. The default, `Restart`, leaves abnormal exits to the
/// restart type too, so the default behaviour is exactly OTP's.
///
/// # Examples
///
/// ```
/// use tend_spec::CrashPolicy;
///
/// let policy: CrashPolicy = serde_json::from_str("\"isolate\"").unwrap();
/// assert_eq!(policy, CrashPolicy::Isolate);
/// assert_eq!(CrashPolicy::default(), CrashPolicy::Restart);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashPolicy {
    /// The restart type decides, with the child's backoff and budget (the
    /// default).
    #[default]
    Restart,
    /// Not restarted: the child is marked failed, whatever its restart type
    /// (its spec is kept even if it is temporary), until an operator
    /// restarts it.
    Shutdown,
    /// Not restarted: the child is kept for debugging, marked isolated, and
    /// its `on_isolate` hook runs (take it out of a load balancer, say).
    Isolate,
}
