//! Containers as children, run by a real podman (with runc) on a local root
//! filesystem (busybox; no image can be pulled here): the same restart,
//! stop, limits, log capture and readiness as a process, exec probes inside,
//! and the container kept when its incarnation is isolated.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::rootfs::{self, podman_state, rootfs};
use common::suite;
use common::*;
use tend_engine::{
    ChildSpec, ChildState, ExitClass, ExitKind, Restart, Supervisor, SupervisorHandle,
};
use tend_process::{
    ContainerSource, ContainerSpec, KeepContainer, OnUnhealthy, ProbeCheck, ProbeSpec, ProcessExt,
    ProcessSpec, Runtime, Signal,
};

/// A service running `line` with `sh -c` in a container of the rootfs.
fn boxed(line: &str) -> ProcessSpec {
    let mut spec = ProcessSpec::shell(line);
    let mut container = ContainerSpec::new(ContainerSource::Rootfs(rootfs().to_path_buf()));
    container.network = Some("none".into());
    spec.container = Some(Box::new(container));
    spec
}

async fn until_state(name: &str, wanted: Option<&str>) {
    let start = Instant::now();
    loop {
        let state = podman_state(name);
        if state.as_deref() == wanted {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{name}: still {state:?}, not {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_runs_its_command_with_its_output_and_exit_code() {
    if !suite::runs("containers", rootfs::missing) {
        return;
    }
    let mut spec = boxed("echo hello as pid $$ with $MODE; exit 3");
    spec.env.set.insert("MODE".into(), "care".into());
    let (exit, out) = run_once("ct-output", spec).await;
    // PID 1: its own PID namespace, inside the container.
    assert_eq!(out.trim(), "hello as pid 1 with care");
    // It failed: kept, exited, to inspect.
    assert_eq!(podman_state("tend-ct-output").as_deref(), Some("exited"));
    Command::new("podman")
        .args(["rm", "-f", "tend-ct-output"])
        .output()
        .unwrap();
    assert_eq!(
        (exit.kind(), exit.code()),
        (ExitKind::Error, Some(3)),
        "{exit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_from_an_image_runs_too() {
    if !suite::runs("containers", rootfs::missing) {
        return;
    }
    let image = "localhost/tend-test-busybox:latest";
    let tar = temp_dir("image").join("rootfs.tar");
    let packed = Command::new("tar")
        .arg("-C")
        .arg(rootfs())
        .args(["-cf"])
        .arg(&tar)
        .args(["bin"])
        .status()
        .unwrap();
    assert!(packed.success());
    let imported = Command::new("podman")
        .arg("import")
        .arg(&tar)
        .arg(image)
        .output()
        .unwrap();
    assert!(imported.status.success(), "{imported:?}");
    let mut spec = ProcessSpec::new("/bin/echo", ["from the image"]);
    let mut container = ContainerSpec::new(ContainerSource::Image(image.into()));
    container.runtime = Some(Runtime::Podman);
    container.network = Some("none".into());
    spec.container = Some(Box::new(container));
    let (exit, out) = run_once("ct-image", spec).await;
    assert_eq!(
        (out.trim(), exit.kind()),
        ("from the image", ExitKind::Normal)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_goes_through_the_runtime_and_removes_the_container() {
    if !suite::runs("containers", rootfs::missing) {
        return;
    }
    let log = temp_dir("ct-stop").join("out");
    let mut spec =
        boxed("trap 'echo got TERM; exit 0' TERM; echo up; while true; do sleep 0.1; done");
    spec.ready.log = Some("^up$".into());
    spec.stop.timeout = Duration::from_secs(20);
    let sink = tend_process::LogSink::from_spec(&tend_process::LogSpec {
        file: Some(log.clone()),
        ..Default::default()
    })
    .unwrap();
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process_with_sink("ct-stop", spec, sink))
        .start()
        .await
        .unwrap();
    // Started means ready: its log line was seen.
    assert!(sup.which_children().await[0].ready);
    assert_eq!(podman_state("tend-ct-stop").as_deref(), Some("running"));
    let started = Instant::now();
    let monitor = sup.monitor("ct-stop");
    sup.terminate_child("ct-stop").await.unwrap();
    let exit = monitor.await.unwrap().exit;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no need to wait for the timeout"
    );
    assert_eq!(
        (exit.class(), exit.code()),
        (ExitClass::Shutdown, Some(0)),
        "{exit}"
    );
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(
        out.contains("got TERM"),
        "the stop signal reached inside: {out}"
    );
    assert_eq!(podman_state("tend-ct-stop"), None, "removed");
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_ignoring_its_stop_signal_is_killed_after_the_timeout() {
    if !suite::runs("containers", rootfs::missing) {
        return;
    }
    let mut spec = boxed("trap '' TERM; echo up; while true; do sleep 0.1; done");
    spec.ready.log = Some("^up$".into());
    spec.stop.timeout = Duration::from_secs(1);
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("ct-stubborn", spec))
        .start()
        .await
        .unwrap();
    let started = Instant::now();
    let monitor = sup.monitor("ct-stubborn");
    sup.terminate_child("ct-stubborn").await.unwrap();
    let exit = monitor.await.unwrap().exit;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "waited the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(15), "then killed: {took:?}");
    assert_eq!(
        (exit.class(), exit.kind(), exit.signal()),
        (ExitClass::Shutdown, ExitKind::Killed, Some(Signal::Kill)),
        "{exit}"
    );
    assert_eq!(podman_state("tend-ct-stubborn"), None, "removed");
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_container_is_restarted_until_it_completes() {
    if !suite::runs("containers", rootfs::missing) {
        return;
    }
    // The rootfs is the container's filesystem as it is: a count in it
    // survives restarts.
    let count = rootfs().join("tmp/crash-count");
    let _ = std::fs::remove_file(&count);
    let spec = boxed(
        "n=$(cat /tmp/crash-count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/crash-count; \
         [ $n -ge 3 ] && exit 0; exit 1",
    );
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("ct-crash", spec).restart(Restart::Transient))
        .intensity(tend_engine::Intensity::new(10, Duration::from_secs(60)))
        .start()
        .await
        .unwrap();
    eventually("three runs, the last one normal", || {
        std::fs::read_to_string(&count).is_ok_and(|n| n.trim() == "3")
    })
    .await;
    let start = Instant::now();
    loop {
        let info = &sup.which_children().await[0];
        if info.state == ChildState::Completed {
            assert_eq!(info.restarts, 2);
            break;
        }
        assert!(start.elapsed() < DEADLINE, "{:?}", info.state);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Each failed run's container was kept until the next start removed it;
    // the last run completed: removed.
    assert_eq!(podman_state("tend-ct-crash"), None);
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_apply_to_the_container() {
    if !suite::runs("containers", rootfs::missing) {
        return;
    }
    let mut spec = boxed(
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; \
         cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
    );
    spec.limits.memory = Some(64 << 20);
    spec.limits.pids = Some(50);
    let (_, out) = run_once("ct-limits", spec).await;
    assert_eq!(podman_state("tend-ct-limits"), None, "completed: removed");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["67108864", "50"]
    );
}

/// A service that is ready once `/tmp/NAME-ready` exists inside, and alive
/// while `/tmp/NAME-alive` does: both made after a moment, the second
/// removed a moment later.
fn probed(name: &str, keep: KeepContainer) -> ProcessSpec {
    let mut spec = boxed(&format!(
        "rm -f /tmp/{name}-*; sleep 0.5; touch /tmp/{name}-ready /tmp/{name}-alive; \
         sleep 1.5; rm /tmp/{name}-alive; while true; do sleep 0.1; done"
    ));
    let check = |file: String| ProbeCheck::Exec(vec!["test".into(), "-f".into(), file]);
    let mut readiness = ProbeSpec {
        check: check(format!("/tmp/{name}-ready")),
        timing: Default::default(),
    };
    readiness.timing.period = Duration::from_millis(200);
    let mut liveness = ProbeSpec {
        check: check(format!("/tmp/{name}-alive")),
        timing: Default::default(),
    };
    liveness.timing.period = Duration::from_millis(300);
    liveness.timing.initial_delay = Duration::from_secs(1);
    liveness.timing.failure_threshold = 2;
    spec.readiness = Some(Box::new(readiness));
    spec.liveness = Some(Box::new(liveness));
    spec.on_unhealthy = OnUnhealthy::Isolate;
    if let Some(container) = spec.container.as_mut() {
        container.on_isolate = keep;
    }
    spec
}

async fn isolated_container(name: &str, keep: KeepContainer) -> SupervisorHandle {
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process(name, probed(name, keep)))
        .start()
        .await
        .unwrap();
    // The readiness probe ran inside: the file is there only.
    assert!(
        sup.which_children().await[0].ready,
        "ready by its exec probe"
    );
    assert!(!Path::new(&format!("/tmp/{name}-ready")).exists());
    let start = Instant::now();
    while sup.which_children().await[0].state != ChildState::Isolated {
        assert!(start.elapsed() < DEADLINE, "never isolated");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sup
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_container_isolated_is_kept_running() {
    if !suite::runs("containers", rootfs::missing) {
        return;
    }
    let sup = isolated_container("ct-keep-running", KeepContainer::Running).await;
    assert_eq!(
        podman_state("tend-ct-keep-running").as_deref(),
        Some("running")
    );
    // An operator's stop ends it, and removes it.
    sup.terminate_child("ct-keep-running").await.unwrap();
    until_state("tend-ct-keep-running", None).await;
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_container_isolated_is_kept_stopped_if_so_configured() {
    if !suite::runs("containers", rootfs::missing) {
        return;
    }
    let sup = isolated_container("ct-keep-stopped", KeepContainer::Stopped).await;
    until_state("tend-ct-keep-stopped", Some("exited")).await;
    assert_eq!(
        sup.which_children().await[0].state,
        ChildState::Isolated,
        "still isolated, its container kept"
    );
    sup.shutdown().await;
    assert_eq!(
        podman_state("tend-ct-keep-stopped").as_deref(),
        Some("exited"),
        "kept after the supervisor is gone, for debugging"
    );
    Command::new("podman")
        .args(["rm", "-f", "tend-ct-keep-stopped"])
        .output()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_under_its_container_takes_the_container_with_it() {
    if !suite::runs("containers", rootfs::missing) {
        return;
    }
    let mut spec = boxed("echo up; while true; do sleep 0.1; done");
    spec.ready.log = Some("^up$".into());
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("ct-client", spec).restart(Restart::Temporary))
        .start()
        .await
        .unwrap();
    let monitor = sup.monitor("ct-client");
    // The runtime's client, not the container's main process (the pid
    // shown): killed by someone else.
    let found = Command::new("pgrep")
        .args(["-f", "^podman run --name tend-ct-client "])
        .output()
        .unwrap();
    let client: i32 = String::from_utf8_lossy(&found.stdout)
        .trim()
        .parse()
        .expect("one client");
    Command::new("kill")
        .args(["-KILL", &client.to_string()])
        .status()
        .unwrap();
    let exit = monitor.await.unwrap().exit;
    assert_eq!(
        (exit.kind(), exit.signal()),
        (ExitKind::Killed, Some(Signal::Kill)),
        "{exit}"
    );
    // Its container is not left running unsupervised.
    assert_eq!(podman_state("tend-ct-client"), None);
    sup.shutdown().await;
}
