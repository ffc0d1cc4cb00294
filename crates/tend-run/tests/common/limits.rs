//! A process's children and descriptor limits, read from `/proc`, for the
//! limit tests of `tend-run` and of `tend`
//! (`crates/tend-cli/tests/limits.rs` includes this file by path: two
//! packages, one copy).

// Each test file uses a part.
#![allow(dead_code)]

/// Whether this process may raise hard limits (`CAP_SYS_RESOURCE`): root,
/// unless a sandbox took it away.
pub fn may_raise_hard_limits() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let caps = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(caps.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << 24) != 0)
}

/// The soft and hard "Max open files" of `pid`.
pub fn open_files_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut words = line.split_whitespace().skip(3);
    (
        words.next().unwrap().to_owned(),
        words.next().unwrap().to_owned(),
    )
}

/// The pids of `pid`'s children (none if it is gone).
pub fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .flat_map(|task| {
                    std::fs::read_to_string(task.path().join("children"))
                        .unwrap_or_default()
                        .split_whitespace()
                        .filter_map(|pid| pid.parse().ok())
                        .collect::<Vec<u32>>()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The pids of `pid`'s children that run `sleep` (a child not yet
/// exec'd still has its supervisor's limits).
pub fn sleeping_children_of(pid: u32) -> Vec<u32> {
    children_of(pid)
        .into_iter()
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/comm"))
                .is_ok_and(|comm| comm.trim() == "sleep")
        })
        .collect()
}
