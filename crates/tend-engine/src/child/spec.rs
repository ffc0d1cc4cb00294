//! How to start a child and what to do when it ends: [`ChildSpec`], and
//! [`Nested`], the seam through which a supervisor runs as a child.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tend_spec::{
    Backend, Backoff, Condition, CrashPolicy, NotAvailable, OnUnhealthy, Restart, RestartBudget,
    Shutdown, StartLimit,
};
use tokio::task::AbortHandle;

use super::probe::Probe;
use super::task::{self, ExitGuard, Metered};
use crate::context::Context;
use crate::exit::{Exit, ExitKind, IntoExit, Resource};
use crate::id::ChildId;
use crate::state::{ChildKind, ChildState};
use crate::status::Isolation;

/// Starts one incarnation: calls the user's factory with the context and
/// spawns the resulting future, typed, so no per-incarnation boxing is needed.
pub(crate) type Launch = Arc<dyn Fn(Context, ExitGuard) -> AbortHandle + Send + Sync>;

/// What runs when a child is isolated.
pub(crate) type IsolateHook =
    Arc<dyn Fn(Isolation) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A supervisor ready to run as the child of another, made from a
/// [`SupervisorBuilder`](crate::SupervisorBuilder) (`builder.into()`) for
/// [`ChildSpec::supervisor`]. A seam: this module runs a nested supervisor
/// without knowing what one is.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Nested, Supervisor};
///
/// let group: Nested = Supervisor::builder("workers").into();
/// let spec = ChildSpec::supervisor(group);
/// assert_eq!(spec.id().as_str(), "workers");
/// ```
#[derive(Clone)]
pub struct Nested {
    id: ChildId,
    launch: Launch,
}

impl Nested {
    /// A nested child named `id` whose incarnations `launch` spawns.
    pub(crate) fn new(id: ChildId, launch: Launch) -> Self {
        Nested { id, launch }
    }
}

impl std::fmt::Debug for Nested {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nested")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// How to start a child and what to do when it ends (OTP's child spec).
///
/// Built with [`ChildSpec::task`] or [`ChildSpec::supervisor`], then refined
/// with the option methods. Defaults are OTP's: permanent, not significant,
/// 5 s shutdown for workers and infinity for supervisors, no backoff, no
/// per-child budget, and a crash left to the restart type.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_engine::{Backoff, ChildSpec, Context, CrashPolicy, Restart, Shutdown};
///
/// let spec = ChildSpec::task("poller", |ctx: Context| async move {
///     ctx.cancelled().await;
///     Ok::<(), std::io::Error>(())
/// })
/// .restart(Restart::Transient)
/// .shutdown(Shutdown::Timeout(Duration::from_secs(1)))
/// .backoff(Backoff::exponential(Duration::from_millis(100), Duration::from_secs(10)))
/// .on_crash(CrashPolicy::Isolate)
/// .on_isolate(|isolated| async move { println!("{} isolated: {}", isolated.id, isolated.exit) });
/// assert_eq!(spec.id().as_str(), "poller");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: ChildId,
    pub(crate) kind: ChildKind,
    pub(crate) launch: Launch,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) significant: bool,
    pub(crate) on_crash: CrashPolicy,
    pub(crate) await_ready: Option<Duration>,
    /// Options most children never set, out of line: a spec is copied into
    /// every child record, so it stays small.
    pub(crate) options: Arc<Options>,
}

/// The less common options of a [`ChildSpec`].
#[derive(Clone)]
pub(crate) struct Options {
    pub(crate) backend: Backend,
    /// Boxed, as the probes: rare, and every process child has its own
    /// copy of these options (issue 26).
    pub(crate) unavailable: Option<Box<NotAvailable>>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) budget: Option<RestartBudget>,
    pub(crate) start_limit: Option<StartLimit>,
    pub(crate) on_isolate: Vec<IsolateHook>,
    pub(crate) traps_exits: bool,
    pub(crate) startup: Option<Box<Probe>>,
    pub(crate) readiness: Option<Box<Probe>>,
    pub(crate) liveness: Option<Box<Probe>>,
    pub(crate) on_unhealthy: OnUnhealthy,
    pub(crate) watchdog: Option<Duration>,
    /// Siblings that must meet a condition before this child starts.
    pub(crate) depends_on: Vec<(ChildId, Condition)>,
    /// Stopped when a dependency stops or gives up (systemd's `BindsTo`).
    pub(crate) binds_to: bool,
    /// Added at rest in this state instead of started (a handed-over tree).
    pub(crate) resting: Option<ChildState>,
    /// A temporary child's spec stays after it ends.
    pub(crate) keep_spec: bool,
    /// Resource limits, as (resource, limit) pairs; none repeated.
    pub(crate) limits: Vec<(Resource, u64)>,
    /// Ready only once it said so *and* its probes pass.
    pub(crate) signals_ready: bool,
}

impl Options {
    /// Whether these options say the same as `other`'s, for options with
    /// nothing that cannot be compared (probes and hooks are closures, a
    /// backend's unavailability is rare): such options are never the same.
    fn same_as(&self, other: &Options) -> bool {
        let plain = |o: &Options| {
            o.unavailable.is_none()
                && o.on_isolate.is_empty()
                && o.startup.is_none()
                && o.readiness.is_none()
                && o.liveness.is_none()
        };
        // Taken apart whole: a field added to `Options` does not compile
        // until it is compared here (or ruled out above).
        let Options {
            backend,
            unavailable: _,
            backoff,
            budget,
            start_limit,
            on_isolate: _,
            traps_exits,
            startup: _,
            readiness: _,
            liveness: _,
            on_unhealthy,
            watchdog,
            depends_on,
            binds_to,
            resting,
            keep_spec,
            limits,
            signals_ready,
        } = self;
        plain(self)
            && plain(other)
            && *backend == other.backend
            && *backoff == other.backoff
            && *budget == other.budget
            && *start_limit == other.start_limit
            && *traps_exits == other.traps_exits
            && *on_unhealthy == other.on_unhealthy
            && *watchdog == other.watchdog
            && *depends_on == other.depends_on
            && *binds_to == other.binds_to
            && *resting == other.resting
            && *keep_spec == other.keep_spec
            && *limits == other.limits
            && *signals_ready == other.signals_ready
    }
}

/// The options of a spec that sets none: shared, so that such specs (most)
/// cost no allocation of their own.
static DEFAULT_OPTIONS: std::sync::LazyLock<Arc<Options>> = std::sync::LazyLock::new(|| {
    Arc::new(Options {
        backend: Backend::Task,
        unavailable: None,
        backoff: None,
        budget: None,
        start_limit: None,
        on_isolate: Vec::new(),
        traps_exits: false,
        startup: None,
        readiness: None,
        liveness: None,
        on_unhealthy: OnUnhealthy::Restart,
        watchdog: None,
        depends_on: Vec::new(),
        binds_to: false,
        resting: None,
        keep_spec: false,
        limits: Vec::new(),
        signals_ready: false,
    })
});

impl ChildSpec {
    /// A worker whose every incarnation is the future `f(ctx)`.
    ///
    /// `f` is called once per incarnation, on the supervisor's task; the
    /// future runs on its own tokio task. Its output is turned into an
    /// [`Exit`] by [`IntoExit`]: `()` and `Ok(_)` are normal, `Err(e)` is an
    /// error. A panic, in `f` or in the future, is an abnormal exit and never
    /// takes the supervisor down.
    ///
    /// The future should watch [`Context::cancelled`] and return when it
    /// fires; otherwise it is aborted when its shutdown timeout runs out.
    pub fn task<F, Fut>(id: impl Into<ChildId>, f: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExit,
    {
        let launch: Launch = Arc::new(move |ctx: Context, guard: ExitGuard| {
            if ctx.meters_busy_time() {
                // Only children with a CPU-time limit pay for timing polls.
                task::spawn(Metered::new(f(ctx.clone()), ctx), guard)
            } else {
                task::spawn(f(ctx), guard)
            }
        });
        ChildSpec::from_launch(id.into(), ChildKind::Worker, launch)
    }

    /// A nested supervisor, from its
    /// [`SupervisorBuilder`](crate::SupervisorBuilder): its whole subtree is
    /// one child of this one.
    ///
    /// Its id is the builder's name. It counts as started once all its own
    /// children have started; it stops its subtree (in reverse start order)
    /// when asked to stop; when it gives up it exits with
    /// [`ExitKind::GaveUp`] (class shutdown), which this supervisor treats
    /// by the nested one's restart type.
    pub fn supervisor(nested: impl Into<Nested>) -> Self {
        let Nested { id, launch } = nested.into();
        let mut spec = ChildSpec::from_launch(id, ChildKind::Supervisor, launch);
        spec.shutdown = Shutdown::SUPERVISOR_DEFAULT;
        spec
    }

    /// A child whose backend cannot run here: every start of it fails at
    /// once with [`StartError::NotAvailable`](crate::StartError::NotAvailable)
    /// (or the `ControlError` of the same name), saying `error`'s reason,
    /// and it is marked [`Failed`](crate::ChildState::Failed) instead of
    /// being retried. For programs that read specs naming a backend this
    /// build or machine lacks (a container runtime, a WASI runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_engine::{Backend, ChildSpec, NotAvailable, StartError, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let wasm = ChildSpec::not_available(
    ///     "plugin",
    ///     NotAvailable::new(Backend::Wasm, "this build has no WASI runtime; rebuild with --features wasm"),
    /// );
    /// assert!(wasm.availability().is_err());
    /// match Supervisor::builder("app").child(wasm).start().await {
    ///     Err(StartError::NotAvailable { id, error }) => {
    ///         assert_eq!((id.as_str(), error.backend), ("plugin", Backend::Wasm));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # }
    /// ```
    pub fn not_available(id: impl Into<ChildId>, error: NotAvailable) -> Self {
        let exit = Exit::new(ExitKind::NotAvailable(error.backend), &error.reason);
        let mut spec = ChildSpec::task(id, move |_ctx: Context| {
            let exit = exit.clone();
            async move { exit }
        })
        .backend(error.backend);
        spec.options_mut().unavailable = Some(Box::new(error));
        spec
    }

    fn from_launch(id: ChildId, kind: ChildKind, launch: Launch) -> Self {
        ChildSpec {
            id,
            kind,
            launch,
            restart: Restart::Permanent,
            shutdown: Shutdown::WORKER_DEFAULT,
            significant: false,
            on_crash: CrashPolicy::Restart,
            await_ready: None,
            options: DEFAULT_OPTIONS.clone(),
        }
    }

    fn options_mut(&mut self) -> &mut Options {
        Arc::make_mut(&mut self.options)
    }

    /// Takes `previous`'s options in place of its own when they say the
    /// same: a process child sets its backend and a program its backoff,
    /// so every child had its own copy (304 bytes each, issue 26) of what
    /// a thousand replicas or services mostly share.
    pub(crate) fn share_options(&mut self, previous: &Arc<Options>) {
        if !Arc::ptr_eq(&self.options, previous) && self.options.same_as(previous) {
            self.options = previous.clone();
        }
    }

    /// When the child is restarted (default [`Restart::Permanent`]).
    #[must_use]
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How the child is stopped (default 5 s for workers, infinity for
    /// supervisors).
    #[must_use]
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Marks the child significant for [`AutoShutdown`](crate::AutoShutdown).
    #[must_use]
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Waits before each automatic restart (default: restart at once).
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.options_mut().backoff = Some(backoff);
        self
    }

    /// Gives the child a restart budget of its own, with what to do when it
    /// runs out (default: none, only the supervisor's intensity applies).
    #[must_use]
    pub fn budget(mut self, budget: RestartBudget) -> Self {
        self.options_mut().budget = Some(budget);
        self
    }

    /// Ends its restarts after `limit.burst` failed starts within
    /// `limit.interval` (systemd's start limit; default: none): it is then
    /// `Failed(StartLimit)` until an operator restarts it, its siblings and
    /// the supervisor's intensity untouched. See [`StartLimit`] for what a
    /// failed start is.
    #[must_use]
    pub fn start_limit(mut self, limit: StartLimit) -> Self {
        self.options_mut().start_limit = Some(limit);
        self
    }

    /// What an abnormal exit leads to (default [`CrashPolicy::Restart`]: the
    /// restart type decides). `Shutdown` and `Isolate` apply whatever the
    /// restart type, and keep the spec even of a temporary child.
    #[must_use]
    pub fn on_crash(mut self, policy: CrashPolicy) -> Self {
        self.on_crash = policy;
        self
    }

    /// Runs `hook` each time the child is isolated (its crash policy, or a
    /// budget that ran out with `OnExhausted::Isolate`): take it out of a
    /// load balancer, page someone. It runs on a task of its own; the
    /// supervisor does not wait for it, and a panic in it is logged. Hooks
    /// add up: a backend's own (a container kept stopped) and yours all run.
    #[must_use]
    pub fn on_isolate<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Isolation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hook: IsolateHook = Arc::new(move |isolation| Box::pin(hook(isolation)));
        self.options_mut().on_isolate.push(hook);
        self
    }

    /// Makes the child trap exits, as an Erlang process with `trap_exit`:
    /// the end of a party it is linked to is told to it
    /// ([`Context::linked_exit`]) instead of stopping it (default: no).
    #[must_use]
    pub fn trap_exits(mut self, trap: bool) -> Self {
        self.options_mut().traps_exits = trap;
        self
    }

    /// Checks the child's liveness periodically (a [`Probe`]): failing
    /// past the probe's threshold stops it as [`ExitKind::Unhealthy`],
    /// which its crash policy and restart type then handle (or isolates it,
    /// with [`on_unhealthy`](Self::on_unhealthy)).
    #[must_use]
    pub fn liveness_probe(mut self, probe: Probe) -> Self {
        self.options_mut().liveness = Some(Box::new(probe));
        self
    }

    /// Checks the child's readiness periodically: it is ready while the
    /// probe passes and not ready while it fails, and keeps running either
    /// way. Its start waits for the first pass (see
    /// [`await_ready`](Self::await_ready) for a deadline).
    #[must_use]
    pub fn readiness_probe(mut self, probe: Probe) -> Self {
        self.options_mut().readiness = Some(Box::new(probe));
        self
    }

    /// The child says itself when it is ready ([`Context::ready`]) *and*
    /// has startup or readiness probes: it is ready only once both hold
    /// (its signal came and its probes pass). Without this, a child with
    /// probes is ready when they pass, one without when it says so.
    ///
    /// [`Context::ready`]: crate::Context::ready
    #[must_use]
    pub fn signals_ready(mut self) -> Self {
        self.options_mut().signals_ready = true;
        self
    }

    /// Checks the child from its start until the probe passes, before its
    /// readiness and liveness probes; the pass makes it ready (unless it
    /// has a readiness probe), and failing past the threshold stops it as
    /// [`ExitKind::Unhealthy`]. For slow starters whose liveness probe
    /// would otherwise kill them while they start.
    #[must_use]
    pub fn startup_probe(mut self, probe: Probe) -> Self {
        self.options_mut().startup = Some(Box::new(probe));
        self
    }

    /// What a failed liveness probe or a missed watchdog does: stop the
    /// child (default), or isolate it, still running, for debugging: shown
    /// isolated and not ready, its [`on_isolate`](Self::on_isolate) hook
    /// run, and not restarted until an operator restarts it.
    #[must_use]
    pub fn on_unhealthy(mut self, policy: OnUnhealthy) -> Self {
        self.options_mut().on_unhealthy = policy;
        self
    }

    /// Starts this child only once sibling `id` meets `condition`
    /// (started, ready, or completed normally). A supervisor with
    /// dependencies starts its children by the graph, as concurrently as it
    /// allows, and stops them in reverse; an unknown sibling or a cycle is
    /// an invalid spec. A child whose dependency can no longer meet its
    /// condition (failed, stopped, gone) is failed with
    /// [`FailReason::DependencyFailed`](crate::FailReason::DependencyFailed)
    /// instead of waiting forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_engine::{ChildSpec, Condition, Context, Restart, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app")
    ///     .child(ChildSpec::task("web", |ctx: Context| async move { ctx.cancelled().await })
    ///         .depends_on("migrate", Condition::Completed))
    ///     .child(ChildSpec::task("migrate", |_ctx: Context| async {}).restart(Restart::Transient))
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// let mut events = sup.subscribe();
    /// # let _ = &mut events;
    /// # sup.shutdown().await;
    /// # }
    /// ```
    #[must_use]
    pub fn depends_on(mut self, id: impl Into<ChildId>, condition: Condition) -> Self {
        let id = id.into();
        let deps = &mut self.options_mut().depends_on;
        deps.retain(|(d, _)| *d != id);
        deps.push((id, condition));
        self
    }

    /// Stops this child when one of its dependencies stops or is given up
    /// on (systemd's `BindsTo`); by default it keeps running.
    #[must_use]
    pub fn binds_to(mut self, binds: bool) -> Self {
        self.options_mut().binds_to = binds;
        self
    }

    /// Adds the child at rest in `state` instead of starting it: where a
    /// previous supervisor of the same child left it, when a program hands
    /// its tree to its next version (a re-exec that keeps its children). A
    /// completed one-shot job is not run again, a stop holds, a child given up on
    /// stays so; each starts again only when asked. States not at rest
    /// (see [`ChildState::is_at_rest`]) are ignored: the child starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_engine::{ChildSpec, ChildState, Context, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let setup = ChildSpec::task("setup", |_ctx: Context| async { unreachable!("ran again") as () })
    ///     .resting(ChildState::Completed);
    /// let root = Supervisor::builder("app").child(setup).start().await.unwrap();
    /// let info = root.child_info("setup").await.unwrap();
    /// assert_eq!(info.state, ChildState::Completed);
    /// # root.shutdown().await;
    /// # }
    /// ```
    #[must_use]
    pub fn resting(mut self, state: ChildState) -> Self {
        self.options_mut().resting = state.is_at_rest().then_some(state);
        self
    }

    /// Keeps a temporary child's spec when it ends: listed (completed, shut
    /// down or failed, with its last exit) and startable again with
    /// [`restart_child`](crate::SupervisorHandle::restart_child), but never
    /// restarted by its supervisor, its strategy included. OTP removes a
    /// temporary child's spec; a program that shows what ran (a one-shot
    /// job in a status list) keeps it. No effect on other restart types.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_engine::{ChildSpec, ChildState, Context, Restart, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let job = ChildSpec::task("migrate", |_ctx: Context| async {})
    ///     .restart(Restart::Temporary)
    ///     .keep_spec(true);
    /// let sup = Supervisor::builder("app").child(job).start().await.unwrap();
    /// # tokio::task::yield_now().await;
    /// let info = sup.child_info("migrate").await.unwrap();
    /// assert_eq!(info.state, ChildState::Completed);
    /// sup.restart_child("migrate").await.unwrap(); // runs it again
    /// # sup.shutdown().await;
    /// # }
    /// ```
    #[must_use]
    pub fn keep_spec(mut self, keep: bool) -> Self {
        self.options_mut().keep_spec = keep;
        self
    }

    /// Expects a [`Context::heartbeat`] at least every `timeout` (counted
    /// from the start): a hung incarnation, not only a dead one, is then
    /// stopped as [`ExitKind::Watchdog`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tend_engine::{ChildSpec, Context};
    ///
    /// let spec = ChildSpec::task("poller", |ctx: Context| async move {
    ///     loop {
    ///         tokio::select! {
    ///             _ = ctx.cancelled() => return,
    ///             _ = tokio::time::sleep(Duration::from_secs(1)) => ctx.heartbeat(),
    ///         }
    ///     }
    /// })
    /// .watchdog(Duration::from_secs(5));
    /// # let _ = spec;
    /// ```
    #[must_use]
    pub fn watchdog(mut self, timeout: Duration) -> Self {
        self.options_mut().watchdog = Some(timeout);
        self
    }

    /// Limits a resource a task uses (in the unit [`Resource`] gives): a
    /// warning event at 80 %, and at 100 % the child is stopped as
    /// [`ExitKind::ResourceExceeded`]. Counters are charged by the task
    /// ([`Context::charge`]); [`Resource::CpuTime`] (microseconds) is
    /// measured around its polls. Setting a resource again replaces its
    /// limit. (An OS process's memory, CPU and pids limits are its
    /// backend's.)
    #[must_use]
    pub fn limit(mut self, resource: Resource, max: u64) -> Self {
        let limits = &mut self.options_mut().limits;
        limits.retain(|(r, _)| *r != resource);
        limits.push((resource, max));
        self
    }

    /// Limits the task's CPU busy time (the wall time its polls take,
    /// blocking included): [`limit`](Self::limit) for [`Resource::CpuTime`].
    #[must_use]
    pub fn cpu_time_limit(self, max: Duration) -> Self {
        self.limit(Resource::CpuTime, max.as_micros() as u64)
    }

    /// Names the backend that runs this child (default [`Backend::Task`]);
    /// for backend crates, whose children are tasks that own a process or a
    /// container.
    #[must_use]
    pub fn backend(mut self, backend: Backend) -> Self {
        self.options_mut().backend = backend;
        self
    }

    /// Makes the start wait until the child calls [`Context::ready`], for at
    /// most `timeout`; siblings after it start only then. An exit or a
    /// timeout before ready is a start failure.
    #[must_use]
    pub fn await_ready(mut self, timeout: Duration) -> Self {
        self.await_ready = Some(timeout);
        self
    }

    /// The child's id.
    #[must_use]
    pub fn id(&self) -> &ChildId {
        &self.id
    }

    /// Worker or supervisor.
    #[must_use]
    pub fn kind(&self) -> ChildKind {
        self.kind
    }

    /// The restart type.
    #[must_use]
    pub fn restart_type(&self) -> Restart {
        self.restart
    }

    /// The backend that runs it.
    #[must_use]
    pub fn backend_kind(&self) -> Backend {
        self.options.backend
    }

    /// Whether its backend can run here: a program checking a
    /// configuration (`tend check`) asks this without starting anything.
    ///
    /// # Errors
    /// The [`NotAvailable`] every start of this child would fail with.
    pub fn availability(&self) -> Result<(), &NotAvailable> {
        match &self.options.unavailable {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The siblings it waits for, and their conditions.
    #[must_use]
    pub fn dependencies(&self) -> &[(ChildId, Condition)] {
        &self.options.depends_on
    }

    /// Whether a start waits for readiness, and for how long (`None` inside
    /// means no deadline: a nested supervisor, or a probe that decides).
    pub(crate) fn ready_wait(&self) -> Option<Option<Duration>> {
        let probed = self.options.startup.is_some() || self.options.readiness.is_some();
        match (self.kind, self.await_ready) {
            (_, Some(timeout)) => Some(Some(timeout)),
            (ChildKind::Supervisor, None) => Some(None),
            (ChildKind::Worker, None) => probed.then_some(None),
        }
    }
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("backend", &self.options.backend)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("significant", &self.significant)
            .field("on_crash", &self.on_crash)
            .field("backoff", &self.options.backoff)
            .field("budget", &self.options.budget)
            .field("start_limit", &self.options.start_limit)
            .field("await_ready", &self.await_ready)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::Options;

    #[test]
    fn children_with_the_same_options_share_them() {
        use super::ChildSpec;
        use std::sync::Arc;
        use std::time::Duration;
        use tend_spec::{Backend, Backoff};

        let spec = |id: &str, backoff: Duration| {
            ChildSpec::task(id, |_ctx: crate::context::Context| async {})
                .backend(Backend::Process)
                .backoff(Backoff::exponential(backoff, Duration::from_secs(10)))
        };
        let first = spec("a", Duration::from_millis(100));
        let mut same = spec("b", Duration::from_millis(100));
        let mut other = spec("c", Duration::from_millis(200));
        assert!(!Arc::ptr_eq(&first.options, &same.options));
        same.share_options(&first.options);
        other.share_options(&first.options);
        assert!(Arc::ptr_eq(&first.options, &same.options));
        assert!(!Arc::ptr_eq(&first.options, &other.options));
        // A probe is a closure: never taken for the same.
        let mut probed = spec("d", Duration::from_millis(100)).liveness_probe(super::Probe::new(
            |_ctx: crate::context::Context| async { Ok::<(), String>(()) },
        ));
        probed.share_options(&first.options);
        assert!(!Arc::ptr_eq(&first.options, &probed.options));
    }

    #[test]
    fn options_stay_small() {
        // Every process child has its own copy (its backend and stop
        // settings differ from the shared default): 504 bytes when the
        // three probes and a backend's unavailability were inline (issue
        // 26), which few children have; 288 since.
        let size = std::mem::size_of::<Options>();
        println!("Options: {size} bytes");
        assert!(size <= 320, "Options is {size} bytes");
    }
}
