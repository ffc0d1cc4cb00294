//! The plain data model of [tend-engine](https://docs.rs/tend-engine): what a supervisor and
//! its children *are*, separate from the engine that runs them.
//!
//! Every type here is inert data: `Clone`, `serde`-serialisable, with no
//! runtime, no clock and no I/O, so a config loader, an HTTP API and the engine
//! can all share it. Durations serialise as human-readable strings (`"5s"`,
//! `"250ms"`).
//!
//! The library uses OTP's names; configuration files accept familiar aliases:
//!
//! | concept | library | config |
//! |---|---|---|
//! | restart type | [`Restart::Permanent`] / [`Restart::Transient`] / [`Restart::Temporary`] | `"always"` / `"on-failure"` / `"never"` (OTP names accepted too) |
//! | strategy | [`Strategy::OneForOne`] / [`Strategy::OneForAll`] / [`Strategy::RestForOne`] | `"one_for_one"` … |
//! | intensity | [`Intensity`] `{ max_restarts, period }` | `{ max_restarts = 5, period = "60s" }` |
//! | child stop | [`Shutdown::BrutalKill`] / [`Shutdown::Timeout`] / [`Shutdown::Infinity`] | `"brutal_kill"`, `{ timeout = "10s" }`, `"infinity"` |
//! | delay before restart | [`Backoff`] (none by default, like OTP) | `{ initial = "100ms", max = "30s", jitter = 0.1, reset_after = "60s", clean_exit_delay = "100ms" }` |
//! | a child's own budget | [`RestartBudget`] with [`OnExhausted`] | `{ max_restarts = 5, period = "5m", on_exhausted = "isolate" }` |
//! | failed starts that end it | [`StartLimit`] `{ burst, interval, settle }` | `start_limit = { burst = 5, interval = "60s" }` or `"none"` |
//! | what a crash leads to | [`CrashPolicy::Restart`] / [`CrashPolicy::Shutdown`] / [`CrashPolicy::Isolate`] | `on_crash = "restart"` / `"shutdown"` / `"isolate"` |
//! | when a child is healthy | [`ProbeTiming`], [`ProbeCheck`], [`OnUnhealthy`] | `liveness = { http = "http://…/healthz", period = "5s" }`, `on_unhealthy = "isolate"` |
//! | what a child waits for | [`Condition::Started`] / [`Condition::Ready`] / [`Condition::Completed`] | `depends_on = { db = "ready" }` |
//! | what runs a child | [`Backend`] (a [`NotAvailable`] one says why); [`ContainerSpec`] | `command = …`, `container = { image = … }`; `wasm = …`, `remote = …` (understood, not yet runnable) |
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use tend_spec::{Intensity, Restart};
//!
//! let restart: Restart = serde_json::from_str("\"on-failure\"").unwrap();
//! assert_eq!(restart, Restart::Transient);
//!
//! let intensity: Intensity =
//!     serde_json::from_str(r#"{ "max_restarts": 3, "period": "10s" }"#).unwrap();
//! assert_eq!(intensity, Intensity::new(3, Duration::from_secs(10)));
//! ```

mod auto_shutdown;
mod backend;
mod backoff;
mod budget;
mod container;
mod crash;
mod dependency;
mod exit;
mod intensity;
mod probe;
mod process;
mod restart;
mod shutdown;
mod signal;
mod start_limit;
mod strategy;
mod validate;

pub use auto_shutdown::AutoShutdown;
pub use backend::{Backend, NotAvailable};
pub use backoff::Backoff;
pub use budget::{OnExhausted, RestartBudget};
pub use container::{ContainerSource, ContainerSpec, KeepContainer, Runtime};
pub use crash::CrashPolicy;
pub use dependency::{dependency_order, Condition};
pub use exit::ExitClass;
pub use intensity::Intensity;
pub use probe::{HttpTarget, OnUnhealthy, ProbeCheck, ProbeSpec, ProbeTiming};
pub use process::{
    Account, EnvSpec, LogSpec, ProcessSpec, ReadySpec, ResourceLimits, Rlimits, StopSpec,
};
pub use restart::Restart;
pub use shutdown::Shutdown;
pub use signal::{Signal, UnknownSignal};
pub use start_limit::StartLimit;
pub use strategy::Strategy;
pub use validate::{
    check_backoff, check_budget, check_intensity, check_significant, check_start_limit, SpecError,
};
