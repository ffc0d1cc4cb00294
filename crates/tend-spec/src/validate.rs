//! One small check per rule, each returning a tagged [`SpecError`] (as OTP's
//! `validRestartType`, `validSignificant`, …). Callers collect them; nothing
//! here stops at the first problem on behalf of the caller.

use std::time::Duration;

use crate::{AutoShutdown, Backoff, Intensity, Restart, RestartBudget, StartLimit};

/// A rule a spec breaks. Each variant names the situation, as OTP's
/// `{bad_combination, …}` tuples do.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::{check_intensity, Intensity, SpecError};
///
/// let never = Intensity::new(1, Duration::ZERO);
/// assert_eq!(check_intensity(&never), Err(SpecError::ZeroPeriod));
/// assert_eq!(
///     SpecError::ZeroPeriod.to_string(),
///     "intensity period must be longer than zero"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The intensity period is zero (OTP requires a positive period).
    #[error("intensity period must be longer than zero")]
    ZeroPeriod,
    /// A significant child must not be permanent: it would never end on its own.
    #[error("a significant child cannot be permanent (significant + restart = permanent)")]
    SignificantPermanent,
    /// Significant children need an auto-shutdown mode to mean anything.
    #[error("a significant child needs auto_shutdown other than never (significant + auto_shutdown = never)")]
    SignificantWithoutAutoShutdown,
    /// Backoff's initial delay is longer than its maximum.
    #[error("backoff initial delay {initial:?} is longer than its maximum {max:?}")]
    BackoffInitialAboveMax {
        /// The initial delay.
        initial: Duration,
        /// The maximum delay.
        max: Duration,
    },
    /// Backoff's multiplier is below 1 or not a number.
    #[error("backoff multiplier must be a number of at least 1, got {0}")]
    BackoffMultiplier(f64),
    /// Backoff's jitter is outside `0.0..=1.0`.
    #[error("backoff jitter must be between 0.0 and 1.0, got {0}")]
    BackoffJitter(f64),
    /// A restart budget's window is zero.
    #[error("restart budget window must be longer than zero")]
    ZeroBudgetWindow,
    /// A start limit allows no failed start at all.
    #[error("start limit burst must be at least 1")]
    ZeroStartLimitBurst,
    /// A start limit's interval is zero.
    #[error("start limit interval must be longer than zero")]
    ZeroStartLimitInterval,
    /// Two children share an id.
    #[error("duplicate child id {0:?}")]
    DuplicateId(String),
    /// A child id is empty.
    #[error("child id must not be empty")]
    EmptyId,
    /// A child depends on a sibling that does not exist.
    #[error("{child:?} depends on {name:?}, which is not one of its siblings")]
    UnknownDependency {
        /// The dependent.
        child: String,
        /// The name it gave.
        name: String,
    },
    /// Children depend on each other in a cycle (its members in order, the
    /// first repeated at the end).
    #[error("dependency cycle: {}", .0.join(" → "))]
    DependencyCycle(Vec<String>),
}

/// Checks a supervisor's restart intensity.
///
/// # Errors
/// [`SpecError::ZeroPeriod`] when the period is zero.
pub fn check_intensity(intensity: &Intensity) -> Result<(), SpecError> {
    if intensity.period.is_zero() {
        return Err(SpecError::ZeroPeriod);
    }
    Ok(())
}

/// Checks the `significant` flag against the restart type and the
/// supervisor's auto-shutdown mode (OTP's `validSignificant`: the
/// auto-shutdown combination is reported first, as OTP does).
///
/// # Errors
/// [`SpecError::SignificantWithoutAutoShutdown`] or
/// [`SpecError::SignificantPermanent`].
///
/// # Examples
///
/// ```
/// use tend_spec::{check_significant, AutoShutdown, Restart, SpecError};
///
/// assert_eq!(
///     check_significant(true, Restart::Permanent, AutoShutdown::AnySignificant),
///     Err(SpecError::SignificantPermanent)
/// );
/// assert!(check_significant(true, Restart::Transient, AutoShutdown::AnySignificant).is_ok());
/// ```
pub fn check_significant(
    significant: bool,
    restart: Restart,
    auto_shutdown: AutoShutdown,
) -> Result<(), SpecError> {
    match (significant, auto_shutdown, restart) {
        (false, _, _) => Ok(()),
        (true, AutoShutdown::Never, _) => Err(SpecError::SignificantWithoutAutoShutdown),
        (true, _, Restart::Permanent) => Err(SpecError::SignificantPermanent),
        (true, _, Restart::Transient | Restart::Temporary) => Ok(()),
    }
}

/// Checks a backoff spec.
///
/// # Errors
/// One of the `Backoff*` variants of [`SpecError`].
pub fn check_backoff(backoff: &Backoff) -> Result<(), SpecError> {
    if backoff.initial > backoff.max {
        return Err(SpecError::BackoffInitialAboveMax {
            initial: backoff.initial,
            max: backoff.max,
        });
    }
    if !(backoff.multiplier >= 1.0 && backoff.multiplier.is_finite()) {
        return Err(SpecError::BackoffMultiplier(backoff.multiplier));
    }
    if !(0.0..=1.0).contains(&backoff.jitter) {
        return Err(SpecError::BackoffJitter(backoff.jitter));
    }
    Ok(())
}

/// Checks a child's restart budget.
///
/// # Errors
/// [`SpecError::ZeroBudgetWindow`] when the window is zero.
pub fn check_budget(budget: &RestartBudget) -> Result<(), SpecError> {
    if budget.window.is_zero() {
        return Err(SpecError::ZeroBudgetWindow);
    }
    Ok(())
}

/// Checks a child's start limit.
///
/// # Errors
/// [`SpecError::ZeroStartLimitBurst`] when the burst is 0,
/// [`SpecError::ZeroStartLimitInterval`] when the interval is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::{check_start_limit, SpecError, StartLimit};
///
/// let never = StartLimit::new(0, Duration::from_secs(60));
/// assert_eq!(check_start_limit(&never), Err(SpecError::ZeroStartLimitBurst));
/// assert!(check_start_limit(&StartLimit::new(5, Duration::from_secs(60))).is_ok());
/// ```
pub fn check_start_limit(limit: &StartLimit) -> Result<(), SpecError> {
    if limit.burst == 0 {
        return Err(SpecError::ZeroStartLimitBurst);
    }
    if limit.interval.is_zero() {
        return Err(SpecError::ZeroStartLimitInterval);
    }
    Ok(())
}
