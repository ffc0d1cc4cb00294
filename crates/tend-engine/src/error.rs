//! Typed errors of the engine: one enum per kind of call.

use tend_spec::{NotAvailable, SpecError};

use crate::exit::{Exit, ExitKind};
use crate::id::ChildId;

/// A child spec that breaks a rule, with the child it belongs to.
///
/// # Examples
///
/// ```
/// use tend_engine::{check_childspecs, AutoShutdown, ChildSpec, Context};
///
/// let specs = [ChildSpec::task("", |_ctx: Context| async {})];
/// let errors = check_childspecs(&specs, AutoShutdown::Never).unwrap_err();
/// assert_eq!(errors[0].id, "");
/// assert!(errors[0].to_string().contains("empty"), "{}", errors[0]);
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("child {id:?}: {error}")]
pub struct ChildSpecError {
    /// The child (empty for supervisor-level rules).
    pub id: String,
    /// The rule broken.
    pub error: SpecError,
}

/// Why [`SupervisorBuilder::start`](crate::SupervisorBuilder::start) failed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_engine::{ChildSpec, Context, StartError, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let err = Supervisor::builder("app")
///     .child(
///         ChildSpec::task("db", |_ctx: Context| async { Err::<(), _>("connection refused") })
///             .await_ready(Duration::from_secs(5)),
///     )
///     .start()
///     .await
///     .unwrap_err();
/// assert!(matches!(err, StartError::ChildFailed { ref id, .. } if id.as_str() == "db"));
/// assert_eq!(err.to_string(), "failed to start child db: start failure: connection refused");
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The specs break rules; every problem found is listed.
    #[error("invalid supervisor spec: {}", join(.0))]
    InvalidSpec(Vec<ChildSpecError>),
    /// More initial children than `max_children` allows.
    #[error("{count} children exceed max_children = {max}")]
    TooManyChildren {
        /// The number of children given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A child failed to start; the children started before it were stopped
    /// again (OTP's `{shutdown, {failed_to_start_child, Id, Reason}}`).
    #[error("failed to start child {id}: {exit}")]
    ChildFailed {
        /// The child that failed.
        id: ChildId,
        /// Why.
        exit: Exit,
    },
    /// A child's backend cannot run here; the children started before it
    /// were stopped again.
    #[error("cannot start child {id}: {error}")]
    NotAvailable {
        /// The child.
        id: ChildId,
        /// Which backend, and why.
        #[source]
        error: NotAvailable,
    },
    /// The runtime dropped the supervisor before it finished starting.
    #[error("the supervisor ended before it finished starting")]
    Aborted,
}

impl StartError {
    /// The error for a child whose start failed with `exit`.
    pub(crate) fn child_failed(id: ChildId, exit: Exit) -> Self {
        match not_available(&exit) {
            Some(error) => StartError::NotAvailable { id, error },
            None => StartError::ChildFailed { id, exit },
        }
    }
}

impl ControlError {
    /// The error for a child whose start failed with `exit`.
    pub(crate) fn start_failed(id: ChildId, exit: Exit) -> Self {
        match not_available(&exit) {
            Some(error) => ControlError::NotAvailable { id, error },
            None => ControlError::StartFailed { id, exit },
        }
    }
}

/// The typed error an exit of kind `NotAvailable` stands for.
fn not_available(exit: &Exit) -> Option<NotAvailable> {
    match exit.kind() {
        ExitKind::NotAvailable(backend) => Some(NotAvailable::new(
            backend,
            exit.reason().unwrap_or_default(),
        )),
        _ => None,
    }
}

fn join(errors: &[ChildSpecError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a call on a [`SupervisorHandle`](crate::SupervisorHandle) failed. The
/// first five variants are OTP's answers to the same calls.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, ControlError, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("w", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// assert_eq!(sup.terminate_child("nope").await, Err(ControlError::NotFound("nope".into())));
/// assert_eq!(sup.delete_child("w").await, Err(ControlError::Running("w".into())));
/// sup.shutdown().await;
/// assert_eq!(sup.count_children().await.specs, 0);
/// assert_eq!(sup.terminate_child("w").await, Err(ControlError::SupervisorGone));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No child has this id.
    #[error("no child {0}")]
    NotFound(ChildId),
    /// `start_child` with the id of a running child.
    #[error("child {0} is already started")]
    AlreadyStarted(ChildId),
    /// `start_child` with the id of a kept, stopped child spec.
    #[error("child {0} is already present (stopped); restart or delete it")]
    AlreadyPresent(ChildId),
    /// `delete_child` or `restart_child` of a running child.
    #[error("child {0} is running")]
    Running(ChildId),
    /// `delete_child` or `restart_child` of a child whose restart is pending.
    #[error("child {0} is restarting")]
    Restarting(ChildId),
    /// `monitor` of a child with nothing running and no restart pending.
    #[error("child {0} is not running")]
    NotRunning(ChildId),
    /// `signal_child`: its incarnation takes no signals (a task), or the
    /// signal could not be sent.
    #[error("cannot signal child {id}: {reason}")]
    Signal {
        /// The child.
        id: ChildId,
        /// Why.
        reason: String,
    },
    /// `start_child` beyond `max_children`.
    #[error("the supervisor already has max_children = {max} children")]
    MaxChildren {
        /// The limit.
        max: usize,
    },
    /// `start_child` with a spec that breaks a rule.
    #[error("invalid child spec: {0}")]
    InvalidSpec(ChildSpecError),
    /// `start_child` or `restart_child` whose incarnation failed to start.
    #[error("child {id} failed to start: {exit}")]
    StartFailed {
        /// The child.
        id: ChildId,
        /// Why.
        exit: Exit,
    },
    /// `start_child` or `restart_child` of a child whose backend cannot run
    /// here.
    #[error("cannot start child {id}: {error}")]
    NotAvailable {
        /// The child.
        id: ChildId,
        /// Which backend, and why.
        #[source]
        error: NotAvailable,
    },
    /// The child is not a supervisor (or its supervisor is not running).
    #[error("child {0} is not a running supervisor")]
    NotASupervisor(ChildId),
    /// The supervisor has ended.
    #[error("the supervisor has ended")]
    SupervisorGone,
}
