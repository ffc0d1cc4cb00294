//! Starting a program.
//!
//! Three paths, chosen per spec and kernel:
//!
//! - **Into a cgroup** (the default where cgroup v2 is writable):
//!   `clone3(CLONE_INTO_CGROUP)` (see `clone.rs`): born in its cgroup, no
//!   migration, its pidfd returned atomically.
//! - **Full** (a cgroup on a kernel without `clone3`, or a umask, rlimits or
//!   identity without a cgroup): `fork`, then a short, allocation-free list
//!   of system calls before `exec`: a new session, the umask, rlimits,
//!   joining the cgroup, then groups, group and user, in that order
//!   (privileges are dropped last, after everything that needs them).
//!   `std`'s own `uid`/`gid` setters are not used because they run before the
//!   pre-exec hook and would drop privileges before the cgroup is joined.
//! - **Fast** (nothing of the above): `posix_spawn` through `std`, the child
//!   in a new process group.
//!
//! Every path resolves names before the child exists, and joins or enters
//! the cgroup before the program runs: containment is airtight.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use rustix::process::{Gid, Pid, PidfdFlags, Resource, Rlimit, Uid};
use tend_spec::{ProcessSpec, Rlimits};

use crate::cgroup::Cgroup;
use crate::SpawnError;

/// Who the process runs as, resolved from names before `fork`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) groups: Vec<Gid>,
}

/// A spec with every name resolved, ready to spawn many times.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) identity: Option<Identity>,
    pub(crate) rlimits: Vec<(Resource, u64)>,
}

/// A started process.
pub(crate) struct Spawned {
    pub(crate) pid: Pid,
    pub(crate) pidfd: OwnedFd,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
}

/// Resolves the command line, the user and the groups. Done once per spec
/// (and again on each start, so a changed `/etc/passwd` is seen).
pub(crate) fn prepare(spec: &ProcessSpec) -> Result<Prepared, SpawnError> {
    let (program, args) = match (spec.shell, spec.command.split_first()) {
        (_, None) => return Err(SpawnError::EmptyCommand),
        (_, Some((first, _))) if first.is_empty() => return Err(SpawnError::EmptyCommand),
        (true, Some((line, []))) => ("/bin/sh".into(), vec!["-c".into(), line.into()]),
        (true, Some(_)) => return Err(SpawnError::ShellWithArgs),
        (false, Some((program, rest))) => (program.into(), rest.iter().map(Into::into).collect()),
    };
    Ok(Prepared {
        program,
        args,
        identity: resolve_identity(spec)?,
        rlimits: rlimits(&spec.rlimits),
    })
}

fn resolve_identity(spec: &ProcessSpec) -> Result<Option<Identity>, SpawnError> {
    if spec.user.is_none() && spec.group.is_none() && spec.groups.is_none() {
        return Ok(None);
    }
    if !rustix::process::geteuid().is_root() {
        return Err(SpawnError::NotRoot);
    }
    let user = match &spec.user {
        Some(name) => Some(lookup_user(name)?),
        None => None,
    };
    let gid = match (&spec.group, &user) {
        (Some(group), _) => lookup_group(group)?,
        (None, Some(user)) => user.gid.as_raw(),
        (None, None) => rustix::process::getegid().as_raw(),
    };
    let groups = match (&spec.groups, &user) {
        (Some(names), _) => names
            .iter()
            .map(|g| lookup_group(g).map(Gid::from_raw))
            .collect::<Result<_, _>>()?,
        (None, Some(user)) => {
            let name = CString::new(user.name.as_str())
                .map_err(|_| SpawnError::NoSuchUser(user.name.clone()))?;
            nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(gid))
                .map_err(|e| SpawnError::Lookup(e.to_string()))?
                .into_iter()
                .map(|g| Gid::from_raw(g.as_raw()))
                .collect()
        }
        (None, None) => vec![Gid::from_raw(gid)],
    };
    let uid = user.map_or_else(|| rustix::process::geteuid().as_raw(), |u| u.uid.as_raw());
    Ok(Some(Identity { uid, gid, groups }))
}

fn lookup_user(name: &str) -> Result<nix::unistd::User, SpawnError> {
    let found = match name.parse::<u32>() {
        Ok(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
        Err(_) => nix::unistd::User::from_name(name),
    };
    found
        .map_err(|e| SpawnError::Lookup(e.to_string()))?
        .ok_or_else(|| SpawnError::NoSuchUser(name.to_string()))
}

fn lookup_group(name: &str) -> Result<u32, SpawnError> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    nix::unistd::Group::from_name(name)
        .map_err(|e| SpawnError::Lookup(e.to_string()))?
        .map(|g| g.gid.as_raw())
        .ok_or_else(|| SpawnError::NoSuchGroup(name.to_string()))
}

fn rlimits(limits: &Rlimits) -> Vec<(Resource, u64)> {
    [
        (Resource::Nofile, limits.nofile),
        (Resource::Nproc, limits.nproc),
        (Resource::Core, limits.core),
        (Resource::As, limits.address_space),
        (Resource::Stack, limits.stack),
        (Resource::Memlock, limits.memlock),
        (Resource::Cpu, limits.cpu),
        (Resource::Fsize, limits.fsize),
    ]
    .into_iter()
    .filter_map(|(resource, value)| value.map(|v| (resource, v)))
    .collect()
}

/// Spawns the program, inside `cgroup` when given: straight into it with
/// `clone3` where the kernel can, else by joining it before `exec`.
pub(crate) fn spawn(
    spec: &ProcessSpec,
    prepared: &Prepared,
    cgroup: Option<&Cgroup>,
) -> Result<Spawned, SpawnError> {
    let Some(cgroup) = cgroup else {
        return spawn_with_std(spec, prepared, None, &[]);
    };
    // v1 controller groups (limits on a hybrid layout) are joined from the
    // child, before exec, on either path.
    let v1: Vec<i32> = cgroup
        .v1
        .groups
        .iter()
        .map(|(_, _, procs)| procs.as_raw_fd())
        .collect();
    if let Some(spawned) = crate::clone::spawn_into_cgroup(spec, prepared, cgroup.dir(), &v1)? {
        return Ok(spawned);
    }
    let procs = cgroup.procs_file().map_err(|error| SpawnError::Exec {
        program: prepared.program.to_string_lossy().into_owned(),
        error,
    })?;
    spawn_with_std(spec, prepared, Some(procs), &v1)
}

/// `std::process::Command`: `posix_spawn` when nothing is to be done in the
/// child, else `fork` with the pre-exec steps (joining `cgroup_procs` among
/// them).
fn spawn_with_std(
    spec: &ProcessSpec,
    prepared: &Prepared,
    cgroup_procs: Option<File>,
    v1_procs: &[i32],
) -> Result<Spawned, SpawnError> {
    let mut command = Command::new(&prepared.program);
    command.args(&prepared.args);
    if !spec.env.inherit {
        command.env_clear();
    }
    for name in &spec.env.remove {
        command.env_remove(name);
    }
    command.envs(&spec.env.set);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());

    let needs_fork = cgroup_procs.is_some()
        || spec.umask.is_some()
        || !prepared.rlimits.is_empty()
        || prepared.identity.is_some();
    if needs_fork {
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
    } else {
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(|error| SpawnError::Exec {
        program: prepared.program.to_string_lossy().into_owned(),
        error,
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

/// What every spawn path does in the child before `exec`, in this order: a
/// new session, the umask, rlimits, joining cgroups (`joins`: open
/// `cgroup.procs` files, to which the child writes `0`), then groups, group
/// and user (privileges are dropped last). Async-signal-safe: raw system
/// calls only, nothing allocated.
pub(crate) fn before_exec(
    umask: Option<u32>,
    rlimits: &[(Resource, u64)],
    joins: &[i32],
    identity: Option<&Identity>,
) -> rustix::io::Result<()> {
    rustix::process::setsid()?;
    if let Some(mask) = umask {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask));
    }
    for &(resource, value) in rlimits {
        let limit = Some(value);
        rustix::process::setrlimit(
            resource,
            Rlimit {
                current: limit,
                maximum: limit,
            },
        )?;
    }
    for &fd in joins {
        // SAFETY: the descriptors were opened by the parent and are open in
        // the child until its exec.
        #[allow(unsafe_code)]
        let procs = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        rustix::io::write(procs, b"0")?;
    }
    if let Some(identity) = identity {
        rustix::thread::set_thread_groups(&identity.groups)?;
        let gid = Gid::from_raw(identity.gid);
        rustix::thread::set_thread_res_gid(gid, gid, gid)?;
        let uid = Uid::from_raw(identity.uid);
        rustix::thread::set_thread_res_uid(uid, uid, uid)?;
    }
    Ok(())
}
