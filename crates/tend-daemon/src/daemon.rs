//! Running a config: the tree, the journal, hooks, metrics and the API,
//! until a signal, `tend down`, or the root giving up.

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tend_client::socket::Short;
use tend_config::{Config, ConfigError};
use tend_engine::{Exit, ExitKind, Supervisor};
use tend_journal::{JournalWriter, Record};
use tend_process::handover::Handover;
use tokio::net::UnixListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::board::Board;
use crate::console;
use crate::control::{Control, Origin, Parts};
use crate::hooks::Hooks;
use crate::keeper;
use crate::life::Life;
use crate::lock::{self, Lock, LockError};
use crate::logs::{Echo, Sinks};
use crate::metrics::Metrics;
use crate::operator::{Desk, Operator};
use crate::paths::StateDir;
use crate::recovery::{self, RecoveryError};
use crate::serve;
use crate::server::{self, Api};
use crate::tree::{self, Handed, Layout, ROOT};
use crate::upgrade::{self, Leaving, UpgradeError};

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The config file.
    pub config: PathBuf,
    /// The state directory (default: beside the config, named after it:
    /// `StateDir::for_config`).
    pub state_dir: Option<PathBuf>,
    /// The control socket (default: `tend.sock` in the state directory).
    pub socket: Option<PathBuf>,
    /// The services' output on standard output, and lifecycle lines on
    /// standard error.
    pub echo: Echo,
}

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The config is wrong.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// Another daemon serves this state directory: it holds its lock
    /// (whose pid it wrote down), or answers on its socket.
    #[error("{}", lock::held(.dir, *.pid))]
    AlreadyRunning {
        /// The state directory.
        dir: PathBuf,
        /// The running daemon's pid, when known.
        pid: Option<u32>,
    },
    /// The state directory cannot be made (its error names it and why).
    #[error("{0}")]
    StateDir(io::Error),
    /// Setting up failed.
    #[error("{what}: {error}")]
    Setup {
        /// What was being done.
        what: String,
        /// Why it failed (in the message, so not a `source` said again).
        error: io::Error,
    },
    /// The tree did not start.
    #[error("the services did not start: {0}")]
    Start(String),
    /// What a killed previous run left could not be dealt with.
    #[error("{0}")]
    Recovery(#[from] RecoveryError),
    /// An upgrade could not hand over, or take over.
    #[error("{0}")]
    Upgrade(#[from] UpgradeError),
}

impl From<LockError> for DaemonError {
    fn from(error: LockError) -> DaemonError {
        match error {
            LockError::Held { dir, pid } => DaemonError::AlreadyRunning { dir, pid },
            LockError::Io { file, source } => DaemonError::Setup {
                what: format!("locking {}", file.display()),
                error: source,
            },
        }
    }
}

fn setup(what: impl Into<String>) -> impl FnOnce(io::Error) -> DaemonError {
    let what = what.into();
    move |error| DaemonError::Setup { what, error }
}

/// How a run ended.
#[derive(Debug)]
pub struct Ended {
    /// The root supervisor's exit.
    pub exit: Exit,
}

impl Ended {
    /// Whether the root gave up (the program should exit non-zero).
    #[must_use]
    pub fn gave_up(&self) -> bool {
        matches!(self.exit.kind(), ExitKind::GaveUp(_)) || self.exit.is_abnormal()
    }
}

fn state_dir(options: &Options) -> StateDir {
    StateDir::for_config(&options.config, options.state_dir.as_deref())
        .with_socket(options.socket.clone())
}

/// A config ready to run: checked, its state directory made and locked.
#[derive(Debug)]
pub struct Prepared {
    /// The config.
    pub config: Config,
    /// Its state directory.
    pub dir: StateDir,
    /// The state directory's lock: whoever holds it is the one daemon
    /// there (`tend up -d` hands it to the daemon it starts).
    pub lock: Lock,
}

/// Whether the hard descriptor limit cannot hold the processes `config`
/// runs (services × replicas): said by `tend check`, and at start on
/// standard error and in the daemon's log, before services fail to start.
#[must_use]
pub fn descriptor_shortfall(config: &tend_config::Config) -> Option<tend_process::Shortfall> {
    let processes = config.services.iter().map(|s| u64::from(s.replicas)).sum();
    tend_process::nofile_shortfall(processes)
}

/// Loads the config, makes its state directory and takes its lock, before
/// anything else is done there.
///
/// # Errors
/// If the config is wrong, or a daemon already runs there (it holds the
/// lock, or answers on the socket).
pub fn prepare(options: &Options) -> Result<Prepared, DaemonError> {
    prepare_with(options, None)
}

/// [`prepare`], with the lock's descriptor a `tend up -d` handed over.
fn prepare_with(options: &Options, handed: Option<OwnedFd>) -> Result<Prepared, DaemonError> {
    let config = tend_config::load_here(&options.config, tend_process::find_runtime)?;
    let dir = state_dir(options);
    dir.create().map_err(DaemonError::StateDir)?;
    let lock = Lock::take(&dir, handed)?;
    // A daemon of another state directory on the same socket (both named
    // explicitly), or one of a tend that took no lock.
    if answers(&dir.socket()) {
        return Err(DaemonError::AlreadyRunning {
            dir: dir.root().to_path_buf(),
            pid: None,
        });
    }
    Ok(Prepared { config, dir, lock })
}

/// Whether something answers on the socket at `path`.
fn answers(path: &Path) -> bool {
    Short::new(path)
        .and_then(|short| std::os::unix::net::UnixStream::connect(short.path()))
        .is_ok()
}

/// Runs `config` until it is told to stop or its root gives up.
///
/// # Errors
/// If anything needed to run cannot be set up; once running, it only ends.
pub async fn run(options: Options) -> Result<Ended, DaemonError> {
    // After `tend upgrade`: what the previous image handed over is taken
    // first, before the orphan reaper or any child runs.
    // First of all: the lock a `tend up -d` handed over is made
    // close-on-exec before anything is started (a config's check of its
    // container runtime runs programs).
    let handed = lock::handed();
    let mut inherited = upgrade::inherit()?;
    // The keeper above this daemon, if `tend up -d` started one. After
    // this daemon's predecessor died, it hands back every process it held.
    let returned = keeper::connect(inherited.is_none());
    let Prepared { config, dir, lock } = match inherited.as_mut() {
        // Its socket answers and its lock is held: both are ours, inherited.
        Some(inherited) => {
            let dir = state_dir(&options);
            let lock = match inherited.lock.take() {
                Some(fd) => Lock::inherited(fd),
                // From an image that took no lock.
                None => Lock::take(&dir, handed)?,
            };
            Prepared {
                config: tend_config::load_here(&options.config, tend_process::find_runtime)?,
                dir,
                lock,
            }
        }
        None => prepare_with(&options, handed)?,
    };
    if let Some(warning) = crate::logs::full_disk_warning(dir.root()) {
        tracing::warn!("{warning}");
    }
    // Before anything starts: each process taken back waits for its child
    // to claim it; one whose service changed meanwhile is stopped below.
    let finish_stop = returned.as_ref().is_some_and(|r| r.finish_stop);
    let readopted = returned
        .map(|returned| keeper::readopt(returned, &config))
        .unwrap_or_default();
    for id in &readopted.refused {
        tend_process::diag!(
            "tend: {id}: the keeper's process is not the one it started (its pid was reused): not taken back"
        );
    }
    // A new keeper, if this one's dies, holds the lock too.
    keeper::hold_lock_too(&lock);
    // Only for a refused `tend up` to name the holder: a full disk must not
    // stop the start for it.
    if let Err(error) = lock.note_holder(std::process::id()) {
        tracing::warn!(file = %dir.lock().display(), %error, "cannot write the daemon's pid down; starting anyway");
    }
    // Handlers first, so no early signal takes the default action.
    let mut signals = Signals::install().map_err(setup("installing signal handlers"))?;
    // Before anything is opened: a few hundred services need more than
    // the common 1,024 descriptors, 10,000 more than a hard limit of
    // 20,000 (root raises it to fs.nr_open; each service gets the original
    // limits back).
    match tend_process::raise_nofile() {
        Ok(raised) => tracing::info!(
            from = ?raised.from,
            to = ?raised.to,
            hard_from = ?raised.hard_from,
            hard_to = ?raised.hard_to,
            "descriptor limit"
        ),
        Err(error) => tracing::warn!(%error, "could not raise the descriptor limit"),
    }
    if let Some(shortfall) = descriptor_shortfall(&config) {
        tracing::warn!("tend: warning: {shortfall}");
    }
    // Whether SIGHUP may mean the terminal closed (see `Signals`).
    let on_terminal = options.echo != Echo::Off
        && (io::IsTerminal::is_terminal(&io::stdout())
            || io::IsTerminal::is_terminal(&io::stderr()));
    dir.create().map_err(DaemonError::StateDir)?;
    tend_process::enable_orphan_reaping().map_err(setup("becoming a child subreaper"))?;
    // Before anything starts: what a killed run left is stopped, so no
    // service runs twice.
    // After an upgrade the lease is this process's already.
    let recovered = match &inherited {
        Some(_) => recovery::Recovered::default(),
        None => {
            let kept = recovery::Kept {
                pids: readopted.pids.clone(),
                cgroups: readopted.cgroups.clone(),
            };
            recovery::recover(&dir, &config, &kept).await?
        }
    };

    // Checked again right before SQLite opens it by path.
    dir.open()
        .and_then(|root| root.check_journal(crate::paths::JOURNAL))
        .map_err(DaemonError::StateDir)?;
    let journal = JournalWriter::open(dir.journal())
        .map_err(|e| setup(format!("opening {}", dir.journal().display()))(io::Error::other(e)))?;
    // A corrupt journal's record begins the new chain, before anything.
    for record in recovered
        .journal_corrupt
        .into_iter()
        .chain(recovered.records)
    {
        journal.record(ROOT, record);
    }
    let layout = Layout::of(&config);
    // Before the new image journals the kept processes' starts again.
    let known: BTreeSet<String> = layout.instances.iter().map(|i| i.name.clone()).collect();
    if let Some(inherited) = &inherited {
        journal.record(
            ROOT,
            Record::Upgraded {
                from: inherited.from.clone(),
                to: env!("CARGO_PKG_VERSION").to_owned(),
                kept: inherited
                    .kept
                    .iter()
                    .filter(|k| known.contains(*k))
                    .cloned()
                    .collect(),
            },
        );
    }
    if !readopted.kept.is_empty() || !readopted.changed.is_empty() {
        let said = format!(
            "the previous daemon died; taken back from the keeper, running on: {}",
            readopted.kept.len()
        );
        tend_process::diag!(
            "tend: {said} ({})",
            readopted
                .kept
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        journal.record(
            ROOT,
            Record::Command {
                action: None,
                command: "readopt".to_owned(),
                services: readopted.kept.iter().cloned().collect(),
                outcome: Some(said),
            },
        );
    }
    let sinks = Sinks::new(dir.clone(), options.echo, layout.width()).with_journal(journal.clone());
    let mut handed = inherited
        .as_ref()
        .map_or_else(Handed::default, |inherited| Handed {
            resting: inherited
                .resting
                .iter()
                .map(|(name, rest)| (name.clone(), rest.state()))
                .collect(),
            kept: inherited.kept.iter().cloned().collect(),
        });
    handed.kept.extend(
        readopted
            .kept
            .iter()
            .filter(|k| known.contains(*k))
            .cloned(),
    );
    // A completed job is not run again, an operator's stop holds.
    handed
        .resting
        .extend(readopted.resting.iter().filter_map(|(name, rest)| {
            let rest: upgrade::Rest = serde_json::from_value(rest.clone()).ok()?;
            known.contains(name).then(|| (name.clone(), rest.state()))
        }));
    let children = tree::root_children(&config, &layout, &sinks, &handed)
        .map_err(setup("opening log files"))?;
    let mut builder = Supervisor::builder(ROOT)
        .concurrent_start(true)
        // As systemd: a service stops before what it depends on, and
        // services the graph does not order stop side by side (one after
        // another, 20 services of 250 replicas took 6.3x the time of 4,
        // issue 26).
        .concurrent_stop(true)
        .strategy(config.supervisor.strategy)
        .intensity(config.supervisor.intensity)
        .event_capacity(event_capacity(layout.instances.len()))
        .children(children);
    // Every listener subscribes before the start, so the first starts are
    // journaled, counted and shown too.
    journal.attach(builder.subscribe());
    keeper::follow(builder.subscribe(), |state| {
        upgrade::Rest::of_state(state).and_then(|rest| serde_json::to_value(rest).ok())
    });
    let metrics = Arc::new(Metrics::watch(builder.subscribe()));
    let hook_events = builder.subscribe();
    let board_events = builder.subscribe();
    if options.echo != Echo::Off {
        console::print(builder.subscribe(), console_coloured());
    }
    let hooks = Hooks::start(&config, &dir)
        .await
        .map_err(setup("starting the hook runner"))?;
    hooks.watch(hook_events);

    let root = builder
        .start()
        .await
        .map_err(|e| DaemonError::Start(e.to_string()))?;
    let shutdown_timeout = config.supervisor.shutdown_timeout;
    let tcp = config.api.clone();
    let life = Life::default();
    let config = Arc::new(config);
    let board = Board::start(&config, board_events, root.clone());
    let origin = Origin {
        state_dir: dir.root().to_path_buf(),
        upgrades: inherited.as_ref().map_or(0, |i| i.upgrades + 1),
        uptime: inherited.as_ref().map_or(Duration::ZERO, |i| i.uptime),
    };
    let operator = Operator::start(Desk {
        root: root.clone(),
        config,
        board: board.clone(),
        sinks: sinks.clone(),
        journal: journal.clone(),
        hooks: hooks.clone(),
        life: life.clone(),
        state_dir: origin.state_dir.clone(),
        upgrades: origin.upgrades,
    });
    if options.echo != Echo::Off && inherited.is_none() {
        console::progress(board.clone(), life.clone(), console_coloured());
    }
    let control = Control::new(Parts {
        root: root.clone(),
        board,
        operator,
        life: life.clone(),
        sinks,
        journal: journal.clone(),
        origin,
    });
    let (inherited_socket, inherited_tcp) = match inherited {
        Some(inherited) => {
            // A process whose child rests (stopped during the handover) is
            // stopped too.
            let expected = known
                .iter()
                .filter(|name| !handed.resting.contains_key(*name))
                .cloned()
                .collect();
            tokio::spawn(stop_unclaimed(expected, journal.clone()));
            (Some(inherited.socket), inherited.tcp)
        }
        None => {
            // Processes taken back whose service changed or went meanwhile.
            if !readopted.kept.is_empty() || !readopted.changed.is_empty() {
                tokio::spawn(stop_unclaimed(readopted.kept.clone(), journal.clone()));
            }
            (None, None)
        }
    };
    let api = Api {
        control: control.clone(),
        metrics,
        journal_file: dir.journal(),
        remote: false,
    };

    let mut listeners =
        Listeners::open(&dir, tcp, &api, &control, inherited_socket, inherited_tcp).await?;
    tracing::info!(socket = %listeners.socket.display(), "tend is up");
    keeper::up();
    if finish_stop {
        // The previous daemon was killed while it stopped (`tend down`
        // waits for this one): the stop is finished, in order.
        tend_process::diag!("tend: the previous daemon died stopping: finishing the stop");
        life.ask_shutdown();
    }

    // Until the root ends by itself, a signal, `tend down`, or an upgrade.
    let mut stopping = life.shutdown_asked();
    let mut upgrading = life.upgrade_asked();
    let exit = loop {
        tokio::select! {
            exit = root.wait() => break exit,
            Ok(binary) = upgrading.wait_for(Option::is_some) => {
                let binary = binary.clone().unwrap_or_default();
                // Returns only if no program could be run in this one's place.
                return Err(hand_over(&binary, &control, &mut listeners, &journal, &lock).await.into());
            }
            got = signals.next() => match got {
                Got::Stop(name) => {
                    // Commands still queued are refused from now on.
                    life.ask_shutdown();
                    keeper::stopping();
                    tend_process::diag!("tend: {name}: shutting down (again to kill)");
                    break graceful(&root, shutdown_timeout, &mut signals).await;
                }
                Got::Hangup if on_terminal && !signals.detached_from_terminal => {
                    signals.detached_from_terminal = true;
                    leave_terminal(&dir);
                }
                Got::Hangup => reload_on_hangup(&control),
                Got::Ignored(name) => tend_process::diag!("tend: {name} ignored (SIGHUP reloads; SIGTERM, SIGINT and SIGQUIT stop)"),
            },
            _ = stopping.wait_for(|s| *s) => {
                // Asked through the API (`tend down`): no keyboard to press
                // again, so no "again to kill".
                keeper::stopping();
                tend_process::diag!("tend: shutting down (asked through the API)");
                break graceful(&root, shutdown_timeout, &mut signals).await;
            }
        }
    };
    // A handed-over process whose service never started (its dependency
    // failed) was never claimed: it ends with the tree.
    tend_process::handover::stop_unclaimed(|_| false).await;
    life.close();
    hooks.shutdown().await;
    journal.flush().await;
    let _ = std::fs::remove_file(&listeners.socket);
    listeners.finish().await;
    // Checkpointed and closed: `journal.db` alone holds every row (a
    // backup of it needs no `-wal`).
    journal.close().await;
    // The keeper lets go of everything and ends with this daemon (one
    // this daemon started ends now: it is reaped below).
    keeper::bye();
    // Every child is stopped; what they left behind was killed. Reap it
    // all before exiting, so no zombie is handed to init.
    let _ = tokio::task::spawn_blocking(|| tend_process::wait_for_orphans(Duration::from_secs(5)))
        .await;
    recovery::release(&dir);
    lock.release();
    Ok(Ended { exit })
}

/// The API's listeners: the control socket and the optional TCP address,
/// each served on a task of its own, and a second descriptor of each kept
/// for an upgrade to hand over.
struct Listeners {
    socket: PathBuf,
    unix: tokio::task::JoinHandle<()>,
    tcp: Option<tokio::task::JoinHandle<()>>,
    socket_fd: OwnedFd,
    tcp_fd: Option<OwnedFd>,
}

impl Listeners {
    /// Binds (or, after an upgrade, takes over) the listeners and serves
    /// `api` on them until `control` closes.
    async fn open(
        dir: &StateDir,
        tcp: tend_config::ApiSettings,
        api: &Api,
        control: &Control,
        inherited_socket: Option<std::os::unix::net::UnixListener>,
        inherited_tcp: Option<std::net::TcpListener>,
    ) -> Result<Listeners, DaemonError> {
        let socket = dir.socket();
        let listener = match inherited_socket {
            Some(listener) => UnixListener::from_std(listener)
                .map_err(setup(format!("listening on {}", socket.display())))?,
            None => {
                let _ = std::fs::remove_file(&socket);
                // Through a short path where the socket's is too long.
                let listener = Short::new(&socket)
                    .and_then(|short| UnixListener::bind(short.path()))
                    .map_err(setup(format!("binding {}", socket.display())))?;
                std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
                    .map_err(setup(format!("securing {}", socket.display())))?;
                listener
            }
        };
        let keep = |fd: std::os::fd::BorrowedFd<'_>| {
            fd.try_clone_to_owned()
                .map_err(setup("keeping the listener"))
        };
        let socket_fd = keep(listener.as_fd())?;
        let unix = tokio::spawn(serve_unix(
            listener,
            server::router(api.clone()),
            control.closing(),
        ));
        let (tcp, tcp_fd) = match tcp.listen {
            Some(addr) => {
                // Every TCP listener demands a token, loopback too: any
                // local user can connect there.
                let token = match tcp.token {
                    Some(token) => token,
                    None => crate::token::load_or_create(&dir.api_token())
                        .map_err(setup(format!("making {}", dir.api_token().display())))?,
                };
                let listener = match inherited_tcp.filter(|l| l.local_addr().ok() == Some(addr)) {
                    Some(listener) => tokio::net::TcpListener::from_std(listener)
                        .map_err(setup(format!("listening on {addr}")))?,
                    None => serve::bind_tcp(addr)
                        .map_err(setup(format!("binding the API to {addr}")))?,
                };
                let tcp_fd = keep(listener.as_fd())?;
                let api = Api {
                    remote: true,
                    ..api.clone()
                };
                let router = server::router_with_token(api, token);
                let served = tokio::spawn(serve::serve(
                    listener,
                    router,
                    serve::TCP_CONNECTIONS,
                    serve::Reserve::Keep,
                    control.closing(),
                ));
                (Some(served), Some(tcp_fd))
            }
            None => (None, None),
        };
        Ok(Listeners {
            socket,
            unix,
            tcp,
            socket_fd,
            tcp_fd,
        })
    }

    /// Gives the servers (told to stop by `Life::close`) up to 2 s each
    /// to answer what they are answering.
    async fn finish(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.unix).await;
        if let Some(server) = &mut self.tcp {
            let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
        }
    }
}

/// `tend upgrade`: parks every process with every operation held off,
/// answers the requests under way (this upgrade's own among them) and ends
/// the streams — connections made from then on wait in the listeners'
/// backlog for the next image — and execs `binary`. Returns only if no
/// program could be run in this one's place.
async fn hand_over(
    binary: &Path,
    control: &Control,
    listeners: &mut Listeners,
    journal: &JournalWriter,
    lock: &Lock,
) -> UpgradeError {
    let (processes, status) = control.while_held(Handover::collect()).await;
    let origin = control.origin();
    control.life().close();
    listeners.finish().await;
    journal.flush().await;
    let leaving = Leaving {
        upgrades: origin.upgrades,
        uptime: origin.uptime,
        status: &status,
        socket: &listeners.socket_fd,
        tcp: listeners.tcp_fd.as_ref(),
        lock,
    };
    upgrade::exec(binary, &processes, &leaving)
}

/// Whether the console's lines (on standard error) are coloured: on a
/// terminal, unless `NO_COLOR` says otherwise.
fn console_coloured() -> bool {
    crate::logs::colours(io::IsTerminal::is_terminal(&io::stderr()))
}

/// Stops the handed-over processes no running instance will claim.
async fn stop_unclaimed(expected: BTreeSet<String>, journal: JournalWriter) {
    for stopped in tend_process::handover::stop_unclaimed(|id| expected.contains(id)).await {
        journal.record(
            ROOT,
            Record::LeftoverStopped {
                service: stopped.id,
                pids: vec![stopped.pid],
                how: if stopped.killed { "killed" } else { "stopped" }.to_owned(),
            },
        );
    }
}

/// A graceful shutdown (reverse dependency order, services the graph does
/// not order side by side, each by its stop settings); a second signal, or `shutdown_timeout`, kills what is left.
/// The caller says why it began: "again to kill" only after a signal,
/// which an operator can send again (a `tend down` has no second press).
async fn graceful(
    root: &tend_engine::SupervisorHandle,
    timeout: Duration,
    signals: &mut Signals,
) -> Exit {
    let shutdown = root.shutdown();
    tokio::pin!(shutdown);
    tokio::select! {
        report = &mut shutdown => return report.exit,
        name = signals.stop() => tend_process::diag!("tend: second signal ({name}): killing what is left"),
        () = tokio::time::sleep(timeout) => tend_process::diag!("tend: shutdown took longer than {}: killing what is left", humantime::format_duration(timeout)),
    }
    root.hurry();
    shutdown.await.exit
}

/// Every signal whose default action would end the daemon, handled: one
/// that kills it leaves its services orphaned and its lease behind.
/// SIGINT, SIGTERM and SIGQUIT stop it cleanly (a second kills what is
/// left); SIGHUP reloads the config, as daemons do, except in a `tend up`
/// on a terminal, where it means the terminal closed: that one runs on,
/// its output moved to the daemon log (as `nohup` would); SIGUSR1,
/// SIGUSR2, SIGALRM and the rest whose default is to terminate (SIGXFSZ,
/// SIGXCPU, SIGPROF, SIGVTALRM, SIGSTKFLT, SIGPWR, SIGIO, SIGSYS, and the
/// real-time signals SIGRTMIN to SIGRTMAX) are said and ignored. SIGPIPE
/// is ignored by Rust's runtime: a client that hangs up is a failed write,
/// not a death. The fault signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
/// SIGABRT, SIGTRAP) are not here: tokio's handlers cannot tell one sent
/// (to ignore) from a real fault (to let through); `tend up` ignores the
/// sent ones with `tend_process::survive_sent_faults`.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
    /// Logged and otherwise ignored, by name.
    others: Vec<(String, tokio::signal::unix::Signal)>,
    /// A hangup already took the terminal away.
    detached_from_terminal: bool,
}

impl Signals {
    fn install() -> io::Result<Signals> {
        use rustix::process::Signal as S;
        // Every other signal whose default action ends a process: a
        // handler (not SIG_IGN, which services would inherit across
        // `exec`), so none kills the daemon. SIGXFSZ in particular is the
        // kernel's own, at a file-size limit: the write then fails with
        // EFBIG, which the log writer survives like a full disk.
        let ignored = [
            ("SIGUSR1", S::USR1),
            ("SIGUSR2", S::USR2),
            ("SIGALRM", S::ALARM),
            ("SIGXFSZ", S::XFSZ),
            ("SIGXCPU", S::XCPU),
            ("SIGPROF", S::PROF),
            ("SIGVTALRM", S::VTALARM),
            ("SIGSTKFLT", S::STKFLT),
            ("SIGPWR", S::POWER),
            ("SIGIO", S::IO),
            ("SIGSYS", S::SYS),
        ];
        // And the real-time signals, SIGRTMIN (34 with glibc, which keeps
        // 32 and 33 for itself) to SIGRTMAX: their default is to terminate.
        let real_time = (libc::SIGRTMIN()..=libc::SIGRTMAX()).map(|number| {
            let name = match number - libc::SIGRTMIN() {
                0 => "SIGRTMIN".to_owned(),
                _ if number == libc::SIGRTMAX() => "SIGRTMAX".to_owned(),
                above => format!("SIGRTMIN+{above}"),
            };
            (name, number)
        });
        let mut others = Vec::with_capacity(ignored.len() + 32);
        for (name, number) in ignored
            .into_iter()
            .map(|(name, sig)| (name.to_owned(), sig.as_raw()))
            .chain(real_time)
        {
            others.push((name, signal(SignalKind::from_raw(number))?));
        }
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            quit: signal(SignalKind::quit())?,
            hangup: signal(SignalKind::hangup())?,
            others,
            detached_from_terminal: false,
        })
    }

    /// The next signal that stops the daemon: its name.
    async fn stop(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.quit.recv() => "SIGQUIT",
        }
    }

    /// The next signal, of any of these.
    async fn next(&mut self) -> Got {
        let others =
            futures_util::future::select_all(self.others.iter_mut().map(|(name, stream)| {
                Box::pin(async move { stream.recv().await.map(|_| name.clone()) })
            }));
        tokio::select! {
            _ = self.interrupt.recv() => Got::Stop("SIGINT"),
            _ = self.terminate.recv() => Got::Stop("SIGTERM"),
            _ = self.quit.recv() => Got::Stop("SIGQUIT"),
            _ = self.hangup.recv() => Got::Hangup,
            (name, _, _) = others => Got::Ignored(name.unwrap_or_else(|| "a signal".to_owned())),
        }
    }
}

/// A signal the daemon got, by what it does.
enum Got {
    Stop(&'static str),
    Hangup,
    Ignored(String),
}

/// SIGHUP: the config reloaded, off the signal loop (a reload restarts
/// what changed, which takes a while); the outcome said in the log.
fn reload_on_hangup(control: &Arc<Control>) {
    tend_process::diag!("tend: SIGHUP: reloading the config");
    let control = control.clone();
    tokio::spawn(async move {
        match control.reload().await {
            Ok(report) => tend_process::diag!(
                "tend: reloaded: {} added, {} removed, {} changed, {} unchanged",
                report.added.len(),
                report.removed.len(),
                report.changed.len(),
                report.unchanged.len()
            ),
            Err(failure) => {
                tend_process::diag!("tend: the reload failed: {}", failure.message);
                for detail in failure.details {
                    tend_process::diag!("  {detail}");
                }
            }
        }
    });
}

/// The terminal of a foreground `tend up` closed: standard output and
/// error move to the daemon log, since writing to a hung-up terminal fails
/// (and a failed `eprintln!` panics). The services run on.
fn leave_terminal(dir: &StateDir) {
    let log = dir.daemon_log();
    // In the checked state directory, through no symbolic link.
    let opened = dir
        .open()
        .and_then(|root| root.open_file(crate::paths::DAEMON_LOG, crate::paths::Access::Append));
    let moved = opened.and_then(|file| {
        rustix::stdio::dup2_stdout(&file)?;
        rustix::stdio::dup2_stderr(&file)?;
        Ok(())
    });
    match moved {
        Ok(()) => tend_process::diag!(
            "tend: SIGHUP: the terminal closed; running on, output in {}",
            log.display()
        ),
        Err(error) => tracing::warn!(%error, "moving the output off the closed terminal"),
    }
}

async fn serve_unix(
    listener: UnixListener,
    router: axum::Router,
    stopping: tokio::sync::watch::Receiver<bool>,
) {
    serve::serve(
        listener,
        router,
        serve::SOCKET_CONNECTIONS,
        serve::Reserve::Ignore,
        stopping,
    )
    .await;
}

/// How many events the tree's stream holds for a listener that falls
/// behind: enough for a one-for-all restart of every instance (about four
/// events each). The buffer is allocated whole at the start, about 190
/// bytes a slot, so every slot is memory each idle child pays for (16 a
/// child made it 3 KiB of a child's cost, issue 26); a reader that still
/// falls behind catches up (the board asks for the whole picture, the
/// journal records how many it missed).
fn event_capacity(instances: usize) -> usize {
    instances.saturating_mul(4).clamp(4096, 64 * 1024)
}
