//! Many services at once, at the limits of the machine: a start that fails
//! for lack of a resource (here, descriptors) releases what it made, backs
//! off, says why, and the daemon keeps answering.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::Project;

/// More replicas than 120 descriptors can run (3 each: about 30).
const CONFIG: &str = r#"
[services.s]
command = ["sleep", "100000"]
replicas = 60
"#;

/// The cgroup directories `pid` made (`tend-PID-…` in its own v2 cgroup);
/// `None` where it has none to make them in.
fn cgroups_of(pid: u32) -> Option<usize> {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let relative = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let base = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .map(|mount| PathBuf::from(mount).join(relative.trim_start_matches('/')))
        .find(|base| base.join("cgroup.procs").exists())?;
    let prefix = format!("tend-{pid}-");
    Some(
        std::fs::read_dir(base)
            .ok()?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .count(),
    )
}

#[test]
fn starts_failing_for_lack_of_descriptors_leave_nothing_behind_and_back_off() {
    let mut project = Project::new(CONFIG);
    // The hard limit too, so a daemon that raises its soft limit to the hard
    // one still runs out; without CAP_SYS_RESOURCE, so that root cannot
    // raise the hard one (to fs.nr_open) either.
    let out = std::fs::File::create(project.path("up.out")).unwrap();
    let err = std::fs::File::create(project.path("up.err")).unwrap();
    let daemon = project
        .command("setpriv")
        .args([
            "--inh-caps=-sys_resource",
            "--bounding-set=-sys_resource",
            "--",
            "sh",
        ])
        .args(["-c", "ulimit -n 120 && exec \"$0\" up"])
        .arg(env!("CARGO_BIN_EXE_tend"))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    let pid = daemon.id();
    project.daemon = Some(daemon);
    project.wait_for("the API to answer", || {
        project.tend(&["status", "--json"]).status.success()
    });
    // Failed starts, each said with its reason, and the replicas' supervisor
    // given up and restarted more than once.
    let failures = || {
        project
            .read("up.err")
            .matches("Too many open files")
            .count()
    };
    project.wait_for("many failed starts", || failures() >= 200);
    let said = project.read("up.err");
    assert!(
        said.contains(
            "failed to start: start failure: cannot start \"sleep\": Too many open files"
        ) || said.contains("cannot create cgroup"),
        "{said}"
    );
    // Each failed start made a cgroup and did not remove it: one per
    // failure. Now at most one per instance.
    if let Some(made) = cgroups_of(pid) {
        assert!(made <= 60, "{made} cgroups for 60 instances");
    }
    // The replicas' supervisor, given up on, is restarted after a backoff
    // (not at once, which reset every replica's backoff and spun).
    project.wait_for("the replicas' restart to be backed off", || {
        project.read("up.err").contains("| s restarting in ")
    });
    // Still answering, with the reason in the status.
    let status = project.ok(&["status", "--json"]);
    assert!(status.contains("Too many open files"), "{status}");
    if let Some(made) = cgroups_of(pid) {
        assert!(made <= 60, "{made} cgroups for 60 instances");
    }
    project.down();
}
