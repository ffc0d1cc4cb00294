//! `tend upgrade`: the daemon re-executes itself as a new binary (or the
//! same one) and goes on with every service's process running and no log
//! line lost.
//!
//! The old image checks the new binary first (`BINARY check` on the same
//! config must pass), then parks every process ([`Handover::collect`]),
//! notes where each resting service rests (a completed job is not run
//! again, an operator's stop holds), flushes the journal and `exec`s the
//! command line it was started with, the new binary in its place. What it
//! carries — the processes' descriptors, the resting states, the API's
//! listening sockets (connections made meanwhile wait in their backlog) —
//! is JSON in a memory file whose descriptor `TEND_HANDOVER_FD` names.
//! The new image takes it all before anything starts ([`inherit`]). Same
//! pid, so the processes stay its children and the state directory's lease
//! its own; the state directory's lock (`lock`) is carried too, so no other
//! `tend up` can take the directory during the exec.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::IntoDeserializer;
use serde::{Deserialize, Deserializer, Serialize};
use tend_engine::ChildState;
use tend_process::handover::{Handover, Parcel};
use tend_wire::{FailReason, ServiceStatus, State};

use crate::lock::Lock;

/// The environment variable naming the descriptor of what was carried.
const CARRIED_FD: &str = "TEND_HANDOVER_FD";

/// How long the new binary's `check` may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an upgrade was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// The new binary cannot run this config.
    #[error("{binary} cannot take over: {reason}")]
    BinaryRefused {
        /// The binary.
        binary: String,
        /// What its check said, or why it did not run.
        reason: String,
    },
    /// Carrying the state across failed.
    #[error("handing over: {0}")]
    Io(#[from] io::Error),
    /// What a previous image carried cannot be read.
    #[error("the state handed over by the previous tend cannot be read: {0}")]
    Unreadable(String),
}

/// Where a service rested when the tree was handed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rest {
    /// Ended normally, not restarted.
    Completed,
    /// Stopped on request.
    Shutdown,
    /// Given up on, for this reason.
    Failed(#[serde(deserialize_with = "known_reason")] FailReason),
    /// Kept for inspection.
    Isolated,
}

impl Rest {
    /// Where `status` rests, if it does.
    #[must_use]
    pub fn of(status: &ServiceStatus) -> Option<Rest> {
        match status.state {
            State::Completed => Some(Rest::Completed),
            State::Shutdown => Some(Rest::Shutdown),
            State::Isolated => Some(Rest::Isolated),
            State::Failed => Some(Rest::Failed(
                status.failed_because.unwrap_or(FailReason::Crashed),
            )),
            _ => None,
        }
    }

    /// Where the engine's `state` rests, if it does.
    #[must_use]
    pub fn of_state(state: &ChildState) -> Option<Rest> {
        match state {
            ChildState::Completed => Some(Rest::Completed),
            ChildState::Shutdown => Some(Rest::Shutdown),
            ChildState::Isolated => Some(Rest::Isolated),
            ChildState::Failed(reason) => Some(Rest::Failed((*reason).into())),
            _ => None,
        }
    }

    /// The engine's state for it.
    #[must_use]
    pub fn state(&self) -> ChildState {
        match self {
            Rest::Completed => ChildState::Completed,
            Rest::Shutdown => ChildState::Shutdown,
            Rest::Isolated => ChildState::Isolated,
            Rest::Failed(reason) => ChildState::Failed((*reason).into()),
        }
    }
}

/// A reason as any version wrote it; one this version does not know (an
/// older or newer image's) is `crashed`, so the handover still reads.
fn known_reason<'de, D: Deserializer<'de>>(d: D) -> Result<FailReason, D::Error> {
    let text = String::deserialize(d)?;
    let read: Result<FailReason, serde::de::value::Error> =
        FailReason::deserialize(text.as_str().into_deserializer());
    Ok(read.unwrap_or(FailReason::Crashed))
}

/// Everything a daemon hands to its next image.
#[derive(Debug, Serialize, Deserialize)]
struct Carried {
    /// The version that handed over.
    from: String,
    /// How many times this daemon was upgraded before, and since when it
    /// runs (seconds), for `/v1/daemon`.
    upgrades: u32,
    uptime_s: u64,
    processes: Parcel,
    /// Instances at rest, by name.
    resting: BTreeMap<String, Rest>,
    /// The control socket's listener.
    socket: RawFd,
    /// The TCP API's listener, if one listens.
    tcp: Option<RawFd>,
    /// The state directory's lock (absent from an image that had none:
    /// the new one takes it).
    #[serde(default)]
    lock: Option<RawFd>,
}

/// What a previous image of this daemon handed over.
#[derive(Debug)]
pub struct Inherited {
    /// Its version.
    pub from: String,
    /// Upgrades before this one.
    pub upgrades: u32,
    /// How long the daemon had run.
    pub uptime: Duration,
    /// Instances at rest, by name.
    pub resting: BTreeMap<String, Rest>,
    /// The instances whose processes it handed over (claimed as the tree
    /// starts).
    pub kept: Vec<String>,
    /// The control socket's listener, still listening.
    pub socket: std::os::unix::net::UnixListener,
    /// The TCP API's listener, if one listened.
    pub tcp: Option<std::net::TcpListener>,
    /// The state directory's lock, still held.
    pub lock: Option<OwnedFd>,
}

/// What the running daemon hands over, besides the processes.
#[derive(Debug)]
pub struct Leaving<'a> {
    /// Upgrades before this one.
    pub upgrades: u32,
    /// How long the daemon has run.
    pub uptime: Duration,
    /// Every instance's status (those at rest stay so).
    pub status: &'a [ServiceStatus],
    /// The control socket's listener (a duplicate kept for this).
    pub socket: &'a OwnedFd,
    /// The TCP API's listener.
    pub tcp: Option<&'a OwnedFd>,
    /// The state directory's lock.
    pub lock: &'a Lock,
}

/// Checks that `binary` can run `config` (its own `check` passes) and
/// returns its version line.
///
/// # Errors
/// [`UpgradeError::BinaryRefused`] with what it said.
pub async fn check_binary(
    binary: &Path,
    config: &Path,
    state_dir: &Path,
) -> Result<String, UpgradeError> {
    let refused = |reason: String| UpgradeError::BinaryRefused {
        binary: binary.display().to_string(),
        reason,
    };
    trusted(binary).map_err(refused)?;
    let run = |args: &[&std::ffi::OsStr]| {
        let mut command = std::process::Command::new(binary);
        command.args(args);
        tend_process::run_to_end(command, CHECK_TIMEOUT)
    };
    let version = run(&["--version".as_ref()])
        .await
        .map_err(|e| refused(format!("cannot run it: {e}")))?;
    let said = String::from_utf8_lossy(&version.stdout);
    let version_line = said.lines().next().unwrap_or_default().trim().to_owned();
    if !version.success() || !version_line.starts_with("tend ") {
        return Err(refused(format!(
            "not tend: `--version` said {version_line:?} ({:?})",
            version.ended
        )));
    }
    let checked = run(&[
        "--config".as_ref(),
        config.as_os_str(),
        "--state-dir".as_ref(),
        state_dir.as_os_str(),
        "check".as_ref(),
    ])
    .await
    .map_err(|e| refused(format!("its check did not run: {e}")))?;
    if !checked.success() {
        let said = String::from_utf8_lossy(&checked.stderr).trim().to_owned();
        let said = if said.is_empty() {
            String::from_utf8_lossy(&checked.stdout).trim().to_owned()
        } else {
            said
        };
        return Err(refused(format!("its check of the config failed: {said}")));
    }
    Ok(version_line)
}

/// Whether tend may become `binary`: a regular file owned by root or by
/// tend's own user and writable by no one else (whoever can change it could
/// run code as tend).
fn trusted(binary: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(binary).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let own = rustix::process::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != own {
        return Err(format!(
            "owned by uid {}, neither root nor tend's user (uid {own})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "writable by its group or others (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Replaces this program image with `binary`, run with the command line
/// this one was started with, handing over `processes` and what `leaving`
/// says. Returns only if that failed and so did running the current image
/// again (then the processes are parked with no one to watch them: the
/// caller should exit, and the next `tend up` stops them as leftovers).
pub fn exec(binary: &Path, processes: &Handover, leaving: &Leaving<'_>) -> UpgradeError {
    let carried = match carry(processes, leaving) {
        Ok(fd) => fd,
        Err(error) => return error,
    };
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let run = |program: &Path| {
        let mut command = std::process::Command::new(program);
        command
            .args(&args)
            .env(CARRIED_FD, carried.as_raw_fd().to_string());
        // The keeper above stays this daemon's, across the exec.
        if let Err(error) = crate::keeper::pass_on(&mut command) {
            tracing::warn!(%error, "cannot keep the keeper's channel across the exec");
        }
        command.exec()
    };
    // Lines and diagnostics queued for their writer threads go first.
    tend_process::flush_logs(std::time::Duration::from_secs(2));
    tend_process::diag::flush(std::time::Duration::from_secs(1));
    let error = run(binary);
    tracing::error!(binary = %binary.display(), %error, "exec failed; running the current binary again");
    // The image running now, even if its file was replaced or removed.
    let again = run(Path::new("/proc/self/exe"));
    UpgradeError::Io(io::Error::other(format!(
        "exec {}: {error}; exec of the current binary: {again}",
        binary.display()
    )))
}

/// The binary of this process, as a path to run again: the link
/// `/proc/self/exe` names, without the ` (deleted)` the kernel adds once the
/// file was replaced (a package upgrade): the new file is the one meant.
pub fn running_binary() -> std::io::Result<PathBuf> {
    let exe = std::fs::read_link("/proc/self/exe").or_else(|_| std::env::current_exe())?;
    let text = exe.to_string_lossy();
    Ok(match text.strip_suffix(" (deleted)") {
        Some(path) => PathBuf::from(path),
        None => exe,
    })
}

/// Writes what is carried into a memory file left open across the exec.
fn carry(processes: &Handover, leaving: &Leaving<'_>) -> Result<OwnedFd, UpgradeError> {
    let inheritable = |fd: &OwnedFd| -> io::Result<RawFd> {
        rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
        Ok(fd.as_raw_fd())
    };
    let lock = leaving.lock.inheritable()?;
    let carried = Carried {
        from: env!("CARGO_PKG_VERSION").to_owned(),
        upgrades: leaving.upgrades,
        uptime_s: leaving.uptime.as_secs(),
        processes: processes.parcel()?,
        resting: leaving
            .status
            .iter()
            .filter_map(|s| Some((s.name.clone(), Rest::of(s)?)))
            .collect(),
        socket: inheritable(leaving.socket)?,
        tcp: leaving.tcp.map(inheritable).transpose()?,
        lock: Some(lock),
    };
    let memfd = rustix::fs::memfd_create("tend-handover", rustix::fs::MemfdFlags::empty())
        .map_err(io::Error::from)?;
    let mut file = std::fs::File::from(memfd);
    file.write_all(&serde_json::to_vec(&carried).map_err(io::Error::other)?)?;
    file.rewind()?;
    Ok(OwnedFd::from(file))
}

/// Takes what a previous image of this daemon handed over, if this image
/// was started by an upgrade. Call it first, before any child starts or the
/// orphan reaper runs.
///
/// # Errors
/// If the handover cannot be read or its descriptors are not here.
pub fn inherit() -> Result<Option<Inherited>, UpgradeError> {
    let Some(number) = std::env::var_os(CARRIED_FD) else {
        return Ok(None);
    };
    // Not passed on to the services. Read and removed before this image
    // starts anything that reads the environment.
    std::env::remove_var(CARRIED_FD);
    let unreadable = |what: &str| UpgradeError::Unreadable(what.to_owned());
    let fd: RawFd = number
        .to_str()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| unreadable("the descriptor number is not a number"))?;
    let file = take(fd).ok_or_else(|| unreadable("its descriptor is not open"))?;
    let mut text = Vec::new();
    std::fs::File::from(file).read_to_end(&mut text)?;
    let carried: Carried =
        serde_json::from_slice(&text).map_err(|e| UpgradeError::Unreadable(e.to_string()))?;
    let socket = take(carried.socket).ok_or_else(|| unreadable("the control socket"))?;
    let tcp = carried
        .tcp
        .map(|fd| take(fd).ok_or_else(|| unreadable("the TCP listener")))
        .transpose()?;
    let lock = carried
        .lock
        .map(|fd| take(fd).ok_or_else(|| unreadable("the state directory's lock")))
        .transpose()?;
    let kept = carried.processes.ids().map(str::to_owned).collect();
    carried
        .processes
        .adopt()
        .map_err(|e| UpgradeError::Unreadable(e.to_string()))?;
    let socket = std::os::unix::net::UnixListener::from(socket);
    socket.set_nonblocking(true)?;
    let tcp = tcp.map(std::net::TcpListener::from);
    if let Some(tcp) = &tcp {
        tcp.set_nonblocking(true)?;
    }
    Ok(Some(Inherited {
        from: carried.from,
        upgrades: carried.upgrades,
        uptime: Duration::from_secs(carried.uptime_s),
        resting: carried.resting,
        kept,
        socket,
        tcp,
        lock,
    }))
}

/// Takes an inherited descriptor by number (close-on-exec again), if it is
/// open.
fn take(fd: RawFd) -> Option<OwnedFd> {
    let owned = tend_keeper::inherit::fd(fd, |_| true)?;
    rustix::io::fcntl_setfd(owned.as_fd(), rustix::io::FdFlags::CLOEXEC).ok()?;
    Some(owned)
}
