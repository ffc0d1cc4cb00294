//! What another local user can do to a root-run tend, found by an outside
//! review after the state directory was secured: write the config, serve
//! a socket where tend's should be, point the report's output at a root
//! file, hard-link a state file to another, send a stray signal. Each is
//! refused or survived; nothing runs on a stranger's word.
//!
//! Needs root (to act as `nobody`); skips with a message otherwise.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Project, DEADLINE};

fn root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    let root = String::from_utf8_lossy(&out.stdout).trim() == "0";
    if !root {
        eprintln!("SKIPPED: needs root");
    }
    root
}

fn chown_nobody(path: &std::path::Path) {
    let status = Command::new("chown")
        .args(["nobody:nogroup"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

const CONFIG: &str = "[services.web]\ncommand = [\"sleep\", \"1000\"]\n";

#[test]
fn a_config_another_user_owns_or_may_write_is_not_run() {
    if !root() {
        return;
    }
    let p = Project::new(CONFIG);
    let config = p.path("tend.toml");
    // Another user's file: they could put anything in it, a root tend
    // would run it as root.
    chown_nobody(&config);
    for args in [&["check"][..], &["up", "-d"][..]] {
        let out = p.tend(args);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "tend {args:?} ran it: {said}");
        assert!(said.contains("owned by uid"), "{said}");
    }
    assert!(!p.path(".tend").exists(), "nothing was started");
    // Root's, but anyone may write it.
    Command::new("chown")
        .arg("root:root")
        .arg(&config)
        .status()
        .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = p.tend(&["up", "-d"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("anyone may write it"), "{said}");
    // Root's and its alone: runs.
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    p.ok(&["up", "-d"]);
    p.wait_state("web", "running");
    p.ok(&["down"]);
}

/// The outside review's escalation: root's config in a directory another
/// user may write. That user swaps `tend.toml` for a link to a file root
/// owns whose text they control (a `nobody` service's own log, which
/// passes a check of the file alone), and the next reload runs their
/// service as root. The directory is what is refused: at start, and at a
/// reload after the swap (which changes nothing).
#[test]
fn a_config_in_a_directory_another_user_may_write_is_not_run() {
    if !root() {
        return;
    }
    let config = r#"
[services.talk]
shell = "printf '[services.pwn]\nshell = \"touch pwned; sleep 1000\"\n'; sleep 100000"
user = "nobody"
"#;
    let p = Project::new(config);
    let dir = p.dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = p.tend(&["up", "-d"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ran from an open directory: {said}");
    assert!(
        said.contains("may be written by anyone (mode 0777)"),
        "{said}"
    );
    // Private again: it runs; then opened, and the swap made as nobody.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.ok(&["up", "-d"]);
    p.wait_for("the talker's text in its log", || {
        p.read(".tend/logs/talk.log").contains("[services.pwn]")
    });
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let swap = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
            "-c",
        ])
        .arg("mv tend.toml old.toml && ln -s .tend/logs/talk.log tend.toml")
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(swap.success(), "nobody could not swap the config");
    let out = p.tend(&["reload"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the swapped config was loaded: {said}"
    );
    assert!(said.contains("on the way to it"), "{said}");
    assert!(!p.path("pwned").exists(), "nobody's command ran as root");
    let names: Vec<String> = p
        .status()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["talk"], "{names:?}");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.ok(&["down"]);
}

#[test]
fn a_socket_another_user_serves_is_not_taken_for_tend() {
    if !root() {
        return;
    }
    let p = Project::new(CONFIG);
    // Root's, writable by all with the sticky bit, as /tmp: the directory
    // passes, the server must not.
    let dir = p.path("sock");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let socket = dir.join("tend.sock");
    // `nobody` listens where root's CLI will look, and answers like tend.
    let server = format!(
        "import socket,os\ns=socket.socket(socket.AF_UNIX)\ns.bind({path:?})\ns.listen(8)\n\
         while True:\n  c,_=s.accept()\n  c.recv(65536)\n  \
         c.sendall(b'HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\ncontent-length: 2\\r\\n\\r\\n{{}}')\n  c.close()\n",
        path = socket.to_str().unwrap()
    );
    let mut stranger = Command::new("setpriv")
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .args(["/usr/bin/python3", "-c", &server])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "the stranger's socket never came"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = p.tend(&["status", "--socket", socket.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stderr);
    let _ = stranger.kill();
    let _ = stranger.wait();
    assert!(!out.status.success(), "root's CLI took it for tend: {said}");
    assert!(said.contains("served by uid"), "{said}");
}

#[test]
fn tend_report_writes_through_no_planted_link() {
    if !root() {
        return;
    }
    let p = Project::new(CONFIG);
    p.ok(&["up", "-d"]);
    p.wait_state("web", "running");
    p.ok(&["down"]);
    let victim = p.path("victim");
    std::fs::write(&victim, "root's own\n").unwrap();
    std::os::unix::fs::symlink(&victim, p.path("tend-report.html")).unwrap();
    let out = p.tend(&["report"]);
    assert!(!out.status.success(), "the report followed the link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's own\n");
}

#[test]
fn a_hard_linked_state_file_is_not_written_through() {
    if !root() {
        return;
    }
    let p = Project::new(CONFIG);
    p.ok(&["up", "-d"]);
    p.wait_state("web", "running");
    p.ok(&["down"]);
    // The daemon's log, hard-linked to another file: `up -d` appends to
    // `tend.log`, so it must not append into the other.
    let other = p.path("other");
    std::fs::write(&other, "untouched\n").unwrap();
    let log = p.path(".tend/tend.log");
    std::fs::remove_file(&log).unwrap();
    std::fs::hard_link(&other, &log).unwrap();
    let out = p.tend(&["up", "-d"]);
    let said = String::from_utf8_lossy(&out.stderr);
    let _ = p.tend(&["down"]);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("hard links"), "{said}");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "untouched\n");
}

/// A socket in a directory another user owns is not connected to: its
/// owner could make it a symbolic link to some other root daemon's socket,
/// which the peer check (root serves it) would pass. Neither is a symbolic
/// link where the socket should be, whoever's directory holds it.
#[test]
fn a_socket_path_another_user_controls_is_not_followed_to_a_root_daemon() {
    if !root() {
        return;
    }
    let p = Project::new(CONFIG);
    std::fs::set_permissions(p.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Some root daemon's socket, which must hear nothing from tend.
    let other = tempfile::Builder::new()
        .prefix("tend-root-daemon")
        .tempdir()
        .unwrap();
    let listener = std::os::unix::net::UnixListener::bind(other.path().join("d.sock")).unwrap();
    // Each connection counted and closed at once (a client then fails
    // instead of waiting for an answer).
    let heard = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&heard);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    // nobody's state directory, and a directory of nobody's named by
    // --socket, each with `tend.sock` linked to it; and a link in root's.
    for dir in [".tend", "sock", "roots"] {
        std::fs::create_dir(p.path(dir)).unwrap();
        std::os::unix::fs::symlink(other.path().join("d.sock"), p.path(dir).join("tend.sock"))
            .unwrap();
        if dir != "roots" {
            let status = Command::new("chown")
                .args(["-R", "-h", "nobody:nogroup"])
                .arg(p.path(dir))
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    let cases: [(&[&str], &str); 4] = [
        (
            &["status"],
            "the socket's directory ./.tend is owned by uid 65534",
        ),
        (
            &["down"],
            "the socket's directory ./.tend is owned by uid 65534",
        ),
        (
            &["status", "--socket", "sock/tend.sock"],
            "the socket's directory sock is owned by uid 65534",
        ),
        (
            &["status", "--socket", "roots/tend.sock"],
            "roots/tend.sock is not a socket (a symbolic link): refused",
        ),
    ];
    let mut failures = Vec::new();
    for (args, expected) in cases {
        let out = p.tend(args);
        let said = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !said.contains(expected) {
            failures.push(format!("tend {args:?}: does not say {expected:?}: {said}"));
        }
        if heard.swap(0, std::sync::atomic::Ordering::SeqCst) != 0 {
            failures.push(format!("tend {args:?} connected to the other daemon"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
