use crate::exit::Resource;

/// Where an observation left a limited resource.
///
/// # Examples
///
/// ```
/// use tend_engine::policy::{Crossing, Threshold};
///
/// let mut calls = Threshold::new(10);
/// assert_eq!(calls.observe(5), Crossing::None);
/// assert!(matches!(calls.observe(12), Crossing::Reach { warn_first: true, .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// Nothing to report.
    None,
    /// Use crossed 80 % of the limit.
    Warn {
        /// What is used.
        used: u64,
        /// The limit.
        limit: u64,
    },
    /// Use reached the limit. `warn_first` when one observation jumped past
    /// both thresholds and the warning was never given.
    Reach {
        /// What is used.
        used: u64,
        /// The limit.
        limit: u64,
        /// Whether the 80 % warning is still due.
        warn_first: bool,
    },
}

/// A resource limit's thresholds, the one rule for every backend: a warning
/// at 80 % of the limit and the limit itself at 100 %, each reported once,
/// until use falls below 70 % (a level such as memory can; a counter never
/// does). Pure: the caller observes use and decides what reaching the limit
/// means (a task is stopped; a process only where no cgroup enforces it).
///
/// # Examples
///
/// ```
/// use tend_engine::policy::{Crossing, Threshold};
///
/// let mut memory = Threshold::new(100);
/// assert_eq!(memory.observe(50), Crossing::None);
/// assert!(matches!(memory.observe(85), Crossing::Warn { used: 85, .. }));
/// assert_eq!(memory.observe(90), Crossing::None, "warned once");
/// assert!(matches!(memory.observe(100), Crossing::Reach { warn_first: false, .. }));
/// assert_eq!(memory.observe(60), Crossing::None);
/// assert!(matches!(memory.observe(85), Crossing::Warn { .. }), "re-armed below 70 %");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threshold {
    limit: u64,
    warned: bool,
    reached: bool,
}

impl Threshold {
    /// Thresholds for `limit`.
    #[must_use]
    pub fn new(limit: u64) -> Self {
        Threshold {
            limit,
            warned: false,
            reached: false,
        }
    }

    /// The limit.
    #[must_use]
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Says what `used` crosses.
    pub fn observe(&mut self, used: u64) -> Crossing {
        let limit = self.limit;
        let percent = |p: u64| limit.saturating_mul(p);
        let used_100 = used.saturating_mul(100);
        if used_100 < percent(70) {
            self.warned = false;
            self.reached = false;
            return Crossing::None;
        }
        if used >= limit && !self.reached {
            self.reached = true;
            let warn_first = !self.warned;
            self.warned = true;
            return Crossing::Reach {
                used,
                limit,
                warn_first,
            };
        }
        if used_100 >= percent(80) && !self.warned {
            self.warned = true;
            return Crossing::Warn { used, limit };
        }
        Crossing::None
    }
}

/// A counter a task charges, against its limit.
#[derive(Debug)]
pub(crate) struct Meter {
    pub(crate) resource: Resource,
    pub(crate) used: u64,
    threshold: Threshold,
}

impl Meter {
    pub(crate) fn new(resource: Resource, limit: u64) -> Self {
        Meter {
            resource,
            used: 0,
            threshold: Threshold::new(limit),
        }
    }

    /// Adds `amount` and says whether a threshold was crossed.
    pub(crate) fn charge(&mut self, amount: u64) -> Crossing {
        self.used = self.used.saturating_add(amount);
        self.threshold.observe(self.used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_warns_once_at_80_percent_then_reaches_once_at_100() {
        let mut m = Meter::new(Resource::Messages, 10);
        let crossings: Vec<Crossing> = (0..12)
            .map(|_| m.charge(1))
            .filter(|c| *c != Crossing::None)
            .collect();
        assert_eq!(
            crossings,
            [
                Crossing::Warn { used: 8, limit: 10 },
                Crossing::Reach {
                    used: 10,
                    limit: 10,
                    warn_first: false
                },
            ]
        );
    }

    #[test]
    fn one_big_charge_past_both_says_the_warning_is_due() {
        let mut m = Meter::new(Resource::CpuTime, 100);
        assert_eq!(
            m.charge(150),
            Crossing::Reach {
                used: 150,
                limit: 100,
                warn_first: true
            }
        );
        assert_eq!(m.charge(1), Crossing::None);
    }

    #[test]
    fn a_level_re_arms_only_below_70_percent() {
        let mut t = Threshold::new(1000);
        assert!(matches!(t.observe(800), Crossing::Warn { .. }));
        assert_eq!(t.observe(750), Crossing::None);
        assert_eq!(t.observe(810), Crossing::None, "not below 70 % in between");
        assert_eq!(t.observe(699), Crossing::None);
        assert!(matches!(t.observe(800), Crossing::Warn { .. }));
        assert!(matches!(
            t.observe(1000),
            Crossing::Reach {
                warn_first: false,
                ..
            }
        ));
        assert_eq!(t.observe(1200), Crossing::None, "reached once");
    }
}
