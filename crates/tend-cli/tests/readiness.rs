//! Readiness, health and dependencies through the real `tend` program:
//! a three-level chain started in order with its middle slow to be ready,
//! stopped in reverse; a cycle refused with both of its places; a
//! readiness flap in `tend events`; a liveness failure restarted; an
//! isolated service kept running, shown so everywhere, and brought back by
//! `tend restart`; `/healthz` and `/readyz` for kubelet, on the socket and
//! on TCP without a token.

mod common;

use common::{alive, curl, free_port, request, Project};

/// The line numbers of journal entries, to compare their order.
fn position(journal: &str, kind: &str, service: &str) -> usize {
    journal
        .lines()
        .position(|l| {
            l.contains(&format!("\"kind\":\"{kind}\""))
                && l.contains(&format!("\"service\":\"{service}\""))
        })
        .unwrap_or_else(|| panic!("{kind} of {service} in\n{journal}"))
}

#[test]
fn a_three_level_chain_starts_in_order_with_a_slow_middle_and_stops_in_reverse() {
    // Listed top-down on purpose: the graph, not the file, orders them.
    let mut p = Project::new(
        r#"
[services.web]
shell = "test -e api.ready && echo yes > web.saw-api-ready; exec sleep 100"
depends_on = { api = "ready", migrate = "completed" }

[services.api]
shell = "test -e db.up && echo yes > api.saw-db-up; sleep 2; touch api.ready; exec sleep 100"
ready = { file = "api.ready", timeout = "30s" }
depends_on = { db = "ready" }

[services.migrate]
shell = "sleep 0.2"
restart = "never"
depends_on = { db = "started" }

[services.db]
shell = "touch db.up; echo accepting connections; exec sleep 100"
ready = { log = "^accepting connections$" }

[services.cache]
shell = "exec sleep 100"
"#,
    );
    p.up();
    // While api is starting (not ready), web waits, and cache (no
    // dependency) already runs: one status snapshot.
    let mut snapshot = Vec::new();
    p.wait_for("api to be starting", || {
        snapshot = p.status();
        snapshot
            .iter()
            .any(|s| s["name"] == "api" && s["state"] == "starting")
    });
    let state = |name: &str| {
        snapshot
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["state"].as_str().unwrap_or_default().to_owned())
            .unwrap()
    };
    assert_eq!(state("web"), "pending", "{snapshot:?}");
    assert_eq!(state("cache"), "running", "{snapshot:?}");
    let web = p.wait_state("web", "running");
    assert_eq!(web["ready"], true);
    assert_eq!(
        p.read("api.saw-db-up").trim(),
        "yes",
        "api spawned after db was up"
    );
    assert_eq!(
        p.read("web.saw-api-ready").trim(),
        "yes",
        "web spawned after api was ready"
    );
    assert_eq!(p.service("migrate")["state"], "completed");
    let journal = p.ok(&["events", "--json", "--since", "1h"]);
    assert!(position(&journal, "ready", "db") < position(&journal, "started", "api"));
    assert!(position(&journal, "ready", "api") < position(&journal, "started", "web"));
    assert!(position(&journal, "exited", "migrate") < position(&journal, "started", "web"));

    assert_eq!(p.down(), 0);
    let journal = p.ok(&["events", "--json", "--since", "1h"]);
    let stopped = |service: &str| {
        let lines: Vec<&str> = journal.lines().collect();
        lines
            .iter()
            .rposition(|l| {
                l.contains("\"kind\":\"exited\"")
                    && l.contains(&format!("\"service\":\"{service}\""))
            })
            .unwrap_or_else(|| panic!("exit of {service} in\n{journal}"))
    };
    assert!(
        stopped("web") < stopped("api") && stopped("api") < stopped("db"),
        "{journal}"
    );
}

#[test]
fn a_dependency_cycle_is_refused_with_both_places() {
    let p = Project::new(
        "[services.a]\ncommand = [\"true\"]\ndepends_on = { b = \"ready\" }\n\n[services.b]\ncommand = [\"true\"]\ndepends_on = { a = \"started\" }\n",
    );
    let out = p.tend(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "tend.toml:3:16: dependency cycle: a → b → a (a depends on b here)",
        "tend.toml:7:16: dependency cycle: a → b → a (b depends on a here)",
    ] {
        assert!(err.contains(expected), "{expected:?} in:\n{err}");
    }
    let out = p.tend(&["up"]);
    assert_eq!(out.status.code(), Some(1), "nothing starts");
}

#[test]
fn a_readiness_flap_a_liveness_restart_and_an_isolation() {
    let mut p = Project::new(
        r#"
[services.flappy]
shell = "exec sleep 100"
readiness = { exec = ["test", "-e", "flappy.ok"], period = "100ms", failure_threshold = 1 }

[services.sick]
shell = "exec sleep 100"
liveness = { exec = ["test", "-e", "sick.ok"], period = "100ms", failure_threshold = 2 }

[services.isolated]
shell = "exec sleep 100"
liveness = { exec = ["test", "-e", "isolated.ok"], period = "100ms", failure_threshold = 2 }
on_unhealthy = "isolate"
hooks = { isolate = ["sh", "-c", "cat > isolate-hook.json"] }
"#,
    );
    for ok in ["sick.ok", "isolated.ok"] {
        std::fs::write(p.path(ok), "").unwrap();
    }
    p.up();
    // Readiness: not ready, ready, not ready, ready; never restarted.
    let flappy = p.wait_state("flappy", "starting");
    assert_eq!(flappy["ready"], false);
    std::fs::write(p.path("flappy.ok"), "").unwrap();
    p.wait_for("flappy ready", || p.service("flappy")["ready"] == true);
    let pid = p.service("flappy")["pid"].clone();
    std::fs::remove_file(p.path("flappy.ok")).unwrap();
    p.wait_for("flappy not ready", || p.service("flappy")["ready"] == false);
    std::fs::write(p.path("flappy.ok"), "").unwrap();
    p.wait_for("flappy ready again", || {
        p.service("flappy")["ready"] == true
    });
    let flappy = p.service("flappy");
    assert_eq!(
        (&flappy["pid"], &flappy["restarts"]),
        (&pid, &serde_json::json!(0))
    );
    let events = p.ok(&["events", "--since", "1h"]);
    let lines: Vec<&str> = events.lines().filter(|l| l.contains("flappy")).collect();
    let ready = lines
        .iter()
        .position(|l| l.contains("flappy ready"))
        .expect("ready");
    let not_ready = lines
        .iter()
        .position(|l| l.contains("flappy not ready: readiness probe failed"))
        .unwrap_or_else(|| panic!("{events}"));
    assert!(ready < not_ready, "{events}");
    assert!(
        lines[not_ready..]
            .iter()
            .any(|l| l.contains("flappy ready")),
        "{events}"
    );

    // Liveness: failing twice in a row restarts it.
    std::fs::remove_file(p.path("sick.ok")).unwrap();
    p.wait_for("sick to be restarted", || {
        let sick = p.service("sick");
        sick["restarts"].as_u64().unwrap_or(0) >= 1 && sick["last_exit"]["kind"] == "unhealthy"
    });
    std::fs::write(p.path("sick.ok"), "").unwrap();

    // Isolation: kept running, isolated and not ready in status, metrics
    // and the journal, its hook run; `tend restart` brings it back.
    let before = p.service("isolated")["pid"].as_u64().unwrap();
    std::fs::remove_file(p.path("isolated.ok")).unwrap();
    let isolated = p.wait_state("isolated", "isolated");
    assert_eq!(isolated["ready"], false);
    assert_eq!(isolated["pid"].as_u64(), Some(before));
    assert!(alive(before), "an isolated process keeps running");
    let (_, metrics) = curl(&p.path(".tend/tend.sock"), "GET", "/metrics", None);
    assert!(
        metrics
            .contains(r#"tend_child_state{supervisor="tend",child="isolated",state="isolated"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"tend_child_ready{supervisor="tend",child="isolated"} 0"#),
        "{metrics}"
    );
    let journal = p.ok(&["events", "--json", "--since", "1h"]);
    position(&journal, "isolated", "isolated");
    position(&journal, "not_ready", "isolated");
    p.wait_for("the isolate hook", || {
        p.read("isolate-hook.json").ends_with('\n')
    });
    let hook: serde_json::Value = serde_json::from_str(&p.read("isolate-hook.json")).unwrap();
    assert_eq!(
        (hook["hook"].as_str(), hook["service"].as_str()),
        (Some("isolate"), Some("isolated"))
    );

    std::fs::write(p.path("isolated.ok"), "").unwrap();
    p.ok(&["restart", "isolated"]);
    let back = p.wait_state("isolated", "running");
    assert_ne!(back["pid"].as_u64(), Some(before));
    p.wait_for("the old process to be gone", || !alive(before));
    assert_eq!(p.down(), 0);
}

#[test]
fn readyz_follows_every_service_with_a_readiness_condition() {
    let port = free_port();
    let mut p = Project::new(&format!(
        r#"
[api]
listen = "127.0.0.1:{port}"
token = "a-token-for-the-probe-test"

[services.web]
shell = "exec sleep 100"
readiness = {{ exec = ["test", "-e", "web.ok"], period = "200ms" }}

[services.job]
shell = "echo done"
ready = {{ log = "done" }}
restart = "on-failure"

[services.plain]
shell = "exec sleep 100"
"#
    ));
    p.up();
    // Its start waits for the probe's first pass.
    p.wait_state("web", "starting");
    p.wait_state("job", "completed");
    let socket = p.path(".tend/tend.sock");
    let readyz = || {
        let answer = request(&socket, "GET", "/readyz", None);
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        (answer.status, body)
    };
    // web's probe fails: not ready; job completed counts as ready; plain
    // has no condition and is not checked.
    let (status, body) = readyz();
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"ready": false, "checked": 2, "not_ready": 1, "not_ready_names": ["web"]}),
        "on the control socket, the instances not ready are named"
    );
    // `tend health` says the same through the socket, for exec probes.
    let health = |args: &[&str]| {
        let out = p.tend(args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        )
    };
    assert_eq!(
        health(&["health", "--ready"]),
        (
            Some(1),
            "not ready: 1 of 2 instances with a readiness condition: web (starting)".to_owned()
        )
    );
    assert_eq!(health(&["health"]), (Some(0), "ok".to_owned()));
    std::fs::write(p.path("web.ok"), "").unwrap();
    p.wait_for("readyz 200", || readyz().0 == 200);
    assert_eq!(
        health(&["health", "--ready"]),
        (
            Some(0),
            "ready (2 instances with a readiness condition)".to_owned()
        )
    );
    assert_eq!(p.service("web")["state"], "running");
    assert_eq!(
        readyz().1,
        serde_json::json!({"ready": true, "checked": 2, "not_ready": 0, "not_ready_names": []})
    );
    let health = request(&socket, "GET", "/healthz", None);
    assert_eq!(
        (health.status, health.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );

    // On TCP: the probes answer without the token; the API does not.
    let tcp = |path: &str| {
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(tcp("/healthz"), "200");
    assert_eq!(tcp("/readyz"), "200");
    assert_eq!(tcp("/v1/services"), "401");

    // The probe failing again, then an operator's stop: not ready.
    std::fs::remove_file(p.path("web.ok")).unwrap();
    p.wait_for("readyz 503 after the probe fails", || readyz().0 == 503);
    std::fs::write(p.path("web.ok"), "").unwrap();
    p.wait_for("readyz 200 again", || readyz().0 == 200);
    p.ok(&["stop", "web"]);
    assert_eq!(readyz().0, 503, "a stopped service is not ready");
    // On TCP, served without the token, counts only: no name.
    let body = std::process::Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{port}/readyz")])
        .output()
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body.stdout).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"ready": false, "checked": 2, "not_ready": 1})
    );
    let out = p.tend(&["health", "--ready"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("not ready: 1 of 2 instances with a readiness condition: web (")
            && !said.contains("running"),
        "{said}"
    );
    assert_eq!(p.down(), 0);
    // Nothing runs: not healthy, with the reason.
    let out = p.tend(&["health"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tend is not running here"));
}

/// `restart` answers once the new incarnation is ready; with `no_block`
/// at once; past its timeout with the state it reached. The service waits
/// for a file before it says it listens, so the test holds its readiness.
#[test]
fn a_restart_answers_once_the_service_is_ready_again() {
    let mut p = Project::new(
        r#"
[services.web]
shell = "while [ ! -e go ]; do sleep 0.05; done; echo listening; exec sleep 100"
ready = { log = "listening", timeout = "60s" }
"#,
    );
    std::fs::write(p.path("go"), "").unwrap();
    p.up();
    p.wait_for("web ready", || {
        let web = p.service("web");
        web["state"] == "running" && web["ready"] == true
    });
    let socket = p.path(".tend/tend.sock");

    // Held: the restart waits for readiness.
    std::fs::remove_file(p.path("go")).unwrap();
    let restart = {
        let socket = socket.clone();
        std::thread::spawn(move || request(&socket, "POST", "/v1/services/web/restart", None))
    };
    p.wait_for("the new incarnation starting", || {
        let web = p.service("web");
        web["state"] == "starting" && web["generation"] == 2
    });
    assert!(!restart.is_finished(), "answered before web was ready");
    std::fs::write(p.path("go"), "").unwrap();
    let answer = restart.join().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, r#"{"services":["web"]}"#);
    let web = p.service("web");
    assert_eq!(
        (&web["state"], &web["ready"], &web["generation"]),
        (&"running".into(), &true.into(), &2.into()),
        "ready when the answer came"
    );

    // `no_block`: answered once queued, the service still starting.
    std::fs::remove_file(p.path("go")).unwrap();
    let answer = request(
        &socket,
        "POST",
        "/v1/services/web/restart?no_block=true",
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    p.wait_for("generation 3 starting", || {
        let web = p.service("web");
        web["state"] == "starting" && web["generation"] == 3
    });

    // A timeout names the state reached; the restart goes on.
    let answer = request(
        &socket,
        "POST",
        "/v1/services/web/restart?timeout_s=1",
        None,
    );
    assert_eq!(answer.status, 504, "{}", answer.body);
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["error"]["code"], "timeout");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("restart web: not done after 1s: web is starting")
            && message.ends_with("the restart goes on"),
        "{message}"
    );
    std::fs::write(p.path("go"), "").unwrap();
    p.wait_for("generation 4 ready", || {
        let web = p.service("web");
        web["state"] == "running" && web["ready"] == true && web["generation"] == 4
    });

    // A bad option is refused with a reason.
    let answer = request(
        &socket,
        "POST",
        "/v1/services/web/restart?timeout_s=soon",
        None,
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("timeout_s"), "{}", answer.body);

    // The same from the command line, with systemctl's flags.
    let generation = |p: &Project| p.service("web")["generation"].as_u64().unwrap();
    let starting = |p: &Project, n: u64| {
        let web = p.service("web");
        web["state"] == "starting" && web["generation"] == n
    };
    std::fs::remove_file(p.path("go")).unwrap();
    let before = generation(&p);
    assert_eq!(
        p.ok(&["restart", "--no-block", "web"]),
        "restart queued: web\n"
    );
    p.wait_for("the queued restart", || starting(&p, before + 1));
    let out = p.tend(&["restart", "--timeout", "1s", "web"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("tend: restart web: not done after 1s: web is starting")
            && err.trim_end().ends_with("the restart goes on"),
        "{err}"
    );
    let held = before + 2;
    std::thread::scope(|scope| {
        let blocking = scope.spawn(|| p.tend(&["restart", "web"]));
        p.wait_for("the blocking restart's incarnation", || {
            starting(&p, held + 1)
        });
        assert!(
            !blocking.is_finished(),
            "`tend restart` returned before web was ready"
        );
        std::fs::write(p.path("go"), "").unwrap();
        let out = blocking.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "restart: web\n");
        let web = p.service("web");
        assert_eq!(
            (&web["state"], &web["ready"]),
            (&"running".into(), &true.into())
        );
    });
    p.down();
}

#[test]
fn every_readiness_condition_must_hold_and_a_probe_does_not_wait_a_period() {
    let mut p = Project::new(
        r#"
[services.db]
shell = "echo listening; exec sleep 1000"
ready = { log = "listening" }
readiness = { exec = ["test", "-e", "go"], period = "10s" }

[services.app]
shell = "exec sleep 1000"
depends_on = { db = "ready" }

[services.quick]
shell = "sleep 0.3; touch quick-up; exec sleep 1000"
readiness = { exec = ["test", "-e", "quick-up"], period = "10s" }
"#,
    );
    p.up();
    // Its log line came, its probe does not pass: not ready, and what
    // waits for it waits.
    p.wait_for("db's line", || p.ok(&["logs", "db"]).contains("listening"));
    p.wait_state("db", "starting");
    let app = p.service("app");
    assert_eq!(app["state"], "pending", "{app}");
    assert_eq!(p.service("db")["ready"], false);
    std::fs::write(p.path("go"), "").unwrap();
    let t0 = std::time::Instant::now();
    p.wait_for("db ready", || p.service("db")["ready"] == true);
    p.wait_state("app", "running");
    // Retried soon after its first failures: well within one 10 s period.
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        t0.elapsed()
    );
    p.wait_for("quick ready", || p.service("quick")["ready"] == true);
    let quick = p.service("quick");
    assert!(
        quick["uptime_s"].as_f64().unwrap() < 8.0,
        "ready a period late: {quick}"
    );
    p.down();
}
