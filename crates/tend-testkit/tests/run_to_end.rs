//! `run_to_end`, the helper programs' runner (checks, container runtime
//! commands): a run dropped half-way leaves no process and no zombie.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_run_kills_and_reaps_its_program() {
    let file = temp_dir("run-to-end").join("pid");
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("echo $$ > {}; exec sleep 100", file.display()));
    let mut pid = 0;
    tokio::select! {
        ended = tend_process::run_to_end(command, Duration::from_secs(60)) => {
            panic!("it ran to its end: {ended:?}")
        }
        () = async {
            eventually("the program to start", || {
                pid = std::fs::read_to_string(&file)
                    .ok()
                    .and_then(|p| p.trim().parse().ok())
                    .unwrap_or(0);
                pid > 0
            })
            .await;
        } => {}
    }
    // The run is dropped: its program is killed, and reaped (a zombie would
    // keep its /proc entry).
    eventually("the program to be gone, reaped", || !exists(pid)).await;
    assert!(our_zombies().is_empty(), "{:?}", our_zombies());
}
