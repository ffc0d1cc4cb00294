//! Prometheus exposition (feature `prometheus`): supervisor series and
//! per-child series (labels supervisor and child) for a whole tree.
#![cfg(feature = "prometheus")]

mod common;

use std::time::Duration;

use common::*;
use prometheus_client::registry::Registry;
use tend_engine::prometheus::SupervisorCollector;
use tend_engine::{
    ChildSpec, Intensity, OnExhausted, Restart, RestartBudget, Supervisor, SupervisorHandle,
};

fn scrape(supervisors: impl IntoIterator<Item = SupervisorHandle>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SupervisorCollector::new(supervisors)));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text
}

fn assert_has(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_whole_tree_is_exposed_from_its_root_with_one_series_per_child() {
    let lab = Lab::new();
    let root = Supervisor::builder("root")
        .intensity(Intensity::new(10, Duration::from_secs(1)))
        .child(lab.child("a"))
        .child(ChildSpec::supervisor(
            Supervisor::builder("group").child(lab.child("g")),
        ))
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(20)).await;
    lab.crash("a");
    idle().await;
    let text = scrape([root.clone()]);
    assert_has(
        &text,
        &[
            r#"tend_supervisor_restarts_total{supervisor="root"} 1"#,
            r#"tend_supervisor_exits_total{supervisor="root",class="abnormal"} 1"#,
            r#"tend_supervisor_spawned_total{supervisor="root"} 3"#,
            r#"tend_supervisor_children_active{supervisor="root/group"} 1"#,
            "# TYPE tend_supervisor_children_active gauge",
            r#"tend_child_starts_total{supervisor="root",child="a"} 2"#,
            r#"tend_child_restarts_total{supervisor="root",child="a"} 1"#,
            r#"tend_child_failures_total{supervisor="root",child="a"} 1"#,
            r#"tend_child_starts_total{supervisor="root/group",child="g"} 1"#,
            r#"tend_child_state{supervisor="root",child="a",state="running"} 1"#,
            r#"tend_child_state{supervisor="root",child="group",state="running"} 1"#,
            "# TYPE tend_child_uptime_seconds histogram",
            // a's first incarnation ran 20 s: in the 60 s bucket, not the 10 s one.
            r#"tend_child_uptime_seconds_count{supervisor="root",child="a"} 1"#,
            r#"tend_child_uptime_seconds_bucket{le="10.0",supervisor="root",child="a"} 0"#,
            r#"tend_child_uptime_seconds_bucket{le="60.0",supervisor="root",child="a"} 1"#,
            r#"tend_child_uptime_seconds_bucket{le="+Inf",supervisor="root",child="a"} 1"#,
        ],
    );
    // Only the current state is exposed.
    assert_eq!(text.matches(r#"child="a",state="#).count(), 1, "{text}");
    // A nested handle exposes its own subtree only; given twice, once.
    let group = root.supervisor("group").await.unwrap();
    let nested = scrape([group.clone(), group]);
    assert!(!nested.contains(r#"supervisor="root","#), "{nested}");
    assert_eq!(
        nested.matches("tend_child_starts_total{").count(),
        1,
        "{nested}"
    );
    root.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn circuit_breaker_trips_and_give_ups_are_counted_and_removed_children_go() {
    let lab = Lab::new();
    let sup =
        Supervisor::builder("s")
            .intensity(Intensity::new(10, Duration::from_secs(1)))
            .child(lab.child("flaky").budget(
                RestartBudget::new(1, Duration::from_secs(60)).on_exhausted(OnExhausted::Stop),
            ))
            .child(lab.child("temp").restart(Restart::Temporary))
            .start()
            .await
            .unwrap();
    lab.crash("flaky");
    idle().await;
    lab.crash("flaky");
    idle().await;
    let text = scrape([sup.clone()]);
    assert_has(
        &text,
        &[
            r#"tend_child_circuit_breaker_trips_total{supervisor="s",child="flaky"} 1"#,
            r#"tend_child_give_ups_total{supervisor="s",child="flaky"} 1"#,
            r#"tend_child_state{supervisor="s",child="flaky",state="failed"} 1"#,
            r#"tend_child_starts_total{supervisor="s",child="temp"} 1"#,
        ],
    );
    lab.end("temp", End::Normal);
    idle().await;
    let text = scrape([sup.clone()]);
    assert!(
        !text.contains(r#"child="temp""#),
        "a removed spec's series go:\n{text}"
    );
    sup.shutdown().await;
}
