//! Where a child is and why it rests there: its [`State`], why it
//! [failed](FailReason) or was [isolated](IsolateCause), and which of its
//! [probes](ProbeRole) a result is about.

vocabulary! {
    /// Where a service instance (a child) is in its life.
    ///
    /// The states at rest say why it rests: `completed` (ended normally,
    /// not restarted), `shutdown` (stopped on request), `failed` (with a
    /// [`FailReason`](crate::FailReason) beside it) and `isolated`. Its
    /// wording is its name on the wire.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_wire::State;
    ///
    /// let state: State = serde_json::from_str("\"crash_loop_back_off\"").unwrap();
    /// assert_eq!(state, State::CrashLoopBackOff);
    /// assert_eq!(state.to_string(), "crash_loop_back_off");
    /// assert_eq!(State::ALL.len(), 11);
    /// ```
    pub enum State {
        /// Waiting for its first start.
        Pending => "pending",
        /// Being started (not yet ready, when it has a readiness condition).
        Starting => "starting",
        /// Running.
        Running => "running",
        /// Being stopped.
        Stopping => "stopping",
        /// Waiting out a backoff delay before a restart.
        BackingOff => "backing_off",
        /// Its restart budget ran out; waiting a long delay.
        CrashLoopBackOff => "crash_loop_back_off",
        /// Being restarted.
        Restarting => "restarting",
        /// Ended normally and not restarted.
        Completed => "completed",
        /// Stopped on request.
        Shutdown => "shutdown",
        /// Given up on until restarted by hand.
        Failed => "failed",
        /// Kept for inspection, not restarted.
        Isolated => "isolated",
    }
}

vocabulary! {
    /// Why a child is [`Failed`](State::Failed).
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_wire::FailReason;
    ///
    /// let reason: FailReason = serde_json::from_str("\"circuit_breaker_open\"").unwrap();
    /// assert_eq!(reason.to_string(), "circuit breaker open");
    /// // What older versions wrote still reads.
    /// let old: FailReason = serde_json::from_str("\"circuit-breaker-open\"").unwrap();
    /// assert_eq!(old, reason);
    /// ```
    pub enum FailReason {
        /// It exited abnormally and nothing restarted it (its crash policy
        /// is `shutdown`, or its supervisor gave up).
        Crashed => "crashed",
        /// It was stopped for reaching a resource limit, and not restarted.
        #[serde(alias = "resource-exceeded")]
        ResourceExceeded => "resource exceeded",
        /// Its health check or watchdog failed, and it was not restarted.
        Unhealthy => "unhealthy",
        /// It was stopped because a child it was linked to ended.
        Linked => "linked exit",
        /// Its last start failed and is not retried.
        #[serde(alias = "start-failed")]
        StartFailed => "start failed",
        /// Its backend cannot run here.
        #[serde(alias = "not-available")]
        NotAvailable => "backend not available",
        /// Its restart budget ran out with `on_exhausted = "stop"`.
        #[serde(alias = "circuit-breaker-open")]
        CircuitBreakerOpen => "circuit breaker open",
        /// It is a supervisor that gave up and was not restarted.
        #[serde(alias = "gave-up")]
        GaveUp => "gave up",
        /// Its starts kept failing: it reached its start limit
        /// (`start_limit`), and is not started again until an operator
        /// starts it.
        StartLimit => "start limit",
        /// It waited on a sibling that can no longer meet its condition.
        #[serde(alias = "dependency-failed")]
        DependencyFailed => "dependency failed",
    }
}

vocabulary! {
    /// Why a child was [`Isolated`](State::Isolated).
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_wire::IsolateCause;
    ///
    /// assert_eq!(IsolateCause::BudgetExhausted.to_string(), "restart budget exhausted");
    /// assert_eq!(serde_json::to_string(&IsolateCause::CrashPolicy).unwrap(), "\"crash_policy\"");
    /// ```
    pub enum IsolateCause {
        /// It crashed and its crash policy is `isolate`.
        #[serde(alias = "crash policy")]
        CrashPolicy => "crash policy",
        /// Its restart budget ran out with `on_exhausted = "isolate"`.
        #[serde(alias = "restart budget exhausted")]
        BudgetExhausted => "restart budget exhausted",
        /// Its liveness probe or watchdog failed under `on_unhealthy =
        /// "isolate"`: it keeps running.
        Unhealthy => "unhealthy",
    }
}

vocabulary! {
    /// Which of a child's probes (Kubernetes' three) a result is about.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_wire::ProbeRole;
    ///
    /// assert_eq!(ProbeRole::Liveness.to_string(), "liveness");
    /// ```
    pub enum ProbeRole {
        /// Checked from the start until it passes.
        Startup => "startup",
        /// Makes the child ready and not ready.
        Readiness => "readiness",
        /// Its failure stops (or isolates) the child.
        Liveness => "liveness",
    }
}
