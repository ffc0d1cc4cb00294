//! Beyond OTP: a per-child backoff before restarts, and a per-child restart
//! budget that escalates, opens a circuit breaker, isolates, or backs off a
//! crash loop when it runs out.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    Backoff, ChildState, EventKind, FailReason, Intensity, OnExhausted, RestartBudget, Supervisor,
};
use tokio::time::Instant;

fn lots() -> Intensity {
    Intensity::new(1_000, Duration::from_secs(1))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn backoff_delays_grow_and_cap_and_the_child_is_backing_off_meanwhile() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(
            lab.child("a")
                .backoff(Backoff::exponential(ms(100), ms(400))),
        )
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let mut delays = Vec::new();
    for _ in 0..4 {
        lab.crash("a");
        let crashed = Instant::now();
        next_event(&mut events, |k| {
            matches!(k, EventKind::ChildRestarting { .. })
        })
        .await;
        assert_eq!(states(&sup).await[0].1, ChildState::BackingOff);
        next_event(&mut events, |k| matches!(k, EventKind::ChildStarted { .. })).await;
        delays.push(crashed.elapsed());
    }
    assert_eq!(delays, [ms(100), ms(200), ms(400), ms(400)]);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_stable_run_resets_the_backoff() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(
            lab.child("a").backoff(
                Backoff::exponential(ms(100), Duration::from_secs(10))
                    .reset_after(Duration::from_secs(30)),
            ),
        )
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    assert_eq!(restart_delay(&lab, &mut events).await, ms(100));
    tokio::time::sleep(ms(150)).await;
    assert_eq!(restart_delay(&lab, &mut events).await, ms(200));
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert_eq!(restart_delay(&lab, &mut events).await, ms(100));
    sup.shutdown().await;
}

/// Crashes `a` and returns the delay of the restart that follows.
async fn restart_delay(
    lab: &Lab,
    events: &mut tokio::sync::broadcast::Receiver<tend_engine::Event>,
) -> Duration {
    lab.crash("a");
    match next_event(events, |k| matches!(k, EventKind::ChildRestarting { .. }))
        .await
        .kind
    {
        EventKind::ChildRestarting { delay, .. } => delay,
        _ => unreachable!(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_interrupts_a_backoff() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(
            lab.child("a")
                .backoff(Backoff::fixed(Duration::from_secs(3600))),
        )
        .start()
        .await
        .unwrap();
    lab.crash("a");
    idle().await;
    let t0 = Instant::now();
    let report = sup.shutdown().await;
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(
        report.children[0].outcome,
        tend_engine::StopOutcome::NotRunning
    );
    assert_eq!(lab.take(), strings(&["start a", "crash a"]));
}

#[tokio::test(start_paused = true)]
async fn terminate_calls_off_a_pending_backoff() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(
            lab.child("a")
                .backoff(Backoff::fixed(Duration::from_secs(5))),
        )
        .start()
        .await
        .unwrap();
    lab.crash("a");
    idle().await;
    sup.terminate_child("a").await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(states(&sup).await[0].1, ChildState::Shutdown);
    assert_eq!(lab.take(), strings(&["start a", "crash a"]));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn budget_stop_opens_the_circuit_breaker() {
    let lab = Lab::new();
    let sup =
        Supervisor::builder("s")
            .intensity(lots())
            .child(lab.child("a").budget(
                RestartBudget::new(2, Duration::from_secs(60)).on_exhausted(OnExhausted::Stop),
            ))
            .child(lab.child("b"))
            .start()
            .await
            .unwrap();
    let mut events = sup.subscribe();
    for _ in 0..3 {
        lab.crash("a");
        idle().await;
    }
    let e = next_event(&mut events, |k| matches!(k, EventKind::ChildFailed { .. })).await;
    assert!(matches!(
        e.kind,
        EventKind::ChildFailed {
            reason: FailReason::CircuitBreakerOpen,
            ..
        }
    ));
    assert_eq!(
        states(&sup).await,
        vec![
            (
                "a".into(),
                ChildState::Failed(FailReason::CircuitBreakerOpen)
            ),
            ("b".into(), ChildState::Running)
        ]
    );
    // An operator can close it again.
    sup.restart_child("a").await.unwrap();
    assert_eq!(states(&sup).await[0].1, ChildState::Running);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn budget_isolate_keeps_the_child_out_of_the_way() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("a").budget(
            RestartBudget::new(1, Duration::from_secs(60)).on_exhausted(OnExhausted::Isolate),
        ))
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    lab.crash("a");
    idle().await;
    lab.crash("a");
    next_event(&mut events, |k| {
        matches!(k, EventKind::ChildIsolated { .. })
    })
    .await;
    let info = &sup.which_children().await[0];
    assert_eq!((info.state, info.generation), (ChildState::Isolated, 2));
    assert_eq!(sup.delete_child("a").await, Ok(()));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn budget_crash_loop_backs_off_then_retries() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(
            lab.child("a").budget(
                RestartBudget::new(2, Duration::from_secs(300))
                    .on_exhausted(OnExhausted::CrashLoopBackOff(Duration::from_secs(30))),
            ),
        )
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    lab.crash("a");
    idle().await;
    lab.crash("a");
    idle().await;
    lab.crash("a");
    let e = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildCrashLoop { .. })
    })
    .await;
    assert!(
        matches!(e.kind, EventKind::ChildCrashLoop { delay, .. } if delay == Duration::from_secs(30))
    );
    let t0 = Instant::now();
    idle().await;
    assert_eq!(states(&sup).await[0].1, ChildState::CrashLoopBackOff);
    next_event(&mut events, |k| matches!(k, EventKind::ChildStarted { .. })).await;
    assert_eq!(t0.elapsed(), Duration::from_secs(30));
    assert_eq!(sup.which_children().await[0].generation, 4);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn budget_escalate_makes_the_supervisor_give_up() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(
            lab.child("a")
                .budget(RestartBudget::new(1, Duration::from_secs(60))),
        )
        .child(lab.child("b"))
        .start()
        .await
        .unwrap();
    lab.crash("a");
    idle().await;
    lab.take();
    lab.crash("a");
    let exit = ended(&sup).await;
    assert_eq!(exit.class(), tend_engine::ExitClass::Shutdown);
    assert_eq!(
        exit.kind(),
        tend_engine::ExitKind::GaveUp(tend_engine::GiveUp::BudgetExhausted)
    );
    assert_eq!(lab.take(), strings(&["crash a", "stop b"]));
}

#[tokio::test(start_paused = true)]
async fn a_one_for_all_restart_waits_out_the_failed_childs_backoff() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .strategy(tend_engine::Strategy::OneForAll)
        .intensity(lots())
        .child(lab.child("a"))
        .child(
            lab.child("b")
                .backoff(Backoff::fixed(Duration::from_secs(2))),
        )
        .start()
        .await
        .unwrap();
    lab.take();
    lab.crash("b");
    idle().await;
    // Siblings are stopped at once and wait with the failed child: due to
    // start (pending), behind its delay.
    assert_eq!(lab.take(), strings(&["crash b", "stop a"]));
    assert_eq!(
        states(&sup).await,
        vec![
            ("a".into(), ChildState::Pending),
            ("b".into(), ChildState::BackingOff)
        ]
    );
    let waits = sup.child_info("a").await.unwrap().waiting_for;
    assert_eq!(waits, [("b".into(), tend_engine::Condition::Ready)]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(lab.take(), strings(&["start a", "start b"]));
    sup.shutdown().await;
}
