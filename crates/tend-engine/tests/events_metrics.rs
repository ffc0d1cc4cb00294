//! Typed events, lagging subscribers, counters and monitors.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, Context, ControlError, EventKind, ExitClass, Intensity, Restart, Supervisor,
};
use tokio::sync::broadcast::error::TryRecvError;

fn summary(kind: &EventKind) -> String {
    match kind {
        EventKind::SupervisorStarted => "supervisor-started".into(),
        EventKind::ChildStarted { id, generation, .. } => format!("started {id}#{generation}"),
        EventKind::ChildReady { id, generation } => format!("ready {id}#{generation}"),
        EventKind::ChildStartFailed { id, .. } => format!("start-failed {id}"),
        EventKind::ChildExited {
            id,
            generation,
            exit,
            ..
        } => format!("exited {id}#{generation} {}", exit.class()),
        EventKind::ChildRestarting { id, delay, .. } => format!("restarting {id} {delay:?}"),
        EventKind::ChildTerminated { id } => format!("terminated {id}"),
        EventKind::ChildAdded { id } => format!("added {id}"),
        EventKind::ChildRemoved { id } => format!("removed {id}"),
        EventKind::GaveUp { offender, .. } => format!("gave-up {offender}"),
        EventKind::SupervisorStopped { exit } => format!("stopped {}", exit.class()),
        EventKind::ChildState { id, state } => format!("state {id} {state}"),
        EventKind::ChildSpawned { id, generation, .. } => format!("spawned {id}#{generation}"),
        other => format!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn one_event_per_lifecycle_fact_in_order() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(5, Duration::from_secs(5)))
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    lab.crash("a");
    idle().await;
    sup.start_child(lab.child("t").restart(Restart::Temporary))
        .await
        .unwrap();
    sup.terminate_child("t").await.unwrap();
    sup.shutdown().await;
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        assert_eq!(&*event.supervisor, "s");
        seen.push(summary(&event.kind));
    }
    assert_eq!(
        seen,
        [
            "state a failed (crashed)",
            "exited a#1 abnormal",
            "state a restarting",
            "restarting a 0ns",
            // Restarting until up: a restart's incarnation starting is told
            // as the restart still under way.
            "spawned a#2",
            "state a running",
            "started a#2",
            "state t pending",
            "added t",
            "spawned t#1",
            "state t starting",
            "state t running",
            "started t#1",
            "state t stopping",
            "state t shutdown",
            "exited t#1 shutdown",
            "terminated t",
            "removed t",
            "state a stopping",
            "state a shutdown",
            "exited a#2 shutdown",
            "stopped shutdown",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_subscriber_lags_and_is_told_how_much_it_missed() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .event_capacity(4)
        .intensity(Intensity::new(100, Duration::from_secs(5)))
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    let mut slow = sup.subscribe();
    for _ in 0..5 {
        lab.crash("a");
        // 7 events per crash: its state (failed), exited, its state
        // (restarting), restarting, spawned, its state (running), started.
        idle().await;
    }
    assert!(
        sup.is_running(),
        "the supervisor never waits for subscribers"
    );
    assert_eq!(
        slow.try_recv().unwrap_err(),
        TryRecvError::Lagged(5 * 7 - 4)
    );
    assert!(slow.try_recv().is_ok());
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn counters_follow_the_lifecycle() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(100, Duration::from_secs(5)))
        .child(lab.child("a"))
        .child(lab.child("b").restart(Restart::Transient))
        .start()
        .await
        .unwrap();
    lab.crash("a");
    lab.end("b", End::Normal);
    idle().await;
    let m = sup.metrics();
    assert_eq!(
        (
            m.spawned,
            m.restarts,
            m.exits_abnormal,
            m.exits_normal,
            m.active
        ),
        (3, 1, 1, 1, 1)
    );
    sup.shutdown().await;
    let m = sup.metrics();
    assert_eq!((m.exits_shutdown, m.active), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_monitor_resolves_with_the_next_exit_and_no_other() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(100, Duration::from_secs(5)))
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    let first = sup.monitor("a");
    lab.end("a", End::Shutdown("rotate"));
    let exit = first.await.unwrap();
    assert_eq!(
        (exit.generation, exit.exit.class()),
        (1, ExitClass::Shutdown)
    );
    assert_eq!(exit.exit.reason(), Some("rotate"));
    idle().await;
    let second = sup.monitor("a");
    lab.crash("a");
    assert_eq!(second.await.unwrap().generation, 2);
    assert_eq!(
        sup.monitor("nope").await,
        Err(ControlError::NotFound("nope".into()))
    );
    sup.terminate_child("a").await.unwrap();
    assert_eq!(
        sup.monitor("a").await,
        Err(ControlError::NotRunning("a".into()))
    );
    sup.shutdown().await;
    assert_eq!(sup.monitor("a").await, Err(ControlError::SupervisorGone));
}

#[tokio::test(start_paused = true)]
async fn ready_is_reported_without_await_ready_too() {
    let sup = Supervisor::builder("s")
        .child(ChildSpec::task("r", |ctx: Context| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            ctx.ready();
            ctx.ready();
            ctx.cancelled().await;
        }))
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    assert!(!sup.which_children().await[0].ready);
    let e = next_event(&mut events, |k| matches!(k, EventKind::ChildReady { .. })).await;
    assert_eq!(summary(&e.kind), "ready r#1");
    assert!(sup.which_children().await[0].ready);
    sup.shutdown().await;
}
