//! What a running incarnation knows about itself and how it talks back.

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::event::EventKind;
use crate::exit::{Exit, Resource};
use crate::id::{ChildId, IncarnationId};
use crate::status::Usage;
use crate::tree::{Message, TreeLinks};

/// Handed to each incarnation of a child: who it is, whether it is being
/// asked to stop, and a way to say it is ready. Cheap to clone.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend::{ChildSpec, Context, Supervisor};
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
    seq: u64,
    /// The stop request. A flag and a `Notify` inside this allocation rather
    /// than a `CancellationToken` per incarnation: that would cost another
    /// allocation and lock on the restart hot path. A token is made only
    /// when asked for ([`Context::cancellation_token`]).
    cancelled: AtomicBool,
    cancel_notify: Notify,
    token: OnceLock<CancellationToken>,
    ready: AtomicBool,
    /// 0 means "no OS process".
    pid: AtomicU32,
    inbox: mpsc::UnboundedSender<Message>,
    links: Arc<TreeLinks>,
    /// One value the incarnation publishes for its supervisor (a nested
    /// supervisor's handle), typed by the caller and erased here so that
    /// this module need not know supervisors.
    attachment: OnceLock<Box<dyn Any + Send + Sync>>,
    usage: OnceLock<UsageProbe>,
}

/// Measures what an incarnation uses, when asked.
type UsageProbe = Box<dyn Fn() -> Usage + Send + Sync>;

impl Context {
    pub(crate) fn new(
        id: ChildId,
        generation: u64,
        lineage: (IncarnationId, Option<IncarnationId>),
        seq: u64,
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
                seq,
                cancelled: AtomicBool::new(false),
                cancel_notify: Notify::new(),
                token: OnceLock::new(),
                ready: AtomicBool::new(false),
                pid: AtomicU32::new(0),
                inbox,
                links,
                attachment: OnceLock::new(),
                usage: OnceLock::new(),
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
    /// supervisor waits for this before starting the next sibling; either way
    /// the child is shown as ready and an event is emitted. Calls after the
    /// first do nothing.
    pub fn ready(&self) {
        if !self.inner.ready.swap(true, Ordering::AcqRel) {
            // The supervisor may be gone already; then nobody is waiting.
            let _ = self.inner.inbox.send(Message::Ready {
                seq: self.inner.seq,
                generation: self.inner.generation,
            });
        }
    }

    /// Whether [`ready`](Self::ready) was called.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    /// Publishes the OS process id behind this incarnation, for backends that
    /// run processes. It shows in `which_children` and in events.
    pub fn set_pid(&self, pid: Option<u32>) {
        self.inner.pid.store(pid.unwrap_or(0), Ordering::Release);
    }

    /// The OS process id published with [`set_pid`](Self::set_pid).
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        match self.inner.pid.load(Ordering::Acquire) {
            0 => None,
            pid => Some(pid),
        }
    }

    /// Lets the supervisor measure this incarnation's resource usage when
    /// asked (`which_children`), for backends that can. Only the first probe
    /// set is kept. The probe runs on the supervisor's task: keep it cheap (a
    /// few small file reads).
    pub fn set_usage_probe(&self, probe: impl Fn() -> Usage + Send + Sync + 'static) {
        let _ = self.inner.usage.set(Box::new(probe));
    }

    /// This incarnation's usage, measured now, if a probe was set.
    #[must_use]
    pub fn usage(&self) -> Option<Usage> {
        self.inner.usage.get().map(|probe| probe())
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
    fn emit(&self, kind: impl FnOnce(ChildId, u64) -> EventKind) {
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
            seq: self.inner.seq,
            generation: self.inner.generation,
            exit,
        });
    }

    pub(crate) fn links(&self) -> &Arc<TreeLinks> {
        &self.inner.links
    }

    /// Publishes a value for the supervisor (only the first is kept): a
    /// nested supervisor's handle, for its parent.
    pub(crate) fn attach<T: Any + Send + Sync>(&self, value: T) {
        let _ = self.inner.attachment.set(Box::new(value));
    }

    /// The value published with [`attach`](Self::attach), if it is a `T`.
    pub(crate) fn attached<T: Any>(&self) -> Option<&T> {
        self.inner.attachment.get()?.downcast_ref()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("id", &self.inner.id)
            .field("generation", &self.inner.generation)
            .field("cancelled", &self.is_cancelled())
            .field("ready", &self.is_ready())
            .finish()
    }
}
