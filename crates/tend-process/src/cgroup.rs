//! Containment in a cgroup v2 directory per service incarnation.
//!
//! A process group is escaped by `setsid`; a cgroup is not: every descendant
//! stays in it, and `cgroup.kill` kills them all at once. tend detects the
//! layout once: a unified v2 hierarchy at `/sys/fs/cgroup`, or a hybrid one
//! whose v2 part is at `/sys/fs/cgroup/unified` (as on this project's
//! machines). If no v2 hierarchy is writable it says so once and falls back to
//! process groups alone.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// Which cgroup hierarchy is in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupLayout {
    /// Only cgroup v2, mounted here.
    Unified(PathBuf),
    /// v1 controllers plus a v2 hierarchy (without controllers) mounted here.
    Hybrid(PathBuf),
    /// No usable v2 hierarchy: process groups only.
    Unavailable(String),
}

impl CgroupLayout {
    /// Detects the layout from the mounts.
    #[must_use]
    pub fn detect() -> Self {
        let unified = Path::new("/sys/fs/cgroup");
        let hybrid = unified.join("unified");
        if unified.join("cgroup.controllers").exists() {
            CgroupLayout::Unified(unified.to_path_buf())
        } else if hybrid.join("cgroup.controllers").exists() {
            CgroupLayout::Hybrid(hybrid)
        } else {
            CgroupLayout::Unavailable("no cgroup v2 hierarchy is mounted".into())
        }
    }

    fn mount(&self) -> Option<&Path> {
        match self {
            CgroupLayout::Unified(path) | CgroupLayout::Hybrid(path) => Some(path),
            CgroupLayout::Unavailable(_) => None,
        }
    }
}

/// The directory under which this supervisor makes its cgroups, or why it
/// cannot. Decided once per process, and reported once.
fn base() -> Result<&'static Path, &'static str> {
    static BASE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let base = BASE.get_or_init(|| {
        let layout = CgroupLayout::detect();
        let result = make_base(&layout);
        match &result {
            Ok(path) => tracing::info!(?layout, base = %path.display(), "cgroup containment enabled"),
            Err(reason) => tracing::warn!(%reason, "cgroup containment unavailable: falling back to process groups"),
        }
        result
    });
    base.as_ref().map(PathBuf::as_path).map_err(String::as_str)
}

fn make_base(layout: &CgroupLayout) -> Result<PathBuf, String> {
    let mount = match layout {
        CgroupLayout::Unavailable(reason) => return Err(reason.clone()),
        other => other.mount().expect("a mounted layout"),
    };
    let own = fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("reading /proc/self/cgroup: {e}"))?;
    let relative = own
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .ok_or("this process has no cgroup v2 path")?;
    let base = mount
        .join(relative.trim_start_matches('/'))
        .join(format!("tend-{}", std::process::id()));
    fs::create_dir_all(&base).map_err(|e| format!("creating {}: {e}", base.display()))?;
    Ok(base)
}

/// One incarnation's cgroup. Removed when dropped (after its processes are
/// gone).
#[derive(Debug)]
pub(crate) struct Cgroup {
    path: PathBuf,
}

impl Cgroup {
    /// Makes a fresh cgroup for a child named `id`, or `None` where cgroups
    /// are unavailable.
    pub(crate) fn create(id: &str) -> Option<Cgroup> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = base().ok()?;
        let name: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = base.join(format!("{name}.{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        match fs::create_dir(&path) {
            Ok(()) => Some(Cgroup { path }),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot create cgroup; using the process group only");
                None
            }
        }
    }

    /// The `cgroup.procs` file, opened for the child to join before `exec`.
    pub(crate) fn procs_file(&self) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .open(self.path.join("cgroup.procs"))
    }

    /// Kills every process in the cgroup.
    pub(crate) fn kill_all(&self) {
        if fs::write(self.path.join("cgroup.kill"), b"1").is_ok() {
            return;
        }
        // Kernels before 5.14 have no cgroup.kill: signal each member.
        for pid in self.pids() {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }

    /// The processes in the cgroup now.
    pub(crate) fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.path.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Whether any process is left.
    pub(crate) fn is_populated(&self) -> bool {
        fs::read_to_string(self.path.join("cgroup.events"))
            .map(|events| events.lines().any(|l| l == "populated 1"))
            .unwrap_or(false)
    }

    /// Kills what is left and removes the directory, waiting (a bounded
    /// while, only at teardown) for killed processes to leave.
    pub(crate) async fn destroy(self) {
        let mut delay = Duration::from_millis(1);
        for _ in 0..12 {
            if !self.is_populated() && fs::remove_dir(&self.path).is_ok() {
                return;
            }
            self.kill_all();
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
        tracing::warn!(path = %self.path.display(), "cgroup still busy; left in place");
    }
}
