//! `GET /metrics`: the engine's per-supervisor and per-child series, exits
//! by class per service (counted from events), and resource use per
//! instance (read at scrape time), in Prometheus' text format.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tend_engine::prometheus::SupervisorCollector;
use tend_engine::{EventKind, SupervisorHandle};
use tend_wire::ServiceStatus;
use tokio::sync::broadcast;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExitLabels {
    service: String,
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

/// Counters kept from the event stream.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    exits: Family<ExitLabels, Counter>,
}

impl Metrics {
    /// Counts exits from `events` until the stream ends.
    #[must_use]
    pub fn watch(mut events: broadcast::Receiver<tend_engine::Event>) -> Metrics {
        let metrics = Metrics::default();
        let exits = metrics.exits.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        if let EventKind::ChildExited { id, exit, .. } = &event.kind {
                            exits
                                .get_or_create(&ExitLabels {
                                    service: id.to_string(),
                                    class: exit.class().as_str().to_owned(),
                                })
                                .inc();
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        metrics
    }

    /// The text exposition of everything, `status` giving resource use.
    #[must_use]
    pub fn render(&self, root: &SupervisorHandle, status: &[ServiceStatus]) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(SupervisorCollector::new([root.clone()])));
        registry.register(
            "tend_service_exits",
            "Ends of service instances, by exit class (normal, shutdown, abnormal).",
            self.exits.clone(),
        );
        let memory = Family::<ServiceLabels, Gauge>::default();
        let cpu = Family::<ServiceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        let up = Family::<ServiceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        for s in status {
            let labels = ServiceLabels {
                service: s.name.clone(),
            };
            if let Some(bytes) = s.memory_bytes {
                memory
                    .get_or_create(&labels)
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX));
            }
            if let Some(seconds) = s.cpu_s {
                cpu.get_or_create(&labels).set(seconds);
            }
            up.get_or_create(&labels).set(s.uptime_s);
        }
        registry.register(
            "tend_service_memory_bytes",
            "Memory used by a service instance (its cgroup, or its process).",
            memory,
        );
        registry.register(
            "tend_service_cpu_seconds",
            "CPU time used by a service instance's current incarnation.",
            cpu,
        );
        registry.register(
            "tend_service_uptime_seconds",
            "How long a service instance's current incarnation has run.",
            up,
        );
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            tracing::error!(%error, "encoding metrics");
        }
        text
    }
}

/// Shared between handlers.
pub type SharedMetrics = Arc<Metrics>;
