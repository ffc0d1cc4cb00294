//! Shutdown: reverse start order; `Timeout(d)` asks, waits `d`, then kills;
//! `BrutalKill` kills at once; `Infinity` waits; nested supervisors stop
//! their own subtree first; `hurry` turns waiting into killing.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{ChildSpec, Context, Shutdown, StopOutcome, Supervisor};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn children_stop_in_reverse_start_order_and_the_report_says_how() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(lab.child("a"))
        .child(
            lab.child_with("stubborn", OnCancel::Ignore)
                .shutdown(Shutdown::Timeout(Duration::from_secs(2))),
        )
        .child(lab.child("c"))
        .start()
        .await
        .unwrap();
    lab.take();
    let t0 = Instant::now();
    let report = sup.shutdown().await;
    assert_eq!(lab.take(), strings(&["stop c", "stop a"]));
    let outcomes: Vec<_> = report
        .children
        .iter()
        .map(|c| (c.id.to_string(), c.outcome.clone()))
        .collect();
    assert!(matches!(&outcomes[0], (id, StopOutcome::Stopped(_)) if id == "c"));
    assert_eq!(outcomes[1], ("stubborn".to_string(), StopOutcome::Killed));
    assert!(matches!(&outcomes[2], (id, StopOutcome::Stopped(_)) if id == "a"));
    assert_eq!(report.children[1].took, Duration::from_secs(2));
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
    assert_eq!(
        report.killed().map(|id| id.as_str()).collect::<Vec<_>>(),
        ["stubborn"]
    );
    assert!(!sup.is_running());
}

#[tokio::test(start_paused = true)]
async fn a_child_that_stops_within_its_timeout_is_not_killed() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(
            lab.child_with("slow", OnCancel::Linger(Duration::from_millis(1500)))
                .shutdown(Shutdown::Timeout(Duration::from_secs(2))),
        )
        .start()
        .await
        .unwrap();
    let t0 = Instant::now();
    let report = sup.shutdown().await;
    assert!(matches!(
        report.children[0].outcome,
        StopOutcome::Stopped(_)
    ));
    assert_eq!(t0.elapsed(), Duration::from_millis(1500));
}

#[tokio::test(start_paused = true)]
async fn brutal_kill_does_not_ask() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(lab.child("k").shutdown(Shutdown::BrutalKill))
        .start()
        .await
        .unwrap();
    lab.take();
    let t0 = Instant::now();
    let report = sup.shutdown().await;
    assert_eq!(report.children[0].outcome, StopOutcome::Killed);
    assert!(lab.take().is_empty(), "the child never saw a cancellation");
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn infinity_waits_as_long_as_it_takes() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(
            lab.child_with("slow", OnCancel::Linger(Duration::from_secs(3600)))
                .shutdown(Shutdown::Infinity),
        )
        .start()
        .await
        .unwrap();
    let t0 = Instant::now();
    let report = sup.shutdown().await;
    assert!(matches!(
        report.children[0].outcome,
        StopOutcome::Stopped(_)
    ));
    assert_eq!(t0.elapsed(), Duration::from_secs(3600));
}

#[tokio::test(start_paused = true)]
async fn hurry_turns_an_ongoing_graceful_stop_into_a_kill() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(
            lab.child_with("slow", OnCancel::Ignore)
                .shutdown(Shutdown::Infinity),
        )
        .start()
        .await
        .unwrap();
    let t0 = Instant::now();
    let stopping = tokio::spawn({
        let sup = sup.clone();
        async move { sup.shutdown().await }
    });
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!stopping.is_finished());
    sup.hurry();
    let report = stopping.await.unwrap();
    assert_eq!(report.children[0].outcome, StopOutcome::Killed);
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn nested_supervisors_stop_their_subtree_first() {
    let lab = Lab::new();
    let sup = Supervisor::builder("root")
        .child(lab.child("a"))
        .child(ChildSpec::supervisor(
            Supervisor::builder("group")
                .child(lab.child("g1"))
                .child(lab.child("g2")),
        ))
        .child(lab.child("z"))
        .start()
        .await
        .unwrap();
    assert_eq!(
        lab.take(),
        strings(&["start a", "start g1", "start g2", "start z"])
    );
    sup.shutdown().await;
    assert_eq!(
        lab.take(),
        strings(&["stop z", "stop g2", "stop g1", "stop a"])
    );
}

#[tokio::test(start_paused = true)]
async fn an_aborted_task_records_a_shutdown_class_exit() {
    let sup = Supervisor::builder("s")
        .child(
            ChildSpec::task("deaf", |_ctx: Context| std::future::pending::<()>())
                .shutdown(Shutdown::Timeout(Duration::from_millis(10))),
        )
        .start()
        .await
        .unwrap();
    let monitor = sup.monitor("deaf");
    sup.terminate_child("deaf").await.unwrap();
    let exit = monitor.await.unwrap();
    assert_eq!(exit.exit.class(), tend_engine::ExitClass::Shutdown);
    assert_eq!(exit.exit.kind(), tend_engine::ExitKind::Killed);
    sup.shutdown().await;
}

/// A child that takes a second to stop, within its two.
fn lingering(lab: &Lab, id: &str) -> ChildSpec {
    lab.child_with(id, OnCancel::Linger(Duration::from_secs(1)))
        .shutdown(Shutdown::Timeout(Duration::from_secs(2)))
}

#[tokio::test(start_paused = true)]
async fn concurrent_stop_asks_every_child_at_once_and_reports_in_reverse() {
    let lab = Lab::new();
    let lingering = |id: &str| lingering(&lab, id);
    let sup = Supervisor::builder("s")
        .concurrent_stop(true)
        .child(lingering("a"))
        .child(lingering("b"))
        .child(lingering("c"))
        .start()
        .await
        .unwrap();
    lab.take();
    let t0 = Instant::now();
    let report = sup.shutdown().await;
    // Each takes a second to stop: side by side, a second in all (one
    // after another took three).
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
    let ids: Vec<_> = report.children.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, ["c", "b", "a"]);
    assert!(report
        .children
        .iter()
        .all(|c| matches!(c.outcome, StopOutcome::Stopped(_))));
    assert_eq!(lab.take().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn concurrent_stop_still_stops_a_dependency_after_its_dependents() {
    let lab = Lab::new();
    let lingering = |id: &str| lingering(&lab, id);
    let sup = Supervisor::builder("s")
        .concurrent_stop(true)
        .child(lingering("db"))
        .child(lingering("api").depends_on("db", tend_engine::Condition::Started))
        .child(lingering("cache"))
        .start()
        .await
        .unwrap();
    lab.take();
    let t0 = Instant::now();
    sup.shutdown().await;
    // api and cache at once; db once api has ended.
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
    let log = lab.take();
    assert_eq!(log.last().map(String::as_str), Some("stop db"), "{log:?}");
}

#[tokio::test(start_paused = true)]
async fn concurrent_stop_stops_dependents_of_one_service_together_once_theirs_ended() {
    let lab = Lab::new();
    let lingering = |id: &str| lingering(&lab, id);
    let started = tend_engine::Condition::Started;
    // db; api and worker both on db; front on both.
    let sup = Supervisor::builder("s")
        .concurrent_stop(true)
        .child(lingering("db"))
        .child(lingering("api").depends_on("db", started))
        .child(lingering("worker").depends_on("db", started))
        .child(
            lingering("front")
                .depends_on("api", started)
                .depends_on("worker", started),
        )
        .start()
        .await
        .unwrap();
    lab.take();
    let t0 = Instant::now();
    sup.shutdown().await;
    // front (1 s), then api and worker together (1 s), then db (1 s): one
    // after the other, api and worker made it 4 s.
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    let log = lab.take();
    assert_eq!(
        log.first().map(String::as_str),
        Some("stop front"),
        "{log:?}"
    );
    assert_eq!(log.last().map(String::as_str), Some("stop db"), "{log:?}");
}
