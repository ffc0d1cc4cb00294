use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// OTP's restart-intensity window: remembers when restarts happened and
/// refuses one that would make more than `max` fall within `period`.
///
/// A restart at time `t` counts every earlier restart at `r` with
/// `t - r <= period` (inclusive, as OTP's `R >= Now - Period`). It is used both
/// for a supervisor's [`Intensity`](crate::Intensity) and for a child's
/// [`RestartBudget`](crate::RestartBudget). At most `max + 1` instants are
/// kept, so memory stays bounded however fast children fail.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use tend_engine::policy::RestartWindow;
///
/// let mut w = RestartWindow::new(2, Duration::from_secs(10));
/// let t0 = Instant::now();
/// assert!(w.try_add(t0));
/// assert!(w.try_add(t0 + Duration::from_secs(1)));
/// assert!(!w.try_add(t0 + Duration::from_secs(2))); // a third within 10 s
/// assert!(w.try_add(t0 + Duration::from_secs(12))); // the first two fell out
/// ```
#[derive(Debug, Clone)]
pub struct RestartWindow {
    max: u32,
    period: Duration,
    restarts: VecDeque<Instant>,
}

impl RestartWindow {
    /// A window allowing `max` restarts within `period`.
    #[must_use]
    pub fn new(max: u32, period: Duration) -> Self {
        RestartWindow {
            max,
            period,
            restarts: VecDeque::new(),
        }
    }

    /// Records a restart at `now`; `false` when it exceeds the limit, that
    /// is, when more than `max` restarts now fall within the window. The
    /// refused restart is recorded too, as OTP does. `now` must not go back
    /// in time.
    pub fn try_add(&mut self, now: Instant) -> bool {
        while let Some(&oldest) = self.restarts.front() {
            if now.saturating_duration_since(oldest) > self.period {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        self.restarts.push_back(now);
        if self.restarts.len() > self.max as usize {
            // Keep only what can still matter: the newest `max + 1`.
            while self.restarts.len() > self.max as usize + 1 {
                self.restarts.pop_front();
            }
            return false;
        }
        true
    }

    /// Forgets every recorded restart.
    pub fn clear(&mut self) {
        self.restarts.clear();
    }

    /// How many recorded restarts fall within the window ending at `now`.
    #[must_use]
    pub fn count_at(&self, now: Instant) -> usize {
        self.restarts
            .iter()
            .filter(|&&r| now.saturating_duration_since(r) <= self.period)
            .count()
    }
}
