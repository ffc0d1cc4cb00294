//! What the API can ask of a running tree: status, the process tree,
//! start/stop/restart/kill, signals, and reload. Every operator command is
//! journaled; commands are served one at a time (a reload never interleaves
//! with a restart).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tend_config::{Config, ConfigError};
use tend_engine::{ChildInfo, ChildKind, ChildState, ControlError, SupervisorHandle};
use tend_journal::{JournalWriter, Record};
use tend_process::Signal;
use tend_wire::{
    Acted, Action, DaemonInfo, ErrorCode, Exit, NodeKind, Readiness, ReloadReport, ServiceStatus,
    State, TreeNode, UpgradePlan, Waiting,
};
use tokio::sync::watch;

use crate::hooks::Hooks;
use crate::logs::Sinks;
use crate::tree::{self, Handed, Instance, Layout, ROOT};
use crate::upgrade;

/// A failed operation, with what the API answers.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// The kind.
    pub code: ErrorCode,
    /// For people.
    pub message: String,
    /// A new config's problems, one per line.
    pub details: Vec<String>,
}

impl Failure {
    /// A failure of `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }
}

/// The config being run and where its instances are.
#[derive(Debug)]
struct Current {
    config: Config,
    layout: Layout,
}

/// The running tree and the operations on it.
#[derive(Debug)]
pub struct Control {
    root: SupervisorHandle,
    current: tokio::sync::Mutex<Current>,
    sinks: Sinks,
    journal: JournalWriter,
    started: Instant,
    hooks: Arc<Hooks>,
    /// Set by `POST /v1/shutdown`: the daemon shuts the tree down.
    shutdown_requested: watch::Sender<bool>,
    /// Set once the tree is down: streams end, listeners close.
    closing: watch::Sender<bool>,
    /// Set by `POST /v1/upgrade`: the binary the daemon becomes.
    upgrade_requested: watch::Sender<Option<PathBuf>>,
    origin: Origin,
}

/// Where the daemon runs, and what it brings from before its last
/// upgrade.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// Its state directory.
    pub state_dir: PathBuf,
    /// Upgrades before this image.
    pub upgrades: u32,
    /// How long it had run before this image.
    pub uptime: std::time::Duration,
}

impl Control {
    /// Control over `root`, which runs `config`.
    #[must_use]
    pub fn new(
        root: SupervisorHandle,
        config: Config,
        sinks: Sinks,
        journal: JournalWriter,
        hooks: Arc<Hooks>,
        origin: Origin,
    ) -> Arc<Control> {
        let layout = Layout::of(&config);
        Arc::new(Control {
            root,
            current: tokio::sync::Mutex::new(Current { config, layout }),
            sinks,
            journal,
            started: Instant::now(),
            hooks,
            shutdown_requested: watch::channel(false).0,
            closing: watch::channel(false).0,
            upgrade_requested: watch::channel(None).0,
            origin,
        })
    }

    /// The root supervisor.
    #[must_use]
    pub fn root(&self) -> &SupervisorHandle {
        &self.root
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

    /// Asks the daemon to shut down (what `POST /v1/shutdown` does).
    ///
    /// # Errors
    /// A conflict while an upgrade is under way (the next image would not
    /// hear it).
    pub fn request_shutdown(&self) -> Result<(), Failure> {
        self.upgrading()?;
        self.journal.record(
            ROOT,
            Record::command(Action::Shutdown, None, Vec::new(), None),
        );
        self.shutdown_requested.send_replace(true);
        Ok(())
    }

    /// Becomes true when a shutdown was asked for through the API.
    #[must_use]
    pub fn shutdown_requested(&self) -> watch::Receiver<bool> {
        self.shutdown_requested.subscribe()
    }

    /// Asks the daemon to become `binary` (what `POST /v1/upgrade` does),
    /// once that binary's own check of the config passed.
    ///
    /// # Errors
    /// A conflict if an upgrade or a shutdown is under way, or the binary
    /// refused the config.
    pub async fn request_upgrade(&self, binary: Option<PathBuf>) -> Result<UpgradePlan, Failure> {
        if self.upgrade_requested.borrow().is_some() || *self.shutdown_requested.borrow() {
            return Err(Failure::new(
                ErrorCode::Conflict,
                "an upgrade or a shutdown is already under way",
            ));
        }
        let binary = match binary {
            Some(binary) if binary.is_absolute() => binary,
            Some(binary) => {
                return Err(Failure::new(
                    ErrorCode::BadRequest,
                    format!(
                        "the binary must be an absolute path, not {}",
                        binary.display()
                    ),
                ))
            }
            None => running_binary().map_err(|e| {
                Failure::new(
                    ErrorCode::Internal,
                    format!("finding the running binary: {e}"),
                )
            })?,
        };
        let config = self.current.lock().await.config.file.clone();
        let state_dir = self.origin.state_dir.clone();
        let version = upgrade::check_binary(&binary, &config, &state_dir)
            .await
            .map_err(|e| Failure::new(ErrorCode::Conflict, e.to_string()))?;
        self.journal.record(
            ROOT,
            Record::command(
                Action::Upgrade,
                Some(&binary.display().to_string()),
                Vec::new(),
                None,
            ),
        );
        let plan = UpgradePlan {
            binary: binary.display().to_string(),
            version,
            upgrades: self.origin.upgrades + 1,
        };
        self.upgrade_requested.send_replace(Some(binary));
        Ok(plan)
    }

    /// Becomes `Some(binary)` when an upgrade was asked for.
    #[must_use]
    pub fn upgrade_requested(&self) -> watch::Receiver<Option<PathBuf>> {
        self.upgrade_requested.subscribe()
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

    /// Ends every stream and closes the listeners (the tree is down).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Becomes true when the daemon is closing.
    #[must_use]
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// The daemon's own facts.
    pub async fn info(&self) -> DaemonInfo {
        let current = self.current.lock().await;
        DaemonInfo {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            config: current.config.file.display().to_string(),
            state_dir: self.origin.state_dir.display().to_string(),
            uptime_s: self.origin().uptime.as_secs(),
            upgrades: self.origin.upgrades,
        }
    }

    /// The instances `names` mean (every instance when empty), or which
    /// name is unknown.
    pub async fn resolve(&self, names: &[String]) -> Result<Vec<String>, Failure> {
        let current = self.current.lock().await;
        resolve(&current.layout, names)
            .map(|found| found.into_iter().map(|i| i.name.clone()).collect())
    }

    /// Every instance, in config order; with `usage`, each running
    /// one's memory and CPU too (a few file reads per instance, which a
    /// status list of a thousand services does not pay unless asked).
    pub async fn status(&self, usage: bool) -> Vec<ServiceStatus> {
        let current = self.current.lock().await;
        self.status_in(&current, usage).await
    }

    /// Whether every instance of a service with a readiness condition is
    /// ready (`/readyz`): running and ready, or completed.
    pub async fn readiness(&self) -> Readiness {
        let current = self.current.lock().await;
        let status = self.status_in(&current, false).await;
        // One pass over the services, not a search per instance: kubelet
        // asks every few seconds, of a thousand services too.
        let conditioned: BTreeSet<&str> = current
            .config
            .services
            .iter()
            .filter(|s| s.process.ready.is_signalled() || s.process.readiness.is_some())
            .map(|s| s.name.as_str())
            .collect();
        let checked: Vec<&ServiceStatus> = status
            .iter()
            .filter(|s| conditioned.contains(s.service.as_str()))
            .collect();
        let not_ready = checked
            .iter()
            .filter(|s| !((s.state == State::Running && s.ready) || s.state == State::Completed))
            .count();
        Readiness {
            ready: not_ready == 0,
            checked: checked.len(),
            not_ready,
        }
    }

    /// Runs `park` with every operation held off — those under way finish
    /// first, and from the upgrade request on new ones are refused — then
    /// takes the status of every instance, still held (for an upgrade's
    /// handover: no operation may wait on a parked process).
    pub async fn while_held<T>(
        &self,
        park: impl std::future::Future<Output = T>,
    ) -> (T, Vec<ServiceStatus>) {
        let current = self.current.lock().await;
        let parked = park.await;
        let status = self.status_in(&current, false).await;
        (parked, status)
    }

    /// A conflict if an upgrade is under way (asked for or handing over).
    fn upgrading(&self) -> Result<(), Failure> {
        match self.upgrade_requested.borrow().as_ref() {
            Some(binary) => Err(Failure::new(
                ErrorCode::Conflict,
                format!(
                    "tend is upgrading to {}; try again in a moment",
                    binary.display()
                ),
            )),
            None => Ok(()),
        }
    }

    async fn status_in(&self, current: &Current, usage: bool) -> Vec<ServiceStatus> {
        let (infos, units) = self.infos(&current.layout.instances, usage).await;
        current
            .layout
            .instances
            .iter()
            .map(|instance| {
                let mut status = status_of(instance, infos.get(&instance.name));
                // A replica waits with its whole service (its supervisor).
                let waits = match infos.get(&instance.name) {
                    Some(info) => info.waiting_for.as_slice(),
                    None => units.get(&instance.service).map_or(&[][..], Vec::as_slice),
                };
                status.waiting_for = waits
                    .iter()
                    .map(|(service, condition)| Waiting {
                        service: service.to_string(),
                        condition: *condition,
                    })
                    .collect();
                status
            })
            .collect()
    }

    /// The `ChildInfo` of each instance still in the tree, one
    /// `which_children` per supervisor; and what each supervisor of
    /// replicas waits for.
    async fn infos(
        &self,
        instances: &[Instance],
        usage: bool,
    ) -> (HashMap<String, ChildInfo>, UnitWaits) {
        let mut chains: BTreeSet<&[String]> = BTreeSet::new();
        for instance in instances {
            chains.insert(instance.parents.as_slice());
            // The unit's own supervisor knows what the unit waits for.
            if let Some((_, above)) = instance.parents.split_last() {
                chains.insert(above);
            }
        }
        let mut infos = HashMap::new();
        let mut units = HashMap::new();
        for chain in chains {
            if let Ok(handle) = tree::supervisor_at(&self.root, chain).await {
                let children = if usage {
                    handle.which_children().await
                } else {
                    handle.which_children_unmeasured().await
                };
                for info in children {
                    if info.kind == ChildKind::Worker {
                        infos.insert(info.id.to_string(), info);
                    } else if !info.waiting_for.is_empty() {
                        units.insert(info.id.to_string(), info.waiting_for);
                    }
                }
            }
        }
        (infos, units)
    }

    /// The whole tree with OS pids and resource use.
    pub async fn ps(&self) -> TreeNode {
        let _current = self.current.lock().await;
        let children = Box::pin(subtree(self.root.clone())).await;
        TreeNode {
            name: ROOT.to_owned(),
            kind: NodeKind::Supervisor,
            state: if self.root.is_running() {
                State::Running
            } else {
                State::Shutdown
            },
            pid: Some(std::process::id()),
            pids: None,
            memory_bytes: None,
            cpu_s: None,
            uptime_s: self.started.elapsed().as_secs_f64(),
            children,
        }
    }

    /// Does `action` (start, stop, restart or kill) to every instance
    /// `name` means.
    pub async fn act(&self, name: &str, action: Action) -> Result<Acted, Failure> {
        if !matches!(
            action,
            Action::Start | Action::Stop | Action::Restart | Action::Kill
        ) {
            return Err(Failure::new(
                ErrorCode::NotFound,
                format!("{action} is not done this way: expected start, stop, restart or kill"),
            ));
        }
        let current = self.current.lock().await;
        self.upgrading()?;
        let instances = resolve(&current.layout, std::slice::from_ref(&name.to_owned()))?;
        let mut done = Vec::new();
        let mut problems = Vec::new();
        for instance in instances {
            match self.act_on(instance, action).await {
                Ok(()) => done.push(instance.name.clone()),
                Err(e) => problems.push(format!("{}: {e}", instance.name)),
            }
        }
        let outcome = (!problems.is_empty()).then(|| problems.join("; "));
        self.journal.record(
            ROOT,
            Record::command(action, None, done.clone(), outcome.clone()),
        );
        match outcome {
            Some(message) if done.is_empty() => Err(Failure::new(ErrorCode::Conflict, message)),
            _ => Ok(Acted { services: done }),
        }
    }

    async fn act_on(&self, instance: &Instance, action: Action) -> Result<(), ControlError> {
        let supervisor = tree::supervisor_at(&self.root, &instance.parents).await?;
        let id = instance.name.as_str();
        let present = supervisor.child_info(id).await.ok();
        match (action, present) {
            (Action::Stop, Some(_)) => supervisor.terminate_child(id).await,
            (Action::Stop, None) => Ok(()),
            (Action::Kill, Some(_)) => supervisor.kill_child(id).await,
            (Action::Kill, None) => Err(ControlError::NotRunning(id.into())),
            (Action::Start, Some(info)) if is_down(info.state) => {
                supervisor.restart_child(id).await.map(drop)
            }
            (Action::Start, Some(_)) => Ok(()),
            (Action::Start | Action::Restart, None) => Err(ControlError::NotFound(id.into())),
            (Action::Restart, Some(_)) => supervisor.restart_child_now(id).await.map(drop),
            // Refused by `act` before it gets here.
            (Action::Signal | Action::Reload | Action::Upgrade | Action::Shutdown, _) => Ok(()),
        }
    }

    /// Sends `signal` to the main process of every instance `name` means.
    pub async fn signal(&self, name: &str, signal: Signal) -> Result<Acted, Failure> {
        // Only a named signal: a realtime one is not supported yet.
        if matches!(signal, Signal::Realtime(_)) {
            return Err(Failure::new(
                ErrorCode::BadSignal,
                format!("{signal} cannot be sent by `tend signal` (realtime signals are not supported yet)"),
            ));
        }
        let current = self.current.lock().await;
        let found = resolve(&current.layout, std::slice::from_ref(&name.to_owned()))?;
        let mut done = Vec::new();
        for instance in found {
            // Through the engine to the running incarnation, which signals
            // its process through its pidfd: never a pid read from a
            // snapshot, which a process started meanwhile could have taken.
            let Ok(supervisor) = tree::supervisor_at(&self.root, &instance.parents).await else {
                continue;
            };
            if supervisor
                .signal_child(instance.name.as_str(), signal)
                .await
                .is_ok()
            {
                done.push(instance.name.clone());
            }
        }
        self.journal.record(
            ROOT,
            Record::command(
                Action::Signal,
                Some(&signal.to_string()),
                done.clone(),
                None,
            ),
        );
        if done.is_empty() {
            return Err(Failure::new(
                ErrorCode::Conflict,
                format!("{name} has no running process to signal"),
            ));
        }
        Ok(Acted { services: done })
    }

    /// What a reload would do now, changing nothing (`tend reload
    /// --dry-run`).
    pub async fn reload_plan(&self) -> Result<ReloadReport, Failure> {
        let current = self.current.lock().await;
        let new = read_config(&current.config.file).await?;
        Ok(Plan::between(&current.config, &new).report)
    }

    /// Reads the config file again and changes only what changed: new
    /// services started, removed ones stopped, changed ones restarted,
    /// unchanged ones left running (same pid). A new config with errors
    /// changes nothing.
    pub async fn reload(&self) -> Result<ReloadReport, Failure> {
        let mut current = self.current.lock().await;
        self.upgrading()?;
        let new = match read_config(&current.config.file).await {
            Ok(config) => config,
            Err(failure) => {
                self.journal.record(
                    ROOT,
                    Record::command(
                        Action::Reload,
                        None,
                        Vec::new(),
                        Some("rejected: invalid config".to_owned()),
                    ),
                );
                return Err(failure);
            }
        };
        let old = &current.config;
        let plan = Plan::between(old, &new);
        let new_layout = Layout::of(&new);

        // Take down what goes or changes, groups first. Siblings a strategy
        // stopped and that wait to start with a unit taken down are called
        // off with it (OTP's terminate_child): they are started again below.
        let mut called_off = Vec::new();
        for group in &plan.groups_down {
            called_off.extend(remove_unit(&self.root, &[], group).await);
        }
        for service in &plan.services_down {
            let s = old.service(service).expect("planned from the old config");
            if s.group
                .as_ref()
                .is_some_and(|g| plan.groups_down.contains(g))
            {
                continue;
            }
            let parents: Vec<String> = s.group.iter().cloned().collect();
            called_off.extend(remove_unit(&self.root, &parents, service).await);
        }
        for service in &plan.report.removed {
            for instance in old
                .service(service)
                .map(|s| s.instances())
                .unwrap_or_default()
            {
                self.sinks.remove(&instance);
            }
        }
        // Bring up what comes or changed.
        let mut failures = Vec::new();
        for group in &plan.groups_up {
            let g = new
                .groups
                .iter()
                .find(|g| &g.name == group)
                .expect("planned from the new config");
            let started =
                match tree::group_unit(&new, g, &new_layout, &self.sinks, &Handed::default()) {
                    Ok(spec) => self.root.start_child(spec).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
            if let Err(e) = started {
                failures.push(format!("group {group}: {e}"));
            }
        }
        for service in &plan.services_up {
            let s = new.service(service).expect("planned from the new config");
            if s.group.as_ref().is_some_and(|g| plan.groups_up.contains(g)) {
                continue;
            }
            let parents: Vec<String> = s.group.iter().cloned().collect();
            let started = match tree::supervisor_at(&self.root, &parents).await {
                Ok(supervisor) => {
                    match tree::service_unit(s, &new_layout, &self.sinks, &Handed::default()) {
                        Ok(spec) => supervisor
                            .start_child(spec)
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = started {
                failures.push(format!("{service}: {e}"));
            }
        }
        for (supervisor, id) in called_off {
            let down = supervisor
                .child_info(id.as_str())
                .await
                .is_ok_and(|info| info.state == ChildState::Shutdown);
            if down {
                if let Err(e) = supervisor.restart_child(id.as_str()).await {
                    failures.push(format!("{id}: {e}"));
                }
            }
        }
        self.hooks.set_config(&new);
        current.config = new;
        current.layout = new_layout;
        let mut report = plan.report;
        report.not_applied.extend(failures);
        let summary = format!(
            "added {}, removed {}, changed {}, unchanged {}",
            report.added.len(),
            report.removed.len(),
            report.changed.len(),
            report.unchanged.len()
        );
        let touched: Vec<String> = report
            .added
            .iter()
            .chain(&report.removed)
            .chain(&report.changed)
            .cloned()
            .collect();
        self.journal.record(
            ROOT,
            Record::command(Action::Reload, None, touched, Some(summary)),
        );
        Ok(report)
    }
}

/// The config file as it is now, or why it cannot be run. Read off the
/// async workers: asking a container runtime whether it works (`podman
/// info`) takes half a second.
async fn read_config(file: &std::path::Path) -> Result<Config, Failure> {
    let path = file.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || {
        tend_config::load_here(&path, tend_process::find_runtime)
    })
    .await
    .map_err(|e| Failure::new(ErrorCode::Internal, format!("reading the config: {e}")))?;
    loaded.map_err(|error| {
        let details: Vec<String> = match &error {
            ConfigError::Invalid(list) => list.iter().map(ToString::to_string).collect(),
            ConfigError::Read { .. } => vec![error.to_string()],
        };
        Failure {
            code: ErrorCode::InvalidConfig,
            message: format!(
                "the new config is invalid; nothing changed:\n{}",
                details.join("\n")
            ),
            details,
        }
    })
}

fn is_down(state: ChildState) -> bool {
    matches!(
        state,
        ChildState::Shutdown | ChildState::Completed | ChildState::Failed(_) | ChildState::Isolated
    )
}

fn resolve<'a>(layout: &'a Layout, names: &[String]) -> Result<Vec<&'a Instance>, Failure> {
    if names.is_empty() {
        return Ok(layout.instances.iter().collect());
    }
    let mut found: Vec<&Instance> = Vec::new();
    for name in names {
        let matched = layout.resolve(name);
        if matched.is_empty() {
            let known: Vec<&str> = layout.instances.iter().map(|i| i.name.as_str()).collect();
            return Err(Failure::new(
                ErrorCode::UnknownService,
                format!(
                    "no service called {name:?} (services: {})",
                    known.join(", ")
                ),
            ));
        }
        for instance in matched {
            if !found.iter().any(|f| f.name == instance.name) {
                found.push(instance);
            }
        }
    }
    Ok(found)
}

/// Stops and removes a unit (a service or a group) from its supervisor.
/// Returns the siblings that were due to start and are stopped now: those a
/// strategy's restart had stopped to start with it, called off with it.
async fn remove_unit(
    root: &SupervisorHandle,
    parents: &[String],
    id: &str,
) -> Vec<(SupervisorHandle, tend_engine::ChildId)> {
    let Ok(supervisor) = tree::supervisor_at(root, parents).await else {
        return Vec::new();
    };
    let due: Vec<tend_engine::ChildId> = supervisor
        .which_children_unmeasured()
        .await
        .into_iter()
        .filter(|info| info.state == ChildState::Pending)
        .map(|info| info.id)
        .collect();
    let _ = supervisor.terminate_child(id).await;
    let _ = supervisor.delete_child(id).await;
    due.into_iter()
        .filter(|sibling| sibling.as_str() != id)
        .map(|sibling| (supervisor.clone(), sibling))
        .collect()
}

/// What each supervisor of replicas waits for, by service name.
type UnitWaits = HashMap<String, Vec<(tend_engine::ChildId, tend_engine::Condition)>>;

fn status_of(instance: &Instance, info: Option<&ChildInfo>) -> ServiceStatus {
    let mut status =
        ServiceStatus::pending(&instance.name, &instance.service, instance.group.as_deref());
    if let Some(info) = info {
        status.state = info.state.into();
        if let ChildState::Failed(reason) = info.state {
            status.failed_because = Some(reason.into());
        }
        status.pid = info.pid;
        status.generation = info.generation;
        status.starts = info.starts;
        status.restarts = info.restarts;
        status.failures = info.failures;
        status.uptime_s = uptime_s(info);
        status.last_exit = info.last_exit.as_ref().map(|r| Exit::from(&r.exit));
        status.ready = info.ready && info.pid.is_some();
        status.status_text.clone_from(&info.status);
        if let Some(usage) = &info.usage {
            status.memory_bytes = usage.memory;
            status.cpu_s = usage.cpu_time.map(|d| d.as_secs_f64());
        }
    }
    status
}

/// Seconds the current incarnation has run (0 when none runs).
fn uptime_s(info: &ChildInfo) -> f64 {
    info.running_since
        .and_then(|since| SystemTime::now().duration_since(since).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

async fn subtree(handle: SupervisorHandle) -> Vec<TreeNode> {
    let mut nodes = Vec::new();
    for info in handle.which_children().await {
        let children = if info.kind == ChildKind::Supervisor {
            match handle.supervisor(info.id.clone()).await {
                Ok(nested) => Box::pin(subtree(nested)).await,
                Err(_) => Vec::new(),
            }
        } else {
            Vec::new()
        };
        let usage = info.usage.as_ref();
        nodes.push(TreeNode {
            name: info.id.to_string(),
            kind: info.kind.into(),
            state: info.state.into(),
            pid: info.pid,
            pids: usage.and_then(|u| u.pids),
            memory_bytes: usage.and_then(|u| u.memory),
            cpu_s: usage.and_then(|u| u.cpu_time).map(|d| d.as_secs_f64()),
            uptime_s: uptime_s(&info),
            children,
        });
    }
    nodes
}

/// What a reload does, worked out before anything is touched.
#[derive(Debug, Default)]
struct Plan {
    groups_down: BTreeSet<String>,
    groups_up: BTreeSet<String>,
    services_down: Vec<String>,
    services_up: Vec<String>,
    report: ReloadReport,
}

impl Plan {
    fn between(old: &Config, new: &Config) -> Plan {
        let mut plan = Plan::default();
        if old.supervisor != new.supervisor {
            plan.report.not_applied.push(
                "[supervisor] settings changed: they apply when tend is restarted".to_owned(),
            );
        }
        if old.api != new.api {
            plan.report
                .not_applied
                .push("[api] settings changed: they apply when tend is restarted".to_owned());
        }
        for group in &old.groups {
            if new.groups.iter().find(|g| g.name == group.name) != Some(group) {
                plan.groups_down.insert(group.name.clone());
            }
        }
        for group in &new.groups {
            if old.groups.iter().find(|g| g.name == group.name) != Some(group) {
                plan.groups_up.insert(group.name.clone());
            }
        }
        let regrouped = |s: &tend_config::Service, groups: &BTreeSet<String>| {
            s.group.as_ref().is_some_and(|g| groups.contains(g))
        };
        for service in &old.services {
            match new.service(&service.name) {
                None => {
                    plan.services_down.push(service.name.clone());
                    plan.report.removed.push(service.name.clone());
                }
                Some(now) if now != service || regrouped(service, &plan.groups_down) => {
                    plan.services_down.push(service.name.clone());
                }
                Some(_) => plan.report.unchanged.push(service.name.clone()),
            }
        }
        for service in &new.services {
            match old.service(&service.name) {
                None => {
                    plan.services_up.push(service.name.clone());
                    plan.report.added.push(service.name.clone());
                }
                Some(before) if before != service || regrouped(service, &plan.groups_up) => {
                    plan.services_up.push(service.name.clone());
                    plan.report.changed.push(service.name.clone());
                }
                Some(_) => {}
            }
        }
        plan
    }
}

/// The binary of this process, as a path to run again: the link
/// `/proc/self/exe` names, without the ` (deleted)` the kernel adds once the
/// file was replaced (a package upgrade): the new file is the one meant.
fn running_binary() -> std::io::Result<PathBuf> {
    let exe = std::fs::read_link("/proc/self/exe").or_else(|_| std::env::current_exe())?;
    let text = exe.to_string_lossy();
    Ok(match text.strip_suffix(" (deleted)") {
        Some(path) => PathBuf::from(path),
        None => exe,
    })
}
