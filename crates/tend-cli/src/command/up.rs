//! `tend up [-d]`: the daemon, in the foreground or detached.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tend_client::Client;
use tend_daemon::logs::Echo;
use tend_daemon::paths::{Access, DAEMON_LOG};
use tend_daemon::progress::Follow;
use tend_daemon::Prepared;
use tend_wire::ServicesQuery;

use crate::cli::Target;
use crate::out::say;

/// Runs the daemon here until it ends (`detached`: as the child `up -d`
/// started, its output already in the daemon log). `raw` (`--raw`): the
/// services' output echoed as it is on a terminal too.
pub async fn foreground(target: &Target, detached: bool, raw: bool) -> anyhow::Result<ExitCode> {
    let echo = if detached {
        Echo::Off
    } else if !raw && std::io::stdout().is_terminal() {
        Echo::Terminal {
            coloured: tend_daemon::logs::colours(true),
        }
    } else {
        Echo::Plain
    };
    // The daemon must not die of a SIGSEGV, SIGABRT or the like another
    // process sends it (its services would be orphaned, its lease left
    // behind); a real fault of its own still ends it. Here, not in
    // tend-daemon: it is a handler for the whole process.
    tend_process::survive_sent_faults().context("installing the fault signal handlers")?;
    if detached {
        tend_daemon::keeper::renew_with(keeper_command());
    }
    match tend_daemon::run(options(target, echo)).await {
        Ok(ended) if ended.gave_up() => {
            tend_process::diag!("tend: the services gave up: {}", ended.exit);
            Ok(ExitCode::from(1))
        }
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(tend_daemon::DaemonError::Config(error)) => {
            tend_process::diag!("{error}");
            tend_process::diag!("nothing was started");
            Ok(ExitCode::from(1))
        }
        Err(error) => Err(error.into()),
    }
}

fn options(target: &Target, echo: Echo) -> tend_daemon::Options {
    tend_daemon::Options {
        config: target.config().to_path_buf(),
        state_dir: target.state_dir.clone(),
        socket: target.socket.clone(),
        echo,
    }
}

/// Starts the daemon in the background and returns once its socket answers.
pub async fn detached(target: &Target) -> anyhow::Result<ExitCode> {
    // Wrong configs and a daemon already running are said here, not in a
    // log file. The state directory's lock is taken here and handed to the
    // daemon: of two `tend up -d` at once, one is refused before it starts
    // anything.
    let Prepared { dir, lock, config } = match tend_daemon::prepare(&options(target, Echo::Off)) {
        Ok(prepared) => prepared,
        Err(tend_daemon::DaemonError::Config(error)) => {
            tend_process::diag!("{error}");
            tend_process::diag!("nothing was started");
            return Ok(ExitCode::from(1));
        }
        Err(error) => return Err(error.into()),
    };
    if let Some(warning) = tend_daemon::logs::full_disk_warning(dir.root()) {
        tend_process::diag!("{warning}");
    }
    // Here too, not only in the daemon's log.
    if let Some(shortfall) = tend_daemon::descriptor_shortfall(&config) {
        tend_process::diag!("tend: warning: {shortfall}");
    }
    // In the checked state directory, through no symbolic link: root's
    // daemon must not append to a file someone pointed `tend.log` at.
    let root = dir
        .open()
        .and_then(|root| {
            root.open_file(DAEMON_LOG, Access::Append)
                .map(|log| (root, log))
        })
        .with_context(|| format!("opening {}", dir.daemon_log().display()));
    let (root, log) = root?;
    let exe = std::env::current_exe().context("finding the tend binary")?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("--config")
        .arg(absolute(target.config())?)
        .arg("--state-dir")
        .arg(absolute(dir.root())?);
    if let Some(socket) = &target.socket {
        command.arg("--socket").arg(absolute(socket)?);
    }
    // The keeper, which starts the daemon and outlives it (`keeper`).
    command
        .args(["up", "--keeper"])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // Its own process group: a Ctrl-C in this terminal is not for it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    lock.hand_to(&mut command)
        .context("handing the state directory's lock to the daemon")?;
    let spawned = command.spawn().context("starting the daemon");
    lock.keep().context("keeping the state directory's lock")?;
    let mut child = spawned?;
    // The keeper writes the daemon's pid down as it starts it: a refused
    // `tend up` names the daemon.
    let client = Client::new(dir.socket());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if client.is_up().await {
            // The daemon's pid, not its keeper's (the process `up -d` ran).
            let pid = client.server_pid().await.unwrap_or(child.id());
            say!(
                "tend: running in the background (pid {pid}); its log: {}",
                dir.daemon_log().display()
            )?;
            follow_start(&client).await?;
            return gave_up_at_start(&client, &mut child, &root, &dir.daemon_log()).await;
        }
        if let Some(status) = child.try_wait()? {
            let tail = tend_daemon::logs::tail(&root, DAEMON_LOG, 20).unwrap_or_default();
            tend_process::diag::write(&tail);
            bail!("the daemon exited at start ({status})");
        }
        if Instant::now() > deadline {
            bail!(
                "the daemon did not answer within 60 s; see {}",
                dir.daemon_log().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the keeper above the detached daemon (`tend up -d` starts it in
/// the daemon's place, with the same arguments but `--keeper`): it starts
/// the daemon with `--detached-child` and keeps its services running if the
/// daemon dies (see `tend_keeper`). Its exit code is the daemon's.
pub fn keeper() -> ExitCode {
    let options = tend_keeper::keeper::Options {
        program: this_program(),
        args: args_with("--keeper", "--detached-child"),
    };
    // A refused `tend up` names the daemon, not its keeper.
    let code = tend_keeper::keeper::run(options, |pid| {
        let _ = tend_daemon::lock::note_handed_holder(pid);
    });
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// How the detached daemon starts a new keeper if its keeper dies: this
/// program, with its arguments but `--keeper`.
fn keeper_command() -> tend_daemon::keeper::KeeperCommand {
    tend_daemon::keeper::KeeperCommand {
        program: this_program(),
        args: args_with("--detached-child", "--keeper"),
    }
}

/// The binary's path, not the image: after a package upgrade replaced the
/// file, a daemon or keeper started again is the new one (the kernel adds
/// " (deleted)" to the old image's link).
fn this_program() -> PathBuf {
    std::env::current_exe().map_or_else(
        |_| PathBuf::from("/proc/self/exe"),
        |exe| match exe.to_string_lossy().strip_suffix(" (deleted)") {
            Some(path) => PathBuf::from(path),
            None => exe,
        },
    )
}

/// This process's arguments, with `flag` in place of `instead`.
fn args_with(instead: &str, flag: &str) -> Vec<std::ffi::OsString> {
    std::env::args_os()
        .skip(1)
        .map(|arg| if arg == instead { flag.into() } else { arg })
        .collect()
}

/// How long `tend up -d` shows start-up progress before it leaves the
/// rest to `tend status`.
const FOLLOW_START: Duration = Duration::from_secs(120);

/// Prints start-up progress (who is up, who waits on which dependency)
/// whenever it changes, until everything started.
async fn follow_start(client: &Client) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut follow = Follow::new(true);
    loop {
        let Ok(status) = client.services(&ServicesQuery::default()).await else {
            return Ok(());
        };
        let (line, over) = follow.look(&status);
        if let Some(line) = line {
            say!("tend: {line}")?;
        }
        if over {
            return Ok(());
        }
        if started.elapsed() > FOLLOW_START {
            say!("tend: still starting; `tend status` shows where it stands")?;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether the daemon runs on once start-up is over: one whose root gave
/// up while starting (its services could not start) shuts itself down,
/// and `up -d` says so and fails instead of reporting a start.
async fn gave_up_at_start(
    client: &Client,
    child: &mut std::process::Child,
    root: &tend_daemon::paths::Dir,
    log: &Path,
) -> anyhow::Result<ExitCode> {
    let running = || async {
        matches!(
            client.health().await,
            Ok(tend_wire::Health {
                status: tend_wire::HealthStatus::Ok
            })
        )
    };
    if running().await {
        return Ok(ExitCode::SUCCESS);
    }
    // Stopping, or gone: how it ended is its exit status. Unless it was
    // killed while it started and its keeper started it again: then the
    // new one answers.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if running().await {
            return Ok(ExitCode::SUCCESS);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if status.is_some_and(|s| s.success()) {
        // Asked to stop (`tend down`) while it started: no failure.
        return Ok(ExitCode::SUCCESS);
    }
    let tail = tend_daemon::logs::tail(root, DAEMON_LOG, 20).unwrap_or_default();
    tend_process::diag::write(&tail);
    match status {
        Some(status) => bail!(
            "the services gave up while starting and the daemon stopped ({status}); see {}",
            log.display()
        ),
        None => bail!(
            "the services gave up while starting; the daemon is stopping; see {}",
            log.display()
        ),
    }
}

/// `path` made absolute against the working directory (for a daemon that
/// runs elsewhere).
pub fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}
