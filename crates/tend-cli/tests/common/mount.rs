//! Filesystems mounted for a test (a small tmpfs to fill up, a loop image
//! to freeze), unmounted when the guard drops. Needs root: a test that
//! cannot mount skips through `suite::runs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{suite, Project};

/// A mount made for the test, unmounted (lazily) when dropped.
pub struct Mount(pub PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// `mount ARGS`: whether it succeeded.
pub fn mount(args: &[&str]) -> bool {
    Command::new("mount")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// A tmpfs of `size` at `dir` (made), private as tend requires of a state
/// directory (a tmpfs is 1777 by default); `None` when the test skips.
pub fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
    std::fs::create_dir_all(dir).unwrap();
    let mounted = || {
        let opts = format!("size={size},mode=0700");
        let ok = mount(&["-t", "tmpfs", "-o", &opts, "tmpfs", dir.to_str().unwrap()]);
        (!ok).then(|| "mounting a tmpfs needs root (with CAP_SYS_ADMIN)".to_owned())
    };
    suite::runs("root", mounted).then(|| Mount(dir.to_path_buf()))
}

impl Project {
    /// The project's state directory (`.tend`) on a tmpfs of `size`, or
    /// `None` when the test skips.
    pub fn tmpfs_state(&self, size: &str) -> Option<(PathBuf, Mount)> {
        let state = self.path(".tend");
        tmpfs(&state, size).map(|mount| (state, mount))
    }
}
