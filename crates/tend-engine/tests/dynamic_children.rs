//! Dynamic children answer as OTP's `start_child`, `terminate_child`,
//! `restart_child` and `delete_child` do.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    AutoShutdown, ChildSpec, ChildState, Context, ControlError, Restart, SpecError, Supervisor,
};

#[tokio::test(start_paused = true)]
async fn the_otp_answers() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s").start().await.unwrap();
    sup.start_child(lab.child("a")).await.unwrap();
    sup.start_child(lab.child("b")).await.unwrap();

    assert_eq!(
        sup.start_child(lab.child("a")).await,
        Err(ControlError::AlreadyStarted("a".into()))
    );
    assert_eq!(
        sup.restart_child("a").await,
        Err(ControlError::Running("a".into()))
    );
    assert_eq!(
        sup.delete_child("a").await,
        Err(ControlError::Running("a".into()))
    );
    assert_eq!(
        sup.terminate_child("zz").await,
        Err(ControlError::NotFound("zz".into()))
    );
    assert_eq!(
        sup.restart_child("zz").await,
        Err(ControlError::NotFound("zz".into()))
    );
    assert_eq!(
        sup.delete_child("zz").await,
        Err(ControlError::NotFound("zz".into()))
    );

    sup.terminate_child("a").await.unwrap();
    assert_eq!(
        sup.start_child(lab.child("a")).await,
        Err(ControlError::AlreadyPresent("a".into()))
    );
    // Terminating a stopped child again is fine, as in OTP.
    sup.terminate_child("a").await.unwrap();
    sup.delete_child("a").await.unwrap();
    assert_eq!(states(&sup).await, vec![("b".into(), ChildState::Running)]);
    // Deleted: the id can be reused, and generations start afresh.
    sup.start_child(lab.child("a")).await.unwrap();
    let info = sup.which_children().await;
    assert_eq!(
        info.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["b", "a"]
    );
    assert_eq!(info[1].generation, 1);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn restart_child_starts_a_new_generation_and_is_not_counted_as_a_restart() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    sup.terminate_child("a").await.unwrap();
    sup.restart_child("a").await.unwrap();
    let info = &sup.which_children().await[0];
    assert_eq!(
        (info.state, info.generation, info.restarts),
        (ChildState::Running, 2, 0)
    );
    assert_eq!(sup.metrics().restarts, 0);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn terminating_a_temporary_child_removes_its_spec() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s").start().await.unwrap();
    sup.start_child(lab.child("t").restart(Restart::Temporary))
        .await
        .unwrap();
    sup.terminate_child("t").await.unwrap();
    assert!(sup.which_children().await.is_empty());
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn terminate_never_counts_as_a_restart() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(tend_engine::Intensity::new(
            0,
            std::time::Duration::from_secs(60),
        ))
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    for _ in 0..3 {
        sup.terminate_child("a").await.unwrap();
        sup.restart_child("a").await.unwrap();
    }
    assert!(sup.is_running());
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn start_child_failures_are_not_kept() {
    let sup = Supervisor::builder("s").start().await.unwrap();
    let bad = ChildSpec::task("bad", |_ctx: Context| async { Err::<(), _>("nope") })
        .await_ready(std::time::Duration::from_secs(1));
    match sup.start_child(bad).await {
        Err(ControlError::StartFailed { id, exit }) => {
            assert_eq!(id.as_str(), "bad");
            assert_eq!(exit.kind(), tend_engine::ExitKind::StartFailure);
            assert_eq!(exit.reason(), Some("nope"));
        }
        other => panic!("{other:?}"),
    }
    assert!(sup.which_children().await.is_empty());
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn invalid_specs_are_refused_with_the_rule_they_break() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .start()
        .await
        .unwrap();
    let err = sup
        .start_child(lab.child("p").significant(true))
        .await
        .unwrap_err();
    match err {
        ControlError::InvalidSpec(e) => assert_eq!(e.error, SpecError::SignificantPermanent),
        other => panic!("{other:?}"),
    }
    let err = sup.start_child(lab.child("")).await.unwrap_err();
    assert!(matches!(err, ControlError::InvalidSpec(ref e) if e.error == SpecError::EmptyId));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn max_children_bounds_start_child() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .max_children(2)
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    sup.start_child(lab.child("b")).await.unwrap();
    assert_eq!(
        sup.start_child(lab.child("c")).await,
        Err(ControlError::MaxChildren { max: 2 })
    );
    // A stopped spec still counts; deleting it makes room.
    sup.terminate_child("b").await.unwrap();
    assert_eq!(
        sup.start_child(lab.child("c")).await,
        Err(ControlError::MaxChildren { max: 2 })
    );
    sup.delete_child("b").await.unwrap();
    sup.start_child(lab.child("c")).await.unwrap();
    let err = Supervisor::builder("t")
        .max_children(1)
        .child(lab.child("x"))
        .child(lab.child("y"))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        tend_engine::StartError::TooManyChildren { count: 2, max: 1 }
    ));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn counts_and_which_children() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(lab.child("a"))
        .child(ChildSpec::supervisor(
            Supervisor::builder("g").child(lab.child("g1")),
        ))
        .child(lab.child("b").restart(Restart::Transient))
        .start()
        .await
        .unwrap();
    sup.terminate_child("b").await.unwrap();
    let counts = sup.count_children().await;
    assert_eq!(
        (
            counts.specs,
            counts.active,
            counts.supervisors,
            counts.workers
        ),
        (3, 2, 1, 2)
    );
    let info = sup.which_children().await;
    assert_eq!(info[1].kind, tend_engine::ChildKind::Supervisor);
    assert!(info[0].running_since.is_some() && info[2].running_since.is_none());
    assert_eq!(info[2].restart, Restart::Transient);
    // The nested supervisor's own handle.
    let group = sup.supervisor("g").await.unwrap();
    assert_eq!(group.name(), "s/g");
    assert_eq!(group.count_children().await.active, 1);
    assert_eq!(
        sup.supervisor("a").await.unwrap_err(),
        ControlError::NotASupervisor("a".into())
    );
    sup.shutdown().await;
    assert_eq!(sup.which_children().await.len(), 0);
    assert_eq!(
        sup.start_child(lab.child("late")).await,
        Err(ControlError::SupervisorGone)
    );
}

#[tokio::test(start_paused = true)]
async fn duplicate_and_invalid_initial_specs_are_all_reported_and_nothing_starts() {
    let lab = Lab::new();
    let err = Supervisor::builder("s")
        .child(lab.child("a"))
        .child(lab.child("a"))
        .child(lab.child("t").restart(Restart::Transient).significant(true))
        .start()
        .await
        .unwrap_err();
    match err {
        tend_engine::StartError::InvalidSpec(errors) => {
            let rules: Vec<_> = errors
                .iter()
                .map(|e| (e.id.as_str(), e.error.clone()))
                .collect();
            assert_eq!(
                rules,
                [
                    ("a", SpecError::DuplicateId("a".into())),
                    ("t", SpecError::SignificantWithoutAutoShutdown)
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(lab.take().is_empty());
}

/// A task that becomes ready `after` its start (its first incarnation at
/// once).
fn slow_ready(id: &str, after: Duration) -> ChildSpec {
    ChildSpec::task(id, move |ctx: Context| async move {
        if ctx.generation() > 1 {
            tokio::time::sleep(after).await;
        }
        ctx.ready();
        ctx.cancelled().await
    })
    .await_ready(Duration::from_secs(60))
}

#[tokio::test(start_paused = true)]
async fn restarts_asked_while_one_is_on_its_way_are_all_answered_by_it() {
    let sup = Supervisor::builder("s")
        .child(slow_ready("w", Duration::from_secs(2)))
        .start()
        .await
        .unwrap();
    let asked: Vec<_> = (0..3).map(|_| sup.restart_child_now("w")).collect();
    let answers = futures_util::future::join_all(asked).await;
    let ids: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
    // Each restart superseded the one before; all are answered by the last.
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    let info = sup.child_info("w").await.unwrap();
    assert_eq!((info.incarnation, info.ready), (Some(ids[0]), true));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_interrupted_by_a_kill_is_answered_at_once() {
    let sup = Supervisor::builder("s")
        .child(slow_ready("w", Duration::from_secs(30)).restart(Restart::Temporary))
        .start()
        .await
        .unwrap();
    let restart = tokio::spawn(sup.restart_child_now("w"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    sup.kill_child("w").await.unwrap();
    let t0 = tokio::time::Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(5), restart)
        .await
        .expect("answered")
        .unwrap();
    assert!(
        matches!(answer, Err(ControlError::StartFailed { .. })),
        "{answer:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(1));
    sup.shutdown().await;
}
