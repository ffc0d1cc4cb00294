//! Everything a spawn needs that can be worked out before the child
//! exists: the command line (and the shell, if asked for), the user and
//! groups resolved from names, the environment, the rlimits. Done before `fork`, because the
//! child may not allocate or look anything up.

use std::ffi::{CString, OsString};
use std::os::fd::OwnedFd;

use rustix::process::{Gid, Pid, Resource, Rlimit};
use tend_spec::{Account, ProcessSpec, Rlimits};

use crate::error::SpawnError;

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
    /// The whole environment of the child ([`tend_spec::EnvSpec::build`]).
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) rlimits: Vec<(Resource, Rlimit)>,
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
    let (identity, account) = resolve_identity(spec)?;
    let other_user = identity
        .as_ref()
        .is_some_and(|i| i.uid != rustix::process::geteuid().as_raw());
    let env = spec
        .env
        .build(std::env::vars_os(), account.as_ref(), other_user);
    Ok(Prepared {
        program,
        args,
        identity,
        env,
        rlimits: rlimits(&spec.rlimits),
    })
}

/// The identity, and the account of its `user` (whose `HOME`, `USER`,
/// `LOGNAME` and `SHELL` the child gets).
fn resolve_identity(spec: &ProcessSpec) -> Result<(Option<Identity>, Option<Account>), SpawnError> {
    if spec.user.is_none() && spec.group.is_none() && spec.groups.is_none() {
        return Ok((None, None));
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
    let uid = user
        .as_ref()
        .map_or_else(|| rustix::process::geteuid().as_raw(), |u| u.uid.as_raw());
    let account = user.map(|u| Account {
        name: u.name,
        home: u.dir,
        shell: u.shell,
    });
    Ok((Some(Identity { uid, gid, groups }), account))
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

/// The limits a spec sets (soft and hard alike), and the descriptor
/// limits (soft and hard) the supervisor started with where the spec sets
/// none (see `nofile`).
fn rlimits(limits: &Rlimits) -> Vec<(Resource, Rlimit)> {
    let both = |v: u64| Rlimit {
        current: Some(v),
        maximum: Some(v),
    };
    let mut set: Vec<(Resource, Rlimit)> = [
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
    .filter_map(|(resource, value)| value.map(|v| (resource, both(v))))
    .collect();
    if limits.nofile.is_none() {
        if let Some(original) = crate::nofile::for_services() {
            set.push((Resource::Nofile, original));
        }
    }
    set
}
