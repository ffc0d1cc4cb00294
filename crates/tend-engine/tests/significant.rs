//! Significant children and auto-shutdown, as OTP's EEP 56.

mod common;

use common::*;
use tend_engine::{AutoShutdown, ChildSpec, EventKind, ExitClass, Restart, Supervisor};

#[tokio::test(start_paused = true)]
async fn any_significant_shuts_down_when_one_ends() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(lab.child("a"))
        .child(
            lab.child("job")
                .restart(Restart::Transient)
                .significant(true),
        )
        .child(lab.child("c"))
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    lab.take();
    lab.end("job", End::Normal);
    let exit = ended(&sup).await;
    assert_eq!(exit.class(), ExitClass::Shutdown);
    assert_eq!(lab.take(), strings(&["done job", "stop c", "stop a"]));
    let e = next_event(&mut events, |k| matches!(k, EventKind::AutoShutdown { .. })).await;
    assert!(matches!(e.kind, EventKind::AutoShutdown { trigger } if trigger.as_str() == "job"));
}

#[tokio::test(start_paused = true)]
async fn all_significant_waits_for_the_last_one() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .auto_shutdown(AutoShutdown::AllSignificant)
        .child(lab.child("x").restart(Restart::Temporary).significant(true))
        .child(lab.child("y").restart(Restart::Transient).significant(true))
        .child(lab.child("other"))
        .start()
        .await
        .unwrap();
    lab.crash("x"); // temporary: any exit ends it
    idle().await;
    assert!(sup.is_running());
    lab.end("y", End::Shutdown("done"));
    ended(&sup).await;
}

#[tokio::test(start_paused = true)]
async fn a_transient_significant_child_that_crashes_is_restarted_not_counted() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(
            lab.child("job")
                .restart(Restart::Transient)
                .significant(true),
        )
        .start()
        .await
        .unwrap();
    lab.crash("job");
    idle().await;
    assert!(sup.is_running());
    assert_eq!(sup.which_children().await[0].generation, 2);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn terminating_a_significant_child_through_the_api_does_not_trigger_it() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(
            lab.child("job")
                .restart(Restart::Transient)
                .significant(true),
        )
        .start()
        .await
        .unwrap();
    sup.terminate_child("job").await.unwrap();
    idle().await;
    assert!(sup.is_running());
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn auto_shutdown_never_ignores_non_significant_children_ending() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(lab.child("plain").restart(Restart::Temporary))
        .start()
        .await
        .unwrap();
    lab.end("plain", End::Normal);
    idle().await;
    assert!(sup.is_running());
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn invalid_combinations_are_rejected() {
    let lab = Lab::new();
    let check = |auto, spec: ChildSpec| {
        tend_engine::check_childspecs(&[spec], auto).unwrap_err()[0]
            .error
            .clone()
    };
    assert_eq!(
        check(
            AutoShutdown::AnySignificant,
            lab.child("p").significant(true)
        ),
        tend_engine::SpecError::SignificantPermanent
    );
    assert_eq!(
        check(
            AutoShutdown::Never,
            lab.child("t").restart(Restart::Transient).significant(true)
        ),
        tend_engine::SpecError::SignificantWithoutAutoShutdown
    );
    assert!(tend_engine::check_childspecs(
        &[lab.child("t").restart(Restart::Temporary).significant(true)],
        AutoShutdown::AllSignificant
    )
    .is_ok());
}
