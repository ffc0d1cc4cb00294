//! How a process ended ([`Ended`], decoded from a wait status in one place)
//! and the [`Exit`] that makes: its code or signal as typed fields, its kind
//! and class from them.

use tend_engine::{Exit, ExitKind};
use tend_spec::Signal;

/// How a process ended.
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use tend_process::{run_to_end, Ended, Signal};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let ran = |line: &str| {
///     let mut sh = Command::new("sh");
///     sh.args(["-c", line]);
///     run_to_end(sh, Duration::from_secs(5))
/// };
/// assert_eq!(ran("exit 3").await.unwrap().ended, Ended::Code(3));
/// assert_eq!(ran("kill -TERM $$").await.unwrap().ended, Ended::Signal(Signal::Term));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It called `exit` with this code.
    Code(i32),
    /// A signal ended it.
    Signal(Signal),
}

impl Ended {
    /// The one place a wait status is decoded, from what `waitid` and
    /// `waitpid` statuses both tell: the exit code, or the terminating
    /// signal. `None` for a status that is not an end (stopped, continued).
    pub(crate) fn decode(
        exit_status: Option<i32>,
        terminating_signal: Option<i32>,
    ) -> Option<Ended> {
        match (exit_status, terminating_signal) {
            (Some(code), _) => Some(Ended::Code(code)),
            (None, Some(number)) => Signal::from_number(number).map(Ended::Signal),
            (None, None) => None,
        }
    }
}

/// Code 0 or a configured success code is normal; any other code is an
/// error; a signal is a kill (abnormal: nobody in the tree sent it). An end
/// that follows a stop request is reclassified as shutdown by the
/// supervisor.
pub(crate) fn classify(ended: Ended, success_codes: &[i32]) -> Exit {
    match ended {
        Ended::Code(code) if success_codes.contains(&code) => Exit::normal().with_code(code),
        Ended::Code(code) => Exit::from(ExitKind::Error).with_code(code),
        Ended::Signal(signal) => Exit::from(ExitKind::Killed).with_signal(signal),
    }
}
