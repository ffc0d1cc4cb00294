use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How many restarts a supervisor tolerates within a period before it gives
/// up (OTP's `intensity` and `period`).
///
/// If a restart would make the number of restarts within the last `period`
/// exceed `max_restarts`, the supervisor stops all its children and exits;
/// its parent then sees a child failure (escalation). The default is OTP's:
/// at most 1 restart in 5 seconds.
///
/// Unlike OTP, which counts in whole seconds, tend measures the window with
/// the monotonic clock's full precision: a restart `period` after an earlier
/// one still counts that earlier one (the window is inclusive, as OTP's is).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::Intensity;
///
/// let i = Intensity::new(3, Duration::from_secs(10));
/// assert_eq!(i.max_restarts, 3);
/// assert_eq!(Intensity::default(), Intensity::new(1, Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Intensity {
    /// Restarts tolerated within `period`; `0` gives up on the first restart.
    pub max_restarts: u32,
    /// The sliding window; must be longer than zero.
    #[serde(with = "humantime_serde")]
    pub period: Duration,
}

impl Intensity {
    /// At most `max_restarts` restarts within `period`.
    #[must_use]
    pub const fn new(max_restarts: u32, period: Duration) -> Self {
        Intensity {
            max_restarts,
            period,
        }
    }
}

impl Default for Intensity {
    fn default() -> Self {
        Intensity::new(1, Duration::from_secs(5))
    }
}
