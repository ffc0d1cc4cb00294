//! Per-child crash policies (the container supervisor's): restart (the
//! restart type decides, as OTP), shutdown (failed, not restarted) and
//! isolate (kept, not restarted, its hook run). A budget that runs out with
//! `OnExhausted::Isolate` runs the same hook.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tend_engine::{
    AutoShutdown, ChildState, CrashPolicy, EventKind, ExitKind, FailReason, Intensity,
    IsolateCause, Isolation, OnExhausted, Restart, RestartBudget, Strategy, Supervisor,
};

fn lots() -> Intensity {
    Intensity::new(100, Duration::from_secs(1))
}

/// An `on_isolate` hook that records what it is told.
fn recorder() -> (
    Arc<Mutex<Vec<Isolation>>>,
    impl Fn(Isolation) -> std::future::Ready<()> + Send + Sync + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    (seen, move |isolation| {
        log.lock().unwrap().push(isolation);
        std::future::ready(())
    })
}

#[tokio::test(start_paused = true)]
async fn restart_is_the_default_and_leaves_it_to_the_restart_type() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    assert_eq!(
        sup.child_info("a").await.unwrap().on_crash,
        CrashPolicy::Restart
    );
    lab.crash("a");
    idle().await;
    let info = sup.child_info("a").await.unwrap();
    assert_eq!((info.state, info.generation), (ChildState::Running, 2));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_fails_a_crashed_child_without_counting_a_restart() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        // One restart would already be too many: none is counted.
        .intensity(Intensity::new(0, Duration::from_secs(60)))
        .child(lab.child("a").on_crash(CrashPolicy::Shutdown))
        .child(lab.child("b"))
        .start()
        .await
        .unwrap();
    lab.take();
    lab.crash("a");
    idle().await;
    assert!(sup.is_running());
    assert_eq!(
        lab.take(),
        strings(&["crash a"]),
        "no restart, sibling untouched"
    );
    assert_eq!(
        states(&sup).await,
        vec![
            ("a".into(), ChildState::Failed(FailReason::Crashed)),
            ("b".into(), ChildState::Running)
        ]
    );
    assert_eq!(sup.metrics().restarts, 0);
    // An operator brings it back.
    sup.restart_child("a").await.unwrap();
    assert_eq!(
        sup.child_info("a").await.unwrap().state,
        ChildState::Running
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_policy_applies_to_abnormal_exits_only() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("a").on_crash(CrashPolicy::Isolate))
        .start()
        .await
        .unwrap();
    lab.end("a", End::Normal);
    idle().await;
    let info = sup.child_info("a").await.unwrap();
    assert_eq!(
        (info.state, info.generation),
        (ChildState::Running, 2),
        "a permanent child that completes is restarted as OTP says"
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_and_isolate_keep_even_a_temporary_childs_spec() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(
            lab.child("t")
                .restart(Restart::Temporary)
                .on_crash(CrashPolicy::Shutdown),
        )
        .child(
            lab.child("u")
                .restart(Restart::Temporary)
                .on_crash(CrashPolicy::Isolate),
        )
        .child(lab.child("v").restart(Restart::Temporary))
        .start()
        .await
        .unwrap();
    for id in ["t", "u", "v"] {
        lab.crash(id);
    }
    idle().await;
    assert_eq!(
        states(&sup).await,
        vec![
            ("t".into(), ChildState::Failed(FailReason::Crashed)),
            ("u".into(), ChildState::Isolated),
        ],
        "the plain temporary child is removed, as OTP does"
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn isolate_keeps_the_child_runs_the_hook_and_an_operator_brings_it_back() {
    let lab = Lab::new();
    let (seen, hook) = recorder();
    // Hooks add up: a backend's own and the user's both run.
    let (also_seen, second) = recorder();
    let mut builder = Supervisor::builder("s").intensity(lots()).child(
        lab.child("web")
            .on_crash(CrashPolicy::Isolate)
            .on_isolate(hook)
            .on_isolate(second),
    );
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    lab.end("web", End::Crash("bad request handling"));
    let isolated = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildIsolated { .. })
    })
    .await;
    assert!(matches!(
        isolated.kind,
        EventKind::ChildIsolated {
            cause: IsolateCause::CrashPolicy,
            ..
        }
    ));
    idle().await;
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let isolation = &seen[0];
        assert_eq!(
            (&*isolation.supervisor, isolation.id.as_str()),
            ("s", "web")
        );
        assert_eq!(
            (isolation.generation, isolation.cause, isolation.exit.kind()),
            (1, IsolateCause::CrashPolicy, ExitKind::Error)
        );
        assert_eq!(isolation.exit.reason(), Some("bad request handling"));
        assert_eq!(
            also_seen.lock().unwrap().len(),
            1,
            "the second hook ran too"
        );
    }
    let info = sup.child_info("web").await.unwrap();
    assert_eq!(info.state, ChildState::Isolated);
    assert_eq!(
        info.last_exit.unwrap().exit.reason(),
        Some("bad request handling")
    );
    assert_eq!(sup.metrics().restarts, 0);

    sup.restart_child("web").await.unwrap();
    assert_eq!(sup.child_info("web").await.unwrap().generation, 2);
    lab.crash("web");
    idle().await;
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "the hook runs on every isolation"
    );
    assert_eq!(seen.lock().unwrap()[1].generation, 2);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_budget_that_runs_out_with_isolate_runs_the_same_hook() {
    let lab = Lab::new();
    let (seen, hook) = recorder();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(
            lab.child("a")
                .budget(
                    RestartBudget::new(1, Duration::from_secs(60))
                        .on_exhausted(OnExhausted::Isolate),
                )
                .on_isolate(hook),
        )
        .start()
        .await
        .unwrap();
    lab.crash("a");
    idle().await;
    assert!(
        seen.lock().unwrap().is_empty(),
        "within the budget: restarted"
    );
    lab.crash("a");
    idle().await;
    let isolations: Vec<(IsolateCause, u64)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|i| (i.cause, i.generation))
        .collect();
    assert_eq!(isolations, [(IsolateCause::BudgetExhausted, 2)]);
    assert_eq!(
        sup.child_info("a").await.unwrap().state,
        ChildState::Isolated
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn strategies_leave_failed_and_isolated_siblings_alone() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .strategy(Strategy::OneForAll)
        .intensity(lots())
        .child(lab.child("failed").on_crash(CrashPolicy::Shutdown))
        .child(lab.child("isolated").on_crash(CrashPolicy::Isolate))
        .child(lab.child("c"))
        .start()
        .await
        .unwrap();
    lab.crash("failed");
    lab.crash("isolated");
    idle().await;
    lab.take();
    lab.crash("c");
    idle().await;
    assert_eq!(lab.take(), strings(&["crash c", "start c"]));
    assert_eq!(
        states(&sup).await,
        vec![
            ("failed".into(), ChildState::Failed(FailReason::Crashed)),
            ("isolated".into(), ChildState::Isolated),
            ("c".into(), ChildState::Running)
        ]
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_hook_harms_nothing() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(
            lab.child("a")
                .on_crash(CrashPolicy::Isolate)
                .on_isolate(|_| async { panic!("hook bug") }),
        )
        .start()
        .await
        .unwrap();
    lab.crash("a");
    idle().await;
    assert!(sup.is_running());
    sup.restart_child("a").await.unwrap();
    assert_eq!(
        sup.child_info("a").await.unwrap().state,
        ChildState::Running
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_significant_child_given_up_on_triggers_auto_shutdown() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(lab.child("other"))
        .child(
            lab.child("job")
                .restart(Restart::Transient)
                .significant(true)
                .on_crash(CrashPolicy::Shutdown),
        )
        .start()
        .await
        .unwrap();
    lab.crash("job");
    let exit = ended(&sup).await;
    assert_eq!(exit.kind(), ExitKind::AutoShutdown);
}
