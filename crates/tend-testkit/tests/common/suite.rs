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
