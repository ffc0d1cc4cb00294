//! What `tend` tells people beside the live views: start-up progress
//! (who waits on which dependency), the reload plan and its dry run,
//! `--help` examples, shell completions and man pages from the clap
//! definitions, and the HTML report of a run.

mod common;

use std::process::{Command, Stdio};

use common::{suite, Project};

/// Every subcommand, as `tend --help` lists them.
const SUBCOMMANDS: [&str; 21] = [
    "up",
    "check",
    "schema",
    "status",
    "ps",
    "start",
    "stop",
    "restart",
    "kill",
    "signal",
    "logs",
    "events",
    "reload",
    "down",
    "upgrade",
    "top",
    "report",
    "dashboard",
    "completions",
    "man",
    "journal",
];

#[test]
fn every_subcommand_has_help_with_examples() {
    let p = Project::new("");
    let top = p.ok(&["--help"]);
    for name in SUBCOMMANDS {
        assert!(
            top.lines().any(|l| l.trim_start().starts_with(name)),
            "{name} listed in:\n{top}"
        );
        let help = p.ok(&[name, "--help"]);
        assert!(
            help.contains("Examples:") && help.contains(&format!("tend {name}")),
            "tend {name} --help has examples:\n{help}"
        );
    }
    assert!(top.contains("Examples:"), "{top}");
    let verify = p.ok(&["journal", "verify", "--help"]);
    assert!(
        verify.contains("Examples:\n  tend journal verify"),
        "{verify}"
    );
}

#[test]
fn completions_for_bash_zsh_and_fish_know_every_subcommand() {
    let p = Project::new("");
    let bash = p.ok(&["completions", "bash"]);
    let zsh = p.ok(&["completions", "zsh"]);
    let fish = p.ok(&["completions", "fish"]);
    assert!(bash.contains("complete -F _tend"), "{bash}");
    assert!(zsh.starts_with("#compdef tend"), "{zsh}");
    assert!(fish.contains("complete -c tend"), "{fish}");
    for name in SUBCOMMANDS {
        for (shell, script) in [("bash", &bash), ("zsh", &zsh), ("fish", &fish)] {
            assert!(script.contains(name), "{shell} completes {name}");
        }
    }
    // The bash script is valid bash, and completes for real.
    let script = p.path("tend.bash");
    std::fs::write(&script, &bash).unwrap();
    let completed = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(tend rel); COMP_CWORD=1; _tend tend rel tend; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(completed.status.success(), "{completed:?}");
    assert_eq!(String::from_utf8_lossy(&completed.stdout).trim(), "reload");
    let unknown = p.tend(&["completions", "tcsh"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("possible values"));
}

#[test]
fn man_pages_are_written_for_the_program_and_each_subcommand() {
    let p = Project::new("");
    let page = p.ok(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH tend 1"),
        "{page}"
    );
    assert!(
        page.contains("tend\\-upgrade"),
        "subcommands listed: {page}"
    );
    let out = p.ok(&["man", "--dir", "man1"]);
    assert!(out.contains("man1"), "{out}");
    for name in ["tend.1", "tend-up.1", "tend-reload.1", "tend-top.1"] {
        let text = std::fs::read_to_string(p.path("man1").join(name)).unwrap();
        assert!(text.contains(".TH"), "{name}: {text}");
    }
    // Readable by man itself.
    if suite::runs("man", || {
        suite::tool("man", &["--version"], "apt-get install man-db")
    }) {
        let shown = Command::new("man")
            .arg("-l")
            .arg(p.path("man1/tend-reload.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(text.contains("--dry-run"), "{text}");
    }
}

#[test]
fn reload_prints_its_plan_first_and_a_dry_run_changes_nothing() {
    let mut p = Project::new(
        "[services.a]\nshell = \"while true; do sleep 1; done\"\n\
         [services.b]\nshell = \"while true; do sleep 1; done\"\n\
         [services.k]\nshell = \"while true; do sleep 1; done\"\n",
    );
    p.up();
    p.wait_state("a", "running");
    let kept = p.wait_state("k", "running")["pid"].clone();
    p.write_config(
        "[services.a]\nshell = \"while true; do sleep 2; done\"\n\
         [services.k]\nshell = \"while true; do sleep 1; done\"\n\
         [services.c]\nshell = \"while true; do sleep 1; done\"\n",
    );
    let plan = p.ok(&["reload", "--dry-run"]);
    for line in [
        "added:     c",
        "removed:   b",
        "changed:   a",
        "unchanged: k",
        "dry run: nothing changed",
    ] {
        assert!(plan.contains(line), "{line:?} in:\n{plan}");
    }
    let names: Vec<String> = p
        .status()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["a", "b", "k"], "the dry run changed nothing");

    let applied = p.ok(&["reload"]);
    assert!(
        applied.contains("added:     c") && applied.trim_end().ends_with("applied"),
        "{applied}"
    );
    p.wait_state("c", "running");
    assert!(!p.status().iter().any(|s| s["name"] == "b"));
    assert_eq!(p.service("k")["pid"], kept, "unchanged: same process");
    assert_eq!(p.down(), 0);
}

/// A database that becomes ready when the test says so (a file appears),
/// and an API that waits for it.
const WAITING: &str = r#"
[services.db]
shell = "echo booting; while [ ! -e go ]; do sleep 0.05; done; echo accepting connections; exec sleep 600"
ready = { log = "accepting connections", timeout = "60s" }

[services.api]
shell = "while true; do sleep 1; done"
replicas = 2
depends_on = { db = "ready" }
"#;

#[test]
fn up_shows_which_services_wait_on_which_dependency() {
    let mut p = Project::new(WAITING);
    p.up();
    p.wait_for("api to wait for db", || {
        let api = p.service("api.1");
        api["state"] == "pending" && api["waiting_for"][0]["service"] == "db"
    });
    assert_eq!(p.service("api.2")["waiting_for"][0]["condition"], "ready");
    let table = p.ok(&["status"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("api.1") && l.contains("waiting for db (ready)")),
        "{table}"
    );
    p.wait_for("the progress line", || {
        p.read("up.err").contains(
            "starting: 0/3 up; starting: db; waiting: api.1 on db (ready), api.2 on db (ready)",
        )
    });
    std::fs::write(p.path("go"), "").unwrap();
    p.wait_state("api.2", "running");
    p.wait_for("the end of start-up", || {
        p.read("up.err").contains("up; failed") || p.read("up.err").contains(": 3/3 up")
    });
    let console = p.read("up.err");
    assert!(
        console
            .lines()
            .any(|l| l.contains("started in") && l.ends_with("3/3 up")),
        "{console}"
    );
    assert!(
        p.service("api.1")["waiting_for"].is_null(),
        "no longer waits"
    );
    assert_eq!(p.down(), 0);
}

#[test]
fn up_detached_follows_start_up_until_everything_started() {
    let p = Project::new(WAITING);
    let mut up = p
        .command(env!("CARGO_BIN_EXE_tend"))
        .args(["up", "-d"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    p.wait_for("api to wait", || {
        p.tend(&["status", "--json"]).status.success() && p.service("api.1")["state"] == "pending"
    });
    assert!(up.try_wait().unwrap().is_none(), "still following start-up");
    std::fs::write(p.path("go"), "").unwrap();
    let out = up.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("running in the background"), "{text}");
    assert!(
        text.contains("tend: starting: 0/3 up; starting: db; waiting: api.1 on db (ready), api.2 on db (ready)"),
        "{text}"
    );
    assert!(
        text.lines().last().unwrap().starts_with("tend: started in")
            && text.trim_end().ends_with("3/3 up"),
        "{text}"
    );
    p.ok(&["down"]);
}

#[test]
fn report_draws_a_runs_history_from_the_journal_with_tend_stopped() {
    let mut p = Project::new(
        r#"
[services.steady]
shell = "while true; do sleep 1; done"

[services.flaky]
shell = "sleep 0.2; exit 3"
backoff = { initial = "10ms", max = "20ms" }
budget = { max_restarts = 3, period = "1m", on_exhausted = "stop" }
"#,
    );
    p.up();
    p.wait_state("flaky", "failed");
    assert_eq!(p.down(), 0);
    let out = p.ok(&["report", "-o", "report.html", "--since", "1h"]);
    assert!(out.starts_with("report.html: "), "{out}");
    let page = p.read("report.html");
    assert!(page.starts_with("<!doctype html>"), "{page}");
    assert!(
        page.contains(">flaky<") && page.contains(">steady<"),
        "a lane each"
    );
    assert!(page.contains("4 runs, 3 restarts"), "{page}");
    assert!(page.contains("1 run, 0 restarts"), "{page}");
    assert!(page.contains("class=\"abnormal\""), "the crashes drawn");
    assert!(
        page.contains("failed: circuit breaker open")
            || page.contains("failed: circuit-breaker-open"),
        "{page}"
    );
    assert!(page.contains("<th>error</th>"), "exit kinds: {page}");
    assert!(
        !page.contains("<script") && !page.contains("src=\"http"),
        "self-contained"
    );
    let missing = Project::new("");
    let err = missing.tend(&["report"]);
    assert_eq!(err.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&err.stderr).contains("no journal at"));
}
