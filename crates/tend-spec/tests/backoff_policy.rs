//! The backoff schedule against a simple model.

use std::time::Duration;

use proptest::prelude::*;
use tend_spec::Backoff;

/// The model: repeated doubling in floating point, capped.
fn model(initial: Duration, max: Duration, failures: u32) -> f64 {
    let mut d = initial.as_secs_f64();
    for _ in 1..failures.max(1) {
        d = (d * 2.0).min(max.as_secs_f64());
    }
    d.min(max.as_secs_f64().max(initial.as_secs_f64()))
}

proptest! {
    #[test]
    fn exponential_without_jitter_matches_model(initial_ms in 0u64..5_000, max_ms in 0u64..600_000, failures in 0u32..80) {
        let initial = Duration::from_millis(initial_ms);
        let max = Duration::from_millis(max_ms.max(initial_ms));
        let got = Backoff::exponential(initial, max).delay(failures, 0.5).as_secs_f64();
        let want = model(initial, max, failures);
        prop_assert!((got - want).abs() < 1e-6, "got {got} want {want}");
    }

    #[test]
    fn jitter_stays_in_band_and_under_max(initial_ms in 1u64..5_000, max_ms in 1u64..600_000, failures in 1u32..40, jitter in 0.0f64..=1.0, sample in 0.0f64..1.0) {
        let initial = Duration::from_millis(initial_ms);
        let max = Duration::from_millis(max_ms.max(initial_ms));
        let b = Backoff::exponential(initial, max).jitter(jitter);
        let centre = b.delay(failures, 0.5).as_secs_f64();
        let got = b.delay(failures, sample).as_secs_f64();
        prop_assert!(got <= max.as_secs_f64() + 1e-9);
        prop_assert!(got >= centre * (1.0 - jitter) - 1e-9);
        prop_assert!(got <= centre * (1.0 + jitter) + 1e-9);
    }

    #[test]
    fn delay_never_decreases_with_failures(initial_ms in 0u64..5_000, max_ms in 0u64..600_000, failures in 1u32..60) {
        let initial = Duration::from_millis(initial_ms);
        let max = Duration::from_millis(max_ms.max(initial_ms));
        let b = Backoff::exponential(initial, max);
        prop_assert!(b.delay(failures + 1, 0.5) >= b.delay(failures, 0.5));
    }
}

#[test]
fn fixed_backoff_is_constant() {
    let b = Backoff::fixed(Duration::from_secs(2));
    for n in 0..10 {
        assert_eq!(b.delay(n, 0.9), Duration::from_secs(2));
    }
}
