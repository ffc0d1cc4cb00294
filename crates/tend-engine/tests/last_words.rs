//! What the four supervisors tend replaces said and the engine still had to
//! say: the supervisor's own status and a tree-wide token, a restart now and
//! a stop that stays, start_child's incarnation id, a budget as it stands,
//! the numbers events carry, the last passed probe, and `always` after a
//! clean exit.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    Backoff, ChildSpec, ChildState, Context, EventKind, ExitKind, FailReason, GiveUp, Intensity,
    OnExhausted, Probe, RestartBudget, StopOutcome, Supervisor, SupervisorStatus,
};
use tokio::time::Instant;

fn lots() -> Intensity {
    Intensity::new(1000, Duration::from_secs(1))
}

/// A supervisor says where it is in its life, and whether it is stopping;
/// the tree's token is cancelled when its root begins to stop, not when a
/// nested supervisor gives up.
#[tokio::test(start_paused = true)]
async fn a_supervisor_tells_its_status_and_its_tree_token_ends_with_the_root() {
    let lab = Lab::new();
    let inner = Supervisor::builder("inner")
        .intensity(Intensity::new(0, Duration::from_secs(1)))
        .child(lab.child("flaky"));
    let sup = Supervisor::builder("root")
        .intensity(lots())
        .child(ChildSpec::supervisor(inner).restart(tend_engine::Restart::Transient))
        .child(lab.child("steady"))
        .start()
        .await
        .unwrap();
    assert_eq!(sup.status(), SupervisorStatus::Running);
    assert!(!sup.is_shutting_down());
    let token = sup.cancellation_token();
    let nested = sup.supervisor("inner").await.unwrap();
    assert_eq!(nested.status(), SupervisorStatus::Running);

    // The nested one gives up: it failed, the tree goes on.
    lab.crash("flaky");
    let exit = nested.wait().await;
    assert_eq!(exit.kind(), ExitKind::GaveUp(GiveUp::IntensityReached));
    assert!(matches!(nested.status(), SupervisorStatus::Failed(ref e) if *e == exit));
    assert!(nested.is_shutting_down());
    idle().await;
    assert!(!token.is_cancelled(), "only the root's stop ends the tree");

    // The root stops: stopping while its children stop, then stopped.
    let shutdown = tokio::spawn({
        let sup = sup.clone();
        async move { sup.shutdown().await }
    });
    token.cancelled().await;
    assert!(sup.is_shutting_down());
    let report = shutdown.await.unwrap();
    assert!(matches!(sup.status(), SupervisorStatus::Stopped(ref e) if *e == report.exit));
}

/// A start that fails ends the supervisor `Failed`, whoever waits on it.
#[tokio::test(start_paused = true)]
async fn a_supervisor_whose_start_failed_is_failed() {
    let bad = ChildSpec::task("bad", |_ctx: Context| async { Err::<(), _>("no config") })
        .await_ready(Duration::from_secs(1));
    let mut builder = Supervisor::builder("s").child(bad);
    let mut events = builder.subscribe();
    assert!(builder.start().await.is_err());
    let stopped = next_event(&mut events, |k| {
        matches!(k, EventKind::SupervisorStopped { .. })
    })
    .await;
    let EventKind::SupervisorStopped { exit } = stopped.kind else {
        unreachable!()
    };
    assert_eq!(exit.kind(), ExitKind::StartFailure);
}

/// `restart_child_now` restarts a running child (stop, then a new
/// incarnation that names the old one as the one it replaces), also one
/// whose restart is pending; `abort_child` kills at once and keeps it
/// stopped.
#[tokio::test(start_paused = true)]
async fn restart_now_and_a_stop_without_grace() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child_with("slow", OnCancel::Linger(Duration::from_secs(2))))
        .child(
            lab.child("pending")
                .backoff(Backoff::fixed(Duration::from_secs(60))),
        )
        .start()
        .await
        .unwrap();
    let before = sup.child_info("slow").await.unwrap();
    let t0 = Instant::now();
    let new = sup.restart_child_now("slow").await.unwrap();
    assert_eq!(
        t0.elapsed(),
        Duration::from_secs(2),
        "stopped by its shutdown spec"
    );
    let after = sup.child_info("slow").await.unwrap();
    assert_eq!(after.incarnation, Some(new));
    assert_ne!(before.incarnation, after.incarnation);
    assert_eq!(
        (after.generation, after.restarts),
        (2, 0),
        "not an automatic restart"
    );
    let table = sup.process_table().await;
    assert_eq!(table.get(new).unwrap().parent, before.incarnation);

    // A child backing off is restarted now, not in a minute.
    lab.crash("pending");
    idle().await;
    assert_eq!(
        sup.child_info("pending").await.unwrap().state,
        ChildState::BackingOff
    );
    sup.restart_child_now("pending").await.unwrap();
    assert_eq!(
        sup.child_info("pending").await.unwrap().state,
        ChildState::Running
    );

    // Without grace: killed at once, and it stays stopped.
    lab.take();
    let t0 = Instant::now();
    sup.abort_child("slow").await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    let info = sup.child_info("slow").await.unwrap();
    assert_eq!(info.state, ChildState::Shutdown);
    assert_eq!(info.last_exit.unwrap().exit.kind(), ExitKind::Killed);
    idle().await;
    assert!(lab.take().is_empty(), "never asked, never restarted");
    let report = sup.shutdown().await;
    assert_eq!(report.children[1].outcome, StopOutcome::NotRunning);
}

/// `start_child` answers with the new incarnation's id.
#[tokio::test(start_paused = true)]
async fn start_child_answers_with_the_incarnation() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s").start().await.unwrap();
    let id = sup.start_child(lab.child("a")).await.unwrap();
    assert_eq!(sup.child_info("a").await.unwrap().incarnation, Some(id));
    sup.shutdown().await;
}

/// A live child's budget says how much of it is used and whether it ran
/// out; the event of a circuit breaker opening carries it, with the exit.
#[tokio::test(start_paused = true)]
async fn a_budget_as_it_stands_and_the_breakers_numbers() {
    let lab = Lab::new();
    let mut builder = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("a").budget(
            RestartBudget::new(2, Duration::from_secs(60)).on_exhausted(OnExhausted::Stop),
        ));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let budget = |info: tend_engine::ChildInfo| {
        let b = info.budget.unwrap();
        (b.used, b.remaining, b.exhausted)
    };
    assert_eq!(budget(sup.child_info("a").await.unwrap()), (0, 2, false));
    lab.crash("a");
    idle().await;
    assert_eq!(budget(sup.child_info("a").await.unwrap()), (1, 1, false));
    lab.crash("a");
    idle().await;
    lab.crash("a");
    let failed = next_event(&mut events, |k| matches!(k, EventKind::ChildFailed { .. })).await;
    let EventKind::ChildFailed {
        reason,
        exit,
        budget: Some(trip),
        ..
    } = failed.kind
    else {
        panic!("{failed:?}")
    };
    assert_eq!(reason, FailReason::CircuitBreakerOpen);
    assert_eq!((trip.used, trip.max_restarts, trip.exhausted), (3, 2, true));
    assert_eq!(trip.window, Duration::from_secs(60));
    assert_eq!(exit.unwrap().reason(), Some("crashed on purpose"));
    assert_eq!(budget(sup.child_info("a").await.unwrap()), (3, 0, true));
    // The window moves on: a minute later the budget is whole again.
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(budget(sup.child_info("a").await.unwrap()), (0, 2, false));
    sup.shutdown().await;
}

/// Restart and crash-loop events carry the restart count; an isolation
/// carries the exit that led to it.
#[tokio::test(start_paused = true)]
async fn events_carry_the_counts_and_exits_operators_read() {
    let lab = Lab::new();
    let mut builder = Supervisor::builder("s").intensity(lots()).child(
        lab.child("a").budget(
            RestartBudget::new(1, Duration::from_secs(60))
                .on_exhausted(OnExhausted::CrashLoopBackOff(Duration::from_secs(30))),
        ),
    );
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let mut restarts = Vec::new();
    for _ in 0..2 {
        lab.crash("a");
        let event = next_event(&mut events, |k| {
            matches!(k, EventKind::ChildRestarting { .. })
        })
        .await;
        if let EventKind::ChildRestarting {
            restarts: n, delay, ..
        } = event.kind
        {
            restarts.push((n, delay));
        }
        idle().await;
    }
    assert_eq!(restarts[0], (1, Duration::ZERO));
    assert_eq!(
        restarts[1],
        (2, Duration::from_secs(30)),
        "the crash loop's delay"
    );
    sup.shutdown().await;

    let lab = Lab::new();
    let mut builder = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("b").on_crash(tend_engine::CrashPolicy::Isolate));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    lab.crash("b");
    let isolated = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildIsolated { .. })
    })
    .await;
    let EventKind::ChildIsolated {
        exit: Some(exit), ..
    } = isolated.kind
    else {
        panic!("{isolated:?}")
    };
    assert_eq!(exit.reason(), Some("crashed on purpose"));
    sup.shutdown().await;
}

/// A child's info tells when its incarnation last passed a probe.
#[tokio::test(start_paused = true)]
async fn the_last_passed_probe_is_in_the_childs_info() {
    let probe =
        Probe::new(|_ctx: Context| async { Ok::<(), String>(()) }).period(Duration::from_secs(10));
    let spec = ChildSpec::task(
        "probed",
        |ctx: Context| async move { ctx.cancelled().await },
    )
    .liveness_probe(probe);
    let sup = Supervisor::builder("s").child(spec).start().await.unwrap();
    idle().await;
    let first = sup
        .child_info("probed")
        .await
        .unwrap()
        .last_healthy
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let second = sup
        .child_info("probed")
        .await
        .unwrap()
        .last_healthy
        .unwrap();
    assert!(second > first, "{first:?} then {second:?}");
    let unprobed = Supervisor::builder("t")
        .child(ChildSpec::task("plain", |ctx: Context| async move {
            ctx.cancelled().await
        }))
        .start()
        .await
        .unwrap();
    assert!(unprobed
        .child_info("plain")
        .await
        .unwrap()
        .last_healthy
        .is_none());
    sup.shutdown().await;
    unprobed.shutdown().await;
}

/// `restart = always` after a clean exit: a short fixed delay and the
/// backoff reset, not a growing backoff; a failure still backs off.
#[tokio::test(start_paused = true)]
async fn a_clean_exit_of_a_permanent_child_is_not_a_failure() {
    let lab = Lab::new();
    let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60))
        .clean_exit_delay(Duration::from_millis(100));
    let mut builder = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("a").backoff(backoff));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let mut delays = Vec::new();
    for end in [
        End::Crash("x"),
        End::Crash("x"),
        End::Normal,
        End::Normal,
        End::Crash("x"),
    ] {
        lab.end("a", end);
        let event = next_event(&mut events, |k| {
            matches!(k, EventKind::ChildRestarting { .. })
        })
        .await;
        if let EventKind::ChildRestarting { delay, .. } = event.kind {
            delays.push(delay);
            tokio::time::sleep(delay).await;
        }
        idle().await;
    }
    let ms = Duration::from_millis;
    assert_eq!(delays, [ms(1000), ms(2000), ms(100), ms(100), ms(1000)]);
    sup.shutdown().await;
}

/// A task takes no signals: `signal_child` says so, and nothing changes.
#[tokio::test(start_paused = true)]
async fn a_task_takes_no_signals() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    let answer = sup.signal_child("a", tend_engine::Signal::Hup).await;
    assert!(
        matches!(answer, Err(tend_engine::ControlError::Signal { ref id, .. }) if id == "a"),
        "{answer:?}"
    );
    assert_eq!(
        sup.child_info("a").await.unwrap().state,
        ChildState::Running
    );
    sup.shutdown().await;
}
