//! The daemon's side of its keeper (the `tend-keeper` crate): the process
//! above it that holds every service's descriptors a second time, so the
//! services outlive a daemon that dies, and hands them back to the next.
//!
//! [`connect`] is called first thing: without `TEND_KEEPER_FD` (a
//! foreground `tend up`, PID 1) there is no keeper and nothing here runs.
//! With one, it says `Hello` and takes back what the keeper holds (after a
//! crash; an image started by `tend upgrade` has it all already), then
//! registers a [`Holder`] that tells the keeper of each process as it
//! starts, and a thread that sends (the runtime's threads never block on
//! the socket). [`readopt`] takes what was handed back, then starts a
//! thread that receives the exits of the processes the keeper reaps (the
//! fostered ones, taken back after a crash).
//!
//! A keeper that dies (a `kill -9`) leaves this daemon running: the
//! receiving thread sees the channel close and starts a new keeper (the
//! command [`renew_with`] names), which takes this daemon as its own;
//! every live incarnation then gives it its process again
//! ([`tend_process::held::hold_again`]), and the rests follow. A new
//! keeper that dies young is started again after a wait that doubles from
//! 1 s to a minute.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tend_engine::{Event, EventKind};
use tend_keeper::wire::{
    Channel, Exit, Process, ToDaemon, ToKeeper, KEEPER_FD, KEEPER_OF, LOCK_FD,
};
use tend_process::held::{HeldProcess, Holder};
use tend_process::{Ended, ProcessSpec, Signal};
use tokio::sync::broadcast;

/// How long the hand-back may take (a few thousand processes).
const HAND_BACK: Duration = Duration::from_secs(30);
/// How long a send to the keeper may wait before it is given up.
const SEND: Duration = Duration::from_secs(5);
/// How long a clean end waits for the keeper's answer to `Bye`.
const BYE: Duration = Duration::from_secs(2);
/// A new keeper that lived less than this died young: the next one waits.
const YOUNG: Duration = Duration::from_secs(10);
/// The longest wait before a new keeper.
const MAX_RENEW_WAIT: Duration = Duration::from_secs(60);

/// How to start a new keeper for this daemon.
#[derive(Debug, Clone)]
pub struct KeeperCommand {
    /// Its program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
}

/// What a new keeper is started with: its command, and the state
/// directory's lock (it holds it too).
struct Renewal {
    command: Option<KeeperCommand>,
    lock: Option<OwnedFd>,
}

static RENEWAL: Mutex<Renewal> = Mutex::new(Renewal {
    command: None,
    lock: None,
});

/// Names the command that starts a new keeper if this daemon's keeper
/// dies (`tend up --keeper`, for `tend`). Without it, a daemon whose
/// keeper died runs on without one.
pub fn renew_with(command: KeeperCommand) {
    lock(&RENEWAL).command = Some(command);
}

/// The state directory's lock, for a new keeper to hold too.
pub fn hold_lock_too(state_lock: &impl AsFd) {
    if LINK.get().is_some() {
        lock(&RENEWAL).lock = state_lock.as_fd().try_clone_to_owned().ok();
    }
}

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
    /// The previous daemon died while it stopped: this one finishes the
    /// stop once it has taken everything back.
    pub finish_stop: bool,
}

struct Link {
    /// What sends to the keeper now.
    out: Mutex<Outbox>,
    /// The channel itself, to leave open across `tend upgrade`'s exec.
    channel: Mutex<Channel>,
    /// Each held process's id, by group (readiness arrives by id).
    groups: Mutex<Groups>,
    /// Instances at rest, as last said: a new keeper hears them again.
    resting: Mutex<HashMap<String, serde_json::Value>>,
    bye: Mutex<Option<mpsc::Sender<()>>>,
    /// `Bye` was said: a keeper that ends now is not replaced.
    leaving: AtomicBool,
    /// The keeper is gone: nothing more is sent.
    gone: AtomicBool,
    /// The keeper's pid (0 while none runs).
    pid: AtomicU32,
}

static LINK: OnceLock<Link> = OnceLock::new();

/// The held processes' groups by child id, and back: a release (one per
/// exit) finds its id without a scan of every service.
#[derive(Default)]
struct Groups {
    by_id: HashMap<String, i32>,
    by_group: HashMap<i32, String>,
}

impl Groups {
    fn hold(&mut self, id: &str, group: i32) {
        if let Some(old) = self.by_id.insert(id.to_owned(), group) {
            if old != group {
                self.by_group.remove(&old);
            }
        }
        self.by_group.insert(group, id.to_owned());
    }

    fn release(&mut self, group: i32) {
        if let Some(id) = self.by_group.remove(&group) {
            if self.by_id.get(&id) == Some(&group) {
                self.by_id.remove(&id);
            }
        }
    }
}

/// Connects to the keeper, if this daemon has one, and takes back what it
/// holds when `take` (a daemon started again; an upgraded image says
/// `false`). `None` without a keeper, or if it does not answer (then the
/// daemon runs without one, as in the foreground, and says so).
#[must_use]
pub fn connect(take: bool) -> Option<Returned> {
    let channel = Channel::from_env()?;
    match hand_back(&channel, take) {
        Ok(returned) => {
            start(channel, returned.keeper);
            // A keeper that runs another file than this daemon (an older
            // one: `tend upgrade`, a package upgrade) upgrades itself.
            if let Some(command) = lock(&RENEWAL).command.clone() {
                send(
                    ToKeeper::Upgrade {
                        program: command.program,
                    },
                    Vec::new(),
                );
            }
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
            Some((ToDaemon::Done { keeper, stop }, _)) => {
                returned.keeper = keeper;
                returned.finish_stop = stop;
                channel.set_timeouts(None, Some(SEND))?;
                return Ok(returned);
            }
            Some((ToDaemon::Bye, _)) => {}
        }
    }
}

/// The keeper's pid, while one runs.
#[must_use]
pub fn pid() -> Option<u32> {
    let link = LINK.get()?;
    if link.gone.load(Ordering::Acquire) {
        return None;
    }
    Some(link.pid.load(Ordering::Acquire)).filter(|&pid| pid != 0)
}

/// The threads, the link, and the holder of every process from now on.
fn start(channel: Channel, keeper: u32) {
    let Ok(out) = sender(&channel) else {
        tracing::error!("cannot talk to the keeper: the services will not outlive this daemon");
        return;
    };
    let link = Link {
        out: Mutex::new(out),
        channel: Mutex::new(channel),
        groups: Mutex::new(Groups::default()),
        resting: Mutex::new(HashMap::new()),
        bye: Mutex::new(None),
        leaving: AtomicBool::new(false),
        gone: AtomicBool::new(false),
        pid: AtomicU32::new(keeper),
    };
    if LINK.set(link).is_err() {
        return;
    }
    tend_process::held::set_holder(Box::new(ToTheKeeper));
}

/// Starts hearing the keeper (once what it handed back is taken: an end
/// it tells is taken only for a process fostered by then), and each new
/// keeper in turn, one for each that dies.
fn hear() {
    let Some(link) = LINK.get() else { return };
    let Ok(receiver) = lock(&link.channel).try_clone() else {
        tracing::error!("cannot hear the keeper: the services will not outlive this daemon");
        return;
    };
    let received = std::thread::Builder::new()
        .name("tend-keeper-in".into())
        .spawn(move || {
            let mut channel = receiver;
            while listen(&channel) {
                match renew() {
                    Some(next) => channel = next,
                    None => return,
                }
            }
        });
    if received.is_err() {
        tracing::error!("cannot start the keeper's threads");
    }
}

/// Sends to the keeper, in order: at once from the caller's thread while
/// the socket has room and nothing waits before it (three messages a
/// restart: a hand-off to another thread for each cost a wake-up), else
/// through a thread of its own, so that a keeper slow to read never
/// blocks the runtime.
struct Outbox {
    /// The caller's handle on the channel, never waiting.
    channel: Channel,
    /// The sending thread's queue, for what cannot go at once.
    queue: mpsc::Sender<(ToKeeper, Vec<OwnedFd>)>,
    /// Messages queued that the thread has not sent yet: while any
    /// waits, later ones queue behind it.
    waiting: Arc<AtomicUsize>,
    /// This keeper was found stuck and killed: nothing more goes to it.
    stuck: Arc<AtomicBool>,
}

/// Messages the sending thread may hold for a keeper that does not read
/// (each may hold up to four descriptors).
const QUEUED_MAX: usize = 4096;

impl Outbox {
    fn send(&self, message: ToKeeper, fds: Vec<OwnedFd>) {
        let waiting = self.waiting.load(Ordering::Acquire);
        if self.stuck.load(Ordering::Acquire) {
            return;
        }
        if waiting >= QUEUED_MAX {
            // Its descriptors would pile up here (a crash loop queues a
            // few hundred a second): the keeper is replaced instead.
            replace_stuck_keeper(&self.stuck, "too much waits for it");
            return;
        }
        if waiting == 0 {
            let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
            match self.channel.try_send(&message, &borrowed) {
                Ok(true) => return,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot tell the keeper");
                    return;
                }
            }
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        if self.queue.send((message, fds)).is_err() {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Kills a keeper that stopped reading (stopped, hung): a message it
/// missed would leave its picture of the processes wrong. Its end is a
/// keeper's death like any other: the daemon starts a new one and gives
/// it every process again.
fn replace_stuck_keeper(stuck: &AtomicBool, why: &str) {
    if stuck.swap(true, Ordering::AcqRel) {
        return;
    }
    let Some(pid) = pid().and_then(|pid| i32::try_from(pid).ok()) else {
        return;
    };
    tracing::error!(
        keeper = pid,
        "the keeper does not read ({why}): replacing it"
    );
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// The outbox of `channel`'s keeper, and its sending thread.
fn sender(channel: &Channel) -> std::io::Result<Outbox> {
    let sending = channel.try_clone()?;
    let (queue, queued) = mpsc::channel::<(ToKeeper, Vec<OwnedFd>)>();
    let waiting = Arc::new(AtomicUsize::new(0));
    let sent = waiting.clone();
    let stuck = Arc::new(AtomicBool::new(false));
    let outbox_stuck = stuck.clone();
    std::thread::Builder::new()
        .name("tend-keeper-out".into())
        .spawn(move || {
            let mut failed = false;
            for (message, fds) in queued {
                // After a failure, the rest is dropped: a keeper that
                // missed a message is replaced, and the new one is given
                // every process again (`hold_again`).
                if !failed {
                    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
                    if let Err(error) = sending.send(&message, &borrowed) {
                        failed = true;
                        tracing::warn!(%error, "cannot tell the keeper");
                        if error.kind() == std::io::ErrorKind::WouldBlock {
                            replace_stuck_keeper(&stuck, "it read nothing for the send timeout");
                        }
                    }
                }
                sent.fetch_sub(1, Ordering::AcqRel);
            }
        })?;
    Ok(Outbox {
        channel: channel.try_clone()?,
        queue,
        waiting,
        stuck: outbox_stuck,
    })
}

/// Starts a new keeper for this daemon, its last one gone, and gives it
/// every process again. Waits first if the last one died young; `None`
/// if there is nothing to start it with (then the daemon runs on without
/// one).
fn renew() -> Option<Channel> {
    static LAST: Mutex<Option<(Instant, Duration)>> = Mutex::new(None);
    let link = LINK.get()?;
    let command = lock(&RENEWAL).command.clone()?;
    loop {
        let wait = {
            let mut last = lock(&LAST);
            let wait = match *last {
                Some((at, wait)) if at.elapsed() < YOUNG => {
                    (wait * 2).clamp(Duration::from_secs(1), MAX_RENEW_WAIT)
                }
                _ => Duration::ZERO,
            };
            *last = Some((Instant::now() + wait, wait));
            wait
        };
        std::thread::sleep(wait);
        if link.leaving.load(Ordering::Acquire) {
            return None;
        }
        match start_keeper(&command) {
            Ok((channel, pid)) => {
                let Ok(out) = sender(&channel) else {
                    continue;
                };
                *lock(&link.channel) = match channel.try_clone() {
                    Ok(kept) => kept,
                    Err(_) => continue,
                };
                *lock(&link.out) = out;
                link.pid.store(pid, Ordering::Release);
                link.gone.store(false, Ordering::Release);
                // Every process again, then where each instance rests.
                tend_process::held::hold_again();
                let resting: Vec<_> = lock(&link.resting)
                    .iter()
                    .map(|(name, rest)| (name.clone(), rest.clone()))
                    .collect();
                for (name, rest) in resting {
                    send(
                        ToKeeper::Rest {
                            name,
                            rest: Some(rest),
                        },
                        Vec::new(),
                    );
                }
                tracing::warn!(
                    keeper = pid,
                    "started a new keeper, the last one being gone"
                );
                tend_process::diag!(
                    "tend: the keeper was gone: a new one (pid {pid}) holds the services again"
                );
                return Some(channel);
            }
            Err(error) => {
                tracing::error!(%error, "cannot start a new keeper");
                tend_process::diag!("tend: cannot start a new keeper: {error}");
            }
        }
    }
}

/// Starts `command` as a keeper that takes this daemon as its own: the
/// pair's other end and the lock inherited (by it only: each made
/// inheritable in the child, between fork and exec), in a session of its
/// own. Returns this end and its pid.
fn start_keeper(command: &KeeperCommand) -> std::io::Result<(Channel, u32)> {
    let (ours, theirs) = Channel::pair()?;
    ours.set_timeouts(None, Some(SEND))?;
    let lock_fd = lock(&RENEWAL)
        .lock
        .as_ref()
        .map(OwnedFd::try_clone)
        .transpose()?;
    let mut keeper = std::process::Command::new(&command.program);
    keeper
        .args(&command.args)
        .env(KEEPER_FD, theirs.fd().as_raw_fd().to_string())
        .env(KEEPER_OF, std::process::id().to_string())
        .stdin(std::process::Stdio::null());
    let inherited = [
        Some(theirs.fd().as_raw_fd()),
        lock_fd.as_ref().map(AsRawFd::as_raw_fd),
    ];
    if let Some(fd) = &lock_fd {
        keeper.env(LOCK_FD, fd.as_raw_fd().to_string());
    }
    // SAFETY: between fork and exec the closure only makes system calls
    // (setsid, fcntl), async-signal-safe, on numbers copied in before the
    // fork; it allocates nothing and takes no lock.
    #[allow(unsafe_code)]
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut keeper, move || {
            // Not in this daemon's process group or session: a signal to
            // those is not for it.
            let _ = rustix::process::setsid();
            for fd in inherited.into_iter().flatten() {
                let borrowed = BorrowedFd::borrow_raw(fd);
                rustix::io::fcntl_setfd(borrowed, rustix::io::FdFlags::empty())?;
            }
            Ok(())
        });
    }
    // Reaped by the orphan reaper when it ends (it is no child's process).
    let child = keeper.spawn()?;
    drop(theirs);
    Ok((ours, child.id()))
}

/// Hears the keeper: exits of the processes it reaps, the answer to `Bye`.
/// `true` if the keeper is gone and is to be replaced.
fn listen(channel: &Channel) -> bool {
    loop {
        match channel.recv::<ToDaemon>() {
            Ok(Some((ToDaemon::Exited(exit), _))) => {
                if let Some(ended) = ended(&exit) {
                    tend_process::fostered_ended(exit.main, ended, ended_at(&exit));
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
                let Some(link) = LINK.get() else {
                    return false;
                };
                link.gone.store(true, Ordering::Release);
                if let Some(ack) = lock(&link.bye).take() {
                    let _ = ack.send(());
                }
                if link.leaving.load(Ordering::Acquire) {
                    return false;
                }
                tracing::error!("the keeper is gone: starting a new one");
                return true;
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

/// When an exit the keeper recorded happened (its clock is this one's).
fn ended_at(exit: &Exit) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_millis(exit.at_ms)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn send(message: ToKeeper, fds: Vec<OwnedFd>) {
    if let Some(link) = LINK.get() {
        if !link.gone.load(Ordering::Acquire) {
            lock(&link.out).send(message, fds);
        }
    }
}

/// The digest of the spec a process runs: a process is taken back only
/// if its service's spec is still the same.
#[must_use]
pub fn digest(spec: &ProcessSpec) -> String {
    use std::fmt::Write as _;
    let text = serde_json::to_vec(spec).unwrap_or_default();
    let mut hex = String::with_capacity(32);
    for byte in &Sha256::digest(&text)[..16] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
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
            fostered,
        } = process;
        if let Some(link) = LINK.get() {
            lock(&link.groups).hold(&id, group);
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
            fostered,
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
            lock(&link.groups).release(group);
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
    let Some(link) = LINK.get() else {
        return;
    };
    tokio::spawn(async move {
        loop {
            let kind = match events.recv().await {
                Ok(event) => event.kind,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            match kind {
                EventKind::ChildStarted { id, .. } | EventKind::ChildReady { id, .. } => {
                    let group = lock(&link.groups).by_id.get(id.as_str()).copied();
                    if let Some(group) = group {
                        send(ToKeeper::Ready { group }, Vec::new());
                    }
                }
                EventKind::ChildState { id, state } => {
                    let rest = rest(&state);
                    // Every rest is told; leaving one, only if it rested.
                    let told = {
                        let mut resting = lock(&link.resting);
                        match &rest {
                            Some(rest) => {
                                resting.insert(id.to_string(), rest.clone());
                                true
                            }
                            None => resting.remove(id.as_str()).is_some(),
                        }
                    };
                    if told {
                        send(
                            ToKeeper::Rest {
                                name: id.to_string(),
                                rest,
                            },
                            Vec::new(),
                        );
                    }
                }
                _ => {}
            }
        }
    });
}

/// Tells the keeper this daemon begins to stop: if it dies before its
/// end, the next one finishes the stop instead of running on.
pub fn stopping() {
    send(ToKeeper::Stopping, Vec::new());
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
    link.leaving.store(true, Ordering::Release);
    if link.gone.load(Ordering::Acquire) {
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
        command.env(KEEPER_FD, lock(&link.channel).inheritable()?.to_string());
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
/// starts; then hears the keeper from now on. Call it before anything
/// starts.
#[must_use]
pub fn readopt(returned: Returned, config: &tend_config::Config) -> Readopted {
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
        // And while it runs, its cgroup must be the one recorded (a pid
        // and start time that match by chance are not enough).
        let cgroup_moved = !ended
            && process
                .cgroup
                .as_ref()
                .is_some_and(|(dir, _)| in_cgroup(process.main, dir) == Some(false));
        match ticks {
            Some(_) if cgroup_moved => {
                readopted.refused.push(process.id);
                continue;
            }
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
            fostered: true,
        });
    }
    tend_process::handover::adopt_kept(taken);
    // Once they are fostered: an end is taken only for a fostered pid.
    for exit in &returned.exits {
        if let Some(ended) = ended(exit) {
            tend_process::fostered_ended(exit.main, ended, ended_at(exit));
        }
    }
    hear();
    readopted
}

/// Whether `pid` is in the cgroup directory `dir` or below it, by its v2
/// line in `/proc/PID/cgroup`; `None` if that cannot be read.
fn in_cgroup(pid: i32, dir: &std::path::Path) -> Option<bool> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = std::path::Path::new(text.lines().find_map(|line| line.strip_prefix("0::"))?);
    let path = path.strip_prefix("/").unwrap_or(path);
    Some(
        path.ancestors()
            .any(|above| !above.as_os_str().is_empty() && dir.ends_with(above)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_of_an_old_group_leaves_the_new_one_held() {
        let mut groups = Groups::default();
        groups.hold("web", 10);
        groups.hold("web", 11);
        groups.release(10);
        assert_eq!(groups.by_id.get("web"), Some(&11));
        groups.release(11);
        assert!(groups.by_id.is_empty() && groups.by_group.is_empty());
    }

    #[test]
    fn a_process_is_in_its_cgroup_and_below_it_but_not_in_another() {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let path = own
            .lines()
            .find_map(|line| line.strip_prefix("0::"))
            .unwrap()
            .trim_start_matches('/')
            .to_owned();
        let pid = i32::try_from(std::process::id()).unwrap();
        let mount = std::path::Path::new("/sys/fs/cgroup/unified");
        if !path.is_empty() {
            assert_eq!(in_cgroup(pid, &mount.join(&path)), Some(true));
        }
        // A group it is not in (nor below).
        assert_eq!(
            in_cgroup(pid, &mount.join("tend-no-such-group")),
            Some(false)
        );
        assert_eq!(in_cgroup(i32::MAX, mount), None);
    }
}
