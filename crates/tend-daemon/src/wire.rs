//! The API's JSON shapes: what the daemon sends and the CLI reads. One set
//! of types for both sides, so neither spells a field the other does not.

use serde::{Deserialize, Serialize};
use tend_engine::{ChildState, Condition};
pub use tend_journal::{Entry, ExitInfo, Record};

/// A service instance's state, in snake_case on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for its first start.
    Pending,
    /// Being started.
    Starting,
    /// Running.
    Running,
    /// Being stopped.
    Stopping,
    /// Waiting out a backoff delay before a restart.
    BackingOff,
    /// Its restart budget ran out; waiting a long delay.
    CrashLoopBackOff,
    /// Being restarted.
    Restarting,
    /// Ended normally and not restarted.
    Completed,
    /// Stopped on request.
    Shutdown,
    /// Given up on until restarted by hand.
    Failed,
    /// Kept for inspection, not restarted.
    Isolated,
}

impl State {
    /// Every state, in lifecycle order (the order of the count line).
    pub const ALL: [State; 11] = [
        State::Pending,
        State::Starting,
        State::Running,
        State::Stopping,
        State::BackingOff,
        State::CrashLoopBackOff,
        State::Restarting,
        State::Completed,
        State::Shutdown,
        State::Failed,
        State::Isolated,
    ];

    /// Its name on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Starting => "starting",
            State::Running => "running",
            State::Stopping => "stopping",
            State::BackingOff => "backing_off",
            State::CrashLoopBackOff => "crash_loop_back_off",
            State::Restarting => "restarting",
            State::Completed => "completed",
            State::Shutdown => "shutdown",
            State::Failed => "failed",
            State::Isolated => "isolated",
        }
    }
}

impl From<ChildState> for State {
    fn from(state: ChildState) -> Self {
        match state {
            ChildState::Pending => State::Pending,
            ChildState::Starting => State::Starting,
            ChildState::Running => State::Running,
            ChildState::Stopping => State::Stopping,
            ChildState::BackingOff => State::BackingOff,
            ChildState::CrashLoopBackOff => State::CrashLoopBackOff,
            ChildState::Restarting => State::Restarting,
            ChildState::Completed => State::Completed,
            ChildState::Shutdown => State::Shutdown,
            ChildState::Failed(_) => State::Failed,
            ChildState::Isolated => State::Isolated,
            // A state this version does not know yet.
            _ => State::Pending,
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One service instance, as `GET /v1/services` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The instance: the service's name, or `name.N` for a replica.
    pub name: String,
    /// The service (the `[services.NAME]` table) it is an instance of.
    pub service: String,
    /// Its group, if any.
    pub group: Option<String>,
    /// Its state.
    pub state: State,
    /// Why it failed, when `failed` (`crashed`, `circuit-breaker-open`, …).
    pub failed_because: Option<String>,
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
    pub last_exit: Option<ExitInfo>,
    /// Resident memory of its cgroup or process, in bytes, when known.
    pub memory_bytes: Option<u64>,
    /// CPU time used by the current incarnation, in seconds, when known.
    pub cpu_s: Option<f64>,
    /// Whether the current incarnation is ready (for a `ready.notify`
    /// service: it sent `READY=1`).
    pub ready: bool,
    /// What the service says it is doing (sd_notify's `STATUS=`).
    pub status_text: Option<String>,
    /// While it waits to start: the dependencies whose condition does not
    /// hold yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting_for: Vec<Waiting>,
}

impl ServiceStatus {
    /// An instance that has not started yet: pending, no process, nothing
    /// counted.
    ///
    /// ```
    /// use tend_daemon::wire::{ServiceStatus, State};
    ///
    /// let web = ServiceStatus::pending("web.2", "web", None);
    /// assert_eq!((web.state, web.pid, web.restarts), (State::Pending, None, 0));
    /// ```
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
            status_text: None,
            waiting_for: Vec::new(),
        }
    }
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

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.service, self.condition)
    }
}

/// A node of `GET /v1/ps`: a supervisor or a service instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// Its id under its supervisor.
    pub name: String,
    /// `supervisor` or `service`.
    pub kind: String,
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

/// One message of `GET /v1/watch` (a server-sent event's data): the live
/// picture `tend top` and the dashboard draw.
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

/// `GET /healthz`: whether the daemon is up and its tree running (for
/// kubelet's liveness probe; served without a token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` (200), or `stopping` (503) once the daemon shuts down.
    pub status: String,
}

/// `GET /readyz`: whether every instance of a service with a readiness
/// condition (`ready`, or a `readiness` probe) is ready (200) or not
/// (503). Counts only: it is served without a token, so it names nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// Whether all of them are ready.
    pub ready: bool,
    /// Instances with a readiness condition.
    pub checked: usize,
    /// Those of them not ready (not running and ready, nor completed).
    pub not_ready: usize,
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

/// The kinds of error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No service or instance has that name.
    UnknownService,
    /// Not a signal name or number.
    BadSignal,
    /// The request is malformed (a bad query, body or duration).
    BadRequest,
    /// The new config is invalid; nothing changed.
    InvalidConfig,
    /// A TCP request without the right bearer token.
    Unauthorized,
    /// Not allowed on this listener (over TCP, an upgrade to a binary of
    /// the client's choosing).
    Forbidden,
    /// No such resource.
    NotFound,
    /// The operation could not be done in the tree's current state.
    Conflict,
    /// Something failed inside the daemon.
    Internal,
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
            ErrorCode::Internal => 500,
        }
    }
}
