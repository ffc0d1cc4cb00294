//! Signals by name: what a stop spec sends, and what an exit reports.

use serde::{Deserialize, Serialize};

/// A Linux signal, by name (`"SIGTERM"`, `"TERM"`, `"term"` and `"15"` all
/// parse). Every standard signal has a variant; realtime signals (32 to 64)
/// are kept by number, so a signal that ended a process is never lost.
/// Numbers are those of the generic Linux ABI (x86, ARM, RISC-V).
///
/// # Examples
///
/// ```
/// use tend_spec::Signal;
///
/// assert_eq!("SIGINT".parse::<Signal>(), Ok(Signal::Int));
/// assert_eq!("hup".parse::<Signal>(), Ok(Signal::Hup));
/// assert_eq!(Signal::Term.number(), 15);
/// assert_eq!(Signal::from_number(11), Some(Signal::Segv));
/// assert_eq!(Signal::Segv.to_string(), "SIGSEGV");
/// assert_eq!("40".parse::<Signal>(), Ok(Signal::Realtime(40)));
/// assert!("SIGFOO".parse::<Signal>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Signal {
    /// SIGHUP (1): hangup; many daemons reload on it.
    Hup,
    /// SIGINT (2): interrupt (Ctrl-C).
    Int,
    /// SIGQUIT (3): quit with a core dump.
    Quit,
    /// SIGILL (4): illegal instruction.
    Ill,
    /// SIGTRAP (5): trace or breakpoint trap.
    Trap,
    /// SIGABRT (6): `abort()`.
    Abrt,
    /// SIGBUS (7): bus error.
    Bus,
    /// SIGFPE (8): arithmetic error.
    Fpe,
    /// SIGKILL (9): cannot be caught.
    Kill,
    /// SIGUSR1 (10).
    Usr1,
    /// SIGSEGV (11): invalid memory reference.
    Segv,
    /// SIGUSR2 (12).
    Usr2,
    /// SIGPIPE (13): write to a pipe with no reader.
    Pipe,
    /// SIGALRM (14): timer.
    Alrm,
    /// SIGTERM (15): the polite stop.
    Term,
    /// SIGSTKFLT (16).
    Stkflt,
    /// SIGCHLD (17).
    Chld,
    /// SIGCONT (18).
    Cont,
    /// SIGSTOP (19): cannot be caught.
    Stop,
    /// SIGTSTP (20): stop from a terminal.
    Tstp,
    /// SIGTTIN (21).
    Ttin,
    /// SIGTTOU (22).
    Ttou,
    /// SIGURG (23).
    Urg,
    /// SIGXCPU (24): CPU time limit (`RLIMIT_CPU`) exceeded.
    Xcpu,
    /// SIGXFSZ (25): file size limit exceeded.
    Xfsz,
    /// SIGVTALRM (26).
    Vtalrm,
    /// SIGPROF (27).
    Prof,
    /// SIGWINCH (28): terminal resized.
    Winch,
    /// SIGIO (29).
    Io,
    /// SIGPWR (30).
    Pwr,
    /// SIGSYS (31): bad system call (seccomp).
    Sys,
    /// A realtime signal, by number (32 to 64).
    Realtime(u8),
}

const SIGNALS: [(Signal, &str); 31] = [
    (Signal::Hup, "SIGHUP"),
    (Signal::Int, "SIGINT"),
    (Signal::Quit, "SIGQUIT"),
    (Signal::Ill, "SIGILL"),
    (Signal::Trap, "SIGTRAP"),
    (Signal::Abrt, "SIGABRT"),
    (Signal::Bus, "SIGBUS"),
    (Signal::Fpe, "SIGFPE"),
    (Signal::Kill, "SIGKILL"),
    (Signal::Usr1, "SIGUSR1"),
    (Signal::Segv, "SIGSEGV"),
    (Signal::Usr2, "SIGUSR2"),
    (Signal::Pipe, "SIGPIPE"),
    (Signal::Alrm, "SIGALRM"),
    (Signal::Term, "SIGTERM"),
    (Signal::Stkflt, "SIGSTKFLT"),
    (Signal::Chld, "SIGCHLD"),
    (Signal::Cont, "SIGCONT"),
    (Signal::Stop, "SIGSTOP"),
    (Signal::Tstp, "SIGTSTP"),
    (Signal::Ttin, "SIGTTIN"),
    (Signal::Ttou, "SIGTTOU"),
    (Signal::Urg, "SIGURG"),
    (Signal::Xcpu, "SIGXCPU"),
    (Signal::Xfsz, "SIGXFSZ"),
    (Signal::Vtalrm, "SIGVTALRM"),
    (Signal::Prof, "SIGPROF"),
    (Signal::Winch, "SIGWINCH"),
    (Signal::Io, "SIGIO"),
    (Signal::Pwr, "SIGPWR"),
    (Signal::Sys, "SIGSYS"),
];

/// The realtime signal numbers Linux has.
const REALTIME: std::ops::RangeInclusive<i32> = 32..=64;

impl Signal {
    /// The signal's number on Linux.
    #[must_use]
    pub fn number(self) -> i32 {
        match self {
            Signal::Realtime(n) => i32::from(n),
            // The table is in number order, starting at 1.
            named => SIGNALS
                .iter()
                .position(|(s, _)| *s == named)
                .map_or(0, |i| i as i32 + 1),
        }
    }

    /// The conventional name, e.g. `"SIGTERM"`; `None` for a realtime signal.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        SIGNALS.iter().find(|(s, _)| *s == self).map(|(_, n)| *n)
    }

    /// The signal with this Linux number, if there is one.
    #[must_use]
    pub fn from_number(number: i32) -> Option<Signal> {
        match number {
            1..=31 => Some(SIGNALS[number as usize - 1].0),
            n if REALTIME.contains(&n) => Some(Signal::Realtime(n as u8)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.number()),
        }
    }
}

/// A signal name that is not known.
///
/// # Examples
///
/// ```
/// use tend_spec::{Signal, UnknownSignal};
///
/// let wrong = "SIGTREM".parse::<Signal>().unwrap_err();
/// assert_eq!(wrong, UnknownSignal("SIGTREM".into()));
/// assert!(wrong.to_string().starts_with("unknown signal \"SIGTREM\""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signal {0:?} (expected a name such as SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, or a number from 1 to 64)")]
pub struct UnknownSignal(pub String);

impl std::str::FromStr for Signal {
    type Err = UnknownSignal;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownSignal(text.to_string());
        let upper = text.trim().to_ascii_uppercase();
        if let Ok(number) = upper.parse::<i32>() {
            return Signal::from_number(number).ok_or_else(unknown);
        }
        let wanted = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        let wanted = match wanted.as_str() {
            "SIGIOT" => "SIGABRT",
            "SIGPOLL" => "SIGIO",
            other => other,
        };
        SIGNALS
            .iter()
            .find(|(_, name)| *name == wanted)
            .map(|(s, _)| *s)
            .ok_or_else(unknown)
    }
}

impl TryFrom<String> for Signal {
    type Error = UnknownSignal;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Signal> for String {
    fn from(signal: Signal) -> String {
        match signal.name() {
            Some(name) => name.to_string(),
            None => signal.number().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_round_trips_through_its_name() {
        for number in 1..=64 {
            let signal = Signal::from_number(number).expect("a Linux signal");
            assert_eq!(signal.number(), number);
            let text = String::from(signal);
            assert_eq!(text.parse::<Signal>(), Ok(signal), "{text}");
        }
        assert_eq!(Signal::from_number(0), None);
        assert_eq!(Signal::from_number(65), None);
    }

    #[test]
    fn the_table_is_in_number_order() {
        for (i, (signal, _)) in SIGNALS.iter().enumerate() {
            assert_eq!(signal.number(), i as i32 + 1);
        }
        assert_eq!(Signal::Kill.number(), 9);
        assert_eq!(Signal::Sys.number(), 31);
        assert_eq!("iot".parse::<Signal>(), Ok(Signal::Abrt));
    }
}
