use serde::{Deserialize, Serialize};

/// The three ways a workload can end, which the restart decision reads.
///
/// - **normal**: the work completed (a task returned `Ok`, a process exited 0
///   or with a configured success code);
/// - **shutdown**: it stopped because it was asked to (OTP's `shutdown` and
///   `{shutdown, Term}`), including a supervisor that gave up;
/// - **abnormal**: an error, a panic, a non-zero code, a signal nobody sent.
///
/// # Examples
///
/// ```
/// use tend_spec::ExitClass;
///
/// let class: ExitClass = serde_json::from_str("\"abnormal\"").unwrap();
/// assert_eq!(class, ExitClass::Abnormal);
/// assert_eq!(ExitClass::Shutdown.to_string(), "shutdown");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitClass {
    /// Completed its work.
    Normal,
    /// Stopped on request.
    Shutdown,
    /// Failed.
    Abnormal,
}

impl ExitClass {
    /// Every class, in order.
    pub const ALL: [ExitClass; 3] = [ExitClass::Normal, ExitClass::Shutdown, ExitClass::Abnormal];

    /// A short lower-case name (`"normal"`, `"shutdown"`, `"abnormal"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ExitClass::Normal => "normal",
            ExitClass::Shutdown => "shutdown",
            ExitClass::Abnormal => "abnormal",
        }
    }
}

impl std::fmt::Display for ExitClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
