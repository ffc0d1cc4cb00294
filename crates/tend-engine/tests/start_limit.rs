//! Beyond OTP: a start limit (systemd's `StartLimitBurst` /
//! `StartLimitIntervalSec`). A child whose starts keep failing is given up
//! on, `Failed(StartLimit)`, on its own: no escalation, no sibling touched;
//! an operator's restart counts afresh.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    check_childspecs, AutoShutdown, Backoff, ChildSpec, ChildState, Context, Event, EventKind,
    ExitKind, FailReason, Intensity, SpecError, StartLimit, Supervisor, SupervisorStatus,
};
use tokio::sync::broadcast::Receiver;

const SEC: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A child whose every start fails: it ends before it is ready.
fn never_starts(id: &str) -> ChildSpec {
    ChildSpec::task(id, |_ctx: Context| async { Err::<(), _>("no such file") }).await_ready(SEC)
}

/// A child that is up at once and ends with an error after `after`.
fn crashes_after(id: &str, after: Duration) -> ChildSpec {
    ChildSpec::task(id, move |ctx: Context| async move {
        ctx.ready();
        tokio::time::sleep(after).await;
        Err::<(), _>("crash")
    })
}

/// Counts `id`'s failed starts until it fails; returns them and why it failed.
async fn failed_starts_until_failed(events: &mut Receiver<Event>, id: &str) -> (u32, Event) {
    let mut starts = 0;
    loop {
        let event = next_event(events, |k| {
            matches!(k, EventKind::ChildStartFailed { id: i, .. } | EventKind::ChildFailed { id: i, .. } if i.as_str() == id)
        })
        .await;
        match event.kind {
            EventKind::ChildStartFailed { .. } => starts += 1,
            _ => return (starts, event),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_child_that_cannot_start_fails_at_its_limit_alone() {
    let lab = Lab::new();
    // Three restarts in a minute are all the intensity allows: a fourth
    // (the refused one, were it counted) would end the supervisor.
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(3, Duration::from_secs(60)))
        .child(lab.child("before"))
        .child(
            runs_once_then_cannot_start("a")
                .backoff(Backoff::exponential(ms(100), SEC))
                .start_limit(StartLimit::new(3, Duration::from_secs(60))),
        )
        .child(lab.child("after"))
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    // Its first incarnation ran a second and crashed: not a failed start.
    let (failed_starts, failed) = failed_starts_until_failed(&mut events, "a").await;
    assert_eq!(failed_starts, 3);
    let EventKind::ChildFailed { reason, exit, .. } = failed.kind else {
        unreachable!()
    };
    assert_eq!(reason, FailReason::StartLimit);
    let exit = exit.expect("its last exit");
    assert_eq!(exit.kind(), ExitKind::StartFailure);
    assert!(exit.to_string().contains("cannot start"), "{exit}");
    idle().await;
    assert_eq!(sup.status(), SupervisorStatus::Running);
    assert_eq!(
        states(&sup).await,
        vec![
            ("before".into(), ChildState::Running),
            ("a".into(), ChildState::Failed(FailReason::StartLimit)),
            ("after".into(), ChildState::Running),
        ]
    );
    for sibling in ["before", "after"] {
        assert_eq!(sup.child_info(sibling).await.unwrap().generation, 1);
    }
    assert_eq!(
        ChildState::Failed(FailReason::StartLimit).to_string(),
        "failed (start limit)"
    );
    // Given up on: nothing more happens, however long we wait.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(sup.child_info("a").await.unwrap().generation, 4);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_operators_restart_counts_afresh() {
    let sup = Supervisor::builder("s")
        .concurrent_start(true)
        .intensity(Intensity::new(1_000, SEC))
        .child(
            never_starts("a")
                .backoff(Backoff::fixed(ms(100)))
                .start_limit(StartLimit::new(4, Duration::from_secs(60))),
        )
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let (first, _) = failed_starts_until_failed(&mut events, "a").await;
    idle().await;
    assert_eq!(
        states(&sup).await[0].1,
        ChildState::Failed(FailReason::StartLimit)
    );
    // Well within the interval of the failed starts before: only a reset
    // lets it try four times again.
    let again = sup.restart_child("a").await;
    assert!(again.is_err(), "{again:?}");
    let (second, failed) = failed_starts_until_failed(&mut events, "a").await;
    // The initial failed start came before we listened; each run is four.
    assert_eq!((first, second), (3, 4));
    assert!(matches!(
        failed.kind,
        EventKind::ChildFailed {
            reason: FailReason::StartLimit,
            ..
        }
    ));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn failed_starts_spaced_wider_than_the_interval_never_reach_it() {
    // Both fail every start, 11 s apart: a 10 s interval never holds two
    // of them, a 12 s one does.
    let sup = Supervisor::builder("s")
        .concurrent_start(true)
        .intensity(Intensity::new(1_000, SEC))
        .child(
            never_starts("wide")
                .backoff(Backoff::fixed(Duration::from_secs(11)))
                .start_limit(StartLimit::new(2, Duration::from_secs(10))),
        )
        .child(
            never_starts("narrow")
                .backoff(Backoff::fixed(Duration::from_secs(11)))
                .start_limit(StartLimit::new(2, Duration::from_secs(12))),
        )
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let (narrow, _) = failed_starts_until_failed(&mut events, "narrow").await;
    assert_eq!(
        narrow, 1,
        "the initial failed start came before we listened"
    );
    let mut wide = 0;
    while wide < 20 {
        let e = next_event(&mut events, |k| {
            matches!(k, EventKind::ChildStartFailed { id, .. } | EventKind::ChildFailed { id, .. } if id.as_str() == "wide")
        })
        .await;
        assert!(
            matches!(e.kind, EventKind::ChildStartFailed { .. }),
            "{e:?}"
        );
        wide += 1;
    }
    let children = states(&sup).await;
    assert_eq!(children[1].1, ChildState::Failed(FailReason::StartLimit));
    assert!(
        children[0].1.is_restarting() || children[0].1.is_active(),
        "{children:?}"
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_exit_at_once_is_a_failed_start_and_a_crash_after_settling_is_not() {
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(1_000, SEC))
        .child(
            crashes_after("at_once", ms(10))
                .backoff(Backoff::fixed(ms(100)))
                .start_limit(StartLimit::new(3, Duration::from_secs(60))),
        )
        .child(
            crashes_after("settled", ms(1_500))
                .backoff(Backoff::fixed(ms(100)))
                .start_limit(StartLimit::new(3, Duration::from_secs(60))),
        )
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    next_event(&mut events, |k| {
        matches!(k, EventKind::ChildFailed { id, reason: FailReason::StartLimit, .. } if id.as_str() == "at_once")
    })
    .await;
    // Three ends of "settled" within the minute, each after 1.5 s of running.
    for _ in 0..10 {
        next_event(
            &mut events,
            |k| matches!(k, EventKind::ChildExited { id, .. } if id.as_str() == "settled"),
        )
        .await;
    }
    let children = states(&sup).await;
    assert_eq!(children[0].1, ChildState::Failed(FailReason::StartLimit));
    assert!(
        !matches!(children[1].1, ChildState::Failed(_)),
        "{children:?}"
    );
    assert_eq!(sup.child_info("at_once").await.unwrap().generation, 3);
    sup.shutdown().await;
}

#[test]
fn a_limit_of_no_start_or_no_interval_is_refused() {
    let specs = [
        never_starts("a").start_limit(StartLimit::new(0, SEC)),
        never_starts("b").start_limit(StartLimit::new(1, Duration::ZERO)),
    ];
    let errors = check_childspecs(&specs, AutoShutdown::Never).unwrap_err();
    let errors: Vec<_> = errors.into_iter().map(|e| e.error).collect();
    assert_eq!(
        errors,
        [
            SpecError::ZeroStartLimitBurst,
            SpecError::ZeroStartLimitInterval
        ]
    );
}
