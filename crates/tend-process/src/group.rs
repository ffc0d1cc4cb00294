//! Signalling a process group: the child runs in its own session, so its
//! process group id is its pid and a signal to the group reaches every
//! descendant that stayed in it.

use rustix::process::{Pid, Signal};

/// Sends `signal` to the process group led by `leader`. A group that no
/// longer exists is not an error.
pub(crate) fn signal_group(leader: Pid, signal: i32) {
    let Some(signal) = Signal::from_named_raw(signal) else {
        return;
    };
    match rustix::process::kill_process_group(leader, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(error) => {
            tracing::warn!(pgid = leader.as_raw_nonzero().get(), %error, "signal to process group failed")
        }
    }
}

/// `SIGKILL` to the whole group.
pub(crate) fn kill_group(leader: Pid) {
    signal_group(leader, rustix::process::Signal::KILL.as_raw());
}

/// Whether process `pid` is in the group led by `leader`. Asked through
/// nix: rustix's `getpgid` asserts a positive answer, and a kernel
/// thread's is 0 (a service may name any pid in `MAINPID=`).
pub(crate) fn in_group(pid: u32, leader: Pid) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid)))
        .is_ok_and(|group| group.as_raw() == leader.as_raw_nonzero().get())
}
