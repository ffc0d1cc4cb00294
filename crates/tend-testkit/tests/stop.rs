//! Stopping processes: the stop signal to the group, the timeout, SIGKILL,
//! and nothing left behind, not even a grandchild that called setsid.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tend_engine::{ChildSpec, ExitClass, ExitKind, StopOutcome, Supervisor};
use tend_process::{ProcessExt, Signal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polite_process_stops_on_the_stop_signal() {
    let mut spec = testkit(["hang"]);
    spec.stop.timeout = Duration::from_secs(20);
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("p", spec))
        .start()
        .await
        .unwrap();
    let pid = sup.which_children().await[0].pid.unwrap() as i32;
    let started = Instant::now();
    let report = sup.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no need to wait for the timeout"
    );
    match &report.children[0].outcome {
        StopOutcome::Stopped(exit) => assert_eq!(exit.signal(), Some(Signal::Term)),
        other => panic!("{other:?}"),
    }
    assert!(!exists(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_stop_signal_is_used() {
    let mut spec = testkit(["hang"]);
    spec.stop.signal = Signal::Int;
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("p", spec))
        .start()
        .await
        .unwrap();
    let monitor = sup.monitor("p");
    sup.terminate_child("p").await.unwrap();
    let exit = monitor.await.unwrap().exit;
    assert_eq!(
        (exit.class(), exit.kind(), exit.signal()),
        (ExitClass::Shutdown, ExitKind::Shutdown, Some(Signal::Int))
    );
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_ignoring_sigterm_is_killed_after_the_timeout() {
    let mut spec = testkit(["ignore-term"]);
    spec.stop.timeout = Duration::from_millis(300);
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("p", spec))
        .start()
        .await
        .unwrap();
    let pid = sup.which_children().await[0].pid.unwrap() as i32;
    // Let it install its handler (it says so on stdout; here we just give
    // its first instructions a moment by waiting on /proc).
    eventually("the helper ignores SIGTERM", || ignores_sigterm(pid)).await;
    let started = Instant::now();
    let monitor = sup.monitor("p");
    sup.terminate_child("p").await.unwrap();
    let exit = monitor.await.unwrap().exit;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "waited the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "then killed: {took:?}");
    assert_eq!(
        (exit.class(), exit.kind(), exit.signal()),
        (ExitClass::Shutdown, ExitKind::Killed, Some(Signal::Kill))
    );
    assert_eq!(
        exit.reason(),
        Some("no exit within 300ms of SIGTERM"),
        "{exit}"
    );
    assert!(!exists(pid));
    sup.shutdown().await;
}

/// Whether /proc says the process ignores SIGTERM (bit 15 of SigIgn).
fn ignores_sigterm(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << 14) != 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_leaves_no_descendant_behind_not_even_a_setsid_escapee() {
    tend_process::enable_orphan_reaping().unwrap();
    let dir = temp_dir("grandchildren");
    let pids_file = dir.join("pids");
    let mut spec = testkit([
        "fork",
        "3",
        "--setsid",
        "--pids",
        pids_file.to_str().unwrap(),
    ]);
    spec.stop.timeout = Duration::from_secs(5);
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("p", spec))
        .start()
        .await
        .unwrap();
    let parent = sup.which_children().await[0].pid.unwrap() as i32;
    let grandchildren = read_pids(&pids_file, 3).await;
    assert!(grandchildren.iter().all(|&pid| exists(pid)));
    let escapee = grandchildren[0];
    // It calls setsid right after it is forked: wait until it has.
    eventually("the first grandchild leaves the session", || {
        session_of(escapee).is_some_and(|sid| Some(sid) != session_of(parent))
    })
    .await;

    sup.shutdown().await;
    let all: Vec<i32> = std::iter::once(parent)
        .chain(grandchildren.iter().copied())
        .collect();
    eventually_described(|| all.iter().all(|&pid| !exists(pid)), || describe(&all)).await;
}

fn session_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid pgrp session ...
    stat.rsplit_once(") ")?
        .1
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_of_a_process_that_exits_by_itself_are_killed_too() {
    tend_process::enable_orphan_reaping().unwrap();
    let dir = temp_dir("leftovers");
    let pids_file = dir.join("pids");
    // A shell that starts a background grandchild and exits at once.
    let line = format!(
        "{} fork 2 --pids {} & sleep 0.5; exit 7",
        env!("CARGO_BIN_EXE_tend-testkit"),
        pids_file.display()
    );
    let sup = Supervisor::builder("t")
        .child(
            ChildSpec::process("p", tend_process::ProcessSpec::shell(line))
                .restart(tend_engine::Restart::Temporary),
        )
        .start()
        .await
        .unwrap();
    let grandchildren = read_pids(&pids_file, 2).await;
    let exit = tokio::time::timeout(DEADLINE, sup.monitor("p"))
        .await
        .unwrap()
        .unwrap()
        .exit;
    assert_eq!((exit.kind(), exit.code()), (ExitKind::Error, Some(7)));
    eventually("leftovers are killed and reaped", || {
        grandchildren.iter().all(|&pid| !exists(pid))
    })
    .await;
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brutal_kill_and_hurry_kill_the_whole_group_at_once() {
    tend_process::enable_orphan_reaping().unwrap();
    let dir = temp_dir("brutal");
    let pids_file = dir.join("pids");
    let mut spec = testkit(["fork", "2", "--pids", pids_file.to_str().unwrap()]);
    spec.stop.timeout = Duration::from_secs(3600);
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("p", spec).shutdown(tend_engine::Shutdown::BrutalKill))
        .start()
        .await
        .unwrap();
    let parent = sup.which_children().await[0].pid.unwrap() as i32;
    let grandchildren = read_pids(&pids_file, 2).await;
    let report = tokio::time::timeout(DEADLINE, sup.shutdown())
        .await
        .unwrap();
    assert_eq!(report.children[0].outcome, StopOutcome::Killed);
    eventually("killed and reaped", || {
        !exists(parent) && grandchildren.iter().all(|&pid| !exists(pid))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_child_kills_a_process_at_once_and_its_restart_type_applies() {
    let mut spec = testkit(["ignore-term"]);
    spec.stop.timeout = Duration::from_secs(30);
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("p", spec))
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let pid = sup.which_children().await[0].pid.unwrap() as i32;
    eventually("the helper ignores SIGTERM", || ignores_sigterm(pid)).await;
    let started = Instant::now();
    sup.kill_child("p").await.unwrap();
    let new_pid = tokio::time::timeout(DEADLINE, async {
        loop {
            if let tend_engine::EventKind::ChildStarted {
                generation: 2, pid, ..
            } = events.recv().await.unwrap().kind
            {
                return pid.unwrap();
            }
        }
    })
    .await
    .expect("restarted");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no 30 s stop timeout: {:?}",
        started.elapsed()
    );
    eventually("the killed process is reaped", || !exists(pid)).await;
    assert_ne!(new_pid as i32, pid);
    let info = sup.child_info("p").await.unwrap();
    let exit = &info.history[0].exit;
    assert_eq!(
        (exit.kind(), exit.class()),
        (ExitKind::Killed, ExitClass::Abnormal)
    );
    // The new incarnation ignores SIGTERM too: no need to wait 30 s for it.
    sup.hurry();
    sup.shutdown().await;
}

/// A signal sent through the engine reaches the running process (through
/// its pidfd): a `hang` process dies of SIGUSR1, and the exit says so; a
/// child that ended answers that nothing runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_goes_through_the_engine_to_the_process() {
    let sup = Supervisor::builder("t")
        .child(
            ChildSpec::process("p", testkit(["hang"]))
                .restart(tend_engine::Restart::Temporary)
                .keep_spec(true),
        )
        .start()
        .await
        .unwrap();
    let pid = sup.which_children().await[0].pid.unwrap() as i32;
    let monitor = sup.monitor("p");
    sup.signal_child("p", Signal::Usr1).await.unwrap();
    let exit = monitor.await.unwrap().exit;
    assert_eq!(
        (exit.kind(), exit.signal()),
        (ExitKind::Killed, Some(Signal::Usr1))
    );
    assert!(!exists(pid));
    assert_eq!(
        sup.signal_child("p", Signal::Usr1).await,
        Err(tend_engine::ControlError::NotRunning("p".into()))
    );
    sup.shutdown().await;
}
