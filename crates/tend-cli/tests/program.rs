//! The real `tend` binary, real configs, real processes: up, status,
//! stop/start/restart, signal, logs, events, reload, down, the journal.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{alive, curl, Project};
use serde_json::Value;

const SERVICES: &str = r#"
[services.steady]
shell = "trap 'echo got usr1' USR1; echo steady up; while true; do sleep 0.2; done"

[services.pair]
shell = "while true; do sleep 1; done"
replicas = 2

[services.flaky]
shell = "echo flaky run; exit 3"
backoff = { initial = "50ms", max = "1s" }

[services.once]
shell = "echo once done"
restart = "never"
"#;

#[test]
fn up_status_control_and_down() {
    let mut p = Project::new(SERVICES);
    p.up();

    // Status: the contract's fields and names.
    let steady = p.wait_state("steady", "running");
    for field in [
        "name",
        "state",
        "pid",
        "restarts",
        "generation",
        "failures",
        "uptime_s",
        "last_exit",
    ] {
        assert!(steady.get(field).is_some(), "status has {field}: {steady}");
    }
    let pid = steady["pid"].as_u64().unwrap();
    assert!(alive(pid));
    p.wait_state("pair.1", "running");
    p.wait_state("pair.2", "running");
    p.wait_for("flaky to restart", || {
        p.service("flaky")["restarts"].as_u64().unwrap() >= 2
    });
    let flaky = p.service("flaky");
    assert_eq!(flaky["last_exit"]["code"], 3, "{flaky}");
    assert_eq!(flaky["last_exit"]["class"], "abnormal");
    assert!(flaky["failures"].as_u64().unwrap() >= 2);
    let once = p.wait_state("once", "completed");
    assert_eq!(once["last_exit"]["code"], 0, "{once}");

    // The table and its count line.
    let table = p.ok(&["status"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.contains("steady") && table.contains("pair.2"),
        "{table}"
    );
    assert!(
        table.lines().last().unwrap().starts_with("5 services: "),
        "{table}"
    );

    // Stop, start, restart.
    p.ok(&["stop", "steady"]);
    let stopped = p.wait_state("steady", "shutdown");
    assert_eq!(stopped["pid"], Value::Null);
    assert!(!alive(pid), "the stopped process is gone");
    p.ok(&["start", "steady"]);
    let started = p.wait_state("steady", "running");
    let new_pid = started["pid"].as_u64().unwrap();
    assert_ne!(new_pid, pid);
    let before: Vec<u64> = ["pair.1", "pair.2"]
        .iter()
        .map(|n| p.service(n)["pid"].as_u64().unwrap())
        .collect();
    p.ok(&["restart", "pair"]);
    for (name, old) in ["pair.1", "pair.2"].iter().zip(&before) {
        p.wait_for(&format!("{name} restarted"), || {
            let s = p.service(name);
            s["state"] == "running" && s["pid"].as_u64() != Some(*old)
        });
    }

    // A signal reaches the process; its output reaches the log.
    p.ok(&["signal", "SIGUSR1", "steady"]);
    p.wait_for("the trap to run", || {
        p.ok(&["logs", "steady", "-n", "5"]).contains("got usr1")
    });

    // Bad names and signals: exit 1 and a message.
    let out = p.tend(&["restart", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no service called \"nope\""));
    let out = p.tend(&["signal", "SIGNOPE", "steady"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown signal"));
    // `tend status` exits as `systemctl status`: 4, no such service.
    let out = p.tend(&["status", "ghost"]);
    assert_eq!(out.status.code(), Some(4));

    // Names reach the daemon whole, however awkward: each travels as one
    // path segment or query value, and only the daemon resolves it.
    for name in [
        "a b/c?d#e",
        "..",
        "x%2Fy",
        "steady&services=pair",
        "café",
        "steady/stop",
    ] {
        let commands: [&[&str]; 5] = [
            &["restart", name],
            &["stop", "--no-block", name],
            &["signal", "HUP", name],
            &["status", name],
            &["logs", name],
        ];
        for args in commands {
            let out = p.tend(args);
            let err = String::from_utf8_lossy(&out.stderr);
            let code = if args[0] == "status" { 4 } else { 1 };
            assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
            assert!(
                err.contains(&format!("no service called {name:?}")),
                "{args:?}: {err}"
            );
        }
    }
    assert_eq!(
        p.service("steady")["state"],
        "running",
        "no awkward name reached it"
    );
    // A service's replicas and several names, resolved by the daemon and
    // listed in the tree's order.
    let chosen: Vec<Value> =
        serde_json::from_str(&p.ok(&["status", "--json", "pair", "steady"])).unwrap();
    let names: Vec<&str> = chosen.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["steady", "pair.1", "pair.2"]);

    // The tree with pids.
    let ps = p.ok(&["ps"]);
    assert!(
        ps.contains("▾ tend") && ps.contains("▾ pair") && ps.contains(&format!("pid {new_pid}")),
        "{ps}"
    );

    assert_eq!(p.down(), 0, "a clean shutdown exits 0");
    assert!(!alive(new_pid));
    assert!(!p.path(".tend/tend.sock").exists());
    // The console tells processes' exits, not the replica supervisor's.
    let console = p.read("up.err");
    assert!(
        console
            .lines()
            .any(|l| l.contains(" pair.1 (pid ") && l.contains(": shutdown")),
        "{console}"
    );
    assert!(!console.contains(" pair exited"), "{console}");

    // The journal kept it all, and verifies.
    let verified = p.ok(&["journal", "verify"]);
    assert!(verified.starts_with("journal ok"), "{verified}");
}

#[test]
fn logs_and_events_follow() {
    let mut p = Project::new(
        r#"
[services.talker]
shell = "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.05; done"
"#,
    );
    p.up();
    let mut logs = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["logs", "-f", "-n", "1", "talker"])
        .current_dir(p.dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(logs.stdout.take().unwrap()).lines();
    let first: u64 = lines
        .next()
        .unwrap()
        .unwrap()
        .trim_start_matches("line ")
        .parse()
        .unwrap();
    // New lines keep coming, in order.
    for expected in first + 1..first + 20 {
        let line = lines.next().unwrap().unwrap();
        assert_eq!(line, format!("line {expected}"));
    }
    logs.kill().unwrap();
    let _ = logs.wait();

    let mut events = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["events", "-f", "--json"])
        .current_dir(p.dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (line_tx, line_rx) = std::sync::mpsc::channel::<String>();
    let stdout = events.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                return;
            }
        }
    });
    p.ok(&["kill", "talker"]);
    // The operator's command and the tree's own entries may come in either
    // order: wait for both.
    let mut seen: Vec<Value> = Vec::new();
    let restarted = |seen: &[Value]| seen.iter().any(|e| e["kind"] == "restarting");
    let commanded = |seen: &[Value]| {
        seen.iter()
            .any(|e| e["kind"] == "command" && e["command"] == "kill")
    };
    while !(restarted(&seen) && commanded(&seen)) {
        let line = line_rx
            .recv_timeout(common::DEADLINE)
            .unwrap_or_else(|_| panic!("the stream stopped before restart and command: {seen:?}"));
        seen.push(serde_json::from_str(&line).unwrap());
    }
    let exited = seen
        .iter()
        .find(|e| e["kind"] == "exited" && e["service"] == "talker")
        .expect("an exit");
    assert_eq!(exited["exit"]["kind"], "killed", "{exited}");
    events.kill().unwrap();
    let _ = events.wait();

    // History survives: `--since` reads the journal.
    let history = p.ok(&["events", "--since", "1h"]);
    assert!(
        history.contains("talker (pid ") && history.contains(") exited after"),
        "{history}"
    );
    assert_eq!(p.down(), 0);
}

#[test]
fn reload_touches_only_what_changed() {
    let config = |extra: &str, b_env: &str| {
        format!(
            r#"
[services.a]
shell = "while true; do sleep 1; done"
[services.b]
shell = "while true; do sleep 1; done"
env = {{ MODE = "{b_env}" }}
[services.c]
shell = "while true; do sleep 1; done"
{extra}
"#
        )
    };
    let mut p = Project::new(&config("", "one"));
    p.up();
    let pid = |p: &Project, name: &str| p.wait_state(name, "running")["pid"].as_u64().unwrap();
    let (a, b, c) = (pid(&p, "a"), pid(&p, "b"), pid(&p, "c"));

    // c removed, b changed, d added.
    let new = config(
        "[services.d]\nshell = \"while true; do sleep 1; done\"",
        "two",
    )
    .replace(
        "[services.c]\nshell = \"while true; do sleep 1; done\"\n",
        "",
    );
    p.write_config(&new);
    let report = p.ok(&["reload"]);
    assert!(report.contains("added:     d"), "{report}");
    assert!(report.contains("removed:   c"), "{report}");
    assert!(report.contains("changed:   b"), "{report}");
    assert!(report.contains("unchanged: a"), "{report}");
    assert_eq!(pid(&p, "a"), a, "unchanged keeps its pid");
    assert_ne!(pid(&p, "b"), b, "changed is restarted");
    pid(&p, "d");
    let names: Vec<String> = p
        .status()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["a", "b", "d"]);
    p.wait_for("c to be stopped", || !alive(c));

    // An invalid config is refused whole; nothing changes.
    p.write_config("[services.a]\ncomand = [\"x\"]\n");
    let out = p.tend(&["reload"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tend.toml:2:1: unknown key `comand`"), "{err}");
    assert_eq!(pid(&p, "a"), a);
    assert_eq!(p.status().len(), 3);
    assert_eq!(p.down(), 0);
}

/// A reload that replaces a service while its crash holds its siblings
/// (rest-for-one, during the backoff) brings those siblings back: removing
/// the old unit calls off the starts that waited for it, as OTP's
/// `terminate_child` does, and the reload starts them again.
#[test]
fn reload_of_a_backing_off_service_brings_back_the_siblings_its_crash_stopped() {
    let config = |a: &str| {
        format!(
            r#"
[services.a]
shell = "{a}"
backoff = {{ initial = "1h", max = "1h" }}
[services.b]
shell = "while true; do sleep 1; done"
[services.c]
shell = "while true; do sleep 1; done"
[groups.g]
strategy = "rest-for-one"
services = ["a", "b", "c"]
"#
        )
    };
    let mut p = Project::new(&config("sleep 0.5; exit 3"));
    p.up();
    p.wait_state("a", "backing_off");
    let b = p.wait_state("b", "pending");
    assert!(b["pid"].is_null(), "{b}");
    p.wait_state("c", "pending");

    p.write_config(&config("while true; do sleep 1; done"));
    let report = p.ok(&["reload"]);
    assert!(report.contains("changed:   a"), "{report}");
    for name in ["a", "b", "c"] {
        let service = p.wait_state(name, "running");
        assert!(service["pid"].as_u64().is_some_and(alive), "{service}");
    }
    assert_eq!(p.down(), 0);
}

#[test]
fn check_reports_every_error_and_up_starts_nothing() {
    let p = Project::new(
        "[services.web]\ncomand = [\"./web\"]\nstop = { signal = \"SIGTREM\" }\n[groups.g]\nservices = [\"nope\"]\n",
    );
    let out = p.tend(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "tend.toml:1:1: missing `command` in [services.web]",
        "tend.toml:2:1: unknown key `comand`",
        "tend.toml:3:19: bad signal name \"SIGTREM\"",
        "tend.toml:5:13: unknown group member \"nope\"",
        "4 problems found",
    ] {
        assert!(err.contains(expected), "{expected:?} in:\n{err}");
    }
    let out = p.tend(&["up"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was started"));
    assert!(!p.path(".tend/tend.sock").exists());

    let good = Project::new("[services.a]\ncommand = [\"true\"]\nreplicas = 3\n");
    assert!(good
        .ok(&["check"])
        .contains("ok (1 service, 3 instances, 0 groups)"));
    let schema: Value = serde_json::from_str(&good.ok(&["schema"])).unwrap();
    assert!(
        schema["properties"]["services"]["additionalProperties"]["properties"]["command"]
            .is_object()
    );
}

#[test]
fn the_root_giving_up_exits_non_zero() {
    let mut p = Project::new(
        r#"
[supervisor]
intensity = { max_restarts = 2, period = "60s" }
[services.crash]
shell = "exit 1"
backoff = "none"
"#,
    );
    let out = std::fs::File::create(p.path("up.err")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("up")
        .current_dir(p.dir.path())
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .unwrap();
    p.daemon = Some(child);
    assert_eq!(p.wait_exit(), 1);
    assert!(p.read("up.err").contains("gave up"), "{}", p.read("up.err"));
}

#[test]
fn hooks_get_the_event_on_stdin() {
    let mut p = Project::new(
        r#"
[services.victim]
shell = "sleep 0.2; exit 7"
restart = "never"
hooks = { crash = ["sh", "-c", "cat > crash.json"] }
"#,
    );
    p.up();
    p.wait_for("the hook to write", || p.read("crash.json").ends_with('\n'));
    let event: Value = serde_json::from_str(&p.read("crash.json")).unwrap();
    assert_eq!(event["hook"], "crash");
    assert_eq!(event["kind"], "exited");
    assert_eq!(event["service"], "victim");
    assert_eq!(event["exit"]["code"], 7);
    assert_eq!(p.down(), 0);
}

#[test]
fn the_api_speaks_json_errors_and_metrics() {
    let mut p = Project::new("[services.a]\nshell = \"while true; do sleep 1; done\"\n");
    p.up();
    let socket = p.path(".tend/tend.sock");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    let (code, body) = curl(&socket, "GET", "/v1/services", None);
    assert_eq!(code, 200);
    let services: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(services[0]["name"], "a");
    let (code, body) = curl(&socket, "GET", "/v1/services/a", None);
    assert_eq!(code, 200, "{body}");
    let error = |code: u16, body: &str, want: &str| {
        let v: Value =
            serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON error body: {body}"));
        assert_eq!(v["error"]["code"], want, "{body}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        code
    };
    let (code, body) = curl(&socket, "GET", "/v1/services/nope", None);
    assert_eq!(error(code, &body, "unknown_service"), 404);
    let (code, body) = curl(
        &socket,
        "POST",
        "/v1/services/a/signal",
        Some(r#"{"signal":"SIGWHAT"}"#),
    );
    assert_eq!(error(code, &body, "bad_signal"), 400);
    let (code, body) = curl(&socket, "POST", "/v1/services/a/signal", Some("{not json"));
    assert_eq!(error(code, &body, "bad_request"), 400);
    let (code, body) = curl(&socket, "POST", "/v1/services/a/dance", None);
    assert_eq!(error(code, &body, "not_found"), 404);
    let (code, body) = curl(&socket, "GET", "/v1/events?since=yesterday", None);
    assert_eq!(error(code, &body, "bad_request"), 400);
    let (code, body) = curl(&socket, "GET", "/v1/logs?lines=many", None);
    assert_eq!(error(code, &body, "bad_request"), 400);
    let (code, body) = curl(&socket, "GET", "/v2/anything", None);
    assert_eq!(error(code, &body, "not_found"), 404);

    let (code, metrics) = curl(&socket, "GET", "/metrics", None);
    assert_eq!(code, 200);
    for series in [
        "tend_child_starts_total{supervisor=\"tend\",child=\"a\"} 1",
        "tend_child_state{supervisor=\"tend\",child=\"a\",state=\"running\"} 1",
        "tend_supervisor_give_ups_total",
        "tend_service_uptime_seconds{service=\"a\"}",
    ] {
        assert!(metrics.contains(series), "{series} in\n{metrics}");
    }
    p.ok(&["kill", "a"]);
    p.wait_for("the exit to be counted", || {
        curl(&socket, "GET", "/metrics", None)
            .1
            .contains("tend_service_exits_total{service=\"a\",class=\"abnormal\"} 1")
    });
    assert_eq!(p.down(), 0);
}

#[test]
fn journal_tampering_is_named_and_survives_kill_9() {
    let mut p = Project::new(
        "[services.a]\nshell = \"exit 1\"\nbackoff = { initial = \"20ms\", max = \"20ms\" }\n\
         start_limit = \"none\"\n",
    );
    p.up();
    p.wait_for("a few restarts", || {
        p.service("a")["restarts"].as_u64().unwrap() >= 5
    });
    p.kill_9();
    // Every committed row is there and chained.
    let verified = p.ok(&["journal", "verify"]);
    assert!(verified.starts_with("journal ok"), "{verified}");
    let db = rusqlite::Connection::open(p.path(".tend/journal.db")).unwrap();
    let rows: i64 = db
        .query_row(
            "SELECT count(*) FROM events WHERE kind = 'exited'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(rows >= 5, "{rows} exits journaled");
    // With no daemon, `tend events` reads the file: every committed exit.
    let history = p.ok(&["events", "--json", "--since", "1h", "a"]);
    let exits = history
        .lines()
        .filter(|line| line.contains("\"kind\":\"exited\""))
        .count();
    assert_eq!(i64::try_from(exits).unwrap(), rows, "{history}");
    let plain = p.ok(&["events"]);
    assert!(
        plain.contains(" a (pid ") && plain.contains(") exited after "),
        "{plain}"
    );
    let target: i64 = db
        .query_row(
            "SELECT id FROM events WHERE kind = 'exited' ORDER BY id LIMIT 1 OFFSET 2",
            [],
            |r| r.get(0),
        )
        .unwrap();
    db.execute(
        "UPDATE events SET data = replace(data, '\"code\":1', '\"code\":0') WHERE id = ?1",
        [target],
    )
    .unwrap();
    let out = p.tend(&["journal", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("journal broken at row {target}")),
        "{text}"
    );
}

/// The journals moved aside in `.tend` (their `-wal` and `-shm` apart).
fn set_aside_files(p: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.path(".tend"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.starts_with("journal.db.corrupt-")
                && !name.ends_with("-wal")
                && !name.ends_with("-shm")
                // Its head moves aside with it.
                && !name.ends_with(".head")
        })
        .collect();
    names.sort();
    names
}

/// The journal's entries, oldest first, as `tend events --json` gives them.
fn journal_entries(p: &Project) -> Vec<Value> {
    p.ok(&["events", "--json", "--since", "1h"])
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// `echo garbage > .tend/journal.db` while tend is down: `verify` says
/// what the next `tend up` will do; `tend up` moves the file aside, says
/// so, starts every service, and begins a new chain with the record of it,
/// which `tend events` shows and `tend journal verify` explains.
#[test]
fn a_journal_that_is_not_a_database_is_moved_aside_and_services_start() {
    let mut p = Project::new("[services.a]\nshell = \"while true; do sleep 1; done\"\n");
    p.up();
    p.wait_state("a", "running");
    assert_eq!(p.down(), 0);
    let journal = p.path(".tend/journal.db");
    std::fs::write(&journal, "garbage\n").unwrap();
    let wal = std::fs::read(p.path(".tend/journal.db-wal")).ok();

    let out = p.tend(&["journal", "verify"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.starts_with("journal corrupt: ") && said.contains("file is not a database"),
        "{said}"
    );
    assert!(said.contains("the next `tend up` moves it aside"), "{said}");
    assert!(set_aside_files(&p).is_empty(), "verify moves nothing");
    assert_eq!(
        p.read(".tend/journal.db"),
        "garbage\n",
        "verify writes nothing"
    );
    assert_eq!(std::fs::read(p.path(".tend/journal.db-wal")).ok(), wal);

    p.up();
    p.wait_state("a", "running");
    let aside = set_aside_files(&p);
    assert_eq!(aside.len(), 1, "{aside:?}");
    let name = &aside[0];
    let stamp = name.strip_prefix("journal.db.corrupt-").unwrap();
    assert!(
        stamp.len() == 16
            && stamp.ends_with('Z')
            && stamp.as_bytes()[8] == b'T'
            && stamp[..8]
                .bytes()
                .chain(stamp[9..15].bytes())
                .all(|b| b.is_ascii_digit()),
        "{name}"
    );
    assert_eq!(p.read(&format!(".tend/{name}")), "garbage\n");
    // Its write-ahead log, if the last run left one, went with it.
    if let Some(wal) = wal {
        assert_eq!(
            std::fs::read(p.path(&format!(".tend/{name}-wal"))).unwrap(),
            wal
        );
    }
    let moved_to = p.path(&format!(".tend/{name}")).display().to_string();

    // The console says it.
    let err = p.read("up.err");
    assert!(
        err.contains("WARN")
            && err.contains("the journal was found corrupt (file is not a database)"),
        "{err}"
    );
    // The new chain begins with it.
    let entries = journal_entries(&p);
    let first = &entries[0];
    assert_eq!(first["id"], 1, "{first}");
    assert_eq!(first["kind"], "journal_corrupt", "{first}");
    assert_eq!(first["moved_to"], moved_to.as_str(), "{first}");
    assert_eq!(first["error"], "file is not a database", "{first}");
    assert_eq!(first["last_good_row"], Value::Null, "{first}");
    assert_eq!(first["problem"], true, "{first}");
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "started" && e["service"] == "a"),
        "{entries:?}"
    );
    let plain = p.ok(&["events"]);
    assert!(
        plain.contains(&format!(
            "the journal was found corrupt (file is not a database) and moved to {moved_to}; no good row of it could be read"
        )),
        "{plain}"
    );
    let verified = p.ok(&["journal", "verify"]);
    assert!(verified.starts_with("journal ok: "), "{verified}");
    assert!(
        verified.contains(&format!(
            "hash chain intact; this chain began after the previous journal was found corrupt (file is not a database) and moved to {moved_to} (no good row of it could be read)"
        )),
        "{verified}"
    );
    // The next run keeps the new journal: nothing more is moved.
    assert_eq!(p.down(), 0);
    p.up();
    p.wait_state("a", "running");
    assert_eq!(set_aside_files(&p), aside);
    assert_eq!(journal_entries(&p)[0]["kind"], "journal_corrupt");
}

/// A journal cut short after a `kill -9` (half its pages gone): moved
/// aside, and the new chain's first record names the last row of it that
/// still verifies, with that row's hash as it was.
#[test]
fn a_truncated_journal_is_moved_aside_with_its_last_good_row() {
    let mut p = Project::new(
        "[supervisor]\nintensity = { max_restarts = 100000, period = \"60s\" }\n\
         [services.a]\nshell = \"exit 1\"\nbackoff = { initial = \"5ms\", max = \"5ms\" }\n\
         start_limit = \"none\"\n\
         [services.b]\nshell = \"while true; do sleep 1; done\"\n",
    );
    p.up();
    p.wait_for("many journal rows", || {
        p.service("a")["restarts"].as_u64().unwrap() >= 300
    });
    p.kill_9();
    let journal = p.path(".tend/journal.db");
    let hashes: Vec<String> = {
        let db = rusqlite::Connection::open(&journal).unwrap();
        db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let mut statement = db.prepare("SELECT hash FROM events ORDER BY id").unwrap();
        let hashes = statement
            .query_map([], |row| row.get::<_, Vec<u8>>(0))
            .unwrap()
            .map(|hash| hash.unwrap().iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        hashes
    };
    assert!(hashes.len() >= 600, "{} rows", hashes.len());
    let size = std::fs::metadata(&journal).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .unwrap();
    file.set_len(size / 2).unwrap();
    drop(file);

    p.up();
    p.wait_state("b", "running");
    assert_eq!(set_aside_files(&p).len(), 1);
    let first = journal_entries(&p).remove(0);
    assert_eq!(first["kind"], "journal_corrupt", "{first}");
    let row = first["last_good_row"].as_u64().expect("a row still reads");
    assert!(row >= 1 && row < hashes.len() as u64, "{first}");
    assert_eq!(
        first["last_good_hash"],
        hashes[usize::try_from(row).unwrap() - 1].as_str(),
        "{first}"
    );
    let verified = p.ok(&["journal", "verify"]);
    assert!(
        verified.contains(&format!(
            "(its last good row: {row}, hash {})",
            hashes[usize::try_from(row).unwrap() - 1]
        )),
        "{verified}"
    );
}

/// A value of the wrong type written into a row (text where the time
/// belongs) is named at its row by `verify` and by `tend events`, with or
/// without a daemon; and it is tampering, not corruption: `tend up` runs
/// on the same file, moves nothing aside, and the row stays named.
#[test]
fn a_value_of_the_wrong_type_is_named_at_its_row_and_never_moved_aside() {
    let mut p = Project::new(
        "[services.a]\nshell = \"exit 1\"\nbackoff = { initial = \"20ms\", max = \"20ms\" }\n\
         start_limit = \"none\"\n",
    );
    p.up();
    p.wait_for("a few restarts", || {
        p.service("a")["restarts"].as_u64().unwrap() >= 3
    });
    p.kill_9();
    let db = rusqlite::Connection::open(p.path(".tend/journal.db")).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert!(rows > 5, "{rows} rows");
    db.execute("UPDATE events SET at_ms = 'text' WHERE id = 5", [])
        .unwrap();
    drop(db);
    let named = "journal broken at row 5: its at_ms holds text ('text'), where an integer belongs (the row was edited)";

    let out = p.tend(&["journal", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(said.trim_end(), named);
    // History from the file names it too.
    let out = p.tend(&["events"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(named), "{err}");

    // Not corrupt: the same file goes on, and so does the row's name.
    p.up();
    p.wait_for("new rows", || {
        let db = rusqlite::Connection::open(p.path(".tend/journal.db")).unwrap();
        db.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))
            .unwrap()
            > rows
    });
    assert!(set_aside_files(&p).is_empty());
    let out = p.tend(&["journal", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), named);
    // Through the daemon, reading the whole history names it as well;
    // what came after it still reads.
    let out = p.tend(&["events", "--json", "--since", "1h"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success() && said.contains(named), "{said}");
}

#[test]
fn up_detached_and_down() {
    let p = Project::new("[services.a]\nshell = \"while true; do sleep 1; done\"\n");
    let out = p.ok(&["up", "-d"]);
    assert!(out.contains("running in the background"), "{out}");
    let pid = p.wait_state("a", "running")["pid"].as_u64().unwrap();
    // A second one refuses.
    let again = p.tend(&["up", "-d"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));
    p.ok(&["down"]);
    assert!(!alive(pid));
    let out = p.tend(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tend is not running"));
}

/// `tend down` stops a service before what it depends on, and services the
/// graph does not order side by side: `left` and `right` each wait (up to
/// 10 s) for the other's SIGTERM before they exit, which one after another
/// never comes; `db` looks whether `api` has gone when its own comes.
#[test]
fn down_stops_dependents_first_and_unordered_services_side_by_side() {
    let wait_for = |me: &str, other: &str| {
        format!(
            "trap 'touch {me}.term; i=0; while [ ! -e {other}.term ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
             [ -e {other}.term ] && echo together > {me}.saw; exit 0' TERM; while :; do sleep 0.1; done"
        )
    };
    let mut p = Project::new(&format!(
        r#"
[services.db]
shell = "trap 'if [ -e api.gone ]; then echo after > db.order; else echo before > db.order; fi; exit 0' TERM; while :; do sleep 0.1; done"

[services.api]
shell = "trap 'touch api.gone; exit 0' TERM; while :; do sleep 0.1; done"
depends_on = {{ db = "started" }}

[services.left]
shell = {left:?}

[services.right]
shell = {right:?}
"#,
        left = wait_for("left", "right"),
        right = wait_for("right", "left"),
    ));
    p.up();
    for service in ["db", "api", "left", "right"] {
        p.wait_state(service, "running");
    }
    assert_eq!(p.down(), 0, "a clean shutdown exits 0");
    assert_eq!(
        p.read("db.order"),
        "after\n",
        "db got SIGTERM before api had gone"
    );
    for side in ["left", "right"] {
        assert!(
            p.path(&format!("{side}.saw")).exists(),
            "{side} stopped alone: the two were stopped one after the other"
        );
    }
}

/// The layout of a system service: the config in one directory, the state
/// in another, the socket in a third (made if missing), each named once
/// by the environment, as the systemd units do.
#[test]
fn state_and_socket_go_where_they_are_told() {
    let p = Project::new("[services.a]\nshell = \"while true; do sleep 1; done\"\n");
    let (config, state, socket) = (
        p.path("tend.toml"),
        p.path("var/lib/tend"),
        p.path("run/tend/tend.sock"),
    );
    let tend = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tend"))
            .args(args)
            .current_dir("/")
            .env("TEND_CONFIG", &config)
            .env("TEND_STATE_DIR", &state)
            .env("TEND_SOCKET", &socket)
            .output()
            .unwrap()
    };
    let up = tend(&["up", "-d"]);
    assert!(up.status.success(), "{up:?}");
    let status = tend(&["status"]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("running"),
        "{status:?}"
    );
    assert!(socket.exists(), "the socket where it was told");
    assert!(state.join("journal.db").exists() && state.join("logs/a.log").exists());
    assert!(!p.path(".tend").exists(), "nothing beside the config");
    assert!(tend(&["down"]).status.success());
    assert!(!tend(&["status"]).status.success());
}

#[test]
fn the_tcp_api_demands_its_token() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut p = Project::new(&format!(
        "[services.a]\nshell = \"while true; do sleep 1; done\"\n[api]\nlisten = \"127.0.0.1:{port}\"\ntoken = \"0123456789abcdef-secret\"\n"
    ));
    p.up();
    let get = |auth: Option<&str>| {
        let mut command = Command::new("curl");
        command.args(["-s", "-o", "/dev/null", "-w", "%{http_code}"]);
        if let Some(auth) = auth {
            command.args(["-H", &format!("Authorization: Bearer {auth}")]);
        }
        let out = command
            .arg(format!("http://127.0.0.1:{port}/v1/services"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(get(None), "401");
    assert_eq!(get(Some("0123456789abcdef-wrong!")), "401");
    assert_eq!(get(Some("0123456789abcdef-secret")), "200");

    // Over TCP an upgrade may only re-execute the running binary; the
    // listener survives it (handed over, not bound again).
    let upgrade = |body: Option<&str>| {
        let mut command = Command::new("curl");
        command.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"]);
        command.args(["-H", "Authorization: Bearer 0123456789abcdef-secret"]);
        if let Some(body) = body {
            command.args(["-H", "Content-Type: application/json", "-d", body]);
        }
        let out = command
            .arg(format!("http://127.0.0.1:{port}/v1/upgrade"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let binary = format!(r#"{{"binary":"{}"}}"#, env!("CARGO_BIN_EXE_tend"));
    assert_eq!(upgrade(Some(&binary)), "403");
    assert_eq!(upgrade(None), "202");
    p.wait_for("the upgraded daemon over TCP", || {
        let out = Command::new("curl")
            .args(["-s", "-H", "Authorization: Bearer 0123456789abcdef-secret"])
            .arg(format!("http://127.0.0.1:{port}/v1/daemon"))
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|d| d["upgrades"] == 1)
    });
    assert_eq!(get(None), "401");
    assert_eq!(p.down(), 0);
}

#[test]
fn notify_readiness_status_and_watchdog_through_the_program() {
    let mut p = Project::new(
        r#"
[services.db]
shell = "sleep 0.3; systemd-notify --ready --status='accepting connections'; while true; do systemd-notify WATCHDOG=1; sleep 0.1; done"
ready = { notify = true, timeout = "20s" }
watchdog = "2s"

[services.web]
shell = "exec sleep 100"
depends_on = { db = "ready" }

[services.hangs]
shell = "systemd-notify --ready; exec sleep 100"
ready = { notify = true }
watchdog = "300ms"
"#,
    );
    p.up();
    let db = p.wait_state("db", "running");
    assert_eq!(db["ready"], true, "{db}");
    assert_eq!(db["status_text"], "accepting connections", "{db}");
    let table = p.ok(&["status"]);
    assert!(
        table.contains("STATUS") && table.contains("accepting connections"),
        "{table}"
    );
    // `web` depends on `db` being ready.
    let web = p.wait_state("web", "running");
    assert_eq!(web["ready"], true, "{web}");
    let journal = p.ok(&["events", "--json", "--since", "1h"]);
    let position = |kind: &str, service: &str| {
        journal
            .lines()
            .position(|l| {
                l.contains(&format!("\"kind\":\"{kind}\""))
                    && l.contains(&format!("\"service\":\"{service}\""))
            })
            .unwrap_or_else(|| panic!("{kind} of {service} in\n{journal}"))
    };
    assert!(
        position("ready", "db") < position("started", "web"),
        "{journal}"
    );
    // `hangs` never beats: stopped as hung, restarted.
    p.wait_for("hangs to be stopped by its watchdog", || {
        p.service("hangs")["last_exit"]["kind"] == "watchdog"
    });
    p.wait_for("hangs to be restarted", || {
        p.service("hangs")["restarts"].as_u64().unwrap() >= 1
    });
    // `db` beats every 100 ms: never stopped.
    assert_eq!(p.service("db")["restarts"], 0);
    assert_eq!(p.down(), 0);
}

#[test]
fn a_backend_this_build_lacks_is_refused_by_check_and_up_before_anything_starts() {
    let p = Project::new(
        "[services.ok]\nshell = \"exec sleep 100\"\n\n[services.app]\nwasm = { module = \"app.wasm\" }\n\n[services.far]\nremote = { node = \"10.0.0.7:7070\" }\n",
    );
    for args in [&["check"][..], &["up"], &["up", "-d"]] {
        let out = p.tend(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "tend {args:?}: {err}");
        assert!(
            err.contains("tend.toml:5:8: backend not available: wasm: this build of tend has no WASI runtime"),
            "tend {args:?}: {err}"
        );
        assert!(
            err.contains("tend.toml:8:10: backend not available: remote:"),
            "tend {args:?}: {err}"
        );
        assert!(err.contains("nothing was started"), "tend {args:?}: {err}");
        assert!(
            !p.path(".tend/tend.sock").exists(),
            "no daemon for {args:?}"
        );
    }
}

/// What `up` would hit (a missing cwd, user or program) is found by
/// `check`, at its place, and `up` starts nothing: before, `check` said ok
/// and `up` retried forever.
#[test]
fn check_and_up_refuse_what_a_start_would_hit() {
    let p = Project::new(
        r#"[services.ok]
shell = "exec sleep 100"

[services.lost]
command = ["sleep", "100"]
cwd = "no-such-dir"

[services.nobody]
command = ["sleep", "100"]
user = "no-such-user-here"

[services.typo]
command = ["slepe", "100"]
env = { PATH = "/usr/bin:/bin" }
"#,
    );
    let dir = p.dir.path().display().to_string();
    for args in [&["check"][..], &["up"], &["up", "-d"]] {
        let out = p.tend(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "tend {args:?}: {err}");
        for expected in [
            format!("tend.toml:6:7: the working directory {dir}/no-such-dir of [services.lost] does not exist"),
            "tend.toml:10:8: no such user \"no-such-user-here\" for [services.nobody]".to_owned(),
            "tend.toml:13:11: program \"slepe\" of [services.typo] is not found on its PATH (/usr/bin:/bin)".to_owned(),
            "nothing was started".to_owned(),
        ] {
            assert!(err.contains(&expected), "tend {args:?}: {expected:?} in:\n{err}");
        }
        assert!(
            !p.path(".tend/tend.sock").exists(),
            "no daemon for {args:?}"
        );
    }
}

/// A start that fails once running (the directory or program went away
/// since `check`) names its real cause in the status and the events.
#[test]
fn a_failed_start_names_the_directory_or_the_program() {
    let mut p = Project::new(
        r#"[services.inside]
shell = "sleep 0.2; exit 1"
cwd = "work"
backoff = { initial = "500ms", max = "500ms" }

[services.script]
command = ["./run.sh"]
backoff = { initial = "500ms", max = "500ms" }
"#,
    );
    std::fs::create_dir(p.path("work")).unwrap();
    let script = p.path("run.sh");
    std::fs::write(&script, "#!/bin/sh\nsleep 0.2; exit 1\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p.up();
    std::fs::remove_dir(p.path("work")).unwrap();
    std::fs::remove_file(&script).unwrap();
    let dir = p.dir.path().display().to_string();
    let causes = [
        format!("cannot start \"/bin/sh\": the working directory {dir}/work does not exist"),
        format!("cannot start \"./run.sh\": no such file ({dir}/run.sh)"),
    ];
    p.wait_for("both start failures in the events", || {
        let events = p.ok(&["events", "--since", "1h"]);
        causes.iter().all(|cause| events.contains(cause.as_str()))
    });
    let status = p.ok(&["status"]);
    for cause in &causes {
        assert!(status.contains(cause.as_str()), "{cause:?} in:\n{status}");
    }
    assert_eq!(p.down(), 0);
}

/// A service whose start keeps failing reaches its start limit: it is
/// `failed (start limit)` in the status and the events, its neighbour
/// untouched, and `tend start` counts afresh and tries again.
#[test]
fn a_start_that_can_never_succeed_ends_at_its_start_limit() {
    let mut p = Project::new(
        r#"[services.broken]
command = ["./run.sh"]
backoff = { initial = "50ms", max = "50ms" }
start_limit = { burst = 3, interval = "60s" }

[services.steady]
shell = "while true; do sleep 1; done"
"#,
    );
    let script = p.path("run.sh");
    let write_script = |body: &str| {
        std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    };
    // Whether its first start finds it or not, every start fails.
    write_script("exit 1");
    p.up();
    std::fs::remove_file(&script).unwrap();
    let steady = p.wait_state("steady", "running")["pid"].as_u64().unwrap();
    let failed = p.wait_state("broken", "failed");
    assert_eq!(failed["failed_because"], "start_limit", "{failed}");
    let limit_rows = |p: &Project| {
        p.ok(&["events", "--since", "1h"])
            .lines()
            .filter(|l| l.contains("broken failed: start limit"))
            .count()
    };
    assert_eq!(limit_rows(&p), 1);
    let table = p.ok(&["status"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("broken"))
        .unwrap_or_else(|| panic!("no broken in:\n{table}"));
    assert!(row.contains("failed (start limit)"), "{table}");
    let generation = failed["generation"].as_u64().unwrap();
    assert!(generation >= 3, "{failed}");

    // Given up on: no more tries, and the neighbour never noticed.
    let still = p.service("broken");
    assert_eq!(still["generation"].as_u64(), Some(generation), "{still}");
    let neighbour = p.service("steady");
    assert_eq!(neighbour["pid"].as_u64(), Some(steady), "{neighbour}");
    assert_eq!(neighbour["restarts"], 0, "{neighbour}");

    // `tend start` tries again, three times afresh, and ends the same way.
    let _ = p.tend(&["start", "broken"]);
    p.wait_for("a second start limit", || limit_rows(&p) == 2);
    let again = p.wait_state("broken", "failed");
    assert_eq!(again["failed_because"], "start_limit", "{again}");
    assert_eq!(
        again["generation"].as_u64(),
        Some(generation + 3),
        "three more starts: {again}"
    );

    // Once it can start, `tend start` brings it up.
    write_script("exec sleep 1000");
    p.ok(&["start", "broken"]);
    p.wait_state("broken", "running");
    assert_eq!(p.down(), 0);
}

/// `tend ARGS` in `p`'s directory, killed if it has not ended by the
/// deadline (a read of /dev/zero would never end).
fn bounded(p: &Project, args: &[&str]) -> std::process::Output {
    let child = p
        .command(env!("CARGO_BIN_EXE_tend"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = std::time::Instant::now();
    loop {
        if !alive(u64::from(pid)) || start.elapsed() > common::DEADLINE {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    if start.elapsed() > common::DEADLINE {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("tend {args:?} did not end");
    }
    child.wait_with_output().unwrap()
}

/// Only a regular file of at most 4 MiB is read as a config, by every
/// command that reads one; anything else is refused before it is opened.
#[test]
fn a_config_that_is_not_a_sane_file_is_refused_before_it_is_read() {
    let p = Project::new("[services.a]\ncommand = [\"true\"]\n");
    let fifo = p.path("fifo.toml");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let big = p.path("big.toml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(5 << 20)
        .unwrap();
    let cases = [
        (
            "/dev/zero".to_owned(),
            "it is a character device, not a regular file",
        ),
        (
            fifo.display().to_string(),
            "it is a FIFO, not a regular file",
        ),
        (
            p.dir.path().display().to_string(),
            "it is a directory, not a regular file",
        ),
        (
            big.display().to_string(),
            "it is larger than 4 MiB, the most a config file may be",
        ),
    ];
    for (file, why) in &cases {
        for command in [&["check"][..], &["up"], &["export", "k8s"]] {
            let mut args = vec!["-c", file.as_str()];
            args.extend_from_slice(command);
            let out = bounded(&p, &args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "tend {args:?}: {err}");
            assert!(
                err.contains(&format!("cannot read {file}: {why}")),
                "tend {args:?}: {err}"
            );
        }
    }
    // A reload of a running tend reads it the same way.
    let mut p = p;
    p.up();
    std::fs::remove_file(p.path("tend.toml")).unwrap();
    assert!(Command::new("mkfifo")
        .arg(p.path("tend.toml"))
        .status()
        .unwrap()
        .success());
    let out = bounded(&p, &["reload"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("it is a FIFO, not a regular file"), "{err}");
    assert_eq!(p.down(), 0);
}

/// Each cause is said once, and a state directory that is a file says so.
#[test]
fn a_state_directory_that_cannot_be_says_why_once() {
    let p = Project::new("[services.a]\nshell = \"exec sleep 100\"\n");
    std::fs::write(p.path("state"), "").unwrap();
    for args in [&["up"][..], &["up", "-d"]] {
        let mut all = vec!["--state-dir", "state"];
        all.extend_from_slice(args);
        let err = String::from_utf8_lossy(&p.tend(&all).stderr).into_owned();
        assert_eq!(
            err.trim(),
            "tend: the state directory state is a file, not a directory",
            "tend {all:?}"
        );
        let mut all = vec!["--state-dir", "state/tend"];
        all.extend_from_slice(args);
        let err = String::from_utf8_lossy(&p.tend(&all).stderr).into_owned();
        assert_eq!(
            err.trim(),
            "tend: cannot create the state directory state/tend: state is a file, not a directory",
            "tend {all:?}"
        );
    }
    // Where the system refuses (no directory can be made in /sys), its
    // reason appears once, as it does when nothing answers there.
    for args in [&["up"][..], &["status"]] {
        let mut all = vec!["--state-dir", "/sys/tend-nowhere"];
        all.extend_from_slice(args);
        let err = String::from_utf8_lossy(&p.tend(&all).stderr).into_owned();
        assert_eq!(err.matches("(os error").count(), 1, "tend {all:?}: {err}");
        assert!(err.contains("/sys/tend-nowhere"), "tend {all:?}: {err}");
    }
}
