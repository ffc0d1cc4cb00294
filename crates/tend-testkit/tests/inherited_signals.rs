//! A supervisor that was started ignoring signals (as `cmd &` from a script
//! ignores SIGINT and SIGQUIT) must not hand that on: a service whose stop
//! signal is SIGINT would never stop gracefully. Its own binary, because
//! the test process must ignore the signals before its first spawn. (The
//! same with cgroups off, where spawning takes another path:
//! `inherited_signals_without_cgroup.rs`.)

mod common;

#[path = "common/ignores.rs"]
mod ignores;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_gets_default_dispositions_and_stops_on_sigint() {
    ignores::stop_on_sigint_although_the_supervisor_ignores_it().await;
}
