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

pub(crate) use child::{Cgroup, CgroupSlot};
pub use layout::CgroupLayout;
