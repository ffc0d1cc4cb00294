//! What a supervisor killed with `SIGKILL` leaves behind, found by the next
//! one so that nothing keeps running unknown and nothing runs twice.
//!
//! A supervisor writes down a [`Lease`] (its pid, its start time, where it
//! makes cgroups) when it starts. Its successor reads it back: if that
//! process is gone, every cgroup it named `tend-<pid>-…` holds its
//! leftovers (with every descendant, however far it wandered), and where
//! cgroups were not available the successor checks the pids the old one
//! reported ([`Candidate`]s, from its journal) one by one. Found leftovers
//! are stopped, not re-adopted: their output pipes and notify sockets died
//! with the old supervisor (a write to stdout now kills them with
//! `SIGPIPE`), and a process that is not our child cannot be waited for,
//! so its exit status, which the restart policy needs, is out of reach.
//!
//! ```
//! use std::time::SystemTime;
//! use tend_process::leftovers::{self, Candidate, Found, Lease};
//!
//! // A supervisor, at its start, writes its lease where its state is kept.
//! let lease = Lease::current();
//! // Its successor reads it back. Held: that supervisor still runs.
//! assert!(lease.is_held());
//! // Not held: stop what it left: its cgroups, and the processes its
//! // journal says it started and never saw end.
//! let reported = [Candidate { service: "web".into(), pid: 4242, reported_at: SystemTime::now() }];
//! if !lease.is_held() {
//!     for leftover in leftovers::find(&lease, &reported) {
//!         if let Found::ProcessGroup(leader) = leftover.found {
//!             println!("{}: process group {leader}", leftover.service);
//!         }
//!         leftover.kill();
//!         leftover.remove();
//!     }
//! }
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::process::Pid;

use crate::cgroup;
use crate::group;

/// A service's name as a cgroup holds it (`_` for characters a cgroup name
/// does not take): compare names found in cgroups through it.
pub use crate::cgroup::safe_name;

/// Who runs a state directory: enough for a successor to tell whether that
/// process is still alive and where its cgroups are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The supervisor's pid.
    pub pid: u32,
    /// Its start time, in clock ticks since boot (`/proc/PID/stat`): a pid
    /// reused by another process has another.
    pub start_ticks: u64,
    /// The directories it makes its cgroups in (the v2 one, and v1
    /// controller ones on a hybrid layout); empty without cgroups.
    pub cgroup_dirs: Vec<PathBuf>,
}

impl Lease {
    /// This process's lease.
    #[must_use]
    pub fn current() -> Lease {
        let pid = std::process::id();
        Lease {
            pid,
            start_ticks: stat(pid).map_or(0, |s| s.start_ticks),
            cgroup_dirs: cgroup::parent_dirs(),
        }
    }

    /// Whether the process that took this lease is still running.
    #[must_use]
    pub fn is_held(&self) -> bool {
        stat(self.pid).is_some_and(|s| s.start_ticks == self.start_ticks && s.state != 'Z')
    }

    /// When the lease's holder started, as wall-clock time.
    fn started_at(&self) -> Option<SystemTime> {
        wall_clock(self.start_ticks)
    }
}

/// A process the old supervisor reported starting and never reported
/// ending (from its journal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its service.
    pub service: String,
    /// Its pid.
    pub pid: u32,
    /// When it was reported started.
    pub reported_at: SystemTime,
}

/// A group of processes an old supervisor left running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The service they belong to, as far as it is known (from the
    /// journal, or the cgroup's name, which has `_` for odd characters).
    pub service: String,
    /// How they were found and are stopped.
    pub found: Found,
}

/// Where a leftover was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A cgroup the old supervisor made (v2), with the v1 groups of the same
    /// name beside it: everything in it is a leftover.
    Cgroup {
        /// The v2 cgroup (or the first v1 group, without v2).
        dir: PathBuf,
        /// Groups of the same name in other hierarchies, removed with it.
        others: Vec<PathBuf>,
    },
    /// A process group whose leader the journal named and whose start time
    /// and session fit.
    ProcessGroup(u32),
}

impl Leftover {
    /// The processes in it now.
    #[must_use]
    pub fn pids(&self) -> Vec<u32> {
        match &self.found {
            Found::Cgroup { dir, .. } => procs(dir),
            Found::ProcessGroup(leader) => group_members(*leader),
        }
    }

    /// Whether nothing of it runs any more (zombies waiting for init to
    /// reap them count as gone).
    #[must_use]
    pub fn is_gone(&self) -> bool {
        self.pids()
            .into_iter()
            .all(|pid| stat(pid).is_none_or(|s| s.state == 'Z'))
    }

    /// Sends `signal` to every process in it.
    pub fn signal(&self, signal: i32) {
        match &self.found {
            Found::Cgroup { .. } => {
                let Some(signal) = rustix::process::Signal::from_named_raw(signal) else {
                    return;
                };
                for pid in self.pids() {
                    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
                        let _ = rustix::process::kill_process(pid, signal);
                    }
                }
            }
            Found::ProcessGroup(leader) => {
                if let Some(leader) = i32::try_from(*leader).ok().and_then(Pid::from_raw) {
                    group::signal_group(leader, signal);
                }
            }
        }
    }

    /// Kills everything in it (`cgroup.kill` where there is one).
    pub fn kill(&self) {
        if let Found::Cgroup { dir, .. } = &self.found {
            if fs::write(dir.join("cgroup.kill"), b"1").is_ok() {
                return;
            }
        }
        self.signal(rustix::process::Signal::KILL.as_raw());
    }

    /// Removes its cgroups once empty; a no-op for a process group.
    pub fn remove(&self) {
        if let Found::Cgroup { dir, others } = &self.found {
            for dir in std::iter::once(dir).chain(others) {
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

/// Everything the holder of `lease` (no longer running) left behind: its
/// cgroups, and those `candidates` whose process is still the one it
/// started (a session leader that started after the old supervisor and no
/// later than it was reported) and is in none of those cgroups.
#[must_use]
pub fn find(lease: &Lease, candidates: &[Candidate]) -> Vec<Leftover> {
    let prefix = format!("tend-{}-", lease.pid);
    let mut by_name: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for parent in &lease.cgroup_dirs {
        let Ok(entries) = fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(&prefix) || !entry.path().is_dir() {
                continue;
            }
            match by_name.iter_mut().find(|(n, _)| *n == name) {
                Some((_, dirs)) => dirs.push(entry.path()),
                None => by_name.push((name, vec![entry.path()])),
            }
        }
    }
    let mut leftovers: Vec<Leftover> = by_name
        .into_iter()
        .map(|(name, mut dirs)| {
            let dir = dirs.remove(0);
            let members = procs(&dir);
            // The journal's name for it where one of its pids is known;
            // else the name the cgroup was given (`tend-PID-ID.N`).
            let service = candidates
                .iter()
                .find(|c| members.contains(&c.pid))
                .map_or_else(
                    || {
                        let id = &name[prefix.len()..];
                        id.rsplit_once('.').map_or(id, |(id, _)| id).to_owned()
                    },
                    |c| c.service.clone(),
                );
            Leftover {
                service,
                found: Found::Cgroup { dir, others: dirs },
            }
        })
        .collect();
    let in_cgroups: Vec<u32> = leftovers.iter().flat_map(Leftover::pids).collect();
    let since = lease.started_at();
    for candidate in candidates {
        if in_cgroups.contains(&candidate.pid) {
            continue;
        }
        if still_the_one(candidate, since) {
            leftovers.push(Leftover {
                service: candidate.service.clone(),
                found: Found::ProcessGroup(candidate.pid),
            });
        }
    }
    leftovers
}

/// Whether `candidate`'s pid is still the process the old supervisor
/// started: alive, a session leader (every spawn calls `setsid`), started
/// after the old supervisor and no later than it was reported started.
fn still_the_one(candidate: &Candidate, supervisor_started: Option<SystemTime>) -> bool {
    // Boot time is known to the second and ticks are 10 ms: allow for both.
    const SLACK: Duration = Duration::from_secs(2);
    let Some(stat) = stat(candidate.pid) else {
        return false;
    };
    let Some(started) = wall_clock(stat.start_ticks) else {
        return false;
    };
    stat.state != 'Z'
        && stat.session == candidate.pid
        && supervisor_started.is_none_or(|s| started + SLACK >= s)
        && started <= candidate.reported_at + SLACK
}

/// The fields of `/proc/PID/stat` used here.
struct Stat {
    state: char,
    group: u32,
    session: u32,
    start_ticks: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'.
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        group: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// Clock ticks since boot as wall-clock time.
fn wall_clock(ticks: u64) -> Option<SystemTime> {
    let per_second = rustix::param::clock_ticks_per_second();
    Some(boot_time()? + Duration::from_millis(ticks * 1000 / per_second))
}

/// When the machine booted (`btime` in `/proc/stat`), read once: it does
/// not change, and every candidate's start time is measured from it.
fn boot_time() -> Option<SystemTime> {
    static BOOT: std::sync::OnceLock<Option<SystemTime>> = std::sync::OnceLock::new();
    *BOOT.get_or_init(|| {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let seconds: u64 = stat
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        Some(UNIX_EPOCH + Duration::from_secs(seconds))
    })
}

fn procs(dir: &Path) -> Vec<u32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The processes whose process group is `leader`'s (read from `/proc`,
/// which also names kernel threads: `getpgid` is not asked about them).
fn group_members(leader: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| stat(pid).is_some_and(|s| s.group == leader))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_holds_its_own_lease_and_a_made_up_one_is_not_held() {
        let lease = Lease::current();
        assert!(lease.start_ticks > 0);
        assert!(lease.is_held());
        let other = Lease {
            start_ticks: lease.start_ticks + 1,
            ..lease.clone()
        };
        assert!(!other.is_held(), "the same pid with another start time");
        let started = lease.started_at().unwrap();
        let age = SystemTime::now().duration_since(started).unwrap();
        assert!(age < Duration::from_secs(600), "started {age:?} ago");
    }
}
