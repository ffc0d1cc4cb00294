//! Links, as Erlang has them: when one linked party ends abnormally the
//! other is stopped with a linked exit, unless it traps exits, in which case
//! it is told; a normal end does not propagate. Tested for both sides, for
//! children and for an outside task holding a link.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, ChildState, Context, ControlError, Exit, ExitClass, ExitKind, FailReason, Intensity,
    LinkPeer, Restart, Supervisor, SupervisorHandle,
};

fn lots() -> Intensity {
    Intensity::new(100, Duration::from_secs(1))
}

async fn generation(sup: &SupervisorHandle, id: &str) -> u64 {
    sup.child_info(id).await.unwrap().generation
}

#[tokio::test(start_paused = true)]
async fn an_abnormal_end_stops_the_linked_child_from_either_side() {
    for (crashes, linked) in [("a", "b"), ("b", "a")] {
        let lab = Lab::new();
        let sup = Supervisor::builder("s")
            .intensity(lots())
            .child(lab.child("a"))
            .child(lab.child("b"))
            .child(lab.child("bystander"))
            .start()
            .await
            .unwrap();
        sup.link("a", "b").await.unwrap();
        lab.take();
        lab.end(crashes, End::Crash("boom"));
        idle().await;
        let log = lab.take();
        assert!(log.contains(&format!("stop {linked}")), "{log:?}");
        let info = sup.child_info(linked).await.unwrap();
        let exit = &info.history[0].exit;
        assert_eq!(
            (exit.kind(), exit.class()),
            (ExitKind::Linked, ExitClass::Abnormal)
        );
        assert!(
            exit.reason()
                .unwrap()
                .starts_with(&format!("s/{crashes} (incarnation ")),
            "{exit}"
        );
        // Both permanent: both restarted; the bystander is untouched.
        assert_eq!(generation(&sup, crashes).await, 2);
        assert_eq!(generation(&sup, linked).await, 2);
        assert_eq!(generation(&sup, "bystander").await, 1);
        sup.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_normal_end_does_not_propagate_and_links_die_with_the_incarnation() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("job").restart(Restart::Transient))
        .child(lab.child("b"))
        .child(lab.child("c"))
        .start()
        .await
        .unwrap();
    sup.link("job", "b").await.unwrap();
    lab.end("job", End::Normal);
    idle().await;
    assert_eq!(
        generation(&sup, "b").await,
        1,
        "a normal end does not propagate"
    );
    assert_eq!(
        sup.link("job", "c").await,
        Err(ControlError::NotRunning("job".into())),
        "nothing to link to once it ended"
    );
    // A restarted incarnation starts with no links.
    sup.link("b", "c").await.unwrap();
    lab.crash("b");
    idle().await;
    assert_eq!(
        generation(&sup, "c").await,
        2,
        "c was linked to b's first incarnation"
    );
    lab.crash("b");
    idle().await;
    assert_eq!(generation(&sup, "c").await, 2, "not to its second");
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_propagates_as_a_shutdown() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("a"))
        .child(lab.child("helper").restart(Restart::Transient))
        .start()
        .await
        .unwrap();
    sup.link("a", "helper").await.unwrap();
    sup.terminate_child("a").await.unwrap();
    idle().await;
    let helper = sup.child_info("helper").await.unwrap();
    let exit = &helper.history[0].exit;
    assert_eq!(
        (exit.kind(), exit.class()),
        (ExitKind::Linked, ExitClass::Shutdown)
    );
    assert_eq!(
        helper.state,
        ChildState::Shutdown,
        "a transient child stopped by a shutdown is not restarted"
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_child_that_traps_exits_is_told_instead_of_stopped() {
    let lab = Lab::new();
    let (told_tx, mut told) = tokio::sync::mpsc::unbounded_channel();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("a"))
        .child(lab.child("b"))
        .child(
            ChildSpec::task("watcher", move |ctx: Context| {
                let told_tx = told_tx.clone();
                async move {
                    loop {
                        tokio::select! {
                            _ = ctx.cancelled() => return,
                            signal = ctx.linked_exit() => { let _ = told_tx.send(signal); }
                        }
                    }
                }
            })
            .trap_exits(true),
        )
        .start()
        .await
        .unwrap();
    sup.link("watcher", "a").await.unwrap();
    sup.link("watcher", "b").await.unwrap();
    lab.end("a", End::Crash("boom"));
    lab.end("b", End::Normal);
    idle().await;
    let first = told.recv().await.unwrap();
    assert!(matches!(first.from, LinkPeer::Child { ref id, .. } if id == "a"));
    assert_eq!(first.exit, Exit::failed("boom"));
    let second = told.recv().await.unwrap();
    assert!(matches!(second.from, LinkPeer::Child { ref id, .. } if id == "b"));
    assert!(
        second.exit.is_normal(),
        "a trapping child hears of normal ends too"
    );
    assert_eq!(generation(&sup, "watcher").await, 1, "told, not stopped");
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_outside_task_hears_of_the_childs_end_and_is_told_to_stop_if_abnormal() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("a").restart(Restart::Transient))
        .child(lab.child("b"))
        .start()
        .await
        .unwrap();
    let mut normal = sup.link_to("a").await.unwrap();
    let mut abnormal = sup.link_to("b").await.unwrap();
    lab.end("a", End::Normal);
    lab.end("b", End::Crash("boom"));
    idle().await;
    let heard = normal.exited().await;
    assert!(heard.exit.is_normal());
    assert!(
        !normal.token().is_cancelled(),
        "a normal end would not stop us"
    );
    let heard = abnormal.exited().await;
    assert_eq!(heard.exit, Exit::failed("boom"));
    assert!(abnormal.token().is_cancelled());
    assert_eq!(
        abnormal.exited().await,
        heard,
        "asked again, the same answer"
    );
    assert_eq!(
        sup.link_to("a").await.unwrap_err(),
        ControlError::NotRunning("a".into())
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_child_hears_of_the_outside_tasks_end() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("normal"))
        .child(
            lab.child("failed")
                .restart(Restart::Transient)
                .on_crash(tend_engine::CrashPolicy::Shutdown),
        )
        .child(lab.child("panicked"))
        .start()
        .await
        .unwrap();
    // Dropped normally: the child is not stopped.
    drop(sup.link_to("normal").await.unwrap());
    // Ended with a failure: the child is stopped, by its crash policy failed.
    sup.link_to("failed")
        .await
        .unwrap()
        .exit(Exit::failed("lost the lease"));
    // Dropped while panicking: an abnormal end.
    let link = sup.link_to("panicked").await.unwrap();
    let task = tokio::spawn(async move {
        let _link = link;
        panic!("the outside task broke");
    });
    assert!(task.await.is_err());
    idle().await;
    assert_eq!(generation(&sup, "normal").await, 1);
    let failed = sup.child_info("failed").await.unwrap();
    assert_eq!(failed.state, ChildState::Failed(FailReason::Linked));
    assert!(
        failed.history[0]
            .exit
            .reason()
            .unwrap()
            .contains("a linked outside task ended: error: lost the lease"),
        "{}",
        failed.history[0].exit
    );
    let panicked = sup.child_info("panicked").await.unwrap();
    assert_eq!(panicked.history[0].exit.kind(), ExitKind::Linked);
    assert_eq!(panicked.generation, 2);
    sup.shutdown().await;
}
