//! `tend up` after the daemon was killed with SIGKILL: what the killed run
//! left running (services, their grandchildren, one that ignores SIGTERM)
//! is found and stopped before anything starts again, so no service ever
//! runs twice and none runs unknown. Found by cgroup, and without cgroups
//! by the pids the journal recorded.

mod common;

use std::process::Command;

use common::{alive, Project};

/// Services marked with `TEND_TEST_MARK` in their environment, so the
/// test can count every process of this project, grandchildren included.
fn config(mark: &str) -> String {
    format!(
        r#"
[services.sleeper]
shell = "sleep 1000 & echo $! > grandchild.pid; exec sleep 1000"
env = {{ TEND_TEST_MARK = "{mark}" }}

[services.stubborn]
shell = "trap '' TERM; exec sleep 1000"
env = {{ TEND_TEST_MARK = "{mark}" }}
stop = {{ timeout = "1s" }}

[services.web]
shell = "exec sleep 1000"
env = {{ TEND_TEST_MARK = "{mark}" }}
replicas = 2
"#
    )
}

/// The live processes whose environment holds `mark`.
fn marked(mark: &str) -> Vec<u64> {
    let needle = format!("TEND_TEST_MARK={mark}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .filter(|&pid| alive(pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
        })
        .collect()
}

/// Kills every marked process when dropped: a failed test leaves none
/// behind (after the daemon's `kill -9`, nothing else would).
struct Sweep(String);

impl Drop for Sweep {
    fn drop(&mut self) {
        for pid in marked(&self.0) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

fn pid_of(p: &Project, name: &str) -> u64 {
    p.wait_state(name, "running")["pid"].as_u64().unwrap()
}

fn killed_daemon_leaves_nothing_behind(env: &[(&str, &str)]) {
    let mark = format!("recovery-{}-{}", std::process::id(), env.len());
    let _sweep = Sweep(mark.clone());
    let mut p = Project::new(&config(&mark));
    p.up_with(env);
    let old: Vec<u64> = ["sleeper", "stubborn", "web.1", "web.2"]
        .iter()
        .map(|name| pid_of(&p, name))
        .collect();
    p.wait_for("the grandchild's pid", || {
        !p.read("grandchild.pid").is_empty()
    });
    let grandchild: u64 = p.read("grandchild.pid").trim().parse().unwrap();
    // Four services and a grandchild.
    p.wait_for("five marked processes", || marked(&mark).len() == 5);

    p.kill_9();
    for &pid in old.iter().chain([&grandchild]) {
        assert!(alive(pid), "{pid} died with the daemon: nothing to recover");
    }

    p.up_with(env);
    // The old processes are gone before the new ones exist: never twice.
    for &pid in old.iter().chain([&grandchild]) {
        assert!(!alive(pid), "{pid}, left by the killed run, still runs");
    }
    let new: Vec<u64> = ["sleeper", "stubborn", "web.1", "web.2"]
        .iter()
        .map(|name| pid_of(&p, name))
        .collect();
    assert!(new.iter().all(|pid| !old.contains(pid)), "{old:?} {new:?}");
    p.wait_for("a new grandchild", || {
        p.read("grandchild.pid").trim().parse::<u64>().ok() != Some(grandchild)
    });
    p.wait_for("exactly the five new processes", || {
        marked(&mark).len() == 5
    });

    // Each leftover is in the journal: the stubborn one killed after its
    // stop timeout, the others stopped by their signal.
    let events = p.ok(&["events", "--json"]);
    let rows: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|entry| entry["kind"] == "leftover_stopped")
        .collect();
    assert_eq!(rows.len(), 4, "one row per service: {events}");
    let how = |service: &str| {
        rows.iter()
            .find(|entry| entry["service"] == service)
            .map(|entry| entry["how"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no leftover row for {service}: {events}"))
    };
    assert_eq!(how("stubborn"), "killed");
    assert_eq!(how("sleeper"), "stopped");
    assert_eq!(how("web.1"), "stopped");
    assert_eq!(how("web.2"), "stopped");
    let verified = p.ok(&["journal", "verify"]);
    assert!(verified.starts_with("journal ok"), "{verified}");

    // A clean end leaves nothing, and the next start finds nothing to stop.
    assert_eq!(p.down(), 0);
    assert!(marked(&mark).is_empty(), "{:?}", marked(&mark));
    assert!(!p.path(".tend/daemon.json").exists());
}

#[test]
fn a_killed_daemon_s_services_are_stopped_by_cgroup_before_a_new_start() {
    killed_daemon_leaves_nothing_behind(&[]);
}

#[test]
fn a_killed_daemon_s_services_are_stopped_by_journal_without_cgroups() {
    killed_daemon_leaves_nothing_behind(&[("TEND_CGROUP", "off")]);
}
