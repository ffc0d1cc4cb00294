//! Starting: children start in order; readiness gates the next start; a
//! start failure at `start()` stops those started and names the child; a
//! failed restart is retried without blocking the supervisor.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, ChildState, Context, ControlError, EventKind, Intensity, Shutdown, StartError,
    Supervisor,
};
use tokio::time::Instant;

fn ready_after(id: &str, lab: &Lab, delay: Duration) -> ChildSpec {
    let lab = lab.clone();
    let name = id.to_string();
    ChildSpec::task(id, move |ctx: Context| {
        let (lab, name) = (lab.clone(), name.clone());
        async move {
            lab.push(format!("init {name}"));
            tokio::time::sleep(delay).await;
            lab.push(format!("ready {name}"));
            ctx.ready();
            ctx.cancelled().await;
        }
    })
    .await_ready(Duration::from_secs(10))
}

#[tokio::test(start_paused = true)]
async fn await_ready_holds_back_the_next_sibling() {
    let lab = Lab::new();
    let t0 = Instant::now();
    let sup = Supervisor::builder("s")
        .child(ready_after("db", &lab, Duration::from_secs(2)))
        .child(lab.child("web"))
        .start()
        .await
        .unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
    assert_eq!(lab.take(), strings(&["init db", "ready db", "start web"]));
    let info = sup.which_children().await;
    assert!(info[0].ready && !info[1].ready);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_failure_at_start_stops_the_started_children_in_reverse_and_names_the_child() {
    let lab = Lab::new();
    let bad = ChildSpec::task("bad", |_ctx: Context| async { Err::<(), _>("no config") })
        .await_ready(Duration::from_secs(1));
    let never = lab.child("never");
    let result = Supervisor::builder("s")
        .child(lab.child("a"))
        .child(lab.child("b"))
        .child(bad)
        .child(never)
        .start()
        .await;
    match result {
        Err(StartError::ChildFailed { id, exit }) => {
            assert_eq!(id.as_str(), "bad");
            assert_eq!(
                (exit.kind(), exit.reason()),
                (tend_engine::ExitKind::StartFailure, Some("no config"))
            );
        }
        other => panic!("expected ChildFailed, got {other:?}"),
    }
    assert_eq!(
        lab.take(),
        strings(&["start a", "start b", "stop b", "stop a"])
    );
}

#[tokio::test(start_paused = true)]
async fn a_child_may_ask_for_more_time_to_become_ready_and_say_what_it_does() {
    // A 3 s deadline; at 2 s the child asks for 4 s more (until 6 s), and
    // is ready at 5 s: a start, not a failure.
    let slow = ChildSpec::task("migrate", |ctx: Context| async move {
        ctx.set_status("replaying the log");
        tokio::time::sleep(Duration::from_secs(2)).await;
        ctx.extend_start_timeout(Duration::from_secs(4));
        tokio::time::sleep(Duration::from_secs(3)).await;
        ctx.set_status("serving");
        ctx.ready();
        ctx.cancelled().await;
    })
    .await_ready(Duration::from_secs(3));
    let t0 = Instant::now();
    let sup = Supervisor::builder("s").child(slow).start().await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(5));
    let info = &sup.which_children().await[0];
    assert!(info.ready);
    assert_eq!(info.status.as_deref(), Some("serving"));
    sup.shutdown().await;

    // An extension shorter than what is left moves nothing: still 3 s.
    let slow = ChildSpec::task("slow", |ctx: Context| async move {
        ctx.extend_start_timeout(Duration::from_secs(1));
        ctx.cancelled().await;
    })
    .await_ready(Duration::from_secs(3));
    let t0 = Instant::now();
    let err = Supervisor::builder("s")
        .child(slow)
        .start()
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    assert!(err.to_string().contains("not ready within 3s"), "{err}");
}

/// A start not ready in time is stopped as any stop is (systemd's
/// `TimeoutStartSec`, Kubernetes' failed startup probe): asked, then killed
/// past its shutdown timeout.
#[tokio::test(start_paused = true)]
async fn not_ready_in_time_is_a_start_failure_and_the_child_is_stopped() {
    let slow = ChildSpec::task("slow", |ctx: Context| async move {
        // Ignores cancellation: must be killed.
        tokio::time::sleep(Duration::from_secs(60)).await;
        ctx.ready();
    })
    .await_ready(Duration::from_secs(3))
    .shutdown(Shutdown::Timeout(Duration::from_secs(2)));
    let t0 = Instant::now();
    let lab = Lab::new();
    let mut builder = Supervisor::builder("s")
        .child(slow)
        .child(lab.child("after"));
    let mut events = builder.subscribe();
    let err = builder.start().await.unwrap_err();
    assert_eq!(
        t0.elapsed(),
        Duration::from_secs(3 + 2),
        "3 s, then its 2 s to stop"
    );
    assert!(err.to_string().contains("not ready within 3s"), "{err}");
    let exited = next_event(&mut events, |k| matches!(k, EventKind::ChildExited { .. })).await;
    let EventKind::ChildExited { exit, .. } = exited.kind else {
        unreachable!()
    };
    assert_eq!(exit.kind(), tend_engine::ExitKind::StartFailure, "{exit}");
    assert!(lab.take().is_empty(), "the next child never started");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_factory_is_a_start_failure_not_a_crash() {
    let spec = ChildSpec::task("p", |_ctx: Context| -> std::future::Ready<()> {
        panic!("factory exploded")
    });
    let err = Supervisor::builder("s")
        .child(spec)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("factory exploded"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_failing_restart_is_retried_and_a_shutdown_is_still_served() {
    // The supervisor retries with a generous intensity; a shutdown request
    // still gets through.
    let spec = runs_once_then_cannot_start("c");
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(1_000_000, Duration::from_secs(1)))
        .child(spec)
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    // Wait until retries are under way.
    for _ in 0..5 {
        next_event(&mut events, |k| {
            matches!(k, EventKind::ChildStartFailed { .. })
        })
        .await;
    }
    // Between attempts it is restarting; during one, starting.
    let state = states(&sup).await[0].1;
    assert!(
        state.is_restarting() || state == ChildState::Starting,
        "{state:?}"
    );
    assert_eq!(
        sup.restart_child("c").await,
        Err(ControlError::Restarting("c".into()))
    );
    assert_eq!(
        sup.delete_child("c").await,
        Err(ControlError::Restarting("c".into()))
    );
    let report = sup.shutdown().await;
    assert_eq!(
        report.exit,
        tend_engine::Exit::from(tend_engine::ExitKind::Shutdown)
    );
    assert!(sup.metrics().start_failures >= 5);
}

#[tokio::test(start_paused = true)]
async fn terminating_a_child_whose_restart_keeps_failing_stops_the_retries() {
    let spec = runs_once_then_cannot_start("c");
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(1_000_000, Duration::from_secs(1)))
        .child(spec)
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    next_event(&mut events, |k| {
        matches!(k, EventKind::ChildStartFailed { .. })
    })
    .await;
    sup.terminate_child("c").await.unwrap();
    let failures = sup.metrics().start_failures;
    idle().await;
    assert_eq!(
        sup.metrics().start_failures,
        failures,
        "no retry after terminate"
    );
    assert_eq!(states(&sup).await, vec![("c".into(), ChildState::Shutdown)]);
    sup.delete_child("c").await.unwrap();
    sup.shutdown().await;
}
