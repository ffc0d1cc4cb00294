//! The descriptor limit: a supervisor holds a few descriptors per service
//! (pipes, a pidfd) and per API connection, so the common soft limit of
//! 1,024 runs out at a few hundred services, and a hard limit of 20,000 at
//! a few thousand. [`raise_nofile`] lifts the soft limit to the hard one
//! at start, and first the hard one to the most the kernel allows a
//! process (`fs.nr_open`) where it may (root: `CAP_SYS_RESOURCE`), as
//! systemd does for itself. Each service gets back the soft and hard
//! limits it would have had (unless its config sets `rlimits.nofile`),
//! since programs that `select(2)` or size tables by it expect the usual
//! value.

use std::io;
use std::sync::OnceLock;

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// The soft and hard limits as they were before [`raise_nofile`].
static ORIGINAL: OnceLock<Rlimit> = OnceLock::new();

/// The descriptor limits before and after [`raise_nofile`] (`None`:
/// unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    /// The soft limit this process started with.
    pub from: Option<u64>,
    /// The soft limit now: the hard limit.
    pub to: Option<u64>,
    /// The hard limit this process started with.
    pub hard_from: Option<u64>,
    /// The hard limit now: `fs.nr_open` where it could be raised, else
    /// as it was.
    pub hard_to: Option<u64>,
}

/// The most descriptors the kernel lets a process have (`fs.nr_open`):
/// the highest hard limit root can set.
fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether this process may raise its hard limits (`CAP_SYS_RESOURCE`).
fn may_raise_hard() -> bool {
    rustix::thread::capabilities(None).is_ok_and(|sets| {
        sets.effective
            .contains(rustix::thread::CapabilitySet::SYS_RESOURCE)
    })
}

/// The hard limit this process has, or can give itself: `fs.nr_open`
/// where it may raise it.
fn reachable_hard() -> Option<u64> {
    let hard = getrlimit(Resource::Nofile).maximum?;
    match nr_open() {
        Some(most) if most > hard && may_raise_hard() => Some(most),
        _ => Some(hard),
    }
}

/// Raises this process's hard RLIMIT_NOFILE to `fs.nr_open` where it may
/// (root), then its soft limit to the hard one, and remembers the
/// original pair for the services spawned from now on. Once per process:
/// later calls say what the first did.
///
/// # Errors
/// If the kernel refuses the soft limit (it does not, up to the hard).
pub fn raise_nofile() -> io::Result<Raised> {
    if let Some(original) = ORIGINAL.get() {
        let now = getrlimit(Resource::Nofile);
        return Ok(Raised {
            from: original.current,
            to: now.current,
            hard_from: original.maximum,
            hard_to: now.maximum,
        });
    }
    let original = getrlimit(Resource::Nofile);
    let both = |limit: Option<u64>| Rlimit {
        current: limit,
        maximum: limit,
    };
    // Refused (EPERM) without CAP_SYS_RESOURCE: the hard limit stays.
    let raised = match (nr_open(), original.maximum) {
        (Some(most), Some(hard))
            if most > hard && setrlimit(Resource::Nofile, both(Some(most))).is_ok() =>
        {
            both(Some(most))
        }
        _ => both(original.maximum),
    };
    if getrlimit(Resource::Nofile) != raised {
        setrlimit(Resource::Nofile, raised)?;
    }
    let _ = ORIGINAL.set(original);
    Ok(Raised {
        from: original.current,
        to: raised.current,
        hard_from: original.maximum,
        hard_to: raised.maximum,
    })
}

/// The limits a service gets when its config sets none: the soft and hard
/// limits this process started with; `None` when they were not raised
/// (the child inherits them as they are).
pub(crate) fn for_services() -> Option<Rlimit> {
    let original = ORIGINAL.get()?;
    (getrlimit(Resource::Nofile) != *original).then_some(*original)
}

/// Descriptors a running process holds in its supervisor: its two output
/// pipes and its pidfd. Its log file is open only while lines are written
/// to it, at most [`LOG_FILES_OPEN`] at a time, counted in [`RESERVE`].
const PER_PROCESS: u64 = 3;

/// Log files the log writer keeps open at once (the most recently
/// written); any other is opened when it has lines to write. Not one per
/// service: 10,000 services would hold 10,000 descriptors for files most
/// of which are written seldom.
pub(crate) const LOG_FILES_OPEN: usize = 128;

/// Descriptors a supervisor holds whatever it runs: the journal, its
/// sockets and API connections, a start in flight (64), and the log files
/// open at once.
const RESERVE: u64 = 64 + LOG_FILES_OPEN as u64;

/// A hard descriptor limit too low for the processes a config runs: the
/// services would fail to start (EMFILE) however the soft limit is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    /// The processes configured (services × replicas).
    pub processes: u64,
    /// The descriptors they need: 3 each and 192 for the supervisor.
    pub needed: u64,
    /// The hard `RLIMIT_NOFILE` tend runs with: for root, the machine's
    /// most (`fs.nr_open`), which it raises the hard limit to.
    pub hard: u64,
    /// Whether `hard` is the machine's most (root): then `fs.nr_open` is
    /// what to raise, not the hard limit.
    pub machine: bool,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (limit, raise) = if self.machine {
            (
                "the most descriptors this machine allows a process (fs.nr_open)",
                "`sysctl fs.nr_open=`",
            )
        } else {
            (
                "the hard descriptor limit (RLIMIT_NOFILE)",
                "`ulimit -Hn`, systemd's LimitNOFILE=, docker run's --ulimit nofile=, or run tend as root, which raises it to fs.nr_open",
            )
        };
        write!(
            f,
            "{limit} is {}, too low for {} processes: they need about {} ({PER_PROCESS} each and {RESERVE} for tend itself), so some will fail to start; raise it ({raise}) or run fewer",
            self.hard, self.processes, self.needed
        )
    }
}

/// Whether the hard descriptor limit this process has or can give itself
/// (root raises it to `fs.nr_open`) cannot hold `processes` running
/// processes (3 descriptors each, 192 besides): said at `tend check` and
/// at start, not found out by a service failing to start.
#[must_use]
pub fn nofile_shortfall(processes: u64) -> Option<Shortfall> {
    // `None`: unlimited.
    let hard = reachable_hard()?;
    let needed = processes
        .saturating_mul(PER_PROCESS)
        .saturating_add(RESERVE);
    (hard < needed).then(|| Shortfall {
        processes,
        needed,
        hard,
        machine: may_raise_hard() && nr_open() == Some(hard),
    })
}
