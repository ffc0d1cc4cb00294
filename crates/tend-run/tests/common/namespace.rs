//! A PID namespace and the process table, for the PID 1 tests of
//! `tend-run` and of `tend` (`crates/tend-cli/tests/pid1.rs` includes this
//! file by path: two packages, one copy).

use std::process::{Command, Stdio};

/// Why `unshare --pid --fork` fails here, if it does (it needs root).
pub fn namespace_missing() -> Option<String> {
    let works = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!works).then(|| "a PID namespace (unshare --pid --fork) needs root".into())
}

/// (pid, state, ppid) of every process on the host.
pub fn processes() -> Vec<(u32, char, u32)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let rest = stat.rsplit_once(") ")?.1;
            let mut fields = rest.split_whitespace();
            let state = fields.next()?.chars().next()?;
            let ppid = fields.next()?.parse().ok()?;
            Some((pid, state, ppid))
        })
        .collect()
}

/// Every process below `root`, with its state.
pub fn descendants(root: u32) -> Vec<(u32, char)> {
    let all = processes();
    let mut found = vec![];
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, state, ppid) in &all {
            if ppid == parent {
                found.push((pid, state));
                frontier.push(pid);
            }
        }
    }
    found
}
