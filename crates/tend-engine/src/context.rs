//! What a running incarnation knows about itself and how it talks back: its
//! identity, the stop request, readiness, its heartbeat, the resources it
//! charges, and the exits of the parties it is linked to.

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tend_spec::Signal;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::event::{EventKind, IncarnationView, Live};
use crate::exit::{Exit, ExitKind, Resource};
use crate::id::{ChildId, IncarnationId};
use crate::link::{LinkExit, LinkPeer, Port};
use crate::policy::{Crossing, Meter};
use crate::state::Usage;
use crate::tree::{ChildKey, Message, TreeLinks};

/// Handed to each incarnation of a child: who it is, whether it is being
/// asked to stop, and a way to say it is ready, alive, and what it uses.
/// Cheap to clone.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_engine::{ChildSpec, Context, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let spec = ChildSpec::task("server", |ctx: Context| async move {
///     // ... bind a socket, load state ...
///     ctx.ready();                 // siblings after us may start now
///     ctx.cancelled().await;       // serve until asked to stop
///     println!("{} (incarnation {}) stopping", ctx.id(), ctx.generation());
/// })
/// .await_ready(Duration::from_secs(5));
///
/// let sup = Supervisor::builder("app").child(spec).start().await.unwrap();
/// sup.shutdown().await;
/// # }
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    id: ChildId,
    generation: u64,
    incarnation: IncarnationId,
    replaces: Option<IncarnationId>,
    key: ChildKey,
    /// The stop request. A flag and a `Notify` inside this allocation rather
    /// than a `CancellationToken` per incarnation: that would cost another
    /// allocation and lock on the restart hot path. A token is made only
    /// when asked for ([`Context::cancellation_token`]).
    cancelled: AtomicBool,
    /// The parts of readiness met so far ([`Readiness`] bits).
    ready: AtomicU8,
    /// The parts it needs to be ready: every one must hold.
    needs: u8,
    traps_exits: bool,
    /// 0 means "no OS process".
    pid: AtomicU32,
    cancel_notify: Notify,
    token: OnceLock<CancellationToken>,
    inbox: mpsc::UnboundedSender<Message>,
    links: Arc<TreeLinks>,
    /// What most incarnations never use, made on first use: one pointer
    /// here instead of one slot each.
    extras: OnceLock<Box<Extras>>,
}

/// The parts of an incarnation's readiness, as bits: its own signal
/// ([`Context::ready`]) and its probes' verdict. A child needs its signal
/// when it has no startup or readiness probe, its probes' pass when it has
/// one, and both when it also signals
/// ([`ChildSpec::signals_ready`](crate::ChildSpec::signals_ready)).
pub(crate) struct Readiness;

impl Readiness {
    /// The incarnation said it is ready.
    pub(crate) const SIGNALLED: u8 = 1;
    /// Its startup and readiness probes pass.
    pub(crate) const PROBED: u8 = 2;

    /// What a child with these options needs to be ready.
    pub(crate) fn needs(probes: bool, signals: bool) -> u8 {
        match (probes, signals) {
            (false, _) => Self::SIGNALLED,
            (true, false) => Self::PROBED,
            (true, true) => Self::SIGNALLED | Self::PROBED,
        }
    }
}

/// The optional parts of a context.
#[derive(Default)]
struct Extras {
    /// One value the incarnation publishes for its supervisor (a nested
    /// supervisor's handle), typed by the caller and erased here so that
    /// this module need not know supervisors.
    attachment: OnceLock<Box<dyn Any + Send + Sync>>,
    usage: OnceLock<UsageProbe>,
    /// Its end of its links.
    port: OnceLock<Arc<Port>>,
    /// Its heartbeat and resource meters, when its spec watches them.
    guard: OnceLock<Guard>,
    /// What it says it is doing, for people (`set_status`).
    status: Mutex<Option<Arc<str>>>,
    /// When it last passed a probe.
    last_healthy: Mutex<Option<Instant>>,
    /// Where signals sent to it go, once its backend takes them.
    signals: OnceLock<Arc<SignalInbox>>,
    /// Its OS process's start time in clock ticks since boot (0: unknown),
    /// journaled with its pid so a successor can tell it from a process
    /// that reused the pid.
    pid_start: AtomicU64,
}

/// Signals waiting for an incarnation's backend: a queue and a wake-up,
/// about a hundred bytes; an unbounded channel's first block was a
/// kilobyte per child, for signals most children never get (issue 26).
struct SignalInbox {
    /// `None` once the receiving end is gone: a signal is then refused.
    queue: Mutex<Option<std::collections::VecDeque<SignalRequest>>>,
    arrived: Notify,
}

/// The signals sent to one incarnation ([`Context::signals`]).
pub struct Signals {
    inbox: Option<Arc<SignalInbox>>,
}

impl Signals {
    /// The next signal; `None` if this end never took the incarnation's
    /// signals (a second call of [`Context::signals`]). Cancel safe: a
    /// signal not returned stays queued.
    pub async fn recv(&mut self) -> Option<SignalRequest> {
        let inbox = self.inbox.as_ref()?;
        loop {
            if let Some(request) = inbox
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
                .and_then(std::collections::VecDeque::pop_front)
            {
                return Some(request);
            }
            inbox.arrived.notified().await;
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        if let Some(inbox) = &self.inbox {
            // Refuses what comes next; drops what waits (its sender hears
            // the answer channel closed).
            let queued = inbox.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
            drop(queued);
        }
    }
}

/// A signal for an incarnation, and where to say whether it was sent.
#[derive(Debug)]
pub struct SignalRequest {
    /// The signal.
    pub signal: Signal,
    /// Told `Ok` once sent, or why it could not be.
    pub sent: oneshot::Sender<Result<(), String>>,
}

/// Measures what an incarnation uses, when asked.
type UsageProbe = Box<dyn Fn() -> Usage + Send + Sync>;

/// What the incarnation reports from the inside.
struct Guard {
    /// When the incarnation started, on tokio's clock.
    base: Instant,
    /// The last heartbeat, in nanoseconds after `base`.
    last_beat: AtomicU64,
    meters: Mutex<Vec<Meter>>,
}

impl Context {
    /// The context of a new incarnation: `lineage` is its id and the id of
    /// the one it replaces.
    pub(crate) fn new(
        id: ChildId,
        generation: u64,
        lineage: (IncarnationId, Option<IncarnationId>),
        key: ChildKey,
        (traps_exits, ready_needs): (bool, u8),
        inbox: mpsc::UnboundedSender<Message>,
        links: Arc<TreeLinks>,
    ) -> Self {
        let (incarnation, replaces) = lineage;
        Context {
            inner: Arc::new(ContextInner {
                id,
                generation,
                incarnation,
                replaces,
                key,
                cancelled: AtomicBool::new(false),
                ready: AtomicU8::new(0),
                needs: ready_needs,
                traps_exits,
                pid: AtomicU32::new(0),
                cancel_notify: Notify::new(),
                token: OnceLock::new(),
                inbox,
                links,
                extras: OnceLock::new(),
            }),
        }
    }

    /// The child's id.
    #[must_use]
    pub fn id(&self) -> &ChildId {
        &self.inner.id
    }

    /// Which incarnation this is: 1 for the first, one more for every new
    /// incarnation (automatic restart or
    /// [`restart_child`](crate::SupervisorHandle::restart_child)).
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.inner.generation
    }

    /// This incarnation's id, unique in its tree.
    #[must_use]
    pub fn incarnation(&self) -> IncarnationId {
        self.inner.incarnation
    }

    /// The id of the incarnation this one replaced (its restart lineage),
    /// or `None` for a child's first incarnation.
    #[must_use]
    pub fn replaces(&self) -> Option<IncarnationId> {
        self.inner.replaces
    }

    /// Completes when the supervisor asks this incarnation to stop. The
    /// incarnation should then clean up and return within its shutdown
    /// timeout, after which it is aborted.
    ///
    /// Cancel-safe: dropping the future and calling again loses nothing.
    pub fn cancelled(&self) -> impl Future<Output = ()> + Send + '_ {
        let inner = &self.inner;
        async move {
            let notified = inner.cancel_notify.notified();
            tokio::pin!(notified);
            // Registered before the flag is read, so a cancel in between
            // still wakes us.
            notified.as_mut().enable();
            if !inner.cancelled.load(Ordering::SeqCst) {
                notified.await;
            }
        }
    }

    /// Whether the supervisor has asked this incarnation to stop.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// A token that is cancelled when this incarnation is asked to stop, to
    /// hand to code that takes a `CancellationToken`.
    #[must_use]
    pub fn cancellation_token(&self) -> CancellationToken {
        let token = self.inner.token.get_or_init(CancellationToken::new).clone();
        // A cancel that ran before the token existed did not see it.
        if self.is_cancelled() {
            token.cancel();
        }
        token
    }

    /// Declares this incarnation ready. With
    /// [`ChildSpec::await_ready`](crate::ChildSpec::await_ready) the
    /// supervisor waits for this before starting the next sibling (or the
    /// siblings that depend on it); either way the child is shown as ready
    /// and an event is emitted. Calls while ready do nothing. A child with a
    /// startup or readiness probe is ready when its probes pass, and then
    /// this is not needed, unless its spec says it
    /// [`signals_ready`](crate::ChildSpec::signals_ready): then both must
    /// hold.
    pub fn ready(&self) {
        self.inner.set_ready(Readiness::SIGNALLED, true, "");
    }

    /// Declares this incarnation no longer ready (an overload, a lost
    /// connection), saying why: it keeps running, is shown as not ready and
    /// an event is emitted; [`ready`](Self::ready) makes it ready again.
    /// Calls while not ready do nothing.
    pub fn not_ready(&self, reason: &str) {
        self.inner.set_ready(Readiness::SIGNALLED, false, reason);
    }

    /// Its probes' verdict: passing, or failed for `reason`.
    pub(crate) fn probed(&self, passing: bool, reason: &str) {
        self.inner.set_ready(Readiness::PROBED, passing, reason);
    }

    /// Asks for `by` more time, counted from now, to become ready, when
    /// the start waits for readiness
    /// ([`ChildSpec::await_ready`](crate::ChildSpec::await_ready)): the
    /// deadline moves if this is later (systemd's `EXTEND_TIMEOUT_USEC`).
    /// Does nothing once ready or without a wait.
    pub fn extend_start_timeout(&self, by: Duration) {
        if !self.is_ready() {
            let _ = self.inner.inbox.send(Message::ExtendStart {
                key: self.inner.key,
                generation: self.inner.generation,
                by,
            });
        }
    }

    /// Says what the incarnation is doing, for people: shown by
    /// [`which_children`](crate::SupervisorHandle::which_children) as
    /// [`ChildInfo::status`](crate::ChildInfo::status) (systemd's
    /// `STATUS=`). An empty text clears it.
    pub fn set_status(&self, text: &str) {
        let text = (!text.is_empty()).then(|| Arc::from(text));
        *self
            .extras()
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = text;
    }

    /// What [`set_status`](Self::set_status) last said.
    #[must_use]
    pub fn status(&self) -> Option<String> {
        self.inner.status()
    }

    /// Whether it is ready: [`ready`](Self::ready) was called, and
    /// [`not_ready`](Self::not_ready) not since.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.inner.is_ready()
    }

    /// Says this incarnation is alive, for its
    /// [`watchdog`](crate::ChildSpec::watchdog): one missed by more than
    /// the watchdog's timeout makes the supervisor stop it as hung
    /// ([`ExitKind::Watchdog`]). Cheap (a clock read and a store); does
    /// nothing without a watchdog.
    pub fn heartbeat(&self) {
        if let Some(guard) = self.guard() {
            let nanos = guard.base.elapsed().as_nanos() as u64;
            guard.last_beat.store(nanos, Ordering::Relaxed);
        }
    }

    /// Charges `amount` of `resource` (messages handled, calls made, any
    /// named counter) against this child's [`limit`](crate::ChildSpec::limit)
    /// for it: a [`ResourceWarning`](EventKind::ResourceWarning) at 80 %,
    /// and at 100 % a [`ResourceExceeded`](EventKind::ResourceExceeded)
    /// and a stop with [`ExitKind::ResourceExceeded`]. A resource without a
    /// limit is not counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_engine::{ChildSpec, Context, Resource};
    ///
    /// let spec = ChildSpec::task("consumer", |ctx: Context| async move {
    ///     for message in 0..10 {
    ///         ctx.charge(Resource::Messages, 1);
    ///         let _ = message; // handle it
    ///     }
    /// })
    /// .limit(Resource::Messages, 1_000_000);
    /// # let _ = spec;
    /// ```
    pub fn charge(&self, resource: Resource, amount: u64) {
        let Some(guard) = self.guard() else {
            return;
        };
        let crossing = {
            let mut meters = guard.meters.lock().unwrap_or_else(|e| e.into_inner());
            match meters.iter_mut().find(|m| m.resource == resource) {
                Some(meter) => meter.charge(amount),
                None => return,
            }
        };
        match crossing {
            Crossing::None => {}
            Crossing::Warn { used, limit } => self.warn_resource(resource, used, limit),
            Crossing::Reach {
                used,
                limit,
                warn_first,
            } => {
                if warn_first {
                    self.warn_resource(resource, used, limit);
                }
                self.exceeded_resource(resource, used, limit);
                self.fault(Exit::new(
                    ExitKind::ResourceExceeded(resource),
                    format_args!("{used} of {limit}"),
                ));
            }
        }
    }

    /// Charges busy time (measured around the task's polls) to the CPU-time
    /// meter.
    pub(crate) fn charge_busy(&self, busy: Duration) {
        self.charge(Resource::CpuTime, busy.as_micros() as u64);
    }

    /// Whether the task's polls are to be timed (it has a CPU-time limit).
    pub(crate) fn meters_busy_time(&self) -> bool {
        self.guard().is_some_and(|guard| {
            let meters = guard.meters.lock().unwrap_or_else(|e| e.into_inner());
            meters.iter().any(|m| m.resource == Resource::CpuTime)
        })
    }

    /// The next exit of a party this incarnation is linked to, for a child
    /// that traps exits ([`ChildSpec::trap_exits`](crate::ChildSpec::trap_exits)):
    /// every exit, normal ones too. For a child that does not trap exits it
    /// never resolves (a linked party's abnormal end stops it instead).
    /// Cancel-safe.
    pub async fn linked_exit(&self) -> LinkExit {
        self.port().next_trapped().await
    }

    /// Publishes the OS process id behind this incarnation, for backends that
    /// run processes. It shows in `which_children` and in events.
    pub fn set_pid(&self, pid: Option<u32>) {
        self.inner.pid.store(pid.unwrap_or(0), Ordering::Release);
        if let Some(extras) = self.inner.extras.get() {
            extras.pid_start.store(0, Ordering::Release);
        }
    }

    /// The OS process id published with [`set_pid`](Self::set_pid).
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.inner.pid()
    }

    /// Publishes the OS process behind this incarnation with its start
    /// time (clock ticks since boot), which tells it from a later process
    /// that reuses its pid. It goes into the started event.
    pub fn set_process(&self, pid: u32, start_ticks: Option<u64>) {
        self.set_pid(Some(pid));
        self.extras()
            .pid_start
            .store(start_ticks.unwrap_or(0), Ordering::Release);
    }

    /// The start time published with [`set_process`](Self::set_process).
    #[must_use]
    pub fn pid_start_ticks(&self) -> Option<u64> {
        match self.inner.extras.get()?.pid_start.load(Ordering::Acquire) {
            0 => None,
            ticks => Some(ticks),
        }
    }

    /// Lets the supervisor measure this incarnation's resource usage when
    /// asked (`which_children`), for backends that can. Only the first probe
    /// set is kept. The probe runs on the asker's task, not the
    /// supervisor's: keep it cheap all the same (a few small file reads).
    pub fn set_usage_probe(&self, probe: impl Fn() -> Usage + Send + Sync + 'static) {
        let _ = self.extras().usage.set(Box::new(probe));
    }

    /// This incarnation's usage, measured now: by its backend's probe, or,
    /// for a task with limits, from its meters.
    #[must_use]
    pub fn usage(&self) -> Option<Usage> {
        self.inner.usage()
    }

    /// Emits a [`EventKind::ResourceWarning`] for this incarnation: it uses
    /// `used` of its `limit` of `resource`.
    pub fn warn_resource(&self, resource: Resource, used: u64, limit: u64) {
        self.emit(|id, generation| EventKind::ResourceWarning {
            id,
            generation,
            resource,
            used,
            limit,
        });
    }

    /// Emits a [`EventKind::ResourceExceeded`] for this incarnation.
    pub fn exceeded_resource(&self, resource: Resource, used: u64, limit: u64) {
        self.emit(|id, generation| EventKind::ResourceExceeded {
            id,
            generation,
            resource,
            used,
            limit,
        });
    }

    /// Emits an event about this incarnation on its tree's stream.
    pub(crate) fn emit(&self, kind: impl FnOnce(ChildId, u64) -> EventKind) {
        let links = &self.inner.links;
        let (id, generation) = (self.inner.id.clone(), self.inner.generation);
        links.bus.emit(&links.path, || kind(id, generation));
    }

    pub(crate) fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        self.inner.cancel_notify.notify_waiters();
        if let Some(token) = self.inner.token.get() {
            token.cancel();
        }
    }

    /// Tells the supervisor this incarnation ended. It may be gone (runtime
    /// shutting down): then nobody is left to tell.
    pub(crate) fn report_exit(&self, exit: Exit) {
        let _ = self.inner.inbox.send(Message::Exited {
            key: self.inner.key,
            generation: self.inner.generation,
            exit,
        });
    }

    /// Tells the supervisor this incarnation is faulty: it will be stopped,
    /// and `exit` recorded as its end.
    pub(crate) fn fault(&self, exit: Exit) {
        let _ = self.inner.inbox.send(Message::Fault {
            key: self.inner.key,
            generation: self.inner.generation,
            exit,
        });
    }

    pub(crate) fn links(&self) -> &Arc<TreeLinks> {
        &self.inner.links
    }

    fn extras(&self) -> &Extras {
        self.inner.extras.get_or_init(Box::default)
    }

    fn guard(&self) -> Option<&Guard> {
        self.inner.extras.get()?.guard.get()
    }

    /// Starts watching this incarnation from the inside: its heartbeat
    /// (counted from now) and these meters. Called once, before it runs.
    pub(crate) fn watch(&self, meters: Vec<Meter>) {
        let _ = self.extras().guard.set(Guard {
            base: Instant::now(),
            last_beat: AtomicU64::new(0),
            meters: Mutex::new(meters),
        });
    }

    /// When the last heartbeat was (the start, if none yet).
    pub(crate) fn last_heartbeat(&self) -> Option<Instant> {
        let guard = self.guard()?;
        let nanos = guard.last_beat.load(Ordering::Relaxed);
        Some(guard.base + Duration::from_nanos(nanos))
    }

    /// Notes that a probe of this incarnation passed, now.
    pub(crate) fn passed_probe(&self) {
        let mut last = self
            .extras()
            .last_healthy
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *last = Some(Instant::now());
    }

    /// When a probe of this incarnation last passed.
    pub(crate) fn last_healthy(&self) -> Option<Instant> {
        let extras = self.inner.extras.get()?;
        let last = extras
            .last_healthy
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *last
    }

    /// A look at this incarnation that does not keep it alive.
    #[must_use]
    pub fn view(&self) -> IncarnationView {
        let live: Arc<dyn Live> = self.inner.clone();
        IncarnationView::new(Arc::downgrade(&live))
    }

    /// Takes the signals sent to this incarnation through
    /// [`signal_child`](crate::SupervisorHandle::signal_child), for a
    /// backend that runs a process: it sends each and answers whether it
    /// could. Only the first call gets them; a child whose incarnation
    /// never calls this answers that it takes no signals.
    pub fn signals(&self) -> Signals {
        let inbox = Arc::new(SignalInbox {
            queue: Mutex::new(Some(std::collections::VecDeque::new())),
            arrived: Notify::new(),
        });
        Signals {
            inbox: self
                .extras()
                .signals
                .set(inbox.clone())
                .ok()
                .map(|()| inbox),
        }
    }

    /// Passes `signal` to whoever took this incarnation's signals; the
    /// answer comes on the returned receiver. `None` when nothing takes
    /// them (a task).
    pub(crate) fn send_signal(
        &self,
        signal: Signal,
    ) -> Option<oneshot::Receiver<Result<(), String>>> {
        let inbox = self.inner.extras.get()?.signals.get()?;
        let (sent, answer) = oneshot::channel();
        inbox
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()?
            .push_back(SignalRequest { signal, sent });
        // A permit if it is not waiting now: the next wait returns at once.
        inbox.arrived.notify_one();
        Some(answer)
    }

    /// This incarnation's end of its links, made on first use.
    pub(crate) fn port(&self) -> &Arc<Port> {
        self.extras().port.get_or_init(|| {
            let me = LinkPeer::Child {
                supervisor: self.inner.links.path.clone(),
                id: self.inner.id.clone(),
                incarnation: self.inner.incarnation,
            };
            Port::for_incarnation(
                me,
                self.inner.inbox.clone(),
                self.inner.key,
                self.inner.generation,
                self.inner.traps_exits,
            )
        })
    }

    /// Its end of its links, if it has any.
    pub(crate) fn port_if_linked(&self) -> Option<&Arc<Port>> {
        self.inner.extras.get()?.port.get()
    }

    /// Publishes a value for the supervisor (only the first is kept): a
    /// nested supervisor's handle, for its parent.
    pub(crate) fn attach<T: Any + Send + Sync>(&self, value: T) {
        let _ = self.extras().attachment.set(Box::new(value));
    }

    /// The value published with [`attach`](Self::attach), if it is a `T`.
    pub(crate) fn attached<T: Any>(&self) -> Option<&T> {
        self.inner.extras.get()?.attachment.get()?.downcast_ref()
    }
}

impl ContextInner {
    /// Sets or clears one part of readiness; tells the supervisor when
    /// that makes the incarnation ready or no longer ready (each change
    /// once, whatever the order the parts come in).
    fn set_ready(&self, part: u8, on: bool, reason: &str) {
        let before = if on {
            self.ready.fetch_or(part, Ordering::AcqRel)
        } else {
            self.ready.fetch_and(!part, Ordering::AcqRel)
        };
        let after = if on { before | part } else { before & !part };
        let (was, is) = (
            before & self.needs == self.needs,
            after & self.needs == self.needs,
        );
        // The supervisor may be gone already; then nobody is waiting.
        if is && !was {
            let _ = self.inbox.send(Message::Ready {
                key: self.key,
                generation: self.generation,
            });
        } else if was && !is {
            let _ = self.inbox.send(Message::NotReady {
                key: self.key,
                generation: self.generation,
                reason: Arc::from(reason),
            });
        }
    }
}

/// What an incarnation tells from outside its supervisor, for its views.
impl Live for ContextInner {
    fn pid(&self) -> Option<u32> {
        match self.pid.load(Ordering::Acquire) {
            0 => None,
            pid => Some(pid),
        }
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) & self.needs == self.needs
    }

    fn status(&self) -> Option<String> {
        let extras = self.extras.get()?;
        let status = extras.status.lock().unwrap_or_else(|e| e.into_inner());
        status.as_deref().map(str::to_owned)
    }

    fn usage(&self) -> Option<Usage> {
        let extras = self.extras.get()?;
        if let Some(probe) = extras.usage.get() {
            return Some(probe());
        }
        let guard = extras.guard.get()?;
        let meters = guard.meters.lock().unwrap_or_else(|e| e.into_inner());
        if meters.is_empty() {
            return None;
        }
        let mut usage = Usage::default();
        for meter in meters.iter() {
            match meter.resource {
                Resource::CpuTime => usage.cpu_time = Some(Duration::from_micros(meter.used)),
                resource => usage.counters.push((resource, meter.used)),
            }
        }
        Some(usage)
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("id", &self.inner.id)
            .field("generation", &self.inner.generation)
            .field("incarnation", &self.inner.incarnation)
            .field("cancelled", &self.is_cancelled())
            .field("ready", &self.is_ready())
            .finish()
    }
}
