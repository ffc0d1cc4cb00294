//! The operator queue as an outsider drives it: commands from several
//! clients at once, commands interrupted by others, a shutdown behind a
//! queue of slow commands, groups where one part fails, and the board
//! after reloads that remove what it showed.

mod common;

use std::time::{Duration, Instant};

use common::Project;
use serde_json::Value;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn concurrent_restarts_of_one_service_all_succeed() {
    let mut p = Project::new(
        r#"
[services.steady]
shell = "exec sleep 1000"
"#,
    );
    p.up();
    p.wait_state("steady", "running");
    let outs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| p.tend(&["restart", "steady"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        assert!(out.status.success(), "{}", stderr(out));
    }
    let steady = p.wait_state("steady", "running");
    assert!(steady["generation"].as_u64().unwrap() >= 2, "{steady}");
    p.down();
}

#[test]
fn a_restart_cut_short_by_a_kill_is_answered_at_once() {
    let mut p = Project::new(
        r#"
[services.slow]
shell = "if [ -e started ]; then sleep 30; fi; touch started; echo READY; exec sleep 1000"
ready = { log = "READY" }
restart = "never"
"#,
    );
    p.up();
    p.wait_for("slow ready", || p.service("slow")["ready"] == true);
    std::thread::scope(|scope| {
        let restart = scope.spawn(|| p.tend(&["restart", "slow"]));
        p.wait_for("the new incarnation", || {
            p.service("slow")["generation"] == 2
        });
        p.ok(&["kill", "slow"]);
        let t0 = Instant::now();
        let out = restart.join().unwrap();
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("restart slow"), "{}", stderr(&out));
    });
    p.down();
}

#[test]
fn tend_down_is_not_held_behind_queued_commands_and_starts_nothing() {
    let mut p = Project::new(
        r#"
[supervisor]
shutdown_timeout = "60s"

[services.stubborn]
shell = "trap '' TERM; echo up; while true; do sleep 0.1; done"
stop = { timeout = "2s" }
"#,
    );
    p.up();
    let first = p.wait_state("stubborn", "running")["pid"].as_u64().unwrap();
    for _ in 0..3 {
        p.ok(&["restart", "--no-block", "stubborn"]);
    }
    let t0 = Instant::now();
    p.ok(&["down"]);
    assert_eq!(p.wait_exit(), 0);
    // The restart under way waits out one stop (2 s); the queued ones are
    // called off, and what it started, if anything, is stopped once.
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(8), "tend down took {took:?}");
    let events = p.ok(&["events", "--json", "--since", "1h"]);
    let entries: Vec<Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let shutdown = entries
        .iter()
        .position(|e| e["kind"] == "command" && e["action"] == "shutdown")
        .expect("the shutdown is journaled");
    let started_after = entries[shutdown..]
        .iter()
        .filter(|e| e["kind"] == "started")
        .count();
    assert_eq!(
        started_after, 0,
        "nothing starts once shutdown is asked: {events}"
    );
    assert!(!common::alive(first));
}

#[test]
fn start_answers_what_it_achieved_and_a_group_says_its_failed_part() {
    let mut p = Project::new(
        r#"
[services.ok]
shell = "exec sleep 1000"

[services.bad]
shell = "exit 3"
ready = { log = "never printed" }
backoff = { initial = "5s", max = "5s" }

[groups.g]
services = ["ok", "bad"]
"#,
    );
    p.up();
    p.wait_state("ok", "running");
    p.wait_for("bad to back off", || {
        p.service("bad")["failures"].as_u64().unwrap_or(0) >= 1
    });
    // Starting what cannot start fails, saying why; it is not `start: bad`.
    let out = p.tend(&["start", "--timeout", "3s", "bad"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // A group where one part fails: exit 1, naming both.
    let out = p.tend(&["restart", "--timeout", "3s", "g"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("bad"), "{err}");
    p.down();
}

#[test]
fn the_board_forgets_what_a_reload_removed() {
    let mut p = Project::new(
        r#"
[services.web]
shell = "exit 1"
replicas = 3

[services.keep]
shell = "exec sleep 1000"
"#,
    );
    p.up();
    p.wait_for("web to restart", || {
        p.service("web.1")["restarts"].as_u64().unwrap_or(0) >= 1
    });
    p.write_config(
        r#"
[services.web]
shell = "exec sleep 1000"
replicas = 2

[services.keep]
shell = "exec sleep 1000"
"#,
    );
    p.ok(&["reload"]);
    p.wait_state("web.1", "running");
    p.wait_state("web.2", "running");
    let ps = p.ok(&["ps"]);
    assert!(!ps.contains("web.3"), "{ps}");
    let web1 = p.service("web.1");
    assert_eq!(
        web1["restarts"], 0,
        "a replaced service starts afresh: {web1}"
    );

    // Removed, then added again: no ghost of its old replicas.
    p.write_config(
        r#"
[services.keep]
shell = "exec sleep 1000"
"#,
    );
    p.ok(&["reload"]);
    p.write_config(
        r#"
[services.web]
shell = "exec sleep 1000"

[services.keep]
shell = "exec sleep 1000"
"#,
    );
    p.ok(&["reload"]);
    p.wait_state("web", "running");
    let ps = p.ok(&["ps"]);
    assert!(!ps.contains("web.1") && !ps.contains("web.2"), "{ps}");
    p.down();
}

#[test]
fn every_command_refuses_a_name_that_is_no_service() {
    let mut p = Project::new(
        r#"
[services.a]
shell = "exec sleep 1000"
"#,
    );
    p.up();
    p.wait_state("a", "running");
    for args in [
        &["status", ""][..],
        &["status", "a,a"],
        &["logs", ""],
        &["events", "nosuch"],
        &["events", ""],
        &["restart", ""],
    ] {
        let out = p.tend(args);
        let err = stderr(&out);
        // `tend status` exits as `systemctl status`: 4, no such service.
        let code = if args[0] == "status" { 4 } else { 1 };
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains("no service called"), "{args:?}: {err}");
    }
    p.down();
}

#[test]
fn a_dependency_restarted_or_stopped_and_started_takes_what_binds_to_it_along() {
    let mut p = Project::new(
        r#"
[services.db]
shell = "sleep 0.3; echo accepting connections; exec sleep 1000"
ready = { log = "accepting connections" }

[services.app]
shell = "exec sleep 1000"
depends_on = { db = "ready" }
binds_to = true

[services.loose]
shell = "exec sleep 1000"
depends_on = { db = "ready" }
"#,
    );
    p.up();
    p.wait_state("app", "running");
    let loose = p.wait_state("loose", "running")["pid"].clone();

    let out = p.ok(&["restart", "db"]);
    assert_eq!(out, "restart: db; also restarted: app (binds to db)\n");
    // Answered once app is back too.
    let app = p.service("app");
    assert_eq!(
        (&app["state"], &app["generation"]),
        (&"running".into(), &2.into()),
        "{app}"
    );
    assert_eq!(p.service("loose")["pid"], loose, "what does not bind stays");

    let out = p.ok(&["stop", "db"]);
    assert_eq!(out, "stop: db; also stopped: app (binds to db)\n");
    let app = p.service("app");
    assert_eq!(app["state"], "pending", "waits for db: {app}");
    assert_eq!(app["waiting_for"][0]["service"], "db", "{app}");

    let out = p.ok(&["start", "db"]);
    assert_eq!(out, "start: db; also started: app (binds to db)\n");
    let app = p.service("app");
    assert_eq!(
        (&app["state"], &app["generation"]),
        (&"running".into(), &3.into()),
        "{app}"
    );
    p.down();
}

#[test]
fn a_reload_restarts_what_binds_to_a_changed_service_and_says_why() {
    let config = |version: &str| {
        format!(
            r#"
[services.app]
shell = "exec sleep 1000"
env = {{ VERSION = "{version}" }}

[services.nginx]
shell = "exec sleep 1000"
depends_on = {{ app = "started" }}
binds_to = true

[services.other]
shell = "exec sleep 1000"
"#
        )
    };
    let mut p = Project::new(&config("1"));
    p.up();
    p.wait_state("nginx", "running");
    let other = p.wait_state("other", "running")["pid"].clone();
    p.write_config(&config("2"));
    let plan = p.ok(&["reload"]);
    assert!(
        plan.contains("restarted: nginx, because it binds to app, which changed"),
        "{plan}"
    );
    p.wait_for("nginx back", || {
        let nginx = p.service("nginx");
        nginx["state"] == "running" && nginx["generation"] == 2
    });
    assert_eq!(
        p.service("other")["pid"],
        other,
        "unbound and unchanged: untouched"
    );
    p.down();
}
