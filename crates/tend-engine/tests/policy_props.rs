//! The restart window against a simple model: keep every restart, count
//! those within the period.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use tend_engine::policy::RestartWindow;

proptest! {
    #[test]
    fn window_matches_the_model(max in 0u32..6, period_ms in 1u64..5_000, gaps in proptest::collection::vec(0u64..3_000, 1..60)) {
        let period = Duration::from_millis(period_ms);
        let t0 = Instant::now();
        let mut window = RestartWindow::new(max, period);
        let mut all: Vec<Instant> = Vec::new();
        let mut now = t0;
        for gap in gaps {
            now += Duration::from_millis(gap);
            all.push(now);
            let within = all.iter().filter(|&&r| now.duration_since(r) <= period).count();
            let allowed = window.try_add(now);
            prop_assert_eq!(allowed, within <= max as usize, "at {:?}", now.duration_since(t0));
        }
    }

    #[test]
    fn memory_stays_bounded(max in 0u32..6, n in 1usize..500) {
        let mut window = RestartWindow::new(max, Duration::from_secs(3600));
        let t0 = Instant::now();
        for i in 0..n {
            window.try_add(t0 + Duration::from_millis(i as u64));
        }
        prop_assert!(window.count_at(t0 + Duration::from_millis(n as u64)) <= max as usize + 1);
    }
}
