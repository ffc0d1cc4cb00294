//! Strategies over processes behave exactly as over tasks.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{ChildSpec, EventKind, Intensity, Strategy, Supervisor};
use tend_process::ProcessExt;

async fn events_until_settled(
    sup: &tend_engine::SupervisorHandle,
    crash: &str,
    expect_starts: usize,
) -> Vec<String> {
    let mut events = sup.subscribe();
    let pid = sup
        .which_children()
        .await
        .into_iter()
        .find(|c| c.id == crash)
        .and_then(|c| c.pid)
        .unwrap();
    // Kill it from outside: an abnormal exit (a signal we did not send).
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let mut seen = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        let mut starts = 0;
        while starts < expect_starts {
            match events.recv().await.unwrap().kind {
                EventKind::ChildExited { id, exit, .. } => {
                    seen.push(format!("exit {id} {}", exit.class()))
                }
                EventKind::ChildStarted { id, .. } => {
                    starts += 1;
                    seen.push(format!("start {id}"));
                }
                _ => {}
            }
        }
    })
    .await
    .expect("restarts");
    seen
}

fn hanging(id: &str) -> ChildSpec {
    ChildSpec::process(id, testkit(["hang"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_all_over_processes() {
    let sup = Supervisor::builder("t")
        .strategy(Strategy::OneForAll)
        .intensity(Intensity::new(10, Duration::from_secs(10)))
        .children([hanging("a"), hanging("b"), hanging("c")])
        .start()
        .await
        .unwrap();
    let seen = events_until_settled(&sup, "b", 3).await;
    assert_eq!(
        seen,
        [
            "exit b abnormal",
            "exit c shutdown",
            "exit a shutdown",
            "start a",
            "start b",
            "start c"
        ]
    );
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_for_one_over_processes() {
    let sup = Supervisor::builder("t")
        .strategy(Strategy::RestForOne)
        .intensity(Intensity::new(10, Duration::from_secs(10)))
        .children([hanging("a"), hanging("b"), hanging("c")])
        .start()
        .await
        .unwrap();
    let seen = events_until_settled(&sup, "b", 2).await;
    assert_eq!(
        seen,
        ["exit b abnormal", "exit c shutdown", "start b", "start c"]
    );
    let gens: Vec<u64> = sup
        .which_children()
        .await
        .iter()
        .map(|c| c.generation)
        .collect();
    assert_eq!(gens, [1, 2, 2]);
    sup.shutdown().await;
}
