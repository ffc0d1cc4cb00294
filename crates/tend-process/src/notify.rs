//! The server side of systemd's sd_notify protocol: one datagram socket per
//! incarnation, passed as `NOTIFY_SOCKET`, so programs written for systemd
//! (`sd_notify()`, the `sd-notify` crate, `systemd-notify`) work unchanged.
//!
//! Written here because the well-kept crates implement the client side
//! only. The socket is in the abstract namespace (no file to clean up, no
//! path-length limit) and receives with `SO_PASSCRED`, so each datagram
//! carries its sender's pid as the kernel saw it: only the service's own
//! processes (its main process, its process group, its cgroup) are heard.

use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SocketAddrUnix,
    SocketFlags, SocketType,
};
use tokio::io::Interest;
use tokio::net::UnixDatagram;

/// The largest datagram read; systemd reads at most its page size too.
const MAX_DATAGRAM: usize = 4096;

/// One thing a service told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// `READY=1`.
    Ready,
    /// `RELOADING=1`.
    Reloading,
    /// `STOPPING=1`.
    Stopping,
    /// `STATUS=…`.
    Status(String),
    /// `ERRNO=…`.
    Errno(i32),
    /// `MAINPID=…`.
    MainPid(u32),
    /// `WATCHDOG=1`: alive.
    Watchdog,
    /// `WATCHDOG=trigger`: hung, by its own account.
    WatchdogTrigger,
    /// `EXTEND_TIMEOUT_USEC=…`.
    ExtendTimeout(Duration),
}

/// A bound notify socket.
pub(crate) struct NotifySocket {
    socket: UnixDatagram,
    address: String,
}

impl NotifySocket {
    /// Binds a socket of a name no other in this process has.
    /// A name may be taken after a re-exec (the pid is the same, the
    /// counter starts again, and adopted services keep their sockets): the
    /// next one is tried.
    pub(crate) fn bind_new() -> io::Result<NotifySocket> {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        loop {
            let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
            match NotifySocket::bind(&format!("tend/{}/notify/{serial}", std::process::id())) {
                Err(error) if error.kind() == io::ErrorKind::AddrInUse => {}
                bound => return bound,
            }
        }
    }

    /// A socket bound before (by a previous program image), with its
    /// address.
    pub(crate) fn from_fd(fd: OwnedFd, address: String) -> io::Result<NotifySocket> {
        let socket = UnixDatagram::from_std(std::os::unix::net::UnixDatagram::from(fd))?;
        Ok(NotifySocket { socket, address })
    }

    /// A second descriptor of the socket (same queue), to hand over.
    pub(crate) fn duplicate(&self) -> io::Result<OwnedFd> {
        use std::os::fd::AsFd;
        self.socket.as_fd().try_clone_to_owned()
    }

    /// Binds `@name` (abstract) with credentials passing on.
    pub(crate) fn bind(name: &str) -> io::Result<NotifySocket> {
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )?;
        rustix::net::bind(&fd, &SocketAddrUnix::new_abstract_name(name.as_bytes())?)?;
        rustix::net::sockopt::set_socket_passcred(&fd, true)?;
        let socket = UnixDatagram::from_std(std::os::unix::net::UnixDatagram::from(fd))?;
        Ok(NotifySocket {
            socket,
            address: format!("@{name}"),
        })
    }

    /// The value of `NOTIFY_SOCKET`.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// The notices of the next datagram whose sender `is_ours` accepts
    /// (by pid); datagrams from anyone else, or without credentials, are
    /// dropped. File descriptors sent along (`BARRIER=1`, `FDSTORE=1`) are
    /// closed at once, which is what a barrier waits for.
    pub(crate) async fn recv(&self, is_ours: impl Fn(u32) -> bool) -> io::Result<Vec<Notice>> {
        let mut data = vec![0_u8; MAX_DATAGRAM];
        loop {
            let (len, sender) = self
                .socket
                .async_io(Interest::READABLE, || receive(&self.socket, &mut data))
                .await?;
            match sender {
                Some(pid) if is_ours(pid) => return Ok(parse(&data[..len])),
                Some(pid) => tracing::debug!(pid, "notify message from a stranger dropped"),
                None => tracing::debug!("notify message without credentials dropped"),
            }
        }
    }
}

/// One `recvmsg`: the datagram's length and its sender's pid.
fn receive(socket: &UnixDatagram, data: &mut [u8]) -> io::Result<(usize, Option<u32>)> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(16), ScmCredentials(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = rustix::net::recvmsg(
        socket,
        &mut [IoSliceMut::new(data)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC | RecvFlags::TRUNC,
    )?;
    let mut sender = None;
    for message in control.drain() {
        match message {
            RecvAncillaryMessage::ScmCredentials(credentials) => {
                sender = u32::try_from(credentials.pid.as_raw_nonzero().get()).ok();
            }
            RecvAncillaryMessage::ScmRights(fds) => fds.for_each(drop::<OwnedFd>),
            _ => {}
        }
    }
    Ok((received.bytes.min(data.len()), sender))
}

/// The notices in one datagram: `KEY=VALUE` lines; unknown keys and
/// malformed values are ignored, as systemd does.
pub(crate) fn parse(datagram: &[u8]) -> Vec<Notice> {
    let text = String::from_utf8_lossy(datagram);
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            Some(match (key, value) {
                ("READY", "1") => Notice::Ready,
                ("RELOADING", "1") => Notice::Reloading,
                ("STOPPING", "1") => Notice::Stopping,
                ("STATUS", text) => Notice::Status(text.to_owned()),
                ("ERRNO", n) => Notice::Errno(n.trim().parse().ok()?),
                ("MAINPID", n) => Notice::MainPid(n.trim().parse().ok().filter(|&p| p > 0)?),
                ("WATCHDOG", "1") => Notice::Watchdog,
                ("WATCHDOG", "trigger") => Notice::WatchdogTrigger,
                ("EXTEND_TIMEOUT_USEC", n) => {
                    Notice::ExtendTimeout(Duration::from_micros(n.trim().parse().ok()?))
                }
                _ => return None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The notify fuzz target's corpus (with every crasher it found), on
    /// stable Rust: each datagram parses, at most one notice a line.
    #[test]
    fn every_datagram_of_the_fuzz_corpus_parses() {
        let corpus =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/notify");
        let mut seen = 0;
        for entry in std::fs::read_dir(&corpus).unwrap() {
            let datagram = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(parse(&datagram).len() <= datagram.split(|&b| b == b'\n').count());
            seen += 1;
        }
        assert!(seen >= 3, "the corpus is missing: {}", corpus.display());
    }

    #[test]
    fn a_datagram_holds_several_notices_and_ignores_the_rest() {
        let notices = parse(
            b"READY=1\nSTATUS=serving 3 clients\nMAINPID=42\nERRNO=5\n\
              WATCHDOG=1\nWATCHDOG=trigger\nEXTEND_TIMEOUT_USEC=2500000\n\
              RELOADING=1\nSTOPPING=1\nFDSTORE=1\nREADY=0\nMAINPID=x\nno equals sign\n",
        );
        assert_eq!(
            notices,
            [
                Notice::Ready,
                Notice::Status("serving 3 clients".into()),
                Notice::MainPid(42),
                Notice::Errno(5),
                Notice::Watchdog,
                Notice::WatchdogTrigger,
                Notice::ExtendTimeout(Duration::from_millis(2500)),
                Notice::Reloading,
                Notice::Stopping,
            ]
        );
    }

    #[tokio::test]
    async fn only_accepted_senders_are_heard() {
        let name = format!("tend-test/{}/notify", std::process::id());
        let socket = NotifySocket::bind(&name).unwrap();
        assert_eq!(socket.address(), format!("@{name}"));
        use std::os::linux::net::SocketAddrExt;
        let client = std::os::unix::net::UnixDatagram::unbound().unwrap();
        let to = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        client.send_to_addr(b"STATUS=from a stranger", &to).unwrap();
        client.send_to_addr(b"READY=1\nSTATUS=up", &to).unwrap();
        let me = std::process::id();
        // The first is refused, the second (same sender) then accepted.
        let asked = std::cell::Cell::new(0);
        let notices = socket
            .recv(|pid| {
                assert_eq!(pid, me, "the kernel's view of the sender");
                asked.set(asked.get() + 1);
                asked.get() > 1
            })
            .await
            .unwrap();
        assert_eq!(asked.get(), 2);
        assert_eq!(notices, [Notice::Ready, Notice::Status("up".into())]);
    }
}
