//! The orphan reaper costs nothing per supervised exit (each child is
//! waited for through its own pidfd; a scanning `waitid` per exit made
//! stopping N children O(N²)), and still reaps every orphan.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn tend_run(args: &[&str]) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_tend-run"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// How often the reaper thread of `pid` has slept and woken.
fn reaper_wakeups(pid: u32) -> u64 {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if comm.trim() == "tend-reaper" {
            let status = std::fs::read_to_string(task.join("status")).unwrap();
            return status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
        }
    }
    panic!("no reaper thread in {pid}");
}

/// The children of `pid` and their states (`S`, `Z`…).
fn children(pid: u32) -> Vec<(u32, char)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let list =
            std::fs::read_to_string(task.unwrap().path().join("children")).unwrap_or_default();
        for child in list.split_whitespace() {
            let child: u32 = child.parse().unwrap();
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            if let Some((_, rest)) = stat.rsplit_once(") ") {
                found.push((child, rest.chars().next().unwrap_or('?')));
            }
        }
    }
    found
}

/// A fresh directory for one test.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tend-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

#[test]
fn restarts_do_not_wake_the_orphan_reaper() {
    let dir = scratch("reaper-wakeups");
    let stamps = dir.join("stamps");
    let script = format!("echo x >> {}; exit 1", stamps.display());
    let run = tend_run(&["--backoff", "0", "--", "sh", "-c", &script]);
    let pid = run.0.id();
    wait_for("the first runs", || lines(&stamps) >= 20);
    let before = reaper_wakeups(pid);
    let runs = lines(&stamps);
    let start = Instant::now();
    wait_for("500 more runs", || lines(&stamps) >= runs + 500);
    let woken = reaper_wakeups(pid) - before;
    // A scan per exit woke it about twice per exit; scans bounded in rate
    // (one per 50 ms) wake it less than once per exit at any rate seen.
    assert!(
        woken < 500,
        "the reaper woke {woken} times for 500 supervised exits in {:?}",
        start.elapsed()
    );
}

#[test]
fn orphans_are_still_reaped() {
    let dir = scratch("orphans");
    let marker = dir.join("orphans-made");
    // 20 orphans, each re-parented to tend-run (a subreaper), then ending.
    let script = format!(
        "for i in $(seq 1 20); do (sleep 0.01 &); sleep 0.02; done; touch {}; exec sleep 1000",
        marker.display()
    );
    let run = tend_run(&["--", "sh", "-c", &script]);
    let pid = run.0.id();
    wait_for("the orphans to be made", || marker.exists());
    wait_for("every orphan reaped, the service left", || {
        let children = children(pid);
        children.len() == 1 && children.iter().all(|(_, state)| *state != 'Z')
    });
}
