//! Hooks: a service's command run on one of its events, with the event as
//! JSON on standard input (how a load balancer is told to drop an isolated
//! instance, or someone is paged when tend gives up).
//!
//! Hooks run as temporary children of a supervisor of their own
//! (`tend-hooks`), through the same process backend as services: reaped,
//! contained in their process group, stopped at shutdown, their output in
//! `logs/_hooks.log`, as their service's user and groups, never through a
//! shell (a hook is an argv). They never block the tree.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tend_config::{Config, HookEvent, Hooks as HookTable};
use tend_engine::{ChildSpec, Event, EventKind, Restart, Supervisor, SupervisorHandle};
use tend_journal::Record;
use tend_process::{LogSink, LogSpec, ProcessExt, ProcessSpec};
use tend_wire::HookInput;

use crate::paths::{Access, Dir, StateDir, HOOKS_LOG};
use tokio::sync::broadcast;

/// Whose hooks: the service an instance belongs to, its hooks, and the
/// identity they run as (the service's own user and groups, so a hook can
/// do no more than its service could).
#[derive(Debug, Clone)]
struct Owner {
    service: String,
    hooks: HookTable,
    user: Option<String>,
    group: Option<String>,
    groups: Option<Vec<String>>,
    /// Whether the daemon's environment is passed whole, and what is
    /// passed when it is not: the service's own choice.
    inherit: Option<bool>,
    pass: Vec<String>,
}

/// The hooks of the running config, and the supervisor that runs them.
#[derive(Debug)]
pub struct Hooks {
    runner: SupervisorHandle,
    by_instance: RwLock<HashMap<String, Owner>>,
    /// `hooks/`, checked and open: event files are made in it by its
    /// descriptor, never through a symbolic link.
    dir: Arc<Dir>,
    cwd: PathBuf,
    sink: LogSink,
    next: AtomicU64,
}

impl Hooks {
    /// Starts the hook runner; event files go to `state`'s `hooks/`,
    /// output to `logs/_hooks.log`.
    ///
    /// # Errors
    /// If the runner cannot start or the log cannot be opened.
    pub async fn start(config: &Config, state: &StateDir) -> std::io::Result<Arc<Hooks>> {
        let sink = LogSink::from_spec_in(
            Arc::new(state.open_logs()?.into_fd()),
            &LogSpec {
                file: Some(state.logs().join(HOOKS_LOG)),
                ..LogSpec::default()
            },
        )?;
        let dir = Arc::new(state.open_hooks()?);
        let runner = Supervisor::builder("tend-hooks")
            .intensity(tend_engine::Intensity::new(
                u32::MAX,
                std::time::Duration::from_secs(1),
            ))
            .start()
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let cwd = config
            .file
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let hooks = Arc::new(Hooks {
            runner,
            by_instance: RwLock::default(),
            dir,
            cwd,
            sink,
            next: AtomicU64::new(1),
        });
        hooks.set_config(config);
        Ok(hooks)
    }

    /// Takes the hooks of a (new) config.
    pub fn set_config(&self, config: &Config) {
        let mut table = HashMap::new();
        for service in config.services.iter().filter(|s| !s.hooks.is_empty()) {
            let owner = Owner {
                service: service.name.clone(),
                hooks: service.hooks.clone(),
                user: service.process.user.clone(),
                group: service.process.group.clone(),
                groups: service.process.groups.clone(),
                inherit: service.process.env.inherit,
                pass: service.process.env.pass.clone(),
            };
            for instance in service.instances() {
                table.insert(instance, owner.clone());
            }
        }
        *self.by_instance.write().unwrap_or_else(|e| e.into_inner()) = table;
    }

    /// Runs hooks for the tree's events until the stream ends.
    pub fn watch(self: &Arc<Self>, mut events: broadcast::Receiver<Event>) {
        let hooks = self.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => hooks.on_event(&event).await,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "hooks fell behind the event stream");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        // Event files are removed once their hook has ended.
        let mut ended = self.runner.subscribe();
        let dir = self.dir.clone();
        tokio::spawn(async move {
            while let Ok(event) = ended.recv().await {
                if let EventKind::ChildExited { id, .. } | EventKind::ChildStartFailed { id, .. } =
                    &event.kind
                {
                    dir.remove(&format!("{id}.json"));
                }
            }
        });
    }

    async fn on_event(&self, event: &Event) {
        for (instance, hook) in hook_events(&event.kind) {
            let found = {
                let table = self.by_instance.read().unwrap_or_else(|e| e.into_inner());
                table.get(instance).and_then(|owner| {
                    owner
                        .hooks
                        .get(&hook)
                        .map(|argv| (owner.clone(), argv.clone()))
                })
            };
            if let Some((owner, argv)) = found {
                self.run(event, instance, &owner, hook, argv).await;
            }
        }
    }

    async fn run(
        &self,
        event: &Event,
        instance: &str,
        owner: &Owner,
        hook: HookEvent,
        argv: Vec<String>,
    ) {
        let id = format!("hook-{}", self.next.fetch_add(1, Ordering::Relaxed));
        let input = HookInput {
            hook: hook.name().to_owned(),
            service: instance.to_owned(),
            supervisor: event.supervisor.to_string(),
            at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            record: Record::try_from(event).ok(),
        };
        let payload = serde_json::to_string(&input).unwrap_or_default();
        let name = format!("{id}.json");
        let file = self.dir.path().join(&name);
        let written = self
            .dir
            .open_file(&name, Access::CreateNew)
            .and_then(|mut f| f.write_all(format!("{payload}\n").as_bytes()));
        if let Err(error) = written {
            tracing::error!(%error, hook = hook.name(), instance, "cannot write the hook's event file");
            return;
        }
        let mut spec = ProcessSpec::new(argv[0].clone(), argv[1..].iter().cloned());
        spec.cwd = Some(self.cwd.clone());
        spec.stdin = Some(file);
        spec.user.clone_from(&owner.user);
        spec.group.clone_from(&owner.group);
        spec.groups.clone_from(&owner.groups);
        spec.env.inherit = owner.inherit;
        spec.env.pass.clone_from(&owner.pass);
        spec.env.set.insert("TEND_HOOK".into(), hook.name().into());
        spec.env.set.insert("TEND_SERVICE".into(), instance.into());
        spec.env
            .set
            .insert("TEND_SERVICE_GROUP".into(), owner.service.clone());
        let child =
            ChildSpec::process_with_sink(id, spec, self.sink.clone()).restart(Restart::Temporary);
        if let Err(error) = self.runner.start_child(child).await {
            tracing::error!(%error, hook = hook.name(), instance, "hook did not start");
        }
    }

    /// Stops running hooks.
    pub async fn shutdown(&self) {
        self.runner.shutdown().await;
    }
}

/// The hooks an event fires, with the instance each is for.
fn hook_events(kind: &EventKind) -> Vec<(&str, HookEvent)> {
    match kind {
        EventKind::ChildStarted { id, .. } => vec![(id.as_str(), HookEvent::Start)],
        EventKind::ChildExited { id, exit, .. } if exit.is_abnormal() => {
            vec![
                (id.as_str(), HookEvent::Exit),
                (id.as_str(), HookEvent::Crash),
            ]
        }
        EventKind::ChildExited { id, .. } => vec![(id.as_str(), HookEvent::Exit)],
        EventKind::ChildRestarting { id, .. } => vec![(id.as_str(), HookEvent::Restart)],
        EventKind::ChildCrashLoop { id, .. } => vec![(id.as_str(), HookEvent::CrashLoop)],
        EventKind::ChildIsolated { id, .. } => vec![(id.as_str(), HookEvent::Isolate)],
        EventKind::ChildFailed { id, .. } => vec![(id.as_str(), HookEvent::GiveUp)],
        EventKind::GaveUp { offender, .. } => vec![(offender.as_str(), HookEvent::GiveUp)],
        EventKind::ResourceWarning { id, .. } => vec![(id.as_str(), HookEvent::ResourceWarning)],
        _ => Vec::new(),
    }
}
