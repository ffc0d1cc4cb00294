//! What each child costs the supervisor in descriptors: every spawn copies
//! the supervisor's whole descriptor table into the child (and the child
//! closes it at exec), and the hard limit on descriptors bounds how many
//! children can run. A child's cgroup directory is opened for its spawn
//! only; what stays is its pidfd and its two output pipes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let children = || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .map(|t| {
                std::fs::read_to_string(t.unwrap().path().join("children"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .count()
            })
            .sum::<usize>()
    };
    let start = Instant::now();
    while children() < n {
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
