//! Readiness signals and probes of real processes: a log line, a file, a
//! TCP port; readiness toggled by an HTTP probe; liveness failing by exec
//! (restart) and by TCP (isolation, still running); a startup probe.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{testkit, DEADLINE};
use tend_engine::{
    ChildSpec, ChildState, Event, EventKind, ExitKind, Restart, Supervisor, SupervisorHandle,
};
use tend_process::{
    HttpTarget, OnUnhealthy, ProbeCheck, ProbeSpec, ProbeTiming, ProcessExt, ProcessSpec,
};
use tokio::sync::broadcast;

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tend-probes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fast(check: ProbeCheck, failures: u32) -> ProbeSpec {
    ProbeSpec {
        check,
        timing: ProbeTiming {
            period: Duration::from_millis(100),
            timeout: Duration::from_secs(2),
            failure_threshold: failures,
            ..ProbeTiming::default()
        },
    }
}

fn serve(port: u16, health: &Path) -> ProcessSpec {
    testkit([
        "serve",
        &format!("127.0.0.1:{port}"),
        "--health",
        health.to_str().unwrap(),
    ])
}

async fn event(
    events: &mut broadcast::Receiver<Event>,
    what: &str,
    pred: impl Fn(&EventKind) -> bool,
) -> Event {
    tokio::time::timeout(DEADLINE, async {
        loop {
            let event = events.recv().await.expect("events");
            if pred(&event.kind) {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn info(sup: &SupervisorHandle, id: &str) -> tend_engine::ChildInfo {
    sup.child_info(id).await.unwrap()
}

#[tokio::test]
async fn a_log_line_a_file_and_a_port_make_a_process_ready() {
    let dir = scratch("signals");
    let port = free_port();
    let mut logged = testkit(["ready"]);
    logged.ready.log = Some("^READY$".into());
    let mut filed = ProcessSpec::shell(format!(
        "sleep 0.3; touch {}/up; exec sleep 100",
        dir.display()
    ));
    filed.ready.file = Some(dir.join("up"));
    let mut ported = testkit(["serve", &format!("127.0.0.1:{port}"), "--after", "300"]);
    ported.ready.probe = Some(Box::new(ProbeCheck::Tcp(format!("127.0.0.1:{port}"))));
    let mut never = testkit(["hang"]);
    never.ready.log = Some("never printed".into());
    never.ready.timeout = Duration::from_millis(500);

    let sup = Supervisor::builder("s")
        .child(ChildSpec::process("logged", logged))
        .child(ChildSpec::process("filed", filed))
        .child(ChildSpec::process("ported", ported))
        .start()
        .await
        .unwrap();
    for id in ["logged", "filed", "ported"] {
        let info = info(&sup, id).await;
        assert_eq!(
            (info.state, info.ready),
            (ChildState::Running, true),
            "{id}"
        );
    }
    assert!(dir.join("up").exists());
    let error = Supervisor::builder("t")
        .child(ChildSpec::process("never", never))
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("not ready within 500ms"), "{error}");
    sup.shutdown().await;
}

#[tokio::test]
async fn an_http_readiness_probe_toggles_ready_without_a_restart() {
    let dir = scratch("flap");
    let (port, health) = (free_port(), dir.join("healthy"));
    let mut spec = serve(port, &health);
    let target = HttpTarget::parse(&format!("http://127.0.0.1:{port}/ready")).unwrap();
    spec.readiness = Some(Box::new(fast(ProbeCheck::Http(target), 2)));
    let mut builder = Supervisor::builder("s")
        .concurrent_start(true)
        .child(ChildSpec::process("web", spec));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    assert!(!info(&sup, "web").await.ready, "503 until the file exists");
    std::fs::write(&health, "").unwrap();
    event(&mut events, "ready", |k| {
        matches!(k, EventKind::ChildReady { .. })
    })
    .await;
    let pid = info(&sup, "web").await.pid;
    std::fs::remove_file(&health).unwrap();
    let not_ready = event(&mut events, "not ready", |k| {
        matches!(k, EventKind::ChildNotReady { .. })
    })
    .await;
    assert!(
        matches!(not_ready.kind, EventKind::ChildNotReady { ref reason, .. } if reason.contains("status 503")),
        "{not_ready:?}"
    );
    let now = info(&sup, "web").await;
    assert_eq!(
        (now.state, now.ready, now.pid),
        (ChildState::Running, false, pid)
    );
    std::fs::write(&health, "").unwrap();
    event(&mut events, "ready again", |k| {
        matches!(k, EventKind::ChildReady { .. })
    })
    .await;
    assert_eq!(
        info(&sup, "web").await.pid,
        pid,
        "the same process throughout"
    );
    sup.shutdown().await;
}

#[tokio::test]
async fn a_failing_exec_liveness_probe_restarts_the_process() {
    let dir = scratch("liveness");
    let alive = dir.join("alive");
    std::fs::write(&alive, "").unwrap();
    let mut spec = testkit(["hang"]);
    let check = vec![
        "sh".into(),
        "-c".into(),
        format!(
            "test -e {} || {{ echo gone >&2; exit 3; }}",
            alive.display()
        ),
    ];
    spec.liveness = Some(Box::new(fast(ProbeCheck::Exec(check), 2)));
    let mut builder = Supervisor::builder("s").child(ChildSpec::process("svc", spec));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(info(&sup, "svc").await.generation, 1, "alive: left alone");
    std::fs::remove_file(&alive).unwrap();
    let stopping = event(&mut events, "stopping", |k| {
        matches!(k, EventKind::ChildStopping { .. })
    })
    .await;
    let EventKind::ChildStopping { because, .. } = stopping.kind else {
        unreachable!()
    };
    assert_eq!(because.kind(), ExitKind::Unhealthy);
    let reason = because.to_string();
    assert!(
        reason.contains("liveness probe failed 2 times")
            && reason.contains("exited with code 3: gone"),
        "{reason}"
    );
    std::fs::write(&alive, "").unwrap();
    let sup2 = sup.clone();
    let restarted = tokio::time::timeout(DEADLINE, async move {
        loop {
            let info = sup2.child_info("svc").await.unwrap();
            if info.generation == 2 && info.state == ChildState::Running {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("restarted");
    assert_eq!(restarted.history[0].exit.kind(), ExitKind::Unhealthy);
    sup.shutdown().await;
}

#[tokio::test]
async fn an_isolated_process_keeps_running_not_ready() {
    let port = free_port();
    let mut spec = testkit(["hang"]);
    // Nothing listens on the port: the liveness probe fails from the start.
    spec.liveness = Some(Box::new(fast(
        ProbeCheck::Tcp(format!("127.0.0.1:{port}")),
        2,
    )));
    spec.on_unhealthy = OnUnhealthy::Isolate;
    let mut builder =
        Supervisor::builder("s").child(ChildSpec::process("svc", spec).restart(Restart::Permanent));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let pid = info(&sup, "svc").await.pid.unwrap();
    event(&mut events, "isolated", |k| {
        matches!(k, EventKind::ChildIsolated { .. })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = info(&sup, "svc").await;
    assert_eq!(
        (now.state, now.ready, now.pid),
        (ChildState::Isolated, false, Some(pid))
    );
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "still running");
    // An operator's restart stops it and starts a new one.
    sup.restart_child("svc").await.unwrap();
    let again = info(&sup, "svc").await;
    assert_eq!(again.generation, 2);
    assert_ne!(again.pid, Some(pid));
    sup.shutdown().await;
}

#[tokio::test]
async fn a_startup_probe_gates_the_start() {
    let dir = scratch("startup");
    let port = free_port();
    let mut spec = serve(port, &dir.join("unused"));
    spec.command.extend(["--after".into(), "400".into()]);
    spec.startup = Some(Box::new(fast(
        ProbeCheck::Tcp(format!("127.0.0.1:{port}")),
        100,
    )));
    let started = std::time::Instant::now();
    let sup = Supervisor::builder("s")
        .child(ChildSpec::process("slow", spec))
        .start()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400));
    let now = info(&sup, "slow").await;
    assert_eq!((now.state, now.ready), (ChildState::Running, true));
    sup.shutdown().await;
}
