//! Without a cgroup (here forced with TEND_CGROUP=off, read once per
//! process: this file is its own test binary), memory and pids limits are
//! watched: a warning at 80 %, and the process is stopped at 100 %.

mod common;

use common::*;
use tend_engine::{ExitClass, ExitKind, Resource};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_limit_no_kernel_enforces_stops_the_process_at_100_percent() {
    std::env::set_var("TEND_CGROUP", "off");
    let mut spec = testkit(["alloc", "100"]);
    spec.limits.memory = Some(50 << 20);
    spec.stop.timeout = std::time::Duration::from_secs(1);
    let exit = exit_of(spec).await;
    assert_eq!(exit.class(), ExitClass::Abnormal);
    assert_eq!(exit.kind(), ExitKind::ResourceExceeded(Resource::Memory));
    assert!(
        exit.reason()
            .is_some_and(|r| r.ends_with(&format!("of {}", 50u64 << 20))),
        "{exit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_limit_without_cgroups_is_refused_at_start() {
    std::env::set_var("TEND_CGROUP", "off");
    let mut spec = testkit(["hang"]);
    spec.limits.cpu = Some(0.5);
    let sup = tend_engine::Supervisor::builder("t").start().await.unwrap();
    let err = sup
        .start_child(<tend_engine::ChildSpec as tend_process::ProcessExt>::process("p", spec))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("a CPU limit needs cgroups"),
        "{err}"
    );
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cgroups_umask_and_rlimits_are_set_in_a_forked_child() {
    // No cgroup and something to set in the child: the fork + pre-exec path.
    std::env::set_var("TEND_CGROUP", "off");
    let mut spec = testkit(["whoami"]);
    spec.umask = Some(0o027);
    spec.rlimits.nofile = Some(321);
    let out = output_of("forked", spec).await;
    assert!(
        out.contains("umask=027") && out.contains("nofile=321"),
        "{out}"
    );
    assert!(out.contains("sid_is_pid=true"), "own session: {out}");
}
