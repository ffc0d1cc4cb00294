//! What a valid `tend.toml` says, as plain data: every default applied, every
//! name checked, paths resolved against the config file's directory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tend_spec::{
    Backoff, Condition, CrashPolicy, Intensity, ProcessSpec, Restart, RestartBudget, StartLimit,
    Strategy,
};

/// A whole configuration.
///
/// # Examples
///
/// ```
/// let config = tend_config::parse_str("tend.toml", r#"
///     [services.db]
///     command = ["postgres", "-D", "data"]
///
///     [services.web]
///     command = ["./web"]
///     replicas = 2
///     depends_on = { db = "ready" }
/// "#).unwrap();
/// assert_eq!(config.services.len(), 2);
/// assert_eq!(config.service("web").unwrap().instances(), ["web.1", "web.2"]);
/// assert!(config.groups.is_empty() && config.api.listen.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// The root supervisor.
    pub supervisor: SupervisorSettings,
    /// Every service, in file order.
    pub services: Vec<Service>,
    /// Named groups, in file order; each is a child supervisor of the root.
    pub groups: Vec<Group>,
    /// Where else the API listens.
    pub api: ApiSettings,
}

impl Config {
    /// The service called `name`.
    #[must_use]
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The services bound to `service` (`binds_to`, and a dependency on it
    /// or on its group), and those bound to them: what stops when it stops
    /// and starts again when it is back. Each with the service it binds
    /// to, in config order; `service` itself is not listed.
    #[must_use]
    pub fn bound_to<'a>(&'a self, service: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut found: Vec<(&str, &str)> = Vec::new();
        let mut look = vec![service];
        while let Some(on) = look.pop() {
            let group = self.service(on).and_then(|s| s.group.as_deref());
            for dependent in &self.services {
                let binds = dependent.binds_to
                    && dependent
                        .depends_on
                        .iter()
                        .any(|d| d.name == on || Some(d.name.as_str()) == group);
                if binds
                    && dependent.name != service
                    && !found.iter().any(|(n, _)| *n == dependent.name)
                {
                    found.push((&dependent.name, on));
                    look.push(&dependent.name);
                }
            }
        }
        let order = |name: &str| self.services.iter().position(|s| s.name == name);
        found.sort_by_key(|(name, _)| order(name));
        found
    }

    /// The root's children in start order: the services that are in no
    /// group (file order), then the groups (file order). Shutdown runs in
    /// reverse.
    #[must_use]
    pub fn root_members(&self) -> Vec<Member<'_>> {
        let ungrouped = self
            .services
            .iter()
            .filter(|s| s.group.is_none())
            .map(Member::Service);
        ungrouped
            .chain(self.groups.iter().map(Member::Group))
            .collect()
    }

    /// The services of `group`, in the order its `services` list gives.
    pub fn members_of<'a>(&'a self, group: &'a Group) -> impl Iterator<Item = &'a Service> + 'a {
        group.services.iter().filter_map(|name| self.service(name))
    }
}

/// A child of the root supervisor.
///
/// # Examples
///
/// ```
/// use tend_config::Member;
///
/// let config = tend_config::parse_str("tend.toml", r#"
///     [services.proxy]
///     command = ["./proxy"]
///     [services.api]
///     command = ["./api"]
///     [groups.backend]
///     services = ["api"]
/// "#).unwrap();
/// let names: Vec<&str> = config
///     .root_members()
///     .into_iter()
///     .map(|member| match member {
///         Member::Service(service) => service.name.as_str(),
///         Member::Group(group) => group.name.as_str(),
///     })
///     .collect();
/// assert_eq!(names, ["proxy", "backend"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Member<'a> {
    /// A service outside every group.
    Service(&'a Service),
    /// A named group.
    Group(&'a Group),
}

/// `[supervisor]`: the root supervisor.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::Strategy;
///
/// let config = tend_config::parse_str("tend.toml", r#"
///     [supervisor]
///     strategy = "one_for_all"
///     shutdown_timeout = "1m"
///     [services.a]
///     command = ["./a"]
/// "#).unwrap();
/// assert_eq!(config.supervisor.strategy, Strategy::OneForAll);
/// assert_eq!(config.supervisor.shutdown_timeout, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SupervisorSettings {
    /// How a crash affects the root's other children.
    pub strategy: Strategy,
    /// How many restarts in how long before the root gives up.
    pub intensity: Intensity,
    /// How long a whole shutdown may take before what is left is killed.
    pub shutdown_timeout: Duration,
}

/// `[services.NAME]`: one supervised program (or `replicas` copies of it).
///
/// # Examples
///
/// ```
/// use tend_spec::Restart;
///
/// let config = tend_config::parse_str("tend.toml", r#"
///     [services.job]
///     shell = "./migrate up"
///     restart = "never"
/// "#).unwrap();
/// let job = &config.services[0];
/// assert_eq!(job.restart, Restart::Temporary);
/// assert!(job.process.shell);
/// assert_eq!(job.instances(), ["job"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    /// Its name, unique among services and groups.
    pub name: String,
    /// The process: command, environment, identity, limits, stop, logs. Its
    /// `logs.file` is left unset: where logs go is the daemon's choice.
    /// Shared: every instance of the service runs this one (a thousand
    /// services held it twice, 1.2 KB a copy, issue 26).
    pub process: Arc<ProcessSpec>,
    /// When it is restarted.
    pub restart: Restart,
    /// The delay before a restart (none: at once).
    pub backoff: Option<Backoff>,
    /// Its own restart budget (none: only the supervisor's intensity).
    pub budget: Option<RestartBudget>,
    /// Failed starts after which it is given up on (none: retried forever).
    pub start_limit: Option<StartLimit>,
    /// What a crash leads to.
    pub on_crash: CrashPolicy,
    /// How many instances (`web.1` … `web.N` when more than one).
    pub replicas: u32,
    /// Commands run on events of this service.
    pub hooks: Hooks,
    /// The group it belongs to, if any.
    pub group: Option<String>,
    /// Siblings it waits for, and their conditions.
    pub depends_on: Vec<Dependency>,
    /// Stopped when a dependency stops or gives up (systemd's `BindsTo`).
    pub binds_to: bool,
    /// Where its keys are in the file, for [`load_here`](crate::load_here)'s
    /// errors.
    #[serde(skip)]
    pub places: Places,
}

/// Where a service's keys are in its file (byte offsets), for the errors
/// found after parsing ([`load_here`](crate::load_here): a missing
/// program, working directory or user, a container no runtime runs).
///
/// Not part of what the service is: any two are equal, so a service
/// that only moved in the file is unchanged on reload.
///
/// # Examples
///
/// ```
/// let config = tend_config::parse_str("tend.toml", "[services.web]\ncommand = [\"./web\"]\n").unwrap();
/// let places = config.services[0].places;
/// assert_eq!(places.command, Some(25));
/// assert_eq!(places.cwd, None);
/// ```
#[derive(Debug, Clone, Copy, Default, Eq)]
pub struct Places {
    /// The `[services.NAME]` table.
    pub table: usize,
    /// The value of `command` or `shell`.
    pub command: Option<usize>,
    /// The value of `cwd`.
    pub cwd: Option<usize>,
    /// The value of `user`.
    pub user: Option<usize>,
    /// The value of `nofile` in `limits`.
    pub nofile: Option<usize>,
    /// The `container` table.
    pub container: Option<usize>,
}

impl PartialEq for Places {
    fn eq(&self, _: &Places) -> bool {
        true
    }
}

/// One entry of `depends_on`.
///
/// # Examples
///
/// ```
/// use tend_spec::Condition;
///
/// let config = tend_config::parse_str("tend.toml", r#"
///     [services.db]
///     command = ["postgres", "-D", "data"]
///
///     [services.web]
///     command = ["./web"]
///     replicas = 2
///     depends_on = { db = "ready" }
/// "#).unwrap();
/// let web = config.service("web").unwrap();
/// assert_eq!(web.depends_on[0].name, "db");
/// assert_eq!(web.depends_on[0].condition, Condition::Ready);
/// ```
#[derive(Debug, Clone, Eq, Serialize)]
pub struct Dependency {
    /// The sibling: a service in the same group, or, at the top level, a
    /// service or group outside any group.
    pub name: String,
    /// What it must reach first.
    pub condition: Condition,
    /// Where the entry is in the file (a byte offset), for later errors.
    #[serde(skip)]
    pub at: usize,
}

/// A dependency is its name and condition: where it is written is not
/// part of it (a service that only moved in the file is unchanged on
/// reload).
impl PartialEq for Dependency {
    fn eq(&self, other: &Dependency) -> bool {
        self.name == other.name && self.condition == other.condition
    }
}

impl Service {
    /// The names of its instances: the service's own name for one replica,
    /// `name.1` … `name.N` for more.
    #[must_use]
    pub fn instances(&self) -> Vec<String> {
        if self.replicas == 1 {
            vec![self.name.clone()]
        } else {
            (1..=self.replicas)
                .map(|n| format!("{}.{n}", self.name))
                .collect()
        }
    }
}

/// `[groups.NAME]`: a child supervisor over a list of services.
///
/// # Examples
///
/// ```
/// use tend_spec::Strategy;
///
/// let config = tend_config::parse_str("tend.toml", r#"
///     [services.db]
///     command = ["./db"]
///     [services.api]
///     command = ["./api"]
///     [groups.backend]
///     strategy = "rest_for_one"
///     services = ["db", "api"]
/// "#).unwrap();
/// let backend = &config.groups[0];
/// assert_eq!(backend.strategy, Strategy::RestForOne);
/// let members: Vec<&str> = config.members_of(backend).map(|s| s.name.as_str()).collect();
/// assert_eq!(members, ["db", "api"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// Its name, unique among services and groups.
    pub name: String,
    /// How a crash affects its other members.
    pub strategy: Strategy,
    /// How many restarts in how long before it gives up (and its parent
    /// decides).
    pub intensity: Intensity,
    /// Its services, in start order.
    pub services: Vec<String>,
}

/// When a hook runs.
///
/// # Examples
///
/// ```
/// use tend_config::HookEvent;
///
/// let config = tend_config::parse_str("tend.toml", r#"
///     [services.web]
///     command = ["./web"]
///     hooks = { give-up = ["./page-someone"] }
/// "#).unwrap();
/// let hooks = &config.services[0].hooks;
/// assert_eq!(hooks[&HookEvent::GiveUp], ["./page-someone"]);
/// assert_eq!(HookEvent::CrashLoop.name(), "crash-loop");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookEvent {
    /// An instance started.
    Start,
    /// An instance ended, however it ended.
    Exit,
    /// An instance ended abnormally.
    Crash,
    /// A restart was decided.
    Restart,
    /// Its budget ran out and it waits out a crash-loop delay.
    CrashLoop,
    /// It was isolated: kept for inspection, not restarted.
    Isolate,
    /// Tend stopped trying: it failed for good (crash policy, circuit
    /// breaker), or its restarts made its supervisor give up.
    GiveUp,
    /// It crossed 80 % of a resource limit.
    ResourceWarning,
}

impl HookEvent {
    /// Every event, with its name in the config.
    pub const ALL: [(HookEvent, &'static str); 8] = [
        (HookEvent::Start, "start"),
        (HookEvent::Exit, "exit"),
        (HookEvent::Crash, "crash"),
        (HookEvent::Restart, "restart"),
        (HookEvent::CrashLoop, "crash-loop"),
        (HookEvent::Isolate, "isolate"),
        (HookEvent::GiveUp, "give-up"),
        (HookEvent::ResourceWarning, "resource-warning"),
    ];

    /// Its name in the config.
    #[must_use]
    pub fn name(self) -> &'static str {
        HookEvent::ALL
            .iter()
            .find(|(event, _)| *event == self)
            .map_or("", |(_, name)| name)
    }
}

/// `hooks = { isolate = [...], give-up = [...] }`: an argv per event.
///
/// # Examples
///
/// ```
/// use tend_config::{HookEvent, Hooks};
///
/// let mut hooks = Hooks::new();
/// hooks.insert(HookEvent::Isolate, vec!["./drop-from-lb".into()]);
/// assert_eq!(hooks.len(), 1);
/// ```
pub type Hooks = BTreeMap<HookEvent, Vec<String>>;

/// `[api]`: a TCP listener beside the control socket.
///
/// # Examples
///
/// ```
/// let config = tend_config::parse_str("tend.toml", r#"
///     [api]
///     listen = "127.0.0.1:7070"
///     token = "at-least-16-characters"
///     [services.web]
///     command = ["./web"]
/// "#).unwrap();
/// assert_eq!(config.api.listen, Some("127.0.0.1:7070".parse().unwrap()));
/// assert_eq!(config.api.token.as_deref(), Some("at-least-16-characters"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ApiSettings {
    /// The address (none: only the unix socket).
    pub listen: Option<SocketAddr>,
    /// The bearer token TCP clients must send (none: the daemon
    /// generates one into its state directory; TCP always needs one).
    pub token: Option<String>,
}
