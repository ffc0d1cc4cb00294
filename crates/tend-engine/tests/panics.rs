//! Panics are abnormal exits: they never take the supervisor down.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, Context, EventKind, ExitClass, ExitKind, Intensity, Restart, Supervisor,
};

#[tokio::test(start_paused = true)]
async fn a_panicking_task_is_restarted_with_the_message_as_reason() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(5, Duration::from_secs(5)))
        .child(lab.child("p").restart(Restart::Transient))
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    lab.end("p", End::Panic);
    let e = next_event(&mut events, |k| matches!(k, EventKind::ChildExited { .. })).await;
    match e.kind {
        EventKind::ChildExited {
            exit, generation, ..
        } => {
            assert_eq!(generation, 1);
            assert_eq!(exit.class(), ExitClass::Abnormal);
            assert_eq!(exit.kind(), ExitKind::Panic);
            assert_eq!(exit.reason(), Some("boom in p"));
        }
        _ => unreachable!(),
    }
    idle().await;
    assert_eq!(sup.which_children().await[0].generation, 2);
    assert!(sup.is_running());
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_panic_with_a_formatted_message_is_reported_too() {
    let sup = Supervisor::builder("s")
        .child(
            ChildSpec::task("f", |ctx: Context| async move {
                if ctx.generation() == 1 {
                    panic!("generation {} failed", ctx.generation());
                }
                ctx.cancelled().await;
            })
            .restart(Restart::Transient),
        )
        .start()
        .await
        .unwrap();
    idle().await;
    let info = &sup.which_children().await[0];
    let exit = &info.last_exit.as_ref().unwrap().exit;
    assert_eq!(
        (exit.kind(), exit.reason()),
        (ExitKind::Panic, Some("generation 1 failed"))
    );
    assert_eq!(info.generation, 2);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_panic_while_stopping_is_still_a_clean_stop_of_the_tree() {
    let sup = Supervisor::builder("s")
        .child(ChildSpec::task("p", |ctx: Context| async move {
            ctx.cancelled().await;
            if ctx.is_cancelled() {
                panic!("panicked in cleanup");
            }
        }))
        .start()
        .await
        .unwrap();
    let report = sup.shutdown().await;
    match &report.children[0].outcome {
        tend_engine::StopOutcome::Stopped(exit) => {
            assert_eq!(
                (exit.kind(), exit.reason()),
                (ExitKind::Panic, Some("panicked in cleanup"))
            )
        }
        other => panic!("{other:?}"),
    }
}
