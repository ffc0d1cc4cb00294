//! A root filesystem for container tests: a static busybox in a directory
//! (no image can be pulled on the machines these tests run on; podman runs
//! a directory with `--rootfs`). Shared with tend-cli's tests by `#[path]`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The busybox applets linked in `/bin`.
const APPLETS: [&str; 8] = ["sh", "sleep", "echo", "cat", "test", "touch", "rm", "ls"];

/// The root filesystem, made once per test program.
pub fn rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tend-rootfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        std::fs::copy(busybox(), dir.join("bin/busybox")).unwrap();
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
        }
        dir
    })
}

const BUSYBOX: &str = "/bin/busybox";

/// A statically linked busybox (Debian's `busybox-static`).
fn busybox() -> &'static str {
    assert!(
        static_busybox(),
        "container tests need a static busybox at {BUSYBOX} (apt-get install busybox-static)"
    );
    BUSYBOX
}

fn static_busybox() -> bool {
    let described = Command::new("file").arg("-L").arg(BUSYBOX).output();
    described.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("statically linked"))
}

/// What the container tests lack here, if anything: podman (run with
/// runc, as `.ci/test` configures it) and a static busybox.
pub fn missing() -> Option<String> {
    let podman = Command::new("podman").arg("--version").output();
    if !podman.is_ok_and(|o| o.status.success()) {
        return Some("podman does not run (apt-get install podman runc)".into());
    }
    (!static_busybox())
        .then(|| format!("no static busybox at {BUSYBOX} (apt-get install busybox-static file)"))
}

/// A container's state as podman says it (`running`, `exited`, …), or
/// `None` if there is no such container.
pub fn podman_state(name: &str) -> Option<String> {
    let out = Command::new("podman")
        .args([
            "container",
            "inspect",
            "--format",
            "{{.State.Status}}",
            name,
        ])
        .output()
        .expect("podman runs");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
