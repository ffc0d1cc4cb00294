//! The program's security promises, through the real binary: what one
//! service is given never reaches another, nothing goes through a shell
//! unless the config says `shell`, and services and their hooks run as the
//! configured user. (The control socket's mode and the TCP API's token are
//! tested in `program.rs`; inherited descriptors in tend-testkit's
//! `spawn_options.rs`.)

mod common;

use common::{suite, Project};

#[test]
fn environment_stays_with_its_service_and_no_shell_is_used_unless_asked() {
    let mut project = Project::new(
        r#"
[services.holder]
command = ["sh", "-c", "echo holder sees $HOLDER_SECRET; exec sleep 1000"]
env = { HOLDER_SECRET = "s3cret-value" }

[services.peer]
command = ["env"]
restart = "never"

[services.literal]
command = ["echo", "$HOME", ";", "touch", "pwned", "|", "$(id)", "`id`"]
restart = "never"

[services.shelled]
shell = "echo from-a-shell $((6 * 7))"
restart = "never"
"#,
    );
    project.up();
    project.wait_state("peer", "completed");
    project.wait_state("literal", "completed");
    project.wait_state("shelled", "completed");
    project.wait_for("holder's line", || {
        project
            .read(".tend/logs/holder.log")
            .contains("holder sees s3cret-value")
    });

    let peer = project.read(".tend/logs/peer.log");
    assert!(
        peer.contains("PATH="),
        "peer printed its environment: {peer}"
    );
    assert!(
        !peer.contains("HOLDER_SECRET") && !peer.contains("s3cret-value"),
        "another service's environment leaked into peer: {peer}"
    );

    // An argv reaches the program as it is: no expansion, no command
    // separator, no substitution.
    let literal = project.read(".tend/logs/literal.log");
    assert_eq!(
        literal.trim_end(),
        "$HOME ; touch pwned | $(id) `id`",
        "the argv was interpreted"
    );
    assert!(!project.path("pwned").exists(), "a shell ran `touch`");
    // `shell` is the one way to ask for sh -c.
    assert_eq!(
        project.read(".tend/logs/shelled.log").trim_end(),
        "from-a-shell 42"
    );
    assert_eq!(project.down(), 0);
}

#[test]
fn services_and_their_hooks_run_as_the_configured_user() {
    if !suite::runs("root", || suite::root("running a service as another user")) {
        return;
    }
    let mut project = Project::new(
        r#"
[services.confined]
command = ["sh", "-c", "echo service runs as $(id -un):$(id -gn); exec sleep 1000"]
user = "nobody"
hooks = { start = ["sh", "-c", "echo hook runs as $(id -un):$(id -gn) for $TEND_SERVICE"] }

# Named as the hook runner once named its log: each keeps its own.
[services.hooks]
command = ["sh", "-c", "echo free runs as $(id -un); exec sleep 1000"]
hooks = { start = ["sh", "-c", "echo hook runs as $(id -un) for $TEND_SERVICE"] }
"#,
    );
    // The hook's working directory is the project's: let `nobody` in.
    std::fs::set_permissions(
        project.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let nogroup = id(&["-gn", "nobody"]);
    project.up();
    project.wait_for("both services and hooks to say who they are", || {
        let hooks = project.read(".tend/logs/_hooks.log");
        hooks.contains("for confined") && hooks.contains("for hooks")
    });
    project.wait_for("the services' lines", || {
        project.read(".tend/logs/confined.log").contains("runs as")
            && project.read(".tend/logs/hooks.log").contains("runs as")
    });
    assert_eq!(
        project.read(".tend/logs/confined.log").trim_end(),
        format!("service runs as nobody:{nogroup}")
    );
    assert_eq!(
        project.read(".tend/logs/hooks.log").trim_end(),
        "free runs as root",
        "the service named hooks has its log to itself"
    );
    let hooks = project.read(".tend/logs/_hooks.log");
    assert!(
        hooks.contains(&format!("hook runs as nobody:{nogroup} for confined")),
        "the hook of a service with a user ran as someone else: {hooks}"
    );
    assert!(
        hooks.contains("hook runs as root for hooks"),
        "hooks: {hooks}"
    );
    assert_eq!(project.down(), 0);
}

/// What `id ARGS` prints.
fn id(args: &[&str]) -> String {
    let out = std::process::Command::new("id")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn the_api_is_its_user_s_alone_and_never_open_beyond_loopback_without_a_token() {
    use std::os::unix::fs::MetadataExt;

    let open = Project::new(
        "[api]\nlisten = \"0.0.0.0:7700\"\n\n[services.a]\ncommand = [\"sleep\", \"1000\"]\n",
    );
    let out = open.tend(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("tend.toml:2:") && said.contains("beyond this machine, without a token"),
        "{said}"
    );
    let up = open.tend(&["up", "-d"]);
    assert!(!up.status.success(), "started with an open API");
    assert!(!open.path(".tend/tend.sock").exists());

    let mut p = Project::new("[services.a]\ncommand = [\"sleep\", \"1000\"]\n");
    p.up();
    let me = std::fs::metadata(p.path("tend.toml")).unwrap().uid();
    let socket = std::fs::metadata(p.path(".tend/tend.sock")).unwrap();
    assert_eq!(socket.mode() & 0o777, 0o600);
    assert_eq!(socket.uid(), me, "the socket belongs to whoever ran tend");
    let state = std::fs::metadata(p.path(".tend")).unwrap();
    assert_eq!(
        state.mode() & 0o777,
        0o700,
        "logs and journal are private too"
    );
    assert_eq!(p.down(), 0);
}
