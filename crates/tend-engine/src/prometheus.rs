//! Prometheus exposition of supervisor and child counters (feature
//! `prometheus`).
//!
//! A [`SupervisorCollector`] reads counters at scrape time (no background
//! task, nothing pushed on the hot path) for every supervisor in the
//! subtrees it is given, nested ones included, and encodes:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tend_supervisor_spawned_total` | counter | supervisor |
//! | `tend_supervisor_restarts_total` | counter | supervisor |
//! | `tend_supervisor_exits_total` | counter | supervisor, class (normal, shutdown, abnormal) |
//! | `tend_supervisor_start_failures_total` | counter | supervisor |
//! | `tend_supervisor_give_ups_total` | counter | supervisor |
//! | `tend_supervisor_children_active` | gauge | supervisor |
//! | `tend_child_starts_total` | counter | supervisor, child |
//! | `tend_child_restarts_total` | counter | supervisor, child |
//! | `tend_child_failures_total` | counter | supervisor, child |
//! | `tend_child_circuit_breaker_trips_total` | counter | supervisor, child |
//! | `tend_child_give_ups_total` | counter | supervisor, child |
//! | `tend_child_state` | gauge (1) | supervisor, child, state |
//! | `tend_child_ready` | gauge (0 or 1) | supervisor, child |
//! | `tend_child_uptime_seconds` | histogram | supervisor, child (buckets 1 s … 1 day) |
//!
//! **Cardinality.** Per supervisor: 8 series. Per child: 5 counters, one
//! readiness series, one state series (only the current state is exposed, with value 1, so a
//! state change replaces the series rather than adding one), and the
//! uptime histogram's 12 series (8 buckets, `+Inf`, sum, count): **19
//! series per child**, so 1,000 services make about 19,000 series. Counters
//! belong to a supervisor's incarnation: when a nested supervisor is
//! restarted, its and its children's counters start again from zero, which
//! Prometheus' `rate` and `increase` handle as resets.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::metrics::{ChildStats, MetricsSnapshot, SupervisorStats, UPTIME_BUCKETS};
use crate::supervisor::SupervisorHandle;

/// Exposes the counters of supervisors and their children (in the whole
/// subtree of each supervisor given) to a
/// `prometheus_client::registry::Registry`.
///
/// # Examples
///
/// ```
/// use prometheus_client::registry::Registry;
/// use tend_engine::prometheus::SupervisorCollector;
/// use tend_engine::{ChildSpec, Context, Supervisor};
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
/// assert!(text.contains(r#"tend_supervisor_children_active{supervisor="app"} 1"#));
/// assert!(text.contains(r#"tend_child_starts_total{supervisor="app",child="w"} 1"#));
/// assert!(text.contains(r#"tend_child_state{supervisor="app",child="w",state="running"} 1"#));
/// # }
/// ```
#[derive(Debug)]
pub struct SupervisorCollector {
    supervisors: Vec<SupervisorHandle>,
}

impl SupervisorCollector {
    /// Collects from these supervisors and everything nested under them.
    pub fn new(supervisors: impl IntoIterator<Item = SupervisorHandle>) -> Self {
        SupervisorCollector {
            supervisors: supervisors.into_iter().collect(),
        }
    }

    /// The live supervisors of the subtrees, each once.
    fn subtrees(&self) -> Vec<Arc<SupervisorStats>> {
        let mut found: Vec<Arc<SupervisorStats>> = Vec::new();
        for handle in &self.supervisors {
            let top = handle.name();
            let nested = format!("{top}/");
            for stats in handle.tree_stats().supervisors() {
                let under = *stats.path == *top || stats.path.starts_with(&nested);
                if under && !found.iter().any(|s| Arc::ptr_eq(s, &stats)) {
                    found.push(stats);
                }
            }
        }
        found
    }
}

type ReadSupervisor = fn(&MetricsSnapshot) -> u64;
type ReadChild = fn(&crate::metrics::ChildCountersSnapshot) -> u64;

const SUPERVISOR_COUNTERS: [(&str, &str, ReadSupervisor); 4] = [
    (
        "tend_supervisor_spawned",
        "Incarnations spawned under the supervisor.",
        |m| m.spawned,
    ),
    (
        "tend_supervisor_restarts",
        "Automatic restarts under the supervisor, one per child restarted.",
        |m| m.restarts,
    ),
    (
        "tend_supervisor_start_failures",
        "Incarnations that failed to start under the supervisor.",
        |m| m.start_failures,
    ),
    (
        "tend_supervisor_give_ups",
        "Times the supervisor gave up (restart intensity or escalation).",
        |m| m.give_ups,
    ),
];

const CHILD_COUNTERS: [(&str, &str, ReadChild); 5] = [
    (
        "tend_child_starts",
        "Incarnations of the child that started.",
        |c| c.starts,
    ),
    (
        "tend_child_restarts",
        "Automatic restarts of the child.",
        |c| c.restarts,
    ),
    (
        "tend_child_failures",
        "Abnormal exits of the child, start failures included.",
        |c| c.failures,
    ),
    (
        "tend_child_circuit_breaker_trips",
        "Times the child's restart budget ran out with on_exhausted = stop.",
        |c| c.breaker_trips,
    ),
    (
        "tend_child_give_ups",
        "Times the child was given up on (failed or isolated).",
        |c| c.give_ups,
    ),
];

impl Collector for SupervisorCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let supervisors = self.subtrees();
        let snapshots: Vec<(&str, MetricsSnapshot)> = supervisors
            .iter()
            .map(|s| (&*s.path, s.counters.snapshot()))
            .collect();

        for (name, help, read) in SUPERVISOR_COUNTERS {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (supervisor, m) in &snapshots {
                let labels = [("supervisor", *supervisor)];
                family
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&read(m), None)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "tend_supervisor_exits",
            "Ended incarnations under the supervisor, by exit class.",
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
            "tend_supervisor_children_active",
            "Incarnations running now under the supervisor.",
            None,
            MetricType::Gauge,
        )?;
        for (supervisor, m) in &snapshots {
            let labels = [("supervisor", *supervisor)];
            family
                .encode_family(&labels)?
                .encode_gauge(&(m.active as i64))?;
        }

        let children: Vec<(&str, Arc<ChildStats>)> = supervisors
            .iter()
            .flat_map(|s| s.children().into_iter().map(|c| (&*s.path, c)))
            .collect();
        encode_children(&mut encoder, &children)
    }
}

fn encode_children(
    encoder: &mut DescriptorEncoder,
    children: &[(&str, Arc<ChildStats>)],
) -> Result<(), std::fmt::Error> {
    let counters: Vec<_> = children.iter().map(|(_, c)| c.snapshot()).collect();
    for (name, help, read) in CHILD_COUNTERS {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for ((supervisor, child), snapshot) in children.iter().zip(&counters) {
            let labels = [("supervisor", *supervisor), ("child", child.id.as_str())];
            family
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&read(snapshot), None)?;
        }
    }

    let mut family = encoder.encode_descriptor(
        "tend_child_state",
        "The child's state now (1, with the state as a label).",
        None,
        MetricType::Gauge,
    )?;
    for (supervisor, child) in children {
        let labels = [
            ("supervisor", *supervisor),
            ("child", child.id.as_str()),
            ("state", child.state_name()),
        ];
        family.encode_family(&labels)?.encode_gauge(&1i64)?;
    }

    let mut family = encoder.encode_descriptor(
        "tend_child_ready",
        "Whether the child's running incarnation is ready (1) or not (0).",
        None,
        MetricType::Gauge,
    )?;
    for (supervisor, child) in children {
        let labels = [("supervisor", *supervisor), ("child", child.id.as_str())];
        family
            .encode_family(&labels)?
            .encode_gauge(&i64::from(child.is_ready()))?;
    }

    let mut family = encoder.encode_descriptor(
        "tend_child_uptime_seconds",
        "How long the child's incarnations ran, in seconds.",
        None,
        MetricType::Histogram,
    )?;
    for (supervisor, child) in children {
        let (sum, count, per_bucket) = child.uptime().read();
        let mut buckets: Vec<(f64, u64)> = UPTIME_BUCKETS.iter().copied().zip(per_bucket).collect();
        let finite: u64 = buckets.iter().map(|(_, n)| n).sum();
        buckets.push((f64::MAX, count.saturating_sub(finite)));
        let labels = [("supervisor", *supervisor), ("child", child.id.as_str())];
        family
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
    }
    Ok(())
}
