//! Serving the API on a listener within bounds: a client that connects
//! and sends nothing, or a thousand of them, must not take the daemon's
//! descriptors (its services need them to start) or the control socket's
//! turn.
//!
//! Each listener has its own bound on connections (a full TCP listener
//! leaves the control socket room); a request's head must arrive within
//! [`HEADER_TIMEOUT`] (a stream, once asked for, lasts as long as it
//! likes); and no TCP connection is accepted while fewer than [`RESERVE`]
//! descriptors are free (the control socket's owner is trusted: it is
//! always served, so `tend status` answers even when the services took
//! every descriptor). What is not accepted waits in the kernel's backlog,
//! costing the daemon nothing.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{watch, Semaphore};

/// Connections at once on a TCP listener. The API answers in
/// milliseconds, and the streams (`logs -f`, `watch`, the dashboard) are a
/// few per person watching: 256 is more than any real use, and with
/// [`RESERVE`] fits under the common 1,024 descriptors even when the soft
/// limit cannot be raised.
pub const TCP_CONNECTIONS: usize = 256;

/// Connections at once on the control socket: its own bound, so a full
/// TCP listener never keeps `tend status` out (only its owner can reach
/// it, so it is bounded against mistakes, not attacks).
pub const SOCKET_CONNECTIONS: usize = 128;

/// How long a client has to send a request's head (idle keep-alive
/// included): a slow or silent one is cut off rather than holding a
/// connection and its descriptor.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// [`HEADER_TIMEOUT`] for a connection accepted while fewer than a quarter
/// of the listener's connections are free: clients that connect and send
/// nothing, reconnecting as they are cut, would otherwise keep every slot
/// for 10 s and a health probe waiting behind them longer than its own
/// timeout. A real client sends its head within milliseconds.
pub const PRESSED_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// Descriptors kept free for the services: spawning one takes a few
/// (pipes, a pidfd, log files), a restart of them all many; no TCP
/// connection is accepted while fewer than this (or a quarter of the
/// limit, if less) are free.
pub const RESERVE: u64 = 128;

/// Who may take the descriptors the services need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// Untrusted clients (TCP): accepted only above [`RESERVE`].
    Keep,
    /// The control socket's owner: accepted while any descriptor is free.
    Ignore,
}

/// How long to wait before looking again when descriptors are short.
const SHORT_PAUSE: Duration = Duration::from_millis(100);

/// Connections the kernel holds for a TCP listener at its bound (std's
/// 128 would turn clients beyond the bound into connect timeouts; these
/// wait their turn, costing the daemon nothing).
const BACKLOG: u32 = 1024;

/// A TCP listener on `addr` with a [`BACKLOG`] of its own.
///
/// # Errors
/// If the address cannot be bound.
pub fn bind_tcp(addr: std::net::SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std's bind: a restart binds again while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// A listener of the kind the API is served on.
pub trait Accept: Send + 'static {
    /// A connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection.
    fn accept(&self) -> impl std::future::Future<Output = io::Result<Self::Io>> + Send;
}

impl Accept for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;
    async fn accept(&self) -> io::Result<Self::Io> {
        tokio::net::TcpListener::accept(self)
            .await
            .map(|(io, _)| io)
    }
}

impl Accept for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    async fn accept(&self) -> io::Result<Self::Io> {
        tokio::net::UnixListener::accept(self)
            .await
            .map(|(io, _)| io)
    }
}

/// Serves `router` on `listener`, at most `bound` connections at once,
/// until `closing` turns true; then asks each connection to finish what it
/// answers and returns when all have (the caller bounds that wait).
pub async fn serve<L: Accept>(
    listener: L,
    router: axum::Router,
    bound: usize,
    reserve: Reserve,
    mut closing: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(bound));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = closed(&mut closing) => break,
        };
        // Below the reserve: wait (in the backlog) until descriptors free.
        while reserve == Reserve::Keep && !descriptors_spare() {
            tokio::select! {
                () = tokio::time::sleep(SHORT_PAUSE) => {}
                () = closed(&mut closing) => return wait_all(&permits, bound).await,
            }
        }
        let io = tokio::select! {
            io = listener.accept() => io,
            () = closed(&mut closing) => break,
        };
        let io = match io {
            Ok(io) => io,
            Err(error) => {
                // EMFILE and the like pass; a busy loop would not help.
                tracing::warn!(%error, "accepting an API connection");
                tokio::time::sleep(SHORT_PAUSE).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone());
        let mut closing = closing.clone();
        let head_within = if permits.available_permits() < bound / 4 {
            PRESSED_HEADER_TIMEOUT
        } else {
            HEADER_TIMEOUT
        };
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(head_within);
            let connection = builder.serve_connection(TokioIo::new(io), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                () = closed(&mut closing) => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    wait_all(&permits, bound).await;
}

/// Resolves when the daemon closes (the flag's guard not held).
async fn closed(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|c| *c).await;
}

/// Until every connection has ended (each holds a permit).
async fn wait_all(permits: &Semaphore, bound: usize) {
    let _ = permits
        .acquire_many(u32::try_from(bound).unwrap_or(u32::MAX))
        .await;
}

/// Whether at least [`RESERVE`] descriptors (at most a quarter of the
/// soft limit) are free under it. Counted in /proc/self/fd: no system call
/// says it. A count costs about a microsecond per open descriptor (30,000
/// with 10,000 services), so a count that found room stands for
/// [`SPARE_FOR`]: a flood of accepts does not make the daemon read its
/// table once per connection; one that found none is made again each time.
fn descriptors_spare() -> bool {
    static ROOM_SEEN: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    let mut seen = ROOM_SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.is_some_and(|at| at.elapsed() < SPARE_FOR) {
        return true;
    }
    let spare = count_spare();
    *seen = spare.then(std::time::Instant::now);
    spare
}

/// How long a count that found room stands: connections accepted in it
/// take at most one descriptor each, and [`RESERVE`] is far more than a
/// burst accepts in that time.
const SPARE_FOR: Duration = Duration::from_millis(20);

/// [`descriptors_spare`], counted now.
fn count_spare() -> bool {
    let Ok(limit) = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .ok_or(())
    else {
        return true;
    };
    match std::fs::read_dir("/proc/self/fd") {
        // The directory's own descriptor is counted too: one too many
        // errs on the safe side.
        Ok(entries) => (entries.count() as u64).saturating_add(RESERVE.min(limit / 4)) <= limit,
        // Not even one free to look.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()) => false,
        // Unknown (no /proc): accept, as before.
        Err(_) => true,
    }
}
