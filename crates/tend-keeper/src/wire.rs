//! What the keeper and the daemon say to each other: one message a
//! datagram on a `SOCK_SEQPACKET` pair (message boundaries kept, the peer's
//! end seen), JSON, with up to [`MAX_FDS`] descriptors beside it as
//! `SCM_RIGHTS`. Both sides use these types, so the contract is one type,
//! never two spellings.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The environment variable that names the daemon's end of the pair.
pub const KEEPER_FD: &str = "TEND_KEEPER_FD";
/// The environment variable that names, to a keeper, the daemon that
/// started it (its parent, whose keeper was killed): the keeper takes
/// that daemon as its own instead of starting one.
pub const KEEPER_OF: &str = "TEND_KEEPER_OF";
/// The environment variable that names the state directory's lock, handed
/// to the keeper (held there too, so no other `tend up` takes the
/// directory while the daemon is started again) and by it to each daemon.
pub const LOCK_FD: &str = "TEND_LOCK_FD";

/// The largest message (a process's description is a few hundred bytes).
const MAX_MESSAGE: usize = 64 * 1024;
/// Descriptors a message carries at most: a process's pidfd, its two
/// pipes and its notify socket.
pub const MAX_FDS: usize = 4;

/// One supervised process, as the daemon describes it to the keeper and
/// the keeper gives it back. Its descriptors travel beside it, in this
/// order: the pidfd of `main`, then the stdout pipe's read end if
/// `stdout`, the stderr pipe's if `stderr`, the notify socket if `notify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// The child's id in the daemon's tree (`web`, `web.2`).
    pub id: String,
    /// The pid spawned: its process group's id.
    pub group: i32,
    /// The pid watched (the one spawned, or the main one it named).
    pub main: i32,
    /// `main`'s start time in clock ticks after boot (`/proc/PID/stat`
    /// field 22): with the pid, it names one process for good.
    pub start_ticks: u64,
    /// Whether its standard output pipe comes along.
    pub stdout: bool,
    /// Whether its standard error pipe comes along.
    pub stderr: bool,
    /// The notify socket's address (`@name`), if it has one.
    pub notify: Option<String>,
    /// Its cgroup directory and the cgroup v1 directories of its limits.
    pub cgroup: Option<(PathBuf, Vec<(String, PathBuf)>)>,
    /// Whether it was ready.
    pub ready: bool,
    /// Its parent is not the daemon (taken back after a daemon died, it
    /// is the keeper's child or init's): the keeper reads its end.
    #[serde(default)]
    pub fostered: bool,
    /// A digest of the spec it runs: one that no longer matches the
    /// config is not taken back.
    pub digest: String,
}

impl Process {
    /// How many descriptors travel with it.
    #[must_use]
    pub fn fd_count(&self) -> usize {
        1 + usize::from(self.stdout) + usize::from(self.stderr) + usize::from(self.notify.is_some())
    }
}

/// How a process ended, and when (milliseconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    /// The pid that ended.
    pub main: i32,
    /// Its exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// When it ended (its pidfd turned readable), as the keeper saw it.
    pub at_ms: u64,
}

/// From the daemon to the keeper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "m", rename_all = "snake_case")]
pub enum ToKeeper {
    /// The first message of a daemon: `take` asks for what the keeper
    /// holds (a daemon started again); an image that came by `tend
    /// upgrade` has it already.
    Hello {
        /// Whether to hand back the processes held.
        take: bool,
        /// The daemon's version.
        version: String,
    },
    /// The daemon is up (its tree started, its API answers): from now on
    /// its death is a crash, not a failed start.
    Up,
    /// Hold this process (replaces what is held for its group).
    Hold(Process),
    /// The process of this group now watched is `main` (`MAINPID=`): its
    /// pidfd comes beside.
    Main {
        /// Its group.
        group: i32,
        /// The pid now watched.
        main: i32,
        /// Its start time (see [`Process::start_ticks`]).
        start_ticks: u64,
    },
    /// An instance came to rest (completed, stopped by an operator,
    /// failed, isolated: `rest` says which, as the daemon writes it), or
    /// left its rest (`None`): a daemon started again does not run a
    /// completed job again, nor undo an operator's stop.
    Rest {
        /// The instance.
        name: String,
        /// Where it rests, opaque to the keeper.
        rest: Option<serde_json::Value>,
    },
    /// The process of this group became ready.
    Ready {
        /// Its group.
        group: i32,
    },
    /// The process of this group was reaped by the daemon: let it go.
    Release {
        /// Its group.
        group: i32,
    },
    /// The daemon begins to stop (`tend down`, a signal): if it dies
    /// before `Bye`, the next one finishes the stop.
    Stopping,
    /// The daemon stops cleanly: its services are stopped; the keeper
    /// lets go of everything, answers, and ends with the daemon.
    Bye,
    /// The daemon runs `program` (after `tend upgrade`, or a package
    /// upgrade that replaced the file): a keeper that runs another file
    /// executes `program` in its own place, keeping its pid, its children
    /// and everything it holds.
    Upgrade {
        /// The daemon's program.
        program: std::path::PathBuf,
    },
}

/// From the keeper to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "m", rename_all = "snake_case")]
pub enum ToDaemon {
    /// A process held, handed back (after `Hello { take: true }`).
    Kept(Process),
    /// An instance at rest (after `Hello { take: true }`).
    Resting {
        /// The instance.
        name: String,
        /// Where it rests, as the daemon said.
        rest: serde_json::Value,
    },
    /// A process whose parent is the keeper ended.
    Exited(Exit),
    /// The end of the hand-back: from now on only `Exited` and `Bye`.
    Done {
        /// The keeper's pid.
        keeper: u32,
        /// The daemon before was stopping (`tend down`, a signal) when it
        /// died: this one is to finish the stop.
        #[serde(default)]
        stop: bool,
    },
    /// The answer to `Bye`.
    Bye,
}

/// One end of the pair.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

impl Channel {
    /// A connected pair, both ends close-on-exec.
    ///
    /// # Errors
    /// If the kernel refuses the sockets.
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// Wraps a descriptor known to be one end of a pair.
    #[must_use]
    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel { fd }
    }

    /// The daemon's end, named by [`KEEPER_FD`] (the variable is removed,
    /// so the services do not see it). `None` without a keeper, or if the
    /// number is not an open `SOCK_SEQPACKET` socket.
    #[must_use]
    pub fn from_env() -> Option<Channel> {
        let fd = crate::inherit::from_env(KEEPER_FD, true, |fd| {
            rustix::net::sockopt::socket_type(fd).ok() == Some(SocketType::SEQPACKET)
        })?;
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC).ok()?;
        Some(Channel { fd })
    }

    /// The socket.
    #[must_use]
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A second handle on the same end (one thread sends, one receives).
    ///
    /// # Errors
    /// If the descriptor cannot be duplicated.
    pub fn try_clone(&self) -> io::Result<Channel> {
        Ok(Channel {
            fd: self.fd.try_clone()?,
        })
    }

    /// Bounds how long a receive and a send may wait (`None`: for ever).
    /// The bounds are the socket's: every handle on this end shares them.
    ///
    /// # Errors
    /// If the socket refuses the option.
    pub fn set_timeouts(&self, recv: Option<Duration>, send: Option<Duration>) -> io::Result<()> {
        use rustix::net::sockopt::{set_socket_timeout, Timeout};
        set_socket_timeout(&self.fd, Timeout::Recv, recv)?;
        set_socket_timeout(&self.fd, Timeout::Send, send)?;
        Ok(())
    }

    /// Leaves this end open across an `exec` under `KEEPER_FD`'s number
    /// (`tend upgrade`): the descriptor's number, for the variable.
    ///
    /// # Errors
    /// If its flags cannot be changed.
    pub fn inheritable(&self) -> io::Result<RawFd> {
        use std::os::fd::AsRawFd;
        rustix::io::fcntl_setfd(&self.fd, rustix::io::FdFlags::empty())?;
        Ok(self.fd.as_raw_fd())
    }

    /// Sends one message with `fds` beside it.
    ///
    /// # Errors
    /// If the peer is gone, the send timed out, or the message is too
    /// large.
    pub fn send<T: Serialize>(&self, message: &T, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        self.send_with(message, fds, SendFlags::NOSIGNAL)
    }

    /// [`send`](Self::send), but never waits: `Ok(false)` (nothing sent)
    /// when the socket has no room now.
    ///
    /// # Errors
    /// As [`send`](Self::send), but for a full socket.
    pub fn try_send<T: Serialize>(&self, message: &T, fds: &[BorrowedFd<'_>]) -> io::Result<bool> {
        match self.send_with(message, fds, SendFlags::NOSIGNAL | SendFlags::DONTWAIT) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(error) => Err(error),
        }
    }

    fn send_with<T: Serialize>(
        &self,
        message: &T,
        fds: &[BorrowedFd<'_>],
        flags: SendFlags,
    ) -> io::Result<()> {
        let text = serde_json::to_vec(message).map_err(io::Error::other)?;
        if text.len() > MAX_MESSAGE || fds.len() > MAX_FDS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "message too large",
            ));
        }
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
            return Err(io::Error::other("no room for the descriptors"));
        }
        loop {
            match rustix::net::sendmsg(&self.fd, &[IoSlice::new(&text)], &mut control, flags) {
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::INTR) => {}
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Receives one message and its descriptors (close-on-exec). `None`
    /// once the peer's end is closed.
    ///
    /// # Errors
    /// If the receive fails or times out, or the message is not one of
    /// `T` (then its descriptors are closed).
    pub fn recv<T: DeserializeOwned>(&self) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
        let mut data = vec![0_u8; MAX_MESSAGE];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let received = loop {
            match rustix::net::recvmsg(
                &self.fd,
                &mut [IoSliceMut::new(&mut data)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            ) {
                Ok(received) => break received,
                Err(rustix::io::Errno::INTR) => {}
                Err(error) => return Err(error.into()),
            }
        };
        let mut fds = Vec::new();
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(rights) = message {
                fds.extend(rights);
            }
        }
        if received.bytes == 0 && fds.is_empty() {
            return Ok(None);
        }
        let message = serde_json::from_slice(&data[..received.bytes]).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("an unreadable message: {e}"),
            )
        })?;
        Ok(Some((message, fds)))
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process() -> Process {
        Process {
            id: "web.2".into(),
            group: 41,
            main: 42,
            start_ticks: 7,
            stdout: true,
            stderr: false,
            notify: None,
            cgroup: None,
            ready: true,
            digest: "d".into(),
            fostered: false,
        }
    }

    #[test]
    fn a_message_and_its_descriptors_arrive_together() {
        let (keeper, daemon) = Channel::pair().unwrap();
        let (read, _write) = rustix::pipe::pipe().unwrap();
        let pidfd = rustix::process::pidfd_open(
            rustix::process::getpid(),
            rustix::process::PidfdFlags::empty(),
        )
        .unwrap();
        daemon
            .send(&ToKeeper::Hold(process()), &[pidfd.as_fd(), read.as_fd()])
            .unwrap();
        let (message, fds) = keeper.recv::<ToKeeper>().unwrap().unwrap();
        assert_eq!(message, ToKeeper::Hold(process()));
        assert_eq!(fds.len(), process().fd_count());
        // Close-on-exec, as every descriptor the keeper holds.
        for fd in &fds {
            assert!(rustix::io::fcntl_getfd(fd)
                .unwrap()
                .contains(rustix::io::FdFlags::CLOEXEC));
        }
    }

    #[test]
    fn the_end_of_the_peer_is_seen() {
        let (keeper, daemon) = Channel::pair().unwrap();
        drop(daemon);
        assert!(keeper.recv::<ToKeeper>().unwrap().is_none());
    }

    #[test]
    fn a_message_of_another_kind_is_refused() {
        let (keeper, daemon) = Channel::pair().unwrap();
        daemon
            .send(
                &ToDaemon::Done {
                    keeper: 1,
                    stop: false,
                },
                &[],
            )
            .unwrap();
        let error = keeper.recv::<ToKeeper>().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
