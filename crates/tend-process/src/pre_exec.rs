//! What every spawn path does in the child, between `fork` (or `clone`) and
//! `exec`: async-signal-safe system calls only, nothing allocated.

use rustix::process::{Gid, Resource, Rlimit, Uid};

use crate::prepare::Identity;

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
