//! The daemon's side of its keeper (the `tend-keeper` crate): the process
//! above it that holds every service's descriptors a second time, so the
//! services outlive a daemon that dies, and hands them back to the next.
//!
//! [`connect`] is called first thing: without `TEND_KEEPER_FD` (a
//! foreground `tend up`, PID 1) there is no keeper and nothing here runs.
//! With one, it says `Hello` and takes back what the keeper holds (after a
//! crash; an image started by `tend upgrade` has it all already), then
//! registers a [`Holder`] that tells the keeper of each process as it
//! starts, and two threads: one sends (the runtime's threads never block
//! on the socket), one receives the exits of the processes the keeper
//! reaps (the fostered ones, taken back after a crash).

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tend_engine::{Event, EventKind};
use tend_keeper::wire::{Channel, Exit, Process, ToDaemon, ToKeeper, KEEPER_FD};
use tend_process::held::{HeldProcess, Holder};
use tend_process::{Ended, ProcessSpec, Signal};
use tokio::sync::broadcast;

/// How long the hand-back may take (a few thousand processes).
const HAND_BACK: Duration = Duration::from_secs(30);
/// How long a send to the keeper may wait before it is given up.
const SEND: Duration = Duration::from_secs(5);
/// How long a clean end waits for the keeper's answer to `Bye`.
const BYE: Duration = Duration::from_secs(2);

/// What the keeper handed back.
#[derive(Debug, Default)]
pub struct Returned {
    /// The processes it held, each with its descriptors.
    pub kept: Vec<(Process, Vec<OwnedFd>)>,
    /// The ends it recorded while no daemon ran.
    pub exits: Vec<Exit>,
    /// Instances at rest, as the previous daemon said (opaque here).
    pub resting: Vec<(String, serde_json::Value)>,
    /// The keeper's pid.
    pub keeper: u32,
}

struct Link {
    out: Mutex<mpsc::Sender<(ToKeeper, Vec<OwnedFd>)>>,
    /// The channel itself, to leave open across `tend upgrade`'s exec.
    channel: Channel,
    /// Each held process's id, by group (readiness arrives by id).
    groups: Mutex<HashMap<String, i32>>,
    bye: Mutex<Option<mpsc::Sender<()>>>,
    /// The keeper is gone: nothing more is sent.
    gone: std::sync::atomic::AtomicBool,
}

static LINK: OnceLock<Link> = OnceLock::new();

/// Connects to the keeper, if this daemon has one, and takes back what it
/// holds when `take` (a daemon started again; an upgraded image says
/// `false`). `None` without a keeper, or if it does not answer (then the
/// daemon runs without one, as in the foreground, and says so).
#[must_use]
pub fn connect(take: bool) -> Option<Returned> {
    let channel = Channel::from_env()?;
    match hand_back(&channel, take) {
        Ok(returned) => {
            start(channel);
            Some(returned)
        }
        Err(error) => {
            tracing::error!(%error, "the keeper does not answer: the services will not outlive this daemon");
            None
        }
    }
}

fn hand_back(channel: &Channel, take: bool) -> std::io::Result<Returned> {
    channel.set_timeouts(Some(HAND_BACK), Some(HAND_BACK))?;
    channel.send(
        &ToKeeper::Hello {
            take,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        &[],
    )?;
    let mut returned = Returned::default();
    loop {
        match channel.recv::<ToDaemon>()? {
            None => return Err(std::io::Error::other("the keeper closed the channel")),
            Some((ToDaemon::Kept(process), fds)) => {
                if fds.len() == process.fd_count() {
                    returned.kept.push((process, fds));
                }
            }
            Some((ToDaemon::Exited(exit), _)) => returned.exits.push(exit),
            Some((ToDaemon::Resting { name, rest }, _)) => returned.resting.push((name, rest)),
            Some((ToDaemon::Done { keeper }, _)) => {
                returned.keeper = keeper;
                channel.set_timeouts(None, Some(SEND))?;
                return Ok(returned);
            }
            Some((ToDaemon::Bye, _)) => {}
        }
    }
}

/// The threads, the link, and the holder of every process from now on.
fn start(channel: Channel) {
    let (out, queue) = mpsc::channel::<(ToKeeper, Vec<OwnedFd>)>();
    let (Ok(sender), Ok(receiver)) = (channel.try_clone(), channel.try_clone()) else {
        tracing::error!("cannot talk to the keeper: the services will not outlive this daemon");
        return;
    };
    let link = Link {
        out: Mutex::new(out),
        channel,
        groups: Mutex::new(HashMap::new()),
        bye: Mutex::new(None),
        gone: std::sync::atomic::AtomicBool::new(false),
    };
    if LINK.set(link).is_err() {
        return;
    }
    let sent = std::thread::Builder::new()
        .name("tend-keeper-out".into())
        .spawn(move || {
            for (message, fds) in queue {
                let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
                if let Err(error) = sender.send(&message, &borrowed) {
                    tracing::warn!(%error, "cannot tell the keeper");
                }
            }
        });
    let received = std::thread::Builder::new()
        .name("tend-keeper-in".into())
        .spawn(move || listen(&receiver));
    if sent.is_err() || received.is_err() {
        tracing::error!("cannot start the keeper's threads");
        return;
    }
    tend_process::held::set_holder(Box::new(ToTheKeeper));
}

/// Hears the keeper: exits of the processes it reaps, the answer to `Bye`.
fn listen(channel: &Channel) {
    loop {
        match channel.recv::<ToDaemon>() {
            Ok(Some((ToDaemon::Exited(exit), _))) => {
                if let Some(ended) = ended(&exit) {
                    tend_process::fostered_ended(exit.main, ended);
                }
            }
            Ok(Some((ToDaemon::Bye, _))) => {
                if let Some(link) = LINK.get() {
                    if let Some(ack) = lock(&link.bye).take() {
                        let _ = ack.send(());
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                if let Some(link) = LINK.get() {
                    link.gone.store(true, std::sync::atomic::Ordering::Release);
                    if let Some(ack) = lock(&link.bye).take() {
                        let _ = ack.send(());
                    }
                }
                tracing::error!("the keeper is gone: the services will not outlive this daemon until `tend up -d` starts a new one");
                tend_process::diag!("tend: the keeper is gone: the services will not outlive this daemon (restart tend to get one back)");
                return;
            }
            Err(error) => tracing::warn!(%error, "ignored a message from the keeper"),
        }
    }
}

/// How an exit the keeper recorded ended.
#[must_use]
pub fn ended(exit: &Exit) -> Option<Ended> {
    match (exit.code, exit.signal) {
        (Some(code), _) => Some(Ended::Code(code)),
        (None, Some(number)) => Signal::from_number(number).map(Ended::Signal),
        (None, None) => None,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn send(message: ToKeeper, fds: Vec<OwnedFd>) {
    if let Some(link) = LINK.get() {
        if !link.gone.load(std::sync::atomic::Ordering::Acquire) {
            let _ = lock(&link.out).send((message, fds));
        }
    }
}

/// The digest of the spec a process runs: a process is taken back only
/// if its service's spec is still the same.
#[must_use]
pub fn digest(spec: &ProcessSpec) -> String {
    let text = serde_json::to_vec(spec).unwrap_or_default();
    Sha256::digest(&text)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Tells the keeper of every process as it starts, changes its main
/// process, and is reaped.
struct ToTheKeeper;

impl Holder for ToTheKeeper {
    fn hold(&self, process: HeldProcess, spec: &ProcessSpec) {
        let HeldProcess {
            id,
            group,
            main,
            pidfd,
            stdout,
            stderr,
            notify,
            cgroup,
            ready,
        } = process;
        if let Some(link) = LINK.get() {
            lock(&link.groups).insert(id.clone(), group);
        }
        let described = Process {
            id,
            group,
            main,
            start_ticks: tend_process::identity::start_ticks(main.unsigned_abs()).unwrap_or(0),
            stdout: stdout.is_some(),
            stderr: stderr.is_some(),
            notify: notify.as_ref().map(|(_, address)| address.clone()),
            cgroup,
            ready,
            digest: digest(spec),
        };
        let mut fds = vec![pidfd];
        fds.extend(stdout);
        fds.extend(stderr);
        fds.extend(notify.map(|(fd, _)| fd));
        send(ToKeeper::Hold(described), fds);
    }

    fn main_changed(&self, group: i32, main: i32, pidfd: OwnedFd) {
        let start_ticks = tend_process::identity::start_ticks(main.unsigned_abs()).unwrap_or(0);
        send(
            ToKeeper::Main {
                group,
                main,
                start_ticks,
            },
            vec![pidfd],
        );
    }

    fn release(&self, group: i32) {
        if let Some(link) = LINK.get() {
            lock(&link.groups).retain(|_, g| *g != group);
        }
        send(ToKeeper::Release { group }, Vec::new());
    }
}

/// Tells the keeper when a held process becomes ready, so a daemon
/// started again after a crash does not wait for a readiness already
/// given (a `READY=1` is said once), and where each instance rests
/// (`rest` says it, opaque here: see `upgrade::Rest`), so it does not run
/// a completed job again nor undo an operator's stop.
pub fn follow(
    mut events: broadcast::Receiver<Event>,
    rest: impl Fn(&tend_engine::ChildState) -> Option<serde_json::Value> + Send + 'static,
) {
    if LINK.get().is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut resting = std::collections::HashSet::new();
        loop {
            let kind = match events.recv().await {
                Ok(event) => event.kind,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            match kind {
                EventKind::ChildStarted { id, .. } | EventKind::ChildReady { id, .. } => {
                    let group = LINK
                        .get()
                        .and_then(|link| lock(&link.groups).get(id.as_str()).copied());
                    if let Some(group) = group {
                        send(ToKeeper::Ready { group }, Vec::new());
                    }
                }
                EventKind::ChildState { id, state } => match rest(&state) {
                    Some(rest) => {
                        resting.insert(id.to_string());
                        send(
                            ToKeeper::Rest {
                                name: id.to_string(),
                                rest: Some(rest),
                            },
                            Vec::new(),
                        );
                    }
                    None if resting.remove(id.as_str()) => send(
                        ToKeeper::Rest {
                            name: id.to_string(),
                            rest: None,
                        },
                        Vec::new(),
                    ),
                    None => {}
                },
                _ => {}
            }
        }
    });
}

/// Tells the keeper this daemon is up: from now on its death is a crash
/// (it is started again at once), not a failed start.
pub fn up() {
    send(ToKeeper::Up, Vec::new());
}

/// A clean end: the services are stopped. The keeper lets go of
/// everything and ends with the daemon; waits for its answer, so the
/// state directory's lock it held is free once this daemon ends.
pub fn bye() {
    let Some(link) = LINK.get() else {
        return;
    };
    if link.gone.load(std::sync::atomic::Ordering::Acquire) {
        return;
    }
    let (ack, acked) = mpsc::channel();
    *lock(&link.bye) = Some(ack);
    send(ToKeeper::Bye, Vec::new());
    let _ = acked.recv_timeout(BYE);
}

/// Leaves the keeper's channel to the next image of this daemon (`tend
/// upgrade`): its descriptor open across the exec, named in `command`'s
/// environment.
///
/// # Errors
/// If the descriptor's flags cannot be changed.
pub fn pass_on(command: &mut std::process::Command) -> std::io::Result<()> {
    if let Some(link) = LINK.get() {
        command.env(KEEPER_FD, link.channel.inheritable()?.to_string());
    }
    Ok(())
}

/// What was taken back from the keeper.
#[derive(Debug, Default)]
pub struct Readopted {
    /// The instances whose processes run on (their service's spec is the
    /// same): each child claims its process as it starts.
    pub kept: std::collections::BTreeSet<String>,
    /// Those whose service changed or is gone meanwhile: taken, to be
    /// stopped as unclaimed.
    pub changed: Vec<String>,
    /// Every pid taken back (main ones and groups'): no leftovers.
    pub pids: std::collections::HashSet<u32>,
    /// Their cgroup directories.
    pub cgroups: Vec<std::path::PathBuf>,
    /// Processes that were not what the keeper said (pid reused, a start
    /// time that differs): not taken, left to recovery.
    pub refused: Vec<String>,
    /// Instances at rest, as the previous daemon said (opaque here).
    pub resting: Vec<(String, serde_json::Value)>,
}

/// Takes back what the keeper handed over: the exits it recorded, then
/// every process that is still the one it names (its pidfd; while it runs,
/// its pid's start time too), to be claimed by its child as the tree
/// starts. Call it before anything starts.
#[must_use]
pub fn readopt(returned: Returned, config: &tend_config::Config) -> Readopted {
    for exit in &returned.exits {
        if let Some(ended) = ended(exit) {
            tend_process::fostered_ended(exit.main, ended);
        }
    }
    let digests: HashMap<String, String> = config
        .services
        .iter()
        .flat_map(|service| {
            let digest = digest(&service.process);
            service
                .instances()
                .into_iter()
                .map(move |name| (name, digest.clone()))
        })
        .collect();
    let ended_meanwhile: std::collections::HashSet<i32> =
        returned.exits.iter().map(|e| e.main).collect();
    let mut readopted = Readopted {
        resting: returned.resting,
        ..Readopted::default()
    };
    let mut taken = Vec::new();
    for (process, fds) in returned.kept {
        let mut fds = fds.into_iter();
        let Some(pidfd) = fds.next() else { continue };
        // The pidfd names the process for good; its pid names it only
        // while the pid's start time is the one recorded (a pid another
        // process took is never signalled as a group).
        let ticks = tend_process::identity::start_ticks(process.main.unsigned_abs());
        let ended = ended_meanwhile.contains(&process.main);
        match ticks {
            Some(ticks) if ticks == process.start_ticks => {}
            // Ended, and its end recorded: taken, to be handled as an exit.
            _ if ended => {}
            // Gone with no end recorded (the daemon reaped it just before
            // it died): its child starts afresh.
            None => continue,
            Some(_) => {
                readopted.refused.push(process.id);
                continue;
            }
        }
        let stdout = if process.stdout { fds.next() } else { None };
        let stderr = if process.stderr { fds.next() } else { None };
        let notify = match (&process.notify, fds.next()) {
            (Some(address), Some(fd)) => Some((fd, address.clone())),
            _ => None,
        };
        if digests.get(&process.id) == Some(&process.digest) {
            readopted.kept.insert(process.id.clone());
        } else {
            readopted.changed.push(process.id.clone());
        }
        readopted.pids.insert(process.main.unsigned_abs());
        readopted.pids.insert(process.group.unsigned_abs());
        if let Some((dir, _)) = &process.cgroup {
            readopted.cgroups.push(dir.clone());
        }
        taken.push(HeldProcess {
            id: process.id,
            group: process.group,
            main: process.main,
            pidfd,
            stdout,
            stderr,
            notify,
            cgroup: process.cgroup,
            ready: process.ready,
        });
    }
    tend_process::handover::adopt_kept(taken);
    readopted
}
