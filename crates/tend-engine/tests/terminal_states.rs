//! A child at rest says why: `Completed` (it finished and is not
//! restarted), `Shutdown` (stopped on request, or it shut itself down), or
//! `Failed` with its reason.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, ChildState, Context, CrashPolicy, EventKind, FailReason, Intensity, Restart,
    Supervisor,
};

fn lots() -> Intensity {
    Intensity::new(100, Duration::from_secs(1))
}

async fn state_of(sup: &tend_engine::SupervisorHandle, id: &str) -> ChildState {
    sup.child_info(id).await.unwrap().state
}

#[tokio::test(start_paused = true)]
async fn a_child_that_finished_and_is_not_restarted_is_completed() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(lab.child("job").restart(Restart::Transient))
        .start()
        .await
        .unwrap();
    lab.end("job", End::Normal);
    idle().await;
    assert_eq!(state_of(&sup, "job").await, ChildState::Completed);
    assert_eq!(state_of(&sup, "job").await.to_string(), "completed");
    // It can be run again.
    sup.restart_child("job").await.unwrap();
    assert_eq!(state_of(&sup, "job").await, ChildState::Running);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_child_stopped_on_request_or_by_itself_is_shut_down() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(lab.child("by-operator"))
        .child(lab.child("by-itself").restart(Restart::Transient))
        .start()
        .await
        .unwrap();
    sup.terminate_child("by-operator").await.unwrap();
    lab.end("by-itself", End::Shutdown("maintenance"));
    idle().await;
    assert_eq!(state_of(&sup, "by-operator").await, ChildState::Shutdown);
    assert_eq!(state_of(&sup, "by-itself").await, ChildState::Shutdown);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_child_given_up_on_is_failed_with_its_reason() {
    let lab = Lab::new();
    let mut builder = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("a").on_crash(CrashPolicy::Shutdown));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    lab.crash("a");
    let failed = next_event(&mut events, |k| matches!(k, EventKind::ChildFailed { .. })).await;
    assert!(matches!(
        failed.kind,
        EventKind::ChildFailed { ref id, reason: FailReason::Crashed, exit: Some(ref exit), .. } if id == "a" && exit.is_abnormal()
    ));
    let state = state_of(&sup, "a").await;
    assert_eq!(state, ChildState::Failed(FailReason::Crashed));
    assert_eq!(state.to_string(), "failed (crashed)");
    assert!(state.is_at_rest() && !state.is_active() && !state.is_restarting());
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_failure_reason_comes_from_the_kind_of_exit() {
    use tend_engine::{Exit, ExitKind, Resource};
    let cases = [
        (
            ExitKind::ResourceExceeded(Resource::Messages),
            FailReason::ResourceExceeded,
        ),
        (ExitKind::Watchdog, FailReason::Unhealthy),
        (ExitKind::Unhealthy, FailReason::Unhealthy),
        (ExitKind::Panic, FailReason::Crashed),
    ];
    for (kind, reason) in cases {
        let sup = Supervisor::builder("s").start().await.unwrap();
        sup.start_child(
            ChildSpec::task("c", move |_ctx: Context| async move { Exit::from(kind) })
                .on_crash(CrashPolicy::Shutdown),
        )
        .await
        .unwrap();
        idle().await;
        assert_eq!(
            state_of(&sup, "c").await,
            ChildState::Failed(reason),
            "{kind}"
        );
        sup.shutdown().await;
    }
}
