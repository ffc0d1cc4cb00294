use crate::exit::Resource;

/// Where a charge left a metered resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Crossing {
    /// Nothing to report.
    None,
    /// It crossed 80 % of its limit (reported once until it falls below 70 %,
    /// which counters never do).
    Warn { used: u64, limit: u64 },
    /// It reached 100 % of its limit (reported once); `warn_first` when one
    /// charge jumped past both thresholds and the warning is still due.
    Exceed {
        used: u64,
        limit: u64,
        warn_first: bool,
    },
}

/// The fraction of a limit that earns a warning, in percent.
const WARN_AT: u64 = 80;

/// One metered resource: what was used against what is allowed. Pure: the
/// caller charges it and reports what it says.
#[derive(Debug)]
pub(crate) struct Meter {
    pub(crate) resource: Resource,
    pub(crate) limit: u64,
    pub(crate) used: u64,
    warned: bool,
    exceeded: bool,
}

impl Meter {
    pub(crate) fn new(resource: Resource, limit: u64) -> Self {
        Meter {
            resource,
            limit,
            used: 0,
            warned: false,
            exceeded: false,
        }
    }

    /// Adds `amount` and says whether a threshold was crossed.
    pub(crate) fn charge(&mut self, amount: u64) -> Crossing {
        self.used = self.used.saturating_add(amount);
        let (used, limit) = (self.used, self.limit);
        if !self.exceeded && used >= limit {
            self.exceeded = true;
            let warn_first = !self.warned;
            self.warned = true;
            return Crossing::Exceed {
                used,
                limit,
                warn_first,
            };
        }
        if !self.warned && used.saturating_mul(100) >= limit.saturating_mul(WARN_AT) {
            self.warned = true;
            return Crossing::Warn { used, limit };
        }
        Crossing::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_once_at_80_percent_then_exceeds_once_at_100() {
        let mut m = Meter::new(Resource::Messages, 10);
        let crossings: Vec<Crossing> = (0..12).map(|_| m.charge(1)).collect();
        assert_eq!(
            crossings
                .iter()
                .filter(|c| **c != Crossing::None)
                .collect::<Vec<_>>(),
            [
                &Crossing::Warn { used: 8, limit: 10 },
                &Crossing::Exceed {
                    used: 10,
                    limit: 10,
                    warn_first: false
                },
            ]
        );
    }

    #[test]
    fn one_big_charge_past_both_says_it_skipped_the_warning() {
        let mut m = Meter::new(Resource::CpuTime, 100);
        assert_eq!(
            m.charge(150),
            Crossing::Exceed {
                used: 150,
                limit: 100,
                warn_first: true
            }
        );
        assert_eq!(m.charge(1), Crossing::None);
    }
}
