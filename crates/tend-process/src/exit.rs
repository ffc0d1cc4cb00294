//! Turning how a process ended into an [`Exit`].

use tend::{Exit, ExitClass};
use tend_spec::Signal;

use crate::Ended;

/// Code 0 or a configured success code is normal; any other code, or a
/// signal, is abnormal. (An end that follows a stop request is reclassified
/// as shutdown by the supervisor.)
pub(crate) fn classify(ended: Ended, success_codes: &[i32]) -> Exit {
    match ended {
        Ended::Code(code) if success_codes.contains(&code) => {
            if code == 0 {
                Exit::normal()
            } else {
                Exit::new(ExitClass::Normal, format_args!("exited with code {code}"))
            }
        }
        Ended::Code(code) => Exit::failed(format_args!("exited with code {code}")),
        Ended::Signal(number) => Exit::failed(format_args!("killed by {}", signal_name(number))),
    }
}

fn signal_name(number: i32) -> String {
    match Signal::from_number(number) {
        Some(signal) => signal.name().to_string(),
        None => match number {
            4 => "SIGILL".into(),
            6 => "SIGABRT".into(),
            7 => "SIGBUS".into(),
            8 => "SIGFPE".into(),
            11 => "SIGSEGV".into(),
            13 => "SIGPIPE".into(),
            n => format!("signal {n}"),
        },
    }
}
