use serde::{Deserialize, Serialize};

use crate::ExitClass;

/// When a child that has exited is started again (OTP's restart type).
///
/// | exit class | `Permanent` | `Transient` | `Temporary` |
/// |---|---|---|---|
/// | normal | restart | keep spec, stay stopped | remove spec |
/// | shutdown | restart | keep spec, stay stopped | remove spec |
/// | abnormal | restart | restart | remove spec |
///
/// # Examples
///
/// ```
/// use tend_spec::{ExitClass, Restart};
///
/// assert!(Restart::Permanent.restarts_after(ExitClass::Normal));
/// assert!(!Restart::Transient.restarts_after(ExitClass::Normal));
/// assert!(Restart::Transient.restarts_after(ExitClass::Abnormal));
/// assert!(!Restart::Temporary.restarts_after(ExitClass::Abnormal));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Always restarted, whatever the exit (`restart = "always"`). The default,
    /// as in OTP.
    #[default]
    #[serde(alias = "always")]
    Permanent,
    /// Restarted only after an abnormal exit (`restart = "on-failure"`).
    #[serde(alias = "on-failure", alias = "on_failure")]
    Transient,
    /// Never restarted; its spec is removed when it exits (`restart = "never"`).
    #[serde(alias = "never")]
    Temporary,
}

impl Restart {
    /// Whether an exit of this class leads to a restart.
    #[must_use]
    pub fn restarts_after(self, class: ExitClass) -> bool {
        match (self, class) {
            (Restart::Permanent, _) => true,
            (Restart::Transient, ExitClass::Abnormal) => true,
            (Restart::Transient, ExitClass::Normal | ExitClass::Shutdown) => false,
            (Restart::Temporary, _) => false,
        }
    }
}
