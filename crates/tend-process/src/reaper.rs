//! Orphans: descendants whose parent died are re-parented to the nearest
//! *subreaper*. A supervisor that makes itself one (or runs as PID 1) must
//! reap them, or they stay zombies.
//!
//! One dedicated thread does it, blocked in `waitid(P_ALL, WNOWAIT)` until
//! some child of this process has ended: no polling and no signal handler,
//! and it keeps working whichever tokio runtimes come and go. It only *peeks*
//! first: an orphan is reaped on the spot; a child spawned by this crate is
//! left to its own pidfd waiter, and the thread sleeps until that waiter
//! reports it reaped (`reaped`). Spawns register their pid while holding a
//! shared lock whose exclusive side the thread takes before deciding, so a
//! new child is never mistaken for an orphan, and spawns never wait for one
//! another (a `CLONE_VFORK` spawn holds its thread until the child execs:
//! one lock for all made every start wait for the one before, issue 26).
//!
//! Each `waitid(P_ALL)` walks every child in the kernel: one per exit made
//! stopping (or restarting) N children O(N²). It therefore scans at most
//! once per [`INTERVAL`] while what it finds is one of ours (whose own
//! waiter reaps it): its scans are bounded in rate, whatever the rate of
//! exits, and an orphan is reaped at most that much later. Orphans it
//! reaps one scan after another, without pausing. (Children spawned with no exit signal would be
//! invisible to it, but `execve` gives every process `SIGCHLD` back.)

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use rustix::process::{waitpid, Pid, WaitOptions};

use crate::exit::Ended;

#[derive(Default)]
struct Reaper {
    /// Held shared from before a spawn until its pid is in `tracked`, and
    /// exclusively by the thread while it decides whether an ended child is
    /// an orphan.
    spawning: RwLock<()>,
    /// Pids of children spawned by this crate and not yet reaped.
    tracked: Mutex<HashSet<i32>>,
    /// Signalled when a tracked child is reaped or a new one is spawned.
    changed: Condvar,
    /// Tracked children whose waiter never came (its runtime ended, say),
    /// reaped here after a grace period: their end, for a late waiter.
    abandoned: Mutex<HashMap<i32, Ended>>,
}

/// How long a tracked child may stay a zombie before the reaper takes it.
const GRACE: Duration = Duration::from_secs(2);

/// The least time between two scans: at most 20 a second, however many
/// children end.
const INTERVAL: Duration = Duration::from_millis(50);

/// Children are tracked whether or not reaping is enabled, so enabling it
/// late never makes it take a running child for an orphan.
static REAPER: OnceLock<Reaper> = OnceLock::new();
static REAPING: OnceLock<()> = OnceLock::new();
/// Children this process had when reaping began, before it spawned any: a
/// shell's process substitution (`tend up 2> >(logger)`, forked by the
/// shell before it exec'd tend) is tend's child, yet no orphan of a stop,
/// and it ends only once tend has: the wait at exit does not wait for it.
static INHERITED: OnceLock<HashSet<i32>> = OnceLock::new();
/// Set by a re-exec's handover: tracked processes are never reaped here.
static HOLD: AtomicBool = AtomicBool::new(false);

fn reaper() -> &'static Reaper {
    REAPER.get_or_init(Reaper::default)
}

/// Makes this process a child subreaper and starts reaping orphans (see
/// the crate's `enable_orphan_reaping`).
pub(crate) fn enable_orphan_reaping() -> io::Result<()> {
    let mut result = Ok(());
    REAPING.get_or_init(|| {
        INHERITED.get_or_init(children);
        let reaper = reaper();
        if std::process::id() != 1 {
            if let Err(error) =
                rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
            {
                result = Err(error.into());
            }
        }
        if let Err(error) = std::thread::Builder::new()
            .name("tend-reaper".into())
            .spawn(move || reaper.run())
        {
            result = Err(error);
        }
    });
    result
}

impl Reaper {
    fn lock(&self) -> MutexGuard<'_, HashSet<i32>> {
        self.tracked.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self) {
        // One of ours seen ended and not yet reaped by its waiter, since.
        let mut stuck: Option<(i32, std::time::Instant)> = None;
        let mut scanned = std::time::Instant::now();
        // Whether the last scan found one of ours (its waiter reaps it):
        // then the next waits out the interval. After an orphan it does
        // not: orphans (a killed group's grandchildren) come in hundreds,
        // and each scan reaps one.
        let mut pause = false;
        loop {
            // At most one scan per interval while only ours are ending.
            if std::mem::take(&mut pause) {
                std::thread::sleep(INTERVAL.saturating_sub(scanned.elapsed()));
            }
            scanned = std::time::Instant::now();
            match waitid(Id::All, WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
                Err(Errno::ECHILD) => {
                    // No child at all: sleep until one is spawned (and the
                    // interval is over: a child restarting in a loop leaves
                    // none for a moment each time).
                    let tracked = self.lock();
                    let _ = self.changed.wait_timeout(tracked, Duration::from_secs(1));
                }
                Err(Errno::EINTR) => {}
                Err(error) => {
                    tracing::error!(%error, "orphan reaper stopped");
                    return;
                }
                Ok(status) => {
                    let Some(pid) = status.pid() else { continue };
                    // No spawn is under way while this is held: a child
                    // not tracked now is not ours.
                    let spawning = self.spawning.write().unwrap_or_else(|e| e.into_inner());
                    let tracked = self.lock();
                    if tracked.contains(&pid.as_raw()) && HOLD.load(Ordering::Acquire) {
                        // Handed over: its status belongs to the next image.
                        drop(spawning);
                        drop(
                            self.changed
                                .wait_while(tracked, |t| t.contains(&pid.as_raw()))
                                .unwrap_or_else(|e| e.into_inner()),
                        );
                        continue;
                    }
                    if tracked.contains(&pid.as_raw()) {
                        // Ours: its waiter reaps it, and others of ours are
                        // likely ending too (a stop, a restart): look again
                        // after the interval. If its waiter has not come
                        // within the grace period (its runtime is gone),
                        // reap it here and keep its end for a late waiter,
                        // so it blocks no orphan behind it.
                        let since = match stuck {
                            Some((stuck_pid, since)) if stuck_pid == pid.as_raw() => since,
                            _ => scanned,
                        };
                        drop(spawning);
                        if since.elapsed() < GRACE {
                            stuck = Some((pid.as_raw(), since));
                            pause = true;
                            continue;
                        }
                        let mut tracked = tracked;
                        stuck = None;
                        tracked.remove(&pid.as_raw());
                        if let Ok(Some(ended)) = reap(pid.as_raw()) {
                            self.abandoned
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(pid.as_raw(), ended);
                        }
                        continue;
                    }
                    drop(tracked);
                    // An orphan: its pid cannot be reused before it is
                    // reaped, so spawns may go on meanwhile.
                    drop(spawning);
                    match reap(pid.as_raw()) {
                        Ok(None) | Err(rustix::io::Errno::CHILD) => {}
                        Ok(Some(ended)) => {
                            tracing::debug!(pid = pid.as_raw(), ?ended, "reaped orphan");
                            self.changed.notify_all();
                        }
                        Err(error) => {
                            tracing::warn!(pid = pid.as_raw(), %error, "cannot reap orphan")
                        }
                    }
                }
            }
        }
    }
}

/// Waits, up to `timeout`, until this process has no child left at all
/// (every orphan killed by a stop has been reaped): for a supervisor about to
/// exit, so it leaves no zombie to whoever inherits them. Returns whether
/// none is left. Returns at once if orphan reaping is not enabled.
pub fn wait_for_orphans(timeout: Duration) -> bool {
    if REAPING.get().is_none() {
        return true;
    }
    let reaper = reaper();
    let deadline = std::time::Instant::now() + timeout;
    let mut tracked = reaper.lock();
    let inherited = INHERITED.get_or_init(HashSet::new);
    loop {
        match waitid(
            Id::All,
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT,
        ) {
            Err(Errno::ECHILD) => return true,
            // None has ended: done if those left were all there before
            // tend spawned anything (and none was handed over to it). An
            // empty list (no `children` file in /proc) proves nothing.
            Ok(nix::sys::wait::WaitStatus::StillAlive) => {
                let left = children();
                if !left.is_empty()
                    && left
                        .iter()
                        .all(|pid| inherited.contains(pid) && !tracked.contains(pid))
                {
                    return true;
                }
            }
            _ => {}
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return false;
        }
        // Woken by each reap; the short bound covers children still dying.
        let wait = (deadline - now).min(Duration::from_millis(10));
        tracked = reaper
            .changed
            .wait_timeout(tracked, wait)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// This process's children now, from `/proc` (every thread's list: a
/// child belongs to the thread that made it).
fn children() -> HashSet<i32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return HashSet::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

/// Held while spawning, so the reaper cannot mistake the new child for an
/// orphan before its pid is registered. Shared: spawns run side by side.
pub(crate) struct SpawnLock {
    _shared: RwLockReadGuard<'static, ()>,
}

impl SpawnLock {
    pub(crate) fn acquire() -> Self {
        SpawnLock {
            _shared: reaper().spawning.read().unwrap_or_else(|e| e.into_inner()),
        }
    }

    pub(crate) fn track(self, pid: i32) {
        let reaper = reaper();
        reaper.lock().insert(pid);
        drop(self);
        reaper.changed.notify_all();
    }
}

/// Reaps `pid` if it has ended; how it ended.
fn reap(pid: i32) -> rustix::io::Result<Option<Ended>> {
    let Some(pid) = Pid::from_raw(pid) else {
        return Ok(None);
    };
    Ok(waitpid(Some(pid), WaitOptions::NOHANG)?
        .and_then(|(_, status)| Ended::decode(status.exit_status(), status.terminating_signal())))
}

/// The end of a tracked child that the reaper had to reap itself.
pub(crate) fn take_abandoned(pid: i32) -> Option<Ended> {
    let reaper = reaper();
    // The thread holds `tracked` from before it reaps a child until its end
    // is among the abandoned: a waiter told "no such child" in between
    // (seen once, with a waiter kept 2 s) waits here for that end.
    let _tracked = reaper.lock();
    reaper
        .abandoned
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&pid)
}

/// From now on a tracked process is never reaped here, however long its
/// incarnation takes: a re-exec hands it over, and its exit status must
/// still be there for the next program image.
pub(crate) fn hold_tracked() {
    HOLD.store(true, Ordering::Release);
}

/// Called after a tracked child was reaped through its pidfd.
pub(crate) fn reaped(pid: i32) {
    let reaper = reaper();
    reaper.lock().remove(&pid);
    reaper.changed.notify_all();
}

/// Processes another process reaps for this one (tend's keeper, their
/// parent since a previous daemon died), by pid: their end once it is told
/// ([`fostered_ended`]), with when it ended.
static FOSTERED: Mutex<Option<Fostered>> = Mutex::new(None);
/// Each fostered pid, with its end and when it came, once told.
type Fostered = HashMap<i32, Option<(Ended, SystemTime)>>;
/// When each fostered process whose end was taken ended, until its
/// incarnation asks ([`ended_at`]).
static ENDED_AT: Mutex<Option<HashMap<i32, SystemTime>>> = Mutex::new(None);
/// Told whenever a fostered process's end arrives.
static FOSTERED_ENDED: tokio::sync::Notify = tokio::sync::Notify::const_new();
/// How long a fostered process's end may take to arrive once its pidfd
/// said it ended.
const FOSTERED_WAIT: Duration = Duration::from_secs(10);

fn fostered() -> MutexGuard<'static, Option<Fostered>> {
    FOSTERED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts `pid` as reaped by another process, whose word on its end is to
/// come through [`fostered_ended`] (and may have come already).
pub(crate) fn foster(pid: i32) {
    fostered()
        .get_or_insert_with(HashMap::new)
        .entry(pid)
        .or_insert(None);
}

/// Whether `pid` is reaped by another process.
pub(crate) fn is_fostered(pid: i32) -> bool {
    fostered().as_ref().is_some_and(|f| f.contains_key(&pid))
}

/// How a fostered process ended, and when, as its parent (tend's keeper)
/// reaped it. Ignored for a pid not fostered (one this process reaps
/// itself): a stale end must never be taken for a later process with the
/// same pid.
pub fn fostered_ended(pid: i32, ended: Ended, at: SystemTime) {
    if let Some(end) = fostered().as_mut().and_then(|f| f.get_mut(&pid)) {
        *end = Some((ended, at));
    }
    FOSTERED_ENDED.notify_waiters();
}

/// When fostered `pid` ended, if its end was taken (once: its incarnation
/// dates its exit back by as much).
pub(crate) fn ended_at(pid: i32) -> Option<SystemTime> {
    ENDED_AT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()?
        .remove(&pid)
}

/// Waits for the end of fostered `pid` (its pidfd said it ended; its
/// parent's word follows). An error if none comes within 10 s: its parent
/// is gone too, and how it ended is not known.
pub(crate) async fn fostered_end(pid: i32) -> io::Result<Ended> {
    let deadline = tokio::time::Instant::now() + FOSTERED_WAIT;
    loop {
        let told = FOSTERED_ENDED.notified();
        tokio::pin!(told);
        told.as_mut().enable();
        let told_already = {
            let mut fostered = fostered();
            let f = fostered.get_or_insert_with(HashMap::new);
            match f.get(&pid) {
                Some(Some((ended, at))) => {
                    let (ended, at) = (*ended, *at);
                    f.remove(&pid);
                    ENDED_AT
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert_with(HashMap::new)
                        .insert(pid, at);
                    Some(ended)
                }
                _ => None,
            }
        };
        if let Some(ended) = told_already {
            return Ok(ended);
        }
        if tokio::time::timeout_at(deadline, told).await.is_err() {
            if let Some(f) = fostered().as_mut() {
                f.remove(&pid);
            }
            return Err(io::Error::other(
                "its parent, tend's keeper, did not say how it ended",
            ));
        }
    }
}
