//! Helpers for tests that run real processes: the helper program, waiting on
//! conditions with generous deadlines, and looking at /proc.

#![allow(dead_code)]

pub mod rootfs;
pub mod suite;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tend_engine::{ChildSpec, Restart, Supervisor};
use tend_process::{LogSink, LogSpec, ProcessExt, ProcessSpec};

/// Generous: CI machines are slow and busy.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A spec running the helper program with `args`.
pub fn testkit<const N: usize>(args: [&str; N]) -> ProcessSpec {
    ProcessSpec::new(env!("CARGO_BIN_EXE_tend-testkit"), args)
}

/// Waits until `check` holds, checking every few milliseconds, up to
/// [`DEADLINE`]; panics with `what` otherwise.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Like [`eventually`], with a description of the state computed on failure.
pub async fn eventually_described(mut check: impl FnMut() -> bool, describe: impl Fn() -> String) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < DEADLINE,
            "timed out; state: {}",
            describe()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `pid: state ppid cgroup` for each pid still present.
pub fn describe(pids: &[i32]) -> String {
    pids.iter()
        .filter(|&&pid| exists(pid))
        .map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let fields: Vec<String> = stat
                .rsplit_once(") ")
                .map(|(_, rest)| rest.split_whitespace().take(2).map(String::from).collect())
                .unwrap_or_default();
            let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            format!(
                "{pid}: {fields:?} {}",
                cgroup.lines().find(|l| l.starts_with("0::")).unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a process with this pid exists (a zombie counts).
pub fn exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Zombie children of this test process.
pub fn our_zombies() -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut zombies = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(after) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = after.1.split_whitespace().collect();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str()) {
            zombies.push(entry.file_name().to_string_lossy().parse().unwrap_or(0));
        }
    }
    zombies
}

/// A fresh temporary directory for this test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tend-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads pids written by `tend-testkit fork --pids FILE`, once it has.
pub async fn read_pids(path: &std::path::Path, n: usize) -> Vec<i32> {
    let mut pids = Vec::new();
    eventually("the helper writes its grandchildren's pids", || {
        pids = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect();
        pids.len() == n
    })
    .await;
    pids
}

/// Runs `spec` once as the temporary child `id`, its output to `sink`;
/// how it ended.
async fn run_temporary(id: &str, spec: ProcessSpec, sink: LogSink) -> tend_engine::Exit {
    let sup = Supervisor::builder("t").start().await.unwrap();
    let mut events = sup.subscribe();
    sup.start_child(ChildSpec::process_with_sink(id, spec, sink).restart(Restart::Temporary))
        .await
        .unwrap();
    let exit = tokio::time::timeout(DEADLINE, async {
        loop {
            if let tend_engine::EventKind::ChildExited { exit, .. } =
                events.recv().await.unwrap().kind
            {
                return exit;
            }
        }
    })
    .await
    .expect("the process ends");
    sup.shutdown().await;
    exit
}

/// Runs `spec` once, as a temporary child, and returns how it ended.
pub async fn exit_of(spec: ProcessSpec) -> tend_engine::Exit {
    run_temporary("p", spec, LogSink::discard()).await
}

/// Runs `spec` once as the temporary child `id` (a directory of its own
/// for its output), and returns how it ended and what it printed.
pub async fn run_once(id: &str, spec: ProcessSpec) -> (tend_engine::Exit, String) {
    let file = temp_dir(id).join("out");
    let sink = LogSink::from_spec(&LogSpec {
        file: Some(file.clone()),
        ..LogSpec::default()
    })
    .unwrap();
    let exit = run_temporary(id, spec, sink).await;
    (exit, std::fs::read_to_string(file).unwrap())
}

/// Runs `spec` to completion and returns what it printed.
pub async fn output_of(name: &str, spec: ProcessSpec) -> String {
    run_once(name, spec).await.1
}
