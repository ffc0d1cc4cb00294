//! What a supervisor killed with `SIGKILL` leaves behind, found by the next
//! one so that nothing keeps running unknown and nothing runs twice.
//!
//! A supervisor writes down a [`Lease`] (its pid, start time and boot, where
//! it makes cgroups) when it starts. Its successor reads it back: if that
//! process is gone, every cgroup it named `tend-PID-TICKS-…` holds its
//! leftovers (with every descendant, however far it wandered), and where
//! cgroups were not available the successor checks the processes the old
//! one reported ([`Candidate`]s, from its journal) one by one. Found
//! leftovers are stopped, not re-adopted: their output pipes and notify
//! sockets died with the old supervisor (a write to stdout now kills them
//! with `SIGPIPE`), and a process that is not our child cannot be waited
//! for, so its exit status, which the restart policy needs, is out of reach.
//!
//! The lease and the journal are files, and a file can lie (forged, or
//! naming a pid since reused). Nothing is signalled on their word alone: a
//! cgroup must be in a mounted cgroup hierarchy and named after the lease
//! holder's exact identity, and each of its processes must say it is in
//! it; a journaled process must still have the exact pid, start ticks and
//! boot id journaled, lead its own session and process group (as every
//! spawn makes it), and have started after the old supervisor. Every
//! signal goes through a pidfd opened before that check. What does not
//! hold is [`Refused`], to be said and journaled.
//!
//! ```
//! use tend_process::leftovers::{self, Candidate, Found, Lease};
//!
//! // A supervisor, at its start, writes its lease where its state is kept.
//! let lease = Lease::current();
//! // Its successor reads it back. Held: that supervisor still runs.
//! assert!(lease.is_held());
//! // Not held: stop what it left: its cgroups, and the processes its
//! // journal says it started and never saw end.
//! let reported = [Candidate { service: "web".into(), pid: 4242, start_ticks: Some(99), boot_id: None }];
//! if !lease.is_held() {
//!     let search = leftovers::find(&lease, &reported);
//!     for refused in &search.refused {
//!         println!("not believed: {refused}");
//!     }
//!     for leftover in search.leftovers {
//!         if let Found::ProcessGroup { leader, .. } = leftover.found {
//!             println!("{}: process group {leader}", leftover.service);
//!         }
//!         leftover.kill();
//!         leftover.remove();
//!     }
//! }
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use rustix::process::Signal;

use crate::cgroup;
use crate::identity::{self, stat, Pidfd};

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
    /// The boot it ran in (`None` in a lease written by an older tend).
    pub boot_id: Option<String>,
    /// The directories it makes its cgroups in (the v2 one, and v1
    /// controller ones on a hybrid layout); empty without cgroups.
    pub cgroup_dirs: Vec<PathBuf>,
    /// The earliest start (clock ticks) of a process it took back from a
    /// previous supervisor (tend's keeper hands a dead daemon's processes
    /// to the next): those started before it are its own too.
    pub took_back_since: Option<u64>,
}

impl Lease {
    /// This process's lease.
    #[must_use]
    pub fn current() -> Lease {
        let pid = std::process::id();
        Lease {
            pid,
            start_ticks: identity::start_ticks(pid).unwrap_or(0),
            boot_id: identity::boot_id().map(str::to_owned),
            cgroup_dirs: cgroup::parent_dirs(),
            took_back_since: None,
        }
    }

    /// The earliest start a process it journaled may have: its own, or
    /// that of a process it took back.
    fn owns_since(&self) -> u64 {
        self.took_back_since
            .map_or(self.start_ticks, |since| since.min(self.start_ticks))
    }

    /// Whether the process that took this lease is still running.
    #[must_use]
    pub fn is_held(&self) -> bool {
        self.same_boot()
            && stat(self.pid).is_some_and(|s| s.start_ticks == self.start_ticks && s.state != 'Z')
    }

    /// Whether it was taken in this boot (or does not say).
    fn same_boot(&self) -> bool {
        self.boot_id
            .as_deref()
            .is_none_or(|id| Some(id) == identity::boot_id())
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
    /// Its start time in clock ticks since boot, as journaled (`None` in
    /// rows written by an older tend: such a row is not believed).
    pub start_ticks: Option<u64>,
    /// The boot it started in, as journaled (`None`: this boot, for rows
    /// whose start ticks were journaled without it).
    pub boot_id: Option<String>,
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
    /// A session and process group whose leader the journal named, with
    /// the exact start time journaled.
    ProcessGroup {
        /// Its leader's pid (the group's and session's id).
        leader: u32,
        /// Its leader's start ticks: no member started before it.
        start_ticks: u64,
    },
}

/// A claim of the lease or the journal that was not believed: nothing was
/// signalled on its word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The service named, if any.
    pub service: Option<String>,
    /// What was claimed, and why it was not believed.
    pub reason: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.service {
            Some(service) => write!(f, "{service}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// What [`find`] found, and what it did not believe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// What to stop.
    pub leftovers: Vec<Leftover>,
    /// What the lease or the journal claimed and did not hold.
    pub refused: Vec<Refused>,
}

impl Leftover {
    /// The processes in it now.
    #[must_use]
    pub fn pids(&self) -> Vec<u32> {
        match &self.found {
            Found::Cgroup { dir, .. } => procs(dir)
                .into_iter()
                .filter(|&pid| cgroup::holds(dir, pid))
                .collect(),
            Found::ProcessGroup {
                leader,
                start_ticks,
            } => group_members(*leader, *start_ticks),
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

    /// Sends `signal` to every process in it, each through a pidfd and
    /// checked again after it was opened.
    pub fn signal(&self, signal: i32) {
        let Some(signal) = Signal::from_named_raw(signal) else {
            return;
        };
        for pid in self.pids() {
            let Some(process) = Pidfd::open(pid) else {
                continue;
            };
            process.signal_if(signal, |pid| self.holds(pid));
        }
    }

    /// Whether process `pid` belongs to it, by what `/proc` says now.
    fn holds(&self, pid: u32) -> bool {
        match &self.found {
            Found::Cgroup { dir, .. } => cgroup::holds(dir, pid),
            Found::ProcessGroup {
                leader,
                start_ticks,
            } => in_group(pid, *leader, *start_ticks),
        }
    }

    /// Kills everything in it (`cgroup.kill` where there is one).
    pub fn kill(&self) {
        if let Found::Cgroup { dir, .. } = &self.found {
            if fs::write(dir.join("cgroup.kill"), b"1").is_ok() {
                return;
            }
        }
        self.signal(Signal::KILL.as_raw());
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
/// cgroups, and those `candidates` whose process is still exactly the one
/// it started and is in none of those cgroups; and what was claimed but not
/// believed.
#[must_use]
pub fn find(lease: &Lease, candidates: &[Candidate]) -> Search {
    let mut search = Search::default();
    if !lease.same_boot() {
        // Nothing outlives a reboot: there is nothing to look for.
        return search;
    }
    let prefix = cgroup::prefix(lease.pid, lease.start_ticks);
    let mut by_name: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for parent in &lease.cgroup_dirs {
        if !cgroup::is_cgroup_dir(parent) {
            search.refused.push(Refused {
                service: None,
                reason: format!(
                    "the lease names {} for its cgroups, which is not a directory of a mounted cgroup hierarchy: not looked in",
                    parent.display()
                ),
            });
            continue;
        }
        let Ok(entries) = fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(&prefix) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            match by_name.iter_mut().find(|(n, _)| *n == name) {
                Some((_, dirs)) => dirs.push(entry.path()),
                None => by_name.push((name, vec![entry.path()])),
            }
        }
    }
    search.leftovers = by_name
        .into_iter()
        .map(|(name, mut dirs)| {
            let dir = dirs.remove(0);
            let found = Found::Cgroup { dir, others: dirs };
            let mut leftover = Leftover {
                service: String::new(),
                found,
            };
            let members = leftover.pids();
            // The journal's name for it where one of its pids is known;
            // else the name the cgroup was given (`tend-PID-TICKS-ID.N`).
            leftover.service = candidates
                .iter()
                .find(|c| members.contains(&c.pid))
                .map_or_else(
                    || {
                        let id = &name[prefix.len()..];
                        id.rsplit_once('.').map_or(id, |(id, _)| id).to_owned()
                    },
                    |c| c.service.clone(),
                );
            leftover
        })
        .collect();
    let in_cgroups: Vec<u32> = search.leftovers.iter().flat_map(Leftover::pids).collect();
    for candidate in candidates {
        if in_cgroups.contains(&candidate.pid) {
            continue;
        }
        match still_the_one(candidate, lease) {
            Ok(None) => {}
            Ok(Some(start_ticks)) => search.leftovers.push(Leftover {
                service: candidate.service.clone(),
                found: Found::ProcessGroup {
                    leader: candidate.pid,
                    start_ticks,
                },
            }),
            Err(reason) => search.refused.push(Refused {
                service: Some(candidate.service.clone()),
                reason: format!(
                    "the journal names pid {}, {reason}: not signalled",
                    candidate.pid
                ),
            }),
        }
    }
    search
}

/// Whether `candidate`'s pid is still the process the old supervisor
/// started: the journaled start ticks and boot, a session and process
/// group leader (every spawn calls `setsid`), started after the old
/// supervisor. Its start ticks if so; `None` if it is gone; why not if a
/// process with that pid runs and is not it.
fn still_the_one(candidate: &Candidate, lease: &Lease) -> Result<Option<u64>, String> {
    let Some(start_ticks) = candidate.start_ticks else {
        return Err("without its start time (journaled by an older tend)".to_owned());
    };
    if let Some(boot) = &candidate.boot_id {
        if Some(boot.as_str()) != identity::boot_id() {
            // Started before a reboot: long gone.
            return Ok(None);
        }
    }
    let Some(stat) = stat(candidate.pid) else {
        return Ok(None);
    };
    if stat.start_ticks != start_ticks {
        return Err(format!(
            "which now belongs to another process (started at tick {}, not {start_ticks})",
            stat.start_ticks
        ));
    }
    if stat.state == 'Z' {
        return Ok(None);
    }
    if start_ticks < lease.owns_since() {
        return Err("which started before the tend that journaled it".to_owned());
    }
    if stat.session != candidate.pid || stat.group != candidate.pid {
        return Err("which does not lead its own session and process group".to_owned());
    }
    Ok(Some(start_ticks))
}

fn procs(dir: &Path) -> Vec<u32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Whether `pid` is in the session and process group of `leader`, and
/// started no earlier than it.
fn in_group(pid: u32, leader: u32, start_ticks: u64) -> bool {
    stat(pid)
        .is_some_and(|s| s.group == leader && s.session == leader && s.start_ticks >= start_ticks)
}

/// The processes of `leader`'s session and process group (read from
/// `/proc`, which also names kernel threads: `getpgid` is not asked about
/// them).
fn group_members(leader: u32, start_ticks: u64) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| in_group(pid, leader, start_ticks))
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
        let other_boot = Lease {
            boot_id: Some("00000000-0000-0000-0000-000000000000".into()),
            ..lease
        };
        assert!(!other_boot.is_held(), "the same process in another boot");
    }

    #[test]
    fn a_lease_naming_a_directory_outside_the_cgroup_hierarchies_is_not_looked_in() {
        let lease = Lease {
            pid: 1,
            start_ticks: 0,
            boot_id: None,
            cgroup_dirs: vec![std::env::temp_dir()],
            took_back_since: None,
        };
        let search = find(&lease, &[]);
        assert!(search.leftovers.is_empty());
        assert_eq!(search.refused.len(), 1, "{search:?}");
    }
}
