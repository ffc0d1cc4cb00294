//! How an incarnation ended, as typed facts: what happened ([`ExitKind`]),
//! what that means for restarts ([`ExitClass`]), the process's exit code or
//! signal, and a reason for people. Nobody has to parse a string.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use tend_spec::ExitClass;
use tend_spec::{Backend, Signal};

/// What ended an incarnation.
///
/// Its [`class`](ExitKind::class) is what restart types read; the kind says
/// more. A kind that follows a stop request is recorded with class
/// `Shutdown` whatever it would be otherwise (see [`Exit::class`]).
///
/// # Examples
///
/// ```
/// use tend_engine::{ExitClass, ExitKind, GiveUp, Resource};
///
/// assert_eq!(ExitKind::Panic.class(), ExitClass::Abnormal);
/// assert_eq!(ExitKind::GaveUp(GiveUp::IntensityReached).class(), ExitClass::Shutdown);
/// assert_eq!(ExitKind::ResourceExceeded(Resource::Memory).to_string(), "resource exceeded (memory)");
/// assert_eq!(ExitKind::StartFailure.as_str(), "start-failure");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitKind {
    /// The work completed: a task returned `Ok`, a process exited 0 or with
    /// a success code.
    Normal,
    /// It stopped because it was asked to (by its supervisor, an operator,
    /// or itself returning [`Exit::shutdown`]).
    Shutdown,
    /// It failed: a task returned `Err`, a process exited with another code.
    Error,
    /// A task panicked.
    Panic,
    /// It was killed: a process by a signal nobody in the tree sent (a
    /// crash, the OOM killer), a task aborted, or any child after
    /// [`kill_child`](crate::SupervisorHandle::kill_child) or past its stop
    /// timeout.
    Killed,
    /// It ended (or timed out) before it was ready: it never started.
    StartFailure,
    /// Its backend cannot run here; retrying will not help.
    NotAvailable(Backend),
    /// It reached one of its resource limits and was stopped.
    ResourceExceeded(Resource),
    /// Its health check failed past the threshold and it was stopped.
    Unhealthy,
    /// It missed its watchdog's keep-alive (it hung) and was stopped.
    Watchdog,
    /// A child it was linked to ended, and it does not trap exits: it was
    /// stopped with the same class.
    Linked,
    /// A supervisor gave up: its exit, as its parent sees it.
    GaveUp(GiveUp),
    /// A supervisor shut itself down because its significant children
    /// ended (auto-shutdown).
    AutoShutdown,
}

impl ExitKind {
    /// The class an exit of this kind has when nothing asked it to stop.
    #[must_use]
    pub const fn class(self) -> ExitClass {
        match self {
            ExitKind::Normal => ExitClass::Normal,
            ExitKind::Shutdown | ExitKind::GaveUp(_) | ExitKind::AutoShutdown => {
                ExitClass::Shutdown
            }
            ExitKind::Error
            | ExitKind::Panic
            | ExitKind::Killed
            | ExitKind::StartFailure
            | ExitKind::NotAvailable(_)
            | ExitKind::ResourceExceeded(_)
            | ExitKind::Unhealthy
            | ExitKind::Watchdog
            | ExitKind::Linked => ExitClass::Abnormal,
        }
    }

    /// A stable kebab-case name, for logs, metrics and APIs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ExitKind::Normal => "normal",
            ExitKind::Shutdown => "shutdown",
            ExitKind::Error => "error",
            ExitKind::Panic => "panic",
            ExitKind::Killed => "killed",
            ExitKind::StartFailure => "start-failure",
            ExitKind::NotAvailable(_) => "not-available",
            ExitKind::ResourceExceeded(_) => "resource-exceeded",
            ExitKind::Unhealthy => "unhealthy",
            ExitKind::Watchdog => "watchdog",
            ExitKind::Linked => "linked",
            ExitKind::GaveUp(_) => "gave-up",
            ExitKind::AutoShutdown => "auto-shutdown",
        }
    }
}

impl fmt::Display for ExitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitKind::StartFailure => f.write_str("start failure"),
            ExitKind::NotAvailable(backend) => write!(f, "not available ({backend})"),
            ExitKind::ResourceExceeded(resource) => write!(f, "resource exceeded ({resource})"),
            ExitKind::Watchdog => f.write_str("watchdog timeout"),
            ExitKind::Linked => f.write_str("linked exit"),
            ExitKind::GaveUp(why) => write!(f, "gave up ({why})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// Why a supervisor gave up: it stops all its children and exits, and its
/// parent treats that exit by the nested supervisor's restart type.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_engine::{ChildSpec, Context, ExitKind, GiveUp, Intensity, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .intensity(Intensity::new(0, Duration::from_secs(5))) // no restart allowed
///     .child(ChildSpec::task("bad", |_ctx: Context| async { Err::<(), _>("boom") }))
///     .start()
///     .await
///     .unwrap();
/// let exit = sup.wait().await;
/// assert_eq!(exit.kind(), ExitKind::GaveUp(GiveUp::IntensityReached));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUp {
    /// More restarts than its intensity allows within the period (OTP's
    /// `reached_max_restart_intensity`).
    IntensityReached,
    /// A child's own restart budget ran out with `OnExhausted::Escalate`.
    BudgetExhausted,
}

impl GiveUp {
    /// A stable kebab-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUp::IntensityReached => "intensity-reached",
            GiveUp::BudgetExhausted => "budget-exhausted",
        }
    }
}

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GiveUp::IntensityReached => "restart intensity reached",
            GiveUp::BudgetExhausted => "a child's restart budget ran out",
        })
    }
}

/// A resource a child uses, with a limit that warns at 80 % and stops the
/// child at 100 %.
///
/// Units: `Memory` bytes; `Cpu` millicores (a rate, for processes);
/// `CpuTime` microseconds of busy time (for tasks, measured around their
/// polls); `Pids` processes and threads; counters as charged with
/// [`Context::charge`](crate::Context::charge).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, Resource};
///
/// let spec = ChildSpec::task("consumer", |ctx: Context| async move {
///     ctx.charge(Resource::Messages, 1);
///     ctx.cancelled().await
/// })
/// .limit(Resource::Messages, 10_000)
/// .limit(Resource::Named("retries"), 3);
/// assert_eq!(Resource::CpuTime.as_str(), "cpu-time");
/// # let _ = spec;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// Memory in bytes.
    Memory,
    /// CPU rate in millicores (a process's CPU limit).
    Cpu,
    /// CPU busy time in microseconds (a task's CPU limit).
    CpuTime,
    /// Processes and threads.
    Pids,
    /// Messages handled, as the task counts them.
    Messages,
    /// Calls made or served, as the task counts them.
    Calls,
    /// Any other counter the task charges, by name.
    Named(&'static str),
}

impl Resource {
    /// A stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Memory => "memory",
            Resource::Cpu => "cpu",
            Resource::CpuTime => "cpu-time",
            Resource::Pids => "pids",
            Resource::Messages => "messages",
            Resource::Calls => "calls",
            Resource::Named(name) => name,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a process ended, when one did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Status {
    Code(i32),
    Signal(Signal),
}

/// How one incarnation of a child ended: its [`ExitKind`], its
/// [`ExitClass`], the process's exit code or signal (backends that run
/// processes set them), and a reason for people.
///
/// The class drives the restart decision ([`Restart`](crate::Restart)); the
/// kind, code and signal say what happened; the reason is prose.
///
/// # Examples
///
/// ```
/// use tend_engine::{Exit, ExitClass, ExitKind, Signal};
///
/// let e = Exit::failed("connection refused");
/// assert_eq!((e.kind(), e.class()), (ExitKind::Error, ExitClass::Abnormal));
/// assert_eq!(e.reason(), Some("connection refused"));
/// assert_eq!(e.to_string(), "error: connection refused");
///
/// let crashed = Exit::from(ExitKind::Killed).with_signal(Signal::Segv);
/// assert_eq!(crashed.signal(), Some(Signal::Segv));
/// assert_eq!(crashed.to_string(), "killed by SIGSEGV");
///
/// let code = Exit::from(ExitKind::Error).with_code(3);
/// assert_eq!((code.code(), code.to_string()), (Some(3), "error (exit code 3)".to_string()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    kind: ExitKind,
    class: ExitClass,
    status: Option<Status>,
    /// How long after it happened it was seen, in milliseconds (in the
    /// padding: an `Exit` stays 32 bytes).
    late_ms: u32,
    reason: Option<Arc<str>>,
}

impl Exit {
    /// The work completed (OTP's `normal`).
    #[must_use]
    pub const fn normal() -> Self {
        Exit::of(ExitKind::Normal)
    }

    /// An exit of `kind` (with its natural class) and a reason.
    #[must_use]
    pub fn new(kind: ExitKind, reason: impl fmt::Display) -> Self {
        Exit::of(kind).with_reason(reason)
    }

    /// Stopped on request, with a reason (OTP's `{shutdown, Term}`). A
    /// transient child that exits this way is not restarted.
    #[must_use]
    pub fn shutdown(reason: impl fmt::Display) -> Self {
        Exit::new(ExitKind::Shutdown, reason)
    }

    /// Failed ([`ExitKind::Error`]), with a reason.
    #[must_use]
    pub fn failed(reason: impl fmt::Display) -> Self {
        Exit::new(ExitKind::Error, reason)
    }

    const fn of(kind: ExitKind) -> Self {
        Exit {
            kind,
            class: kind.class(),
            status: None,
            late_ms: 0,
            reason: None,
        }
    }

    /// The same exit with this reason.
    #[must_use]
    pub fn with_reason(mut self, reason: impl fmt::Display) -> Self {
        self.reason = Some(reason.to_string().into());
        self
    }

    /// The same exit, from a process that exited with `code`.
    #[must_use]
    pub fn with_code(mut self, code: i32) -> Self {
        self.status = Some(Status::Code(code));
        self
    }

    /// The same exit, from a process that a signal ended.
    #[must_use]
    pub fn with_signal(mut self, signal: Signal) -> Self {
        self.status = Some(Status::Signal(signal));
        self
    }

    /// The same exit, seen `by` after it happened: a process that ended
    /// while its supervisor was down, its end recorded by another (tend's
    /// keeper). The engine dates the end back by as much: its history, its
    /// event (and so the journal's row) and how long it ran.
    #[must_use]
    pub fn seen_late(mut self, by: Duration) -> Self {
        self.late_ms = u32::try_from(by.as_millis()).unwrap_or(u32::MAX);
        self
    }

    /// How long after it happened the exit was seen ([`Exit::seen_late`];
    /// zero for one seen as it happened).
    #[must_use]
    pub fn lateness(&self) -> Duration {
        Duration::from_millis(u64::from(self.late_ms))
    }

    /// What happened.
    #[must_use]
    pub fn kind(&self) -> ExitKind {
        self.kind
    }

    /// What it means for restarts: the kind's class, except that any end
    /// that follows a stop request is `Shutdown`, and a kill through
    /// [`kill_child`](crate::SupervisorHandle::kill_child) is `Abnormal`.
    #[must_use]
    pub fn class(&self) -> ExitClass {
        self.class
    }

    /// The process's exit code, if it exited by itself.
    #[must_use]
    pub fn code(&self) -> Option<i32> {
        match self.status {
            Some(Status::Code(code)) => Some(code),
            _ => None,
        }
    }

    /// The signal that ended the process, if one did.
    #[must_use]
    pub fn signal(&self) -> Option<Signal> {
        match self.status {
            Some(Status::Signal(signal)) => Some(signal),
            _ => None,
        }
    }

    /// The reason given, if any: prose for people, never to be parsed.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Whether the class is [`ExitClass::Normal`].
    #[must_use]
    pub fn is_normal(&self) -> bool {
        self.class == ExitClass::Normal
    }

    /// Whether the class is [`ExitClass::Abnormal`].
    #[must_use]
    pub fn is_abnormal(&self) -> bool {
        self.class == ExitClass::Abnormal
    }

    /// The same exit with another class (a linked exit takes its peer's).
    pub(crate) fn with_class(mut self, class: ExitClass) -> Self {
        self.class = class;
        self
    }

    /// The same exit with another kind (and that kind's class).
    pub(crate) fn with_kind(mut self, kind: ExitKind) -> Self {
        self.kind = kind;
        self.class = kind.class();
        self
    }

    /// An end that follows a stop request: class `Shutdown`, and kind
    /// `Shutdown` unless the stop had to be forced (`Killed` by the engine's
    /// abort, which leaves no status, or by `SIGKILL`, which nothing can
    /// handle). Code, signal and reason are kept.
    pub(crate) fn into_shutdown(mut self) -> Self {
        let forced = self.kind == ExitKind::Killed
            && matches!(self.status, None | Some(Status::Signal(Signal::Kill)));
        if !forced {
            self.kind = ExitKind::Shutdown;
        }
        self.class = ExitClass::Shutdown;
        self
    }

    /// An end before readiness: a start failure (or, when the backend is
    /// missing, that), with what the incarnation said kept.
    pub(crate) fn into_start_failure(self) -> Self {
        match self.kind {
            ExitKind::NotAvailable(_) => self,
            _ => self.with_kind(ExitKind::StartFailure),
        }
    }

    /// A plain shutdown, as when a supervisor is stopped on request.
    pub(crate) const fn requested() -> Self {
        Exit::of(ExitKind::Shutdown)
    }

    /// The end of an incarnation the engine had to abort while stopping it.
    pub(crate) const fn killed() -> Self {
        Exit {
            kind: ExitKind::Killed,
            class: ExitClass::Shutdown,
            status: None,
            late_ms: 0,
            reason: None,
        }
    }
}

impl From<ExitKind> for Exit {
    fn from(kind: ExitKind) -> Self {
        Exit::of(kind)
    }
}

/// `kind`, then the process status, then the reason: `error (exit code 3)`,
/// `killed by SIGSEGV`, `shutdown (SIGTERM)`, `error: connection refused`.
impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.status) {
            (ExitKind::Killed, Some(Status::Signal(signal))) => write!(f, "killed by {signal}")?,
            (kind, Some(Status::Code(code))) => write!(f, "{kind} (exit code {code})")?,
            (kind, Some(Status::Signal(signal))) => write!(f, "{kind} ({signal})")?,
            (kind, None) => write!(f, "{kind}")?,
        }
        match &self.reason {
            Some(reason) => write!(f, ": {reason}"),
            None => Ok(()),
        }
    }
}

/// What a task's future may return: `()`, `Result<(), E>` with any
/// displayable `E`, an [`Exit`], or a `Result` of any of these.
///
/// `()` and `Ok(())` are normal exits; `Err(e)` is an [`ExitKind::Error`]
/// with `e` as reason.
///
/// # Examples
///
/// ```
/// use tend_engine::{Exit, ExitClass, IntoExit};
///
/// assert_eq!(().into_exit().class(), ExitClass::Normal);
/// let r: Result<(), std::io::Error> = Err(std::io::Error::other("disk full"));
/// assert_eq!(r.into_exit(), Exit::failed("disk full"));
/// ```
pub trait IntoExit {
    /// Converts the output of a task into an [`Exit`].
    fn into_exit(self) -> Exit;
}

impl IntoExit for () {
    fn into_exit(self) -> Exit {
        Exit::normal()
    }
}

impl IntoExit for Exit {
    fn into_exit(self) -> Exit {
        self
    }
}

impl<T: IntoExit, E: fmt::Display> IntoExit for Result<T, E> {
    fn into_exit(self) -> Exit {
        match self {
            Ok(value) => value.into_exit(),
            Err(error) => Exit::failed(error),
        }
    }
}
