//! Probes for children, as Kubernetes has them: a check (a closure) and its
//! timing, as a spec. `sentinel.rs` runs them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tend_spec::ProbeTiming;

use crate::context::Context;

/// What a check's future resolves to: `Err` with why it failed.
pub(crate) type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A periodic check of a running child, with Kubernetes' semantics: after
/// `initial_delay`, run the check every `period`; a check that fails or
/// takes longer than `timeout` is a failure; `failure_threshold` failures
/// in a row make the probe fail, `success_threshold` successes in a row
/// make it pass. Checks run on a task beside the incarnation, never on the
/// supervisor's, and a check never overlaps the next.
///
/// A child has up to three ([`ChildSpec`](crate::ChildSpec)'s
/// `startup_probe`, `readiness_probe`, `liveness_probe`):
///
/// - **startup**: checked from the start until it passes, before the other
///   two; it makes the child ready (unless a readiness probe decides), and
///   its failure stops the child as [`Unhealthy`](crate::ExitKind::Unhealthy);
/// - **readiness**: makes the child ready and not ready again, as often as
///   it changes its mind; the child keeps running;
/// - **liveness**: its failure stops the child as
///   [`Unhealthy`](crate::ExitKind::Unhealthy), which its crash policy and
///   restart type handle (or isolates it, with
///   [`OnUnhealthy::Isolate`](crate::OnUnhealthy::Isolate)).
///
/// Defaults are Kubernetes': every 10 s, 1 s timeout, 3 failures, 1
/// success, no initial delay.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tend_engine::{ChildSpec, Context, Probe};
///
/// let healthy = Arc::new(AtomicBool::new(true));
/// let probe = healthy.clone();
/// let spec = ChildSpec::task("cache", |ctx: Context| async move { ctx.cancelled().await })
///     .liveness_probe(
///         Probe::new(move |_ctx: Context| {
///             let ok = probe.load(Ordering::Relaxed);
///             async move { if ok { Ok(()) } else { Err("cache is stale") } }
///         })
///         .period(Duration::from_secs(5))
///         .failure_threshold(2),
///     );
/// # let _ = spec;
/// ```
#[derive(Clone)]
pub struct Probe {
    pub(crate) check: Arc<dyn Fn(Context) -> CheckFuture + Send + Sync>,
    pub(crate) timing: ProbeTiming,
}

impl Probe {
    /// A probe that runs `check` with the incarnation's context.
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
        Probe {
            check,
            timing: ProbeTiming::default(),
        }
    }

    /// All of its timing at once (a config's probe).
    #[must_use]
    pub fn timing(mut self, timing: ProbeTiming) -> Self {
        self.timing = timing;
        self
    }

    /// How often to check (default 10 s).
    #[must_use]
    pub fn period(mut self, period: Duration) -> Self {
        self.timing.period = period;
        self
    }

    /// How long one check may take before it counts as failed (default 1 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timing.timeout = timeout;
        self
    }

    /// Failures in a row that make the probe fail (default 3; at least 1).
    #[must_use]
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.timing.failure_threshold = failures;
        self
    }

    /// Successes in a row that make the probe pass again (default 1; at
    /// least 1).
    #[must_use]
    pub fn success_threshold(mut self, successes: u32) -> Self {
        self.timing.success_threshold = successes;
        self
    }

    /// How long after the start to wait before the first check (default 0).
    #[must_use]
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.timing.initial_delay = delay;
        self
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}
