//! What each child costs the supervisor in descriptors: every spawn copies
//! the supervisor's whole descriptor table into the child (and the child
//! closes it at exec), and the hard limit on descriptors bounds how many
//! children can run. A child's cgroup directory is opened for its spawn
//! only; what stays is its pidfd and its two output pipes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/limits.rs"]
mod limits;
use limits::{children_of, may_raise_hard_limits, open_files_limits, sleeping_children_of};

#[test]
fn a_running_child_holds_three_descriptors_of_the_supervisor() {
    let n = 50;
    let mut run = Command::new(env!("CARGO_BIN_EXE_tend-run"))
        .args(["--replicas", &n.to_string(), "--", "sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = run.id();
    let start = Instant::now();
    while children_of(pid).len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{n} children start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    // Stopped as an operator would, so it leaves no child nor cgroup.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = run.wait();
    // The runtime's own (epoll, eventfd, stdio, sockets) are about ten,
    // and the spawn slots four per thread that spawns (`clone.rs`).
    assert!(
        open <= 3 * n + 30,
        "{open} descriptors open for {n} children"
    );
}

/// `n` replicas of `sleep` under `tend-run` started with descriptor
/// limits 200 (soft) and 256 (hard): whether all started, tend-run's own
/// limits, and each child's.
fn replicas_under_256(n: usize) -> (bool, (String, String), Vec<(String, String)>) {
    let mut run = Command::new("prlimit")
        .arg("--nofile=200:256")
        .arg(env!("CARGO_BIN_EXE_tend-run"))
        .args(["--replicas", &n.to_string(), "--", "sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = run.id();
    let start = Instant::now();
    // Started, unless it ran out of descriptors (it gives up).
    while sleeping_children_of(pid).len() < n
        && start.elapsed() < Duration::from_secs(60)
        && run.try_wait().unwrap().is_none()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let children = sleeping_children_of(pid);
    let all = children.len() == n;
    let own = open_files_limits(pid);
    let theirs = children.into_iter().map(open_files_limits).collect();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = run.wait();
    (all, own, theirs)
}

#[test]
fn children_get_the_descriptor_limits_tend_run_started_with() {
    // 50 fit in 256: 3 each.
    let (all, own, theirs) = replicas_under_256(50);
    assert!(all, "50 children under a hard limit of 256");
    // Its soft limit raised (to the hard one), theirs as they were.
    assert_eq!(own.0, own.1, "tend-run's soft limit is its hard one");
    assert!(!theirs.is_empty());
    for limits in theirs {
        assert_eq!(limits, ("200".to_owned(), "256".to_owned()));
    }
}

#[test]
fn as_root_tend_run_raises_its_hard_descriptor_limit_to_run_more_children() {
    if !may_raise_hard_limits() {
        eprintln!("skipped: no CAP_SYS_RESOURCE here (root in a sandbox that took it away)");
        return;
    }
    // 120 need 360 descriptors and more: over the hard limit of 256 it
    // starts with, not over fs.nr_open, which root raises it to.
    let (all, own, theirs) = replicas_under_256(120);
    assert!(all, "120 children under a hard limit of 256, as root");
    let most = std::fs::read_to_string("/proc/sys/fs/nr_open").unwrap();
    assert_eq!(own, (most.trim().to_owned(), most.trim().to_owned()));
    for limits in theirs {
        assert_eq!(limits, ("200".to_owned(), "256".to_owned()));
    }
}
