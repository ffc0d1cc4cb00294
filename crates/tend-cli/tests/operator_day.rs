//! An operator's day with real servers, through the real `tend`: not
//! ready is visible in `tend status`, a typo among names changes nothing,
//! `tend status NAME` exits as `systemctl status` does, `tend logs` reads
//! the files when no daemon runs, a closed pipe ends a command quietly,
//! `NO_COLOR` and a non-terminal get no colour, and `tend down` says
//! nothing about a second Ctrl-C.

mod common;

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Command, Stdio};

use common::{Project, DEADLINE};

const THREE: &str = r#"
[services.db]
shell = "echo db says hello; exec sleep 100"
readiness = { exec = ["test", "-e", "db.ok"], period = "100ms" }

[services.api]
shell = "echo api says hello; exec sleep 100"

[services.web]
shell = "echo web says hello; exec sleep 100"
replicas = 2

[services.once]
shell = "echo once ran"
restart = "never"

[groups.front]
services = ["web"]
"#;

/// The row of `name` in `tend status`'s table, split on runs of spaces.
fn row(table: &str, name: &str) -> Vec<String> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in\n{table}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn not_ready_shows_and_status_names_exit_as_systemctl() {
    let mut p = Project::new(THREE);
    p.up();
    p.wait_state("api", "running");
    p.wait_state("once", "completed");
    // db runs (a readiness probe does not hold its process) but its probe
    // fails: READY says no; a service without a condition says -.
    p.wait_for("db's process", || p.service("db")["pid"].is_u64());
    let table = p.ok(&["status"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(&header[..4], ["NAME", "STATE", "READY", "PID"], "{table}");
    assert_eq!(row(&table, "db")[2], "no", "{table}");
    assert_eq!(row(&table, "api")[1..3], ["running", "-"], "{table}");
    assert!(table.contains("; 1 not ready"), "{table}");
    assert_eq!(p.service("db")["has_readiness"], true);
    assert_eq!(p.service("api")["has_readiness"], false);
    std::fs::write(p.path("db.ok"), "").unwrap();
    p.wait_for("db ready", || row(&p.ok(&["status"]), "db")[2] == "yes");
    assert!(!p.ok(&["status"]).contains("not ready"));

    // `tend status NAME…` exits as `systemctl status`: 0 all running (or
    // run once and completed), 3 some not, 4 an unknown name.
    let code = |args: &[&str]| p.tend(args).status.code();
    assert_eq!(code(&["status", "api", "front"]), Some(0));
    assert_eq!(code(&["status", "once"]), Some(0), "completed, run once");
    p.ok(&["stop", "web.2"]);
    assert_eq!(code(&["status", "api", "web"]), Some(3));
    assert_eq!(code(&["status", "--json", "web.2"]), Some(3));
    assert_eq!(code(&["status", "web.1"]), Some(0));
    let unknown = p.tend(&["status", "api", "nosuch"]);
    assert_eq!(unknown.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nosuch"));
    assert_eq!(code(&["status"]), Some(0), "no names: always 0");
    let help = p.ok(&["status", "--help"]);
    assert!(
        help.contains("3  some service named is not running"),
        "{help}"
    );
    assert_eq!(p.down(), 0);
}

#[test]
fn an_unknown_name_among_others_changes_nothing() {
    let mut p = Project::new(THREE);
    std::fs::write(p.path("db.ok"), "").unwrap();
    p.up();
    let api = p.wait_state("api", "running")["pid"].clone();
    let db = p.wait_state("db", "running")["pid"].clone();
    for args in [
        &["stop", "api", "db", "nosuch"][..],
        &["restart", "nosuch", "api"],
        &["kill", "db", "nosuch"],
        &["signal", "TERM", "api", "nosuch"],
    ] {
        let out = p.tend(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("\"nosuch\"") && err.contains("nothing was done"),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?} did something");
    }
    assert_eq!(p.service("api")["pid"], api, "api untouched");
    assert_eq!(p.service("db")["pid"], db, "db untouched");
    assert_eq!(p.service("api")["state"], "running");
    // All known: done.
    assert_eq!(p.ok(&["stop", "api", "db"]), "stop: api\nstop: db\n");
    assert_eq!(p.down(), 0);
}

#[test]
fn logs_read_the_files_when_no_daemon_runs() {
    let mut p = Project::new(THREE);
    p.up();
    p.wait_for("every hello in the logs", || {
        let logs = p.ok(&["logs"]);
        ["db says", "api says", "once ran"]
            .iter()
            .all(|l| logs.contains(l))
            && logs.matches("web says hello").count() == 2
    });
    let live_web = p.ok(&["logs", "front"]);
    assert_eq!(p.down(), 0);
    assert!(!p.tend(&["status"]).status.success(), "no daemon");
    // The same lines, the same prefixes, from the files.
    assert_eq!(p.ok(&["logs", "front"]), live_web);
    assert_eq!(p.ok(&["logs", "api"]), "api says hello\n");
    assert_eq!(p.ok(&["logs", "web.2"]), "web says hello\n");
    assert_eq!(
        p.ok(&["logs", "web"]),
        "web.1 | web says hello\nweb.2 | web says hello\n"
    );
    assert!(p.ok(&["logs"]).contains("once  | once ran\n"));
    let unknown = p.tend(&["logs", "api", "nosuch"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no service called \"nosuch\""),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    assert!(unknown.stdout.is_empty());
}

/// `tend ARGS` writing into a pipe whose reader is already gone: every
/// write fails with EPIPE at once.
fn into_a_closed_pipe(p: &Project, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(args)
        .current_dir(p.dir.path())
        .env_remove("TEND_CONFIG")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// `tend ARGS | head -1`: one line read, then the reader gone while tend
/// still writes (its output is larger than a pipe holds).
fn head_1(p: &Project, args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(args)
        .current_dir(p.dir.path())
        .env_remove("TEND_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: tend's next write meets a closed pipe.
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "tend {args:?} did not end");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, first, err)
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let mut p = Project::new(
        r#"
[services.chatty]
shell = "seq 1 20000; exec sleep 100"
"#,
    );
    p.up();
    p.wait_for("chatty's 20000 lines", || {
        p.ok(&["logs", "-n", "1", "chatty"]) == "20000\n"
    });
    // More than a pipe holds: tend is still writing when the reader goes.
    let (status, first, err) = head_1(&p, &["logs", "-n", "20000", "chatty"]);
    assert_eq!(
        (status.code(), first.as_str(), err.as_str()),
        (Some(0), "1\n", "")
    );
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["events"],
        &["logs", "chatty"],
        &["ps"],
        &["schema"],
        &["health"],
    ] {
        let out = into_a_closed_pipe(&p, args);
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).as_ref()
            ),
            (Some(0), ""),
            "tend {args:?}"
        );
    }
    // A stop into a closed pipe still stops: its output is no condition.
    let out = into_a_closed_pipe(&p, &["stop", "chatty"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(p.service("chatty")["state"], "shutdown");
    assert_eq!(p.down(), 0);
    // And without a daemon, from the files.
    let out = into_a_closed_pipe(&p, &["logs", "chatty"]);
    assert_eq!((out.status.code(), out.stderr.len()), (Some(0), 0));
}

/// `tend up` on a terminal (a pty by `script`) with `env`, until its
/// services said hello, then `tend down`: what the terminal showed.
fn up_on_a_terminal(env: &[(&str, &str)]) -> String {
    let mut p = Project::new(
        r#"
[services.one]
shell = "echo one says hello; exec sleep 100"
"#,
    );
    let tend = env!("CARGO_BIN_EXE_tend");
    let mut script = Command::new("script");
    script
        .args([
            "-q",
            "-f",
            "-e",
            "-c",
            &format!("exec {tend} up"),
            "typescript",
        ])
        .current_dir(p.dir.path())
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    p.daemon = Some(script.spawn().unwrap());
    p.wait_for("one's hello on the terminal", || {
        p.read("typescript").contains("one says hello")
    });
    p.ok(&["down"]);
    p.wait_exit();
    p.read("typescript")
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let coloured = up_on_a_terminal(&[]);
    assert!(
        coloured.contains("\x1b["),
        "a terminal: coloured\n{coloured}"
    );
    let plain = up_on_a_terminal(&[("NO_COLOR", "1")]);
    assert!(plain.contains("one | one says hello"), "{plain}");
    assert!(!plain.contains('\x1b'), "NO_COLOR: no escape\n{plain:?}");
    // An empty NO_COLOR is no request (no-color.org).
    assert!(up_on_a_terminal(&[("NO_COLOR", "")]).contains("\x1b["));
    // `tend down` is no Ctrl-C: nothing about pressing it again.
    for shown in [&coloured, &plain] {
        assert!(!shown.contains("again to kill"), "{shown}");
        assert!(shown.contains("shutting down (asked through the API)"));
    }

    // Not a terminal: no colour, whatever NO_COLOR says.
    let mut p = Project::new("[services.one]\nshell = \"echo hi; exec sleep 100\"\n");
    p.up();
    p.wait_for("the echo", || p.read("up.out").contains("one | hi"));
    assert_eq!(p.down(), 0);
    let (out, err) = (p.read("up.out"), p.read("up.err"));
    assert!(
        !out.contains('\x1b') && !err.contains('\x1b'),
        "{out:?}\n{err:?}"
    );
    assert!(!err.contains("again to kill"), "{err}");
}
