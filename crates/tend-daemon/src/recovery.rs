//! Starting after a `kill -9`: nothing the killed run left keeps running
//! unknown, nothing runs twice.
//!
//! A running daemon keeps a lease in its state directory (`daemon.json`:
//! its pid, start ticks and boot id, where it makes cgroups, and where its
//! rows begin in the journal), removed when it ends cleanly. A daemon that
//! finds one whose holder is gone looks for what that run left: its cgroups
//! (every process in them), and where there were none the processes the
//! journal says it started (pid, start ticks, boot id) and never saw end.
//! It stops them as their service's config says (stop signal, then
//! `SIGKILL` after the stop timeout), journals a `leftover_stopped` row for
//! each, and only then starts its own. Stopped, not re-adopted: see
//! `tend_process::leftovers` for why. What the lease or the journal claims
//! and does not hold (a cgroup directory outside the cgroup hierarchies, a
//! pid that is another process now) is said, journaled as a
//! `recovery-refused` command row, and never signalled.
//! Containers the runtime kept running without their client are found by
//! their config's scope label and removed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tend_config::Config;
use tend_journal::{Journal, Record};
use tend_process::leftovers::{self, Candidate, Lease, Leftover};

use crate::paths::{StateDir, JOURNAL, LEASE};

/// How long killed leftovers get to disappear.
const AFTER_KILL: Duration = Duration::from_secs(5);

/// The lease as written to `daemon.json`.
#[derive(Debug, Serialize, Deserialize)]
struct LeaseFile {
    pid: u32,
    start_ticks: u64,
    /// The boot `start_ticks` counts from (absent in older leases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    boot_id: Option<String>,
    cgroup_dirs: Vec<PathBuf>,
    /// The earliest start of a process this run took back from the keeper
    /// (absent if none, and in older leases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    took_back_since: Option<u64>,
    /// The journal's last row id when this run began.
    journal_from: i64,
}

/// The processes the keeper handed back to this daemon (after the previous
/// one died), and their cgroups: re-adopted, so no leftovers.
#[derive(Debug, Default)]
pub struct Kept {
    /// Their pids (the main ones and their groups').
    pub pids: std::collections::HashSet<u32>,
    /// Their cgroup directories.
    pub cgroups: Vec<PathBuf>,
}

impl Kept {
    /// Whether `leftover` is one of them (its cgroup, or one of its pids).
    fn holds(&self, leftover: &Leftover) -> bool {
        let in_kept_cgroup = match &leftover.found {
            leftovers::Found::Cgroup { dir, .. } => self.cgroups.contains(dir),
            _ => false,
        };
        in_kept_cgroup || leftover.pids().iter().any(|pid| self.pids.contains(pid))
    }
}

/// Why recovery refused to go on.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The previous daemon still runs but its socket does not answer.
    #[error(
        "tend (pid {0}) still holds this state directory but its socket does not answer; stop it, or wait for it to finish"
    )]
    StillHeld(u32),
    /// The journal could not be read or the lease written.
    #[error("{0}")]
    Io(String),
}

/// What a previous run left, and what was done about it.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The journal file was corrupt and moved aside: the record that
    /// begins the new chain, to journal first.
    pub journal_corrupt: Option<Record>,
    /// One record per stopped leftover, to journal.
    pub records: Vec<Record>,
}

/// Stops what a killed previous run left, then takes the lease for this
/// run. A journal file found corrupt is moved aside first (see
/// [`tend_journal::set_aside_if_corrupt`]), so it keeps nothing from
/// starting.
///
/// # Errors
/// If the previous daemon still runs, or the lease cannot be written.
pub async fn recover(
    dir: &StateDir,
    config: &Config,
    kept: &Kept,
) -> Result<Recovered, RecoveryError> {
    let previous = read(dir)?.map(|previous| {
        let lease = Lease {
            pid: previous.pid,
            start_ticks: previous.start_ticks,
            boot_id: previous.boot_id,
            cgroup_dirs: previous.cgroup_dirs,
            took_back_since: previous.took_back_since,
        };
        (lease, previous.journal_from)
    });
    if let Some((lease, _)) = &previous {
        if lease.pid != std::process::id() && lease.is_held() {
            return Err(RecoveryError::StillHeld(lease.pid));
        }
    }
    // No daemon holds the journal now: it is ours to check. SQLite opens
    // it by path: its files must be regular ones (or absent), not links.
    // (A full disk must not keep tend from starting: a journal that cannot
    // be checked or opened now is said, and left to the journal writer's
    // retries.)
    dir.open()
        .and_then(|root| root.check_journal(JOURNAL))
        .map_err(|e| RecoveryError::Io(e.to_string()))?;
    let mut recovered = Recovered {
        journal_corrupt: set_aside(dir).unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot check the journal; starting anyway");
            None
        }),
        records: Vec::new(),
    };
    let journal = Journal::open(dir.journal())
        .inspect_err(|error| {
            tracing::warn!(file = %dir.journal().display(), %error, "cannot open the journal; starting anyway");
        })
        .ok();
    if let Some((lease, journal_from)) = previous {
        let candidates: Vec<Candidate> = journal
            .as_ref()
            .map_or(Ok(Vec::new()), |journal| journal.unfinished(journal_from))
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot read the previous run's starts from the journal");
                Vec::new()
            })
            .into_iter()
            .map(|u| Candidate {
                service: u.service,
                pid: u.pid,
                start_ticks: u.start_ticks,
                boot_id: u.boot_id,
            })
            .collect();
        let candidates: Vec<Candidate> = candidates
            .into_iter()
            .filter(|c| !kept.pids.contains(&c.pid))
            .collect();
        let mut search = leftovers::find(&lease, &candidates);
        // What the keeper handed back runs on: no leftover.
        search.leftovers.retain(|leftover| !kept.holds(leftover));
        recovered.records = search.refused.iter().map(refused).collect();
        // Containers first: a leftover runtime client forwards a stop
        // signal to its container, whose PID 1 may ignore it, and so
        // would hold the start for its whole stop timeout; once its
        // container is removed, it ends at once.
        recovered.records.extend(remove_containers(config).await);
        recovered
            .records
            .extend(stop_all(&search.leftovers, config).await);
    }
    let from = journal.as_ref().map_or(0, Journal::last_id);
    // The processes the keeper handed back started before this run, yet
    // are its own: a kill of this run must find them too.
    let lease = Lease {
        took_back_since: kept
            .pids
            .iter()
            .filter_map(|pid| tend_process::identity::start_ticks(*pid))
            .min(),
        ..Lease::current()
    };
    if let Err(error) = write(dir, &lease, from) {
        // Without it, a `kill -9` of this run leaves what only its cgroups
        // can find.
        tracing::warn!(%error, "cannot write the lease; starting anyway");
    }
    Ok(recovered)
}

/// Says and journals a claim of the lease or the journal that was not
/// believed (and so nothing was signalled on its word).
fn refused(refused: &leftovers::Refused) -> Record {
    tracing::warn!(%refused, "a leftover named by the previous run was not believed");
    tend_process::diag!("tend: not stopped, not believed: {refused}");
    Record::Command {
        action: None,
        command: "recovery-refused".to_owned(),
        services: refused.service.iter().cloned().collect(),
        outcome: Some(refused.reason.clone()),
    }
}

/// Moves a corrupt journal aside; the record that begins the new one.
fn set_aside(dir: &StateDir) -> Result<Option<Record>, RecoveryError> {
    let file = dir.journal();
    let aside = tend_journal::set_aside_if_corrupt(&file, std::time::SystemTime::now())
        .map_err(|e| RecoveryError::Io(format!("checking {}: {e}", file.display())))?;
    Ok(aside.map(|aside| {
        let record = aside.record();
        tracing::warn!(
            file = %file.display(),
            moved_to = %aside.moved_to.display(),
            "{}",
            record.line("")
        );
        record
    }))
}

/// Gives up the lease (a clean end).
pub fn release(dir: &StateDir) {
    if let Ok(root) = dir.open() {
        root.remove(LEASE);
    }
}

/// The lease, if there is one; a torn one is ignored, but one that is not a
/// regular file (a planted link or FIFO) is refused.
fn read(dir: &StateDir) -> Result<Option<LeaseFile>, RecoveryError> {
    let Some(text) = dir
        .open()
        .and_then(|root| root.read(LEASE))
        .map_err(|e| RecoveryError::Io(e.to_string()))?
    else {
        return Ok(None);
    };
    match serde_json::from_slice(&text) {
        Ok(lease) => Ok(Some(lease)),
        Err(error) => {
            tracing::warn!(%error, file = %dir.lease().display(), "ignoring an unreadable lease");
            Ok(None)
        }
    }
}

fn write(dir: &StateDir, lease: &Lease, journal_from: i64) -> Result<(), RecoveryError> {
    let file = LeaseFile {
        pid: lease.pid,
        start_ticks: lease.start_ticks,
        boot_id: lease.boot_id.clone(),
        cgroup_dirs: lease.cgroup_dirs.clone(),
        took_back_since: lease.took_back_since,
        journal_from,
    };
    let text = serde_json::to_string_pretty(&file).unwrap_or_default();
    // Written whole or not at all: a torn lease would hide leftovers.
    dir.open()
        .and_then(|root| root.write_whole(LEASE, text.as_bytes()))
        .map_err(|e| RecoveryError::Io(format!("writing {}: {e}", dir.lease().display())))
}

/// Stops every leftover by its service's stop settings, all at once.
async fn stop_all(found: &[Leftover], config: &Config) -> Vec<Record> {
    // An empty cgroup (of a service that completed, or was stopped) holds
    // nothing to stop: it is only removed.
    let (empty, found): (Vec<&Leftover>, Vec<&Leftover>) = found
        .iter()
        .partition(|leftover| leftover.pids().is_empty());
    for leftover in empty {
        leftover.remove();
    }
    if found.is_empty() {
        return Vec::new();
    }
    let stops = stop_settings(config);
    let started = Instant::now();
    let mut pending: Vec<(&Leftover, Vec<u32>, Duration)> = found
        .iter()
        .map(|&leftover| {
            let (signal, timeout) = stops
                .get(&leftovers::safe_name(&leftover.service))
                .copied()
                .unwrap_or((tend_process::Signal::Term.number(), Duration::from_secs(10)));
            let pids = leftover.pids();
            tend_process::diag!(
                "tend: {} was left running by a killed tend (pid {}): stopping it",
                leftover.service,
                list(&pids)
            );
            leftover.signal(signal);
            (leftover, pids, timeout)
        })
        .collect();
    let mut records = Vec::new();
    let mut killed: Vec<(&Leftover, Vec<u32>)> = Vec::new();
    while !pending.is_empty() {
        pending.retain(|(leftover, pids, timeout)| {
            if leftover.is_gone() {
                records.push(stopped(leftover, pids, "stopped"));
                false
            } else if started.elapsed() >= *timeout {
                leftover.kill();
                killed.push((leftover, pids.clone()));
                false
            } else {
                true
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + AFTER_KILL;
    while killed.iter().any(|(l, _)| !l.is_gone()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (leftover, pids) in &killed {
        if !leftover.is_gone() {
            tracing::error!(service = %leftover.service, "a leftover survived SIGKILL");
        }
        records.push(stopped(leftover, pids, "killed"));
    }
    for leftover in &found {
        leftover.remove();
    }
    records
}

/// Removes the containers of this config's scope that a killed run left
/// (its services' or not: a later config may have dropped one). Asks only
/// when a runtime answers, so a machine without one pays nothing but that.
async fn remove_containers(config: &Config) -> Vec<Record> {
    let scope = tend_config::container_scope(&config.file);
    let prefix = format!("tend-{scope}-");
    tend_process::remove_scope(&scope)
        .await
        .into_iter()
        .map(|name| {
            let service = name.strip_prefix(&prefix).unwrap_or(&name).to_owned();
            tend_process::diag!(
                "tend: {service}'s container {name} was left by a killed tend: removed"
            );
            Record::LeftoverStopped {
                service,
                pids: Vec::new(),
                how: "container removed".to_owned(),
            }
        })
        .collect()
}

fn stopped(leftover: &Leftover, pids: &[u32], how: &str) -> Record {
    tend_process::diag!("tend: {} (pid {}) {how}", leftover.service, list(pids));
    Record::LeftoverStopped {
        service: leftover.service.clone(),
        pids: pids.to_vec(),
        how: how.to_owned(),
    }
}

fn list(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each instance's stop signal and timeout, by its cgroup-safe name (the
/// journal's names and the cgroups' names both map to it).
fn stop_settings(config: &Config) -> HashMap<String, (i32, Duration)> {
    let mut stops = HashMap::new();
    for service in &config.services {
        let stop = &service.process.stop;
        for instance in service.instances() {
            stops.insert(
                leftovers::safe_name(&instance),
                (stop.signal.number(), stop.timeout),
            );
        }
    }
    stops
}
