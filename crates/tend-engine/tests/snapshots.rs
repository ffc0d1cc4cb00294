//! What an operator asks (seeds A, C, D): per-child counters and times,
//! wall-clock stamps, counts by state, filtered listings, one child's info,
//! and the supervisor's recent restarts.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use tend_engine::{
    Backoff, ChildState, ControlError, CrashPolicy, ExitKind, FailReason, Intensity, Restart,
    Supervisor,
};

fn lots() -> Intensity {
    Intensity::new(100, Duration::from_secs(1))
}

/// How long before now `t` was, by the wall clock.
fn ago(t: SystemTime) -> Duration {
    SystemTime::now().duration_since(t).unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn counters_and_times_follow_a_childs_life() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    lab.crash("a");
    idle().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let info = sup.child_info("a").await.unwrap();
    assert_eq!(
        (info.starts, info.failures, info.restarts, info.give_ups),
        (2, 1, 1, 0)
    );
    // 10 s, then 5 s (and the 1 ms tick `idle` lets pass).
    assert!(
        info.uptime >= Duration::from_secs(15) && info.uptime < Duration::from_millis(15_010),
        "{:?}",
        info.uptime
    );
    // Wall-clock times, read against the paused clock's elapsed time.
    let since = ago(info.running_since.unwrap());
    assert!(
        since >= Duration::from_secs(5) && since < Duration::from_secs(6),
        "{since:?}"
    );
    let supervised = ago(info.supervised_since);
    assert!(supervised >= Duration::from_secs(15), "{supervised:?}");
    let last = info.last_exit.unwrap();
    assert_eq!(
        (last.generation, last.ran_for),
        (1, Duration::from_secs(10))
    );
    let ended = ago(last.at);
    assert!(
        ended >= Duration::from_secs(5) && ended < Duration::from_secs(6),
        "{ended:?}"
    );
    assert_eq!(info.history.len(), 1);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn history_length_is_configurable_and_the_last_exit_is_always_kept() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .history(2)
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    for _ in 0..4 {
        lab.crash("a");
        idle().await;
    }
    let info = sup.child_info("a").await.unwrap();
    let generations: Vec<u64> = info.history.iter().map(|r| r.generation).collect();
    assert_eq!(generations, [3, 4], "the newest two, oldest first");
    assert!(info.history[0].at <= info.history[1].at);
    sup.shutdown().await;

    let sup = Supervisor::builder("s")
        .history(0)
        .child(lab.child("b"))
        .start()
        .await
        .unwrap();
    lab.crash("b");
    idle().await;
    let info = sup.child_info("b").await.unwrap();
    assert!(info.history.is_empty());
    assert_eq!(info.last_exit.unwrap().generation, 1);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn counts_by_state_filtered_listings_and_one_child() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("run1"))
        .child(lab.child("run2"))
        .child(lab.child("done").restart(Restart::Transient))
        .child(lab.child("broken").on_crash(CrashPolicy::Shutdown))
        .child(
            lab.child("slow")
                .backoff(Backoff::fixed(Duration::from_secs(60))),
        )
        .start()
        .await
        .unwrap();
    lab.end("done", End::Normal);
    lab.crash("broken");
    lab.crash("slow");
    idle().await;
    let counts = sup.count_by_state().await;
    assert_eq!(
        (
            counts.running,
            counts.completed,
            counts.failed,
            counts.backing_off,
            counts.total()
        ),
        (2, 1, 1, 1, 5)
    );
    let running: Vec<String> = sup
        .which_children_where(|s| s == ChildState::Running)
        .await
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(running, ["run1", "run2"]);
    let broken = sup
        .which_children_where(|s| matches!(s, ChildState::Failed(_)))
        .await;
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].state, ChildState::Failed(FailReason::Crashed));
    assert_eq!(
        sup.child_info("done").await.unwrap().state,
        ChildState::Completed
    );
    assert_eq!(
        sup.child_info("nope").await.unwrap_err(),
        ControlError::NotFound("nope".into())
    );
    sup.shutdown().await;
    assert_eq!(
        sup.count_by_state().await.total(),
        0,
        "ended: nothing to count"
    );
}

#[tokio::test(start_paused = true)]
async fn the_supervisor_keeps_its_recent_restarts_with_times_and_reasons() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .history(2)
        .child(lab.child("a"))
        .child(
            lab.child("b")
                .backoff(Backoff::fixed(Duration::from_secs(2))),
        )
        .start()
        .await
        .unwrap();
    lab.end("a", End::Crash("first"));
    idle().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    lab.end("b", End::Crash("second"));
    idle().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let history = sup.restart_history().await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].id.as_str(), "a");
    assert_eq!(history[0].after.exit.reason(), Some("first"));
    assert_eq!(history[0].delay, Duration::ZERO);
    assert_eq!(history[1].id.as_str(), "b");
    assert_eq!(
        (history[1].after.exit.kind(), history[1].delay),
        (ExitKind::Error, Duration::from_secs(2))
    );
    let between = history[1].at.duration_since(history[0].at).unwrap();
    assert!(between >= Duration::from_secs(1), "{between:?}");
    // Bounded by each child's history: a keeps its last two.
    for _ in 0..3 {
        lab.crash("a");
        idle().await;
    }
    let history = sup.restart_history().await;
    let seen: Vec<(String, u64)> = history
        .iter()
        .map(|r| (r.id.to_string(), r.after.generation))
        .collect();
    assert_eq!(
        seen,
        [("b".into(), 1), ("a".into(), 3), ("a".into(), 4)],
        "oldest first"
    );
    sup.shutdown().await;
}
