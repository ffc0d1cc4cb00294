//! A container service under the `tend` program, run by a real podman on a
//! local root filesystem; and a container no runtime can run refused by
//! `tend check` and `tend up` before anything starts.

mod common;
#[path = "../../tend-testkit/tests/common/rootfs.rs"]
mod rootfs;

use std::process::Command;

use common::*;
use rootfs::{podman_state, rootfs};

/// The names of podman's containers for `project`'s service `name`,
/// whatever their state. Only this project's scope: another run's
/// containers (a test run beside this one, one a failed run left) are
/// not this test's.
fn containers_of(project: &Project, name: &str) -> Vec<String> {
    let file = project.path("tend.toml").canonicalize().unwrap();
    let scope = tend_config::container_scope(&file);
    let out = Command::new("podman")
        .args(["ps", "--all", "--format", "{{.Names}}", "--filter"])
        .arg(format!("label=io.tend.scope={scope}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|n| *n == format!("tend-{scope}-{name}"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_container_service_runs_under_tend_and_stops_through_its_runtime() {
    if !suite::runs("containers", rootfs::missing) {
        return;
    }
    let mut p = Project::new(&format!(
        r#"[services.cli-box]
container = {{ rootfs = "{}", network = "none" }}
shell = "trap 'echo got TERM; exit 0' TERM; trap 'echo got HUP' HUP; echo box up as $$; while true; do sleep 0.1; done"
ready = {{ log = "box up" }}

[services.cli-host]
shell = "exec sleep 100"
depends_on = {{ cli-box = "ready" }}
"#,
        rootfs().display()
    ));
    assert!(p.ok(&["check"]).contains("ok (2 services"));
    p.up();
    p.wait_state("cli-host", "running");
    assert_eq!(p.service("cli-box")["ready"], true);
    let names = containers_of(&p, "cli-box");
    assert_eq!(names.len(), 1, "{names:?}");
    let name = &names[0];
    assert!(name.len() > "tend--cli-box".len(), "scoped: {name}");
    assert_eq!(podman_state(name).as_deref(), Some("running"));
    assert!(p.ok(&["logs", "cli-box"]).contains("box up as 1"));
    // The pid shown is the container's main process (the host's view of
    // its PID 1), so a signal reaches inside.
    p.wait_for("the container's main process as its pid", || {
        let pid = p.service("cli-box")["pid"].as_u64().unwrap_or(0);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline).contains("box up as")
    });
    p.ok(&["signal", "HUP", "cli-box"]);
    p.wait_for("the signal to reach inside", || {
        p.ok(&["logs", "cli-box"]).contains("got HUP")
    });

    p.ok(&["stop", "cli-box"]);
    p.wait_state("cli-box", "shutdown");
    assert_eq!(podman_state(name), None, "removed once stopped");
    p.wait_for("its log to show the stop signal", || {
        p.ok(&["logs", "cli-box"]).contains("got TERM")
    });
    p.ok(&["start", "cli-box"]);
    p.wait_state("cli-box", "running");
    assert_eq!(podman_state(name).as_deref(), Some("running"));
    assert_eq!(p.down(), 0);
    assert_eq!(podman_state(name), None, "removed at shutdown");
}

#[test]
fn a_container_no_runtime_can_run_is_refused_before_anything_starts() {
    let p = Project::new(
        "[services.ok]\nshell = \"exec sleep 100\"\n\n[services.cache]\ncontainer = { image = \"redis:7\" }\n",
    );
    // A PATH with neither podman nor docker on it.
    let empty = p.path("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    for args in [&["check"][..], &["up"], &["up", "-d"]] {
        let out = p
            .command(env!("CARGO_BIN_EXE_tend"))
            .args(args)
            .env("PATH", &empty)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "tend {args:?}: {err}");
        assert!(
            err.contains(
                "tend.toml:5:13: backend not available: container: no container runtime works here: \
                 podman: not found on PATH; docker: not found on PATH"
            ),
            "tend {args:?}: {err}"
        );
        assert!(err.contains("nothing was started"), "tend {args:?}: {err}");
        assert!(
            !p.path(".tend/tend.sock").exists(),
            "no daemon for {args:?}"
        );
    }
}

#[test]
fn a_container_a_killed_tend_left_is_removed_by_the_next_run() {
    if !suite::runs("containers", rootfs::missing) {
        return;
    }
    let boxed = format!(
        r#"[services.orphan-box]
container = {{ rootfs = "{}", network = "none" }}
shell = "echo box up; while true; do sleep 0.1; done"
ready = {{ log = "box up" }}
"#,
        rootfs().display()
    );
    let mut p = Project::new(&format!(
        "{boxed}\n[services.plain]\nshell = \"exec sleep 100\"\n"
    ));
    p.up();
    p.wait_state("orphan-box", "running");
    let names = containers_of(&p, "orphan-box");
    assert_eq!(names.len(), 1, "{names:?}");
    let name = names[0].clone();
    p.kill_9();
    // The runtime keeps it running without tend.
    assert_eq!(podman_state(&name).as_deref(), Some("running"));
    // The next run no longer has the service: it is removed all the same,
    // and journaled, before anything starts.
    p.write_config("[services.plain]\nshell = \"exec sleep 100\"\n");
    p.up();
    assert_eq!(podman_state(&name), None, "removed by the next run");
    let events = p.ok(&["events", "--json"]);
    assert!(
        events.lines().any(|l| l.contains("\"leftover_stopped\"")
            && l.contains("\"orphan-box\"")
            && l.contains("\"container removed\"")),
        "{events}"
    );
    // Its runtime client ended with its container, not after a stop
    // timeout (the container's PID 1 ignores the SIGTERM it forwards).
    assert!(!events.contains("\"how\":\"killed\""), "{events}");
    assert_eq!(p.down(), 0);
}
