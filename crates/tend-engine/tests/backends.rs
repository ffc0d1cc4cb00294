//! A child's backend is named; one that is not built or cannot run here
//! answers a typed `NotAvailable { backend, reason }`, at the first start
//! and at any later one, never a panic and never a retry loop.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    Backend, ChildSpec, ChildState, Context, ControlError, Exit, ExitKind, FailReason, Intensity,
    NotAvailable, StartError, Supervisor,
};

fn wasm() -> NotAvailable {
    NotAvailable::new(
        Backend::Wasm,
        "this build has no WASI runtime; rebuild tend with --features wasm",
    )
}

#[tokio::test(start_paused = true)]
async fn a_start_with_an_unavailable_backend_fails_with_the_reason_and_starts_nothing() {
    let lab = Lab::new();
    let result = Supervisor::builder("s")
        .child(lab.child("before"))
        .child(ChildSpec::not_available("plugin", wasm()))
        .start()
        .await;
    match result {
        Err(error @ StartError::NotAvailable { .. }) => {
            assert_eq!(
                error.to_string(),
                "cannot start child plugin: backend not available: wasm: this build has no \
                 WASI runtime; rebuild tend with --features wasm"
            );
            let StartError::NotAvailable { id, error } = error else {
                unreachable!()
            };
            assert_eq!((id.as_str(), error), ("plugin", wasm()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(lab.take(), strings(&["start before", "stop before"]));
}

#[tokio::test(start_paused = true)]
async fn start_child_answers_not_available_and_keeps_no_spec() {
    let sup = Supervisor::builder("s").start().await.unwrap();
    let spec = ChildSpec::not_available("plugin", wasm());
    assert_eq!(spec.availability(), Err(&wasm()));
    assert_eq!(spec.backend_kind(), Backend::Wasm);
    assert_eq!(
        sup.start_child(spec).await,
        Err(ControlError::NotAvailable {
            id: "plugin".into(),
            error: wasm()
        })
    );
    assert!(sup.which_children().await.is_empty());
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_backend_that_finds_out_at_spawn_time_says_so_the_same_way() {
    let sup = Supervisor::builder("s").start().await.unwrap();
    let container = ChildSpec::task("db", |_ctx: Context| async {
        Exit::new(
            ExitKind::NotAvailable(Backend::Container),
            "neither podman nor docker is installed",
        )
    })
    .backend(Backend::Container)
    .await_ready(Duration::from_secs(5));
    match sup.start_child(container).await {
        Err(ControlError::NotAvailable { id, error }) => {
            assert_eq!(id.as_str(), "db");
            assert_eq!(
                error,
                NotAvailable::new(Backend::Container, "neither podman nor docker is installed")
            );
        }
        other => panic!("{other:?}"),
    }
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_whose_backend_went_away_fails_the_child_instead_of_looping() {
    let mut builder = Supervisor::builder("s")
        .intensity(Intensity::new(3, Duration::from_secs(60)))
        .child(
            ChildSpec::task("svc", |ctx: Context| async move {
                if ctx.generation() > 1 {
                    return Exit::new(
                        ExitKind::NotAvailable(Backend::Container),
                        "the container runtime was removed",
                    );
                }
                ctx.ready();
                tokio::time::sleep(Duration::from_secs(1)).await;
                Exit::failed("crash")
            })
            .backend(Backend::Container)
            .await_ready(Duration::from_secs(5)),
        );
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let failed = next_event(&mut events, |k| matches!(k, EventKind::ChildFailed { .. })).await;
    assert!(matches!(
        failed.kind,
        tend_engine::EventKind::ChildFailed {
            reason: FailReason::NotAvailable,
            ..
        }
    ));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(sup.is_running(), "no retry loop, no give-up");
    let info = sup.child_info("svc").await.unwrap();
    assert_eq!(info.state, ChildState::Failed(FailReason::NotAvailable));
    assert_eq!(info.generation, 2, "tried once, not again");
    assert_eq!(info.backend, Backend::Container);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn tasks_and_nested_supervisors_are_task_backed() {
    let sup = Supervisor::builder("s")
        .child(ChildSpec::task("t", |ctx: Context| async move {
            ctx.cancelled().await
        }))
        .child(ChildSpec::supervisor(Supervisor::builder("n")))
        .start()
        .await
        .unwrap();
    for info in sup.which_children().await {
        assert_eq!(info.backend, Backend::Task, "{}", info.id);
    }
    sup.shutdown().await;
}

use tend_engine::EventKind;
