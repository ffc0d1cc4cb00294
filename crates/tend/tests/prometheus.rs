//! Prometheus exposition (feature `prometheus`).
#![cfg(feature = "prometheus")]

mod common;

use common::*;
use prometheus_client::registry::Registry;
use tend::prometheus::SupervisorCollector;
use tend::{ChildSpec, Intensity, Supervisor};

#[tokio::test(start_paused = true)]
async fn counters_of_the_whole_tree_are_exposed_with_labels() {
    let lab = Lab::new();
    let root = Supervisor::builder("root")
        .intensity(Intensity::new(10, std::time::Duration::from_secs(1)))
        .child(lab.child("a"))
        .child(ChildSpec::supervisor(
            Supervisor::builder("group").child(lab.child("g")),
        ))
        .start()
        .await
        .unwrap();
    lab.crash("a");
    idle().await;
    let group = root.supervisor("group").await.unwrap();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SupervisorCollector::new([root.clone(), group])));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for line in [
        r#"tend_child_restarts_total{supervisor="root"} 1"#,
        r#"tend_child_exits_total{supervisor="root",class="abnormal"} 1"#,
        r#"tend_child_spawned_total{supervisor="root"} 3"#,
        r#"tend_children_active{supervisor="root/group"} 1"#,
        "# TYPE tend_children_active gauge",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    root.shutdown().await;
}
