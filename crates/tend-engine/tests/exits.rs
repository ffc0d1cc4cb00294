//! Outcomes are typed: every way a task can end has its `ExitKind`, the
//! class restart types read, and the same `Exit` in the exit event, the
//! child's last exit, its history and a monitor. Nobody parses a reason.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, Context, EventKind, Exit, ExitClass, ExitKind, Intensity, Restart, Shutdown, Signal,
    Supervisor,
};

/// Starts a supervisor with one temporary child built from `spec`, lets it
/// end, and returns the exit its event reported.
async fn exit_of(spec: ChildSpec) -> Exit {
    let mut builder =
        Supervisor::builder("s").intensity(Intensity::new(10, Duration::from_secs(1)));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    sup.start_child(spec.restart(Restart::Temporary))
        .await
        .unwrap();
    let event = next_event(&mut events, |k| matches!(k, EventKind::ChildExited { .. })).await;
    sup.shutdown().await;
    match event.kind {
        EventKind::ChildExited { exit, .. } => exit,
        _ => unreachable!(),
    }
}

fn task<T: tend_engine::IntoExit + Send + 'static>(
    output: impl Fn() -> T + Send + Sync + 'static,
) -> ChildSpec {
    let output = std::sync::Arc::new(output);
    ChildSpec::task("t", move |_ctx: Context| {
        let output = output.clone();
        async move { output() }
    })
}

#[tokio::test(start_paused = true)]
async fn each_way_a_task_ends_has_its_kind_and_class() {
    let cases: Vec<(ChildSpec, ExitKind, ExitClass, Option<&str>)> = vec![
        (task(|| ()), ExitKind::Normal, ExitClass::Normal, None),
        (
            task(|| Err::<(), _>("disk full")),
            ExitKind::Error,
            ExitClass::Abnormal,
            Some("disk full"),
        ),
        (
            task(|| Exit::shutdown("rotating")),
            ExitKind::Shutdown,
            ExitClass::Shutdown,
            Some("rotating"),
        ),
        (
            task(|| -> () { panic!("bad state") }),
            ExitKind::Panic,
            ExitClass::Abnormal,
            Some("bad state"),
        ),
        (
            task(|| Exit::new(ExitKind::Unhealthy, "said so itself")),
            ExitKind::Unhealthy,
            ExitClass::Abnormal,
            Some("said so itself"),
        ),
    ];
    for (spec, kind, class, reason) in cases {
        let exit = exit_of(spec).await;
        assert_eq!(
            (exit.kind(), exit.class(), exit.reason()),
            (kind, class, reason)
        );
        assert_eq!(
            (exit.code(), exit.signal()),
            (None, None),
            "tasks have no status"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn stopped_incarnations_are_shutdowns_and_forced_ones_say_killed() {
    let sup = Supervisor::builder("s")
        .child(ChildSpec::task("polite", |ctx: Context| async move {
            ctx.cancelled().await;
            Err::<(), _>("interrupted")
        }))
        .child(
            ChildSpec::task("deaf", |_ctx: Context| std::future::pending::<()>())
                .shutdown(Shutdown::Timeout(Duration::from_secs(1))),
        )
        .child(
            ChildSpec::task(
                "brutal",
                |ctx: Context| async move { ctx.cancelled().await },
            )
            .shutdown(Shutdown::BrutalKill),
        )
        .start()
        .await
        .unwrap();
    for id in ["polite", "deaf", "brutal"] {
        sup.terminate_child(id).await.unwrap();
    }
    let last = |infos: &[tend_engine::ChildInfo], id: &str| {
        let info = infos.iter().find(|i| i.id == id).unwrap();
        info.last_exit.as_ref().unwrap().exit.clone()
    };
    let infos = sup.which_children().await;
    let polite = last(&infos, "polite");
    assert_eq!(
        (polite.kind(), polite.class(), polite.reason()),
        (ExitKind::Shutdown, ExitClass::Shutdown, Some("interrupted")),
        "ended because it was asked to; what it said is kept"
    );
    for forced in ["deaf", "brutal"] {
        let exit = last(&infos, forced);
        assert_eq!(
            (exit.kind(), exit.class()),
            (ExitKind::Killed, ExitClass::Shutdown),
            "{forced}"
        );
    }
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_end_before_ready_is_a_start_failure_that_keeps_what_was_said() {
    let sup = Supervisor::builder("s").start().await.unwrap();
    let refused = ChildSpec::task("db", |_ctx: Context| async { Err::<(), _>("refused") })
        .await_ready(Duration::from_secs(5));
    let slow = ChildSpec::task("slow", |ctx: Context| async move { ctx.cancelled().await })
        .await_ready(Duration::from_secs(5));
    for (spec, reason) in [(refused, "refused"), (slow, "not ready within 5s")] {
        match sup.start_child(spec).await {
            Err(tend_engine::ControlError::StartFailed { exit, .. }) => {
                assert_eq!(
                    (exit.kind(), exit.class(), exit.reason()),
                    (ExitKind::StartFailure, ExitClass::Abnormal, Some(reason))
                );
            }
            other => panic!("{other:?}"),
        }
    }
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_same_exit_is_in_the_event_the_last_exit_the_history_and_a_monitor() {
    let lab = Lab::new();
    let mut builder = Supervisor::builder("s").child(lab.child("a"));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let monitor = sup.monitor("a");
    lab.end("a", End::Crash("out of cheese"));
    let event = next_event(&mut events, |k| matches!(k, EventKind::ChildExited { .. })).await;
    let EventKind::ChildExited { exit, .. } = event.kind else {
        unreachable!()
    };
    assert_eq!(exit, Exit::failed("out of cheese"));
    assert_eq!(monitor.await.unwrap().exit, exit);
    idle().await;
    let info = sup.child_info("a").await.unwrap();
    assert_eq!(info.last_exit.as_ref().unwrap().exit, exit);
    assert_eq!(info.history.last().unwrap().exit, exit);
    sup.shutdown().await;
}

#[test]
fn exits_read_as_one_line_each() {
    assert_eq!(Exit::normal().to_string(), "normal");
    assert_eq!(Exit::failed("refused").to_string(), "error: refused");
    assert_eq!(
        Exit::from(ExitKind::Error).with_code(3).to_string(),
        "error (exit code 3)"
    );
    assert_eq!(
        Exit::from(ExitKind::Killed)
            .with_signal(Signal::Segv)
            .to_string(),
        "killed by SIGSEGV"
    );
    assert_eq!(
        Exit::from(ExitKind::Shutdown)
            .with_signal(Signal::Term)
            .to_string(),
        "shutdown (SIGTERM)"
    );
    assert_eq!(
        Exit::new(ExitKind::Killed, "no exit within 10s of SIGTERM")
            .with_signal(Signal::Kill)
            .to_string(),
        "killed by SIGKILL: no exit within 10s of SIGTERM"
    );
}
