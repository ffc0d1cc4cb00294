//! Health checks for task children: what to check and how often, as a
//! spec. `sentinel.rs` runs them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::context::Context;

/// What a check's future resolves to: `Err` with why it failed.
type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A periodic health check for a child (Kubernetes' liveness probe
/// semantics): after `initial_delay`, run `check` every `period`; a check
/// that fails or takes longer than `timeout` is a failure; `failure_threshold`
/// failures in a row make the supervisor stop the child as
/// [`Unhealthy`](crate::ExitKind::Unhealthy), which its crash policy and
/// restart type then handle. A success resets the count. Checks run on a
/// task of their own, never on the supervisor's.
///
/// Defaults: every 10 s, 1 s timeout, 3 failures, no initial delay.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tend::{ChildSpec, Context, HealthCheck};
///
/// let healthy = Arc::new(AtomicBool::new(true));
/// let probe = healthy.clone();
/// let spec = ChildSpec::task("cache", |ctx: Context| async move { ctx.cancelled().await })
///     .health_check(
///         HealthCheck::new(move |_ctx: Context| {
///             let ok = probe.load(Ordering::Relaxed);
///             async move { if ok { Ok(()) } else { Err("cache is stale") } }
///         })
///         .period(Duration::from_secs(5))
///         .failure_threshold(2),
///     );
/// # let _ = spec;
/// ```
#[derive(Clone)]
pub struct HealthCheck {
    pub(crate) check: Arc<dyn Fn(Context) -> CheckFuture + Send + Sync>,
    pub(crate) period: Duration,
    pub(crate) timeout: Duration,
    pub(crate) failure_threshold: u32,
    pub(crate) initial_delay: Duration,
}

impl HealthCheck {
    /// A check that runs `check` with the incarnation's context.
    pub fn new<F, Fut, E>(check: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display,
    {
        let check = Arc::new(move |ctx: Context| -> CheckFuture {
            let fut = check(ctx);
            Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
        });
        HealthCheck {
            check,
            period: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
            failure_threshold: 3,
            initial_delay: Duration::ZERO,
        }
    }

    /// How often to check (default 10 s).
    #[must_use]
    pub fn period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// How long one check may take before it counts as failed (default 1 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Failures in a row that make the child unhealthy (default 3; at
    /// least 1).
    #[must_use]
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures.max(1);
        self
    }

    /// How long after the start to wait before the first check (default 0).
    #[must_use]
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }
}

impl fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthCheck")
            .field("period", &self.period)
            .field("timeout", &self.timeout)
            .field("failure_threshold", &self.failure_threshold)
            .field("initial_delay", &self.initial_delay)
            .finish_non_exhaustive()
    }
}
