//! A running incarnation can be found faulty, not only dead: killed by an
//! operator, failing its health checks, or hung (no heartbeat). Each is an
//! abnormal exit with its own kind, handled by the crash policy and the
//! restart type.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, ChildState, Context, ControlError, CrashPolicy, EventKind, ExitClass, ExitKind,
    FailReason, Intensity, Probe, Restart, Shutdown, Supervisor,
};
use tokio::time::Instant;

fn lots() -> Intensity {
    Intensity::new(100, Duration::from_secs(1))
}

#[tokio::test(start_paused = true)]
async fn kill_child_kills_at_once_and_the_restart_type_applies() {
    let lab = Lab::new();
    let mut builder = Supervisor::builder("s")
        .intensity(lots())
        .child(
            lab.child_with("deaf", OnCancel::Ignore)
                .shutdown(Shutdown::Timeout(Duration::from_secs(60))),
        )
        .child(lab.child("t").restart(Restart::Transient));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let t0 = Instant::now();
    sup.kill_child("deaf").await.unwrap();
    let stopping = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildStopping { .. })
    })
    .await;
    assert!(matches!(
        stopping.kind,
        EventKind::ChildStopping { ref because, .. } if because.kind() == ExitKind::Killed
    ));
    idle().await;
    assert!(t0.elapsed() < Duration::from_millis(10), "no grace period");
    let info = sup.child_info("deaf").await.unwrap();
    let exit = &info.history[0].exit;
    assert_eq!(
        (exit.kind(), exit.class()),
        (ExitKind::Killed, ExitClass::Abnormal)
    );
    assert_eq!(
        (info.state, info.generation),
        (ChildState::Running, 2),
        "permanent: restarted"
    );
    // Abnormal, so a transient child is restarted too.
    sup.kill_child("t").await.unwrap();
    idle().await;
    assert_eq!(sup.child_info("t").await.unwrap().generation, 2);
    assert_eq!(sup.metrics().restarts, 2);
    sup.terminate_child("t").await.unwrap();
    assert_eq!(
        sup.kill_child("t").await,
        Err(ControlError::NotRunning("t".into()))
    );
    assert_eq!(
        sup.kill_child("nope").await,
        Err(ControlError::NotFound("nope".into()))
    );
    sup.shutdown().await;
}

/// A child whose health check says what `healthy` holds, counting checks.
fn checked(id: &str, healthy: Arc<AtomicBool>, checks: Arc<AtomicU32>) -> ChildSpec {
    ChildSpec::task(id, |ctx: Context| async move { ctx.cancelled().await }).liveness_probe(
        Probe::new(move |_ctx: Context| {
            checks.fetch_add(1, Ordering::SeqCst);
            let ok = healthy.load(Ordering::SeqCst);
            async move {
                if ok {
                    Ok(())
                } else {
                    Err("database unreachable")
                }
            }
        })
        .period(Duration::from_secs(10))
        .failure_threshold(3),
    )
}

#[tokio::test(start_paused = true)]
async fn failing_health_checks_past_the_threshold_stop_the_child_as_unhealthy() {
    let healthy = Arc::new(AtomicBool::new(true));
    let checks = Arc::new(AtomicU32::new(0));
    let mut builder = Supervisor::builder("s").intensity(lots()).child(checked(
        "db",
        healthy.clone(),
        checks.clone(),
    ));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(checks.load(Ordering::SeqCst), 4, "at 0, 10, 20 and 30 s");
    healthy.store(false, Ordering::SeqCst);
    let t0 = Instant::now();
    let failed = next_event(&mut events, |k| matches!(k, EventKind::ProbeFailed { .. })).await;
    assert!(matches!(
        failed.kind,
        EventKind::ProbeFailed { failures: 1, threshold: 3, ref reason, .. }
            if &**reason == "database unreachable"
    ));
    let stopping = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildStopping { .. })
    })
    .await;
    assert_eq!(
        t0.elapsed(),
        Duration::from_secs(25),
        "the third failure in a row, at 60 s"
    );
    let EventKind::ChildStopping { because, .. } = stopping.kind else {
        unreachable!()
    };
    assert_eq!(because.kind(), ExitKind::Unhealthy);
    assert!(
        because
            .reason()
            .unwrap()
            .contains("liveness probe failed 3 times in a row"),
        "{because}"
    );
    idle().await;
    let info = sup.child_info("db").await.unwrap();
    assert_eq!(info.history[0].exit.kind(), ExitKind::Unhealthy);
    assert_eq!((info.state, info.generation), (ChildState::Running, 2));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_success_resets_the_count_and_a_slow_check_is_a_failure() {
    let flaps = Arc::new(AtomicU32::new(0));
    let counter = flaps.clone();
    let mut builder = Supervisor::builder("s").intensity(lots()).child(
        ChildSpec::task("c", |ctx: Context| async move { ctx.cancelled().await })
            .on_crash(CrashPolicy::Shutdown)
            .liveness_probe(
                Probe::new(move |_ctx: Context| {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        match n % 3 {
                            // Two slow checks (past the timeout), then a good one:
                            // never three failures in a row.
                            0 | 1 => {
                                tokio::time::sleep(Duration::from_secs(5)).await;
                                Ok::<(), &str>(())
                            }
                            _ => Ok(()),
                        }
                    }
                })
                .period(Duration::from_secs(10))
                .timeout(Duration::from_secs(1))
                .initial_delay(Duration::from_secs(30))
                .failure_threshold(3),
            ),
    );
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert_eq!(
        flaps.load(Ordering::SeqCst),
        0,
        "nothing before the initial delay"
    );
    let failed = next_event(&mut events, |k| matches!(k, EventKind::ProbeFailed { .. })).await;
    assert!(matches!(
        failed.kind,
        EventKind::ProbeFailed { ref reason, .. } if reason.contains("no answer within 1s")
    ));
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(
        sup.child_info("c").await.unwrap().state,
        ChildState::Running
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_unhealthy_child_under_crash_policy_shutdown_is_failed_as_unhealthy() {
    let checks = Arc::new(AtomicU32::new(0));
    let sup = Supervisor::builder("s")
        .child(
            checked("c", Arc::new(AtomicBool::new(false)), checks).on_crash(CrashPolicy::Shutdown),
        )
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        sup.child_info("c").await.unwrap().state,
        ChildState::Failed(FailReason::Unhealthy)
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_hung_task_is_caught_by_its_watchdog_and_a_live_one_is_not() {
    let mut builder = Supervisor::builder("s")
        .intensity(lots())
        .child(
            ChildSpec::task("alive", |ctx: Context| async move {
                loop {
                    tokio::select! {
                        _ = ctx.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(4)) => ctx.heartbeat(),
                    }
                }
            })
            .watchdog(Duration::from_secs(5)),
        )
        .child(
            ChildSpec::task("hung", |ctx: Context| async move {
                ctx.heartbeat();
                tokio::time::sleep(Duration::from_secs(3)).await;
                ctx.heartbeat();
                // Stuck on something that never comes (but still obeys a stop).
                ctx.cancelled().await;
            })
            .watchdog(Duration::from_secs(5)),
        );
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let t0 = Instant::now();
    let stopping = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildStopping { .. })
    })
    .await;
    let EventKind::ChildStopping { id, because, .. } = stopping.kind else {
        unreachable!()
    };
    assert_eq!(id.as_str(), "hung");
    assert_eq!(because.kind(), ExitKind::Watchdog);
    let caught = t0.elapsed();
    assert!(
        caught > Duration::from_secs(8) && caught <= Duration::from_millis(8_010),
        "5 s after the last beat at 3 s: {caught:?}"
    );
    tokio::time::sleep(Duration::from_secs(60)).await;
    let alive = sup.child_info("alive").await.unwrap();
    assert_eq!((alive.state, alive.generation), (ChildState::Running, 1));
    let hung = sup.child_info("hung").await.unwrap();
    assert!(hung.generation > 1, "restarted, and caught again each time");
    assert_eq!(hung.history[0].exit.kind(), ExitKind::Watchdog);
    sup.shutdown().await;
}
