//! The scenario of `inherited_signals*.rs`: this process ignores SIGINT and
//! SIGQUIT, as a supervisor started with `&` does; its child must not.

use std::time::{Duration, Instant};

use nix::sys::signal::{signal, SigHandler, Signal as NixSignal};
use tend_engine::{ChildSpec, ExitKind, Signal, Supervisor};
use tend_process::ProcessExt;

use super::common::*;

/// Whether `pid` ignores `signal`, from `/proc/PID/status`.
fn ignores(pid: u32, signal: i32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())
        .unwrap();
    mask & (1 << (signal - 1)) != 0
}

pub async fn stop_on_sigint_although_the_supervisor_ignores_it() {
    // SAFETY: setting dispositions to SIG_IGN, before any child exists.
    #[allow(unsafe_code)]
    unsafe {
        signal(NixSignal::SIGINT, SigHandler::SigIgn).unwrap();
        signal(NixSignal::SIGQUIT, SigHandler::SigIgn).unwrap();
    }
    assert!(
        ignores(std::process::id(), 2),
        "the test process ignores SIGINT"
    );
    let mut spec = testkit(["hang"]);
    spec.stop.signal = Signal::Int;
    spec.stop.timeout = Duration::from_secs(20);
    let sup = Supervisor::builder("t")
        .child(ChildSpec::process("p", spec))
        .start()
        .await
        .unwrap();
    let pid = sup.which_children().await[0].pid.unwrap();
    assert!(
        !ignores(pid, 2),
        "SIGINT is back at its default in the child"
    );
    assert!(!ignores(pid, 3), "so is SIGQUIT");
    let started = Instant::now();
    let monitor = sup.monitor("p");
    sup.terminate_child("p").await.unwrap();
    let exit = monitor.await.unwrap().exit;
    assert_eq!(
        (exit.kind(), exit.signal()),
        (ExitKind::Shutdown, Some(Signal::Int)),
        "stopped by its stop signal, not killed after the timeout"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    sup.shutdown().await;
}
