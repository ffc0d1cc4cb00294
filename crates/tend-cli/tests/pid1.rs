//! `tend up` as PID 1 of a PID namespace (`unshare --pid --fork`), as
//! the entrypoint of a multi-process container: several services, one of
//! them leaving orphans on purpose, which become PID 1's children and
//! zombies unless tend reaps them; the API answers from outside; SIGTERM
//! (what `docker stop` and kubelet send) stops everything gracefully and
//! tend exits 0.

mod common;
#[path = "../../tend-run/tests/common/namespace.rs"]
mod namespace;

use std::process::{Command, Stdio};
use std::time::Instant;

use common::{suite, Project, DEADLINE};
use namespace::{descendants, namespace_missing};

const CONFIG: &str = r#"
# Leaves an orphan every 50 ms: each is re-parented to PID 1.
[services.web]
shell = "for i in $(seq 1 20); do (sleep 0.01 &); sleep 0.05; done; touch orphans-made; exec sleep 1000"

[services.worker]
shell = "exec sleep 1000"
replicas = 2

[services.setup]
shell = "echo set up"
restart = "on-failure"
"#;

#[test]
fn tend_as_pid_1_reaps_orphans_answers_and_stops_on_sigterm() {
    if !suite::runs("root", namespace_missing) {
        return;
    }
    let p = Project::new(CONFIG);
    let mut unshare = p
        .command("unshare")
        .args(["--pid", "--fork", "--kill-child", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_tend"))
        .arg("up")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(p.path("up.err")).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    // `unshare --fork` runs tend as its child: PID 1 inside.
    let init = loop {
        let found = descendants(unshare.id())
            .into_iter()
            .find(|&(_, s)| s != 'Z')
            .map(|(p, _)| p);
        if let Some(pid) = found {
            break pid;
        }
        assert!(start.elapsed() < DEADLINE, "tend did not start");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("NSpid:") && l.trim_end().ends_with("\t1")),
        "tend is PID 1 in its namespace: {status}"
    );

    // The API answers from outside the namespace.
    p.wait_for("every service up", || {
        p.tend(&["status", "--json"]).status.success()
            && ["web", "worker.1", "worker.2"]
                .iter()
                .all(|n| p.service(n)["state"] == "running")
            && p.service("setup")["state"] == "completed"
    });
    p.wait_for("web's orphans made", || p.path("orphans-made").exists());
    // Every orphan ended long ago (10 ms each): none may be left a zombie.
    p.wait_for("every orphan reaped", || {
        descendants(init).iter().all(|&(_, s)| s != 'Z')
    });
    let running = descendants(init);
    assert_eq!(
        running.len(),
        3,
        "web and two workers, nothing else: {running:?}"
    );

    // SIGTERM, as a container runtime sends it: a graceful stop, exit 0.
    Command::new("kill")
        .args(["-TERM", &init.to_string()])
        .status()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(unshare.wait().map(|s| s.code())));
    let code = rx
        .recv_timeout(DEADLINE)
        .expect("tend stops on SIGTERM")
        .unwrap();
    assert_eq!(code, Some(0), "{}", p.read("up.err"));
    assert!(
        !std::path::Path::new(&format!("/proc/{init}")).exists(),
        "PID 1 is gone, and the namespace with it"
    );
    let console = p.read("up.err");
    for name in ["web", "worker.1", "worker.2"] {
        assert!(
            console
                .lines()
                .any(|l| l.contains(&format!(" {name} (pid "))
                    && l.contains(" exited after ")
                    && l.contains(": shutdown")),
            "{name} stopped gracefully: {console}"
        );
    }
    assert!(!p.path(".tend/tend.sock").exists());
}
