//! Describing a supervisor ([`SupervisorBuilder`]), starting it, and checking
//! child specs the way it will ([`check_childspecs`]).

use std::collections::HashSet;
use std::sync::Arc;

use tend_spec::{
    check_backoff, check_budget, check_intensity, check_significant, check_start_limit,
    dependency_order, AutoShutdown, Intensity, SpecError, Strategy,
};
use tokio::sync::{broadcast, oneshot};

use super::handle::SupervisorHandle;
use super::server::{Init, Server, Settings};
use crate::child::task::{self, ExitGuard};
use crate::child::{ChildSpec, Launch, Nested};
use crate::context::Context;
use crate::error::{ChildSpecError, StartError};
use crate::event::{Event, EventBus};
use crate::exit::{Exit, ExitKind};
use crate::id::ChildId;
use crate::tree::TreeLinks;

/// Entry point: `Supervisor::builder(name)`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_engine::{ChildSpec, Context, Intensity, Strategy, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let root = Supervisor::builder("root")
///     .strategy(Strategy::OneForOne)
///     .intensity(Intensity::new(3, Duration::from_secs(5)))
///     .child(ChildSpec::task("ticker", |ctx: Context| async move {
///         let mut tick = tokio::time::interval(Duration::from_millis(10));
///         loop {
///             tokio::select! {
///                 _ = ctx.cancelled() => return Ok::<(), std::io::Error>(()),
///                 _ = tick.tick() => {}
///             }
///         }
///     }))
///     .child(ChildSpec::supervisor(Supervisor::builder("workers")))
///     .start()
///     .await
///     .unwrap();
/// assert_eq!(root.count_children().await.specs, 2);
/// root.shutdown().await;
/// # }
/// ```
#[derive(Debug)]
pub struct Supervisor;

impl Supervisor {
    /// Starts describing a supervisor named `name` (also its id when nested).
    #[must_use]
    pub fn builder(name: impl Into<String>) -> SupervisorBuilder {
        SupervisorBuilder {
            name: name.into().into(),
            strategy: Strategy::default(),
            intensity: Intensity::default(),
            auto_shutdown: AutoShutdown::default(),
            children: Vec::new(),
            max_children: None,
            history: 8,
            event_capacity: 1024,
            concurrent: false,
            concurrent_stop: false,
            bus: None,
        }
    }
}

/// A supervisor's description: flags and initial children. Cloneable, so a
/// nested supervisor can be started again after it gives up.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_engine::{AutoShutdown, ChildSpec, Context, ExitKind, Restart, Strategy, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // A job runner that ends once its (significant) job completes.
/// let job = Supervisor::builder("job")
///     .strategy(Strategy::RestForOne)
///     .auto_shutdown(AutoShutdown::AnySignificant)
///     .max_children(10)
///     .child(ChildSpec::task("log-shipper", |ctx: Context| async move { ctx.cancelled().await }))
///     .child(
///         ChildSpec::task("work", |_ctx: Context| async { Ok::<(), std::io::Error>(()) })
///             .restart(Restart::Transient)
///             .significant(true),
///     )
///     .start()
///     .await
///     .unwrap();
/// let exit = job.wait().await; // "work" completed: the supervisor shut down
/// assert_eq!(exit.kind(), ExitKind::AutoShutdown);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SupervisorBuilder {
    name: Arc<str>,
    strategy: Strategy,
    intensity: Intensity,
    auto_shutdown: AutoShutdown,
    children: Vec<ChildSpec>,
    max_children: Option<usize>,
    history: usize,
    event_capacity: usize,
    concurrent: bool,
    concurrent_stop: bool,
    /// Made early when someone subscribes before the start.
    bus: Option<EventBus>,
}

impl SupervisorBuilder {
    /// Which siblings restart together (default one-for-one).
    #[must_use]
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// How many restarts within a period before giving up (default 1 in 5 s).
    #[must_use]
    pub fn intensity(mut self, intensity: Intensity) -> Self {
        self.intensity = intensity;
        self
    }

    /// Whether significant children ending shut the supervisor down (default
    /// never).
    #[must_use]
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// Adds a child; children start in the order added.
    #[must_use]
    pub fn child(mut self, spec: ChildSpec) -> Self {
        self.children.push(spec);
        self
    }

    /// Adds several children, in order.
    #[must_use]
    pub fn children(mut self, specs: impl IntoIterator<Item = ChildSpec>) -> Self {
        self.children.extend(specs);
        self
    }

    /// Starts children as concurrently as their dependencies
    /// ([`ChildSpec::depends_on`]) allow, without waiting for one child's
    /// readiness before the next (default: OTP's order, one after the
    /// other, unless a child has dependencies, which implies this). A
    /// child's failed start is then handled like any exit (its crash policy
    /// and restart type), also one a caller awaits (`start_child`,
    /// `restart_child`: they are told), as systemd treats a failed start;
    /// and the supervisor's start returns once the children that can start
    /// were spawned.
    #[must_use]
    pub fn concurrent_start(mut self, concurrent: bool) -> Self {
        self.concurrent = concurrent;
        self
    }

    /// When the supervisor stops (shutdown, giving up, auto-shutdown), asks
    /// every child that no sibling depends on to stop at once, then waits
    /// for each, instead of OTP's one after another in reverse start order
    /// (default). Dependencies still stop after their dependents (each
    /// asked once the last of its dependents has ended), and each child
    /// still gets its whole shutdown timeout. For independent
    /// children (replicas, services without `depends_on`): N stop in about
    /// the time of one.
    #[must_use]
    pub fn concurrent_stop(mut self, concurrent: bool) -> Self {
        self.concurrent_stop = concurrent;
        self
    }

    /// Caps the number of child specs; `start_child` beyond it fails with
    /// [`ControlError::MaxChildren`](crate::ControlError::MaxChildren).
    #[must_use]
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    /// How many past exits each child keeps in its history (default 8; the
    /// last exit is kept even with 0). The supervisor's
    /// [`restart_history`](SupervisorHandle::restart_history) is drawn from
    /// these.
    #[must_use]
    pub fn history(mut self, entries: usize) -> Self {
        self.history = entries;
        self
    }

    /// How many events the tree's stream buffers for slow subscribers
    /// (default 1024; only the root's setting is used).
    #[must_use]
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// Subscribes to the tree's events before it starts, so that not even
    /// the first start is missed (for a root supervisor; a nested one shares
    /// its parent's stream).
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_engine::{ChildSpec, Context, EventKind, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut builder = Supervisor::builder("app")
    ///     .child(ChildSpec::task("a", |ctx: Context| async move { ctx.cancelled().await }));
    /// let mut events = builder.subscribe();
    /// let sup = builder.start().await.unwrap();
    /// // The child's first state, its spawn and its start: none is missed.
    /// let first = events.recv().await.unwrap();
    /// assert!(matches!(first.kind, EventKind::ChildState { .. }));
    /// loop {
    ///     if let EventKind::ChildStarted { .. } = events.recv().await.unwrap().kind {
    ///         break;
    ///     }
    /// }
    /// # sup.shutdown().await;
    /// # }
    /// ```
    pub fn subscribe(&mut self) -> broadcast::Receiver<Event> {
        let capacity = self.event_capacity;
        self.bus
            .get_or_insert_with(|| EventBus::new(capacity))
            .subscribe()
    }

    /// The supervisor's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts the supervisor on a new tokio task and its children in order,
    /// returning once all have started (with `concurrent_start`: once those
    /// that can start were spawned).
    ///
    /// Must be called within a tokio runtime. Not cancel-safe: dropping the
    /// future after its first poll leaves the supervisor starting in the
    /// background with no handle to it.
    ///
    /// # Errors
    /// [`StartError::InvalidSpec`] (every rule broken, nothing started),
    /// [`StartError::TooManyChildren`], or [`StartError::ChildFailed`] when a
    /// child fails to start (those started before it are stopped again).
    pub async fn start(self) -> Result<SupervisorHandle, StartError> {
        self.validate()?;
        let bus = self
            .bus
            .clone()
            .unwrap_or_else(|| EventBus::new(self.event_capacity));
        let links = Arc::new(TreeLinks::root(&self.name, bus));
        let (settings, children) = self.into_parts();
        let (started_tx, started_rx) = oneshot::channel();
        let (mut server, handle) = Server::new(settings, links, None, Init::Root(started_tx));
        server.add_initial(children);
        tokio::spawn(server.run());
        started_rx.await.map_err(|_| StartError::Aborted)??;
        Ok(handle)
    }

    /// [`start`](Self::start), returning with the handle a subscription to
    /// the tree's events made before the first child started, so that
    /// nothing is missed and the builder chain is not broken.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_engine::{ChildSpec, Context, EventKind, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (sup, mut events) = Supervisor::builder("app")
    ///     .child(ChildSpec::task("a", |ctx: Context| async move { ctx.cancelled().await }))
    ///     .start_with_events()
    ///     .await
    ///     .unwrap();
    /// let first = events.recv().await.unwrap();
    /// assert!(matches!(first.kind, EventKind::ChildState { .. }));
    /// # sup.shutdown().await;
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub async fn start_with_events(
        mut self,
    ) -> Result<(SupervisorHandle, broadcast::Receiver<Event>), StartError> {
        let events = self.subscribe();
        let handle = self.start().await?;
        Ok((handle, events))
    }

    /// Runs this supervisor as the incarnation of a child of another one:
    /// ready for its parent once its own start is over.
    async fn run_nested(self, ctx: Context) -> Exit {
        if let Err(error) = self.validate() {
            return Exit::new(ExitKind::StartFailure, error);
        }
        let links = Arc::new(TreeLinks::nested(ctx.links(), &self.name));
        let (settings, children) = self.into_parts();
        let stop = Some(ctx.cancellation_token());
        let (mut server, handle) = Server::new(settings, links, stop, Init::Nested(ctx.clone()));
        server.add_initial(children);
        ctx.attach(handle);
        server.run().await
    }

    fn validate(&self) -> Result<(), StartError> {
        let mut errors = Vec::new();
        if let Err(error) = check_intensity(&self.intensity) {
            errors.push(ChildSpecError {
                id: String::new(),
                error,
            });
        }
        if let Err(mut child_errors) = check_childspecs(&self.children, self.auto_shutdown) {
            errors.append(&mut child_errors);
        }
        if !errors.is_empty() {
            return Err(StartError::InvalidSpec(errors));
        }
        match self.max_children {
            Some(max) if self.children.len() > max => Err(StartError::TooManyChildren {
                count: self.children.len(),
                max,
            }),
            _ => Ok(()),
        }
    }

    /// The settings, and the children in start order: as added, except
    /// that each comes after the siblings it depends on (checked acyclic by
    /// `validate`).
    fn into_parts(self) -> (Settings, Vec<ChildSpec>) {
        let concurrent =
            self.concurrent || self.children.iter().any(|c| !c.dependencies().is_empty());
        let mut children = self.children;
        if concurrent {
            let nodes: Vec<(&str, Vec<&str>)> = children
                .iter()
                .map(|c| {
                    let deps = c.dependencies().iter().map(|(d, _)| d.as_str()).collect();
                    (c.id.as_str(), deps)
                })
                .collect();
            if let Ok(order) = dependency_order(&nodes) {
                let mut slots: Vec<Option<ChildSpec>> = children.into_iter().map(Some).collect();
                children = order.into_iter().filter_map(|i| slots[i].take()).collect();
            }
        }
        let settings = Settings {
            strategy: self.strategy,
            intensity: self.intensity,
            auto_shutdown: self.auto_shutdown,
            max_children: self.max_children,
            history: self.history,
            concurrent,
            concurrent_stop: self.concurrent_stop,
        };
        (settings, children)
    }
}

impl From<SupervisorBuilder> for Nested {
    /// The builder as a child of another supervisor: each incarnation starts
    /// it afresh (see [`ChildSpec::supervisor`]).
    fn from(builder: SupervisorBuilder) -> Self {
        let id = ChildId::from(builder.name());
        let launch: Launch = Arc::new(move |ctx: Context, guard: ExitGuard| {
            task::spawn(builder.clone().run_nested(ctx), guard)
        });
        Nested::new(id, launch)
    }
}

/// Checks child specs the way a supervisor will before starting them, and
/// returns every problem found (OTP's `check_childspecs/2`).
///
/// # Errors
/// One [`ChildSpecError`] per broken rule: empty or duplicate ids,
/// significant children that are permanent or under `AutoShutdown::Never`,
/// bad backoff, budget or start limit values.
///
/// # Examples
///
/// ```
/// use tend_engine::{check_childspecs, AutoShutdown, ChildSpec, Context, Restart};
///
/// let specs = [
///     ChildSpec::task("a", |_ctx: Context| async {}).significant(true),
///     ChildSpec::task("a", |_ctx: Context| async {}).restart(Restart::Temporary),
/// ];
/// let errors = check_childspecs(&specs, AutoShutdown::AnySignificant).unwrap_err();
/// assert_eq!(errors.len(), 2); // significant + permanent, and a duplicate id
/// ```
pub fn check_childspecs(
    specs: &[ChildSpec],
    auto_shutdown: AutoShutdown,
) -> Result<(), Vec<ChildSpecError>> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let nodes: Vec<(&str, Vec<&str>)> = specs
        .iter()
        .map(|c| {
            let deps = c.dependencies().iter().map(|(d, _)| d.as_str()).collect();
            (c.id.as_str(), deps)
        })
        .collect();
    if let Err(problems) = dependency_order(&nodes) {
        errors.extend(problems.into_iter().map(|error| ChildSpecError {
            id: match &error {
                SpecError::UnknownDependency { child, .. } => child.clone(),
                SpecError::DependencyCycle(members) => members[0].clone(),
                _ => String::new(),
            },
            error,
        }));
    }
    for spec in specs {
        let id = spec.id.to_string();
        let mut problems = spec_problems(spec, auto_shutdown);
        if !seen.insert(spec.id.as_str()) {
            problems.push(SpecError::DuplicateId(id.clone()));
        }
        errors.extend(problems.into_iter().map(|error| ChildSpecError {
            id: id.clone(),
            error,
        }));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks one spec on its own (no duplicate check): its first problem.
pub(crate) fn check_childspec(
    spec: &ChildSpec,
    auto_shutdown: AutoShutdown,
) -> Result<(), ChildSpecError> {
    match spec_problems(spec, auto_shutdown).into_iter().next() {
        None => Ok(()),
        Some(error) => Err(ChildSpecError {
            id: spec.id.to_string(),
            error,
        }),
    }
}

/// Every rule one spec breaks, each from its own small validator.
fn spec_problems(spec: &ChildSpec, auto_shutdown: AutoShutdown) -> Vec<SpecError> {
    let checks = [
        if spec.id.as_str().is_empty() {
            Err(SpecError::EmptyId)
        } else {
            Ok(())
        },
        check_significant(spec.significant, spec.restart, auto_shutdown),
        spec.options.backoff.as_ref().map_or(Ok(()), check_backoff),
        spec.options.budget.as_ref().map_or(Ok(()), check_budget),
        spec.options
            .start_limit
            .as_ref()
            .map_or(Ok(()), check_start_limit),
    ];
    checks.into_iter().filter_map(Result::err).collect()
}
