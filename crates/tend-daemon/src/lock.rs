//! One daemon per state directory, with no race.
//!
//! A daemon holds an exclusive `flock` on `tend.lock` in its state
//! directory from before it touches anything there until it exits: of two
//! `tend up` started at once, the kernel lets exactly one take it, and the
//! other says who runs (the pid the holder wrote into the file). The lock
//! belongs to an open file, not to a process, so it passes on without a
//! gap:
//!
//! - `tend up -d` takes it before it starts the daemon, which inherits the
//!   descriptor (named by `TEND_LOCK_FD`): a second `tend up -d` is refused
//!   at once, not after starting a daemon of its own;
//! - `tend upgrade` carries the descriptor across its `exec`.
//!
//! Everywhere else the descriptor is close-on-exec: a service never holds
//! its daemon's lock. A `kill -9` releases it with the process; the file
//! itself stays (removing it would let two daemons lock two files).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::FlockOperation;

use crate::paths::{Access, Dir, StateDir, LOCK};

/// The environment variable naming the lock's descriptor a `tend up -d`
/// hands to the daemon it starts.
const HANDED_FD: &str = tend_keeper::wire::LOCK_FD;

/// How long a refused `tend up` waits for the holder to write its pid
/// (it does right after taking the lock).
const HOLDER_WRITES: Duration = Duration::from_secs(2);

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another daemon holds it.
    #[error("{}", held(.dir, *.pid))]
    Held {
        /// The state directory.
        dir: PathBuf,
        /// The holder, as it wrote itself down.
        pid: Option<u32>,
    },
    /// The lock file could not be opened or locked.
    #[error("locking {}: {source}", file.display())]
    Io {
        /// The lock file.
        file: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// What a refused `tend up` says.
pub fn held(dir: &Path, pid: Option<u32>) -> String {
    let who = pid.map_or_else(String::new, |pid| format!(" (pid {pid})"));
    format!(
        "tend is already running{who} for {}; `tend down` stops it",
        dir.display()
    )
}

/// The state directory's lock, held while this lives.
#[derive(Debug)]
pub struct Lock {
    file: File,
}

impl Lock {
    /// Takes `dir`'s lock (`dir` exists): the one a `tend up -d` handed
    /// to this process ([`handed`]) if it is this file's, else the file's
    /// own, without waiting.
    ///
    /// # Errors
    /// [`LockError::Held`] naming the holder's pid, if another holds it.
    pub fn take(dir: &StateDir, handed: Option<OwnedFd>) -> Result<Lock, LockError> {
        let path = dir.lock();
        let io = |source| LockError::Io {
            file: path.clone(),
            source,
        };
        // Opened in the checked directory: no symbolic link, no FIFO.
        let root = dir.open().map_err(io)?;
        let file = match handed.map(File::from).filter(|file| is_file(file, &root)) {
            Some(file) => file,
            None => root.open_file(LOCK, Access::ReadWrite).map_err(io)?,
        };
        // A handed lock is this open file's already: taking it again holds.
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(LockError::Held {
                    dir: dir.root().to_path_buf(),
                    pid: holder(&root),
                })
            }
            Err(error) => return Err(io(error.into())),
        }
        // Whoever held it before is not named; its holder writes itself
        // down (`note_holder`).
        file.set_len(0).map_err(io)?;
        Ok(Lock { file })
    }

    /// The lock an upgraded daemon's previous image held.
    #[must_use]
    pub fn inherited(fd: OwnedFd) -> Lock {
        Lock {
            file: File::from(fd),
        }
    }

    /// Writes `pid` down as the holder's, for a refused `tend up` to name.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn note_holder(&self, pid: u32) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.write_all_at(format!("{pid}\n").as_bytes(), 0)
    }

    /// Lets `command`'s process inherit the lock (and find it by
    /// `TEND_LOCK_FD`): `tend up -d`'s daemon. Until [`Lock::keep`], any
    /// program this one starts would inherit it too.
    ///
    /// # Errors
    /// If the descriptor's flags cannot be changed.
    pub fn hand_to(&self, command: &mut std::process::Command) -> io::Result<()> {
        command.env(HANDED_FD, self.inheritable()?.to_string());
        Ok(())
    }

    /// Makes the descriptor close-on-exec again, after [`Lock::hand_to`].
    ///
    /// # Errors
    /// If the descriptor's flags cannot be changed.
    pub fn keep(&self) -> io::Result<()> {
        rustix::io::fcntl_setfd(&self.file, rustix::io::FdFlags::CLOEXEC)?;
        Ok(())
    }

    /// The descriptor, left open across an `exec` (`tend upgrade`).
    ///
    /// # Errors
    /// If the descriptor's flags cannot be changed.
    pub fn inheritable(&self) -> io::Result<RawFd> {
        rustix::io::fcntl_setfd(&self.file, rustix::io::FdFlags::empty())?;
        Ok(self.file.as_raw_fd())
    }

    /// Gives the lock up at a clean end: no pid is left in the file.
    pub fn release(self) {
        let _ = self.file.set_len(0);
    }
}

impl AsFd for Lock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Writes `pid` down as the holder's through the lock `tend up -d` handed
/// to this process (`TEND_LOCK_FD`, left in place for the daemons it
/// starts): the keeper names the daemon it started, for a refused `tend up`.
///
/// # Errors
/// If no lock was handed over, or the file cannot be written.
pub fn note_handed_holder(pid: u32) -> io::Result<()> {
    let fd: RawFd = std::env::var(HANDED_FD)
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|fd| *fd >= 0)
        .ok_or_else(|| io::Error::other("no lock was handed over"))?;
    // SAFETY: only borrowed for the two calls below: the number was
    // inherited for this purpose and stays open in this process (the
    // keeper owns it for its whole life).
    #[allow(unsafe_code)]
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    rustix::fs::ftruncate(borrowed, 0)?;
    rustix::io::pwrite(borrowed, format!("{pid}\n").as_bytes(), 0)?;
    Ok(())
}

/// The lock's descriptor a `tend up -d` handed to this process, if it
/// handed one: made close-on-exec at once, so that nothing this process
/// starts inherits it (call it first, before anything is started).
#[must_use]
pub fn handed() -> Option<OwnedFd> {
    // Not passed on to the services. `Lock::take` checks it is the lock
    // file.
    let owned = tend_keeper::inherit::from_env(HANDED_FD, true, |_| true)?;
    rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC).ok()?;
    Some(owned)
}

/// Whether `file` is the lock file in `root` (a descriptor named by a
/// stray variable is not taken for the lock).
fn is_file(file: &File, root: &Dir) -> bool {
    let here = rustix::fs::statat(root.fd(), LOCK, rustix::fs::AtFlags::SYMLINK_NOFOLLOW);
    match (file.metadata(), here) {
        (Ok(open), Ok(here)) => open.dev() == here.st_dev && open.ino() == here.st_ino,
        _ => false,
    }
}

/// The pid the holder of the lock in `root` wrote down, once it did (and
/// while that process lives: a killed daemon's pid is not named).
/// Whether some process holds `dir`'s lock now: a daemon, or the keeper
/// that is starting one again. Asked with a shared lock taken and let go
/// at once, never waited for; `false` if the file cannot be opened.
#[must_use]
pub fn is_held(dir: &StateDir) -> bool {
    let Ok(file) = dir
        .open()
        .and_then(|root| root.open_file(LOCK, Access::Read))
    else {
        return false;
    };
    matches!(
        rustix::fs::flock(&file, FlockOperation::NonBlockingLockShared),
        Err(rustix::io::Errno::WOULDBLOCK)
    )
}

fn holder(root: &Dir) -> Option<u32> {
    let deadline = Instant::now() + HOLDER_WRITES;
    loop {
        let written = root.read(LOCK).ok().flatten().unwrap_or_default();
        let pid = std::str::from_utf8(&written)
            .ok()
            .and_then(|w| w.strip_suffix('\n'))
            .and_then(|pid| pid.parse::<u32>().ok())
            .filter(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if pid.is_some() || Instant::now() > deadline {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_dir() -> (PathBuf, StateDir) {
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let root = std::env::temp_dir().join(format!("tend-lock-{}-{unique}", std::process::id()));
        let dir = StateDir::for_config(Path::new("tend.toml"), Some(&root));
        dir.create().unwrap();
        (root, dir)
    }

    #[test]
    fn one_holder_at_a_time_and_the_other_is_told_who() {
        let (root, dir) = state_dir();
        let first = Lock::take(&dir, None).unwrap();
        first.note_holder(std::process::id()).unwrap();
        let refused = Lock::take(&dir, None).unwrap_err();
        let me = std::process::id();
        assert!(
            matches!(refused, LockError::Held { pid: Some(pid), .. } if pid == me),
            "{refused:?}"
        );
        assert!(
            refused
                .to_string()
                .starts_with(&format!("tend is already running (pid {me}) for ")),
            "{refused}"
        );
        first.release();
        let again = Lock::take(&dir, None).unwrap();
        drop(again);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_lock_is_close_on_exec_unless_handed() {
        let (root, dir) = state_dir();
        let lock = Lock::take(&dir, None).unwrap();
        let flags = rustix::io::fcntl_getfd(&lock).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        let mut command = std::process::Command::new("true");
        lock.hand_to(&mut command).unwrap();
        assert!(rustix::io::fcntl_getfd(&lock).unwrap().is_empty());
        lock.keep().unwrap();
        assert!(rustix::io::fcntl_getfd(&lock)
            .unwrap()
            .contains(rustix::io::FdFlags::CLOEXEC));
        drop(lock);
        std::fs::remove_dir_all(root).unwrap();
    }
}
