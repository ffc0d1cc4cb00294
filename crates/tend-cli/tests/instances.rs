//! One config file, one instance: two configs side by side each have their
//! own state directory and daemon, every command reaches the daemon of the
//! config it was given (and refuses another's), two `tend up` at once
//! start one daemon, and a config under a deep directory works though its
//! socket's path is longer than a unix address holds.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use common::{alive, Project, DEADLINE};
use serde_json::Value;

const FOREVER: &str = "while true; do sleep 1; done";

fn config(service: &str) -> String {
    format!("[services.{service}]\nshell = \"{FOREVER}\"\n")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The services `tend ARGS status --json` lists, with their pids.
fn services(p: &Project, args: &[&str]) -> Vec<(String, u64)> {
    let mut all = args.to_vec();
    all.extend(["status", "--json"]);
    let listed: Value = serde_json::from_str(&p.ok(&all)).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["pid"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Waits until `tend ARGS status --json` lists `name` running; its pid.
fn running(p: &Project, args: &[&str], name: &str) -> u64 {
    let mut pid = 0;
    p.wait_for(&format!("{name} to run"), || {
        let mut all = args.to_vec();
        all.extend(["status", "--json"]);
        let out = p.tend(&all);
        let Ok(listed) = serde_json::from_slice::<Value>(&out.stdout) else {
            return false;
        };
        let found = listed
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == name && s["state"] == "running");
        pid = found.and_then(|s| s["pid"].as_u64()).unwrap_or(0);
        pid != 0
    });
    pid
}

/// The daemon's own facts, asked on its socket.
fn daemon(socket: &Path) -> Value {
    let answer = common::request(socket, "GET", "/v1/daemon", None);
    serde_json::from_str(&answer.body).unwrap_or_else(|_| panic!("{}", answer.body))
}

#[test]
fn two_configs_in_one_directory_are_two_instances() {
    let p = Project::new(&config("t"));
    std::fs::write(p.path("a.toml"), config("a")).unwrap();
    std::fs::write(p.path("b.toml"), config("b")).unwrap();
    let a = ["-c", "a.toml"];
    let b = ["-c", "b.toml"];
    p.ok(&["-c", "a.toml", "up", "-d"]);
    p.ok(&["-c", "b.toml", "up", "-d"]);
    let a_pid = running(&p, &a, "a");
    running(&p, &b, "b");
    // Each has its own state directory, and each command reaches its own.
    assert!(p.path(".tend-a/journal.db").exists());
    assert!(p.path(".tend-b/journal.db").exists());
    assert!(p.path(".tend-a/logs/a.log").exists());
    assert!(!p.path(".tend-a/logs/b.log").exists());
    assert!(!p.path(".tend").exists(), "tend.toml's is not used");
    assert_eq!(services(&p, &a), [("a".to_owned(), a_pid)]);
    assert_eq!(services(&p, &b).len(), 1);
    assert_eq!(services(&p, &b)[0].0, "b");
    let a_daemon = daemon(&p.path(".tend-a/tend.sock"));
    let b_daemon = daemon(&p.path(".tend-b/tend.sock"));
    assert_ne!(a_daemon["pid"], b_daemon["pid"]);
    // A reload re-reads its own file.
    std::fs::write(p.path("b.toml"), config("b") + &config("b2")).unwrap();
    let plan = p.ok(&["-c", "b.toml", "reload"]);
    assert!(plan.contains("b.toml") && plan.contains("b2"), "{plan}");
    running(&p, &b, "b2");
    assert_eq!(services(&p, &a), [("a".to_owned(), a_pid)]);
    // Stopping b leaves a running.
    p.ok(&["-c", "b.toml", "down"]);
    let out = p.tend(&["-c", "b.toml", "status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tend is not running"),
        "{}",
        text(&out)
    );
    assert_eq!(services(&p, &a), [("a".to_owned(), a_pid)]);
    assert_eq!(daemon(&p.path(".tend-a/tend.sock"))["pid"], a_daemon["pid"]);
    assert!(alive(a_pid));
    p.ok(&["-c", "a.toml", "down"]);
    assert!(!alive(a_pid));
}

#[test]
fn a_command_refuses_the_daemon_of_another_config() {
    let p = Project::new(&config("t"));
    std::fs::write(p.path("a.toml"), config("a")).unwrap();
    std::fs::write(p.path("b.toml"), config("b")).unwrap();
    std::os::unix::fs::symlink("a.toml", p.path("link.toml")).unwrap();
    // One state directory named for both.
    let shared = ["--state-dir", "shared"];
    p.ok(&["-c", "a.toml", "--state-dir", "shared", "up", "-d"]);
    let a_pid = running(&p, &["-c", "a.toml", "--state-dir", "shared"], "a");
    let canonical = |name: &str| std::fs::canonicalize(p.path(name)).unwrap();
    let expected = format!(
        "the daemon on {} runs {}, not {}",
        Path::new("shared/tend.sock").display(),
        canonical("a.toml").display(),
        canonical("b.toml").display()
    );
    for command in [&["status"][..], &["down"], &["restart", "a"], &["reload"]] {
        let mut args = vec!["-c", "b.toml"];
        args.extend(shared);
        args.extend(command);
        let out = p.tend(&args);
        assert_eq!(out.status.code(), Some(1), "{command:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&expected),
            "{command:?}: {}",
            text(&out)
        );
    }
    // Nothing was done to a.
    assert_eq!(
        services(&p, &["-c", "a.toml", "--state-dir", "shared"]),
        [("a".to_owned(), a_pid)]
    );
    // The same file by another name is the same config; a state directory
    // named alone reaches whichever daemon runs there.
    assert_eq!(
        services(&p, &["-c", "link.toml", "--state-dir", "shared"]),
        [("a".to_owned(), a_pid)]
    );
    assert_eq!(services(&p, &shared), [("a".to_owned(), a_pid)]);
    // b cannot start on a's directory either.
    let out = p.tend(&["-c", "b.toml", "--state-dir", "shared", "up", "-d"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    p.ok(&["-c", "a.toml", "--state-dir", "shared", "down"]);
    assert!(!alive(a_pid));
}

/// `tend ARGS` started in `dir` once `barrier` lets every thread go.
fn at_once(dir: PathBuf, args: &'static [&'static str], barrier: Arc<Barrier>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tend"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("TEND_CONFIG")
        .env_remove("TEND_STATE_DIR")
        .env_remove("TEND_SOCKET");
    barrier.wait();
    command.output().unwrap()
}

/// The pid in "already running (pid N)".
fn pid_said(out: &Output) -> u64 {
    let said = String::from_utf8_lossy(&out.stderr);
    let after = said
        .split("already running (pid ")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", text(out)));
    after[..after.find(')').unwrap()].parse().unwrap()
}

#[test]
fn two_up_d_at_once_start_one_daemon() {
    let p = Project::new(&config("a"));
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (dir, barrier) = (p.dir.path().to_path_buf(), barrier.clone());
            std::thread::spawn(move || at_once(dir, &["up", "-d"], barrier))
        })
        .collect();
    let outs: Vec<Output> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let (won, lost): (Vec<&Output>, Vec<&Output>) = outs.iter().partition(|o| o.status.success());
    assert_eq!((won.len(), lost.len()), (1, 1), "{outs:?}");
    assert!(
        String::from_utf8_lossy(&won[0].stdout).contains("running in the background"),
        "{}",
        text(won[0])
    );
    assert_eq!(lost[0].status.code(), Some(1), "{}", text(lost[0]));
    let info = daemon(&p.path(".tend/tend.sock"));
    assert_eq!(pid_said(lost[0]), info["pid"].as_u64().unwrap());
    let a = running(&p, &[], "a");
    // One daemon: one instance of the service ever started.
    let starts = p.ok(&["events", "--json"]);
    let started = starts
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "started")
        .count();
    assert_eq!(started, 1, "{starts}");
    p.ok(&["down"]);
    assert!(!alive(a));
    assert!(!alive(info["pid"].as_u64().unwrap()));
}

#[test]
fn down_returns_once_the_daemon_is_gone_so_up_may_follow_at_once() {
    let p = Project::new(&config("a"));
    for round in 0..5 {
        p.ok(&["up", "-d"]);
        let pid = daemon(&p.path(".tend/tend.sock"))["pid"].as_u64().unwrap();
        p.ok(&["down"]);
        // Its process ended, its lock with it: no "already running".
        assert!(
            !alive(pid),
            "round {round}: daemon {pid} outlived `tend down`"
        );
    }
    p.ok(&["up", "-d"]);
    p.ok(&["down"]);
}

/// Spawns `tend up` in the foreground.
fn foreground(p: &Project, name: &str) -> Child {
    p.command(env!("CARGO_BIN_EXE_tend"))
        .arg("up")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(p.path(&format!("{name}.out"))).unwrap())
        .stderr(std::fs::File::create(p.path(&format!("{name}.err"))).unwrap())
        .spawn()
        .unwrap()
}

#[test]
fn two_foreground_ups_at_once_run_one_daemon() {
    let mut p = Project::new(&config("a"));
    let mut ups = [foreground(&p, "one"), foreground(&p, "two")];
    // One of them exits, refused; the other runs on.
    let started = Instant::now();
    let (lost, code) = loop {
        if let Some((i, status)) = ups
            .iter_mut()
            .enumerate()
            .find_map(|(i, up)| Some((i, up.try_wait().unwrap()?)))
        {
            break (i, status.code());
        }
        assert!(started.elapsed() < DEADLINE, "neither tend up exited");
        std::thread::sleep(std::time::Duration::from_millis(25));
    };
    assert_eq!(code, Some(1));
    let [one, two] = ups;
    let (winner, name) = if lost == 0 {
        (two, "one")
    } else {
        (one, "two")
    };
    let said = p.read(&format!("{name}.err"));
    let winner_pid = u64::from(winner.id());
    assert!(
        said.contains(&format!("already running (pid {winner_pid})")),
        "{said}"
    );
    p.daemon = Some(winner);
    let a = running(&p, &[], "a");
    assert_eq!(
        daemon(&p.path(".tend/tend.sock"))["pid"].as_u64(),
        Some(winner_pid)
    );
    assert_eq!(p.down(), 0);
    assert!(!alive(a));
}

#[test]
fn a_config_under_a_deep_directory_runs() {
    let p = Project::new(&config("t"));
    let deep = p
        .dir
        .path()
        .join("d".repeat(60))
        .join("e".repeat(60))
        .join("f".repeat(60));
    std::fs::create_dir_all(&deep).unwrap();
    let file = deep.join("tend.toml");
    std::fs::write(&file, config("deep")).unwrap();
    let socket = deep.join(".tend/tend.sock");
    assert!(deep.as_os_str().len() >= 200 && socket.as_os_str().len() > 107);
    let file = file.to_str().unwrap();
    let c = ["-c", file];
    let up = p.tend(&["-c", file, "up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    let pid = running(&p, &c, "deep");
    assert!(socket.exists(), "the socket beside the config");
    assert_eq!(services(&p, &c), [("deep".to_owned(), pid)]);
    let restart = p.tend(&["-c", file, "restart", "deep"]);
    assert!(restart.status.success(), "{}", text(&restart));
    assert_ne!(running(&p, &c, "deep"), pid);
    let again = p.tend(&["-c", file, "up", "-d"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running (pid "));
    p.ok(&["-c", file, "down"]);
    assert!(!socket.exists());
    let out = p.tend(&["-c", file, "status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tend is not running"));
}
