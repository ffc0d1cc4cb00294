//! One child's cgroup: made with its limits, joined (or cloned into) by
//! every incarnation, killed and removed.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tend_spec::ResourceLimits;

use super::layout::base;
use super::limits::{apply, V1Groups};

/// One child's cgroup, shared by all its incarnations (made once, not on
/// every restart). Removed when the last incarnation and the child spec have
/// let go of it.
#[derive(Debug)]
pub(crate) struct Cgroup {
    path: PathBuf,
    /// v1 controller groups holding its limits (hybrid layouts).
    pub(crate) v1: V1Groups,
    /// Set once `cgroup.kill` was used on it. Some kernels then kill every
    /// process later cloned into it (its kill sequence no longer matches), so
    /// a killed cgroup is never reused.
    killed: AtomicBool,
}

/// Where a child spec keeps its cgroup between incarnations.
#[derive(Debug, Default)]
pub(crate) struct CgroupSlot {
    cgroup: Mutex<Option<Arc<Cgroup>>>,
}

impl CgroupSlot {
    /// The child's cgroup, made on first use (again after a `cgroup.kill`);
    /// `None` where cgroups are unavailable; an error when limits are asked
    /// for and cannot be set.
    pub(crate) fn get(
        &self,
        id: &str,
        limits: &ResourceLimits,
    ) -> Result<Option<Arc<Cgroup>>, String> {
        let mut slot = self.cgroup.lock().unwrap_or_else(|e| e.into_inner());
        // A killed cgroup is not reused, nor one removed from outside
        // (an empty cgroup may be `rmdir`ed by anyone who may): cloning
        // into a removed one fails with ENOENT, which reads as the
        // program missing.
        if slot
            .as_ref()
            .is_none_or(|c| c.killed.load(Ordering::Relaxed) || c.is_removed())
        {
            *slot = Cgroup::create(id, limits)?.map(Arc::new);
        }
        Ok(slot.clone())
    }

    /// Keeps `cgroup` (an adopted one) for the incarnations to come.
    pub(crate) fn put(&self, cgroup: Arc<Cgroup>) {
        *self.cgroup.lock().unwrap_or_else(|e| e.into_inner()) = Some(cgroup);
    }
}

/// A child id as it appears in its cgroup's name (`tend-PID-NAME.N`):
/// letters, digits, `-` and `_`, anything else as `_`.
pub fn safe_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Cgroup {
    /// Makes a fresh cgroup for a child named `id`, with its limits; `None`
    /// where cgroups are unavailable (then memory and pids limits are
    /// watched instead, and a CPU limit is an error).
    pub(crate) fn create(id: &str, limits: &ResourceLimits) -> Result<Option<Cgroup>, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let wants_limits = limits.memory.is_some() || limits.cpu.is_some() || limits.pids.is_some();
        let (base, hybrid) = match base() {
            Ok(base) => base,
            // Without cgroups, memory and pids limits are watched instead
            // (usage.rs); only a CPU limit cannot be had at all.
            Err(reason) if limits.cpu.is_some() => {
                return Err(format!("a CPU limit needs cgroups: {reason}"))
            }
            Err(_) => return Ok(None),
        };
        // After a re-exec the pid is the same and the counter starts again,
        // while adopted services keep their cgroups: a taken name is skipped.
        let (name, path, created) = loop {
            let name = format!("{}.{}", safe_name(id), NEXT.fetch_add(1, Ordering::Relaxed));
            let path = base.join(format!("{}{name}", super::own_prefix()));
            match fs::create_dir(&path) {
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                created => break (name, path, created),
            }
        };
        // Its directory is not kept open: opened for each spawn only
        // (`open_dir`), so a child costs the supervisor no descriptor for it.
        match created {
            Ok(()) => {
                let mut cgroup = Cgroup {
                    path,
                    v1: V1Groups::default(),
                    killed: AtomicBool::new(false),
                };
                if wants_limits {
                    cgroup.v1 = apply(hybrid, &cgroup.path, &name, limits)
                        .map_err(|e| format!("cannot set resource limits: {e}"))?;
                }
                Ok(Some(cgroup))
            }
            Err(error) if wants_limits || out_of_resources(&error) => {
                Err(format!("cannot create cgroup {}: {error}", path.display()))
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot create cgroup; using the process group only");
                Ok(None)
            }
        }
    }

    /// A cgroup made by a previous program image of this process (handed
    /// over by a re-exec), with the v1 groups holding its limits.
    pub(crate) fn adopt(path: PathBuf, v1: Vec<(String, PathBuf)>) -> io::Result<Cgroup> {
        if !path.is_dir() {
            return Err(io::ErrorKind::NotFound.into());
        }
        let groups = v1
            .into_iter()
            .map(|(controller, dir)| {
                let procs = OpenOptions::new()
                    .write(true)
                    .open(dir.join("cgroup.procs"))?;
                Ok((controller, dir, procs))
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Cgroup {
            path,
            v1: V1Groups { groups },
            killed: AtomicBool::new(false),
        })
    }

    /// Whether its directory (or one of its v1 groups) was removed from
    /// outside.
    fn is_removed(&self) -> bool {
        let gone = |dir: &Path| !dir.join("cgroup.procs").exists();
        gone(&self.path) || self.v1.groups.iter().any(|(_, dir, _)| gone(dir))
    }

    /// The v1 groups' controllers and directories (to hand over).
    pub(crate) fn v1_dirs(&self) -> Vec<(String, PathBuf)> {
        self.v1
            .groups
            .iter()
            .map(|(controller, dir, _)| (controller.clone(), dir.clone()))
            .collect()
    }

    /// The cgroup's directory, opened for `clone3(CLONE_INTO_CGROUP)`:
    /// held for the spawn only (one descriptor per child kept for the
    /// child's life made the supervisor's table, which every spawn copies,
    /// larger, and ran it out of descriptors sooner).
    pub(crate) fn open_dir(&self) -> io::Result<OwnedFd> {
        rustix::fs::open(
            &self.path,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(io::Error::from)
    }

    /// The cgroup's directory path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The v1 group holding `controller`'s limit, on a hybrid layout.
    pub(crate) fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1
            .groups
            .iter()
            .find(|(c, _, _)| c == controller)
            .map(|(_, dir, _)| dir.as_path())
    }

    /// The `cgroup.procs` file, opened for the child to join before `exec`.
    pub(crate) fn procs_file(&self) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .open(self.path.join("cgroup.procs"))
    }

    /// Kills every process left in the cgroup (none, usually: a clean exit
    /// leaves it empty, and then it is not touched and stays reusable).
    pub(crate) fn kill_all(&self) {
        // One read after every exit (issue 26): open, read, close. A file
        // that cannot be read counts as holding someone, so the cgroup is
        // killed (and a fresh one made for the next start), never reused
        // unchecked.
        let procs = self.path.join("cgroup.procs");
        if crate::files::kernel_file_is_empty(&procs).unwrap_or(false) {
            return;
        }
        self.killed.store(true, Ordering::Relaxed);
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
        crate::files::read_kernel_file(&self.path.join("cgroup.procs"), false)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

/// Whether `error` says this process or the system ran out of something
/// (descriptors, memory): then the start fails, to be retried after its
/// backoff, rather than run without its cgroup.
fn out_of_resources(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOSPC)
    )
}

impl Drop for Cgroup {
    /// Removes the directory. Its processes were killed when their
    /// incarnation ended; if the kernel has not finished with them yet, a
    /// short-lived thread retries for a moment (never the caller's task).
    fn drop(&mut self) {
        if fs::remove_dir(&self.path).is_ok() {
            return;
        }
        self.kill_all();
        let path = std::mem::take(&mut self.path);
        let _ = std::thread::Builder::new()
            .name("tend-cgroup-rm".into())
            .spawn(move || {
                let mut delay = Duration::from_millis(1);
                for _ in 0..12 {
                    std::thread::sleep(delay);
                    if fs::remove_dir(&path).is_ok() {
                        return;
                    }
                    delay = (delay * 2).min(Duration::from_millis(500));
                }
                tracing::warn!(path = %path.display(), "cgroup still busy; left in place");
            });
    }
}
