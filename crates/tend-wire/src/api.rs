//! The daemon's API shapes: what `tend-daemon` sends and every client
//! (the `tend` command, `tend top`, the dashboard) reads. One set of types
//! for both sides, so neither spells a field the other does not.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use tend_spec::Condition;

use crate::exit::Exit;
use crate::record::{Entry, Record};
use crate::state::{FailReason, State};

/// One service instance, as `GET /v1/services` lists it.
///
/// In JSON it also carries `text`, what its state, last exit and status
/// read as for people ([`StatusText`]), rendered by the server so that a
/// screen that cannot call [`ServiceStatus::text`] (the dashboard) says
/// the same as `tend status`. Reading a status ignores it.
///
/// # Examples
///
/// ```
/// use tend_wire::{FailReason, ServiceStatus, State};
///
/// let mut web = ServiceStatus::pending("web.2", "web", None);
/// assert_eq!((web.state, web.pid, web.restarts), (State::Pending, None, 0));
/// web.state = State::Failed;
/// web.failed_because = Some(FailReason::CircuitBreakerOpen);
/// assert_eq!(web.text().state, "failed (circuit breaker open)");
/// let json = serde_json::to_value(&web).unwrap();
/// assert_eq!(json["failed_because"], "circuit_breaker_open");
/// assert_eq!(json["text"]["state"], "failed (circuit breaker open)");
/// assert_eq!(serde_json::from_value::<ServiceStatus>(json).unwrap(), web);
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServiceStatus {
    /// The instance: the service's name, or `name.N` for a replica.
    pub name: String,
    /// The service (the `[services.NAME]` table) it is an instance of.
    pub service: String,
    /// Its group, if any.
    pub group: Option<String>,
    /// Its state.
    pub state: State,
    /// Why it failed, when `failed`.
    pub failed_because: Option<FailReason>,
    /// Its OS process, while one runs.
    pub pid: Option<u32>,
    /// Its incarnation number (1 for the first start).
    pub generation: u64,
    /// Starts, restarts included.
    pub starts: u64,
    /// Automatic restarts.
    pub restarts: u64,
    /// Abnormal ends.
    pub failures: u64,
    /// Seconds the current incarnation has run (0 when none runs).
    pub uptime_s: f64,
    /// How the last incarnation ended.
    pub last_exit: Option<Exit>,
    /// Resident memory of its cgroup or process, in bytes, when known.
    pub memory_bytes: Option<u64>,
    /// CPU time used by the current incarnation, in seconds, when known.
    pub cpu_s: Option<f64>,
    /// Whether the current incarnation is ready (for a `ready.notify`
    /// service: it sent `READY=1`).
    pub ready: bool,
    /// Whether its service has a readiness condition (`ready`, or a
    /// `readiness` probe): `tend status` shows `ready` only then (`-`
    /// otherwise). Absent from an older daemon's answer: false.
    #[serde(default)]
    pub has_readiness: bool,
    /// What the service says it is doing (sd_notify's `STATUS=`).
    pub status_text: Option<String>,
    /// While it waits to start: the dependencies whose condition does not
    /// hold yet.
    #[serde(default)]
    pub waiting_for: Vec<Waiting>,
}

impl ServiceStatus {
    /// An instance that has not started yet: pending, no process, nothing
    /// counted.
    #[must_use]
    pub fn pending(name: &str, service: &str, group: Option<&str>) -> ServiceStatus {
        ServiceStatus {
            name: name.to_owned(),
            service: service.to_owned(),
            group: group.map(str::to_owned),
            state: State::Pending,
            failed_because: None,
            pid: None,
            generation: 0,
            starts: 0,
            restarts: 0,
            failures: 0,
            uptime_s: 0.0,
            last_exit: None,
            memory_bytes: None,
            cpu_s: None,
            ready: false,
            has_readiness: false,
            status_text: None,
            waiting_for: Vec::new(),
        }
    }

    /// What it reads as for people: the one wording of its state, last
    /// exit and status on every screen.
    ///
    /// ```
    /// use tend_spec::Condition;
    /// use tend_wire::{ServiceStatus, Waiting};
    ///
    /// let mut api = ServiceStatus::pending("api", "api", None);
    /// api.waiting_for.push(Waiting { service: "db".into(), condition: Condition::Ready });
    /// let text = api.text();
    /// assert_eq!((text.state.as_str(), text.last_exit), ("pending", None));
    /// assert_eq!(text.status.as_deref(), Some("waiting for db (ready)"));
    /// ```
    #[must_use]
    pub fn text(&self) -> StatusText {
        StatusText {
            state: match self.failed_because {
                Some(why) => format!("{} ({why})", self.state),
                None => self.state.to_string(),
            },
            last_exit: self.last_exit.as_ref().map(ToString::to_string),
            status: match (&self.status_text, self.waiting_for.as_slice()) {
                (Some(text), _) => Some(text.clone()),
                (None, []) => None,
                (None, waits) => {
                    let waits: Vec<String> = waits.iter().map(ToString::to_string).collect();
                    Some(format!("waiting for {}", waits.join(" and ")))
                }
            },
        }
    }
}

impl Serialize for ServiceStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Every field named, so a new one cannot be left out.
        let ServiceStatus {
            name,
            service,
            group,
            state,
            failed_because,
            pid,
            generation,
            starts,
            restarts,
            failures,
            uptime_s,
            last_exit,
            memory_bytes,
            cpu_s,
            ready,
            has_readiness,
            status_text,
            waiting_for,
        } = self;
        let mut out = serializer.serialize_struct("ServiceStatus", 19)?;
        out.serialize_field("name", name)?;
        out.serialize_field("service", service)?;
        out.serialize_field("group", group)?;
        out.serialize_field("state", state)?;
        out.serialize_field("failed_because", failed_because)?;
        out.serialize_field("pid", pid)?;
        out.serialize_field("generation", generation)?;
        out.serialize_field("starts", starts)?;
        out.serialize_field("restarts", restarts)?;
        out.serialize_field("failures", failures)?;
        out.serialize_field("uptime_s", uptime_s)?;
        out.serialize_field("last_exit", last_exit)?;
        out.serialize_field("memory_bytes", memory_bytes)?;
        out.serialize_field("cpu_s", cpu_s)?;
        out.serialize_field("ready", ready)?;
        out.serialize_field("has_readiness", has_readiness)?;
        out.serialize_field("status_text", status_text)?;
        if waiting_for.is_empty() {
            out.skip_field("waiting_for")?;
        } else {
            out.serialize_field("waiting_for", waiting_for)?;
        }
        out.serialize_field("text", &self.text())?;
        out.end()
    }
}

/// What a [`ServiceStatus`] reads as for people, one text per column of
/// `tend status` (`STATE`, `LAST EXIT`, `STATUS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusText {
    /// Its state, with why it failed: `failed (circuit breaker open)`.
    pub state: String,
    /// How its last incarnation ended: `error (exit code 1)`.
    pub last_exit: Option<String>,
    /// What it says it is doing, or what it waits for: `waiting for db
    /// (ready)`.
    pub status: Option<String>,
}

/// A dependency a service waits for (`depends_on`), and the condition it
/// must reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// The service depended on.
    pub service: String,
    /// What it must reach: `started`, `ready` or `completed`.
    pub condition: Condition,
}

impl fmt::Display for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.service, self.condition)
    }
}

vocabulary! {
    /// What a node of the process tree is.
    pub enum NodeKind {
        /// A supervisor: the root, a group, a replicated service's.
        Supervisor => "supervisor",
        /// A service instance.
        Service => "service",
    }
}

/// A node of `GET /v1/ps`: a supervisor or a service instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// Its id under its supervisor.
    pub name: String,
    /// A supervisor or a service.
    pub kind: NodeKind,
    /// Its state.
    pub state: State,
    /// Its OS process.
    pub pid: Option<u32>,
    /// Processes in its cgroup, when known.
    pub pids: Option<u64>,
    /// Memory, when known.
    pub memory_bytes: Option<u64>,
    /// CPU time, when known.
    pub cpu_s: Option<f64>,
    /// Seconds running.
    pub uptime_s: f64,
    /// Its children (supervisors only).
    pub children: Vec<TreeNode>,
}

/// The services an action touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acted {
    /// The instances, in order.
    pub services: Vec<String>,
    /// The instances it reached through their binding (`binds_to`): stopped
    /// before the one named, started again once it is back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Bound>,
}

impl Acted {
    /// What `services` alone were acted on.
    #[must_use]
    pub fn only(services: Vec<String>) -> Acted {
        Acted {
            services,
            also: Vec::new(),
        }
    }
}

/// An instance an action reached through its binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bound {
    /// The instance reached.
    pub service: String,
    /// The service it binds to.
    pub binds_to: String,
}

/// How an operator's command waits (the query of
/// `POST /v1/services/{name}/{action}`): until its effect holds (a start or
/// restart: the new incarnation started, and ready where it has a readiness
/// condition; a stop: the process ended), or not at all.
///
/// # Examples
///
/// ```
/// use tend_wire::ActOptions;
///
/// let wait: ActOptions = serde_json::from_str("{}").unwrap();
/// assert_eq!((wait.no_block, wait.timeout()), (false, ActOptions::TIMEOUT));
/// let at_once = ActOptions { no_block: true, timeout_s: None };
/// assert!(at_once.no_block);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActOptions {
    /// Answer once the command is accepted, without waiting for its effect
    /// (systemctl's `--no-block`).
    #[serde(default)]
    pub no_block: bool,
    /// The longest to wait for the effect, in seconds
    /// ([`TIMEOUT`](Self::TIMEOUT) when not given). Past it the answer is a
    /// [`ErrorCode::Timeout`] naming the state reached; the command goes on.
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

impl ActOptions {
    /// How long a command waits for its effect by default: 90 s, systemd's
    /// default start timeout.
    pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

    /// How long to wait for the effect.
    #[must_use]
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout_s
            .map_or(Self::TIMEOUT, std::time::Duration::from_secs)
    }
}

/// `POST /v1/services/{name}/signal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalRequest {
    /// A signal name (`SIGHUP`, `HUP`) or number.
    pub signal: String,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReloadReport {
    /// Services started.
    pub added: Vec<String>,
    /// Services stopped and removed.
    pub removed: Vec<String>,
    /// Services restarted with their new settings.
    pub changed: Vec<String>,
    /// Services left running as they were.
    pub unchanged: Vec<String>,
    /// Changes that need a restart of tend to apply (the root's settings).
    pub not_applied: Vec<String>,
    /// Unchanged services restarted all the same: each binds to one that
    /// changed (`binds_to`), so it stops with it and starts again after it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restarted: Vec<Bound>,
}

/// The daemon itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonInfo {
    /// Its process id.
    pub pid: u32,
    /// Its version.
    pub version: String,
    /// The config file it runs.
    pub config: String,
    /// Its state directory.
    pub state_dir: String,
    /// Seconds since it started (upgrades do not reset it).
    pub uptime_s: u64,
    /// How many times it was upgraded (re-executed) since it started.
    pub upgrades: u32,
    /// The pid of its keeper (`tend up -d`), which holds every service's
    /// descriptors and starts it again if it dies; none in the foreground.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keeper: Option<u32>,
}

/// The answer to `POST /v1/upgrade`: the binary passed its check and the
/// daemon is handing over to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradePlan {
    /// The binary the daemon becomes.
    pub binary: String,
    /// Its `--version` line.
    pub version: String,
    /// `upgrades` in `/v1/daemon` once it has taken over.
    pub upgrades: u32,
}

/// The body of `POST /v1/upgrade`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeRequest {
    /// The binary to become (absolute); default: the one running.
    #[serde(default)]
    pub binary: Option<String>,
}

/// What a hook reads on its standard input (one JSON line): which hook
/// and instance, when, and the journal record of the event that ran it
/// (its fields flattened in, `kind` first among them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookInput {
    /// The hook (`crash`, `start`, …), as the config names it.
    pub hook: String,
    /// The instance the event is about.
    pub service: String,
    /// The supervisor that told it.
    pub supervisor: String,
    /// When the hook was run (RFC 3339, milliseconds).
    pub at: String,
    /// The event, as the journal records it.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
}

/// `POST /v1/shutdown`'s answer (202): the daemon is stopping every
/// service; its socket goes away once they are down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShuttingDown {
    /// Always `true`.
    pub shutting_down: bool,
}

/// One message of `GET /v1/watch` (a server-sent event's data): the live
/// picture `tend top` and the dashboard draw.
///
/// # Examples
///
/// ```
/// use tend_wire::{ServiceStatus, Watch};
///
/// let changed = Watch::Changed {
///     services: vec![ServiceStatus::pending("web", "web", None)],
///     removed: Vec::new(),
///     order: None,
/// };
/// let json = serde_json::to_value(&changed).unwrap();
/// assert_eq!(json["kind"], "changed");
/// assert_eq!(json["services"][0]["text"]["state"], "pending");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Watch {
    /// The first message: the daemon and every instance.
    Snapshot {
        /// The daemon.
        daemon: DaemonInfo,
        /// Every instance, in config order.
        services: Vec<ServiceStatus>,
    },
    /// What changed since the last message: instances whose facts changed
    /// (uptime aside, which grows by itself: a client adds the time since
    /// it was sent), in config order, and instances gone (after a reload).
    /// With a new instance, `order` is the whole list's new order.
    Changed {
        /// The changed or new instances.
        services: Vec<ServiceStatus>,
        /// Instances no longer in the config.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed: Vec<String>,
        /// Every instance's name in config order, when it changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<Vec<String>>,
    },
    /// A journal entry, as it is written.
    Entry {
        /// The entry.
        entry: Entry,
    },
}

vocabulary! {
    /// Whether the daemon is up (`GET /healthz`).
    pub enum HealthStatus {
        /// Its tree runs (200).
        Ok => "ok",
        /// It shuts down (503).
        Stopping => "stopping",
    }
}

/// `GET /healthz`: whether the daemon is up and its tree running (for
/// kubelet's liveness probe; served without a token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` (200), or `stopping` (503) once the daemon shuts down.
    pub status: HealthStatus,
}

/// `GET /readyz`: whether every instance of a service with a readiness
/// condition (`ready`, or a `readiness` probe) is ready (200) or not
/// (503). Counts only on TCP: served there without a token, it names
/// nothing; on the control socket it names the instances not ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// Whether all of them are ready.
    pub ready: bool,
    /// Instances with a readiness condition.
    pub checked: usize,
    /// Those of them not ready (not running and ready, nor completed).
    pub not_ready: usize,
    /// Which they are, in config order: on the control socket only
    /// (absent on TCP, and from an older daemon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_ready_names: Option<Vec<String>>,
}

/// An error, as every 4xx and 5xx carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable machine-readable code.
    pub code: ErrorCode,
    /// A sentence for people.
    pub message: String,
    /// The single problems, when there are several (an invalid config's
    /// errors, one per entry, each with file, line and column).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

vocabulary! {
    /// The kinds of error, each with its HTTP status
    /// ([`status`](ErrorCode::status)).
    pub enum ErrorCode {
        /// No service or instance has that name.
        UnknownService => "unknown service",
        /// Not a signal name or number.
        BadSignal => "bad signal",
        /// The request is malformed (a bad query, body or duration).
        BadRequest => "bad request",
        /// The new config is invalid; nothing changed.
        InvalidConfig => "invalid config",
        /// A TCP request without the right bearer token.
        Unauthorized => "unauthorized",
        /// Not allowed on this listener (over TCP, an upgrade to a binary
        /// of the client's choosing).
        Forbidden => "forbidden",
        /// No such resource.
        NotFound => "not found",
        /// The operation could not be done in the tree's current state.
        Conflict => "conflict",
        /// A command's effect did not hold in time (the message names the
        /// state reached); the command goes on.
        Timeout => "timeout",
        /// Something failed inside the daemon.
        Internal => "internal error",
    }
}

impl ErrorCode {
    /// The HTTP status it is sent with.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::UnknownService | ErrorCode::NotFound => 404,
            ErrorCode::BadSignal | ErrorCode::BadRequest | ErrorCode::InvalidConfig => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::Conflict => 409,
            ErrorCode::Timeout => 504,
            ErrorCode::Internal => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_back_and_its_text_is_only_sent() {
        let mut status = ServiceStatus::pending("web.1", "web", Some("back"));
        let json = serde_json::to_value(&status).unwrap();
        assert!(json.get("waiting_for").is_none(), "left out when empty");
        assert_eq!(json["text"]["last_exit"], serde_json::Value::Null);
        status.waiting_for.push(Waiting {
            service: "db".into(),
            condition: Condition::Completed,
        });
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["text"]["status"], "waiting for db (completed)");
        assert_eq!(
            serde_json::from_value::<ServiceStatus>(json).unwrap(),
            status
        );
    }
}
