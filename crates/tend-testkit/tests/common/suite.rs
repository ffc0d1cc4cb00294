//! Suites of tests that need more of the machine than Rust: a tool (tmux,
//! chromium, podman, kubernetes-validate, man) or a privilege (root, a
//! writable cgroup). Where one is missing its tests fail with the install
//! hint; none passes silently. `TEND_SKIP_SUITES` (comma-separated suite
//! names) skips the listed suites, saying so: a choice made in the open.
//! `.ci/test` installs everything the suites need, and CI sets no
//! `TEND_SKIP_SUITES`. Shared by path with the tests of tend-cli and
//! tend-run.
//!
//! The suites: `root` (a tmpfs mount, another user, a PID namespace),
//! `cgroups`, `containers`, `browser`, `tmux`, `kubernetes`, `man`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether a test of `suite` runs: `false` when `TEND_SKIP_SUITES` lists
/// it (the test then returns at once). Otherwise `missing` says what the
/// machine lacks, if anything, and a lack fails the test with it.
pub fn runs(suite: &str, missing: impl FnOnce() -> Option<String>) -> bool {
    let skipped = std::env::var("TEND_SKIP_SUITES").unwrap_or_default();
    if skipped.split(',').any(|s| s.trim() == suite) {
        eprintln!("SKIPPED: suite `{suite}` (TEND_SKIP_SUITES)");
        return false;
    }
    if let Some(lack) = missing() {
        panic!(
            "suite `{suite}` cannot run here: {lack}\n\
             `.ci/test` installs what the suites need; TEND_SKIP_SUITES={suite} skips it"
        );
    }
    true
}

/// `None` if `program --version` (or `args`) runs, else the hint.
pub fn tool(program: &str, args: &[&str], hint: &str) -> Option<String> {
    let runs = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!runs).then(|| format!("{program} does not run ({hint})"))
}

/// `None` as root, else why the suite needs it.
pub fn root(what: &str) -> Option<String> {
    let euid = Command::new("id").arg("-u").output().ok();
    let is_root = euid.is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    (!is_root).then(|| format!("{what} needs root"))
}

/// `binary`, or a copy of it another user (the `root` suite's `nobody`)
/// may run. A build in a folder others cannot enter (a clone in a
/// `mktemp -d` folder, mode 0700) is copied once into a folder of ours
/// under the temporary directory, named by the build's inode and time, so
/// the test still runs the build it was given.
pub fn for_others(binary: &str) -> PathBuf {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let path = Path::new(binary);
    let passable = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.mode() & 0o001 != 0);
    if path
        .ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .all(passable)
    {
        return path.to_owned();
    }
    let build = std::fs::metadata(path).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "tend-tests-for-others-{}-{}-{}",
        build.ino(),
        build.mtime(),
        build.mtime_nsec()
    ));
    let copy = dir.join(path.file_name().unwrap());
    let _ = std::fs::create_dir(&dir);
    // Ours, and written by nobody else: another user could have made it
    // (`/proc/self` belongs to this process's user).
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    assert!(
        meta.is_dir() && meta.uid() == me && meta.mode() & 0o022 == 0,
        "{} is not a folder of ours that only we write",
        dir.display()
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    if !copy.exists() {
        // Made under a name of this process, then renamed whole: test
        // binaries running at once never run a half-written copy. A hard
        // link where it can be (nothing is written); else copied by `cp`,
        // never by this process: a descriptor open for writing here would
        // be inherited by another test's fork and make the exec fail with
        // "Text file busy" (ETXTBSY) until that child execs.
        let partial = dir.join(format!(".partial-{}", std::process::id()));
        let _ = std::fs::remove_file(&partial);
        if std::fs::hard_link(path, &partial).is_err() {
            let copied = Command::new("cp").arg(path).arg(&partial).status().unwrap();
            assert!(copied.success(), "cp {} failed", path.display());
        }
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&partial, &copy).unwrap();
    }
    copy
}
