use serde::{Deserialize, Serialize};

/// Whether a supervisor shuts itself down when *significant* children end
/// on their own (OTP 24's `auto_shutdown`, EEP 56).
///
/// Only an exit that is not followed by a restart counts (a transient child
/// exiting normally, a temporary child exiting any way). A child stopped
/// through the API never triggers it.
///
/// # Examples
///
/// ```
/// use tend_spec::AutoShutdown;
///
/// assert_eq!(AutoShutdown::default(), AutoShutdown::Never);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoShutdown {
    /// Never shut down on a child's exit. The default. Marking a child
    /// significant under `Never` is an invalid combination.
    #[default]
    Never,
    /// Shut down as soon as any significant child ends.
    AnySignificant,
    /// Shut down once no significant child is left running.
    AllSignificant,
}
