//! What a process starts with: environment, working directory, umask,
//! rlimits, identity, session, stdin.

mod common;

use common::*;
use tend_process::ProcessSpec;

#[tokio::test]
async fn environment_is_inherited_set_removed_or_cleared() {
    std::env::set_var("TEND_TEST_INHERITED", "yes");
    let mut spec = testkit(["env", "TEND_TEST_INHERITED"]);
    assert_eq!(output_of("env1", spec.clone()).await, "yes\n");
    spec.env.remove = vec!["TEND_TEST_INHERITED".into()];
    assert_eq!(output_of("env2", spec.clone()).await, "<unset>\n");
    let mut spec = testkit(["env", "GREETING"]);
    spec.env.inherit = Some(false);
    spec.env.set.insert("GREETING".into(), "hello".into());
    assert_eq!(output_of("env3", spec).await, "hello\n");
    let mut spec = testkit(["env", "HOME"]);
    spec.env.inherit = Some(false);
    assert_eq!(output_of("env4", spec).await, "<unset>\n");
}

#[tokio::test]
async fn cwd_umask_rlimits_and_a_new_session() {
    let dir = temp_dir("cwd");
    let mut spec = testkit(["whoami"]);
    spec.cwd = Some(dir.clone());
    spec.umask = Some(0o027);
    spec.rlimits.nofile = Some(321);
    let out = output_of("whoami", spec).await;
    assert!(out.contains(&format!("cwd={}", dir.display())), "{out}");
    assert!(out.contains("umask=027"), "{out}");
    assert!(out.contains("nofile=321"), "{out}");
    assert!(out.contains("sid_is_pid=true"), "own session: {out}");
    // Without anything to set in the child: its own process group.
    let out = output_of("plain", testkit(["whoami"])).await;
    assert!(out.contains("pgid_is_pid=true"), "own process group: {out}");
}

#[tokio::test]
async fn a_shell_runs_only_when_asked() {
    assert_eq!(
        output_of("shell", ProcessSpec::shell("echo $((6 * 7))")).await,
        "42\n"
    );
    let literal = output_of(
        "noshell",
        ProcessSpec::new(env!("CARGO_BIN_EXE_tend-testkit"), ["print", "$((6 * 7))"]),
    )
    .await;
    assert_eq!(literal, "$((6 * 7))\n");
}

#[tokio::test]
async fn user_and_groups_are_switched_when_running_as_root() {
    if !nix_is_root() {
        // The not-root path: a clear error, tested here instead.
        let mut spec = testkit(["whoami"]);
        spec.user = Some("nobody".into());
        let err = tend_process::check(&spec).unwrap_err();
        assert!(err.to_string().contains("needs root"), "{err}");
        return;
    }
    let mut spec = ProcessSpec::new(
        suite::for_others(env!("CARGO_BIN_EXE_tend-testkit"))
            .to_str()
            .unwrap(),
        ["whoami"],
    );
    spec.user = Some("nobody".into());
    let out = output_of("nobody", spec.clone()).await;
    assert!(out.contains("uid=65534"), "{out}");
    spec.group = Some("0".into());
    spec.groups = Some(vec!["0".into(), "65534".into()]);
    let out = output_of("nobody-root-group", spec).await;
    assert!(out.contains("uid=65534 gid=0 groups=0,65534"), "{out}");
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap_or(false)
}

#[tokio::test]
async fn a_child_inherits_no_descriptor_beyond_stdio() {
    // A descriptor this process leaks on purpose (not close-on-exec), as a
    // library user's program might.
    let file = std::fs::File::open("/proc/self/stat").unwrap();
    let leaked = nix::unistd::dup(&file).unwrap();
    let plain = output_of("fds-plain", testkit(["fds"])).await;
    let mut set = testkit(["fds"]);
    set.umask = Some(0o022);
    set.rlimits.nofile = Some(1000);
    let with_steps = output_of("fds-steps", set).await;
    drop(leaked);
    assert_eq!(plain, "0 1 2\n");
    assert_eq!(with_steps, "0 1 2\n");
}
