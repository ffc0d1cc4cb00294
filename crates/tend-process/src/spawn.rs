//! Starting a program.
//!
//! Two paths, chosen per kernel:
//!
//! - **`clone3`** (see `clone.rs`): `CLONE_VFORK`-like, so the supervisor's
//!   page tables are not copied; into the child's cgroup with
//!   `CLONE_INTO_CGROUP` when it has one (born in it, no migration); its
//!   pidfd returned atomically.
//! - **`fork`** (kernels or targets without `clone3`): `std`'s `Command`
//!   with a pre-exec hook.
//!
//! Both run the same short, allocation-free list of system calls before
//! `exec` (`pre_exec.rs`): signals back to their defaults, a new session,
//! the umask, rlimits, joining the cgroup, then groups, group and user, in
//! that order (privileges are dropped last, after everything that needs
//! them), and every descriptor but stdio marked close-on-exec, so a child
//! inherits nothing of the supervisor's. `std`'s own `uid`/`gid` setters
//! are not used because they run before the pre-exec hook and would drop
//! privileges before the cgroup is joined. (`posix_spawn` is not used: it
//! cannot keep the supervisor's descriptors from the child.)
//!
//! Every path resolves names before the child exists, and joins or enters
//! the cgroup before the program runs: containment is airtight.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use rustix::process::{Pid, PidfdFlags};
use tend_spec::ProcessSpec;

use crate::cgroup::Cgroup;
use crate::error::SpawnError;
use crate::pre_exec::{before_exec, ignored_signals};
use crate::prepare::{Prepared, Spawned};

/// Spawns the program, inside `cgroup` when given: straight into it with
/// `clone3` where the kernel can, else by joining it before `exec`.
pub(crate) fn spawn(
    spec: &ProcessSpec,
    prepared: &Prepared,
    cgroup: Option<&Cgroup>,
) -> Result<Spawned, SpawnError> {
    // Read here, in the parent: the child uses the list and may not
    // allocate it.
    ignored_signals();
    let Some(cgroup) = cgroup else {
        return match try_clone3(spec, prepared, None, &[])? {
            Some(spawned) => Ok(spawned),
            None => spawn_with_std(spec, prepared, None, &[]),
        };
    };
    // v1 controller groups (limits on a hybrid layout) are joined from the
    // child, before exec, on either path.
    let v1: Vec<i32> = cgroup
        .v1
        .groups
        .iter()
        .map(|(_, _, procs)| procs.as_raw_fd())
        .collect();
    // Straight into the cgroup where the kernel can; otherwise by joining it
    // before exec.
    let dir = cgroup.open_dir().map_err(|error| SpawnError::Exec {
        program: prepared.program.to_string_lossy().into_owned(),
        error,
    })?;
    if let Some(spawned) = try_clone3(spec, prepared, Some(std::os::fd::AsFd::as_fd(&dir)), &v1)? {
        return Ok(spawned);
    }
    drop(dir);
    let procs = cgroup.procs_file().map_err(|error| SpawnError::Exec {
        program: prepared.program.to_string_lossy().into_owned(),
        error,
    })?;
    spawn_with_std(spec, prepared, Some(procs), &v1)
}

/// `clone3` where libc describes `clone_args` (the targets `clone.rs` is
/// built for); `None` elsewhere, or when the kernel lacks it.
fn try_clone3(
    spec: &ProcessSpec,
    prepared: &Prepared,
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
    v1_procs: &[i32],
) -> Result<Option<Spawned>, SpawnError> {
    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "loongarch64",
        target_arch = "powerpc64"
    ))]
    return crate::clone::spawn_with_clone3(spec, prepared, cgroup, v1_procs);
    // Other targets: no `clone3` here.
    #[allow(unreachable_code)]
    {
        let _ = (spec, prepared, cgroup, v1_procs);
        Ok(None)
    }
}

/// `std::process::Command` (kernels or targets without `clone3`): `fork`
/// with the pre-exec steps (joining `cgroup_procs` among them).
fn spawn_with_std(
    spec: &ProcessSpec,
    prepared: &Prepared,
    cgroup_procs: Option<File>,
    v1_procs: &[i32],
) -> Result<Spawned, SpawnError> {
    let mut command = Command::new(&prepared.program);
    command.args(&prepared.args);
    command.env_clear();
    command.envs(prepared.env.iter().map(|(k, v)| (k, v)));
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let stdin = match &spec.stdin {
        Some(path) => Stdio::from(File::open(path).map_err(|error| SpawnError::Exec {
            program: prepared.program.to_string_lossy().into_owned(),
            error,
        })?),
        None => Stdio::null(),
    };
    command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());

    // Always through the pre-exec steps: they reset ignored signals, start
    // a session and keep the supervisor's descriptors from the child, which
    // `posix_spawn` cannot do.
    let umask = spec.umask;
    let rlimits = prepared.rlimits.clone();
    let identity = prepared.identity.clone();
    // The files stay open in the closure until the child has joined.
    let joins: Vec<i32> = cgroup_procs
        .iter()
        .map(AsRawFd::as_raw_fd)
        .chain(v1_procs.iter().copied())
        .collect();
    let keep_open = cgroup_procs;
    // The one place the project needs `unsafe` for spawning with std:
    // `pre_exec` is the only way to run code between fork and exec.
    // SAFETY: the closure runs in the forked child before `exec`, where
    // only async-signal-safe operations are allowed: `before_exec`
    // allocates nothing and makes only raw system calls.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            let _ = &keep_open;
            before_exec(umask, &rlimits, &joins, identity.as_ref()).map_err(io::Error::from)
        });
    }
    let mut child = command.spawn().map_err(|error| {
        SpawnError::start(&prepared.program, None, spec.cwd.as_deref(), None, error)
    })?;
    let pid = Pid::from_child(&child);
    // The child is ours and unreaped, so its pid cannot be reused before we
    // wait on it: opening the pidfd now is race-free.
    let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty())
        .map_err(|e| SpawnError::Pidfd(e.into()))?;
    let stdout = OwnedFd::from(child.stdout.take().expect("stdout is piped"));
    let stderr = OwnedFd::from(child.stderr.take().expect("stderr is piped"));
    // `child` is dropped without waiting: std neither kills nor reaps on
    // drop, and we reap through the pidfd.
    Ok(Spawned {
        pid,
        pidfd,
        stdout,
        stderr,
    })
}
