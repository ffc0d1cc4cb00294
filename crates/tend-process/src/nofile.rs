//! The descriptor limit: a supervisor holds a few descriptors per service
//! (pipes, a pidfd, log files) and per API connection, so the common soft
//! limit of 1,024 runs out at a few hundred services. [`raise_nofile`]
//! lifts the soft limit to the hard one at start; each service gets the
//! soft limit back that it would have had (unless its config sets
//! `rlimits.nofile`), since programs that `select(2)` or size tables by
//! it expect the usual value.

use std::io;
use std::sync::OnceLock;

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// The soft and hard limits as they were before [`raise_nofile`].
static ORIGINAL: OnceLock<Rlimit> = OnceLock::new();

/// The soft descriptor limit before and after [`raise_nofile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    /// The soft limit this process started with (`None`: unlimited).
    pub from: Option<u64>,
    /// The soft limit now: the hard limit.
    pub to: Option<u64>,
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit, and
/// remembers the original for the services spawned from now on. Once per
/// process: later calls say what the first did.
///
/// # Errors
/// If the kernel refuses (it does not, for a soft limit up to the hard).
pub fn raise_nofile() -> io::Result<Raised> {
    if let Some(original) = ORIGINAL.get() {
        return Ok(Raised {
            from: original.current,
            to: getrlimit(Resource::Nofile).current,
        });
    }
    let original = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: original.maximum,
        maximum: original.maximum,
    };
    if raised != original {
        setrlimit(Resource::Nofile, raised)?;
    }
    let _ = ORIGINAL.set(original);
    Ok(Raised {
        from: original.current,
        to: raised.current,
    })
}

/// The limit a service gets when its config sets none: the soft limit
/// this process started with, under the hard limit now; `None` when it was
/// not raised (the child inherits it as it is).
pub(crate) fn for_services() -> Option<Rlimit> {
    let original = ORIGINAL.get()?;
    let now = getrlimit(Resource::Nofile);
    (original.current != now.current).then_some(Rlimit {
        current: original.current,
        maximum: now.maximum,
    })
}

/// Descriptors a running process holds in its supervisor: its output
/// pipe, its pidfd, its log file.
const PER_PROCESS: u64 = 3;

/// Descriptors a supervisor holds whatever it runs: the journal, its
/// sockets and API connections, a start in flight.
const RESERVE: u64 = 64;

/// A hard descriptor limit too low for the processes a config runs: the
/// services would fail to start (EMFILE) however the soft limit is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    /// The processes configured (services × replicas).
    pub processes: u64,
    /// The descriptors they need: 3 each and 64 for the supervisor.
    pub needed: u64,
    /// The hard `RLIMIT_NOFILE`.
    pub hard: u64,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the hard descriptor limit (RLIMIT_NOFILE) is {}, too low for {} processes: they need about {} ({PER_PROCESS} each and {RESERVE} for tend itself), so some will fail to start; raise it (`ulimit -Hn`, systemd's LimitNOFILE=, docker run's --ulimit nofile=) or run fewer",
            self.hard, self.processes, self.needed
        )
    }
}

/// Whether this process's hard descriptor limit cannot hold `processes`
/// running processes (3 descriptors each, 64 besides): said at
/// `tend check` and at start, not found out by a service failing to start.
#[must_use]
pub fn nofile_shortfall(processes: u64) -> Option<Shortfall> {
    // `None`: unlimited.
    let hard = getrlimit(Resource::Nofile).maximum?;
    let needed = processes
        .saturating_mul(PER_PROCESS)
        .saturating_add(RESERVE);
    (hard < needed).then_some(Shortfall {
        processes,
        needed,
        hard,
    })
}
