//! `tend upgrade`: the daemon becomes another binary by `exec` and every
//! service goes on: the same processes (same pids, grandchildren too), no
//! log line lost, twice or torn (a line half-written across the handover
//! is joined), a notify socket still heard, a completed job not run again,
//! an operator's stop kept, supervision going on for the adopted processes
//! (a kill is seen with its signal and restarted). A service removed from
//! the config meanwhile is stopped; one added is started. A binary that
//! fails its own check of the config changes nothing.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{alive, Project};
use serde_json::Value;

/// `chat` writes numbered lines "TAG PID SEQ", and so does a grandchild
/// it forks (tag `g`), each line one `write` of the shell's `echo`.
fn config(with_gone: bool) -> String {
    let gone = if with_gone {
        "[services.gone]\nshell = \"exec sleep 1000\"\n"
    } else {
        "[services.fresh]\nshell = \"exec sleep 1000\"\n"
    };
    format!(
        r#"
[services.chat]
shell = "(k=0; while true; do k=$((k+1)); echo \"g $$ $k\"; sleep 0.002; done) & echo $! > grandchild.pid; i=0; while true; do i=$((i+1)); echo \"main $$ $i\"; sleep 0.002; done"

[services.setup]
shell = "echo ran >> setup.runs"
restart = "never"

[services.web]
shell = "exec sleep 1000"
depends_on = {{ setup = "completed" }}

[services.idle]
shell = "exec sleep 1000"

[services.half]
shell = "printf 'half-'; while [ ! -e go ]; do sleep 0.02; done; echo line; exec sleep 1000"

[services.notified]
shell = "systemd-notify --ready; i=0; while true; do i=$((i+1)); systemd-notify --status=tick-$i WATCHDOG=1; sleep 0.05; done"
ready = {{ notify = true }}
watchdog = "2s"

{gone}
"#
    )
}

fn pids(p: &Project) -> BTreeMap<String, u64> {
    p.status()
        .into_iter()
        .filter_map(|s| Some((s["name"].as_str()?.to_owned(), s["pid"].as_u64()?)))
        .collect()
}

fn daemon_info(p: &Project) -> Value {
    let answer = common::request(&p.path(".tend/tend.sock"), "GET", "/v1/daemon", None);
    serde_json::from_str(&answer.body).unwrap()
}

fn events_of(events: &str, kind: &str) -> Vec<Value> {
    events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == kind)
        .collect()
}

fn tick(p: &Project) -> u64 {
    p.service("notified")["status_text"]
        .as_str()
        .and_then(|t| t.strip_prefix("tick-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Lines of `chat.log` per process: (lines, every sequence 1..=n once and
/// in order).
fn chat_lines(p: &Project) -> BTreeMap<String, (usize, bool)> {
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in p.read(".tend/logs/chat.log").lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "a torn line: {line:?}");
        seen.entry(format!("{} {}", parts[0], parts[1]))
            .or_default()
            .push(parts[2].parse().expect("a sequence number"));
    }
    seen.into_iter()
        .map(|(who, seqs)| {
            let whole = seqs.iter().enumerate().all(|(i, &s)| s == i as u64 + 1);
            (who, (seqs.len(), whole))
        })
        .collect()
}

#[test]
fn an_upgrade_keeps_every_process_and_every_line() {
    upgrade_keeps_everything(&[]);
}

#[test]
fn an_upgrade_without_cgroups_keeps_every_process_and_every_line() {
    upgrade_keeps_everything(&[("TEND_CGROUP", "off")]);
}

fn upgrade_keeps_everything(env: &[(&str, &str)]) {
    let mut p = Project::new(&config(true));
    p.up_with(env);
    for name in ["chat", "web", "idle", "half", "notified", "gone"] {
        p.wait_state(name, "running");
    }
    p.wait_state("setup", "completed");
    p.ok(&["stop", "idle"]);
    p.wait_state("idle", "shutdown");
    p.wait_for("a notify status", || tick(&p) > 0);
    let daemon = p.daemon.as_ref().unwrap().id();
    let before = pids(&p);
    let gone = before["gone"];
    p.wait_for("the grandchild's pid", || {
        !p.read("grandchild.pid").is_empty()
    });
    let grandchild: u64 = p.read("grandchild.pid").trim().parse().unwrap();

    // A new binary, and a config without `gone` and with `fresh`.
    let binary = p.path("tend-new");
    std::fs::copy(env!("CARGO_BIN_EXE_tend"), &binary).unwrap();
    p.write_config(&config(false));
    let said = p.ok(&["upgrade", "--binary", binary.to_str().unwrap()]);
    assert!(said.contains("upgraded"), "{said}");

    // The same daemon process, now running the new binary.
    assert_eq!(daemon_info(&p)["pid"], daemon);
    assert_eq!(daemon_info(&p)["upgrades"], 1);
    assert_eq!(
        std::fs::read_link(format!("/proc/{daemon}/exe")).unwrap(),
        binary
    );
    // It still holds the state directory's lock, and no service does.
    let again = p.tend(&["up", "-d"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(&format!("already running (pid {daemon})")),
        "{again:?}"
    );
    let lock = std::fs::canonicalize(p.path(".tend/tend.lock")).unwrap();
    for pid in pids(&p).values().chain([&grandchild]) {
        let holds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).ok().as_deref() == Some(lock.as_path()));
        assert!(!holds, "pid {pid} holds tend.lock");
    }
    // Every process kept; the removed service stopped, the new one started.
    let after = pids(&p);
    for name in ["chat", "web", "half", "notified"] {
        assert_eq!(after.get(name), before.get(name), "{name} kept its process");
    }
    assert!(alive(grandchild), "chat's grandchild kept");
    p.wait_for("gone to be stopped", || !alive(gone));
    p.wait_state("fresh", "running");
    // At rest stays at rest: the job did not run again, the stop holds, and
    // the job's dependent was not failed for it.
    assert_eq!(p.service("setup")["state"], "completed");
    assert_eq!(p.read("setup.runs"), "ran\n");
    assert_eq!(p.service("idle")["state"], "shutdown");
    assert_eq!(p.service("web")["state"], "running");

    // The notify socket is still heard.
    let at_upgrade = tick(&p);
    p.wait_for("notify ticks after the upgrade", || {
        tick(&p) > at_upgrade + 3
    });
    assert_eq!(
        p.service("notified")["pid"].as_u64(),
        Some(before["notified"]),
        "heard by the same process (not a restart after its watchdog fired)"
    );
    // A line half-written before the handover is finished after it.
    std::fs::write(p.path("go"), "").unwrap();
    p.wait_for("the half line", || {
        p.read(".tend/logs/half.log").contains("half-line\n")
    });
    assert_eq!(p.read(".tend/logs/half.log"), "half-line\n");
    // No chat line lost, doubled or torn, across the handover.
    let counted = chat_lines(&p);
    let total = |c: &BTreeMap<String, (usize, bool)>| c.values().map(|v| v.0).sum::<usize>();
    let at_check = total(&counted);
    p.wait_for("chat lines after the upgrade", || {
        total(&chat_lines(&p)) > at_check + 200
    });
    let counted = chat_lines(&p);
    assert_eq!(
        counted.len(),
        2,
        "one main process and one grandchild: {counted:?}"
    );
    assert!(counted.values().all(|&(_, whole)| whole), "{counted:?}");

    // Supervision goes on: a kill of an adopted process is seen as such.
    Command::new("kill")
        .args(["-KILL", &before["web"].to_string()])
        .status()
        .unwrap();
    p.wait_for("web restarted", || {
        let web = p.service("web");
        web["state"] == "running" && web["pid"].as_u64() != Some(before["web"])
    });
    assert_eq!(p.service("web")["last_exit"]["signal"], "SIGKILL");

    // Journaled: which processes were kept and which stopped.
    let events = p.ok(&["events", "--json", "--since", "1h"]);
    let upgraded = events_of(&events, "upgraded");
    assert_eq!(upgraded.len(), 1, "{events}");
    let mut kept: Vec<&str> = upgraded[0]["kept"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    kept.sort_unstable();
    assert_eq!(kept, ["chat", "half", "notified", "web"]);
    let stopped = events_of(&events, "leftover_stopped");
    assert_eq!(stopped.len(), 1, "{events}");
    assert_eq!(stopped[0]["service"], "gone");
    assert_eq!(stopped[0]["pids"], serde_json::json!([gone]));
    p.ok(&["journal", "verify"]);
    assert_eq!(p.down(), 0);
    for pid in after.values() {
        assert!(!alive(*pid), "pid {pid} left after tend down");
    }
    assert!(!alive(grandchild));
}

#[test]
fn a_binary_that_refuses_the_config_changes_nothing() {
    let mut p = Project::new("[services.web]\nshell = \"exec sleep 1000\"\n");
    p.up();
    let web = p.wait_state("web", "running")["pid"].as_u64().unwrap();
    let out = p.tend(&["upgrade", "--binary", "/bin/false"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("/bin/false cannot take over"), "{said}");
    // A program that accepts any arguments is not taken for tend.
    let out = p.tend(&["upgrade", "--binary", "/bin/true"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("not tend: `--version` said \"true (GNU coreutils)"),
        "{said}"
    );
    // A binary anyone may change is not one tend becomes.
    let writable = p.path("tend-writable");
    std::fs::copy(env!("CARGO_BIN_EXE_tend"), &writable).unwrap();
    Command::new("chmod")
        .args(["0777", writable.to_str().unwrap()])
        .status()
        .unwrap();
    let out = p.tend(&["upgrade", "--binary", writable.to_str().unwrap()]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("writable by its group or others (mode 777)"),
        "{said}"
    );
    // A binary whose check of the config fails: a config it cannot parse.
    let checker = p.path("old-tend.sh");
    std::fs::write(&checker, "#!/bin/sh\n[ \"$1\" = --version ] && echo 'tend 0.0.1' && exit 0\necho 'tend.toml:1:1: unknown field' >&2\nexit 1\n").unwrap();
    Command::new("chmod")
        .args(["+x", checker.to_str().unwrap()])
        .status()
        .unwrap();
    let out = p.tend(&["upgrade", "--binary", checker.to_str().unwrap()]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("its check of the config failed: tend.toml:1:1: unknown field"),
        "{said}"
    );
    assert_eq!(daemon_info(&p)["upgrades"], 0);
    assert_eq!(p.service("web")["pid"].as_u64(), Some(web));
    assert_eq!(p.down(), 0);
}
