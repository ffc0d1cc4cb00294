//! `inherited_signals.rs`, with cgroups off (TEND_CGROUP=off, read once per
//! process: this is its own binary): spawning then goes through `clone3`
//! without a cgroup, whose pre-exec steps must reset what the supervisor
//! ignores.

mod common;

#[path = "common/ignores.rs"]
mod ignores;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cgroups_a_child_gets_default_dispositions_too() {
    std::env::set_var("TEND_CGROUP", "off");
    ignores::stop_on_sigint_although_the_supervisor_ignores_it().await;
}
