//! Watching a running incarnation from beside it: its probes and its
//! watchdog, on a task of their own (a hung task cannot watch itself, and
//! the supervisor's loop never waits on a check). On a fault the sentinel
//! tells the supervisor, which stops (or isolates) the incarnation;
//! readiness changes go through the incarnation's context. It ends with
//! the incarnation.

use std::time::Duration;

use tend_spec::ProbeTiming;
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::probe::Probe;
use super::spec::Options;
use crate::context::Context;
use crate::event::EventKind;
use crate::exit::{Exit, ExitKind};
use crate::state::ProbeRole;

/// Starts the sentinel of an incarnation that has a probe or a watchdog;
/// the caller aborts it when the incarnation ends.
#[inline]
pub(crate) fn spawn(ctx: &Context, options: &Options) -> Option<AbortHandle> {
    let probes = [&options.startup, &options.readiness, &options.liveness];
    if probes.iter().all(|p| p.is_none()) && options.watchdog.is_none() {
        return None;
    }
    let ctx = ctx.clone();
    let [startup, readiness, liveness] = probes.map(|probe| probe.as_deref().cloned());
    let watchdog = options.watchdog;
    let task = tokio::spawn(async move {
        let exit = tokio::select! {
            exit = probes_of(&ctx, startup, readiness, liveness) => exit,
            exit = watch_heartbeat(&ctx, watchdog) => exit,
        };
        ctx.fault(exit);
    });
    Some(task.abort_handle())
}

/// Runs the probes, startup first; returns the exit of a failed startup or
/// liveness probe (never, without one).
async fn probes_of(
    ctx: &Context,
    startup: Option<Probe>,
    readiness: Option<Probe>,
    liveness: Option<Probe>,
) -> Exit {
    if let Some(startup) = startup {
        if let Err(exit) = until_decided(ctx, &startup, ProbeRole::Startup).await {
            return exit;
        }
        if readiness.is_none() {
            ctx.probed(true, "");
        }
    }
    let readiness = async {
        match readiness {
            Some(probe) => track_readiness(ctx, &probe).await,
            None => std::future::pending().await,
        }
    };
    let liveness = async {
        match liveness {
            Some(probe) => match until_decided(ctx, &probe, ProbeRole::Liveness).await {
                Err(exit) => exit,
                Ok(()) => unreachable!("a liveness probe only ever fails"),
            },
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        exit = liveness => exit,
        never = readiness => match never {},
    }
}

/// A startup probe until it passes (`Ok`) or fails (`Err`); a liveness
/// probe until it fails.
async fn until_decided(ctx: &Context, probe: &Probe, role: ProbeRole) -> Result<(), Exit> {
    let mut verdict = Verdict::new(probe.timing, role != ProbeRole::Startup);
    let mut checks = Checks::new(probe);
    // A startup probe is retried soon after a failure, so a service up at
    // once is not held for a whole period; its failures still count at
    // most once a period, so its budget (threshold × period) is unchanged.
    let mut counts_from = Instant::now();
    loop {
        let result = checks.next(ctx).await;
        if role == ProbeRole::Startup && result.is_err() {
            if Instant::now() < counts_from {
                checks.retry_soon();
                continue;
            }
            counts_from = Instant::now() + probe.timing.period;
            checks.retry_soon();
        }
        let failed = result.as_ref().err().cloned();
        let changed = verdict.record(result.is_ok());
        if let Some(reason) = failed {
            emit_failure(ctx, role, &verdict, &reason);
            if changed == Some(false) {
                let (failures, what) = (verdict.failures, role.as_str());
                return Err(Exit::new(
                    ExitKind::Unhealthy,
                    format_args!(
                        "{what} probe failed {failures} times in a row; the last: {reason}"
                    ),
                ));
            }
        } else if changed == Some(true) && role == ProbeRole::Startup {
            return Ok(());
        }
    }
}

/// A readiness probe, for as long as the incarnation runs: ready when it
/// passes, not ready when it fails.
async fn track_readiness(ctx: &Context, probe: &Probe) -> std::convert::Infallible {
    let mut verdict = Verdict::new(probe.timing, false);
    let mut checks = Checks::new(probe);
    loop {
        let result = checks.next(ctx).await;
        let was_passing = verdict.passing;
        let changed = verdict.record(result.is_ok());
        // Until it first passes, a failure is retried soon: a server up at
        // once is ready at once, not a period later.
        if result.is_err() && !verdict.ever_passed {
            checks.retry_soon();
        }
        if let Err(reason) = result {
            // Failures are news while they count toward not ready.
            if was_passing {
                emit_failure(ctx, ProbeRole::Readiness, &verdict, &reason);
            }
            if changed == Some(false) {
                ctx.probed(false, &format!("readiness probe failed: {reason}"));
            }
        } else if changed == Some(true) {
            ctx.probed(true, "");
        }
    }
}

fn emit_failure(ctx: &Context, probe: ProbeRole, verdict: &Verdict, reason: &str) {
    let (failures, threshold) = (verdict.failures, verdict.timing.failure_threshold.max(1));
    ctx.emit(|id, generation| EventKind::ProbeFailed {
        id,
        generation,
        probe,
        failures,
        threshold,
        reason: reason.into(),
    });
}

/// One probe's checks, paced by its timing: the initial delay, then one
/// check per period, each cut at the timeout. Never overlapping.
struct Checks<'a> {
    probe: &'a Probe,
    tick: Option<tokio::time::Interval>,
    /// The next quick retry's delay (see [`retry_soon`](Self::retry_soon)).
    soon: Duration,
}

/// The first quick retry's delay; each next one doubles, up to the period.
const FIRST_RETRY: Duration = Duration::from_millis(100);

impl<'a> Checks<'a> {
    fn new(probe: &'a Probe) -> Self {
        Checks {
            probe,
            tick: None,
            soon: FIRST_RETRY,
        }
    }

    /// Makes the next check come sooner than a period: 100 ms after this
    /// one, then twice as long each time, never longer than the period.
    fn retry_soon(&mut self) {
        let period = self.probe.timing.period.max(Duration::from_millis(1));
        let delay = self.soon.min(period);
        self.soon = self.soon.saturating_mul(2);
        if let Some(tick) = &mut self.tick {
            tick.reset_after(delay);
        }
    }

    async fn next(&mut self, ctx: &Context) -> Result<(), String> {
        let timing = self.probe.timing;
        let tick = match &mut self.tick {
            Some(tick) => tick,
            None => {
                let first = Instant::now() + timing.initial_delay;
                let mut tick =
                    tokio::time::interval_at(first, timing.period.max(Duration::from_millis(1)));
                tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
                self.tick.insert(tick)
            }
        };
        tick.tick().await;
        let result =
            match tokio::time::timeout(timing.timeout, (self.probe.check)(ctx.clone())).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {:?}", timing.timeout)),
            };
        if result.is_ok() {
            ctx.passed_probe();
        }
        result
    }
}

/// Kubernetes' thresholds over a probe's results: it passes after
/// `success_threshold` successes in a row and fails after
/// `failure_threshold` failures in a row.
struct Verdict {
    timing: ProbeTiming,
    passing: bool,
    /// Whether it ever passed (a readiness probe hurries until then).
    ever_passed: bool,
    successes: u32,
    failures: u32,
}

impl Verdict {
    fn new(timing: ProbeTiming, passing: bool) -> Self {
        Verdict {
            timing,
            passing,
            ever_passed: false,
            successes: 0,
            failures: 0,
        }
    }

    /// Counts one result; returns a verdict when one is reached: a pass
    /// when the successes in a row reach their threshold while not passing,
    /// a failure when the failures in a row reach theirs.
    fn record(&mut self, ok: bool) -> Option<bool> {
        if ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if !self.passing && self.successes >= self.timing.success_threshold.max(1) {
                self.passing = true;
                self.ever_passed = true;
                return Some(true);
            }
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            if self.failures == self.timing.failure_threshold.max(1) {
                self.passing = false;
                return Some(false);
            }
        }
        None
    }
}

/// Returns once the incarnation has been silent for longer than `timeout`
/// (never, without a watchdog).
async fn watch_heartbeat(ctx: &Context, timeout: Option<Duration>) -> Exit {
    let Some(timeout) = timeout else {
        return std::future::pending().await;
    };
    loop {
        let last = ctx.last_heartbeat().unwrap_or_else(Instant::now);
        let deadline = last + timeout;
        if Instant::now() > deadline {
            return Exit::new(
                ExitKind::Watchdog,
                format_args!("no heartbeat for more than {timeout:?}"),
            );
        }
        // Past the deadline by a hair, so a beat exactly at it still counts.
        tokio::time::sleep_until(deadline + Duration::from_millis(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(failures: u32, successes: u32) -> ProbeTiming {
        ProbeTiming {
            failure_threshold: failures,
            success_threshold: successes,
            ..ProbeTiming::default()
        }
    }

    #[test]
    fn thresholds_count_results_in_a_row() {
        let mut v = Verdict::new(timing(3, 2), false);
        // Not passing yet: one success is not enough, a failure resets it.
        assert_eq!(v.record(true), None);
        assert_eq!(v.record(false), None);
        assert_eq!(v.record(true), None);
        assert_eq!(v.record(true), Some(true));
        // Passing: two failures are not enough, the third flips it once.
        assert_eq!(v.record(false), None);
        assert_eq!(v.record(false), None);
        assert_eq!(v.record(false), Some(false));
        assert_eq!(v.record(false), None);
    }

    #[test]
    fn a_probe_never_passing_fails_once_at_the_threshold() {
        let mut v = Verdict::new(timing(2, 1), false);
        assert_eq!(v.record(false), None);
        assert_eq!(v.record(false), Some(false));
        assert_eq!(v.record(false), None);
    }
}
