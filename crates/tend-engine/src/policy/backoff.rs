use std::time::Duration;

use tend_spec::Backoff;

/// The running part of a [`Backoff`]: how many failures in a row the child
/// has had. Pure: the caller passes how long the last run lasted and a random
/// sample for jitter.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BackoffState {
    consecutive_failures: u32,
}

impl BackoffState {
    /// Records one more failure after a run of `ran_for` and returns the delay
    /// before the restart. A run of at least `reset_after` starts the count
    /// afresh.
    pub(crate) fn next_delay(
        &mut self,
        backoff: &Backoff,
        ran_for: Duration,
        sample: f64,
    ) -> Duration {
        if backoff.reset_after.is_some_and(|stable| ran_for >= stable) {
            self.consecutive_failures = 0;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        backoff.delay(self.consecutive_failures, sample)
    }

    /// The run of failures is over (a clean exit).
    pub(crate) fn reset(&mut self) {
        self.consecutive_failures = 0;
    }

    /// Failures in a row so far.
    #[cfg(test)]
    pub(crate) fn failures(&self) -> u32 {
        self.consecutive_failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stable_run_resets_the_count() {
        let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(10))
            .reset_after(Duration::from_secs(60));
        let mut s = BackoffState::default();
        let short = Duration::from_secs(1);
        assert_eq!(s.next_delay(&b, short, 0.5), Duration::from_millis(100));
        assert_eq!(s.next_delay(&b, short, 0.5), Duration::from_millis(200));
        assert_eq!(s.next_delay(&b, short, 0.5), Duration::from_millis(400));
        assert_eq!(s.failures(), 3);
        assert_eq!(
            s.next_delay(&b, Duration::from_secs(60), 0.5),
            Duration::from_millis(100)
        );
        assert_eq!(s.failures(), 1);
    }

    #[test]
    fn without_reset_after_the_count_only_grows() {
        let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1));
        let mut s = BackoffState::default();
        for _ in 0..10 {
            s.next_delay(&b, Duration::from_secs(3600), 0.5);
        }
        assert_eq!(s.failures(), 10);
        assert_eq!(
            s.next_delay(&b, Duration::ZERO, 0.5),
            Duration::from_secs(1)
        );
    }
}
