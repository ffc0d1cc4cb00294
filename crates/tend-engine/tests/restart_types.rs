//! Restart types, as OTP: permanent restarts on any exit, transient only on
//! abnormal ones, temporary never (and its spec goes).

mod common;

use common::*;
use tend_engine::{ChildState, ExitClass, Intensity, Restart, Strategy, Supervisor};

fn lots() -> Intensity {
    Intensity::new(100, std::time::Duration::from_secs(1))
}

#[tokio::test(start_paused = true)]
async fn permanent_restarts_after_every_kind_of_exit() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("p"))
        .start()
        .await
        .unwrap();
    for end in [
        End::Normal,
        End::Shutdown("bye"),
        End::Crash("bad"),
        End::Panic,
    ] {
        lab.end("p", end);
        idle().await;
    }
    let info = &sup.which_children().await[0];
    assert_eq!(
        (info.generation, info.restarts, info.state),
        (5, 4, ChildState::Running)
    );
    let classes: Vec<_> = info.history.iter().map(|r| r.exit.class()).collect();
    assert_eq!(
        classes,
        [
            ExitClass::Normal,
            ExitClass::Shutdown,
            ExitClass::Abnormal,
            ExitClass::Abnormal
        ]
    );
    assert_eq!(info.history[3].exit.kind(), tend_engine::ExitKind::Panic);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn transient_restarts_only_after_an_abnormal_exit() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("t").restart(Restart::Transient))
        .start()
        .await
        .unwrap();
    lab.crash("t");
    idle().await;
    assert_eq!(sup.which_children().await[0].generation, 2);

    lab.end("t", End::Shutdown("maintenance"));
    idle().await;
    let info = &sup.which_children().await[0];
    assert_eq!((info.state, info.generation), (ChildState::Shutdown, 2));
    assert_eq!(
        info.last_exit.as_ref().unwrap().exit.reason(),
        Some("maintenance")
    );

    sup.restart_child("t").await.unwrap();
    lab.end("t", End::Normal);
    idle().await;
    let info = &sup.which_children().await[0];
    assert_eq!(
        (info.state, info.generation, info.restarts),
        (ChildState::Completed, 3, 1)
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn temporary_is_never_restarted_and_its_spec_is_removed() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("keep"))
        .child(lab.child("t1").restart(Restart::Temporary))
        .child(lab.child("t2").restart(Restart::Temporary))
        .start()
        .await
        .unwrap();
    lab.crash("t1");
    lab.end("t2", End::Normal);
    idle().await;
    assert_eq!(
        states(&sup).await,
        vec![("keep".into(), ChildState::Running)]
    );
    assert_eq!(sup.metrics().restarts, 0);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn temporary_sibling_taken_down_by_a_restart_is_removed() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .strategy(Strategy::RestForOne)
        .intensity(lots())
        .child(lab.child("a"))
        .child(lab.child("t").restart(Restart::Temporary))
        .start()
        .await
        .unwrap();
    lab.take();
    lab.crash("a");
    idle().await;
    assert_eq!(lab.take(), strings(&["crash a", "stop t", "start a"]));
    assert_eq!(states(&sup).await, vec![("a".into(), ChildState::Running)]);
    sup.shutdown().await;
}
