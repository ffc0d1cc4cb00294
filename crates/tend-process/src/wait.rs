//! Waiting for a process to end, event-driven: the pidfd becomes readable
//! when the process exits (epoll through tokio), then `waitid(P_PIDFD)` reaps
//! exactly that process. No polling loop, no SIGCHLD race with other code.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::task::{ready, Context, Poll};

use rustix::process::{WaitId, WaitIdOptions};

use crate::exit::Ended;
use crate::reaper;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A process's pidfd, ready to wait on.
pub(crate) struct PidFd {
    fd: AsyncFd<OwnedFd>,
    pid: i32,
}

impl PidFd {
    pub(crate) fn new(pidfd: OwnedFd, pid: i32) -> io::Result<Self> {
        // SAFETY: an `OwnedFd` is a valid open descriptor that stays open and
        // the same for as long as the `AsyncFd` owns it.
        #[allow(unsafe_code)]
        let fd = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(PidFd { fd, pid })
    }

    /// The process's id.
    /// A second descriptor of the same process (to hand over).
    pub(crate) fn duplicate(&self) -> io::Result<OwnedFd> {
        self.fd.get_ref().try_clone()
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for the process to end and reaps it. Cancel-safe.
    pub(crate) async fn wait(&self) -> io::Result<Ended> {
        loop {
            self.exited().await?;
            match self.try_reap() {
                Ok(Some(ended)) => return Ok(ended),
                Ok(None) => {}
                // Not our child: tend's keeper reaps it and tells how it
                // ended.
                Err(error)
                    if error.raw_os_error() == Some(rustix::io::Errno::CHILD.raw_os_error())
                        && reaper::is_fostered(self.pid) =>
                {
                    return reaper::fostered_end(self.pid).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Waits until the process has ended, without reaping it: the zombie
    /// keeps its pid (and so its process group id) from being reused while
    /// the caller kills what is left of the group. Cancel-safe.
    pub(crate) async fn exited(&self) -> io::Result<()> {
        let mut ready = self.fd.readable().await?;
        // A pidfd stays readable once its process has ended; keep the
        // readiness so that the next wait sees it at once.
        ready.retain_ready();
        Ok(())
    }

    /// [`exited`](Self::exited) as a poll: no future to hold while the
    /// process runs (an idle child's incarnation waits on this).
    pub(crate) fn poll_exited(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut ready = ready!(self.fd.poll_read_ready(cx))?;
        ready.retain_ready();
        Poll::Ready(Ok(()))
    }

    /// Reaps the process if it has ended.
    pub(crate) fn try_reap(&self) -> io::Result<Option<Ended>> {
        let status = match rustix::process::waitid(
            WaitId::PidFd(self.fd.get_ref().as_fd()),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
        ) {
            Ok(status) => status,
            // The orphan reaper took it after its grace period.
            Err(rustix::io::Errno::CHILD) => match reaper::take_abandoned(self.pid) {
                Some(ended) => return Ok(Some(ended)),
                None => return Err(rustix::io::Errno::CHILD.into()),
            },
            Err(error) => return Err(error.into()),
        };
        Ok(status.and_then(|s| Ended::decode(s.exit_status(), s.terminating_signal())))
    }

    /// Sends a signal to the process itself (not its group).
    pub(crate) fn signal(&self, signal: i32) -> io::Result<()> {
        let Some(signal) = rustix::process::Signal::from_named_raw(signal) else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        rustix::process::pidfd_send_signal(self.fd.get_ref().as_fd(), signal).map_err(Into::into)
    }
}

/// Reaps `pid` once it ends, for a caller that no longer holds its pidfd
/// (a dropped incarnation or probe, whose process was just killed).
pub(crate) async fn reap_later(pid: rustix::process::Pid) {
    if let Ok(fd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
        if let Ok(pidfd) = PidFd::new(fd, pid.as_raw_nonzero().get()) {
            let _ = pidfd.wait().await;
        }
    }
    reaper::reaped(pid.as_raw_nonzero().get());
}
