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
