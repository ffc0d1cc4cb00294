//! What the API serves, in one place: every read from the status board
//! ([`Board`]), every command through the operator queue ([`Operator`]),
//! the daemon's life flags and where it runs. A read never waits on a
//! command, nor on the engine.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tend_config::Plan;
use tend_engine::SupervisorHandle;
use tend_journal::JournalWriter;
use tend_process::Signal;
use tend_wire::{
    ActOptions, Acted, Action, DaemonInfo, ErrorCode, Readiness, ReloadReport, ServiceStatus,
    State, TreeNode, UpgradePlan,
};
use tokio::sync::watch;

use crate::board::Board;
use crate::failure::Failure;
use crate::life::Life;
use crate::logs::Sinks;
use crate::operator::Operator;
use crate::reload;

/// Where the daemon runs, and what it brings from before its last
/// upgrade.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// Its state directory.
    pub state_dir: PathBuf,
    /// Upgrades before this image.
    pub upgrades: u32,
    /// How long it had run before this image.
    pub uptime: Duration,
}

/// The running tree as the API sees it.
#[derive(Debug)]
pub struct Control {
    root: SupervisorHandle,
    board: Board,
    operator: Operator,
    life: Life,
    sinks: Sinks,
    journal: JournalWriter,
    started: Instant,
    origin: Origin,
}

/// What the API's [`Control`] is made of.
#[derive(Debug)]
pub struct Parts {
    /// The root supervisor.
    pub root: SupervisorHandle,
    /// The status board.
    pub board: Board,
    /// The operator queue.
    pub operator: Operator,
    /// The daemon's life flags.
    pub life: Life,
    /// The instances' log sinks.
    pub sinks: Sinks,
    /// The journal.
    pub journal: JournalWriter,
    /// Where it runs.
    pub origin: Origin,
}

impl Control {
    /// The API's view of a running tree.
    #[must_use]
    pub fn new(parts: Parts) -> Arc<Control> {
        Arc::new(Control {
            root: parts.root,
            board: parts.board,
            operator: parts.operator,
            life: parts.life,
            sinks: parts.sinks,
            journal: parts.journal,
            started: Instant::now(),
            origin: parts.origin,
        })
    }

    /// The root supervisor.
    #[must_use]
    pub fn root(&self) -> &SupervisorHandle {
        &self.root
    }

    /// The status board.
    #[must_use]
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// The sinks of the instances.
    #[must_use]
    pub fn sinks(&self) -> &Sinks {
        &self.sinks
    }

    /// The journal.
    #[must_use]
    pub fn journal(&self) -> &JournalWriter {
        &self.journal
    }

    /// The daemon's life flags.
    #[must_use]
    pub fn life(&self) -> &Life {
        &self.life
    }

    /// Becomes true when the daemon is closing.
    #[must_use]
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.life.closing()
    }

    /// Whether the daemon is closing.
    #[must_use]
    pub fn is_closing(&self) -> bool {
        self.life.is_closing()
    }

    /// Where it runs and what it brings from before, its uptime counted
    /// to now (for the next upgrade).
    #[must_use]
    pub fn origin(&self) -> Origin {
        Origin {
            uptime: self.origin.uptime + self.started.elapsed(),
            ..self.origin.clone()
        }
    }

    /// The daemon's own facts.
    #[must_use]
    pub fn info(&self) -> DaemonInfo {
        DaemonInfo {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            config: self.board.config().file.display().to_string(),
            state_dir: self.origin.state_dir.display().to_string(),
            uptime_s: self.origin().uptime.as_secs(),
            upgrades: self.origin.upgrades,
            keeper: crate::keeper::pid(),
        }
    }

    /// The instances `names` mean (every instance when empty), or which
    /// name is unknown.
    ///
    /// # Errors
    /// [`ErrorCode::UnknownService`] naming it.
    pub fn resolve(&self, names: &[String]) -> Result<Vec<String>, Failure> {
        Ok(self.board.find(names)?)
    }

    /// Every instance, in config order; with `usage`, each running one's
    /// memory and CPU too (a few file reads per instance, which a status
    /// list of a thousand services does not pay unless asked).
    #[must_use]
    pub fn status(&self, usage: bool) -> Vec<ServiceStatus> {
        self.board.status(usage)
    }

    /// Whether every instance of a service with a readiness condition is
    /// ready (`/readyz`).
    #[must_use]
    pub fn readiness(&self) -> Readiness {
        self.board.readiness()
    }

    /// The whole tree with OS pids and resource use.
    #[must_use]
    pub fn ps(&self) -> TreeNode {
        self.board
            .tree(self.root.is_running(), self.started.elapsed().as_secs_f64())
    }

    /// Does `action` (start, stop, restart or kill) to every instance
    /// `name` means, and answers once its effect holds: a start or restart
    /// once the new incarnation is up (ready, where it has a readiness
    /// condition), a stop or kill once the process ended. With `no_block`,
    /// once it is queued.
    ///
    /// # Errors
    /// An unknown name; a conflict (nothing could be done, or the daemon is
    /// ending); a timeout naming the state each instance reached (the
    /// command goes on).
    pub async fn act(
        &self,
        name: &str,
        action: Action,
        options: ActOptions,
    ) -> Result<Acted, Failure> {
        if !matches!(
            action,
            Action::Start | Action::Stop | Action::Restart | Action::Kill
        ) {
            return Err(Failure::new(
                ErrorCode::NotFound,
                format!("{action} is not done this way: expected start, stop, restart or kill"),
            ));
        }
        let instances = self.resolve(std::slice::from_ref(&name.to_owned()))?;
        let mut pending = self.operator.act(name, action)?;
        if options.no_block {
            return Ok(Acted::only(instances));
        }
        let limit = options.timeout();
        match tokio::time::timeout(limit, pending.outcome()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(self.timed_out(action, name, &instances, pending.begun(), limit)),
        }
    }

    /// The timeout of a command, naming the state it reached.
    fn timed_out(
        &self,
        action: Action,
        name: &str,
        instances: &[String],
        begun: bool,
        limit: Duration,
    ) -> Failure {
        let waited = humantime::format_duration(limit);
        if !begun {
            return Failure::new(
                ErrorCode::Timeout,
                format!(
                    "{action} {name}: not begun after {waited}: earlier commands are still being carried out; it runs when its turn comes"
                ),
            );
        }
        let states: Vec<String> = self
            .board
            .statuses(instances, false)
            .iter()
            .map(|status| {
                let text = status.text();
                let mut said = format!("{} is {}", status.name, text.state);
                if status.state == State::Running && !status.ready {
                    said.push_str(", not ready yet");
                }
                if let Some(doing) = text.status {
                    said.push_str(&format!(" ({doing})"));
                }
                said
            })
            .collect();
        Failure::new(
            ErrorCode::Timeout,
            format!(
                "{action} {name}: not done after {waited}: {}; the {action} goes on",
                states.join(", ")
            ),
        )
    }

    /// Sends `signal` to the main process of every instance `name` means.
    ///
    /// # Errors
    /// A realtime signal, an unknown name, or no process to signal.
    pub async fn signal(&self, name: &str, signal: Signal) -> Result<Acted, Failure> {
        // Only a named signal: a realtime one is not supported yet.
        if matches!(signal, Signal::Realtime(_)) {
            return Err(Failure::new(
                ErrorCode::BadSignal,
                format!("{signal} cannot be sent by `tend signal` (realtime signals are not supported yet)"),
            ));
        }
        self.resolve(std::slice::from_ref(&name.to_owned()))?;
        self.operator.signal(name, signal).await
    }

    /// What a reload would do now, changing nothing (`tend reload
    /// --dry-run`).
    ///
    /// # Errors
    /// The new config's problems.
    pub async fn reload_plan(&self) -> Result<ReloadReport, Failure> {
        let current = self.board.config();
        let new = reload::read_config(&current.file).await?;
        Ok(reload::report(&Plan::between(&current, &new), &current))
    }

    /// Reads the config file again and changes only what changed: new
    /// services started, removed ones stopped, changed ones restarted,
    /// unchanged ones left running (same pid). A new config with errors
    /// changes nothing.
    ///
    /// # Errors
    /// The new config's problems, or a conflict.
    pub async fn reload(&self) -> Result<ReloadReport, Failure> {
        self.operator.reload().await
    }

    /// Asks the daemon to shut down (what `POST /v1/shutdown` does).
    ///
    /// # Errors
    /// A conflict while an upgrade is under way (the next image would not
    /// hear it).
    pub fn request_shutdown(&self) -> Result<(), Failure> {
        self.operator.shutdown()
    }

    /// Asks the daemon to become `binary` (what `POST /v1/upgrade` does),
    /// once that binary's own check of the config passed.
    ///
    /// # Errors
    /// A conflict if an upgrade or a shutdown is under way, or the binary
    /// refused the config.
    pub async fn request_upgrade(&self, binary: Option<PathBuf>) -> Result<UpgradePlan, Failure> {
        self.operator.upgrade(binary).await
    }

    /// Runs `park` once every command before is done and no other will
    /// be taken, then takes the status of every instance as the tree has
    /// it (for an upgrade's handover: no command may wait on a parked
    /// process).
    pub async fn while_held<T>(
        &self,
        park: impl std::future::Future<Output = T>,
    ) -> (T, Vec<ServiceStatus>) {
        self.operator.hold().await;
        let parked = park.await;
        self.board.refresh(&self.root).await;
        (parked, self.board.status(false))
    }
}
