//! Memory, CPU and process-count limits, enforced by the kernel through
//! cgroup controllers: the v2 files of the child's own cgroup on a unified
//! hierarchy, or the v1 controller hierarchies on a hybrid one (where the v2
//! part has no controllers, as on this project's machines).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use tend_spec::ResourceLimits;

use super::own;

/// The CFS period used for CPU limits (100 ms, the kernel's default).
const CPU_PERIOD_US: u64 = 100_000;

/// v1 controller groups made for one child: joined with the v2 cgroup,
/// removed with it.
#[derive(Debug, Default)]
pub(crate) struct V1Groups {
    /// Each group's controller, directory and `cgroup.procs` (kept open for
    /// the child to write `0` into before `exec`).
    pub(crate) groups: Vec<(String, PathBuf, File)>,
}

impl Drop for V1Groups {
    fn drop(&mut self) {
        for (_, dir, _) in &self.groups {
            // Empty by now (the child's processes were killed); if not,
            // the kernel keeps it until they are gone.
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Applies `limits` for a child whose v2 cgroup is `v2_dir`. On a hybrid
/// layout, makes v1 groups named `name` for the controllers needed.
pub(crate) fn apply(
    hybrid: bool,
    v2_dir: &Path,
    name: &str,
    limits: &ResourceLimits,
) -> io::Result<V1Groups> {
    let mut v1 = V1Groups::default();
    let wanted = [
        (
            "memory",
            limits.memory.map(|b| vec![("memory.max", b.to_string())]),
        ),
        (
            "pids",
            limits.pids.map(|n| vec![("pids.max", n.to_string())]),
        ),
        (
            "cpu",
            limits.cpu.map(|cores| {
                let quota = ((cores * CPU_PERIOD_US as f64) as u64).max(1_000);
                vec![("cpu.max", format!("{quota} {CPU_PERIOD_US}"))]
            }),
        ),
    ];
    for (controller, files) in wanted {
        let Some(files) = files else { continue };
        if hybrid {
            let (dir, procs) = v1_group(controller, name, &files)?;
            v1.groups.push((controller.to_string(), dir, procs));
        } else {
            enable_v2(v2_dir, controller)?;
            for (file, value) in files {
                fs::write(v2_dir.join(file), value)?;
            }
        }
    }
    Ok(v1)
}

/// Makes sure `controller` is enabled for the children of `v2_dir`'s parent.
fn enable_v2(v2_dir: &Path, controller: &str) -> io::Result<()> {
    let parent = v2_dir
        .parent()
        .ok_or_else(|| io::Error::other("cgroup without a parent"))?;
    let enabled = fs::read_to_string(parent.join("cgroup.subtree_control"))?;
    if enabled.split_whitespace().any(|c| c == controller) {
        return Ok(());
    }
    fs::write(
        parent.join("cgroup.subtree_control"),
        format!("+{controller}"),
    )
    .map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot enable the {controller} controller in {}: {e}",
                parent.display()
            ),
        )
    })
}

/// A v1 group for `controller` under this process's own group, with the
/// limit written in v1 terms.
fn v1_group(controller: &str, name: &str, files: &[(&str, String)]) -> io::Result<(PathBuf, File)> {
    let (mount, own) = v1_mount(controller)?;
    let dir = mount
        .join(own.trim_start_matches('/'))
        .join(format!("{}{name}", super::own_prefix()));
    match fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("creating {}: {e}", dir.display()),
            ))
        }
    }
    for (file, value) in files {
        let (file, value) = match *file {
            "memory.max" => ("memory.limit_in_bytes", value.clone()),
            "cpu.max" => {
                fs::write(dir.join("cpu.cfs_period_us"), CPU_PERIOD_US.to_string())?;
                (
                    "cpu.cfs_quota_us",
                    value.split_whitespace().next().unwrap_or("-1").to_string(),
                )
            }
            other => (other, value.clone()),
        };
        fs::write(dir.join(file), value).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("writing {}: {e}", dir.join(file).display()),
            )
        })?;
    }
    let procs = OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))?;
    Ok((dir, procs))
}

/// Where the v1 hierarchy holding `controller` is mounted, and this
/// process's path in it.
fn v1_mount(controller: &str) -> io::Result<(PathBuf, String)> {
    for membership in own::memberships()? {
        if membership.holds(controller) {
            let mount = Path::new("/sys/fs/cgroup").join(&membership.controllers);
            if mount.is_dir() {
                return Ok((mount, membership.path));
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no cgroup v1 hierarchy with the {controller} controller"),
    ))
}
