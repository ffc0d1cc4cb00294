//! Nested supervisors and escalation: a supervisor that gives up exits with a
//! shutdown-class exit, which its parent treats by the nested supervisor's
//! own restart type.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, ChildState, EventKind, ExitKind, FailReason, GiveUp, Intensity, Restart, Supervisor,
};

fn group(lab: &Lab) -> tend_engine::SupervisorBuilder {
    Supervisor::builder("group")
        .intensity(Intensity::new(0, Duration::from_secs(5)))
        .child(lab.child("w1"))
        .child(lab.child("w2"))
}

#[tokio::test(start_paused = true)]
async fn a_permanent_nested_supervisor_that_gives_up_is_restarted_by_its_parent() {
    let lab = Lab::new();
    let root = Supervisor::builder("root")
        .intensity(Intensity::new(5, Duration::from_secs(5)))
        .child(lab.child("before"))
        .child(ChildSpec::supervisor(group(&lab)))
        .start()
        .await
        .unwrap();
    let mut events = root.subscribe();
    lab.take();
    lab.crash("w1");
    let gave_up = next_event(&mut events, |k| matches!(k, EventKind::GaveUp { .. })).await;
    assert_eq!(&*gave_up.supervisor, "root/group");
    idle().await;
    // w1 crashed; the group gave up (stopping w2), then root restarted it.
    assert_eq!(
        lab.take(),
        strings(&["crash w1", "stop w2", "start w1", "start w2"])
    );
    let info = root.which_children().await;
    assert_eq!(
        (info[1].state, info[1].generation),
        (ChildState::Running, 2)
    );
    let exit = info[1].last_exit.as_ref().unwrap();
    assert_eq!(exit.exit.kind(), ExitKind::GaveUp(GiveUp::IntensityReached));
    assert_eq!(info[0].generation, 1, "one-for-one: siblings untouched");
    root.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_transient_nested_supervisor_that_gives_up_stays_down() {
    let lab = Lab::new();
    let root = Supervisor::builder("root")
        .child(ChildSpec::supervisor(group(&lab)).restart(Restart::Transient))
        .child(lab.child("after"))
        .start()
        .await
        .unwrap();
    lab.crash("w2");
    idle().await;
    assert_eq!(
        states(&root).await,
        vec![
            ("group".into(), ChildState::Failed(FailReason::GaveUp)),
            ("after".into(), ChildState::Running)
        ]
    );
    root.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn escalation_climbs_to_the_root_when_nobody_absorbs_it() {
    let lab = Lab::new();
    // root (intensity 0) ← mid (intensity 0) ← leaf group (intensity 0).
    let mid = Supervisor::builder("mid")
        .intensity(Intensity::new(0, Duration::from_secs(5)))
        .child(ChildSpec::supervisor(group(&lab)));
    let root = Supervisor::builder("root")
        .intensity(Intensity::new(0, Duration::from_secs(5)))
        .child(lab.child("sibling"))
        .child(ChildSpec::supervisor(mid))
        .start()
        .await
        .unwrap();
    lab.take();
    lab.crash("w1");
    let exit = ended(&root).await;
    assert_eq!(exit.kind(), ExitKind::GaveUp(GiveUp::IntensityReached));
    assert_eq!(
        lab.take(),
        strings(&["crash w1", "stop w2", "stop sibling"])
    );
}

#[tokio::test(start_paused = true)]
async fn a_nested_supervisor_that_fails_to_start_is_a_start_failure_of_its_parent() {
    let lab = Lab::new();
    let broken = Supervisor::builder("broken").child(
        ChildSpec::task("bad", |_ctx: tend_engine::Context| async {
            Err::<(), _>("no")
        })
        .await_ready(Duration::from_secs(1)),
    );
    let err = Supervisor::builder("root")
        .child(lab.child("a"))
        .child(ChildSpec::supervisor(broken))
        .start()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("broken") && text.contains("bad"), "{text}");
    assert_eq!(lab.take(), strings(&["start a", "stop a"]));
}

#[tokio::test(start_paused = true)]
async fn events_from_the_whole_tree_arrive_on_the_roots_stream() {
    let lab = Lab::new();
    let root = Supervisor::builder("root")
        .intensity(Intensity::new(5, Duration::from_secs(5)))
        .child(ChildSpec::supervisor(
            Supervisor::builder("group")
                .intensity(Intensity::new(5, Duration::from_secs(5)))
                .child(lab.child("w")),
        ))
        .start()
        .await
        .unwrap();
    let mut events = root.subscribe();
    lab.crash("w");
    let e = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildRestarting { .. })
    })
    .await;
    assert_eq!(&*e.supervisor, "root/group");
    root.shutdown().await;
}
