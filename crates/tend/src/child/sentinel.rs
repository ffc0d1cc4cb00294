//! Watching a running incarnation from beside it: its health checks and its
//! watchdog, on a task of their own (a hung task cannot watch itself, and
//! the supervisor's loop never waits on a check). On a fault the sentinel
//! tells the supervisor, which stops the incarnation; it ends with the
//! incarnation.

use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::health::HealthCheck;
use crate::context::Context;
use crate::event::EventKind;
use crate::exit::{Exit, ExitKind};

/// Starts the sentinel of an incarnation that has a health check or a
/// watchdog; the caller aborts it when the incarnation ends.
#[inline]
pub(crate) fn spawn(
    ctx: &Context,
    health: Option<&HealthCheck>,
    watchdog: Option<Duration>,
) -> Option<AbortHandle> {
    if health.is_none() && watchdog.is_none() {
        return None;
    }
    let ctx = ctx.clone();
    let health = health.cloned();
    let task = tokio::spawn(async move {
        let exit = tokio::select! {
            exit = checks(&ctx, health) => exit,
            exit = watch_heartbeat(&ctx, watchdog) => exit,
        };
        ctx.fault(exit);
    });
    Some(task.abort_handle())
}

/// Runs the health checks; returns once `failure_threshold` fail in a row
/// (never, without a check).
async fn checks(ctx: &Context, health: Option<HealthCheck>) -> Exit {
    let Some(health) = health else {
        return std::future::pending().await;
    };
    tokio::time::sleep(health.initial_delay).await;
    let mut tick = tokio::time::interval(health.period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failures = 0;
    loop {
        tick.tick().await;
        let reason = match tokio::time::timeout(health.timeout, (health.check)(ctx.clone())).await {
            Ok(Ok(())) => {
                failures = 0;
                continue;
            }
            Ok(Err(reason)) => reason,
            Err(_) => format!("no answer within {:?}", health.timeout),
        };
        failures += 1;
        let threshold = health.failure_threshold;
        let said = reason.clone();
        ctx.emit(|id, generation| EventKind::HealthCheckFailed {
            id,
            generation,
            failures,
            threshold,
            reason: said.into(),
        });
        if failures >= threshold {
            return Exit::new(
                ExitKind::Unhealthy,
                format_args!("{failures} health checks failed in a row; the last: {reason}"),
            );
        }
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
