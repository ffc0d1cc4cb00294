//! From the text of a `tend.toml` to a [`Config`]: every section read, every
//! default applied, every name cross-checked, every problem recorded.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tend_spec::{
    dependency_order, Backend, Backoff, ContainerSource, ContainerSpec, CrashPolicy, HttpTarget,
    Intensity, NotAvailable, OnExhausted, ProbeCheck, ProbeSpec, ProbeTiming, ProcessSpec,
    ResourceLimits, RestartBudget, Signal, SpecError, StartLimit, StopSpec, Strategy,
};
use toml::de::{DeTable, DeValue};

use crate::defaults;
use crate::error::Diagnostics;
use crate::model::{
    ApiSettings, Config, Dependency, Group, HookEvent, Hooks, Places, Service, SupervisorSettings,
};
use crate::read::{self, as_table, Table};

/// The keys of each table (also the JSON Schema's properties: a test keeps
/// the two the same).
pub(crate) mod keys {
    /// The top level.
    pub const TOP: &[&str] = &["supervisor", "services", "groups", "api"];
    /// `[supervisor]`.
    pub const SUPERVISOR: &[&str] = &["strategy", "intensity", "shutdown_timeout"];
    /// `intensity = { … }`.
    pub const INTENSITY: &[&str] = &["max_restarts", "period"];
    /// `[services.NAME]`.
    pub const SERVICE: &[&str] = &[
        "command",
        "shell",
        "env",
        "clear_env",
        "inherit_env",
        "cwd",
        "user",
        "umask",
        "restart",
        "backoff",
        "budget",
        "start_limit",
        "stop",
        "success_codes",
        "replicas",
        "logs",
        "limits",
        "on_crash",
        "hooks",
        "ready",
        "watchdog",
        "startup",
        "readiness",
        "liveness",
        "on_unhealthy",
        "depends_on",
        "binds_to",
        "container",
        "wasm",
        "remote",
    ];
    /// `container = { … }`: a container run by podman or docker.
    pub const CONTAINER: &[&str] = &[
        "image",
        "rootfs",
        "runtime",
        "network",
        "volumes",
        "publish",
        "args",
        "on_isolate",
    ];
    /// `wasm = { … }`: a WebAssembly module on a WASI runtime.
    pub const WASM: &[&str] = &["module"];
    /// `remote = { … }`: a workload on another node.
    pub const REMOTE: &[&str] = &["node"];
    /// `ready = { … }`: one signal (or none: ready once running), and the
    /// timeout.
    pub const READY: &[&str] = &["notify", "log", "file", "tcp", "http", "exec", "timeout"];
    /// `startup`, `readiness`, `liveness = { … }`: one check and its timing.
    pub const PROBE: &[&str] = &[
        "exec",
        "http",
        "tcp",
        "period",
        "timeout",
        "initial_delay",
        "failure_threshold",
        "success_threshold",
    ];
    /// What a probe checks (one of these keys).
    pub const PROBE_CHECKS: &[&str] = &["exec", "http", "tcp"];
    /// `backoff = { … }`.
    pub const BACKOFF: &[&str] = &[
        "initial",
        "max",
        "multiplier",
        "jitter",
        "reset_after",
        "clean_exit_delay",
    ];
    /// `budget = { … }`.
    pub const BUDGET: &[&str] = &["max_restarts", "period", "on_exhausted", "delay"];
    /// `start_limit = { … }`.
    pub const START_LIMIT: &[&str] = &["burst", "interval", "settle"];
    /// `stop = { … }`.
    pub const STOP: &[&str] = &["signal", "timeout"];
    /// `logs = { … }`.
    pub const LOGS: &[&str] = &["max_size", "keep", "timestamps"];
    /// `limits = { … }`.
    pub const LIMITS: &[&str] = &["memory", "cpu", "pids", "nofile"];
    /// `[groups.NAME]`.
    pub const GROUP: &[&str] = &["strategy", "intensity", "services"];
    /// `[api]`.
    pub const API: &[&str] = &["listen", "token"];
}

/// The most open files Linux lets any process have (`sysctl_nr_open_max`
/// on 64 bits); a machine's own `fs.nr_open` is checked by
/// [`crate::load_here`].
pub(crate) const NOFILE_MAX: u32 = 2_147_483_584;

const STRATEGIES: &[&str] = &["one_for_one", "one_for_all", "rest_for_one"];
const RESTARTS: &[&str] = &[
    "always",
    "on-failure",
    "never",
    "permanent",
    "transient",
    "temporary",
];
const CRASH_POLICIES: &[&str] = &["restart", "shutdown", "isolate"];
const ON_EXHAUSTED: &[&str] = &["escalate", "stop", "isolate", "crash-loop-backoff"];
const ON_UNHEALTHY: &[&str] = &["restart", "isolate"];
const CONDITIONS: &[&str] = &["started", "ready", "completed"];
const RUNTIMES: &[&str] = &["podman", "docker"];
const KEEP_CONTAINER: &[&str] = &["running", "stopped"];

/// Reads a whole document; `None` when anything was wrong (and recorded).
pub(crate) fn parse(file: &Path, text: &str, d: &mut Diagnostics<'_>) -> Option<Config> {
    let (document, syntax) = DeTable::parse_recoverable(text);
    for error in &syntax {
        let offset = error.span().map_or(0, |s| s.start);
        d.at(
            offset,
            format!("invalid TOML: {}", error.message().trim()),
            None,
        );
    }
    if !syntax.is_empty() {
        // What follows a syntax error is a guess; say only what is sure.
        return None;
    }
    let top = Table::new(document.get_ref(), 0, "the top level".to_owned());
    top.deny_unknown(keys::TOP, d);
    let base = file.parent().unwrap_or(Path::new("."));

    let supervisor = match top.table("supervisor", d) {
        Some(t) => supervisor(&t, d),
        None => defaults::supervisor(),
    };
    let mut services = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    match top.get("services") {
        Some(value) => {
            if let Some(table) = as_table(value, "[services]".to_owned(), d) {
                for (name, span, value) in table.entries() {
                    check_name(name, span.start, "service", &mut names, d);
                    if let Some(t) = as_table(value, format!("[services.{name}]"), d) {
                        if let Some(s) = service(name, &t, base, d) {
                            services.push(s);
                        }
                    }
                }
            }
        }
        None => d.at(
            text.len(),
            "no services".to_owned(),
            Some("at least one [services.NAME] table with a `command`".to_owned()),
        ),
    }
    let mut groups = Vec::new();
    if let Some(value) = top.get("groups") {
        if let Some(table) = as_table(value, "[groups]".to_owned(), d) {
            for (name, span, value) in table.entries() {
                check_name(name, span.start, "group", &mut names, d);
                if let Some(t) = as_table(value, format!("[groups.{name}]"), d) {
                    if let Some(g) = group(name, &t, &mut services, d) {
                        groups.push(g);
                    }
                }
            }
        }
    }
    let api = top.table("api", d).map(|t| api(&t, d)).unwrap_or_default();
    check_dependencies(&services, &groups, d);

    d.is_empty().then(|| Config {
        file: file.to_path_buf(),
        supervisor,
        services,
        groups,
        api,
    })
}

/// Service and group names: unique, and safe as a file name and in a URL.
fn check_name(
    name: &str,
    at: usize,
    what: &str,
    seen: &mut HashMap<String, usize>,
    d: &mut Diagnostics<'_>,
) {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        d.at(
            at,
            format!("invalid {what} name {name:?}"),
            Some("letters, digits, `-` and `_`, starting with a letter or digit".to_owned()),
        );
    }
    if seen.insert(name.to_owned(), at).is_some() {
        d.at(
            at,
            format!("duplicate name {name:?}: a service or group is already called that"),
            Some("a name used by one service or group only".to_owned()),
        );
    }
}

fn supervisor(t: &Table<'_, '_>, d: &mut Diagnostics<'_>) -> SupervisorSettings {
    t.deny_unknown(keys::SUPERVISOR, d);
    let fallback = defaults::supervisor();
    SupervisorSettings {
        strategy: t
            .read("strategy", d, read::choice(STRATEGIES))
            .unwrap_or(fallback.strategy),
        intensity: t
            .table("intensity", d)
            .map_or(fallback.intensity, |t| intensity(&t, d)),
        shutdown_timeout: t
            .read("shutdown_timeout", d, read::duration)
            .unwrap_or(fallback.shutdown_timeout),
    }
}

fn intensity(t: &Table<'_, '_>, d: &mut Diagnostics<'_>) -> Intensity {
    t.deny_unknown(keys::INTENSITY, d);
    let fallback = defaults::intensity();
    let max_restarts = t
        .read("max_restarts", d, read::int_in(0, u32::MAX.into()))
        .unwrap_or(fallback.max_restarts);
    let period = t
        .read("period", d, read::duration)
        .unwrap_or(fallback.period);
    if period.is_zero() {
        if let Some(value) = t.get("period") {
            d.at(
                value.span().start,
                format!("`period` in {} is zero", t.name),
                Some("a positive duration".to_owned()),
            );
        }
    }
    Intensity::new(max_restarts, period)
}

/// `container = { image | rootfs, … }`: the container a service runs in; a
/// relative `rootfs` is resolved against the config's directory. Whether
/// its runtime works here is asked later ([`crate::load_here`]).
fn container(t: &Table<'_, '_>, base: &Path, d: &mut Diagnostics<'_>) -> Option<ContainerSpec> {
    t.deny_unknown(keys::CONTAINER, d);
    let image = t.read("image", d, read::string);
    let rootfs = t.read("rootfs", d, read::string);
    let source = match (image, rootfs) {
        (Some(image), None) if !image.trim().is_empty() => ContainerSource::Image(image),
        (None, Some(dir)) if !dir.trim().is_empty() => ContainerSource::Rootfs(base.join(dir)),
        (Some(_), Some(_)) => {
            d.at(
                t.get("rootfs").map_or(t.at(), |v| v.span().start),
                format!("both `image` and `rootfs` in {}", t.name),
                Some("one of them: an image to run, or a directory as its root".to_owned()),
            );
            return None;
        }
        (None, None) if t.get("image").is_some() || t.get("rootfs").is_some() => return None,
        _ => {
            d.at(
                t.at(),
                format!("no `image` or `rootfs` in {}", t.name),
                Some(r#"`image = "docker.io/library/redis:7"` or `rootfs = "dir"`"#.to_owned()),
            );
            return None;
        }
    };
    let mut spec = ContainerSpec::new(source);
    spec.runtime = t.read("runtime", d, read::choice(RUNTIMES));
    spec.network = t.read("network", d, read::string);
    let strings = read::array_of(read::string);
    spec.volumes = t.read("volumes", d, &strings).unwrap_or_default();
    spec.publish = t.read("publish", d, &strings).unwrap_or_default();
    spec.args = t.read("args", d, &strings).unwrap_or_default();
    spec.on_isolate = t
        .read("on_isolate", d, read::choice(KEEP_CONTAINER))
        .unwrap_or_default();
    Some(spec)
}

/// `wasm = { module }` and `remote = { node }`: read and checked like
/// any table, then refused with "backend not available" (at `tend check`,
/// not at 3 a.m.) until those backends exist. Returns the key, if either
/// was given.
fn other_backend(t: &Table<'_, '_>, d: &mut Diagnostics<'_>) -> Option<&'static str> {
    let mut given = None;
    if let Some(wasm) = t.table("wasm", d) {
        given = Some("wasm");
        wasm.deny_unknown(keys::WASM, d);
        match wasm.read("module", d, read::string) {
            Some(module) if module.trim().is_empty() => d.at(
                wasm.get("module").map_or(wasm.at(), |v| v.span().start),
                format!("an empty `module` in {}", wasm.name),
                Some(r#"the module's path, e.g. `module = "app.wasm"`"#.to_owned()),
            ),
            Some(_) => d.at(
                wasm.at(),
                NotAvailable::new(
                    Backend::Wasm,
                    "this build of tend has no WASI runtime (it is a later backend)",
                )
                .to_string(),
                Some(r#"a process for now, e.g. `command = ["wasmtime", "app.wasm"]`"#.to_owned()),
            ),
            None if wasm.get("module").is_none() => d.at(
                wasm.at(),
                format!("missing `module` in {}", wasm.name),
                Some(r#"`module = "app.wasm"`"#.to_owned()),
            ),
            None => {}
        }
    }
    if let Some(remote) = t.table("remote", d) {
        given = Some("remote");
        remote.deny_unknown(keys::REMOTE, d);
        let at = remote.get("node").map_or(remote.at(), |v| v.span().start);
        match remote.read("node", d, read::string) {
            Some(node) if !is_host_port(&node) => d.at(
                at,
                format!("{node:?} is not a node address in {}", remote.name),
                Some(r#"host:port, e.g. `node = "10.0.0.7:7070"`"#.to_owned()),
            ),
            Some(_) => d.at(
                remote.at(),
                NotAvailable::new(
                    Backend::Remote,
                    "this build of tend cannot run services on other nodes (it is a later backend)",
                )
                .to_string(),
                Some(
                    "a process here (`command` or `shell`); to run it on that node, run tend there"
                        .to_owned(),
                ),
            ),
            None if remote.get("node").is_none() => d.at(
                remote.at(),
                format!("missing `node` in {}", remote.name),
                Some(r#"`node = "host:port"`"#.to_owned()),
            ),
            None => {}
        }
    }
    given
}

/// `host:port`, with a host and a port number (IPv6 in brackets).
fn is_host_port(node: &str) -> bool {
    node.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && !host.contains(char::is_whitespace)
            && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')))
            && port.parse::<u16>().is_ok_and(|p| p > 0)
    })
}

fn service(name: &str, t: &Table<'_, '_>, base: &Path, d: &mut Diagnostics<'_>) -> Option<Service> {
    t.deny_unknown(keys::SERVICE, d);
    let boxed = t.table("container", d);
    let container = boxed.as_ref().and_then(|c| container(c, base, d));
    let elsewhere = other_backend(t, d);
    let command = t.read("command", d, read::argv);
    let shell = t.read("shell", d, read::string);
    if let (Some(key), true) = (elsewhere, boxed.is_some()) {
        d.at(
            t.get(key).map_or(t.at(), |v| v.span().start),
            format!("both `{key}` and `container` in {}", t.name),
            Some("one backend per service".to_owned()),
        );
        return None;
    }
    if let (Some(key), true) = (elsewhere, command.is_some() || shell.is_some()) {
        d.at(
            t.get(key).map_or(t.at(), |v| v.span().start),
            format!(
                "both `{key}` and a process (`command` or `shell`) in {}",
                t.name
            ),
            Some("one backend per service".to_owned()),
        );
        return None;
    }
    let mut process = match (command, shell) {
        (Some(argv), None) => ProcessSpec::new(argv[0].clone(), argv[1..].iter().cloned()),
        (None, Some(line)) => ProcessSpec::shell(line),
        (Some(_), Some(_)) => {
            d.at(
                t.get("shell").map_or(t.at(), |v| v.span().start),
                format!("both `command` and `shell` in {}", t.name),
                Some("one of them: `command` runs an argv, `shell` runs sh -c".to_owned()),
            );
            return None;
        }
        (None, None) => {
            // Neither given (or given wrong, and said so): what runs it is
            // an image's own command, or another backend; a directory has
            // none.
            let given = t.get("command").is_some() || t.get("shell").is_some();
            let rootfs = matches!(
                &container,
                Some(ContainerSpec {
                    source: ContainerSource::Rootfs(_),
                    ..
                })
            );
            let expected = if rootfs {
                Some("the program to run in the `rootfs` container (a directory has no default command)")
            } else if boxed.is_none() && elsewhere.is_none() {
                Some(r#"`command = ["program", "arg", …]` or `shell = "a command line"`"#)
            } else {
                None
            };
            if let (false, Some(expected)) = (given, expected) {
                d.at(
                    t.at(),
                    format!("missing `command` in {}", t.name),
                    Some(expected.to_owned()),
                );
            }
            ProcessSpec::new(String::new(), Vec::<String>::new())
        }
    };
    if let Some(env) = t.table("env", d) {
        for (key, span, value) in env.entries() {
            let what = format!("`{key}` in {}", env.name);
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                d.at(
                    span.start,
                    format!("invalid variable name {key:?}"),
                    Some("a name without `=`".to_owned()),
                );
            }
            if let Some(v) = read::string(value, &what, d) {
                process.env.set.insert(key.to_owned(), v);
            }
        }
    }
    let clear = t.read("clear_env", d, read::boolean);
    process.env.inherit = clear.map(|clear| !clear);
    if let Some(names) = t.read("inherit_env", d, read::array_of(read::string)) {
        if clear == Some(false) {
            d.at(
                t.get("inherit_env").map_or(t.at(), |v| v.span().start),
                format!(
                    "`inherit_env` with `clear_env = false` in {}: the whole environment is passed",
                    t.name
                ),
                Some("one of them".to_owned()),
            );
        }
        // Naming what is passed means only that is.
        process.env.inherit = Some(false);
        process.env.pass = names;
    }
    process.cwd = t.read("cwd", d, read::string).map(|cwd| {
        if container.is_none() {
            base.join(cwd)
        } else {
            // Inside the container, where only an absolute path means anything.
            if !cwd.starts_with('/') {
                d.at(
                    t.get("cwd").map_or(t.at(), |v| v.span().start),
                    format!("{cwd:?}: a container's `cwd` is inside it, in {}", t.name),
                    Some(r#"an absolute path, e.g. `cwd = "/srv"`"#.to_owned()),
                );
            }
            cwd.into()
        }
    });
    process.user = t.read("user", d, read::string);
    process.umask = t.read("umask", d, read::int_in(0, 0o777));
    if let Some(stop) = t.table("stop", d) {
        process.stop = stop_spec(&stop, d);
    }
    if let Some(codes) = t.read(
        "success_codes",
        d,
        read::array_of(read::int_in::<i32>(0, 255)),
    ) {
        process.success_codes = codes;
    }
    if let Some(logs) = t.table("logs", d) {
        logs.deny_unknown(keys::LOGS, d);
        process.logs.max_size = logs
            .read("max_size", d, read::size)
            .unwrap_or(defaults::LOG_MAX_SIZE);
        process.logs.keep = logs
            .read("keep", d, read::int_in(0, 1000))
            .unwrap_or(defaults::LOG_KEEP);
        process.logs.timestamps = logs.read("timestamps", d, read::boolean).unwrap_or(false);
    } else {
        process.logs.max_size = defaults::LOG_MAX_SIZE;
        process.logs.keep = defaults::LOG_KEEP;
    }
    let mut notify_at = None;
    if let Some(ready) = t.table("ready", d) {
        ready.deny_unknown(keys::READY, d);
        notify_at = ready.get("notify").map(|v| v.span().start);
        process.ready.notify = ready.read("notify", d, read::boolean).unwrap_or(false);
        process.ready.log = ready.read("log", d, pattern);
        process.ready.file = ready.read("file", d, read::string).map(Into::into);
        process.ready.probe = probe_check(&ready, false, d).map(Box::new);
        let signals = ["notify", "log", "file", "tcp", "http", "exec"]
            .into_iter()
            .filter(|k| ready.get(k).is_some())
            .count();
        if signals > 1 {
            d.at(
                ready.at(),
                format!("more than one readiness signal in {}", ready.name),
                Some("one of notify, log, file, tcp, http or exec".to_owned()),
            );
        }
        if let Some(timeout) = ready.read("timeout", d, read::duration) {
            process.ready.timeout = timeout;
        }
    }
    process.watchdog = t.read("watchdog", d, read::duration);
    if container.is_some() {
        // The notify socket is the supervisor's, outside the container.
        let notify = notify_at.filter(|_| process.ready.notify);
        for at in [notify, t.get("watchdog").map(|v| v.span().start)]
            .into_iter()
            .flatten()
        {
            d.at(
                at,
                format!(
                    "sd_notify (`ready.notify`, `watchdog`) cannot reach into a container, in {}",
                    t.name
                ),
                Some("`ready = { log = \"…\" }`, a file, or a probe".to_owned()),
            );
        }
    }
    process.startup = t
        .table("startup", d)
        .and_then(|p| probe(&p, d))
        .map(Box::new);
    process.readiness = t
        .table("readiness", d)
        .and_then(|p| probe(&p, d))
        .map(Box::new);
    process.liveness = t
        .table("liveness", d)
        .and_then(|p| probe(&p, d))
        .map(Box::new);
    process.on_unhealthy = t
        .read("on_unhealthy", d, read::choice(ON_UNHEALTHY))
        .unwrap_or_default();
    let mut nofile_at = None;
    if let Some(limits) = t.table("limits", d) {
        nofile_at = limits.get("nofile").map(|v| v.span().start);
        limits.deny_unknown(keys::LIMITS, d);
        process.limits = ResourceLimits {
            memory: limits.read("memory", d, read::size),
            cpu: limits.read("cpu", d, read::number_in(0.001, 4096.0)),
            pids: limits.read("pids", d, read::int_in(1, u32::MAX.into())),
        };
        process.rlimits.nofile = limits.read("nofile", d, read::int_in(1, NOFILE_MAX.into()));
    }

    let restart = t
        .read("restart", d, read::choice(RESTARTS))
        .unwrap_or(defaults::RESTART);
    let backoff = match t.get("backoff") {
        Some(value) if matches!(value.get_ref(), DeValue::String(s) if s == "none") => None,
        Some(value) => as_table(
            value,
            format!("{}.backoff", t.name.trim_matches(['[', ']'])),
            d,
        )
        .map(|b| backoff(&b, d)),
        None => Some(defaults::backoff()),
    };
    let budget = t.table("budget", d).and_then(|b| budget(&b, d));
    let start_limit = match t.get("start_limit") {
        Some(value) if matches!(value.get_ref(), DeValue::String(s) if s == "none") => None,
        Some(value) => as_table(
            value,
            format!("{}.start_limit", t.name.trim_matches(['[', ']'])),
            d,
        )
        .map(|l| start_limit(&l, d)),
        None => Some(defaults::start_limit()),
    };
    let on_crash = t
        .read("on_crash", d, read::choice(CRASH_POLICIES))
        .unwrap_or(CrashPolicy::Restart);
    let replicas = t.read("replicas", d, read::int_in(1, 1000)).unwrap_or(1);
    let hooks = t
        .table("hooks", d)
        .map(|h| hooks(&h, d))
        .unwrap_or_default();
    let mut depends_on = Vec::new();
    if let Some(deps) = t.table("depends_on", d) {
        for (dep, span, value) in deps.entries() {
            let what = format!("`{dep}` in {}", deps.name);
            if let Some(condition) = read::choice(CONDITIONS)(value, &what, d) {
                depends_on.push(Dependency {
                    name: dep.to_owned(),
                    condition,
                    at: span.start,
                });
            }
        }
    }
    let binds_to = t.read("binds_to", d, read::boolean).unwrap_or(false);
    let at = |key: &str| t.get(key).map(|v| v.span().start);
    let places = Places {
        table: t.at(),
        command: at("command").or_else(|| at("shell")),
        cwd: at("cwd"),
        user: at("user"),
        nofile: nofile_at,
        container: boxed.as_ref().map(Table::at),
    };
    process.container = container.map(Box::new);

    Some(Service {
        name: name.to_owned(),
        process: Arc::new(process),
        restart,
        backoff,
        budget,
        start_limit,
        on_crash,
        replicas,
        hooks,
        group: None,
        depends_on,
        binds_to,
        places,
    })
}

/// `startup`, `readiness` or `liveness = { … }`.
fn probe(t: &Table<'_, '_>, d: &mut Diagnostics<'_>) -> Option<ProbeSpec> {
    t.deny_unknown(keys::PROBE, d);
    let check = probe_check(t, true, d);
    let mut timing = ProbeTiming::default();
    if let Some(period) = t.read("period", d, read::duration) {
        timing.period = period;
    }
    if let Some(timeout) = t.read("timeout", d, read::duration) {
        timing.timeout = timeout;
    }
    if let Some(delay) = t.read("initial_delay", d, read::duration) {
        timing.initial_delay = delay;
    }
    if let Some(n) = t.read("failure_threshold", d, read::int_in(1, 1_000_000)) {
        timing.failure_threshold = n;
    }
    if let Some(n) = t.read("success_threshold", d, read::int_in(1, 1_000_000)) {
        timing.success_threshold = n;
    }
    for (key, value) in [("period", timing.period), ("timeout", timing.timeout)] {
        if value.is_zero() {
            d.at(
                t.get(key).map_or(t.at(), |v| v.span().start),
                format!("`{key}` in {} is zero", t.name),
                Some("a duration longer than zero".to_owned()),
            );
        }
    }
    Some(ProbeSpec {
        check: check?,
        timing,
    })
}

/// The check of a probe (`exec`, `http` or `tcp`), exactly one when
/// `required`, at most one otherwise.
fn probe_check(t: &Table<'_, '_>, required: bool, d: &mut Diagnostics<'_>) -> Option<ProbeCheck> {
    let given: Vec<&str> = keys::PROBE_CHECKS
        .iter()
        .copied()
        .filter(|k| t.get(k).is_some())
        .collect();
    let expected =
        "one of `exec = [\"cmd\", …]`, `http = \"http://host:port/path\"` or `tcp = \"host:port\"`";
    match given.as_slice() {
        [] if required => {
            d.at(
                t.at(),
                format!("no check in {}", t.name),
                Some(expected.to_owned()),
            );
            None
        }
        [] => None,
        ["exec"] => t.read("exec", d, read::argv).map(ProbeCheck::Exec),
        ["http"] => t.read("http", d, |value, what, d| {
            let url = read::string(value, what, d)?;
            match HttpTarget::parse(&url) {
                Ok(target) => Some(ProbeCheck::Http(target)),
                Err(why) => {
                    d.at(
                        value.span().start,
                        format!("invalid URL for {what}: {why}"),
                        None,
                    );
                    None
                }
            }
        }),
        ["tcp"] => t.read("tcp", d, |value, what, d| {
            let address = read::string(value, what, d)?;
            let port = address.rsplit_once(':').and_then(|(host, port)| {
                (!host.is_empty())
                    .then(|| port.parse::<u16>().ok())
                    .flatten()
            });
            if port.is_none() {
                d.at(
                    value.span().start,
                    format!("invalid address {address:?} for {what}"),
                    Some("host:port, e.g. \"127.0.0.1:5432\"".to_owned()),
                );
                return None;
            }
            Some(ProbeCheck::Tcp(address))
        }),
        _ => {
            d.at(
                t.get(given[1]).map_or(t.at(), |v| v.span().start),
                format!("more than one check in {} ({})", t.name, given.join(", ")),
                Some(expected.to_owned()),
            );
            None
        }
    }
}

/// A regular expression (checked here, so a bad one is a config error).
fn pattern(value: &read::Value<'_>, what: &str, d: &mut Diagnostics<'_>) -> Option<String> {
    let text = read::string(value, what, d)?;
    match regex::Regex::new(&text) {
        Ok(_) => Some(text),
        Err(error) => {
            let first = error.to_string();
            let why = first.lines().last().unwrap_or("invalid").trim().to_owned();
            d.at(
                value.span().start,
                format!("invalid regular expression for {what}: {why}"),
                Some("a regular expression (Rust regex syntax)".to_owned()),
            );
            None
        }
    }
}

/// Every service's dependencies name a sibling (a service in the same
/// group, or, at the top level, a service or group outside any group),
/// and form no cycle. A cycle is told at each of its `depends_on` entries.
fn check_dependencies(services: &[Service], groups: &[Group], d: &mut Diagnostics<'_>) {
    let sibling_of = |service: &Service, name: &str| -> bool {
        match services.iter().find(|s| s.name == name) {
            Some(other) => other.group == service.group,
            None => service.group.is_none() && groups.iter().any(|g| g.name == name),
        }
    };
    for service in services {
        for dep in &service.depends_on {
            if dep.name == service.name {
                continue; // a cycle of one, told below
            }
            if !sibling_of(service, &dep.name) {
                let known: Vec<&str> = services
                    .iter()
                    .filter(|s| s.group == service.group && s.name != service.name)
                    .map(|s| s.name.as_str())
                    .collect();
                let hint = read::closest(&dep.name, &known)
                    .map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
                let what = match services.iter().find(|s| s.name == dep.name) {
                    Some(_) => format!("{:?} is in another group", dep.name),
                    None => format!("unknown service {:?}", dep.name),
                };
                d.at(
                    dep.at,
                    format!("{what} in depends_on of [services.{}]{hint}", service.name),
                    Some(match &service.group {
                        Some(group) => format!("a service of group {group:?}"),
                        None => "a service or group outside any group".to_owned(),
                    }),
                );
            }
        }
    }
    // Cycles, among the dependencies that name a sibling.
    let nodes: Vec<(&str, Vec<&str>)> = services
        .iter()
        .map(|s| {
            let deps = s
                .depends_on
                .iter()
                .map(|dep| dep.name.as_str())
                .filter(|name| *name == s.name || sibling_of(s, name))
                .collect();
            (s.name.as_str(), deps)
        })
        .collect();
    if let Err(errors) = dependency_order(&nodes) {
        for error in errors {
            let SpecError::DependencyCycle(members) = error else {
                continue;
            };
            let cycle = members.join(" → ");
            for pair in members.windows(2) {
                let (from, to) = (&pair[0], &pair[1]);
                let at = services
                    .iter()
                    .find(|s| &s.name == from)
                    .and_then(|s| s.depends_on.iter().find(|dep| &dep.name == to))
                    .map_or(0, |dep| dep.at);
                d.at(
                    at,
                    format!("dependency cycle: {cycle} ({from} depends on {to} here)"),
                    Some("dependencies that end: remove one of the cycle's entries".to_owned()),
                );
            }
        }
    }
}

fn stop_spec(t: &Table<'_, '_>, d: &mut Diagnostics<'_>) -> StopSpec {
    t.deny_unknown(keys::STOP, d);
    let fallback = StopSpec::default();
    StopSpec {
        signal: t.read("signal", d, signal).unwrap_or(fallback.signal),
        timeout: t
            .read("timeout", d, read::duration)
            .unwrap_or(fallback.timeout),
    }
}

fn signal(value: &read::Value<'_>, what: &str, d: &mut Diagnostics<'_>) -> Option<Signal> {
    let text = read::string(value, what, d)?;
    match text.parse::<Signal>() {
        Ok(signal) => Some(signal),
        Err(_) => {
            d.at(
                value.span().start,
                format!("bad signal name {text:?} for {what}"),
                Some(r#"a signal name such as "SIGTERM", "TERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1" or "SIGRTMIN+2""#.to_owned()),
            );
            None
        }
    }
}

fn backoff(t: &Table<'_, '_>, d: &mut Diagnostics<'_>) -> Backoff {
    t.deny_unknown(keys::BACKOFF, d);
    let fallback = defaults::backoff();
    let initial = t
        .read("initial", d, read::duration)
        .unwrap_or(fallback.initial);
    let max = t
        .read("max", d, read::duration)
        .unwrap_or(fallback.max.max(initial));
    if max < initial {
        if let Some(value) = t.get("max") {
            d.at(
                value.span().start,
                format!("`max` in {} is shorter than `initial`", t.name),
                Some("a maximum at least as long as the initial delay".to_owned()),
            );
        }
    }
    let mut backoff = Backoff::exponential(initial, max.max(initial))
        .multiplier(
            t.read("multiplier", d, read::number_in(1.0, 100.0))
                .unwrap_or(fallback.multiplier),
        )
        .jitter(
            t.read("jitter", d, read::number_in(0.0, 1.0))
                .unwrap_or(fallback.jitter),
        );
    backoff.reset_after = match t.get("reset_after") {
        Some(_) => t
            .read("reset_after", d, read::duration)
            .filter(|d| !d.is_zero()),
        None => fallback.reset_after,
    };
    backoff.clean_exit_delay = t
        .read("clean_exit_delay", d, read::duration)
        .unwrap_or(fallback.clean_exit_delay);
    backoff
}

fn budget(t: &Table<'_, '_>, d: &mut Diagnostics<'_>) -> Option<RestartBudget> {
    t.deny_unknown(keys::BUDGET, d);
    let Some(max_restarts) = t.read("max_restarts", d, read::int_in(0, u32::MAX.into())) else {
        if t.get("max_restarts").is_none() {
            d.at(
                t.at(),
                format!("missing `max_restarts` in {}", t.name),
                Some("the number of restarts allowed within `period`".to_owned()),
            );
        }
        return None;
    };
    let period = t
        .read("period", d, read::duration)
        .unwrap_or(defaults::BUDGET_PERIOD);
    let delay = t.read("delay", d, read::duration);
    let on_exhausted = match t.read("on_exhausted", d, read::string).as_deref() {
        None => OnExhausted::Escalate,
        Some("escalate") => OnExhausted::Escalate,
        Some("stop") => OnExhausted::Stop,
        Some("isolate") => OnExhausted::Isolate,
        Some("crash-loop-backoff" | "crash_loop_backoff" | "crash-loop" | "crash_loop") => {
            OnExhausted::CrashLoopBackOff(delay.unwrap_or(defaults::CRASH_LOOP_DELAY))
        }
        Some(other) => {
            let hint = read::closest(other, ON_EXHAUSTED)
                .map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
            d.at(
                t.get("on_exhausted").map_or(t.at(), |v| v.span().start),
                format!(
                    "unknown value {other:?} for `on_exhausted` in {}{hint}",
                    t.name
                ),
                Some(format!("one of {}", read::list(ON_EXHAUSTED))),
            );
            return None;
        }
    };
    if delay.is_some() && !matches!(on_exhausted, OnExhausted::CrashLoopBackOff(_)) {
        d.at(
            t.get("delay").map_or(t.at(), |v| v.span().start),
            format!(
                "`delay` in {} only applies to `on_exhausted = \"crash-loop-backoff\"`",
                t.name
            ),
            Some("no `delay`, or `on_exhausted = \"crash-loop-backoff\"`".to_owned()),
        );
    }
    Some(RestartBudget::new(max_restarts, period).on_exhausted(on_exhausted))
}

/// `start_limit = { burst, interval, settle }`: each key falls back to its
/// default.
fn start_limit(t: &Table<'_, '_>, d: &mut Diagnostics<'_>) -> StartLimit {
    t.deny_unknown(keys::START_LIMIT, d);
    let fallback = defaults::start_limit();
    let burst = t
        .read("burst", d, read::int_in(1, u32::MAX.into()))
        .unwrap_or(fallback.burst);
    let interval = t
        .read("interval", d, read::duration)
        .filter(|interval| {
            let zero = interval.is_zero();
            if zero {
                d.at(
                    t.get("interval").map_or(t.at(), |v| v.span().start),
                    format!("`interval` in {} is zero", t.name),
                    Some("a positive duration".to_owned()),
                );
            }
            !zero
        })
        .unwrap_or(fallback.interval);
    let settle = t
        .read("settle", d, read::duration)
        .unwrap_or(fallback.settle);
    StartLimit::new(burst, interval).settle(settle)
}

fn hooks(t: &Table<'_, '_>, d: &mut Diagnostics<'_>) -> Hooks {
    let names: Vec<&str> = HookEvent::ALL.iter().map(|(_, name)| *name).collect();
    t.deny_unknown(&names, d);
    let mut hooks = BTreeMap::new();
    for (event, name) in HookEvent::ALL {
        if let Some(argv) = t.read(name, d, read::argv) {
            hooks.insert(event, argv);
        }
    }
    hooks
}

fn group(
    name: &str,
    t: &Table<'_, '_>,
    services: &mut [Service],
    d: &mut Diagnostics<'_>,
) -> Option<Group> {
    t.deny_unknown(keys::GROUP, d);
    let strategy = t
        .read("strategy", d, read::choice(STRATEGIES))
        .unwrap_or(Strategy::OneForOne);
    let intensity = t
        .table("intensity", d)
        .map_or(defaults::intensity(), |t| intensity(&t, d));
    let Some(list) = t.get("services") else {
        d.at(
            t.at(),
            format!("missing `services` in {}", t.name),
            Some(r#"the names of its services, e.g. `services = ["db", "web"]`"#.to_owned()),
        );
        return None;
    };
    let DeValue::Array(items) = list.get_ref() else {
        read::argv(list, &format!("`services` in {}", t.name), d);
        return None;
    };
    if items.is_empty() {
        d.at(
            list.span().start,
            format!("`services` in {} is empty", t.name),
            Some("at least one service name".to_owned()),
        );
    }
    let known: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    let mut members = Vec::new();
    for item in items.iter() {
        let Some(member) =
            read::string(item, &format!("an element of `services` in {}", t.name), d)
        else {
            continue;
        };
        let Some(service) = services.iter_mut().find(|s| s.name == member) else {
            let names: Vec<&str> = known.iter().map(String::as_str).collect();
            let hint = read::closest(&member, &names)
                .map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
            d.at(
                item.span().start,
                format!("unknown group member {member:?} in {}{hint}", t.name),
                Some("the name of a [services.NAME] table".to_owned()),
            );
            continue;
        };
        if let Some(other) = &service.group {
            d.at(
                item.span().start,
                format!("service {member:?} is already in group {other:?}"),
                Some("each service in one group at most".to_owned()),
            );
            continue;
        }
        service.group = Some(name.to_owned());
        members.push(member);
    }
    Some(Group {
        name: name.to_owned(),
        strategy,
        intensity,
        services: members,
    })
}

fn api(t: &Table<'_, '_>, d: &mut Diagnostics<'_>) -> ApiSettings {
    t.deny_unknown(keys::API, d);
    let listen = t.read("listen", d, |value, what, d| {
        let text = read::string(value, what, d)?;
        match text.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                d.at(
                    value.span().start,
                    format!("bad address {text:?} for {what}"),
                    Some(r#"an IP address and port, e.g. "127.0.0.1:7070""#.to_owned()),
                );
                None
            }
        }
    });
    let token = t.read("token", d, read::string);
    if let (Some(addr), None) = (listen, &token) {
        if !addr.ip().is_loopback() {
            d.at(
                t.get("listen").map_or(t.at(), |v| v.span().start),
                format!("the API would listen on {addr}, beyond this machine, without a token"),
                Some(
                    "a `token` in [api], or a loopback address such as 127.0.0.1 \
                     (where tend generates a token in its state directory, api.token)"
                        .to_owned(),
                ),
            );
        }
    }
    if token.as_deref().is_some_and(|t| t.len() < 16) {
        d.at(
            t.get("token").map_or(t.at(), |v| v.span().start),
            "the API token is shorter than 16 characters".to_owned(),
            Some("a token of at least 16 characters".to_owned()),
        );
    }
    ApiSettings { listen, token }
}
