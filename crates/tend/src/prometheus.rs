//! Prometheus exposition of supervisor counters (feature `prometheus`).
//!
//! A [`SupervisorCollector`] reads each supervisor's counters at scrape time
//! (no background task, nothing pushed on the hot path) and encodes them with
//! a `supervisor` label:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tend_child_spawned_total` | counter | supervisor |
//! | `tend_child_restarts_total` | counter | supervisor |
//! | `tend_child_exits_total` | counter | supervisor, class (normal, shutdown, abnormal) |
//! | `tend_child_start_failures_total` | counter | supervisor |
//! | `tend_supervisor_give_ups_total` | counter | supervisor |
//! | `tend_children_active` | gauge | supervisor |

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::metrics::MetricsSnapshot;
use crate::supervisor::SupervisorHandle;

/// Exposes the counters of one or more supervisors to a
/// `prometheus_client::registry::Registry`.
///
/// # Examples
///
/// ```
/// use prometheus_client::registry::Registry;
/// use tend::prometheus::SupervisorCollector;
/// use tend::{ChildSpec, Context, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("w", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// let mut registry = Registry::default();
/// registry.register_collector(Box::new(SupervisorCollector::new([sup.clone()])));
/// let mut text = String::new();
/// prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
/// assert!(text.contains(r#"tend_children_active{supervisor="app"} 1"#));
/// # }
/// ```
#[derive(Debug)]
pub struct SupervisorCollector {
    supervisors: Vec<SupervisorHandle>,
}

impl SupervisorCollector {
    /// Collects from these supervisors (each labelled by its path).
    pub fn new(supervisors: impl IntoIterator<Item = SupervisorHandle>) -> Self {
        SupervisorCollector {
            supervisors: supervisors.into_iter().collect(),
        }
    }
}

type Read = fn(&MetricsSnapshot) -> u64;

const COUNTERS: [(&str, &str, Read); 4] = [
    ("tend_child_spawned", "Incarnations spawned.", |m| m.spawned),
    (
        "tend_child_restarts",
        "Automatic restarts, one per child restarted.",
        |m| m.restarts,
    ),
    (
        "tend_child_start_failures",
        "Incarnations that failed to start.",
        |m| m.start_failures,
    ),
    (
        "tend_supervisor_give_ups",
        "Times the supervisor gave up (restart intensity or escalation).",
        |m| m.give_ups,
    ),
];

impl Collector for SupervisorCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshots: Vec<(&str, MetricsSnapshot)> = self
            .supervisors
            .iter()
            .map(|s| (s.name(), s.metrics()))
            .collect();

        for (name, help, read) in COUNTERS {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (supervisor, m) in &snapshots {
                let labels = [("supervisor", *supervisor)];
                family
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&read(m), None)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "tend_child_exits",
            "Ended incarnations, by exit class.",
            None,
            MetricType::Counter,
        )?;
        for (supervisor, m) in &snapshots {
            for (class, value) in [
                ("normal", m.exits_normal),
                ("shutdown", m.exits_shutdown),
                ("abnormal", m.exits_abnormal),
            ] {
                let labels = [("supervisor", *supervisor), ("class", class)];
                family
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "tend_children_active",
            "Incarnations running now.",
            None,
            MetricType::Gauge,
        )?;
        for (supervisor, m) in &snapshots {
            let labels = [("supervisor", *supervisor)];
            family
                .encode_family(&labels)?
                .encode_gauge(&(m.active as i64))?;
        }
        Ok(())
    }
}
