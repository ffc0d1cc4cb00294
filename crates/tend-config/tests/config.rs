//! `tend.toml` as the issue writes it, and every kind of mistake reported at
//! its place, all at once.

use std::time::Duration;

use tend_config::{parse_str, ConfigError, Diagnostic, HookEvent, Member};
use tend_spec::{
    Condition, ContainerSource, CrashPolicy, KeepContainer, OnExhausted, OnUnhealthy, ProbeCheck,
    Restart, Runtime, Signal, StartLimit, Strategy,
};

const CONTRACT: &str = r#"
[supervisor]
strategy = "one_for_one"
intensity = { max_restarts = 5, period = "60s" }
shutdown_timeout = "30s"

[services.web]
command = ["./web", "--port", "8080"]
env = { RUST_LOG = "info" }
cwd = "srv"
restart = "always"
backoff = { initial = "100ms", max = "30s", jitter = 0.1, reset_after = "60s" }
budget = { max_restarts = 5, period = "10s", on_exhausted = "crash-loop-backoff", delay = "30s" }
stop = { signal = "SIGTERM", timeout = "10s" }
success_codes = [0, 3]
replicas = 2
logs = { max_size = "10MB", keep = 5, timestamps = true }
limits = { memory = "512MB", cpu = 0.5, pids = 100, nofile = 4096 }
user = "www-data"
on_crash = "restart"
hooks = { isolate = ["./drop-from-lb"], give-up = ["./page-someone"] }

[services.db]
shell = "exec postgres -D data"
restart = "transient"
on_crash = "isolate"

[services.cron]
command = ["./cron"]

[groups.backend]
strategy = "rest_for_one"
intensity = { max_restarts = 3, period = "5s" }
services = ["db", "web"]
"#;

/// Each error's line, column and message.
fn places(found: &[Diagnostic]) -> Vec<(usize, usize, &str)> {
    found
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str()))
        .collect()
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match parse_str("/etc/tend/tend.toml", text) {
        Err(ConfigError::Invalid(list)) => list,
        other => panic!("expected errors, got {other:?}"),
    }
}

#[test]
fn the_contract_keys_mean_what_they_say() {
    let config = parse_str("/etc/tend/tend.toml", CONTRACT).expect("valid");
    assert_eq!(config.supervisor.strategy, Strategy::OneForOne);
    assert_eq!(config.supervisor.intensity.max_restarts, 5);
    assert_eq!(config.supervisor.shutdown_timeout, Duration::from_secs(30));

    let web = config.service("web").unwrap();
    assert_eq!(web.process.command, ["./web", "--port", "8080"]);
    assert_eq!(web.process.env.set["RUST_LOG"], "info");
    assert_eq!(web.process.cwd.as_deref(), Some("/etc/tend/srv".as_ref()));
    assert_eq!(web.restart, Restart::Permanent);
    let backoff = web.backoff.unwrap();
    assert_eq!(backoff.initial, Duration::from_millis(100));
    assert_eq!(backoff.max, Duration::from_secs(30));
    assert_eq!(backoff.reset_after, Some(Duration::from_secs(60)));
    let budget = web.budget.unwrap();
    assert_eq!(budget.max_restarts, 5);
    assert_eq!(budget.window, Duration::from_secs(10));
    assert_eq!(
        budget.on_exhausted,
        OnExhausted::CrashLoopBackOff(Duration::from_secs(30))
    );
    assert_eq!(web.process.stop.signal, Signal::Term);
    assert_eq!(web.process.success_codes, [0, 3]);
    assert_eq!(web.instances(), ["web.1", "web.2"]);
    assert_eq!(web.process.logs.max_size, 10_000_000);
    assert!(web.process.logs.timestamps);
    assert_eq!(web.process.limits.memory, Some(512_000_000));
    assert_eq!(web.process.limits.cpu, Some(0.5));
    assert_eq!(web.process.limits.pids, Some(100));
    assert_eq!(web.process.rlimits.nofile, Some(4096));
    assert_eq!(web.process.user.as_deref(), Some("www-data"));
    assert_eq!(web.hooks[&HookEvent::Isolate], ["./drop-from-lb"]);
    assert_eq!(web.hooks[&HookEvent::GiveUp], ["./page-someone"]);
    assert_eq!(web.group.as_deref(), Some("backend"));

    let db = config.service("db").unwrap();
    assert!(db.process.shell);
    assert_eq!(db.restart, Restart::Transient);
    assert_eq!(db.on_crash, CrashPolicy::Isolate);

    let group = &config.groups[0];
    assert_eq!(group.strategy, Strategy::RestForOne);
    assert_eq!(group.services, ["db", "web"]);
    let order: Vec<String> = config
        .root_members()
        .iter()
        .map(|m| match m {
            Member::Service(s) => s.name.clone(),
            Member::Group(g) => format!("group {}", g.name),
        })
        .collect();
    assert_eq!(order, ["cron", "group backend"]);
}

#[test]
fn defaults_suit_a_process_supervisor() {
    let config = parse_str("tend.toml", "[services.a]\ncommand = [\"true\"]\n").unwrap();
    let a = &config.services[0];
    assert_eq!(a.restart, Restart::Permanent);
    assert_eq!(a.backoff, Some(tend_config::defaults::backoff()));
    assert_eq!(a.budget, None);
    assert_eq!(a.start_limit, Some(tend_config::defaults::start_limit()));
    assert_eq!(
        a.start_limit.map(|l| (l.burst, l.interval)),
        Some((5, Duration::from_secs(60)))
    );
    assert_eq!(a.replicas, 1);
    assert_eq!(a.instances(), ["a"]);
    assert_eq!(a.process.stop.timeout, Duration::from_secs(10));
    assert_eq!(
        config.supervisor.intensity,
        tend_config::defaults::intensity()
    );
}

#[test]
fn every_error_is_reported_at_once_with_its_place() {
    let text = r#"[supervisor]
strategy = "one_for_none"

[services.web]
comand = ["./web"]
stop = { signal = "SIGTREM", timeout = "10 parsecs" }
replicas = 0

[services.worker]
command = "./worker"
limits = { memory = "lots" }

[groups.web]
services = ["worker", "wbe"]
"#;
    let found = errors(text);
    let at = places(&found);
    let expect = [
        (2, 12, "unknown value \"one_for_none\""),
        (4, 1, "missing `command` in [services.web]"),
        (
            5,
            1,
            "unknown key `comand` in [services.web] (did you mean `command`?)",
        ),
        (6, 19, "bad signal name \"SIGTREM\""),
        (6, 40, "bad duration \"10 parsecs\""),
        (7, 12, "`replicas` in [services.web] is 0, out of range"),
        (
            10,
            11,
            "`command` in [services.worker] is the string \"./worker\"",
        ),
        (11, 21, "bad size \"lots\""),
        (13, 9, "duplicate name \"web\""),
        (
            14,
            23,
            "unknown group member \"wbe\" in [groups.web] (did you mean `web`?)",
        ),
    ];
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    for ((line, column, message), (want_line, want_column, want)) in at.iter().zip(expect) {
        assert_eq!((*line, *column), (want_line, want_column), "{message}");
        assert!(
            message.starts_with(want),
            "{message:?} should start with {want:?}"
        );
    }
    // Each says what was expected, and the file.
    assert!(found.iter().all(|d| d.expected.is_some()), "{found:#?}");
    let first = found[0].to_string();
    assert!(
        first.starts_with("/etc/tend/tend.toml:2:12: unknown value"),
        "{first}"
    );
    assert!(first.contains("expected one of `one_for_one`"), "{first}");
}

#[test]
fn syntax_errors_have_places_too() {
    let found = errors("[services.web]\ncommand = [\"a\"\nrestart = \n");
    assert!(!found.is_empty());
    assert!(found[0].message.starts_with("invalid TOML"), "{found:?}");
    assert_eq!(found[0].line, 3, "{found:?}");
}

#[test]
fn a_config_without_services_or_commands_is_refused() {
    assert!(errors("")[0].message.contains("no services"));
    let found = errors("[services.a]\nshell = \"x\"\ncommand = [\"y\"]\n");
    assert!(
        found[0].message.contains("both `command` and `shell`"),
        "{found:?}"
    );
    let found = errors("[services.a]\ncommand = []\n");
    assert!(found[0].message.contains("is empty"), "{found:?}");
}

#[test]
fn names_and_groups_are_cross_checked() {
    let found = errors(
        "[services.\"a.b\"]\ncommand = [\"x\"]\n[services.c]\ncommand = [\"x\"]\n\
         [groups.g1]\nservices = [\"c\"]\n[groups.g2]\nservices = [\"c\"]\n",
    );
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages[0].starts_with("invalid service name \"a.b\""),
        "{messages:?}"
    );
    assert!(
        messages[1].starts_with("service \"c\" is already in group \"g1\""),
        "{messages:?}"
    );
}

#[test]
fn the_api_refuses_the_network_without_a_token() {
    let found = errors("[services.a]\ncommand = [\"x\"]\n[api]\nlisten = \"0.0.0.0:7070\"\n");
    assert!(found[0].message.contains("without a token"), "{found:?}");
    assert_eq!(found[0].line, 4);
    let ok = parse_str(
        "tend.toml",
        "[services.a]\ncommand = [\"x\"]\n[api]\nlisten = \"127.0.0.1:7070\"\n",
    )
    .unwrap();
    assert_eq!(ok.api.listen, Some("127.0.0.1:7070".parse().unwrap()));
    let found = errors(
        "[services.a]\ncommand = [\"x\"]\n[api]\nlisten = \"0.0.0.0:7070\"\ntoken = \"short\"\n",
    );
    assert!(found[0].message.contains("shorter than 16"), "{found:?}");
}

#[test]
fn budgets_and_backoff_say_what_is_wrong() {
    let found = errors(
        "[services.a]\ncommand = [\"x\"]\nbudget = { period = \"5s\", on_exhausted = \"explode\" }\n\
         backoff = { initial = \"10s\", max = \"1s\" }\n",
    );
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("missing `max_restarts`")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("shorter than `initial`")),
        "{messages:?}"
    );
    let config = parse_str(
        "t.toml",
        "[services.a]\ncommand = [\"x\"]\nbackoff = \"none\"\n",
    )
    .unwrap();
    assert_eq!(config.services[0].backoff, None);
}

#[test]
fn a_start_limit_is_read_or_turned_off() {
    let config = parse_str(
        "t.toml",
        "[services.a]\ncommand = [\"x\"]\nstart_limit = { burst = 3, interval = \"10s\", settle = \"2s\" }\n\
         [services.b]\ncommand = [\"x\"]\nstart_limit = \"none\"\n\
         [services.c]\ncommand = [\"x\"]\nstart_limit = { burst = 2 }\n",
    )
    .unwrap();
    let limits: Vec<_> = config.services.iter().map(|s| s.start_limit).collect();
    assert_eq!(
        limits,
        [
            Some(StartLimit::new(3, Duration::from_secs(10)).settle(Duration::from_secs(2))),
            None,
            Some(StartLimit::new(2, Duration::from_secs(60))),
        ]
    );
}

#[test]
fn a_bad_start_limit_is_reported_at_its_place() {
    let found = errors(
        "[services.a]\ncommand = [\"x\"]\n\
         start_limit = { burst = 0, interval = \"0\", settle = \"soon\", bursts = 2 }\n\
         [services.b]\ncommand = [\"x\"]\nstart_limit = \"never\"\n",
    );
    let at = places(&found);
    let expect: [(usize, usize, &str); 5] = [
        (3, 61, "unknown key `bursts`"),
        (3, 25, "`burst`"),
        (3, 39, "`interval` in"),
        (3, 53, "bad duration \"soon\""),
        (6, 15, "services.b.start_limit"),
    ];
    assert_eq!(at.len(), expect.len(), "{at:?}");
    for (want_line, want_column, want) in expect {
        assert!(
            at.iter()
                .any(|(l, c, m)| (*l, *c) == (want_line, want_column) && m.contains(want)),
            "no {want:?} at {want_line}:{want_column} in {at:?}"
        );
    }
}

#[test]
fn readiness_probes_and_dependencies_read_as_the_contract_says() {
    let config = parse_str(
        "/etc/tend/tend.toml",
        r#"
[services.db]
command = ["postgres"]
ready = { notify = true, timeout = "30s" }
watchdog = "10s"

[services.migrate]
command = ["./migrate"]
restart = "never"
depends_on = { db = "ready" }

[services.web]
command = ["./web"]
depends_on = { db = "ready", migrate = "completed" }
binds_to = true
startup   = { exec = ["./check"], period = "1s", failure_threshold = 30 }
readiness = { tcp = "127.0.0.1:8080", period = "2s" }
liveness  = { http = "http://127.0.0.1:8080/healthz", period = "5s", timeout = "1s", failure_threshold = 3, initial_delay = "2s" }
on_unhealthy = "isolate"

[services.logger]
command = ["./logger"]
ready = { log = "listening on [0-9]+" }

[services.files]
command = ["./files"]
ready = { file = "run/ready" }
"#,
    )
    .unwrap();
    let db = config.service("db").unwrap();
    assert!(db.process.ready.notify);
    assert_eq!(db.process.ready.timeout, Duration::from_secs(30));
    assert_eq!(db.process.watchdog, Some(Duration::from_secs(10)));
    let web = config.service("web").unwrap();
    let deps: Vec<(&str, Condition)> = web
        .depends_on
        .iter()
        .map(|d| (d.name.as_str(), d.condition))
        .collect();
    assert_eq!(
        deps,
        [("db", Condition::Ready), ("migrate", Condition::Completed)]
    );
    assert!(web.binds_to);
    let startup = web.process.startup.as_ref().unwrap();
    assert_eq!(startup.check, ProbeCheck::Exec(vec!["./check".into()]));
    assert_eq!(
        (
            startup.timing.period,
            startup.timing.failure_threshold,
            startup.timing.timeout
        ),
        (Duration::from_secs(1), 30, Duration::from_secs(1))
    );
    let readiness = web.process.readiness.as_ref().unwrap();
    assert_eq!(readiness.check, ProbeCheck::Tcp("127.0.0.1:8080".into()));
    let liveness = web.process.liveness.as_ref().unwrap();
    let ProbeCheck::Http(target) = &liveness.check else {
        panic!("{liveness:?}")
    };
    assert_eq!(
        (target.authority.as_str(), target.path.as_str()),
        ("127.0.0.1:8080", "/healthz")
    );
    assert_eq!(liveness.timing.initial_delay, Duration::from_secs(2));
    assert_eq!(web.process.on_unhealthy, OnUnhealthy::Isolate);
    assert_eq!(
        config
            .service("logger")
            .unwrap()
            .process
            .ready
            .log
            .as_deref(),
        Some("listening on [0-9]+")
    );
    assert!(config
        .service("files")
        .unwrap()
        .process
        .ready
        .file
        .is_some());
}

#[test]
fn a_dependency_cycle_is_refused_at_both_of_its_entries() {
    let found = errors(
        r#"
[services.a]
command = ["a"]
depends_on = { b = "ready" }

[services.b]
command = ["b"]
depends_on = { a = "started" }

[services.c]
command = ["c"]
depends_on = { nope = "ready", a = "healthy" }
"#,
    );
    let at = places(&found);
    assert!(
        at.iter()
            .any(|(l, c, m)| (*l, *c) == (4, 16) && m.contains("dependency cycle: a → b → a")),
        "{at:#?}"
    );
    assert!(
        at.iter()
            .any(|(l, c, m)| (*l, *c) == (8, 16) && m.contains("dependency cycle")),
        "{at:#?}"
    );
    assert!(
        at.iter()
            .any(|(l, _, m)| *l == 12 && m.contains("unknown service \"nope\"")),
        "{at:#?}"
    );
    assert!(
        at.iter()
            .any(|(l, _, m)| *l == 12 && m.contains("unknown value \"healthy\"")),
        "{at:#?}"
    );
}

#[test]
fn probes_and_readiness_say_what_is_wrong() {
    let found = errors(
        r#"
[groups.data]
services = ["db"]

[services.db]
command = ["db"]
liveness = { period = "1s" }
readiness = { tcp = "nohost", http = "http://x" }
ready = { notify = true, log = "(" }

[services.web]
command = ["web"]
startup = { http = "https://example.com" }
depends_on = { db = "ready" }
"#,
    );
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    let has = |text: &str| messages.iter().any(|m| m.contains(text));
    assert!(has("no check in"), "{messages:#?}");
    assert!(has("more than one check"), "{messages:#?}");
    assert!(has("more than one readiness signal"), "{messages:#?}");
    assert!(has("invalid regular expression"), "{messages:#?}");
    assert!(has("https probes are not supported"), "{messages:#?}");
    assert!(has("\"db\" is in another group"), "{messages:#?}");
}

#[test]
fn wasm_and_remote_services_are_understood_and_refused_as_not_available() {
    let text = r#"[services.app]
wasm = { module = "app.wasm" }

[services.far]
remote = { node = "10.0.0.7:7070" }

[services.v6]
remote = { node = "[fd00::7]:7070" }

[services.bad]
remote = { node = "nowhere" }

[services.both]
shell = "x"
wasm = { module = "m.wasm" }

[services.typo]
wasm = { modul = "x" }
"#;
    let found = errors(text);
    let at = places(&found);
    let not_wasm = "backend not available: wasm: this build of tend has no WASI runtime (it is a later backend)";
    let not_remote = "backend not available: remote: this build of tend cannot run services on other nodes (it is a later backend)";
    assert_eq!(
        at,
        [
            (2, 8, not_wasm),
            (5, 10, not_remote),
            (8, 10, not_remote),
            (
                11,
                19,
                "\"nowhere\" is not a node address in services.bad.remote"
            ),
            (15, 8, not_wasm),
            (
                15,
                8,
                "both `wasm` and a process (`command` or `shell`) in [services.both]"
            ),
            (18, 8, "missing `module` in services.typo.wasm"),
            (
                18,
                10,
                "unknown key `modul` in services.typo.wasm (did you mean `module`?)"
            ),
        ],
        "{found:#?}"
    );
    // No `missing command` for them: the table says what runs them.
    assert!(!found
        .iter()
        .any(|d| d.message.contains("missing `command`")));
    assert!(found[0].expected.as_deref().unwrap().contains("wasmtime"));
}

#[test]
fn a_container_service_is_read_with_its_settings() {
    let text = r#"[services.cache]
container = { image = "docker.io/library/redis:7", runtime = "podman", network = "host", volumes = ["/srv/redis:/data"], publish = ["6379:6379"], args = ["--read-only"], on_isolate = "stopped" }
env = { MODE = "test" }
cwd = "/data"
ready = { log = "Ready to accept connections" }
liveness = { exec = ["redis-cli", "ping"] }

[services.boxed]
container = { rootfs = "roots/busybox" }
shell = "echo hi"
"#;
    let config = parse_str("/etc/tend/tend.toml", text).expect("valid");
    let cache = &config.service("cache").unwrap().process;
    assert_eq!(cache.backend(), tend_spec::Backend::Container);
    let container = cache.container.as_ref().unwrap();
    assert_eq!(
        container.source,
        ContainerSource::Image("docker.io/library/redis:7".into())
    );
    assert_eq!(container.runtime, Some(Runtime::Podman));
    assert_eq!(container.network.as_deref(), Some("host"));
    assert_eq!(container.volumes, ["/srv/redis:/data"]);
    assert_eq!(container.publish, ["6379:6379"]);
    assert_eq!(container.args, ["--read-only"]);
    assert_eq!(container.on_isolate, KeepContainer::Stopped);
    // An image runs its own command when none is given; `cwd` is inside.
    assert_eq!(cache.command, [""]);
    assert_eq!(cache.cwd.as_deref(), Some(std::path::Path::new("/data")));
    let boxed = config.service("boxed").unwrap().process.container.clone();
    assert_eq!(
        boxed.unwrap().source,
        ContainerSource::Rootfs("/etc/tend/roots/busybox".into()),
        "a rootfs is relative to the config's directory"
    );
}

#[test]
fn container_mistakes_are_reported_at_their_place() {
    let text = r#"[services.none]
container = { network = "host" }

[services.two]
container = { image = "x", rootfs = "y" }

[services.bare]
container = { rootfs = "y" }

[services.relative]
container = { image = "x" }
cwd = "srv"

[services.notify]
container = { image = "x", runtim = "podman" }
ready = { notify = true }
watchdog = "5s"

[services.both]
container = { image = "x" }
wasm = { module = "m.wasm" }

[services.choice]
container = { image = "x", runtime = "lxc", on_isolate = "paused" }
"#;
    let found = errors(text);
    assert_eq!(
        places(&found),
        [
            (2, 13, "no `image` or `rootfs` in services.none.container"),
            (5, 37, "both `image` and `rootfs` in services.two.container"),
            (7, 1, "missing `command` in [services.bare]"),
            (12, 7, "\"srv\": a container's `cwd` is inside it, in [services.relative]"),
            (
                15,
                28,
                "unknown key `runtim` in services.notify.container (did you mean `runtime`?)"
            ),
            (
                16,
                20,
                "sd_notify (`ready.notify`, `watchdog`) cannot reach into a container, in [services.notify]"
            ),
            (
                17,
                12,
                "sd_notify (`ready.notify`, `watchdog`) cannot reach into a container, in [services.notify]"
            ),
            (
                21,
                8,
                "backend not available: wasm: this build of tend has no WASI runtime (it is a later backend)"
            ),
            (21, 8, "both `wasm` and `container` in [services.both]"),
            (
                24,
                38,
                "unknown value \"lxc\" for `runtime` in services.choice.container"
            ),
            (
                24,
                58,
                "unknown value \"paused\" for `on_isolate` in services.choice.container"
            ),
        ],
        "{found:#?}"
    );
}

#[test]
fn a_container_no_runtime_here_can_run_is_refused_at_its_place() {
    let dir = std::env::temp_dir().join(format!("tend-config-runtime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tend.toml");
    std::fs::write(
        &file,
        "[services.web]\ncommand = [\"true\"]\n\n[services.cache]\ncontainer = { image = \"redis:7\" }\n",
    )
    .unwrap();
    let nowhere: tend_config::FindRuntime = |_| {
        Err(tend_spec::NotAvailable::new(
            tend_spec::Backend::Container,
            "no container runtime works here: podman: not found on PATH",
        ))
    };
    let found = match tend_config::load_here(&file, nowhere) {
        Err(ConfigError::Invalid(list)) => list,
        other => panic!("expected errors, got {other:?}"),
    };
    assert_eq!(
        places(&found),
        [(
            5,
            13,
            "backend not available: container: no container runtime works here: podman: not found on PATH"
        )]
    );
    // Found, the runtime is named in the spec; `load` alone asks nothing.
    let cache = |config: &tend_config::Config| {
        config
            .service("cache")
            .unwrap()
            .process
            .container
            .clone()
            .unwrap()
    };
    let podman: tend_config::FindRuntime = |_| Ok(Runtime::Podman);
    let container = cache(&tend_config::load_here(&file, podman).unwrap());
    assert_eq!(container.runtime, Some(Runtime::Podman));
    assert_eq!(cache(&tend_config::load(&file).unwrap()).runtime, None);
    // Its name is kept apart from other configs' by a scope of this file's,
    // the same from one run to the next.
    let scope = container.scope.unwrap();
    assert_eq!(scope.len(), 8, "{scope}");
    let again = cache(&tend_config::load_here(&file, podman).unwrap());
    assert_eq!(again.scope.as_deref(), Some(scope.as_str()));
    let elsewhere = dir.join("other.toml");
    std::fs::copy(&file, &elsewhere).unwrap();
    let other = cache(&tend_config::load_here(&elsewhere, podman).unwrap());
    assert_ne!(other.scope.as_deref(), Some(scope.as_str()));
    std::fs::remove_dir_all(dir).unwrap();
}
