//! Kubernetes' three probes on task children, on the paused clock: startup
//! gates the others, readiness toggles ready and not ready (the child keeps
//! running), liveness stops the child, or isolates it still running.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, ChildState, Context, EventKind, ExitKind, IsolateCause, OnUnhealthy, Probe,
    ProbeRole, Supervisor,
};
use tokio::time::Instant;

/// A probe that passes while `flag` holds, counting its checks.
fn probe_of(flag: &Arc<AtomicBool>, checks: &Arc<AtomicU32>) -> Probe {
    let (flag, checks) = (flag.clone(), checks.clone());
    Probe::new(move |_ctx: Context| {
        checks.fetch_add(1, Ordering::SeqCst);
        let ok = flag.load(Ordering::SeqCst);
        async move {
            if ok {
                Ok(())
            } else {
                Err("said no")
            }
        }
    })
    .period(Duration::from_secs(1))
}

fn idle_task(id: &str) -> ChildSpec {
    ChildSpec::task(id, |ctx: Context| async move { ctx.cancelled().await })
}

#[tokio::test(start_paused = true)]
async fn a_readiness_probe_toggles_ready_and_the_child_keeps_running() {
    let (ok, checks) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU32::new(0)),
    );
    let spec = idle_task("web").readiness_probe(
        probe_of(&ok, &checks)
            .failure_threshold(2)
            .success_threshold(2),
    );
    let mut builder = Supervisor::builder("s").concurrent_start(true).child(spec);
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let info = sup.child_info("web").await.unwrap();
    assert_eq!((info.state, info.ready), (ChildState::Starting, false));

    ok.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    next_event(&mut events, |k| matches!(k, EventKind::ChildReady { .. })).await;
    let started = next_event(&mut events, |k| matches!(k, EventKind::ChildStarted { .. })).await;
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "two successes in a row"
    );
    assert!(matches!(
        started.kind,
        EventKind::ChildStarted { generation: 1, .. }
    ));
    let info = sup.child_info("web").await.unwrap();
    assert_eq!((info.state, info.ready), (ChildState::Running, true));

    ok.store(false, Ordering::SeqCst);
    let failed = next_event(&mut events, |k| matches!(k, EventKind::ProbeFailed { .. })).await;
    assert!(matches!(
        failed.kind,
        EventKind::ProbeFailed {
            probe: ProbeRole::Readiness,
            failures: 1,
            threshold: 2,
            ..
        }
    ));
    let not_ready = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildNotReady { .. })
    })
    .await;
    assert!(matches!(
        not_ready.kind,
        EventKind::ChildNotReady { ref reason, .. } if reason.contains("said no")
    ));
    let info = sup.child_info("web").await.unwrap();
    assert_eq!(
        (info.state, info.ready, info.generation),
        (ChildState::Running, false, 1),
        "not ready, still running the same incarnation"
    );
    ok.store(true, Ordering::SeqCst);
    next_event(&mut events, |k| matches!(k, EventKind::ChildReady { .. })).await;
    assert!(sup.child_info("web").await.unwrap().ready);
    assert_eq!(sup.metrics().restarts, 0);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_startup_probe_holds_back_liveness_until_it_passes() {
    let (started, startup_checks) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU32::new(0)),
    );
    let (alive, liveness_checks) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU32::new(0)),
    );
    let spec = idle_task("slow")
        .startup_probe(probe_of(&started, &startup_checks).failure_threshold(30))
        .liveness_probe(probe_of(&alive, &liveness_checks).failure_threshold(3));
    let mut builder = Supervisor::builder("s").child(spec);
    let mut events = builder.subscribe();
    let start = tokio::spawn(builder.start());
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        liveness_checks.load(Ordering::SeqCst),
        0,
        "not before startup passed"
    );
    assert!(
        !start.is_finished(),
        "the start waits for the startup probe"
    );
    started.store(true, Ordering::SeqCst);
    alive.store(true, Ordering::SeqCst);
    let sup = start.await.unwrap().unwrap();
    let info = sup.child_info("slow").await.unwrap();
    assert_eq!((info.state, info.ready), (ChildState::Running, true));
    let checked = startup_checks.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(liveness_checks.load(Ordering::SeqCst) >= 4);
    assert_eq!(
        startup_checks.load(Ordering::SeqCst),
        checked,
        "the startup probe stops once it passed"
    );

    // Liveness failing past its threshold stops and restarts it; the new
    // incarnation goes through its startup probe again.
    alive.store(false, Ordering::SeqCst);
    let stopping = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildStopping { .. })
    })
    .await;
    assert!(matches!(
        stopping.kind,
        EventKind::ChildStopping { ref because, .. } if because.kind() == ExitKind::Unhealthy
    ));
    alive.store(true, Ordering::SeqCst);
    next_event(&mut events, |k| {
        matches!(k, EventKind::ChildStarted { generation: 2, .. })
    })
    .await;
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_startup_probe_that_never_passes_is_a_failed_start() {
    let (never, checks) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU32::new(0)),
    );
    let spec = idle_task("stuck").startup_probe(probe_of(&never, &checks).failure_threshold(5));
    let t0 = Instant::now();
    let error = Supervisor::builder("s")
        .child(spec)
        .start()
        .await
        .unwrap_err();
    // Retried soon after each failure, but a failure counts once a period:
    // the budget is still five periods.
    assert!(
        t0.elapsed() >= Duration::from_secs(4),
        "five failures counted, one a second"
    );
    assert!(checks.load(Ordering::SeqCst) > 5, "retried between counts");
    let message = error.to_string();
    assert!(
        message.contains("startup probe failed 5 times"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn on_unhealthy_isolate_keeps_the_child_running_and_an_operator_restart_brings_it_back() {
    let (alive, checks) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicU32::new(0)));
    let cancelled = Arc::new(AtomicU32::new(0));
    let hooked = Arc::new(AtomicU32::new(0));
    let (seen_cancel, seen_hook) = (cancelled.clone(), hooked.clone());
    let spec = ChildSpec::task("web", move |ctx: Context| {
        let cancelled = seen_cancel.clone();
        async move {
            ctx.ready();
            ctx.cancelled().await;
            cancelled.fetch_add(1, Ordering::SeqCst);
        }
    })
    .liveness_probe(probe_of(&alive, &checks))
    .on_unhealthy(OnUnhealthy::Isolate)
    .on_isolate(move |isolation| {
        let hooked = seen_hook.clone();
        async move {
            assert_eq!(isolation.cause, IsolateCause::Unhealthy);
            assert_eq!(isolation.exit.kind(), ExitKind::Unhealthy);
            hooked.fetch_add(1, Ordering::SeqCst);
        }
    });
    let mut builder = Supervisor::builder("s").child(spec);
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    assert!(sup.child_info("web").await.unwrap().ready);
    alive.store(false, Ordering::SeqCst);
    let isolated = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildIsolated { .. })
    })
    .await;
    assert!(matches!(
        isolated.kind,
        EventKind::ChildIsolated {
            cause: IsolateCause::Unhealthy,
            ..
        }
    ));
    tokio::time::sleep(Duration::from_secs(30)).await;
    let info = sup.child_info("web").await.unwrap();
    assert_eq!(
        (info.state, info.ready, info.generation),
        (ChildState::Isolated, false, 1)
    );
    assert!(info.running_since.is_some(), "still running, for debugging");
    assert_eq!(cancelled.load(Ordering::SeqCst), 0, "never asked to stop");
    assert_eq!(hooked.load(Ordering::SeqCst), 1);
    assert_eq!(
        checks.load(Ordering::SeqCst),
        4,
        "probing stopped at isolation"
    );
    assert_eq!(sup.metrics().restarts, 0);

    alive.store(true, Ordering::SeqCst);
    sup.restart_child("web").await.unwrap();
    assert_eq!(
        cancelled.load(Ordering::SeqCst),
        1,
        "the isolated one was stopped first"
    );
    let info = sup.child_info("web").await.unwrap();
    assert_eq!(
        (info.state, info.ready, info.generation),
        (ChildState::Running, true, 2)
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_child_can_say_it_is_not_ready() {
    let spec = ChildSpec::task("busy", |ctx: Context| async move {
        ctx.ready();
        tokio::time::sleep(Duration::from_secs(1)).await;
        ctx.not_ready("overloaded");
        tokio::time::sleep(Duration::from_secs(1)).await;
        ctx.ready();
        ctx.cancelled().await;
    });
    let mut builder = Supervisor::builder("s").child(spec);
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let not_ready = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildNotReady { .. })
    })
    .await;
    assert!(
        matches!(not_ready.kind, EventKind::ChildNotReady { ref reason, .. } if &**reason == "overloaded")
    );
    assert!(!sup.child_info("busy").await.unwrap().ready);
    next_event(&mut events, |k| matches!(k, EventKind::ChildReady { .. })).await;
    assert!(sup.child_info("busy").await.unwrap().ready);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_readiness_probe_is_retried_soon_until_it_first_passes() {
    let (up, checks) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU32::new(0)),
    );
    // A server that listens a moment after it starts: its first check (at
    // its start) fails, the retry 100 ms later passes; not a 10 s period.
    let spec = idle_task("server")
        .readiness_probe(probe_of(&up, &checks).period(Duration::from_secs(10)))
        .await_ready(Duration::from_secs(60));
    let t0 = Instant::now();
    let start = tokio::spawn(Supervisor::builder("s").child(spec).start());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(checks.load(Ordering::SeqCst), 1, "first tried at once");
    up.store(true, Ordering::SeqCst);
    let sup = start.await.unwrap().unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(200),
        "{:?}",
        t0.elapsed()
    );
    assert!(sup.child_info("server").await.unwrap().ready);
    // Once passed, it keeps its period.
    let passed = checks.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(checks.load(Ordering::SeqCst), passed);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_child_that_signals_and_has_a_probe_is_ready_only_when_both_hold() {
    // The probe passes at once; the child says it is ready after 2 s.
    for signal_first in [false, true] {
        let (probe_ok, checks) = (
            Arc::new(AtomicBool::new(signal_first)),
            Arc::new(AtomicU32::new(0)),
        );
        let spec = ChildSpec::task("both", |ctx: Context| async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            ctx.ready();
            ctx.cancelled().await
        })
        .readiness_probe(probe_of(&probe_ok, &checks).period(Duration::from_secs(1)))
        .signals_ready()
        .await_ready(Duration::from_secs(60));
        let t0 = Instant::now();
        let start = tokio::spawn(Supervisor::builder("s").child(spec).start());
        if signal_first {
            // Probe passing from the start: the signal at 2 s decides.
            let sup = start.await.unwrap().unwrap();
            assert!(t0.elapsed() >= Duration::from_secs(2), "{:?}", t0.elapsed());
            assert!(sup.child_info("both").await.unwrap().ready);
            sup.shutdown().await;
        } else {
            // Signalled at 2 s, the probe failing until 5 s: not ready
            // before the probe passes.
            tokio::time::sleep(Duration::from_secs(5)).await;
            assert!(!start.is_finished(), "ready on its signal alone");
            probe_ok.store(true, Ordering::SeqCst);
            let sup = start.await.unwrap().unwrap();
            assert!(sup.child_info("both").await.unwrap().ready);
            sup.shutdown().await;
        }
    }
}
