use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A delay before a child is restarted, growing with consecutive failures.
///
/// OTP restarts at once; tend does too unless a child has a `Backoff`. The
/// delay before the *n*-th consecutive restart is
/// `min(initial × multiplier^(n-1), max)`, spread by ± `jitter` (a fraction)
/// so that siblings do not restart in lock-step. After the child has run for
/// `reset_after` without exiting, the count of consecutive failures starts
/// again from zero.
///
/// A child restarted after a *clean* exit (a permanent child, or
/// `restart = "always"`, that ended normally) is not failing: it waits the
/// short fixed `clean_exit_delay` (100 ms by default) and its count of
/// failures starts again.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::Backoff;
///
/// let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(30))
///     .reset_after(Duration::from_secs(60));
/// assert_eq!(b.delay(1, 0.5), Duration::from_millis(100));
/// assert_eq!(b.delay(2, 0.5), Duration::from_millis(200));
/// assert_eq!(b.delay(20, 0.5), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// The delay before the first restart of a run of failures.
    #[serde(with = "humantime_serde")]
    pub initial: Duration,
    /// The longest delay.
    #[serde(with = "humantime_serde")]
    pub max: Duration,
    /// Growth factor per consecutive failure (at least 1; 2 by default).
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    /// Random spread as a fraction of the delay, in `0.0..=1.0`.
    #[serde(default)]
    pub jitter: f64,
    /// A run at least this long resets the failure count.
    #[serde(default, with = "humantime_serde")]
    pub reset_after: Option<Duration>,
    /// The delay before a restart that follows a clean exit.
    #[serde(default = "default_clean_exit_delay", with = "humantime_serde")]
    pub clean_exit_delay: Duration,
}

fn default_multiplier() -> f64 {
    2.0
}

fn default_clean_exit_delay() -> Duration {
    Backoff::CLEAN_EXIT_DELAY
}

impl Backoff {
    /// The default delay before a restart that follows a clean exit.
    pub const CLEAN_EXIT_DELAY: Duration = Duration::from_millis(100);

    /// Doubling from `initial` up to `max`, no jitter, never reset.
    #[must_use]
    pub const fn exponential(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            multiplier: 2.0,
            jitter: 0.0,
            reset_after: None,
            clean_exit_delay: Backoff::CLEAN_EXIT_DELAY,
        }
    }

    /// The same delay before every restart.
    #[must_use]
    pub const fn fixed(delay: Duration) -> Self {
        Backoff {
            initial: delay,
            max: delay,
            multiplier: 1.0,
            jitter: 0.0,
            reset_after: None,
            clean_exit_delay: Backoff::CLEAN_EXIT_DELAY,
        }
    }

    /// Sets the growth factor per consecutive failure.
    #[must_use]
    pub const fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Spreads each delay by ± this fraction (clamped to `0.0..=1.0` when used).
    #[must_use]
    pub const fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// Sets the delay before a restart that follows a clean exit.
    #[must_use]
    pub const fn clean_exit_delay(mut self, delay: Duration) -> Self {
        self.clean_exit_delay = delay;
        self
    }

    /// Resets the failure count after a run of at least `stable`.
    #[must_use]
    pub const fn reset_after(mut self, stable: Duration) -> Self {
        self.reset_after = Some(stable);
        self
    }

    /// The delay before the `failures`-th consecutive restart (1-based; `0`
    /// is treated as `1`). `sample` is a uniform random number in `0.0..1.0`
    /// that places the delay inside the jitter band (`0.5` is the centre), so
    /// the function stays pure. The result never exceeds `max` (nor
    /// `initial`, when `initial` is the larger).
    #[must_use]
    pub fn delay(&self, failures: u32, sample: f64) -> Duration {
        let exponent = failures.saturating_sub(1).min(1024) as i32;
        let multiplier = if self.multiplier.is_finite() {
            self.multiplier.max(1.0)
        } else {
            1.0
        };
        let ceiling = self.max.max(self.initial);
        let base = grown_delay(self.initial, multiplier, exponent, ceiling);
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        if jitter == 0.0 {
            return base;
        }
        let spread = 1.0 + jitter * (2.0 * sample.clamp(0.0, 1.0) - 1.0);
        Duration::from_secs_f64((base.as_secs_f64() * spread).min(ceiling.as_secs_f64()))
    }
}

/// `initial × multiplier^exponent`, capped at `ceiling`. Whole multipliers
/// use exact integer arithmetic, so delays under a paused clock are the round
/// numbers users wrote.
fn grown_delay(initial: Duration, multiplier: f64, exponent: i32, ceiling: Duration) -> Duration {
    if multiplier == 1.0 || exponent == 0 {
        return initial;
    }
    if multiplier.fract() == 0.0 && multiplier <= u32::MAX as f64 {
        let mut d = initial;
        for _ in 0..exponent {
            match d.checked_mul(multiplier as u32) {
                Some(next) if next < ceiling => d = next,
                _ => return ceiling,
            }
        }
        return d;
    }
    Duration::from_secs_f64(
        (initial.as_secs_f64() * multiplier.powi(exponent)).min(ceiling.as_secs_f64()),
    )
}
