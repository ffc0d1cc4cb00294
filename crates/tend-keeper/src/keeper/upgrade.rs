//! A keeper's own upgrade: it executes the daemon's new program in its own
//! place. Its pid, its children (the daemon, the services it fosters) and
//! its subreaper flag stay across `execve`; what it holds goes along as
//! inherited descriptors, described in a memfd the environment variable
//! [`STATE`] names (a variable alone holds at most 128 KiB: a few hundred
//! services), and the new image takes it all back before its loop.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;

use rustix::io::FdFlags;
use rustix::process::Pid;
use serde::{Deserialize, Serialize};

use super::{say, watch, Daemon, DaemonState, Held, Keeper, CHANNEL, DAEMON};
use crate::inherit;
use crate::wire::{Channel, Exit, Process};

/// The environment variable that names the memfd carrying the state
/// across the `exec`.
const STATE: &str = "TEND_KEEPER_STATE_FD";

/// What a keeper carries across its own `exec`: everything but its
/// `epoll` set (made again), its descriptors by number.
#[derive(Serialize, Deserialize)]
struct Saved {
    held: Vec<SavedHeld>,
    resting: HashMap<String, serde_json::Value>,
    daemon: Option<SavedDaemon>,
    lock: Option<RawFd>,
    hello_seen: bool,
    #[serde(default)]
    finish_stop: bool,
    short_runs: u32,
    fostering: bool,
    /// The descriptor limit the first image was started with.
    nofile: (Option<u64>, Option<u64>),
    /// Ended processes whose end is not read yet, by group.
    ended: Vec<i32>,
}

#[derive(Serialize, Deserialize)]
struct SavedHeld {
    process: Process,
    fds: Vec<RawFd>,
    ended: Option<u64>,
    exit: Option<Exit>,
    orphaned: bool,
}

#[derive(Serialize, Deserialize)]
struct SavedDaemon {
    pid: i32,
    pidfd: RawFd,
    channel: Option<RawFd>,
    #[serde(flatten)]
    state: DaemonState,
}

impl Keeper {
    /// Executes `program` in this keeper's place, unless this keeper runs
    /// that file already. Returns only if it could not (then this image
    /// runs on, as it was).
    pub(super) fn upgrade(&mut self, program: &Path) {
        if is_this_image(program) {
            return;
        }
        let saved = match written(&self.save()) {
            Ok(saved) => saved,
            Err(error) => {
                say(&format!("cannot upgrade: {error}"));
                return;
            }
        };
        let inherited = self.descriptors();
        for fd in &inherited {
            let _ = rustix::io::fcntl_setfd(fd, FdFlags::empty());
        }
        say(&format!("upgrading to {}", program.display()));
        let error = std::process::Command::new(program)
            .args(std::env::args_os().skip(1))
            .env(STATE, saved.as_raw_fd().to_string())
            .exec();
        for fd in &inherited {
            let _ = rustix::io::fcntl_setfd(fd, FdFlags::CLOEXEC);
        }
        say(&format!(
            "cannot run {} ({error}): the keeper runs on as it was",
            program.display()
        ));
    }

    /// Every descriptor the keeper holds but its `epoll` set.
    fn descriptors(&self) -> Vec<std::os::fd::BorrowedFd<'_>> {
        let mut fds: Vec<_> = self
            .held
            .values()
            .flat_map(|held| held.fds.iter().map(AsFd::as_fd))
            .collect();
        if let Some(daemon) = &self.daemon {
            fds.push(daemon.pidfd.as_fd());
            fds.extend(daemon.channel.as_ref().map(Channel::fd));
        }
        fds.extend(self.lock.as_ref().map(AsFd::as_fd));
        fds
    }

    fn save(&self) -> Saved {
        let raw = |fd: &OwnedFd| fd.as_raw_fd();
        Saved {
            held: self
                .held
                .values()
                .map(|held| SavedHeld {
                    process: held.process.clone(),
                    fds: held.fds.iter().map(raw).collect(),
                    ended: held.ended,
                    exit: held.exit,
                    orphaned: held.orphaned,
                })
                .collect(),
            resting: self.resting.clone(),
            daemon: self.daemon.as_ref().map(|daemon| SavedDaemon {
                pid: daemon.pid.as_raw_nonzero().get(),
                pidfd: daemon.pidfd.as_raw_fd(),
                channel: daemon.channel.as_ref().map(|c| c.fd().as_raw_fd()),
                state: daemon.state,
            }),
            lock: self.lock.as_ref().map(raw),
            hello_seen: self.hello_seen,
            finish_stop: self.finish_stop,
            short_runs: self.short_runs,
            fostering: self.fostering,
            nofile: (self.nofile.current, self.nofile.maximum),
            ended: self
                .ended
                .iter()
                .copied()
                .chain(self.unreaped.iter().map(|(group, _)| *group))
                .collect(),
        }
    }

    /// Takes back what the previous image of this keeper carried, if it
    /// was one. `Ok(false)` if not; an error if what it carried cannot be
    /// read.
    pub(super) fn restore(&mut self) -> std::io::Result<bool> {
        if std::env::var_os(STATE).is_none() {
            return Ok(false);
        }
        let memfd = inherit::from_env(STATE, true, |_| true)
            .ok_or_else(|| std::io::Error::other(format!("{STATE} names no open descriptor")))?;
        let saved: Saved =
            serde_json::from_reader(std::io::BufReader::new(std::fs::File::from(memfd)))
                .map_err(|error| std::io::Error::other(format!("its state: {error}")))?;
        let take = |number: RawFd| {
            let fd = inherit::fd(number, |_| true)
                .ok_or_else(|| std::io::Error::other(format!("descriptor {number} is gone")))?;
            rustix::io::fcntl_setfd(&fd, FdFlags::CLOEXEC)?;
            Ok::<_, std::io::Error>(fd)
        };
        for held in saved.held {
            let fds = held
                .fds
                .into_iter()
                .map(take)
                .collect::<std::io::Result<Vec<_>>>()?;
            let group = held.process.group;
            if held.ended.is_none() {
                watch(&self.epoll, &fds[0], u64::from(group.unsigned_abs()))?;
            }
            self.held.insert(
                group,
                Held {
                    process: held.process,
                    fds,
                    ended: held.ended,
                    exit: held.exit,
                    orphaned: held.orphaned,
                },
            );
        }
        self.resting = saved.resting;
        if let Some(daemon) = saved.daemon {
            let pidfd = take(daemon.pidfd)?;
            if !daemon.state.gone {
                watch(&self.epoll, &pidfd, DAEMON)?;
            }
            let channel = daemon.channel.map(take).transpose()?.map(Channel::from_fd);
            if let Some(channel) = &channel {
                watch(&self.epoll, channel.fd(), CHANNEL)?;
            }
            self.daemon = Some(Daemon {
                pid: Pid::from_raw(daemon.pid)
                    .ok_or_else(|| std::io::Error::other("its daemon's pid"))?,
                pidfd,
                channel,
                state: daemon.state,
            });
            self.next_start = None;
        }
        self.lock = saved.lock.map(take).transpose()?;
        // Left inheritable, as it came: each daemon started takes it.
        if let Some(lock) = &self.lock {
            rustix::io::fcntl_setfd(lock, FdFlags::empty())?;
        }
        self.hello_seen = saved.hello_seen;
        self.finish_stop = saved.finish_stop;
        self.short_runs = saved.short_runs;
        self.fostering = saved.fostering;
        self.nofile = rustix::process::Rlimit {
            current: saved.nofile.0,
            maximum: saved.nofile.1,
        };
        self.ended = saved.ended;
        Ok(true)
    }
}

/// Whether `program` is the file this process runs (the same inode: a
/// package upgrade that replaced the file makes it another).
fn is_this_image(program: &Path) -> bool {
    match (
        rustix::fs::stat(program),
        rustix::fs::stat("/proc/self/exe"),
    ) {
        (Ok(wanted), Ok(running)) => {
            wanted.st_dev == running.st_dev && wanted.st_ino == running.st_ino
        }
        // Not there to run: stay.
        _ => true,
    }
}

/// `saved` in a memfd read from its start, left open across `exec`.
fn written(saved: &Saved) -> std::io::Result<OwnedFd> {
    use std::io::{Seek, Write};
    let memfd = rustix::fs::memfd_create("tend-keeper-state", rustix::fs::MemfdFlags::empty())?;
    let mut file = std::fs::File::from(memfd);
    serde_json::to_writer(&mut file, saved).map_err(std::io::Error::other)?;
    file.flush()?;
    file.rewind()?;
    Ok(OwnedFd::from(file))
}
