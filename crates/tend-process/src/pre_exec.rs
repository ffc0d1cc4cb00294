//! What every spawn path does in the child, between `fork` (or `clone`) and
//! `exec`: async-signal-safe system calls only, nothing allocated.

use std::sync::OnceLock;

use rustix::process::{Gid, Resource, Rlimit, Uid};

use crate::prepare::Identity;

/// The signals this process ignores, which a child would inherit ignored
/// (an ignored disposition survives `exec`, a handled one does not; and
/// `CLONE_CLEAR_SIGHAND` resets handled ones only). A supervisor started
/// with `&` from a script ignores SIGINT and SIGQUIT, and Rust's runtime
/// ignores SIGPIPE: none of that may reach a service, whose stop signal
/// could then never stop it. Read once, in the parent, before any spawn:
/// a supervisor sets its dispositions when it starts. Through libc: rustix
/// offers `sigaction` only to runtimes, and nix cannot query without
/// setting.
pub(crate) fn ignored_signals() -> &'static [i32] {
    static IGNORED: OnceLock<Vec<i32>> = OnceLock::new();
    IGNORED.get_or_init(|| {
        (1..=libc::SIGRTMAX())
            .filter(|&signal| signal != libc::SIGKILL && signal != libc::SIGSTOP)
            .filter(|&signal| {
                // SAFETY: querying a disposition changes nothing; `action`
                // is a valid, zeroed sigaction to write into.
                #[allow(unsafe_code)]
                unsafe {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    libc::sigaction(signal, std::ptr::null(), &mut action) == 0
                        && action.sa_sigaction == libc::SIG_IGN
                }
            })
            .collect()
    })
}

/// What every spawn path does in the child before `exec`, in this order:
/// every signal this process ignores back at its default (see
/// [`ignored_signals`], read in the parent), a new session, the umask,
/// rlimits, joining cgroups (`joins`: open `cgroup.procs` files, to which
/// the child writes `0`), then groups, group and user (privileges are
/// dropped last). Async-signal-safe: raw system calls only, nothing
/// allocated.
pub(crate) fn before_exec(
    umask: Option<u32>,
    rlimits: &[(Resource, Rlimit)],
    joins: &[i32],
    identity: Option<&Identity>,
) -> rustix::io::Result<()> {
    for &signal in ignored_signals() {
        // SAFETY: `signal` is async-signal-safe; the list was made before
        // the fork, so reading it allocates nothing.
        #[allow(unsafe_code)]
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
    rustix::process::setsid()?;
    if let Some(mask) = umask {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask));
    }
    for (resource, limit) in rlimits {
        rustix::process::setrlimit(*resource, *limit)?;
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
    keep_descriptors_from_the_program();
    Ok(())
}

/// Marks every descriptor above stdio close-on-exec, so the program gets
/// none of the supervisor's (nor the host program's, for a library user).
/// Marked rather than closed: the steps' own descriptors (the report pipe,
/// the cgroup files) stay usable until `exec`. Best effort on kernels
/// before 5.11, which lack the flag. A raw system call: neither rustix nor
/// nix has `close_range`.
fn keep_descriptors_from_the_program() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: a raw system call, async-signal-safe, on integers only.
    #[allow(unsafe_code)]
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        );
    }
}
