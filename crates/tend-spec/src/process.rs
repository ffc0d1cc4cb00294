//! What an OS process child is: its command line, environment, identity,
//! limits, stop signal and log capture. Data only; the `tend-process` crate
//! runs it.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::container::ContainerSpec;
use crate::probe::{OnUnhealthy, ProbeCheck, ProbeSpec};
use crate::Signal;

/// An OS process to supervise.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::{ProcessSpec, Signal};
///
/// let spec: ProcessSpec = serde_json::from_str(r#"{
///     "command": ["postgres", "-D", "data"],
///     "stop": { "signal": "SIGINT", "timeout": "30s" },
///     "rlimits": { "nofile": 4096 }
/// }"#).unwrap();
/// assert_eq!(spec.stop.signal, Signal::Int);
/// assert_eq!(spec.stop.timeout, Duration::from_secs(30));
/// assert_eq!(spec.success_codes, [0]);
/// assert_eq!(spec.env.inherit, None); // whole for its own user, not for another
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSpec {
    /// The program and its arguments, run without a shell; with `shell`,
    /// a single element holding a shell command line.
    pub command: Vec<String>,
    /// Run `command[0]` with `/bin/sh -c`.
    #[serde(default)]
    pub shell: bool,
    /// The environment.
    #[serde(default)]
    pub env: EnvSpec,
    /// Working directory (default: the supervisor's).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// File mode creation mask, e.g. `0o022`.
    #[serde(default)]
    pub umask: Option<u32>,
    /// Run as this user (name or numeric id); needs root.
    #[serde(default)]
    pub user: Option<String>,
    /// Run with this primary group (default: the user's).
    #[serde(default)]
    pub group: Option<String>,
    /// Supplementary groups (default: the user's, when a user is given).
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    /// Resource limits set with `setrlimit` before the program starts.
    #[serde(default)]
    pub rlimits: Rlimits,
    /// How it is asked to stop.
    #[serde(default)]
    pub stop: StopSpec,
    /// Exit codes that count as a normal exit (default `[0]`).
    #[serde(default = "default_success_codes")]
    pub success_codes: Vec<i32>,
    /// Memory, CPU and process-count limits, enforced through a cgroup
    /// where one can be made.
    #[serde(default)]
    pub limits: ResourceLimits,
    /// Where standard output and standard error go.
    #[serde(default)]
    pub logs: LogSpec,
    /// A file read as standard input (default `/dev/null`): how a hook
    /// gets the event it runs for.
    #[serde(default)]
    pub stdin: Option<PathBuf>,
    /// How the process says it is ready (default: as soon as it runs).
    #[serde(default)]
    pub ready: ReadySpec,
    /// How often the process must send `WATCHDOG=1` on its notify socket
    /// (it gets `WATCHDOG_USEC`); missing it stops the process as hung.
    #[serde(default, with = "humantime_serde")]
    pub watchdog: Option<Duration>,
    /// Checked from the start until it passes; until then readiness and
    /// liveness are not checked, and its failure stops the process.
    ///
    /// The probes, the ready check and the container are boxed: few
    /// services have them, and a daemon holds a spec per service (1,208
    /// bytes inline, 632 boxed; issue 26).
    #[serde(default)]
    pub startup: Option<Box<ProbeSpec>>,
    /// Checked all along: it makes the process ready and not ready again.
    #[serde(default)]
    pub readiness: Option<Box<ProbeSpec>>,
    /// Checked all along: its failure stops the process (or isolates it).
    #[serde(default)]
    pub liveness: Option<Box<ProbeSpec>>,
    /// What a failed liveness probe or a missed watchdog does.
    #[serde(default)]
    pub on_unhealthy: OnUnhealthy,
    /// Run in this container instead of on the host: `command` (empty: the
    /// image's own), `env`, `cwd`, `user`, `rlimits` and `limits` then apply
    /// inside it, and exec probes run in it.
    #[serde(default)]
    pub container: Option<Box<ContainerSpec>>,
}

/// How a process says it is ready.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::ReadySpec;
///
/// let ready: ReadySpec =
///     serde_json::from_str(r#"{ "log": "listening on", "timeout": "30s" }"#).unwrap();
/// assert!(ready.is_signalled());
/// assert_eq!(ready.timeout, Duration::from_secs(30));
/// // By default a process is ready once it runs.
/// assert!(!ReadySpec::default().is_signalled());
/// assert!(ReadySpec::notify(Duration::from_secs(10)).notify);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadySpec {
    /// Ready on `READY=1` from the sd_notify protocol: the process gets a
    /// `NOTIFY_SOCKET` (default: no, ready once it runs).
    #[serde(default)]
    pub notify: bool,
    /// Ready once a line of its output (stdout or stderr) matches this
    /// regular expression.
    #[serde(default)]
    pub log: Option<String>,
    /// Ready once this file exists (relative to the working directory).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Ready once this check passes (tried every 250 ms).
    #[serde(default)]
    pub probe: Option<Box<ProbeCheck>>,
    /// How long it may take to become ready; later is a start failure
    /// (default 60 s).
    #[serde(default = "default_ready_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_ready_timeout() -> Duration {
    Duration::from_secs(60)
}

impl Default for ReadySpec {
    fn default() -> Self {
        ReadySpec {
            notify: false,
            log: None,
            file: None,
            probe: None,
            timeout: default_ready_timeout(),
        }
    }
}

impl ReadySpec {
    /// Readiness from `READY=1` on a notify socket, within `timeout`.
    #[must_use]
    pub fn notify(timeout: Duration) -> Self {
        ReadySpec {
            notify: true,
            timeout,
            ..ReadySpec::default()
        }
    }

    /// Whether the process says when it is ready (any signal besides
    /// running): then its start waits for that signal.
    #[must_use]
    pub fn is_signalled(&self) -> bool {
        self.notify || self.log.is_some() || self.file.is_some() || self.probe.is_some()
    }
}

fn default_success_codes() -> Vec<i32> {
    vec![0]
}

impl ProcessSpec {
    /// A process running `program` with `args`, everything else default.
    #[must_use]
    pub fn new<I, S>(program: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut command = vec![program.into()];
        command.extend(args.into_iter().map(Into::into));
        ProcessSpec {
            command,
            shell: false,
            env: EnvSpec::default(),
            cwd: None,
            umask: None,
            user: None,
            group: None,
            groups: None,
            rlimits: Rlimits::default(),
            stop: StopSpec::default(),
            success_codes: default_success_codes(),
            limits: ResourceLimits::default(),
            logs: LogSpec::default(),
            stdin: None,
            ready: ReadySpec::default(),
            watchdog: None,
            startup: None,
            readiness: None,
            liveness: None,
            on_unhealthy: OnUnhealthy::Restart,
            container: None,
        }
    }

    /// What runs it: a container runtime, if it has a container.
    #[must_use]
    pub fn backend(&self) -> crate::Backend {
        if self.container.is_some() {
            crate::Backend::Container
        } else {
            crate::Backend::Process
        }
    }

    /// A process running `line` with `/bin/sh -c`.
    #[must_use]
    pub fn shell(line: impl Into<String>) -> Self {
        let mut spec = ProcessSpec::new(line, Vec::<String>::new());
        spec.shell = true;
        spec
    }
}

/// The environment of a process.
///
/// Built by [`EnvSpec::build`]: the supervisor's whole environment, or
/// only the variables `pass` names; then `HOME`, `USER`, `LOGNAME` and
/// `SHELL` of the account it runs as (when it has a `user`); less
/// `remove`; with `set`. By default the whole environment goes only to a
/// process running as the supervisor's own user: one running as another
/// user gets only `pass` (as systemd gives a service a clean environment
/// and passes only what `PassEnvironment=` names), so a root supervisor's
/// secrets do not reach a less trusted account.
///
/// # Examples
///
/// ```
/// use tend_spec::EnvSpec;
///
/// let env: EnvSpec = serde_json::from_str(
///     r#"{ "inherit": false, "set": { "RUST_LOG": "info" } }"#,
/// ).unwrap();
/// assert_eq!(env.inherit, Some(false));
/// assert_eq!(env.set["RUST_LOG"], "info");
/// assert!(EnvSpec::default().inherits(false));
/// assert!(!EnvSpec::default().inherits(true));
/// assert_eq!(EnvSpec::default().pass, ["PATH", "LANG", "LANGUAGE", "LC_ALL", "TZ"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSpec {
    /// Start from the supervisor's whole environment (`true`), or from
    /// only the variables `pass` names (`false`); unset (the default):
    /// whole for a process running as the supervisor's own user, only
    /// `pass` for one running as another user.
    #[serde(default)]
    pub inherit: Option<bool>,
    /// The supervisor's variables passed when its environment is not
    /// inherited whole (default [`EnvSpec::PASS`]).
    #[serde(default = "default_pass")]
    pub pass: Vec<String>,
    /// Variables to set (after inheriting).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Variables to remove from the inherited environment.
    #[serde(default)]
    pub remove: Vec<String>,
}

fn default_pass() -> Vec<String> {
    EnvSpec::PASS.iter().map(|&name| name.to_owned()).collect()
}

impl Default for EnvSpec {
    fn default() -> Self {
        EnvSpec {
            inherit: None,
            pass: default_pass(),
            set: BTreeMap::new(),
            remove: Vec::new(),
        }
    }
}

/// The account a process runs as, from its `passwd` entry: what its
/// `HOME`, `USER`, `LOGNAME` and `SHELL` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user's name (`USER`, `LOGNAME`).
    pub name: String,
    /// Its home directory (`HOME`).
    pub home: PathBuf,
    /// Its login shell (`SHELL`).
    pub shell: PathBuf,
}

impl EnvSpec {
    /// What is passed by default when the environment is not inherited
    /// whole: where programs are, the language and the time zone. Facts of
    /// the machine, not secrets; systemd gives a clean environment `PATH`
    /// and `LANG` too.
    pub const PASS: &'static [&'static str] = &["PATH", "LANG", "LANGUAGE", "LC_ALL", "TZ"];

    /// Whether the supervisor's whole environment is passed to a process
    /// running as another user than the supervisor's (`other_user`) or as
    /// the same.
    #[must_use]
    pub fn inherits(&self, other_user: bool) -> bool {
        self.inherit.unwrap_or(!other_user)
    }

    /// The environment of a process: `from` (the supervisor's) whole or
    /// only `pass`, then `account`'s `HOME`, `USER`, `LOGNAME` and `SHELL`,
    /// less `remove`, with `set`. `other_user`: it runs as another user
    /// than the supervisor's.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_spec::{Account, EnvSpec};
    ///
    /// let daemon = [("PATH", "/bin"), ("DB_PASSWORD", "secret"), ("HOME", "/root")]
    ///     .map(|(k, v)| (k.into(), v.into()));
    /// let nobody = Account {
    ///     name: "nobody".into(),
    ///     home: "/nonexistent".into(),
    ///     shell: "/usr/sbin/nologin".into(),
    /// };
    /// let env = EnvSpec::default().build(daemon.clone(), Some(&nobody), true);
    /// let names: Vec<_> = env.iter().map(|(k, _)| k.to_str().unwrap()).collect();
    /// assert_eq!(names, ["PATH", "HOME", "USER", "LOGNAME", "SHELL"]);
    /// // Its own user's process gets everything.
    /// assert_eq!(EnvSpec::default().build(daemon, None, false).len(), 3);
    /// ```
    #[must_use]
    pub fn build(
        &self,
        from: impl IntoIterator<Item = (OsString, OsString)>,
        account: Option<&Account>,
        other_user: bool,
    ) -> Vec<(OsString, OsString)> {
        let whole = self.inherits(other_user);
        let mut env: Vec<(OsString, OsString)> = from
            .into_iter()
            .filter(|(k, _)| whole || self.pass.iter().any(|p| OsStr::new(p) == k))
            .collect();
        let put = |env: &mut Vec<(OsString, OsString)>, key: OsString, value: OsString| {
            env.retain(|(k, _)| *k != key);
            env.push((key, value));
        };
        if let Some(account) = account {
            put(&mut env, "HOME".into(), account.home.clone().into());
            put(&mut env, "USER".into(), account.name.clone().into());
            put(&mut env, "LOGNAME".into(), account.name.clone().into());
            put(&mut env, "SHELL".into(), account.shell.clone().into());
        }
        env.retain(|(k, _)| !self.remove.iter().any(|r| OsStr::new(r) == k));
        for (k, v) in &self.set {
            put(&mut env, k.into(), v.into());
        }
        env
    }
}

/// Limits set with `setrlimit` (soft = hard = the value). Unset ones are
/// inherited. Raising a hard limit needs `CAP_SYS_RESOURCE`.
///
/// # Examples
///
/// ```
/// use tend_spec::Rlimits;
///
/// let limits: Rlimits = serde_json::from_str(r#"{ "nofile": 4096, "core": 0 }"#).unwrap();
/// assert_eq!((limits.nofile, limits.core), (Some(4096), Some(0)));
/// assert_eq!(limits.nproc, None); // inherited
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rlimits {
    /// Open files (`RLIMIT_NOFILE`).
    #[serde(default)]
    pub nofile: Option<u64>,
    /// Processes of the user (`RLIMIT_NPROC`).
    #[serde(default)]
    pub nproc: Option<u64>,
    /// Core file size in bytes (`RLIMIT_CORE`).
    #[serde(default)]
    pub core: Option<u64>,
    /// Address space in bytes (`RLIMIT_AS`).
    #[serde(default, rename = "as")]
    pub address_space: Option<u64>,
    /// Stack size in bytes (`RLIMIT_STACK`).
    #[serde(default)]
    pub stack: Option<u64>,
    /// Locked memory in bytes (`RLIMIT_MEMLOCK`).
    #[serde(default)]
    pub memlock: Option<u64>,
    /// CPU seconds (`RLIMIT_CPU`).
    #[serde(default)]
    pub cpu: Option<u64>,
    /// File size in bytes (`RLIMIT_FSIZE`).
    #[serde(default)]
    pub fsize: Option<u64>,
}

/// How a process is asked to stop: a signal to its whole process group (and
/// cgroup), then `SIGKILL` after the timeout.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::{Signal, StopSpec};
///
/// let stop: StopSpec = serde_json::from_str(r#"{ "signal": "SIGINT" }"#).unwrap();
/// assert_eq!(stop.signal, Signal::Int);
/// assert_eq!(stop.timeout, Duration::from_secs(10));
/// assert_eq!(StopSpec::default().signal, Signal::Term);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopSpec {
    /// The signal (default `SIGTERM`).
    #[serde(default = "default_stop_signal")]
    pub signal: Signal,
    /// How long to wait before `SIGKILL` (default 10 s).
    #[serde(default = "default_stop_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_stop_signal() -> Signal {
    Signal::Term
}

fn default_stop_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for StopSpec {
    fn default() -> Self {
        StopSpec {
            signal: default_stop_signal(),
            timeout: default_stop_timeout(),
        }
    }
}

/// Memory, CPU and process-count limits for a process and everything it
/// starts, enforced by the kernel through a cgroup.
///
/// # Examples
///
/// ```
/// use tend_spec::ResourceLimits;
///
/// let limits: ResourceLimits =
///     serde_json::from_str(r#"{ "memory": 536870912, "cpu": 0.5 }"#).unwrap();
/// assert_eq!(limits.memory, Some(512 << 20));
/// assert_eq!(limits.cpu, Some(0.5));
/// assert_eq!(limits.pids, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceLimits {
    /// Memory in bytes (`memory.max`, or v1 `memory.limit_in_bytes`).
    #[serde(default)]
    pub memory: Option<u64>,
    /// CPU in cores, e.g. `0.5` (`cpu.max`, or v1 CFS quota).
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Processes and threads (`pids.max`).
    #[serde(default)]
    pub pids: Option<u64>,
}

/// Where a process's standard output and error go.
///
/// # Examples
///
/// ```
/// use tend_spec::LogSpec;
///
/// let logs: LogSpec =
///     serde_json::from_str(r#"{ "file": "web.log", "keep": 10, "timestamps": true }"#).unwrap();
/// assert_eq!(logs.keep, 10);
/// assert_eq!(logs.max_size, LogSpec::default().max_size);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    /// A file both streams are appended to, line by line; none: discarded
    /// unless a live tee listens.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Rotate when the file would grow past this many bytes (0: never).
    #[serde(default = "default_max_size")]
    pub max_size: u64,
    /// Rotated files kept (`file.1` … `file.N`).
    #[serde(default = "default_keep")]
    pub keep: u32,
    /// Prefix each line with an RFC 3339 UTC timestamp.
    #[serde(default)]
    pub timestamps: bool,
}

fn default_max_size() -> u64 {
    64 * 1024 * 1024
}

fn default_keep() -> u32 {
    5
}

impl Default for LogSpec {
    fn default() -> Self {
        LogSpec {
            file: None,
            max_size: default_max_size(),
            keep: default_keep(),
            timestamps: false,
        }
    }
}

#[cfg(test)]
mod size {
    use super::ProcessSpec;

    /// A daemon holds one spec per service: its rare parts stay out of
    /// line (the probes and the container made it 1,208 bytes).
    #[test]
    fn a_process_spec_stays_small() {
        let size = std::mem::size_of::<ProcessSpec>();
        assert!(size <= 640, "ProcessSpec is {size} bytes");
    }
}
