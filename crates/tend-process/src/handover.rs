//! A planned re-exec (`tend upgrade`): the running processes of this
//! program image handed, alive, to the next one.
//!
//! Across `execve` a process keeps its pid, its children and every
//! descriptor not marked close-on-exec. So the next image can go on where
//! this one stopped: each process stays our child (its exit status ours to
//! reap, even if it ends in between), its pipes keep what it writes
//! meanwhile (a writer that fills one just waits), its notify socket keeps
//! its address and its cgroup its name.
//!
//! 1. [`Handover::collect`] asks every live incarnation to park: its output
//!    pumps write the lines the pipes hold and stop at a line boundary (a
//!    partial line is carried along), and it leaves its process running and
//!    its descriptors here. From then on nothing new is spawned, and the
//!    orphan reaper leaves tracked processes to the next image.
//! 2. [`Handover::parcel`] describes them as plain data, their descriptors
//!    made inheritable, for the caller to pass to the next image with the
//!    rest of what it carries over (as [tend-daemon](https://docs.rs/tend-daemon)
//!    does for `tend upgrade`).
//! 3. The next image calls [`Parcel::adopt`] before anything starts; the
//!    incarnation of the child with the same id then takes its process
//!    over instead of spawning one, and [`stop_unclaimed`] stops those no
//!    child took (a service removed from the config meanwhile).
//!
//! The state is the process's own (one exec replaces the whole program),
//! hence statics rather than a value passed around.
//!
//! ```no_run
//! use std::os::unix::process::CommandExt;
//! use tend_process::handover::{self, Handover, Parcel};
//!
//! # async fn old_image() -> std::io::Result<()> {
//! // The image that leaves: park everything, describe it, exec.
//! let processes = Handover::collect().await;
//! let parcel = serde_json::to_string(&processes.parcel()?)?;
//! let error = std::process::Command::new("/usr/local/bin/my-supervisor")
//!     .env("PARCEL", parcel)
//!     .exec();
//! # Err(error) }
//! # async fn new_image() -> std::io::Result<()> {
//! // The image that arrives, before its tree starts: take them over.
//! if let Ok(text) = std::env::var("PARCEL") {
//!     let parcel: Parcel = serde_json::from_str(&text)?;
//!     parcel.adopt()?;
//! }
//! tend_process::enable_orphan_reaping()?;
//! // … start the tree: each process child claims its process …
//! let stopped = handover::stop_unclaimed(|id| id == "web" || id == "db").await;
//! # let _ = stopped; Ok(()) }
//! ```

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use rustix::io::FdFlags;
use rustix::process::Pid;
use serde::{Deserialize, Serialize};

use crate::group::{kill_group, signal_group};
use crate::held::{self, HeldProcess};
use crate::reaper::{self, SpawnLock};
use crate::wait::PidFd;

/// How long a process no child claimed gets between `SIGTERM` and
/// `SIGKILL`.
const UNCLAIMED_STOP: Duration = Duration::from_secs(10);

/// Whether a handover was asked for (`true` from then on).
static REQUESTED: AtomicBool = AtomicBool::new(false);
static STATE: Mutex<State> = Mutex::new(State {
    live: 0,
    parked: Vec::new(),
    adoptable: None,
});

/// Changes of `live` (an incarnation parked or ended).
static CHANGED: LazyLock<tokio::sync::Notify> = LazyLock::new(tokio::sync::Notify::new);

struct State {
    /// Incarnations with a process, not parked.
    live: usize,
    parked: Vec<Parked>,
    /// What a previous image handed over, by child id, until claimed.
    adoptable: Option<HashMap<String, Adopted>>,
}

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// One parked incarnation's process, its descriptors owned here.
pub(crate) struct Parked {
    pub(crate) id: String,
    /// The process spawned: its pid is its process group's id.
    pub(crate) group: i32,
    /// The process watched (the one spawned, or the main process it named).
    pub(crate) main: i32,
    pub(crate) pidfd: OwnedFd,
    pub(crate) stdout: Option<(OwnedFd, Vec<u8>)>,
    pub(crate) stderr: Option<(OwnedFd, Vec<u8>)>,
    /// The notify socket and its address (`@name`).
    pub(crate) notify: Option<(OwnedFd, String)>,
    /// The cgroup directory and the v1 groups holding its limits.
    pub(crate) cgroup: Option<(PathBuf, Vec<(String, PathBuf)>)>,
    pub(crate) ready: bool,
}

/// A process a previous image handed over, as an incarnation takes it.
pub(crate) struct Adopted {
    pub(crate) group: i32,
    pub(crate) main: i32,
    pub(crate) pidfd: OwnedFd,
    pub(crate) stdout: Option<(OwnedFd, Vec<u8>)>,
    pub(crate) stderr: Option<(OwnedFd, Vec<u8>)>,
    pub(crate) notify: Option<(OwnedFd, String)>,
    pub(crate) cgroup: Option<(PathBuf, Vec<(String, PathBuf)>)>,
    pub(crate) ready: bool,
}

/// Counts an incarnation as live until it parks or ends.
pub(crate) struct Live(());

impl Live {
    /// Counts an incarnation in before it spawns, unless a handover was
    /// asked for (then it must not spawn). One lock with the request, so a
    /// handover never misses a process spawned while it began.
    pub(crate) fn enter() -> Option<Live> {
        let mut state = state();
        if is_requested() {
            return None;
        }
        state.live += 1;
        Some(Live(()))
    }

    /// Leaves the process to the next image.
    pub(crate) fn park(self, parked: Parked) {
        state().parked.push(parked);
        // Drop counts it out.
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        state().live -= 1;
        CHANGED.notify_waiters();
    }
}

/// Whether a handover was asked for.
fn is_requested() -> bool {
    REQUESTED.load(Ordering::Acquire)
}

/// What every live incarnation is asked.
pub(crate) enum Asked {
    /// To park: a handover is under way.
    Park,
    /// To give the holder its process again ([`held::hold_again`]); the
    /// round to remember.
    HoldAgain(u64),
}

/// Returns once a handover is asked for, or a hold-again round later than
/// `seen` (never, if neither comes).
pub(crate) async fn asked(seen: u64) -> Asked {
    loop {
        // Made before the checks: a request in between still wakes it.
        let asked = held::ASKED.notified();
        if is_requested() {
            return Asked::Park;
        }
        let round = held::round();
        if round != seen {
            return Asked::HoldAgain(round);
        }
        asked.await;
    }
}

/// Takes the process a previous image handed over for child `id`, if any.
pub(crate) fn claim(id: &str) -> Option<Adopted> {
    state().adoptable.as_mut()?.remove(id)
}

/// The processes of this image, parked for the next one.
pub struct Handover {
    parked: Vec<Parked>,
}

impl std::fmt::Debug for Handover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handover")
            .field("processes", &self.parked.len())
            .finish()
    }
}

impl Handover {
    /// Asks every incarnation to park and returns once none is live: those
    /// running park at once; one being stopped finishes its stop first
    /// (its stop timeout bounds the wait), and one due to start does not
    /// spawn. There is no way back: the caller is to exec.
    pub async fn collect() -> Handover {
        reaper::hold_tracked();
        {
            let _counting = state();
            REQUESTED.store(true, Ordering::Release);
            held::ASKED.notify_waiters();
        }
        loop {
            let changed = CHANGED.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = state();
                if state.live == 0 {
                    return Handover {
                        parked: std::mem::take(&mut state.parked),
                    };
                }
            }
            changed.await;
        }
    }

    /// Describes the processes for the next image, their descriptors made
    /// inheritable (they stay owned here: keep `self` until the exec).
    ///
    /// # Errors
    /// If a descriptor's flags cannot be changed.
    pub fn parcel(&self) -> io::Result<Parcel> {
        let inherit = |fd: &OwnedFd| -> io::Result<RawFd> {
            rustix::io::fcntl_setfd(fd, FdFlags::empty())?;
            Ok(fd.as_raw_fd())
        };
        let pipe = |p: &Option<(OwnedFd, Vec<u8>)>| -> io::Result<Option<PassedPipe>> {
            p.as_ref()
                .map(|(fd, rest)| {
                    Ok(PassedPipe {
                        fd: inherit(fd)?,
                        rest: rest.clone(),
                    })
                })
                .transpose()
        };
        let processes = self
            .parked
            .iter()
            .map(|p| {
                Ok(PassedProcess {
                    id: p.id.clone(),
                    group: p.group,
                    main: p.main,
                    pidfd: inherit(&p.pidfd)?,
                    stdout: pipe(&p.stdout)?,
                    stderr: pipe(&p.stderr)?,
                    notify: p
                        .notify
                        .as_ref()
                        .map(|(fd, address)| {
                            Ok::<_, io::Error>(PassedNotify {
                                fd: inherit(fd)?,
                                address: address.clone(),
                            })
                        })
                        .transpose()?,
                    cgroup: p.cgroup.as_ref().map(|(dir, v1)| PassedCgroup {
                        dir: dir.clone(),
                        v1: v1.clone(),
                    }),
                    ready: p.ready,
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Parcel { processes })
    }
}

/// The processes handed to the next image: plain data with descriptor
/// numbers, for the caller to carry (as JSON, say) across the exec.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Parcel {
    processes: Vec<PassedProcess>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PassedProcess {
    id: String,
    group: i32,
    main: i32,
    pidfd: RawFd,
    stdout: Option<PassedPipe>,
    stderr: Option<PassedPipe>,
    notify: Option<PassedNotify>,
    cgroup: Option<PassedCgroup>,
    ready: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PassedPipe {
    fd: RawFd,
    /// A partial line read before the handover.
    rest: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PassedNotify {
    fd: RawFd,
    address: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PassedCgroup {
    dir: PathBuf,
    v1: Vec<(String, PathBuf)>,
}

impl Parcel {
    /// The ids of the children whose processes it describes.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.processes.iter().map(|p| p.id.as_str())
    }

    /// Takes the processes over, in the image that inherited them: their
    /// descriptors become this image's (close-on-exec again), their pids
    /// are kept from the orphan reaper, and each waits for the incarnation
    /// of its child to claim it. Call it once, before any child starts and
    /// before [`enable_orphan_reaping`](crate::enable_orphan_reaping).
    ///
    /// # Errors
    /// If a descriptor it names is not open here (it was not inherited):
    /// then nothing is taken.
    pub fn adopt(self) -> io::Result<usize> {
        let all_open = self.processes.iter().all(|p| {
            let mut fds = vec![p.pidfd];
            fds.extend(p.stdout.iter().chain(&p.stderr).map(|pipe| pipe.fd));
            fds.extend(p.notify.iter().map(|n| n.fd));
            fds.into_iter().all(is_open)
        });
        if !all_open {
            return Err(io::Error::other(
                "a handed-over descriptor is not open in this process",
            ));
        }
        let count = self.processes.len();
        let mut adoptable = HashMap::with_capacity(count);
        for p in self.processes {
            // SAFETY (the one place descriptors are taken by number): each
            // was inherited across the exec for this purpose, is open (checked
            // above), and nothing else in this image knows its number.
            #[allow(unsafe_code)]
            let own = |fd: RawFd| -> io::Result<OwnedFd> {
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                rustix::io::fcntl_setfd(&fd, FdFlags::CLOEXEC)?;
                Ok(fd)
            };
            let pipe = |pipe: Option<PassedPipe>| -> io::Result<Option<(OwnedFd, Vec<u8>)>> {
                pipe.map(|p| Ok((own(p.fd)?, p.rest))).transpose()
            };
            // The process group's leader was reaped already if it is not
            // the main process (it handed over with `MAINPID=`).
            SpawnLock::acquire().track(p.main);
            adoptable.insert(
                p.id,
                Adopted {
                    group: p.group,
                    main: p.main,
                    pidfd: own(p.pidfd)?,
                    stdout: pipe(p.stdout)?,
                    stderr: pipe(p.stderr)?,
                    notify: p
                        .notify
                        .map(|n| Ok::<_, io::Error>((own(n.fd)?, n.address)))
                        .transpose()?,
                    cgroup: p.cgroup.map(|c| (c.dir, c.v1)),
                    ready: p.ready,
                },
            );
        }
        state().adoptable = Some(adoptable);
        Ok(count)
    }
}

/// Takes back processes a previous supervisor of this tree left running,
/// as its [`Holder`](crate::held::Holder) kept them (tend's keeper, after
/// the daemon died): each waits for the incarnation of its child to claim
/// it, as a handed-over one does. Their parent is the holder's process,
/// not this one: their ends come through
/// [`fostered_ended`](crate::fostered_ended). Call it before any child
/// starts; returns how many it took.
pub fn adopt_kept(kept: Vec<HeldProcess>) -> usize {
    let count = kept.len();
    let mut state = state();
    let adoptable = state.adoptable.get_or_insert_with(HashMap::new);
    for process in kept {
        reaper::foster(process.main);
        adoptable.insert(
            process.id,
            Adopted {
                group: process.group,
                main: process.main,
                pidfd: process.pidfd,
                stdout: process.stdout.map(|fd| (fd, Vec::new())),
                stderr: process.stderr.map(|fd| (fd, Vec::new())),
                notify: process.notify,
                cgroup: process.cgroup,
                ready: process.ready,
            },
        );
    }
    count
}

fn is_open(fd: RawFd) -> bool {
    // SAFETY: only asks for the flags of a descriptor number; borrowing it
    // for the call does not take or close it.
    #[allow(unsafe_code)]
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    fd >= 0 && rustix::io::fcntl_getfd(borrowed).is_ok()
}

/// A handed-over process no child claimed, once stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unclaimed {
    /// The id of the child it ran for.
    pub id: String,
    /// Its pid.
    pub pid: u32,
    /// Whether it had to be killed (it ignored `SIGTERM` for 10 s).
    pub killed: bool,
}

/// Stops the handed-over processes no child claimed and none will: those
/// for which `expected` is false (their service is no longer configured),
/// or all that are left, at the end. `SIGTERM` to the process group,
/// `SIGKILL` after 10 s, and the cgroup killed.
///
/// A child that is expected may claim its process late: one that waits
/// for a dependency to start claims it when it starts.
pub async fn stop_unclaimed(expected: impl Fn(&str) -> bool) -> Vec<Unclaimed> {
    let left: Vec<(String, Adopted)> = {
        let mut state = state();
        let Some(adoptable) = state.adoptable.as_mut() else {
            return Vec::new();
        };
        let ids: Vec<String> = adoptable
            .keys()
            .filter(|id| !expected(id))
            .cloned()
            .collect();
        ids.into_iter()
            .filter_map(|id| adoptable.remove_entry(&id))
            .collect()
    };
    let mut stopped = Vec::new();
    for (id, process) in left {
        let Some(group) = Pid::from_raw(process.group) else {
            continue;
        };
        let Ok(pidfd) = PidFd::new(process.pidfd, process.main) else {
            continue;
        };
        signal_group(group, rustix::process::Signal::TERM.as_raw());
        let _ = pidfd.signal(rustix::process::Signal::TERM.as_raw());
        let killed = tokio::time::timeout(UNCLAIMED_STOP, pidfd.exited())
            .await
            .is_err();
        kill_group(group);
        let _ = pidfd.signal(rustix::process::Signal::KILL.as_raw());
        if let Some((dir, _)) = &process.cgroup {
            let _ = std::fs::write(dir.join("cgroup.kill"), b"1");
        }
        let _ = pidfd.wait().await;
        reaper::reaped(process.main);
        if let Some(holder) = held::holder() {
            holder.release(process.group);
        }
        if let Some((dir, v1)) = process.cgroup {
            for (_, v1_dir) in v1 {
                let _ = std::fs::remove_dir(v1_dir);
            }
            let _ = std::fs::remove_dir(dir);
        }
        stopped.push(Unclaimed {
            id,
            pid: process.main.unsigned_abs(),
            killed,
        });
    }
    stopped
}
