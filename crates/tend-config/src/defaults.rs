//! The defaults of a process supervisor, in one place ([tend's config
//! reference](https://github.com/tend-rs/tend#config-reference) lists them,
//! with why they differ from OTP's).

use std::time::Duration;

use tend_spec::{Backoff, Intensity, Restart, StartLimit, Strategy};

use crate::model::SupervisorSettings;

/// Restarts allowed across a supervisor before it gives up: 100 in 60 s.
///
/// OTP's default, 1 in 5 s, suits actors that restart in microseconds and
/// whose supervisor's parent retries the whole subtree. Processes restart
/// in milliseconds to seconds, each service is slowed by its own backoff,
/// and giving up stops every service of the machine: so the root gives up
/// only when many services crash at once, not when one is flaky.
#[must_use]
pub fn intensity() -> Intensity {
    Intensity::new(100, Duration::from_secs(60))
}

/// The root supervisor: one-for-one (services are independent unless
/// grouped), [`intensity`], 30 s for a whole shutdown.
#[must_use]
pub fn supervisor() -> SupervisorSettings {
    SupervisorSettings {
        strategy: Strategy::OneForOne,
        intensity: intensity(),
        shutdown_timeout: Duration::from_secs(30),
    }
}

/// A service is restarted after every exit (`always`), as systemd's
/// `Restart=always` and OTP's `permanent`.
pub const RESTART: Restart = Restart::Permanent;

/// The delay before a restart: 100 ms, doubling to 30 s, ±10 % jitter,
/// back to 100 ms after 60 s of running; 100 ms after a clean exit (a
/// service that exits 0 on purpose is not failing). OTP restarts at once; a
/// process that fails at start (a port in use, a database not up) would
/// then spin.
#[must_use]
pub fn backoff() -> Backoff {
    Backoff::exponential(Duration::from_millis(100), Duration::from_secs(30))
        .jitter(0.1)
        .reset_after(Duration::from_secs(60))
}

/// A service whose starts keep failing is given up on (`failed (start
/// limit)`) after 5 failed starts within 60 s; an operator's start tries
/// again. OTP has none (its intensity ends the supervisor instead), systemd
/// allows 5 starts within 10 s. tend's [`backoff`] already spaces restarts,
/// so the count is of *failed* starts and the window is longer: the first 5
/// failures come within about 1.5 s (0.1 + 0.2 + 0.4 + 0.8 s of backoff),
/// which 10 s would catch too, but 60 s also catches a start that fails
/// slowly, after a few seconds of waiting for readiness each time. A
/// failed start is one that could not spawn, ended before it was ready, or
/// ended abnormally within 1 s ([`StartLimit::SETTLE`]); a service that ran
/// longer and crashed is restarted as before.
#[must_use]
pub fn start_limit() -> StartLimit {
    StartLimit::new(5, Duration::from_secs(60))
}

/// A budget's default window.
pub const BUDGET_PERIOD: Duration = Duration::from_secs(60);

/// How long `crash-loop-backoff` waits by default.
pub const CRASH_LOOP_DELAY: Duration = Duration::from_secs(60);

/// Log files rotate past 10 MB.
pub const LOG_MAX_SIZE: u64 = 10_000_000;

/// Rotated log files kept.
pub const LOG_KEEP: u32 = 5;
