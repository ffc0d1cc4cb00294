//! How an incarnation ended, and how a task's output becomes that.

use std::fmt;
use std::sync::Arc;

pub use tend_spec::ExitClass;

/// How one incarnation of a child ended: an [`ExitClass`] and a reason.
///
/// The class drives the restart decision ([`Restart`](crate::Restart)); the
/// reason is for people (events, history, logs).
///
/// # Examples
///
/// ```
/// use tend::{Exit, ExitClass};
///
/// assert_eq!(Exit::normal().class(), ExitClass::Normal);
/// let e = Exit::failed("connection refused");
/// assert_eq!(e.class(), ExitClass::Abnormal);
/// assert_eq!(e.reason(), "connection refused");
/// assert_eq!(Exit::shutdown("maintenance").to_string(), "shutdown: maintenance");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    class: ExitClass,
    reason: Option<Arc<str>>,
}

impl Exit {
    /// The work completed (OTP's `normal`).
    #[must_use]
    pub const fn normal() -> Self {
        Exit {
            class: ExitClass::Normal,
            reason: None,
        }
    }

    /// An exit of any class with a reason, e.g. a process that exited with a
    /// configured success code: `Exit::new(ExitClass::Normal, "exited with code 3")`.
    #[must_use]
    pub fn new(class: ExitClass, reason: impl fmt::Display) -> Self {
        Exit {
            class,
            reason: Some(reason.to_string().into()),
        }
    }

    /// Stopped on request, with a reason (OTP's `{shutdown, Term}`). A
    /// transient child that exits this way is not restarted.
    #[must_use]
    pub fn shutdown(reason: impl fmt::Display) -> Self {
        Exit {
            class: ExitClass::Shutdown,
            reason: Some(reason.to_string().into()),
        }
    }

    /// Failed, with a reason.
    #[must_use]
    pub fn failed(reason: impl fmt::Display) -> Self {
        Exit {
            class: ExitClass::Abnormal,
            reason: Some(reason.to_string().into()),
        }
    }

    /// The class the restart decision reads.
    #[must_use]
    pub fn class(&self) -> ExitClass {
        self.class
    }

    /// The reason given, or the class name when none was.
    #[must_use]
    pub fn reason(&self) -> &str {
        self.reason.as_deref().unwrap_or(self.class.as_str())
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

    /// The same reason, reclassified as a shutdown: an incarnation that ends
    /// after its supervisor asked it to stop ended because of that request.
    pub(crate) fn into_shutdown(self) -> Self {
        Exit {
            class: ExitClass::Shutdown,
            reason: self.reason,
        }
    }

    /// A plain shutdown, as when a supervisor is stopped on request.
    pub(crate) const fn requested() -> Self {
        Exit {
            class: ExitClass::Shutdown,
            reason: None,
        }
    }

    /// The exit recorded when the engine had to kill an incarnation.
    pub(crate) fn killed() -> Self {
        Exit::shutdown("killed")
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Some(reason) => write!(f, "{}: {}", self.class, reason),
            None => write!(f, "{}", self.class),
        }
    }
}

/// What a task's future may return: `()`, `Result<(), E>` with any
/// displayable `E`, an [`Exit`], or a `Result` of any of these.
///
/// `()` and `Ok(())` are normal exits; `Err(e)` is abnormal with `e` as reason.
///
/// # Examples
///
/// ```
/// use tend::{Exit, ExitClass, IntoExit};
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
