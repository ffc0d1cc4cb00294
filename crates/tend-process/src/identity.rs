//! Which process a pid names: the pid, its start time in clock ticks since
//! boot (`/proc/PID/stat` field 22) and the boot it belongs to
//! (`/proc/sys/kernel/random/boot_id`). A pid reused by another process
//! has another start time; a pid from before a reboot has another boot id.
//! Never the wall clock: a clock step (NTP on a VM) moves it, not these.
//!
//! Signals sent on the word of a file go through a pidfd: the process is
//! opened first, checked second, and signalled through what was opened,
//! so a pid reused between the check and the signal is not hit.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};

use rustix::process::{Pid, PidfdFlags, Signal};

/// A process as tend identifies it across its own restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    /// Its pid.
    pub pid: u32,
    /// Its start time, in clock ticks since boot.
    pub start_ticks: u64,
    /// The boot it started in.
    pub boot_id: String,
}

impl ProcessIdentity {
    /// The identity of the process now running as `pid`, if any (zombies
    /// included: they still hold their pid).
    #[must_use]
    pub fn of(pid: u32) -> Option<ProcessIdentity> {
        Some(ProcessIdentity {
            pid,
            start_ticks: stat(pid)?.start_ticks,
            boot_id: boot_id()?.to_owned(),
        })
    }

    /// This process's identity.
    #[must_use]
    pub fn current() -> Option<ProcessIdentity> {
        Self::of(std::process::id())
    }

    /// Whether this process still runs (not a zombie): the same pid, the
    /// same start ticks, the same boot.
    #[must_use]
    pub fn is_running(&self) -> bool {
        boot_id() == Some(self.boot_id.as_str())
            && stat(self.pid).is_some_and(|s| s.start_ticks == self.start_ticks && s.state != 'Z')
    }
}

/// This boot's id, read once.
#[must_use]
pub fn boot_id() -> Option<&'static str> {
    static BOOT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT.get_or_init(|| {
        let id = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(id.trim().to_owned()).filter(|id| !id.is_empty())
    })
    .as_deref()
}

/// A process's start time in clock ticks since boot, if it exists.
#[must_use]
pub fn start_ticks(pid: u32) -> Option<u64> {
    stat(pid).map(|s| s.start_ticks)
}

/// The fields of `/proc/PID/stat` tend uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) state: char,
    pub(crate) group: u32,
    pub(crate) session: u32,
    pub(crate) start_ticks: u64,
}

pub(crate) fn stat(pid: u32) -> Option<Stat> {
    // Read on every start (`publish`): three system calls, not nine.
    let text = crate::files::read_kernel_file(format!("/proc/{pid}/stat").as_ref(), true).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<Stat> {
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'.
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        group: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// An opened process: what is checked about it afterwards is about this
/// process, not whatever has its pid by then.
#[derive(Debug)]
pub(crate) struct Pidfd {
    pid: u32,
    fd: OwnedFd,
}

impl Pidfd {
    /// Opens `pid`; `None` if it is gone.
    pub(crate) fn open(pid: u32) -> Option<Pidfd> {
        let raw = Pid::from_raw(i32::try_from(pid).ok()?)?;
        let fd = rustix::process::pidfd_open(raw, PidfdFlags::empty()).ok()?;
        Some(Pidfd { pid, fd })
    }

    /// Whether the opened process has not ended: while it has not, its pid
    /// is its own, so what `/proc/PID` said after [`open`](Self::open) was
    /// about it. (A pidfd becomes readable when its process ends.)
    fn still_running(&self) -> bool {
        let mut fds = [rustix::event::PollFd::new(
            &self.fd,
            rustix::event::PollFlags::IN,
        )];
        let timeout = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        matches!(rustix::event::poll(&mut fds, Some(&timeout)), Ok(0))
    }

    /// Sends `signal` if `check` holds for the process's pid after it was
    /// opened (read from `/proc`) and the process did not end meanwhile.
    /// Whether it was sent.
    pub(crate) fn signal_if(&self, signal: Signal, check: impl FnOnce(u32) -> bool) -> bool {
        if !check(self.pid) || !self.still_running() {
            return false;
        }
        rustix::process::pidfd_send_signal(self.fd.as_fd(), signal).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_identified_and_another_start_time_is_not_it() {
        let me = ProcessIdentity::current().unwrap();
        assert!(me.start_ticks > 0);
        assert_eq!(me.boot_id.len(), 36, "{}", me.boot_id);
        assert!(me.is_running());
        let reused = ProcessIdentity {
            start_ticks: me.start_ticks + 1,
            ..me.clone()
        };
        assert!(!reused.is_running());
        let other_boot = ProcessIdentity {
            boot_id: "00000000-0000-0000-0000-000000000000".into(),
            ..me
        };
        assert!(!other_boot.is_running());
    }

    #[test]
    fn a_command_name_with_parentheses_and_spaces_is_skipped() {
        let line = "42 (a) b (c) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!((stat.state, stat.group, stat.session), ('S', 42, 42));
        assert_eq!(stat.start_ticks, 12345);
    }
}
