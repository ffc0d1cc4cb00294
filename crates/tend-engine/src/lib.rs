//! # tend: Erlang/OTP supervision trees for tokio
//!
//! A [`Supervisor`] owns an ordered list of children, starts them in order,
//! watches them, restarts them by policy, gives up when they fail too often
//! (escalating to its parent), and stops them in reverse order. Children are
//! *workloads*: a tokio task ([`ChildSpec::task`]), a nested supervisor
//! ([`ChildSpec::supervisor`]), or, through a backend crate, an OS process.
//!
//! The semantics are OTP's `supervisor`, scenario by scenario: restart types
//! ([`Restart`]), strategies ([`Strategy`]), restart intensity
//! ([`Intensity`]), shutdown specs ([`Shutdown`]), significant children and
//! [`AutoShutdown`], dynamic children and their errors ([`ControlError`]).
//! On top, from the process supervisors tend also replaces: per-child
//! [`Backoff`], per-child [`RestartBudget`]s with circuit breaker, isolation
//! and crash-loop back-off, typed [`Event`]s, counters and monitors.
//!
//! ```
//! use std::time::Duration;
//! use tend_engine::{ChildSpec, Context, Intensity, Restart, Strategy, Supervisor};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let root = Supervisor::builder("root")
//!     .strategy(Strategy::OneForOne)
//!     .intensity(Intensity::new(3, Duration::from_secs(5)))
//!     .child(ChildSpec::task("ticker", |ctx: Context| async move {
//!         ctx.cancelled().await;
//!         Ok::<(), std::io::Error>(())
//!     }))
//!     .child(
//!         ChildSpec::task("flaky", |ctx: Context| async move {
//!             if ctx.generation() == 1 {
//!                 return Err("first run fails");
//!             }
//!             ctx.cancelled().await;
//!             Ok(())
//!         })
//!         .restart(Restart::Transient),
//!     )
//!     .start()
//!     .await
//!     .expect("children start");
//!
//! let report = root.shutdown().await;    // reverse order: flaky, then ticker
//! assert_eq!(report.children.len(), 2);
//! # }
//! ```
//!
//! The design, the state tables and the exact OTP rules followed are in the
//! repository: [its architecture](https://github.com/tend-rs/tend/blob/main/ARCHITECTURE.md),
//! [the child lifecycle](https://github.com/tend-rs/tend/blob/main/docs/lifecycle.md)
//! and [the supervision principles](https://github.com/tend-rs/tend/blob/main/docs/supervision-principles.md),
//! each with the tests that pin it.

// Layers, from the bottom up: a module uses only those before it in this
// line (checked by .ci/layers; a re-export is no excuse for a cycle).
// layers: id exit state policy event wire metrics status error tree link context child supervisor signal prometheus prelude
mod child;
mod context;
mod error;
mod event;
mod exit;
mod id;
mod link;
mod metrics;
pub mod policy;
pub mod prelude;
#[cfg(feature = "prometheus")]
pub mod prometheus;
#[cfg(feature = "signal")]
mod signal;
mod state;
mod status;
mod supervisor;
mod tree;
mod wire;

pub use child::{ChildSpec, Nested, Probe};
pub use context::{Context, SignalRequest, Signals};
pub use error::{ChildSpecError, ControlError, StartError};
pub use event::{Event, EventKind, IncarnationView};
pub use exit::{Exit, ExitClass, ExitKind, GiveUp, IntoExit, Resource};
pub use id::{ChildId, IncarnationId};
pub use link::{Link, LinkExit, LinkPeer};
pub use metrics::MetricsSnapshot;
#[cfg(feature = "signal")]
pub use signal::{run_until_signal, ShutdownSignals};
pub use state::{BudgetStatus, ChildKind, ChildState, FailReason, IsolateCause, ProbeRole, Usage};
pub use status::{
    Capacity, ChildCounts, ChildExit, ChildInfo, ChildStop, ExitRecord, Isolation, ProcessEntry,
    ProcessTable, RestartRecord, StateCounts, StopOutcome, StopReport, SupervisorStatus,
};
pub use supervisor::{check_childspecs, Supervisor, SupervisorBuilder, SupervisorHandle};
pub use tend_spec::{
    AutoShutdown, Backend, Backoff, Condition, CrashPolicy, Intensity, NotAvailable, OnExhausted,
    OnUnhealthy, ProbeTiming, Restart, RestartBudget, Shutdown, Signal, SpecError, StartLimit,
    Strategy,
};
pub use wire::Unrecorded;
