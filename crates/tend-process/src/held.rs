//! A second holder of every process's descriptors, outside this process:
//! what lets the processes outlive a supervisor that dies (tend's keeper,
//! in the `tend-keeper` crate, holds them for the `tend` daemon).
//!
//! A supervisor that wants it registers a [`Holder`] once, before any
//! child starts. Each incarnation then gives it duplicates of its
//! process's pidfd, output pipes and notify socket as soon as the process
//! runs ([`Holder::hold`]), tells it when the process it watches changes
//! (`MAINPID=`, [`Holder::main_changed`]) and lets it go once the process
//! is reaped ([`Holder::release`]). What the holder does with them is its
//! own: it is called on the runtime's threads and must not block.
//!
//! A holder that lost what it held (tend's keeper was killed, and the
//! daemon started a new one) calls [`hold_again`]: every live incarnation
//! then gives the holder fresh duplicates, as if its process had just
//! started.
//!
//! A supervisor started again takes the processes back with
//! [`handover::adopt_kept`](crate::handover::adopt_kept): their parent is
//! the holder's process then, so their ends come through
//! [`fostered_ended`](crate::fostered_ended).

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use tokio::sync::Notify;

use tend_spec::ProcessSpec;

/// One running process and duplicates of its descriptors.
#[derive(Debug)]
pub struct HeldProcess {
    /// The id of the child it runs for.
    pub id: String,
    /// The pid spawned: its process group's id.
    pub group: i32,
    /// The pid watched (the one spawned, or the main one it named).
    pub main: i32,
    /// `main`'s pidfd.
    pub pidfd: OwnedFd,
    /// The read end of its standard output pipe.
    pub stdout: Option<OwnedFd>,
    /// The read end of its standard error pipe.
    pub stderr: Option<OwnedFd>,
    /// Its notify socket and the socket's address.
    pub notify: Option<(OwnedFd, String)>,
    /// Its cgroup directory and the cgroup v1 directories of its limits.
    pub cgroup: Option<(PathBuf, Vec<(String, PathBuf)>)>,
    /// Whether it was ready.
    pub ready: bool,
    /// Its parent is not this process (taken back with
    /// [`handover::adopt_kept`](crate::handover::adopt_kept)): its end is
    /// the holder's to read.
    pub fostered: bool,
}

/// Where every process's descriptors are held a second time.
pub trait Holder: Send + Sync + 'static {
    /// A process runs (spawned, or taken back): hold these duplicates.
    /// `spec` is what it runs.
    fn hold(&self, process: HeldProcess, spec: &ProcessSpec);
    /// The process of `group` now watched is `main` (`MAINPID=`).
    fn main_changed(&self, group: i32, main: i32, pidfd: OwnedFd);
    /// The process of `group` was reaped: let its descriptors go.
    fn release(&self, group: i32);
}

static HOLDER: OnceLock<Box<dyn Holder>> = OnceLock::new();

/// Registers the holder of every process started from now on. Once per
/// process: `false` if one was registered already (then `holder` is not).
pub fn set_holder(holder: Box<dyn Holder>) -> bool {
    HOLDER.set(holder).is_ok()
}

/// The registered holder, if any.
pub(crate) fn holder() -> Option<&'static dyn Holder> {
    HOLDER.get().map(AsRef::as_ref)
}

/// How many times [`hold_again`] was called.
static ROUND: AtomicU64 = AtomicU64::new(0);

/// Told when every live incarnation is asked something: to park for a
/// handover (see [`handover`](crate::handover)) or to hold again. One
/// `Notify` for both, so an idle child's future waits on one.
pub(crate) static ASKED: Notify = Notify::const_new();

/// Has every live incarnation give the holder its process again (fresh
/// duplicates of its descriptors, its main process, whether it is
/// ready): for a holder that lost what it held. Returns at once; each
/// incarnation answers on its own task.
pub fn hold_again() {
    ROUND.fetch_add(1, Ordering::AcqRel);
    ASKED.notify_waiters();
}

/// The number of [`hold_again`] calls so far.
pub(crate) fn round() -> u64 {
    ROUND.load(Ordering::Acquire)
}
