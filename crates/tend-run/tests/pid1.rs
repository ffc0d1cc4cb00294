//! `tend-run` as PID 1 of a new PID namespace (a container's init): it
//! reaps every orphan and turns SIGTERM into a graceful stop.

#[path = "common/namespace.rs"]
mod namespace;
#[path = "../../tend-testkit/tests/common/suite.rs"]
mod suite;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use namespace::{descendants, namespace_missing};

const DEADLINE: Duration = Duration::from_secs(30);

struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn as_pid_1_it_reaps_orphans_and_stops_gracefully_on_sigterm() {
    if !suite::runs("root", namespace_missing) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("tend-run-pid1-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let marker = dir.join("orphans-made");
    // The service leaves an orphan every 50 ms: each becomes PID 1's child,
    // then a zombie unless PID 1 reaps it.
    let script = format!(
        "for i in $(seq 1 20); do (sleep 0.01 &); sleep 0.05; done; touch {}; exec sleep 1000",
        marker.display()
    );
    let child = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_tend-run"))
        .args(["--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed if the test fails early; `--kill-child` then takes PID 1 down.
    let mut child = KillOnDrop(Some(child));
    let start = Instant::now();
    while !marker.exists() {
        assert!(start.elapsed() < DEADLINE, "the service makes its orphans");
        std::thread::sleep(Duration::from_millis(10));
    }
    // `unshare --fork` runs tend-run as its child, PID 1 inside.
    let init = loop {
        let found = descendants(child.0.as_ref().unwrap().id())
            .into_iter()
            .find(|&(_, s)| s != 'Z')
            .map(|(p, _)| p);
        if let Some(pid) = found {
            break pid;
        }
        assert!(start.elapsed() < DEADLINE);
        std::thread::sleep(Duration::from_millis(10));
    };
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("NSpid:") && l.trim_end().ends_with("\t1")),
        "{status}"
    );
    // Every orphan ended long ago (10 ms each): none may be left a zombie.
    let wait_reaped = Instant::now();
    loop {
        let zombies: Vec<_> = descendants(init)
            .into_iter()
            .filter(|&(_, s)| s == 'Z')
            .collect();
        if zombies.is_empty() {
            break;
        }
        assert!(
            wait_reaped.elapsed() < DEADLINE,
            "zombies left under PID 1: {zombies:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Command::new("kill")
        .args(["-TERM", &init.to_string()])
        .status()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut unshare = child.0.take().unwrap();
    std::thread::spawn(move || tx.send(unshare.wait().map(|s| s.code())));
    let code = rx
        .recv_timeout(DEADLINE)
        .expect("tend-run stops on SIGTERM")
        .unwrap();
    assert_eq!(code, Some(0));
    assert!(!Path::new(&format!("/proc/{init}")).exists());
}
