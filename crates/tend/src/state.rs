//! Where a child is in its life, and what kind of child it is: the values
//! every layer above shows (status, events, metrics), kept in a low module
//! so that none of them depends on the supervisor.

/// Where a child is in its life, as shown by
/// [`which_children`](crate::SupervisorHandle::which_children).
///
/// # Examples
///
/// ```
/// use tend::ChildState;
///
/// assert!(ChildState::Running.is_active());
/// assert!(!ChildState::BackingOff.is_active());
/// assert_eq!(ChildState::CrashLoopBackOff.to_string(), "crash-loop-backoff");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildState {
    /// An incarnation was spawned and has not yet been confirmed started
    /// (ready, when the spec awaits readiness).
    Starting,
    /// An incarnation is running.
    Running,
    /// Waiting out a backoff delay before a restart.
    BackingOff,
    /// Waiting out a crash-loop delay after its restart budget ran out.
    CrashLoopBackOff,
    /// A restart is due: queued behind a sibling's, or retrying a failed start.
    Restarting,
    /// Asked to stop; waiting for the incarnation to end.
    Stopping,
    /// The spec is kept and nothing runs (OTP's `undefined` pid): it
    /// completed, or was stopped on request.
    Stopped,
    /// Its restart budget ran out with `OnExhausted::Stop` (circuit breaker
    /// open). It stays failed until restarted through the API.
    Failed,
    /// Its restart budget ran out with `OnExhausted::Isolate`: kept for
    /// inspection and not restarted until restarted through the API.
    Isolated,
}

impl ChildState {
    /// Whether an incarnation exists (starting, running or stopping).
    #[must_use]
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ChildState::Starting | ChildState::Running | ChildState::Stopping
        )
    }

    /// Whether a restart is pending (OTP's `restarting` pid).
    #[must_use]
    pub fn is_restarting(self) -> bool {
        matches!(
            self,
            ChildState::BackingOff | ChildState::CrashLoopBackOff | ChildState::Restarting
        )
    }

    /// A short kebab-case name, as shown to operators.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ChildState::Starting => "starting",
            ChildState::Running => "running",
            ChildState::BackingOff => "backing-off",
            ChildState::CrashLoopBackOff => "crash-loop-backoff",
            ChildState::Restarting => "restarting",
            ChildState::Stopping => "stopping",
            ChildState::Stopped => "stopped",
            ChildState::Failed => "failed",
            ChildState::Isolated => "isolated",
        }
    }
}

impl std::fmt::Display for ChildState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a child is a worker or a nested supervisor (OTP's `child_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildKind {
    /// A task (or, with a backend, a process).
    Worker,
    /// A nested supervisor.
    Supervisor,
}
