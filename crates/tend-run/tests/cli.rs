//! `tend-run` end to end: a real binary, real processes, real signals.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "common/limits.rs"]
mod limits;
use limits::children_of;

const DEADLINE: Duration = Duration::from_secs(30);

/// A running `tend-run`, killed if the test ends early (a failed assertion
/// must not leave a restart loop running).
struct Running(Option<Child>);

impl Running {
    fn spawn(command: &mut Command) -> Self {
        Running(Some(command.spawn().unwrap()))
    }

    fn id(&self) -> u32 {
        self.0.as_ref().unwrap().id()
    }

    fn wait_output(mut self) -> Output {
        wait_output(self.0.take().unwrap())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn tend_run(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tend-run"));
    command.args(args).stdin(Stdio::null());
    command
}

fn run_to_end(args: &[&str]) -> Output {
    let child = tend_run(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child)
}

fn wait_output(child: Child) -> Output {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()));
    rx.recv_timeout(DEADLINE).expect("tend-run ends in time")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tend-run-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn sigterm(child: &Running) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
}

#[test]
fn a_command_that_fails_and_is_never_restarted_fails_tend_run() {
    let out = run_to_end(&["--restart", "never", "--", "sh", "-c", "echo hi; exit 3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tend-run: sh started (pid "), "{stderr}");
    assert!(
        stderr.contains(") exited after") && stderr.contains("error (exit code 3)"),
        "{stderr}"
    );
}

#[test]
fn a_command_that_completes_under_on_failure_ends_tend_run_cleanly() {
    let out = run_to_end(&["--restart", "on-failure", "--", "true"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn giving_up_on_restarts_fails_tend_run_and_says_why() {
    let out = run_to_end(&[
        "--backoff",
        "0",
        "--max-restarts",
        "2",
        "--period",
        "60s",
        "--",
        "sh",
        "-c",
        "exit 1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches(") exited after").count(), 3, "{stderr}");
    assert!(
        stderr.contains("tend-run: tend-run gave up (restart intensity reached) after sh"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "tend-run: tend-run stopped: gave up: restart intensity reached, because of child sh"
        ),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2_with_a_reason() {
    let out = run_to_end(&["--stop-signal", "SIGNOPE", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown signal"));
    let out = run_to_end(&[]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_to_end(&["--", "/nonexistent/program"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot start \"/nonexistent/program\": no such file (/nonexistent/program)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn backoff_zero_restarts_at_once_and_sigterm_exits_0() {
    let dir = temp("restarts");
    let stamps = dir.join("stamps");
    let script = format!("echo x >> {}; exit 1", stamps.display());
    let child = Running::spawn(
        tend_run(&["--backoff", "0", "--", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    eventually("50 runs", || lines(&stamps) >= 50);
    sigterm(&child);
    let out = child.wait_output();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_stop_reaches_the_whole_tree_and_kills_what_ignores_sigterm() {
    let dir = temp("stubborn");
    let pids = dir.join("pids");
    // A shell that ignores TERM, with a background child that does too.
    let script = format!(
        "trap '' TERM; (trap '' TERM; sleep 1000) & echo $! > {}; sleep 1000",
        pids.display()
    );
    let child = Running::spawn(
        tend_run(&["--stop-timeout", "300ms", "--", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    eventually("the grandchild's pid", || lines(&pids) == 1);
    let grandchild: u32 = std::fs::read_to_string(&pids)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let shell = children_of(child.id());
    assert_eq!(shell.len(), 1, "one direct child: the shell");
    let started = Instant::now();
    sigterm(&child);
    let out = child.wait_output();
    assert_eq!(out.status.code(), Some(0));
    assert!(started.elapsed() >= Duration::from_millis(300));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("killed by SIGKILL: no exit within 300ms of SIGTERM"),
        "{stderr}"
    );
    for pid in [shell[0], grandchild] {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{pid} survived"
        );
    }
}

#[test]
fn log_captures_every_line_and_replicas_run_side_by_side() {
    let dir = temp("log");
    let log = dir.join("out.log");
    let out = run_to_end(&[
        "--restart",
        "never",
        "--replicas",
        "3",
        "--log",
        log.to_str().unwrap(),
        "--",
        "seq",
        "1",
        "20000",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let mut counts = vec![0u8; 20001];
    for line in text.lines() {
        counts[line.parse::<usize>().unwrap()] += 1;
    }
    assert!(
        counts[1..].iter().all(|&c| c == 3),
        "each line once per replica"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for n in 1..=3 {
        assert!(stderr.contains(&format!("seq-{n} started")), "{stderr}");
    }
}

/// The command's last words reach the pipe before `tend-run` exits: its
/// copy of the output is written out first. Eighty runs, eight at a time
/// (the copy's thread was not always scheduled before the exit under load:
/// 5 of 160 such runs lost the line).
#[test]
fn a_command_s_last_output_reaches_a_pipe_before_tend_run_exits() {
    let runs: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                (0..10)
                    .map(|_| {
                        let out = run_to_end(&["--restart", "never", "--", "echo", "last words"]);
                        (
                            out.status.code(),
                            String::from_utf8_lossy(&out.stdout).into_owned(),
                        )
                    })
                    .filter(|ended| *ended != (Some(0), "last words\n".to_owned()))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let lost: Vec<_> = runs.into_iter().flat_map(|r| r.join().unwrap()).collect();
    assert!(lost.is_empty(), "of 80 runs: {lost:?}");
}

/// A child tend-run inherits (a shell's `sleep &` before it exec'd
/// tend-run, as a process substitution of its standard error is) is no
/// orphan of a stop: its exit is not waited for (it took 5 s, and a
/// warning that descendants were still exiting).
#[test]
fn a_child_inherited_from_the_shell_is_not_waited_for_at_exit() {
    let started = std::time::Instant::now();
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "sleep 30 >/dev/null 2>&1 & exec \"$0\" --restart on-failure -- true",
        ])
        .arg(env!("CARGO_BIN_EXE_tend-run"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let took = started.elapsed();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(!said.contains("still exiting"), "{said}");
    assert!(
        took < std::time::Duration::from_secs(4),
        "took {took:?}: {said}"
    );
}
