//! # tend-process: OS processes as supervised children
//!
//! A process is just another workload for [`tend_engine`]: the same
//! supervisors, strategies, intensity, backoff and budgets drive it.
//!
//! ```no_run
//! use tend_engine::{ChildSpec, Supervisor};
//! use tend_process::{ProcessExt, ProcessSpec};
//!
//! # #[tokio::main] async fn main() {
//! tend_process::enable_orphan_reaping().expect("subreaper");
//! let root = Supervisor::builder("services")
//!     .child(ChildSpec::process("web", ProcessSpec::new("python3", ["-m", "http.server", "8080"])))
//!     .start()
//!     .await
//!     .expect("started");
//! # root.shutdown().await;
//! # }
//! ```
//!
//! What it does for each incarnation:
//!
//! - **spawn** without a shell (unless asked), with the environment, working
//!   directory, umask, rlimits, user and groups of the spec, stdin from
//!   `/dev/null`, in a new session (its own process group) and, where cgroup
//!   v2 is writable, its own cgroup;
//! - **wait** on a pidfd: the exit is an event, never polled;
//! - **classify**: code 0 or a success code is normal, anything else
//!   abnormal; after a stop request the supervisor records a shutdown;
//! - **stop**: the stop signal to the group, the timeout, `SIGKILL` to the
//!   group and `cgroup.kill`, then reap; leftovers of a process that exited
//!   by itself are killed too;
//! - **limit** memory, CPU and pids through the cgroup (v2 files, or v1
//!   controllers on a hybrid layout); report usage on `which_children` and a
//!   `ResourceWarning` event at 80 %; without cgroups, stop the process at
//!   100 % of a memory or pids limit;
//! - **capture** standard output and error line by line into a
//!   [`LogSink`] (rotated file, live tee), with back-pressure instead of loss
//!   (a file that refuses writes, on a full disk, holds the lines and
//!   catches up; see [`LogTrouble`]);
//! - **contain**, when the spec has a [`ContainerSpec`]: the same child runs
//!   in a container through podman or docker (the runtime's client, attached,
//!   is the process watched; stop and removal go through the runtime by
//!   name; see [`find_runtime`], which a spec without a named runtime asks
//!   once, when its child spec is built);
//! - **hand over**, for a planned re-exec of the supervisor: parked with its
//!   pipes, notify socket and cgroup, and taken over, still running, by the
//!   next program image ([`handover`]).
//!
//! [`enable_orphan_reaping`] makes the supervisor a child subreaper (or, as
//! PID 1, reaps everything) so that orphaned grandchildren never stay zombies.

// Layers, from the bottom up: a module uses only those before it in this
// line (checked by .ci/layers).
// layers: faults diag files identity nofile error exit reaper wait command container group gate output cgroup usage notify prepare pre_exec clone spawn probe held handover incarnation leftovers
mod cgroup;
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "loongarch64",
    target_arch = "powerpc64"
))]
mod clone;
mod command;
mod container;
pub mod diag;
mod error;
mod exit;
mod faults;
pub mod files;
mod gate;
mod group;
pub mod handover;
pub mod held;
pub mod identity;
mod incarnation;
pub mod leftovers;
mod nofile;
mod notify;
mod output;
mod pre_exec;
mod prepare;
mod probe;
mod reaper;
mod spawn;
mod usage;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use tend_engine::{ChildId, ChildSpec, Context, IsolateCause, Shutdown};

pub use cgroup::CgroupLayout;
pub use command::{run_to_end, Finished};
pub use container::{find_runtime, remove_scope};
pub use error::SpawnError;
pub use exit::Ended;
pub use faults::survive_sent_faults;
pub use nofile::{nofile_shortfall, raise_nofile, Raised, Shortfall};
pub use output::{flush_logs, LogSink, LogTrouble, Stream, Tee};
pub use reaper::{fostered_ended, wait_for_orphans};

/// Makes this process a child subreaper and starts reaping orphans. Call it
/// once before starting process children; further calls do nothing. As PID 1
/// the process already inherits every orphan: then only the reaping starts.
/// It also reserves, while the descriptor table is still small, the low
/// slots through which a spawn lends a child its pipes (so that no spawn
/// copies the table, however large it grows).
///
/// Only for programs that own their children (a supervisor daemon, `tend-run`,
/// a container's init): the thread reaps *any* child of the process that was
/// not started by this crate, which would surprise other code that waits on
/// its own children.
///
/// # Errors
/// If the kernel refuses `PR_SET_CHILD_SUBREAPER` or the thread cannot start.
pub fn enable_orphan_reaping() -> std::io::Result<()> {
    #[cfg(target_arch = "x86_64")]
    clone::reserve_slots();
    reaper::enable_orphan_reaping()
}
pub use tend_spec::{
    ContainerSource, ContainerSpec, EnvSpec, HttpTarget, KeepContainer, LogSpec, OnUnhealthy,
    ProbeCheck, ProbeSpec, ProbeTiming, ProcessSpec, ReadySpec, ResourceLimits, Rlimits, Runtime,
    Signal, StopSpec, UnknownSignal,
};

/// Entry points for the fuzz targets (`fuzz/`) and their corpus
/// regression tests; not an API.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses one sd_notify datagram; the number of notices understood.
    #[must_use]
    pub fn notify_datagram(datagram: &[u8]) -> usize {
        crate::notify::parse(datagram).len()
    }
}

/// Checks a spec the way a start will (command line, user, groups) without
/// starting anything.
///
/// # Errors
/// The [`SpawnError`] a start would fail with.
pub fn check(spec: &ProcessSpec) -> Result<(), SpawnError> {
    prepare::prepare(spec).map(|_| ())
}

/// Builds child specs that run OS processes.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Restart, Supervisor};
/// use tend_process::{LogSink, LogSpec, ProcessExt, ProcessSpec};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let logs = LogSink::from_spec(&LogSpec { file: Some("worker.log".into()), ..LogSpec::default() })?;
/// let root = Supervisor::builder("root")
///     .child(ChildSpec::process("web", ProcessSpec::new("./web", ["--port", "8080"])))
///     .child(
///         ChildSpec::process_with_sink("worker", ProcessSpec::shell("./work --forever"), logs)
///             .restart(Restart::Transient),
///     )
///     .start()
///     .await?;
/// # let _ = root; Ok(()) }
/// ```
pub trait ProcessExt {
    /// A child running `spec`, its output discarded.
    fn process(id: impl Into<ChildId>, spec: impl Into<Arc<ProcessSpec>>) -> ChildSpec;

    /// A child running `spec`, its output written to `sink`. Children made
    /// from one spec can share it (an `Arc`): replicas need no copy each.
    fn process_with_sink(
        id: impl Into<ChildId>,
        spec: impl Into<Arc<ProcessSpec>>,
        sink: LogSink,
    ) -> ChildSpec;
}

impl ProcessExt for ChildSpec {
    fn process(id: impl Into<ChildId>, spec: impl Into<Arc<ProcessSpec>>) -> ChildSpec {
        ChildSpec::process_with_sink(id, spec, LogSink::discard())
    }

    fn process_with_sink(
        id: impl Into<ChildId>,
        spec: impl Into<Arc<ProcessSpec>>,
        sink: LogSink,
    ) -> ChildSpec {
        let id = id.into();
        let spec: Arc<ProcessSpec> = spec.into();
        let container = match &spec.container {
            None => None,
            Some(settings) => {
                let runtime = match settings.runtime {
                    Some(runtime) => runtime,
                    None => match container::find_runtime(settings) {
                        Ok(runtime) => runtime,
                        Err(error) => return ChildSpec::not_available(id, error),
                    },
                };
                Some(Arc::new(container::Container::new(
                    runtime,
                    &id,
                    ContainerSpec::clone(settings),
                )))
            }
        };
        let cgroups = Arc::new(cgroup::CgroupSlot::default());
        // The process enforces its own stop timeout (signal, wait, SIGKILL);
        // the engine waits for that, with a margin, before aborting. A
        // container's runtime takes longer to answer.
        let margin = Duration::from_secs(if container.is_some() { 15 } else { 5 });
        let shutdown = Shutdown::Timeout(spec.stop.timeout + margin);
        // Started means spawned (a spawn that fails is a start failure), or,
        // for a service with a readiness signal or probe, ready within its
        // timeout (at least as long as its startup probe may try).
        let ready_within =
            spec.ready
                .timeout
                .max(spec.startup.as_ref().map_or(Duration::ZERO, |p| {
                    p.timing.initial_delay
                        + (p.timing.period + p.timing.timeout) * p.timing.failure_threshold
                }));
        let ready_pattern = match &spec.ready.log {
            None => Ok(None),
            Some(pattern) => regex::Regex::new(pattern)
                .map(|r| Some(Arc::new(r)))
                .map_err(|e| Arc::from(e.to_string())),
        };
        let mut child = {
            let spec = spec.clone();
            let container = container.clone();
            ChildSpec::task(id, move |ctx: Context| {
                let (spec, sink, cgroups) = (spec.clone(), sink.clone(), cgroups.clone());
                let container = container.clone();
                incarnation::run(spec, sink, cgroups, ready_pattern.clone(), container, ctx)
            })
        }
        .backend(spec.backend())
        .shutdown(shutdown)
        .await_ready(ready_within)
        .on_unhealthy(spec.on_unhealthy);
        if let Some(timeout) = spec.watchdog {
            child = child.watchdog(timeout);
        }
        // Its own signals and its probes: ready once all of them hold.
        if spec.ready.is_signalled() {
            child = child.signals_ready();
        }
        let inside = container.as_deref();
        if let Some(startup) = &spec.startup {
            child = child.startup_probe(probe::probe(startup, &spec, inside));
        }
        if let Some(readiness) = &spec.readiness {
            child = child.readiness_probe(probe::probe(readiness, &spec, inside));
        }
        if let Some(liveness) = &spec.liveness {
            child = child.liveness_probe(probe::probe(liveness, &spec, inside));
        }
        // An unhealthy container isolated for debugging: stopped, if so
        // configured, and kept.
        if let Some(container) =
            container.filter(|c| c.settings.on_isolate == KeepContainer::Stopped)
        {
            let timeout = spec.stop.timeout;
            child = child.on_isolate(move |isolation| {
                let container = container.clone();
                async move {
                    if isolation.cause == IsolateCause::Unhealthy {
                        if let Err(error) = container.stop_to_keep(timeout).await {
                            tracing::warn!(container = %container.name, %error, "cannot stop the isolated container");
                        }
                    }
                }
            });
        }
        child
    }
}
