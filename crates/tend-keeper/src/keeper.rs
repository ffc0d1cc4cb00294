//! The keeper process: one thread, one `epoll` loop, no async runtime.
//!
//! It starts the daemon as its child and is a child subreaper, so the
//! services (the daemon's children) become its children if the daemon
//! dies. It watches, through one `epoll` set:
//! - its end of the pair with the daemon: `Hold`, `Ready`, `Release`,
//!   `Hello` and `Bye` (see [`wire`](crate::wire));
//! - the daemon's pidfd: readable once the daemon ended;
//! - each held process's pidfd: readable once it ended (a process whose
//!   parent is the daemon is then the daemon's to reap; one whose parent
//!   is the keeper is reaped here and its end recorded).
//!
//! Every wake-up looks at what ended among its own children: the daemon
//! and orphans are reaped, a service left to it has its end read and
//! recorded, and stays a zombie until the daemon lets it go. A
//! daemon that ends without `Bye` after it said `Hello` crashed: one that
//! had said `Up` is started again at once; one that died starting is
//! started again after a backoff that doubles from [`FIRST_BACKOFF`] to
//! [`MAX_BACKOFF`], and given up after [`GIVE_UP_AFTER`] such failed
//! starts in a row. Each is said on standard error (the daemon's log).
//! The new daemon's `Hello` gets back every process held, with its
//! descriptors, and the exits recorded meanwhile.
//!
//! A daemon whose keeper was killed starts a new one for itself (with
//! [`KEEPER_OF`] naming it): that keeper takes the running daemon as its
//! own, and the daemon gives it every process again. It is not the
//! ancestor of those processes: if the daemon dies, they go to init (or
//! the subreaper above), which reaps them. Their ends are then read from
//! their pidfds once reaped (`PIDFD_INFO_EXIT`, Linux 6.15; on an older
//! kernel an end is recorded with no status), and no zombie keeps their
//! pids. The daemon it starts after that is its child, as are that
//! daemon's processes when it dies.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustix::buffer::spare_capacity;
use rustix::event::epoll;
use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, WaitOptions};

use crate::wire::{Channel, Exit, Process, ToDaemon, ToKeeper, KEEPER_FD, KEEPER_OF, LOCK_FD};

mod upgrade;

/// The wait before the second start in a series of short runs.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between two starts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Failed starts in a row after which the keeper gives up.
pub const GIVE_UP_AFTER: u32 = 10;
/// How often an ended process that is not the keeper's child is looked at
/// until its parent reaped it.
const UNREAPED_LOOK: Duration = Duration::from_millis(100);
/// How long its parent may take to reap it before its end is recorded with
/// no status (init here reaps within about 2 s).
const UNREAPED_WAIT: Duration = Duration::from_secs(30);
/// How long a send to the daemon may wait.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

const CHANNEL: u64 = u64::MAX;
const DAEMON: u64 = u64::MAX - 1;
const SIGNALS: u64 = u64::MAX - 2;

/// The signals passed on to the daemon: a `kill` of the keeper (or a
/// service manager's stop) is meant for tend, which stops in order.
const PASSED_ON: [nix::sys::signal::Signal; 4] = [
    nix::sys::signal::Signal::SIGTERM,
    nix::sys::signal::Signal::SIGINT,
    nix::sys::signal::Signal::SIGHUP,
    nix::sys::signal::Signal::SIGQUIT,
];

/// How to start the daemon.
#[derive(Debug, Clone)]
pub struct Options {
    /// Its program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
}

/// One process held for the daemon.
struct Held {
    process: Process,
    /// Its descriptors, in the order of [`Process`]'s fields.
    fds: Vec<OwnedFd>,
    /// Its pidfd was seen readable (it is out of the `epoll` set), at this
    /// time (milliseconds since the epoch): when it ended, even if its end
    /// is read later (a stopped daemon kept it unreaped).
    ended: Option<u64>,
    /// Its end, if the keeper reaped it (or read it, once reaped).
    exit: Option<Exit>,
    /// The daemon it ran under died: its parent is the keeper (it was
    /// the daemon's child) or init (the daemon was not the keeper's).
    orphaned: bool,
}

impl Held {
    fn pidfd(&self) -> BorrowedFd<'_> {
        self.fds[0].as_fd()
    }
}

/// The daemon now running.
struct Daemon {
    pid: Pid,
    pidfd: OwnedFd,
    channel: Option<Channel>,
    state: DaemonState,
}

/// Where the daemon now running stands, as the keeper saw it (carried
/// as it is across the keeper's own upgrade).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct DaemonState {
    /// It said `Up`.
    up: bool,
    /// It said `Hello`, and got what was held: exits go to it as they come.
    connected: bool,
    /// It said `Bye`: its end is the keeper's.
    leaving: bool,
    /// It started this keeper (not the keeper's child): its end is seen on
    /// its pidfd ([`gone`](Self::gone)), not reaped here.
    adopted: bool,
    /// Its pidfd turned readable.
    gone: bool,
    /// It said `Stopping`.
    #[serde(default)]
    stopping: bool,
}

struct Keeper {
    options: Options,
    started: Box<dyn FnMut(u32)>,
    epoll: OwnedFd,
    held: HashMap<i32, Held>,
    /// Held processes seen ended whose end is not read yet, by group.
    ended: Vec<i32>,
    /// Ended processes not reaped yet by their parent (not the keeper),
    /// by group, with when they were first looked at.
    unreaped: Vec<(i32, Instant)>,
    /// The keeper ends with this code (it said `Bye` to a daemon it did not
    /// start: no one waits for it).
    done: Option<i32>,
    /// Instances at rest, as the daemon said.
    resting: HashMap<String, serde_json::Value>,
    daemon: Option<Daemon>,
    /// The state directory's lock, as `tend up -d` handed it.
    lock: Option<OwnedFd>,
    /// Some daemon said `Hello`: from then on one that dies is started again.
    hello_seen: bool,
    /// A daemon died stopping: the next one is told to finish the stop.
    finish_stop: bool,
    /// Failed starts in a row.
    short_runs: u32,
    next_start: Option<Instant>,
    /// Services were left to the keeper: orphans may come any time.
    fostering: bool,
    /// The descriptor limit it was started with, each daemon's.
    nofile: rustix::process::Rlimit,
    /// The signals to pass on, as they come.
    signals: Option<nix::sys::signalfd::SignalFd>,
}

/// Runs the keeper until the daemon ends cleanly (its exit code is the
/// keeper's), cannot be started, or is given up on; `started` hears the
/// pid of each daemon it starts. Call it from a process that has no other
/// threads.
#[must_use]
pub fn run(options: Options, started: impl FnMut(u32) + 'static) -> i32 {
    if let Err(error) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        say(&format!(
            "cannot become a child subreaper ({error}): services would not survive the daemon"
        ));
    }
    // It holds up to four descriptors a service: as many as it may have.
    // Each daemon is started with the limit the keeper was started with
    // (it raises its own, and gives services back the original).
    let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: nofile.maximum,
            maximum: nofile.maximum,
        },
    );
    let epoll = match epoll::create(epoll::CreateFlags::CLOEXEC) {
        Ok(epoll) => epoll,
        Err(error) => {
            say(&format!("cannot start: {error}"));
            return 1;
        }
    };
    let mut keeper = Keeper {
        options,
        started: Box::new(started),
        epoll,
        held: HashMap::new(),
        ended: Vec::new(),
        unreaped: Vec::new(),
        done: None,
        resting: HashMap::new(),
        daemon: None,
        lock: None,
        hello_seen: false,
        finish_stop: false,
        short_runs: 0,
        next_start: Some(Instant::now()),
        fostering: false,
        nofile,
        signals: None,
    };
    keeper.signals = keeper.pass_signals_on();
    // A keeper that upgraded itself goes on; one that a daemon started
    // for itself takes that daemon; the one `tend up -d` started starts
    // one.
    match keeper.restore() {
        Ok(true) => {}
        Ok(false) => {
            keeper.lock = lock_from_env();
            if let Err(error) = keeper.adopt() {
                say(&format!("cannot take the daemon that started it: {error}"));
                return 1;
            }
        }
        Err(error) => {
            say(&format!(
                "cannot take back what it held before its upgrade: {error}"
            ));
            return 1;
        }
    }
    keeper.run()
}

impl Keeper {
    /// Takes the daemon that started this keeper for itself, if one did
    /// ([`KEEPER_OF`]): it is up, and gives its processes again.
    fn adopt(&mut self) -> std::io::Result<()> {
        let Some(named) = std::env::var_os(KEEPER_OF) else {
            return Ok(());
        };
        // Not passed on to the daemons this keeper starts.
        std::env::remove_var(KEEPER_OF);
        let pid = named
            .to_str()
            .and_then(|pid| pid.parse().ok())
            .and_then(Pid::from_raw)
            .ok_or_else(|| std::io::Error::other(format!("{KEEPER_OF} is not a pid")))?;
        // Its parent, checked after its pidfd is open: the pidfd then names
        // that process, not one that took its pid since.
        let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty())?;
        if rustix::process::getppid() != Some(pid) {
            return Err(std::io::Error::other("it is gone already"));
        }
        let channel = Channel::from_env()
            .ok_or_else(|| std::io::Error::other(format!("no channel in {KEEPER_FD}")))?;
        channel.set_timeouts(None, Some(SEND_TIMEOUT))?;
        watch(&self.epoll, &pidfd, DAEMON)?;
        watch(&self.epoll, &channel, CHANNEL)?;
        self.daemon = Some(Daemon {
            pid,
            pidfd,
            channel: Some(channel),
            state: DaemonState {
                up: true,
                connected: true,
                adopted: true,
                ..DaemonState::default()
            },
        });
        self.hello_seen = true;
        self.next_start = None;
        Ok(())
    }

    fn run(&mut self) -> i32 {
        let mut events = Vec::with_capacity(64);
        loop {
            if self.daemon.is_none() {
                if let Some(at) = self.next_start {
                    if Instant::now() >= at {
                        self.next_start = None;
                        if let Err(code) = self.start() {
                            return code;
                        }
                    }
                }
            }
            let timeout = self.timeout().map(|wait| rustix::time::Timespec {
                tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(wait.subsec_nanos()),
            });
            events.clear();
            match epoll::wait(&self.epoll, spare_capacity(&mut events), timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(error) => {
                    say(&format!("cannot wait: {error}"));
                    return 1;
                }
            }
            for event in events.drain(..) {
                match event.data.u64() {
                    CHANNEL => self.receive(),
                    SIGNALS => self.pass_on(),
                    // Reaped below (or, not its child, seen ended).
                    DAEMON => {
                        if let Some(daemon) = self.daemon.as_mut() {
                            daemon.state.gone = true;
                        }
                    }
                    group => self.seen_ended(group as i32),
                }
            }
            if let Some(code) = self.done {
                return code;
            }
            if let Some(code) = self.reap() {
                return code;
            }
        }
    }

    /// How long to wait for an event: until the next start, a tenth of a
    /// second while an ended process waits to be reaped by its parent, or
    /// a second while orphans may come (each wake-up reaps them).
    fn timeout(&self) -> Option<Duration> {
        let start = self
            .next_start
            .filter(|_| self.daemon.is_none())
            .map(|at| at.saturating_duration_since(Instant::now()));
        let unreaped = (!self.unreaped.is_empty()).then_some(UNREAPED_LOOK);
        let orphans = self.fostering.then_some(Duration::from_secs(1));
        [start, unreaped, orphans].into_iter().flatten().min()
    }

    /// Blocks the signals [`PASSED_ON`] and watches them through a
    /// `signalfd`. Each daemon starts with them unblocked (see `start`).
    fn pass_signals_on(&self) -> Option<nix::sys::signalfd::SignalFd> {
        let mask: nix::sys::signal::SigSet = PASSED_ON.into_iter().collect();
        let signals = mask.thread_block().and_then(|()| {
            nix::sys::signalfd::SignalFd::with_flags(
                &mask,
                nix::sys::signalfd::SfdFlags::SFD_CLOEXEC
                    | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
            )
        });
        match signals {
            Ok(signals) => {
                let watched = watch(&self.epoll, &signals, SIGNALS);
                watched.is_ok().then_some(signals)
            }
            Err(error) => {
                say(&format!("cannot pass signals on to the daemon: {error}"));
                None
            }
        }
    }

    /// Passes each signal that came on to the daemon (to its pidfd: never
    /// to a process that took its pid).
    fn pass_on(&mut self) {
        let Some(signals) = self.signals.as_mut() else {
            return;
        };
        while let Ok(Some(info)) = signals.read_signal() {
            let Ok(number) = i32::try_from(info.ssi_signo) else {
                continue;
            };
            let name = nix::sys::signal::Signal::try_from(number)
                .map_or_else(|_| number.to_string(), |s| s.as_str().to_owned());
            match (
                &self.daemon,
                rustix::process::Signal::from_named_raw(number),
            ) {
                (Some(daemon), Some(signal)) if !daemon.state.gone => {
                    if let Err(error) = rustix::process::pidfd_send_signal(&daemon.pidfd, signal) {
                        say(&format!("cannot pass {name} on to the daemon: {error}"));
                    }
                }
                _ => say(&format!("{name}: no daemon runs to pass it on to")),
            }
        }
    }

    /// Starts the daemon. `Err(code)` if the keeper must end.
    fn start(&mut self) -> Result<(), i32> {
        let started = (|| -> std::io::Result<Daemon> {
            let (ours, theirs) = Channel::pair()?;
            ours.set_timeouts(None, Some(SEND_TIMEOUT))?;
            // A descriptor without close-on-exec, for the daemon only:
            // this thread is the process's only one, so nothing else
            // inherits it between here and its close.
            let inherited = rustix::io::dup(theirs.fd())?;
            let mut command = Command::new(&self.options.program);
            command
                .args(&self.options.args)
                .env(KEEPER_FD, inherited.as_raw_fd().to_string())
                .stdin(Stdio::null());
            let original = self.nofile;
            let unblocked: nix::sys::signal::SigSet = PASSED_ON.into_iter().collect();
            // SAFETY: between fork and exec the closure only makes two
            // system calls (setrlimit, sigprocmask: async-signal-safe) on
            // values copied in before the fork; it allocates nothing and
            // takes no lock.
            #[allow(unsafe_code)]
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                    // The daemon starts with the limit the keeper was
                    // started with, and none of its signals blocked.
                    let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, original);
                    let _ = unblocked.thread_unblock();
                    Ok(())
                });
            }
            let child = command.spawn();
            drop(inherited);
            let child = child?;
            let pid = Pid::from_raw(i32::try_from(child.id()).map_err(std::io::Error::other)?)
                .ok_or_else(|| std::io::Error::other("no pid"))?;
            let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty())?;
            watch(&self.epoll, &pidfd, DAEMON)?;
            watch(&self.epoll, &ours, CHANNEL)?;
            Ok(Daemon {
                pid,
                pidfd,
                channel: Some(ours),
                state: DaemonState::default(),
            })
        })();
        match started {
            Ok(daemon) => {
                (self.started)(daemon.pid.as_raw_nonzero().get().unsigned_abs());
                self.daemon = Some(daemon);
                Ok(())
            }
            Err(error) if self.hello_seen => {
                say(&format!("cannot start the daemon: {error}"));
                self.after_short_run()
            }
            Err(error) => {
                say(&format!("cannot start the daemon: {error}"));
                Err(1)
            }
        }
    }

    /// One message from the daemon.
    fn receive(&mut self) {
        let Some(daemon) = self.daemon.as_mut() else {
            return;
        };
        let Some(channel) = daemon.channel.as_ref() else {
            return;
        };
        match channel.recv::<ToKeeper>() {
            Ok(Some((message, fds))) => self.handle(message, fds),
            Ok(None) => self.close_channel(),
            Err(error) if error.kind() == std::io::ErrorKind::InvalidData => {
                say(&format!("ignored a message from the daemon: {error}"));
            }
            Err(error) => {
                say(&format!("lost the daemon's channel: {error}"));
                self.close_channel();
            }
        }
    }

    fn close_channel(&mut self) {
        if let Some(daemon) = self.daemon.as_mut() {
            if let Some(channel) = daemon.channel.take() {
                let _ = epoll::delete(&self.epoll, &channel);
            }
        }
    }

    fn handle(&mut self, message: ToKeeper, fds: Vec<OwnedFd>) {
        match message {
            ToKeeper::Hello { take, .. } => self.hello(take),
            ToKeeper::Up => {
                if let Some(daemon) = self.daemon.as_mut() {
                    daemon.state.up = true;
                }
            }
            ToKeeper::Hold(process) => {
                if fds.len() != process.fd_count() {
                    say(&format!(
                        "ignored {}: {} descriptors, not {}",
                        process.id,
                        fds.len(),
                        process.fd_count()
                    ));
                    return;
                }
                let group = process.group;
                // The same process held again (by a daemon that took it
                // back) keeps the end recorded for it, and its parent.
                let (exit, orphaned) = self.held.remove(&group).map_or((None, false), |old| {
                    self.forget(&old);
                    (
                        old.exit.filter(|exit| exit.main == process.main),
                        old.orphaned,
                    )
                });
                // A keeper that did not see the daemon that started it die
                // (it came after) learns it from the daemon.
                let orphaned = orphaned || process.fostered;
                let held = Held {
                    process,
                    fds,
                    ended: None,
                    exit,
                    orphaned,
                };
                if watch(&self.epoll, held.pidfd(), u64::from(group.unsigned_abs())).is_err() {
                    say(&format!("cannot watch {}", held.process.id));
                }
                self.held.insert(group, held);
            }
            ToKeeper::Main {
                group,
                main,
                start_ticks,
            } => {
                let Some(pidfd) = fds.into_iter().next() else {
                    return;
                };
                let Some(held) = self.held.get_mut(&group) else {
                    return;
                };
                if held.ended.is_none() {
                    let _ = epoll::delete(&self.epoll, held.fds[0].as_fd());
                }
                held.process.main = main;
                held.process.start_ticks = start_ticks;
                held.fds[0] = pidfd;
                held.ended = None;
                let _ = watch(
                    &self.epoll,
                    held.fds[0].as_fd(),
                    u64::from(group.unsigned_abs()),
                );
            }
            ToKeeper::Rest { name, rest } => match rest {
                Some(rest) => {
                    self.resting.insert(name, rest);
                }
                None => {
                    self.resting.remove(&name);
                }
            },
            ToKeeper::Ready { group } => {
                if let Some(held) = self.held.get_mut(&group) {
                    held.process.ready = true;
                }
            }
            ToKeeper::Release { group } => {
                if let Some(held) = self.held.remove(&group) {
                    self.let_go(&held);
                }
            }
            ToKeeper::Upgrade { program } => self.upgrade(&program),
            ToKeeper::Stopping => {
                if let Some(daemon) = self.daemon.as_mut() {
                    daemon.state.stopping = true;
                }
            }
            ToKeeper::Bye => {
                // Its services are stopped: nothing is held any more, and
                // the lock goes now, so a `tend up` right after the
                // daemon's end finds the directory free.
                for (_, held) in std::mem::take(&mut self.held) {
                    self.let_go(&held);
                }
                self.resting.clear();
                self.lock = None;
                if let Some(daemon) = self.daemon.as_mut() {
                    daemon.state.leaving = true;
                    if let Some(channel) = &daemon.channel {
                        let _ = channel.send(&ToDaemon::Bye, &[]);
                    }
                    // A daemon that started this keeper waits for it to
                    // end (it is its child): nothing is left to do.
                    if daemon.state.adopted {
                        self.done = Some(0);
                    }
                }
            }
        }
    }

    /// Takes a held process out of the `epoll` set.
    fn forget(&self, held: &Held) {
        if held.ended.is_none() {
            let _ = epoll::delete(&self.epoll, held.pidfd());
        }
    }

    /// A daemon's first message: it gets back what is held, if it asks.
    fn hello(&mut self, take: bool) {
        self.hello_seen = true;
        let Some(daemon) = self.daemon.as_mut() else {
            return;
        };
        let Some(channel) = daemon.channel.as_ref() else {
            return;
        };
        let mut sent = Ok(());
        if take {
            for held in self.held.values() {
                let fds: Vec<BorrowedFd<'_>> = held.fds.iter().map(AsFd::as_fd).collect();
                sent =
                    sent.and_then(|()| channel.send(&ToDaemon::Kept(held.process.clone()), &fds));
            }
            for (name, rest) in &self.resting {
                let resting = ToDaemon::Resting {
                    name: name.clone(),
                    rest: rest.clone(),
                };
                sent = sent.and_then(|()| channel.send(&resting, &[]));
            }
            for exit in self.held.values().filter_map(|h| h.exit) {
                sent = sent.and_then(|()| channel.send(&ToDaemon::Exited(exit), &[]));
            }
        }
        sent = sent.and_then(|()| {
            channel.send(
                &ToDaemon::Done {
                    keeper: std::process::id(),
                    stop: self.finish_stop,
                },
                &[],
            )
        });
        match sent {
            Ok(()) => {
                daemon.state.connected = true;
                self.finish_stop = false;
            }
            Err(error) => {
                say(&format!("cannot hand the processes back: {error}"));
                self.close_channel();
            }
        }
    }

    /// A held process's pidfd turned readable.
    fn seen_ended(&mut self, group: i32) {
        if let Some(held) = self.held.get_mut(&group) {
            if held.ended.is_none() {
                held.ended = Some(now_ms());
                let _ = epoll::delete(&self.epoll, held.fds[0].as_fd());
                self.ended.push(group);
            }
        }
    }

    /// Looks at every child of the keeper that ended. `Some(code)` if the
    /// keeper must end with it.
    ///
    /// A held process that ended is not reaped here: its end is read
    /// (`waitid(WNOWAIT)`), recorded and told, and the zombie stays until
    /// the daemon lets it go (`Release`): while it holds its pid, that pid
    /// is no other process's group for the daemon's last `kill` to the
    /// group to hit. The daemon and orphans are reaped at once.
    fn reap(&mut self) -> Option<i32> {
        if let Some(daemon) = &self.daemon {
            let ended = if daemon.state.adopted {
                // Not the keeper's child: how it ended is its parent's.
                daemon
                    .state
                    .gone
                    .then(|| exit_of(daemon.pidfd.as_fd()).ok().flatten())
                    .map(|ended| ended.unwrap_or((None, None)))
            } else {
                match rustix::process::waitpid(Some(daemon.pid), WaitOptions::NOHANG) {
                    Ok(Some((_, status))) => {
                        Some((status.exit_status(), status.terminating_signal()))
                            .filter(|(code, signal)| code.is_some() || signal.is_some())
                    }
                    _ => None,
                }
            };
            if let Some((code, signal)) = ended {
                if let Some(code) = self.daemon_ended(code, signal) {
                    return Some(code);
                }
            }
        }
        let mut told = Vec::new();
        let mut unreaped = Vec::new();
        let looked_at: HashMap<i32, Instant> =
            std::mem::take(&mut self.unreaped).into_iter().collect();
        let mut ended = std::mem::take(&mut self.ended);
        ended.extend(looked_at.keys());
        for group in ended {
            let Some(held) = self.held.get_mut(&group).filter(|h| h.exit.is_none()) else {
                continue;
            };
            let (code, signal) = match rustix::process::waitid(
                WaitId::PidFd(held.fds[0].as_fd()),
                WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG,
            ) {
                Ok(Some(status)) => (status.exit_status(), status.terminating_signal()),
                // Not the keeper's child, and its daemon is gone: init's,
                // read from its zombie, or once it is reaped.
                Err(rustix::io::Errno::CHILD) if held.orphaned => {
                    match zombie_end(held.process.main, held.process.start_ticks)
                        .map_or_else(|| exit_of(held.fds[0].as_fd()), |ended| Ok(Some(ended)))
                    {
                        Ok(Some(ended)) => ended,
                        Ok(None) => {
                            let since = looked_at.get(&group).copied().unwrap_or_else(Instant::now);
                            if since.elapsed() < UNREAPED_WAIT {
                                unreaped.push((group, since));
                                continue;
                            }
                            say(&format!(
                                "{}: ended, and its parent has not reaped it in {} s: its end is recorded with no status",
                                held.process.id,
                                UNREAPED_WAIT.as_secs()
                            ));
                            (None, None)
                        }
                        // A kernel before 6.15 cannot say how it ended.
                        Err(_) => (None, None),
                    }
                }
                // The daemon's child, the daemon's to reap.
                _ => continue,
            };
            let exit = Exit {
                main: held.process.main,
                code,
                signal,
                at_ms: held.ended.unwrap_or_else(now_ms),
            };
            held.exit = Some(exit);
            told.push(exit);
        }
        self.unreaped = unreaped;
        if let Some(channel) = self
            .daemon
            .as_ref()
            .filter(|d| d.state.connected)
            .and_then(|d| d.channel.as_ref())
        {
            for exit in told {
                let _ = channel.send(&ToDaemon::Exited(exit), &[]);
            }
        }
        // Orphans (a held process's children, once it was left here).
        if !self.fostering {
            return None;
        }
        let daemon = self.daemon.as_ref().map(|d| d.pid.as_raw_nonzero().get());
        for pid in children() {
            if Some(pid) == daemon || self.held.values().any(|h| h.process.main == pid) {
                continue;
            }
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG);
            }
        }
        None
    }

    /// Reaps a held process the daemon let go of, if it is the keeper's
    /// zombie.
    fn let_go(&self, held: &Held) {
        self.forget(held);
        if held.exit.is_some() {
            if let Some(pid) = Pid::from_raw(held.process.main) {
                let _ = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG);
            }
        }
    }

    /// The daemon ended. `Some(code)` if the keeper ends too.
    fn daemon_ended(&mut self, code: Option<i32>, signal: Option<i32>) -> Option<i32> {
        let daemon = self.daemon.take()?;
        let _ = epoll::delete(&self.epoll, &daemon.pidfd);
        if let Some(channel) = &daemon.channel {
            let _ = epoll::delete(&self.epoll, channel);
        }
        let as_code = code.unwrap_or_else(|| 128 + signal.unwrap_or(0));
        if daemon.state.leaving {
            return Some(as_code);
        }
        if !self.hello_seen || (code.is_some() && self.held.is_empty()) {
            // It never started (`tend up -d` says why, from its log), or
            // it exited by itself with nothing to keep: its end is ours.
            return Some(as_code);
        }
        let how = match (code, signal) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) => format!("was killed by signal {signal}"),
            (None, None) => "ended".to_owned(),
        };
        // Killed while it stopped: the next one finishes the stop.
        self.finish_stop |= daemon.state.stopping;
        // From now on the services it had are the keeper's children (or,
        // if the keeper did not start it, init's): those that ended
        // unreaped are the keeper's zombies now (or init's to reap).
        self.fostering = true;
        for held in self.held.values_mut() {
            held.orphaned = true;
        }
        self.ended.extend(
            self.held
                .iter()
                .filter(|(_, h)| h.ended.is_some() && h.exit.is_none())
                .map(|(group, _)| *group),
        );
        say(&format!(
            "the daemon (pid {}) {how} without stopping its {} services; starting it again{}",
            daemon.pid.as_raw_nonzero(),
            self.held.len(),
            if daemon.state.stopping {
                ", to finish the stop"
            } else {
                ""
            }
        ));
        if daemon.state.up {
            self.short_runs = 0;
            self.next_start = Some(Instant::now());
            None
        } else {
            self.after_short_run().err()
        }
    }

    /// Counts a short run; the next start after a backoff, or the end.
    fn after_short_run(&mut self) -> Result<(), i32> {
        self.short_runs += 1;
        if self.short_runs >= GIVE_UP_AFTER {
            say(&format!(
                "giving up: the daemon ended {} times in a row before it was up; its {} services run on unsupervised, and the next `tend up` stops them",
                self.short_runs,
                self.held.len()
            ));
            return Err(1);
        }
        let wait = FIRST_BACKOFF
            .saturating_mul(1 << (self.short_runs - 1).min(16))
            .min(MAX_BACKOFF);
        self.next_start = Some(Instant::now() + wait);
        Ok(())
    }
}

/// The state directory's lock `tend up -d` handed over, kept (and left
/// inheritable, its variable too: each daemon started takes it by it).
fn lock_from_env() -> Option<OwnedFd> {
    crate::inherit::from_env(LOCK_FD, false, |_| true)
}

/// Now, in milliseconds since the epoch (the daemon's clock too).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Puts `fd` in the `epoll` set, its events named `data`.
fn watch(epoll: &OwnedFd, fd: impl AsFd, data: u64) -> std::io::Result<()> {
    epoll::add(
        epoll,
        fd,
        epoll::EventData::new_u64(data),
        epoll::EventFlags::IN,
    )?;
    Ok(())
}

/// A line on standard error (the daemon's log), never a panic.
fn say(what: &str) {
    let _ = writeln!(std::io::stderr(), "tend keeper: {what}");
}

/// The keeper's children now, from `/proc` (one thread: one list).
fn children() -> Vec<i32> {
    let pid = std::process::id();
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// How a process that is not the keeper's child ended, once its parent
/// reaped it: `PIDFD_GET_INFO` with `PIDFD_INFO_EXIT` (Linux 6.15), which
/// reads the status the kernel keeps with the pidfd. `Ok(None)` while it
/// is not reaped yet; an error on an older kernel. Written here: rustix
/// has no wrapper for this `ioctl` yet.
fn exit_of(pidfd: BorrowedFd<'_>) -> std::io::Result<Option<(Option<i32>, Option<i32>)>> {
    /// `struct pidfd_info` (`include/uapi/linux/pidfd.h`), its first
    /// version (64 bytes).
    #[repr(C)]
    #[derive(Default)]
    struct PidfdInfo {
        mask: u64,
        cgroupid: u64,
        pid: u32,
        tgid: u32,
        ppid: u32,
        ruid: u32,
        rgid: u32,
        euid: u32,
        egid: u32,
        suid: u32,
        sgid: u32,
        fsuid: u32,
        fsgid: u32,
        exit_code: i32,
    }
    const PIDFD_INFO_EXIT: u64 = 1 << 3;
    const PIDFD_GET_INFO: rustix::ioctl::Opcode =
        rustix::ioctl::opcode::read_write::<PidfdInfo>(0xFF, 11);
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_EXIT,
        ..PidfdInfo::default()
    };
    // SAFETY: the opcode is `PIDFD_GET_INFO`, whose argument is a
    // `struct pidfd_info` of the size the opcode carries (`PidfdInfo`,
    // laid out as the kernel's); the kernel writes only within it.
    #[allow(unsafe_code)]
    unsafe {
        rustix::ioctl::ioctl(
            pidfd,
            rustix::ioctl::Updater::<PIDFD_GET_INFO, PidfdInfo>::new(&mut info),
        )?;
    }
    if info.mask & PIDFD_INFO_EXIT == 0 {
        return Ok(None);
    }
    Ok(Some(wait_status(info.exit_code)))
}

/// How `pid` ended, while it is a zombie not reaped yet, and the one that
/// started at `start_ticks` (not a process that took its pid since): the
/// wait status `/proc/PID/stat` shows in its 52nd field (Linux 3.5). So
/// an end is known at once, before init gets to reap it.
fn zombie_end(pid: i32, start_ticks: u64) -> Option<(Option<i32>, Option<i32>)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's closing parenthesis: field 3 (the state) on.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let is_zombie = fields.first() == Some(&"Z");
    let same = fields.get(19).and_then(|t| t.parse::<u64>().ok()) == Some(start_ticks);
    let status = fields.get(49)?.parse().ok()?;
    (is_zombie && same).then(|| wait_status(status))
}

/// A wait status, as `waitpid` gives it: its code, or its signal.
fn wait_status(status: i32) -> (Option<i32>, Option<i32>) {
    if status & 0x7f == 0 {
        (Some((status >> 8) & 0xff), None)
    } else {
        (None, Some(status & 0x7f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_ticks(pid: i32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        fields[19].parse().unwrap()
    }

    /// A pid's end is read from its zombie before it is reaped (its start
    /// time checked), and from its pidfd after.
    #[test]
    fn an_end_is_read_from_the_zombie_then_from_the_pidfd() {
        let mut child = Command::new("sh")
            .args(["-c", "read _; exit 7"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let ticks = start_ticks(pid);
        let pidfd =
            rustix::process::pidfd_open(Pid::from_raw(pid).unwrap(), PidfdFlags::empty()).unwrap();
        assert_eq!(zombie_end(pid, ticks), None, "running: no end");
        assert_eq!(exit_of(pidfd.as_fd()).unwrap(), None, "running: no end");
        drop(child.stdin.take());
        // Ended, not reaped: its pidfd turns readable.
        let mut ready = [rustix::event::PollFd::new(
            &pidfd,
            rustix::event::PollFlags::IN,
        )];
        rustix::event::poll(&mut ready, None).unwrap();
        assert_eq!(zombie_end(pid, ticks), Some((Some(7), None)));
        assert_eq!(
            zombie_end(pid, ticks + 1),
            None,
            "another process's start time"
        );
        child.wait().unwrap();
        assert_eq!(zombie_end(pid, ticks), None, "reaped: no zombie");
        assert_eq!(exit_of(pidfd.as_fd()).unwrap(), Some((Some(7), None)));
    }

    #[test]
    fn wait_statuses_say_a_code_or_a_signal() {
        assert_eq!(wait_status(3 << 8), (Some(3), None));
        assert_eq!(wait_status(0), (Some(0), None));
        assert_eq!(wait_status(9), (None, Some(9)));
        assert_eq!(wait_status(15 | 0x80), (None, Some(15)), "with a core dump");
    }
}
