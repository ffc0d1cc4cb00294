//! What a process's probes check, and its readiness signals other than
//! sd_notify: an exec command (exit code 0), an HTTP GET (status 2xx or
//! 3xx), a TCP connect; a file appearing. The engine paces probes
//! (`tend_engine::Probe`); this module only answers "does it pass now?".
//!
//! The HTTP check is written here over tokio's `TcpStream` with `httparse`
//! reading the status line: a probe needs one request and one status code,
//! and an HTTP client crate (hyper and its runtime glue) would be the
//! heaviest dependency of the library for it, and cost more per check.

use std::convert::Infallible;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustix::process::Pid;
use tend_engine::{Context, Probe};
use tend_spec::{HttpTarget, ProbeCheck, ProbeSpec, ProcessSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::container::Container;
use crate::exit::Ended;
use crate::gate::{ReadyGate, ReadySignal};
use crate::group::kill_group;
use crate::prepare::prepare;
use crate::reaper::{self, SpawnLock};
use crate::spawn::spawn;
use crate::wait::{reap_later, PidFd};

/// How often a readiness signal that is polled (a file, a probe) is looked
/// at.
pub(crate) const READY_POLL: Duration = Duration::from_millis(250);

/// The most of a failed exec probe's output kept for its reason.
const OUTPUT_KEPT: usize = 512;

/// The engine's probe for a process probe spec.
pub(crate) fn probe(probe: &ProbeSpec, service: &ProcessSpec, inside: Option<&Container>) -> Probe {
    let check = Arc::new(Check::new(&probe.check, service, inside));
    Probe::new(move |_ctx: Context| {
        let check = check.clone();
        async move { check.passes().await }
    })
    .timing(probe.timing)
}

/// A check, with what it needs worked out once: an exec check's process
/// spec (the service's, running the check's command; for a container, the
/// runtime's `exec` into it).
pub(crate) enum Check {
    Exec(Box<ProcessSpec>),
    Http(HttpTarget),
    Tcp(String),
}

impl Check {
    pub(crate) fn new(
        check: &ProbeCheck,
        service: &ProcessSpec,
        inside: Option<&Container>,
    ) -> Check {
        match check {
            ProbeCheck::Exec(command) if inside.is_some() => Check::Exec(Box::new(
                inside.map_or_else(|| service.clone(), |c| c.exec(command)),
            )),
            ProbeCheck::Exec(command) => {
                let mut spec = service.clone();
                spec.command.clone_from(command);
                spec.shell = false;
                spec.stdin = None;
                Check::Exec(Box::new(spec))
            }
            ProbeCheck::Http(target) => Check::Http(target.clone()),
            ProbeCheck::Tcp(address) => Check::Tcp(address.clone()),
        }
    }

    /// Whether it passes now; `Err` says why not.
    pub(crate) async fn passes(&self) -> Result<(), String> {
        match self {
            Check::Exec(spec) => exec(spec).await,
            Check::Http(target) => http(target).await,
            Check::Tcp(address) => tcp(address).await,
        }
    }
}

/// Waits until the service's polled readiness signal (a file, a check)
/// holds, then meets it at `gate`. Never returns. A container's file is on
/// the host (its `cwd` is inside).
pub(crate) async fn until_ready(
    service: &ProcessSpec,
    inside: Option<&Container>,
    gate: &ReadyGate,
) -> Infallible {
    let file = service.ready.file.as_ref().map(|file| match &service.cwd {
        Some(cwd) if file.is_relative() && inside.is_none() => cwd.join(file),
        _ => file.clone(),
    });
    if file.is_none() && service.ready.probe.is_none() {
        return std::future::pending().await;
    }
    let check = service
        .ready
        .probe
        .as_ref()
        .map(|c| Check::new(c, service, inside));
    // Boxed: a check's future is kilobytes (an exec check reads two pipes)
    // and every incarnation holds this one, most with nothing to poll.
    Box::pin(poll_ready(file, check, gate)).await
}

/// Polls `file` and `check` until both hold, then meets the gate.
async fn poll_ready(file: Option<PathBuf>, check: Option<Check>, gate: &ReadyGate) -> Infallible {
    let mut tick = tokio::time::interval(READY_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let file_there = file.as_deref().is_none_or(exists);
        let check_passes = match &check {
            Some(check) => file_there && check.passes().await.is_ok(),
            None => true,
        };
        if file_there && check_passes {
            gate.met(ReadySignal::Polled);
            return std::future::pending().await;
        }
    }
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

async fn tcp(address: &str) -> Result<(), String> {
    TcpStream::connect(address)
        .await
        .map(drop)
        .map_err(|e| format!("connect to {address}: {e}"))
}

async fn http(target: &HttpTarget) -> Result<(), String> {
    let fail = |e: io::Error| format!("GET {target}: {e}");
    let mut stream = TcpStream::connect(&target.authority).await.map_err(fail)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tend-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path, target.host
    );
    stream.write_all(request.as_bytes()).await.map_err(fail)?;
    let mut response = Vec::with_capacity(1024);
    loop {
        if stream.read_buf(&mut response).await.map_err(fail)? == 0 {
            return Err(format!(
                "GET {target}: the connection closed before a status line"
            ));
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        let status = parsed.parse(&response);
        // The status line is parsed before the headers: enough to judge.
        if let Some(code) = parsed.code {
            return match code {
                200..=399 => Ok(()),
                _ => Err(format!("GET {target}: status {code}")),
            };
        }
        match status {
            Err(httparse::Error::TooManyHeaders) | Ok(_) if response.len() < 16 * 1024 => {}
            Err(e) => return Err(format!("GET {target}: not an HTTP response ({e})")),
            Ok(_) => return Err(format!("GET {target}: no status line in 16 KiB")),
        }
    }
}

/// Runs the check's command as the service would run (its user, directory
/// and environment, no shell), outside its cgroup; passes on exit code 0.
/// A check cut at its timeout is dropped: its process group is killed.
async fn exec(spec: &ProcessSpec) -> Result<(), String> {
    let command = &spec.command;
    let prepared = prepare(spec).map_err(|e| e.to_string())?;
    let lock = SpawnLock::acquire();
    let spawned = spawn(spec, &prepared, None).map_err(|e| e.to_string())?;
    let pid = spawned.pid;
    lock.track(pid.as_raw_nonzero().get());
    let mut guard = KillOnDrop { pid, armed: true };
    let pidfd = PidFd::new(spawned.pidfd, pid.as_raw_nonzero().get())
        .map_err(|e| format!("cannot watch the check: {e}"))?;
    // Read while it runs (a full pipe would block it); once it ended, what
    // it left in its group is killed, which closes the pipes.
    let ended = async {
        let ended = pidfd.wait().await;
        kill_group(pid);
        ended
    };
    let (out, err, ended) = tokio::join!(
        read_capped(spawned.stdout),
        read_capped(spawned.stderr),
        ended
    );
    guard.armed = false;
    reaper::reaped(pid.as_raw_nonzero().get());
    let said = || {
        let mut text = String::from_utf8_lossy(&out).trim().to_owned();
        let err = String::from_utf8_lossy(&err);
        if !err.trim().is_empty() {
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(err.trim());
        }
        if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        }
    };
    match ended.map_err(|e| format!("waiting for the check: {e}"))? {
        Ended::Code(0) => Ok(()),
        Ended::Code(code) => Err(format!("{} exited with code {code}{}", command[0], said())),
        Ended::Signal(signal) => Err(format!(
            "{} killed by signal {signal}{}",
            command[0],
            said()
        )),
    }
}

/// Reads a pipe to its end, keeping the first [`OUTPUT_KEPT`] bytes (the
/// rest is drained, so the check never blocks on a full pipe).
async fn read_capped(fd: OwnedFd) -> Vec<u8> {
    let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
        return Vec::new();
    };
    let mut pipe = pipe;
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(read) = pipe.read(&mut chunk).await {
        if read == 0 {
            break;
        }
        let room = OUTPUT_KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..read.min(room)]);
    }
    kept
}

/// Kills and reaps a check cut short (dropped at its timeout).
struct KillOnDrop {
    pid: Pid,
    armed: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.armed {
            kill_group(self.pid);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(reap_later(self.pid));
            }
        }
    }
}
