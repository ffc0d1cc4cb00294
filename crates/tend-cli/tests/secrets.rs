//! The daemon's environment is its own: a service (and its hooks) running
//! as another user gets only what its config passes, with that user's
//! `HOME`, `USER`, `LOGNAME` and `SHELL`; a service of tend's own user
//! keeps tend's environment. Through the real binary, run as root.

mod common;

use common::{suite, Project};

/// The secret the daemon is started with (a database password, say).
const SECRET: &str = "TEND_TEST_SECRET=hunter2-db-password";

#[test]
fn a_service_of_another_user_gets_neither_the_daemon_s_secrets_nor_its_home() {
    if !suite::runs("root", || suite::root("running a service as another user")) {
        return;
    }
    let mut project = Project::new(
        r#"
[services.confined]
command = ["sh", "-c", "env; echo END; exec sleep 1000"]
user = "nobody"
hooks = { start = ["sh", "-c", "env | sed 's/^/hook: /'; echo hook: END"] }

[services.own]
command = ["/usr/bin/env"]
restart = "never"
"#,
    );
    // The working directory is the project's: let `nobody` in.
    std::fs::set_permissions(
        project.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (key, value) = SECRET.split_once('=').unwrap();
    project.up_with(&[(key, value), ("HOME", "/root"), ("USER", "root")]);
    project.wait_for("every service's environment", || {
        project.read(".tend/logs/confined.log").contains("END")
            && project.read(".tend/logs/_hooks.log").contains("hook: END")
    });
    // A one-shot service's output is whole once it completed.
    project.wait_state("own", "completed");
    let account = account("nobody");
    let confined = project.read(".tend/logs/confined.log");
    assert!(
        !confined.contains("hunter2"),
        "the secret leaked: {confined}"
    );
    for line in &account {
        assert!(has_line(&confined, line), "{line} missing: {confined}");
    }
    assert!(
        confined.lines().any(|l| l.starts_with("PATH=")),
        "PATH is passed by default: {confined}"
    );
    assert!(!has_line(&confined, "HOME=/root"), "{confined}");
    let hooks = project.read(".tend/logs/_hooks.log");
    let hook: String = hooks
        .lines()
        .filter_map(|l| l.split_once("hook: ").map(|(_, rest)| format!("{rest}\n")))
        .collect();
    assert!(
        !hook.contains("hunter2"),
        "the secret reached the hook: {hooks}"
    );
    for line in &account {
        assert!(has_line(&hook, line), "{line} missing in the hook: {hooks}");
    }
    // A service of tend's own user keeps tend's environment, as before.
    let own = project.read(".tend/logs/own.log");
    assert!(has_line(&own, SECRET), "{own}");
    assert!(has_line(&own, "HOME=/root"), "{own}");
    assert_eq!(project.down(), 0);
}

#[test]
fn inherit_env_passes_what_it_names_and_clear_env_false_passes_all() {
    if !suite::runs("root", || suite::root("running a service as another user")) {
        return;
    }
    let mut project = Project::new(
        r#"
[services.named]
command = ["/usr/bin/env"]
user = "nobody"
inherit_env = ["TEND_TEST_SECRET"]
restart = "never"

[services.whole]
command = ["/usr/bin/env"]
user = "nobody"
clear_env = false
restart = "never"
"#,
    );
    std::fs::set_permissions(
        project.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (key, value) = SECRET.split_once('=').unwrap();
    project.up_with(&[(key, value), ("HOME", "/root")]);
    project.wait_state("named", "completed");
    project.wait_state("whole", "completed");
    let account = account("nobody");
    // `inherit_env` passes what it names, and only that.
    let named = project.read(".tend/logs/named.log");
    assert!(has_line(&named, SECRET), "{named}");
    assert!(!named.lines().any(|l| l.starts_with("PATH=")), "{named}");
    assert!(has_line(&named, "USER=nobody"), "{named}");
    // `clear_env = false`: the whole environment, the account still its own.
    let whole = project.read(".tend/logs/whole.log");
    assert!(has_line(&whole, SECRET), "{whole}");
    assert!(has_line(&whole, &account[0]), "{whole}");
    assert_eq!(project.down(), 0);
}

#[test]
fn inherit_env_is_checked_against_clear_env() {
    let project = Project::new(
        "[services.a]\ncommand = [\"true\"]\nclear_env = false\ninherit_env = [\"PATH\"]\n",
    );
    let out = project.tend(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("`inherit_env` with `clear_env = false`"),
        "{said}"
    );
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

/// The `HOME`, `USER`, `LOGNAME` and `SHELL` lines of `user`, from its
/// entry in the user database as `getent` reads it.
fn account(user: &str) -> [String; 4] {
    let out = std::process::Command::new("getent")
        .args(["passwd", user])
        .output()
        .unwrap();
    let entry = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = entry.trim_end().split(':').collect();
    [
        format!("HOME={}", fields[5]),
        format!("USER={user}"),
        format!("LOGNAME={user}"),
        format!("SHELL={}", fields[6]),
    ]
}
