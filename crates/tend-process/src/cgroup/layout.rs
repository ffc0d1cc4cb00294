//! Which cgroup hierarchy is mounted, and where this supervisor makes its
//! children's cgroups (decided once per process).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::own;

/// Which cgroup hierarchy is in use.
///
/// # Examples
///
/// ```
/// use tend_process::CgroupLayout;
///
/// match CgroupLayout::detect() {
///     CgroupLayout::Unified(mount) => println!("cgroup v2 at {}", mount.display()),
///     CgroupLayout::Hybrid(mount) => println!("v1 controllers, v2 at {}", mount.display()),
///     CgroupLayout::Unavailable(why) => println!("process groups only: {why}"),
/// }
/// ```
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

/// Where this supervisor makes its cgroups and whether the layout is hybrid,
/// or why it cannot. Decided once per process, and reported once.
pub(super) fn base() -> Result<(&'static Path, bool), &'static str> {
    static BASE: OnceLock<Result<(PathBuf, bool), String>> = OnceLock::new();
    let base = BASE.get_or_init(|| {
        let layout = CgroupLayout::detect();
        let result = make_base(&layout);
        match &result {
            Ok(path) => tracing::info!(?layout, base = %path.display(), "cgroup containment enabled"),
            Err(reason) => tracing::warn!(%reason, "cgroup containment unavailable: falling back to process groups"),
        }
        let hybrid = matches!(layout, CgroupLayout::Hybrid(_));
        result.map(|path| (path, hybrid))
    });
    match base {
        Ok((path, hybrid)) => Ok((path.as_path(), *hybrid)),
        Err(reason) => Err(reason.as_str()),
    }
}

fn make_base(layout: &CgroupLayout) -> Result<PathBuf, String> {
    if std::env::var_os("TEND_CGROUP").is_some_and(|v| v == "off") {
        return Err("disabled by TEND_CGROUP=off".into());
    }
    let mount = match layout {
        CgroupLayout::Unavailable(reason) => return Err(reason.clone()),
        other => other.mount().expect("a mounted layout"),
    };
    let own = own::memberships().map_err(|e| format!("reading /proc/self/cgroup: {e}"))?;
    let relative = own
        .iter()
        .find(|m| m.is_v2())
        .ok_or("this process has no cgroup v2 path")?;
    let base = mount.join(relative.path.trim_start_matches('/'));
    // Children's cgroups go beside this process's own, named after it, so
    // nothing is left to clean up but theirs. Check that we may make one.
    let probe = base.join(format!("tend-{}-probe", std::process::id()));
    fs::create_dir(&probe)
        .map_err(|e| format!("cannot create a cgroup under {}: {e}", base.display()))?;
    let _ = fs::remove_dir(&probe);
    Ok(base)
}
