//! Orphans: descendants whose parent died are re-parented to the nearest
//! *subreaper*. A supervisor that makes itself one (or runs as PID 1) must
//! reap them, or they stay zombies.
//!
//! Reaping is driven by `SIGCHLD` (no polling). Each pass peeks at the next
//! waitable child with `waitid(P_ALL, WNOWAIT)`: an orphan is reaped on the
//! spot; a child spawned by this crate is left to its own pidfd waiter (which
//! wakes the reaper again once it has reaped), so the two never race. Spawns
//! register their pid under the same lock the reaper holds while it looks.

use std::collections::HashSet;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

#[derive(Default)]
struct Reaper {
    /// Pids of children spawned by this crate and not yet reaped.
    tracked: Mutex<HashSet<i32>>,
    wake: Notify,
}

static REAPER: OnceLock<Arc<Reaper>> = OnceLock::new();

/// Makes this process a child subreaper and starts reaping orphans. Call it
/// once, inside a tokio runtime, before starting process children; further
/// calls do nothing. PID 1 is the reaper of everything already: then only the
/// reaping starts.
///
/// # Errors
/// If the kernel refuses `PR_SET_CHILD_SUBREAPER` or the `SIGCHLD` handler.
pub fn enable_orphan_reaping() -> io::Result<()> {
    if REAPER.get().is_some() {
        return Ok(());
    }
    if std::process::id() != 1 {
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?;
    }
    let mut sigchld = signal(SignalKind::child())?;
    let reaper = Arc::new(Reaper::default());
    if REAPER.set(reaper.clone()).is_err() {
        return Ok(());
    }
    tokio::spawn(async move {
        loop {
            reaper.reap_orphans();
            tokio::select! {
                _ = sigchld.recv() => {}
                () = reaper.wake.notified() => {}
            }
        }
    });
    Ok(())
}

impl Reaper {
    fn reap_orphans(&self) {
        let tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let peek = waitid(Id::All, WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT);
            let pid = match peek {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(status) => match status.pid() {
                    Some(pid) => pid,
                    None => return,
                },
            };
            if tracked.contains(&pid.as_raw()) {
                // Ours: its waiter reaps it and wakes us for what is behind.
                return;
            }
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(status) => tracing::debug!(pid = pid.as_raw(), ?status, "reaped orphan"),
                Err(error) => {
                    tracing::warn!(pid = pid.as_raw(), %error, "cannot reap orphan");
                    return;
                }
            }
        }
    }
}

/// Held while spawning, so the reaper cannot mistake the new child for an
/// orphan before its pid is registered.
pub(crate) struct SpawnLock(Option<MutexGuard<'static, HashSet<i32>>>);

impl SpawnLock {
    pub(crate) fn acquire() -> Self {
        SpawnLock(REAPER.get().map(|r| r.tracked.lock().unwrap_or_else(|e| e.into_inner())))
    }

    pub(crate) fn track(mut self, pid: i32) {
        if let Some(tracked) = self.0.as_mut() {
            tracked.insert(pid);
        }
    }
}

/// Called after a tracked child was reaped through its pidfd.
pub(crate) fn reaped(pid: i32) {
    if let Some(reaper) = REAPER.get() {
        reaper.tracked.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
        reaper.wake.notify_one();
    }
}
