//! Turning how a process ended into an [`Exit`]: its code or signal as
//! typed fields, its kind and class from them.

use tend::{Exit, ExitKind};

use crate::Ended;

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
