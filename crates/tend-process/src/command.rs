//! Running a helper program to its end from inside a supervisor (a check,
//! a version query). A plain `Command::output` races the orphan reaper,
//! which reaps every child it was not told about and leaves the status to
//! no one (`ECHILD`); here the child is tracked from its spawn and waited
//! for on a pidfd, as a service's process is.

use std::io;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use rustix::process::{Pid, PidfdFlags};
use tokio::io::AsyncReadExt;

use crate::exit::Ended;
use crate::reaper::{self, SpawnLock};
use crate::wait::PidFd;

/// How a program run by [`run_to_end`] ended, and what it wrote.
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut ls = Command::new("ls");
/// ls.arg("/nonexistent");
/// let finished = tend_process::run_to_end(ls, Duration::from_secs(5)).await.unwrap();
/// assert!(!finished.success());
/// assert!(!finished.stderr.is_empty());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Its exit code or signal.
    pub ended: Ended,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

impl Finished {
    /// Whether it exited with code 0.
    #[must_use]
    pub fn success(&self) -> bool {
        self.ended == Ended::Code(0)
    }
}

/// Runs `command` (stdin from `/dev/null`, its output captured) until it
/// ends, killing it after `timeout`. Dropped before the end (a `select!`
/// that went another way), it kills the program and reaps it off the
/// caller's way: nothing is left running or a zombie.
///
/// # Errors
/// If it cannot be started or watched, or (`TimedOut`) it ran longer than
/// `timeout`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut echo = std::process::Command::new("echo");
/// echo.arg("hi");
/// let finished = tend_process::run_to_end(echo, std::time::Duration::from_secs(5))
///     .await
///     .unwrap();
/// assert!(finished.success());
/// assert_eq!(finished.stdout, b"hi\n");
/// # }
/// ```
pub async fn run_to_end(mut command: Command, timeout: Duration) -> io::Result<Finished> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let lock = SpawnLock::acquire();
    let mut child = command.spawn()?;
    let raw = i32::try_from(child.id()).map_err(io::Error::other)?;
    lock.track(raw);
    let watched = Pid::from_raw(raw)
        .ok_or_else(|| io::Error::other("no pid"))
        .and_then(|pid| Ok(rustix::process::pidfd_open(pid, PidfdFlags::empty())?))
        .and_then(|fd| PidFd::new(fd, raw));
    let pidfd = match watched {
        Ok(pidfd) => pidfd,
        Err(error) => {
            let _ = child.kill();
            reaper::reaped(raw);
            return Err(error);
        }
    };
    let mut unfinished = Unfinished(Some(raw));
    let read = |stream: Option<OwnedFd>| async move {
        let mut bytes = Vec::new();
        if let Some(fd) = stream {
            let mut pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)?;
            pipe.read_to_end(&mut bytes).await?;
        }
        io::Result::Ok(bytes)
    };
    let stdout = read(child.stdout.take().map(OwnedFd::from));
    let stderr = read(child.stderr.take().map(OwnedFd::from));
    let finished = tokio::time::timeout(timeout, async {
        let (stdout, stderr, ended) = tokio::join!(stdout, stderr, pidfd.wait());
        Ok(Finished {
            ended: ended?,
            stdout: stdout?,
            stderr: stderr?,
        })
    })
    .await;
    let finished = match finished {
        Ok(finished) => finished,
        Err(_) => {
            let _ = pidfd.signal(rustix::process::Signal::KILL.as_raw());
            let _ = pidfd.wait().await;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("still running after {timeout:?}: killed"),
            ))
        }
    };
    unfinished.0 = None;
    reaper::reaped(raw);
    finished
}

/// A program [`run_to_end`] started and has not seen end: killed and
/// reaped if the run is dropped.
struct Unfinished(Option<i32>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        let Some(pid) = self.0.and_then(Pid::from_raw) else {
            return;
        };
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(crate::wait::reap_later(pid));
            }
            // No runtime to reap on: the orphan reaper takes it.
            Err(_) => reaper::reaped(pid.as_raw_nonzero().get()),
        }
    }
}
