//! Containment in a cgroup v2 directory per service incarnation.
//!
//! A process group is escaped by `setsid`; a cgroup is not: every descendant
//! stays in it, and `cgroup.kill` kills them all at once. tend detects the
//! layout once: a unified v2 hierarchy at `/sys/fs/cgroup`, or a hybrid one
//! whose v2 part is at `/sys/fs/cgroup/unified` (as on this project's
//! machines). If no v2 hierarchy is writable it says so once and falls back to
//! process groups alone.

mod child;
mod layout;
mod limits;
mod own;

pub use child::safe_name;
pub(crate) use child::{Cgroup, CgroupSlot};
pub use layout::CgroupLayout;

/// Every directory this process makes cgroups in: the v2 base, and the v1
/// controller groups it belongs to (where limits go on a hybrid layout).
/// Empty where cgroups are unavailable.
pub(crate) fn parent_dirs() -> Vec<std::path::PathBuf> {
    let Ok((base, _)) = layout::base() else {
        return Vec::new();
    };
    let mut dirs = vec![base.to_path_buf()];
    for membership in own::memberships().unwrap_or_default() {
        if membership.is_v2() {
            continue;
        }
        let dir = std::path::Path::new("/sys/fs/cgroup")
            .join(&membership.controllers)
            .join(membership.path.trim_start_matches('/'));
        if dir.is_dir() && !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// How the names of the cgroups made by the process `pid` that started at
/// `start_ticks` begin (`tend-PID-TICKS-`): with its start time, so a
/// successor never takes another process's cgroups for a dead one's, even
/// when the pid was reused.
pub(crate) fn prefix(pid: u32, start_ticks: u64) -> String {
    format!("tend-{pid}-{start_ticks}-")
}

/// [`prefix`] for this process.
pub(crate) fn own_prefix() -> &'static str {
    static OWN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWN.get_or_init(|| {
        let pid = std::process::id();
        prefix(pid, crate::identity::start_ticks(pid).unwrap_or(0))
    })
}

/// Whether `dir` is a directory of a mounted cgroup hierarchy (v2 or v1),
/// named without symlinks: where tend may look for its leftovers. A file
/// naming any other directory is not believed.
pub(crate) fn is_cgroup_dir(dir: &std::path::Path) -> bool {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
    if !dir.is_absolute() || std::fs::canonicalize(dir).ok().as_deref() != Some(dir) {
        return false;
    }
    if !dir.starts_with("/sys/fs/cgroup") {
        return false;
    }
    rustix::fs::statfs(dir).is_ok_and(|fs| {
        // `f_type`'s width differs between architectures.
        #[allow(clippy::unnecessary_cast)]
        let magic = fs.f_type as i64;
        magic == CGROUP2_SUPER_MAGIC || magic == CGROUP_SUPER_MAGIC
    })
}

/// Whether process `pid` is in the cgroup `dir` or below it, by its own
/// `/proc/PID/cgroup` (not by what a `cgroup.procs` file says).
pub(crate) fn holds(dir: &std::path::Path, pid: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return false;
    };
    let v2_mount = match CgroupLayout::detect() {
        CgroupLayout::Unified(mount) | CgroupLayout::Hybrid(mount) => Some(mount),
        CgroupLayout::Unavailable(_) => None,
    };
    own::parse(&text).into_iter().any(|membership| {
        let mount = if membership.is_v2() {
            match &v2_mount {
                Some(mount) => mount.clone(),
                None => return false,
            }
        } else {
            std::path::Path::new("/sys/fs/cgroup").join(&membership.controllers)
        };
        mount
            .join(membership.path.trim_start_matches('/'))
            .starts_with(dir)
    })
}
