//! Resource limits, enforced by the kernel through cgroups (v2 files, or the
//! v1 controllers of a hybrid layout).

mod common;

use common::*;
use tend_engine::{ChildSpec, ExitClass, ExitKind, Resource, Signal, Supervisor};
use tend_process::ProcessExt;

/// Whether the kernel's limits are tested: suite `cgroups`.
fn cgroups_writable() -> bool {
    suite::runs("cgroups", || {
        let writable = matches!(
            tend_process::CgroupLayout::detect(),
            tend_process::CgroupLayout::Unified(_) | tend_process::CgroupLayout::Hybrid(_)
        ) && std::env::var_os("TEND_CGROUP").is_none_or(|v| v != "off");
        (!writable).then(|| "no writable cgroup hierarchy (run as root, TEND_CGROUP unset)".into())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_limit_is_enforced_by_the_kernel() {
    if !cgroups_writable() {
        return;
    }
    let mut spec = testkit(["alloc", "200"]);
    spec.limits.memory = Some(64 << 20);
    let exit = exit_of(spec).await;
    assert_eq!(
        (exit.class(), exit.kind(), exit.signal()),
        (ExitClass::Abnormal, ExitKind::Killed, Some(Signal::Kill)),
        "OOM-killed"
    );
    // Under the limit, the same program runs.
    let mut spec = testkit(["alloc", "16"]);
    spec.limits.memory = Some(64 << 20);
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("p", spec))
        .start()
        .await
        .unwrap();
    let pid = sup.which_children().await[0].pid.unwrap();
    assert!(exists(pid as i32));
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pids_limit_stops_a_fork_bomb() {
    if !cgroups_writable() {
        return;
    }
    let mut spec = testkit(["fork", "20"]);
    spec.limits.pids = Some(5);
    let exit = exit_of(spec).await;
    assert_eq!(
        exit.class(),
        ExitClass::Abnormal,
        "fork failed past pids.max: {exit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_measured_when_asked_and_80_percent_warns() {
    let mut spec = testkit(["alloc", "40"]);
    if cgroups_writable() {
        spec.limits.memory = Some(48 << 20);
    }
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("p", spec))
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let deadline = std::time::Instant::now() + DEADLINE;
    let usage = loop {
        let usage = sup.which_children().await[0]
            .usage
            .clone()
            .expect("a process child measures usage");
        if usage.memory.is_some_and(|m| m >= 40 << 20) {
            break usage;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "memory use shows: {usage:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(usage.pids.is_some_and(|p| p >= 1), "{usage:?}");
    assert!(usage.cpu_time.is_some(), "{usage:?}");
    if cgroups_writable() {
        let warning = tokio::time::timeout(DEADLINE, async {
            loop {
                if let tend_engine::EventKind::ResourceWarning {
                    resource,
                    used,
                    limit,
                    ..
                } = events.recv().await.unwrap().kind
                {
                    return (resource, used, limit);
                }
            }
        })
        .await
        .expect("a warning past 80 % of the memory limit");
        assert_eq!(warning.0, Resource::Memory);
        assert_eq!(warning.2, 48 << 20);
        assert!(warning.1 as f64 >= 0.8 * (48 << 20) as f64);
    }
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_limit_throttles_and_warns_at_80_percent() {
    if !cgroups_writable() {
        return;
    }
    let mut spec = testkit(["spin"]);
    // A tenth of a core: even a loaded machine gives a spinning process
    // that much, and the kernel holds it there.
    spec.limits.cpu = Some(0.1);
    let sup = Supervisor::builder("t").start().await.unwrap();
    let mut events = sup.subscribe();
    sup.start_child(ChildSpec::process("p", spec))
        .await
        .unwrap();
    let (used, limit) = tokio::time::timeout(DEADLINE, async {
        loop {
            if let tend_engine::EventKind::ResourceWarning {
                resource: Resource::Cpu,
                used,
                limit,
                ..
            } = events.recv().await.unwrap().kind
            {
                return (used, limit);
            }
        }
    })
    .await
    .expect("a CPU warning");
    assert_eq!(limit, 100, "millicores");
    assert!(
        (80..=150).contains(&used),
        "throttled near 0.1 core: {used} millicores"
    );
    sup.shutdown().await;
}
