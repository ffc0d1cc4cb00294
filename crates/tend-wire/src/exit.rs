//! How an incarnation ended, as data: an [`Exit`] with its [`ExitKind`]
//! and [`ExitClass`], and why a supervisor [gave up](GiveUp).

use std::fmt;

use serde::{Deserialize, Serialize};
use tend_spec::{ExitClass, Signal};

vocabulary! {
    /// What ended an incarnation. Its class (what restart types read) is
    /// the [`Exit`]'s `class`, which a stop request can change.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_wire::ExitKind;
    ///
    /// assert_eq!(ExitKind::StartFailure.to_string(), "start failure");
    /// assert_eq!(serde_json::to_string(&ExitKind::StartFailure).unwrap(), "\"start_failure\"");
    /// // What older versions wrote still reads.
    /// assert_eq!(serde_json::from_str::<ExitKind>("\"start-failure\"").unwrap(), ExitKind::StartFailure);
    /// ```
    pub enum ExitKind {
        /// The work completed: a process exited 0 or with a success code.
        Normal => "normal",
        /// It stopped because it was asked to.
        Shutdown => "shutdown",
        /// It failed: a process exited with another code.
        Error => "error",
        /// A task panicked.
        Panic => "panic",
        /// It was killed: by a signal nobody in the tree sent, or past its
        /// stop timeout, or on an operator's kill.
        Killed => "killed",
        /// It ended (or timed out) before it was ready.
        #[serde(alias = "start-failure")]
        StartFailure => "start failure",
        /// Its backend cannot run here.
        #[serde(alias = "not-available")]
        NotAvailable => "not available",
        /// It reached one of its resource limits and was stopped.
        #[serde(alias = "resource-exceeded")]
        ResourceExceeded => "resource exceeded",
        /// Its health check failed past the threshold and it was stopped.
        Unhealthy => "unhealthy",
        /// It missed its watchdog's keep-alive and was stopped.
        Watchdog => "watchdog timeout",
        /// A child it was linked to ended.
        Linked => "linked exit",
        /// A supervisor gave up.
        #[serde(alias = "gave-up")]
        GaveUp => "gave up",
        /// A supervisor shut itself down after a significant child ended.
        #[serde(alias = "auto-shutdown")]
        AutoShutdown => "auto-shutdown",
    }
}

vocabulary! {
    /// Why a supervisor gave up.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_wire::GiveUp;
    ///
    /// assert_eq!(GiveUp::IntensityReached.to_string(), "restart intensity reached");
    /// assert_eq!(serde_json::to_string(&GiveUp::IntensityReached).unwrap(), "\"intensity_reached\"");
    /// ```
    pub enum GiveUp {
        /// More restarts than its intensity allows within the period.
        #[serde(alias = "intensity-reached")]
        IntensityReached => "restart intensity reached",
        /// A child's restart budget ran out with `on_exhausted = "escalate"`.
        #[serde(alias = "budget-exhausted")]
        BudgetExhausted => "a child's restart budget ran out",
    }
}

/// How an incarnation ended: what happened, what it means for restarts,
/// the process's exit code or the signal that ended it, and a reason for
/// people (prose: nothing parses it).
///
/// Its `Display` is the one wording of an exit everywhere: `error (exit
/// code 3)`, `killed by SIGKILL`, `shutdown (SIGTERM)`, `error: connection
/// refused`.
///
/// # Examples
///
/// ```
/// use tend_wire::{Exit, ExitClass, ExitKind, Signal};
///
/// let crashed = Exit {
///     kind: ExitKind::Error,
///     class: ExitClass::Abnormal,
///     code: Some(3),
///     signal: None,
///     reason: None,
/// };
/// assert_eq!(crashed.to_string(), "error (exit code 3)");
/// assert!(crashed.is_abnormal());
///
/// let killed = Exit { kind: ExitKind::Killed, code: None, signal: Some(Signal::Kill), ..crashed };
/// assert_eq!(killed.to_string(), "killed by SIGKILL");
/// let json = serde_json::to_string(&killed).unwrap();
/// assert_eq!(json, r#"{"kind":"killed","class":"abnormal","code":null,"signal":"SIGKILL","reason":null}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    /// What kind of end.
    pub kind: ExitKind,
    /// What restart types read: `normal`, `shutdown` or `abnormal`.
    pub class: ExitClass,
    /// The process's exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that ended it, e.g. `SIGKILL`.
    #[serde(default, deserialize_with = "signal_or_number")]
    pub signal: Option<Signal>,
    /// Prose for people.
    pub reason: Option<String>,
}

impl Exit {
    /// Whether its class is [`ExitClass::Abnormal`]: a failure.
    #[must_use]
    pub fn is_abnormal(&self) -> bool {
        self.class == ExitClass::Abnormal
    }
}

/// `kind`, then the process status, then the reason.
impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.signal, self.code) {
            (ExitKind::Killed, Some(signal), _) => write!(f, "killed by {signal}")?,
            (kind, Some(signal), _) => write!(f, "{kind} ({signal})")?,
            (kind, None, Some(code)) => write!(f, "{kind} (exit code {code})")?,
            (kind, None, None) => write!(f, "{kind}")?,
        }
        match &self.reason {
            Some(reason) => write!(f, ": {reason}"),
            None => Ok(()),
        }
    }
}

/// A signal as [`Signal`] reads it, or as older versions wrote a
/// realtime one (`signal 40`).
fn signal_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Signal>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    let text = text.strip_prefix("signal ").unwrap_or(&text);
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(kind: ExitKind, code: Option<i32>, signal: Option<Signal>) -> Exit {
        Exit {
            kind,
            class: ExitClass::Abnormal,
            code,
            signal,
            reason: None,
        }
    }

    #[test]
    fn an_exit_has_one_wording() {
        let stopped = Exit {
            class: ExitClass::Shutdown,
            ..exit(ExitKind::Shutdown, None, Some(Signal::Term))
        };
        assert_eq!(stopped.to_string(), "shutdown (SIGTERM)");
        assert_eq!(
            exit(ExitKind::Killed, None, Some(Signal::Segv)).to_string(),
            "killed by SIGSEGV"
        );
        assert_eq!(exit(ExitKind::Killed, None, None).to_string(), "killed");
        let reasoned = Exit {
            reason: Some("connection refused".into()),
            ..exit(ExitKind::Error, Some(1), None)
        };
        assert_eq!(
            reasoned.to_string(),
            "error (exit code 1): connection refused"
        );
    }

    #[test]
    fn what_older_versions_wrote_still_reads() {
        let old = r#"{"kind":"start-failure","class":"abnormal","code":null,"signal":"signal 40","reason":"x"}"#;
        let read: Exit = serde_json::from_str(old).unwrap();
        assert_eq!(read.kind, ExitKind::StartFailure);
        assert_eq!(read.signal, Some(Signal::Realtime(40)));
        let again: Exit = serde_json::from_str(&serde_json::to_string(&read).unwrap()).unwrap();
        assert_eq!(again, read);
    }
}
