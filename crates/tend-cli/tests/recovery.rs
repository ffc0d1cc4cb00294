//! `tend up` after the daemon was killed with SIGKILL: what the killed run
//! left running (services, their grandchildren, one that ignores SIGTERM)
//! is found and stopped before anything starts again, so no service ever
//! runs twice and none runs unknown. Found by cgroup, and without cgroups
//! by the pids the journal recorded.

mod common;

use std::process::Command;

use common::{alive, Project};

/// Services marked with `TEND_TEST_MARK` in their environment, so the
/// test can count every process of this project, grandchildren included.
fn config(mark: &str) -> String {
    format!(
        r#"
[services.sleeper]
shell = "sleep 1000 & echo $! > grandchild.pid; exec sleep 1000"
env = {{ TEND_TEST_MARK = "{mark}" }}

[services.stubborn]
shell = "trap '' TERM; exec sleep 1000"
env = {{ TEND_TEST_MARK = "{mark}" }}
stop = {{ timeout = "1s" }}

[services.web]
shell = "exec sleep 1000"
env = {{ TEND_TEST_MARK = "{mark}" }}
replicas = 2
"#
    )
}

/// The live processes whose environment holds `mark`.
fn marked(mark: &str) -> Vec<u64> {
    let needle = format!("TEND_TEST_MARK={mark}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .filter(|&pid| alive(pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
        })
        .collect()
}

/// Kills every marked process when dropped: a failed test leaves none
/// behind (after the daemon's `kill -9`, nothing else would).
struct Sweep(String);

impl Drop for Sweep {
    fn drop(&mut self) {
        for pid in marked(&self.0) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

fn pid_of(p: &Project, name: &str) -> u64 {
    p.wait_state(name, "running")["pid"].as_u64().unwrap()
}

fn killed_daemon_leaves_nothing_behind(env: &[(&str, &str)]) {
    let mark = format!("recovery-{}-{}", std::process::id(), env.len());
    let _sweep = Sweep(mark.clone());
    let mut p = Project::new(&config(&mark));
    p.up_with(env);
    let old: Vec<u64> = ["sleeper", "stubborn", "web.1", "web.2"]
        .iter()
        .map(|name| pid_of(&p, name))
        .collect();
    p.wait_for("the grandchild's pid", || {
        !p.read("grandchild.pid").is_empty()
    });
    let grandchild: u64 = p.read("grandchild.pid").trim().parse().unwrap();
    // Four services and a grandchild.
    p.wait_for("five marked processes", || marked(&mark).len() == 5);

    p.kill_9();
    for &pid in old.iter().chain([&grandchild]) {
        assert!(alive(pid), "{pid} died with the daemon: nothing to recover");
    }

    p.up_with(env);
    // The old processes are gone before the new ones exist: never twice.
    for &pid in old.iter().chain([&grandchild]) {
        assert!(!alive(pid), "{pid}, left by the killed run, still runs");
    }
    let new: Vec<u64> = ["sleeper", "stubborn", "web.1", "web.2"]
        .iter()
        .map(|name| pid_of(&p, name))
        .collect();
    assert!(new.iter().all(|pid| !old.contains(pid)), "{old:?} {new:?}");
    p.wait_for("a new grandchild", || {
        p.read("grandchild.pid").trim().parse::<u64>().ok() != Some(grandchild)
    });
    p.wait_for("exactly the five new processes", || {
        marked(&mark).len() == 5
    });

    // Each leftover is in the journal: the stubborn one killed after its
    // stop timeout, the others stopped by their signal.
    let events = p.ok(&["events", "--json"]);
    let rows: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|entry| entry["kind"] == "leftover_stopped")
        .collect();
    assert_eq!(rows.len(), 4, "one row per service: {events}");
    let how = |service: &str| {
        rows.iter()
            .find(|entry| entry["service"] == service)
            .map(|entry| entry["how"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no leftover row for {service}: {events}"))
    };
    assert_eq!(how("stubborn"), "killed");
    assert_eq!(how("sleeper"), "stopped");
    assert_eq!(how("web.1"), "stopped");
    assert_eq!(how("web.2"), "stopped");
    let verified = p.ok(&["journal", "verify"]);
    assert!(verified.starts_with("journal ok"), "{verified}");

    // A clean end leaves nothing, and the next start finds nothing to stop.
    assert_eq!(p.down(), 0);
    assert!(marked(&mark).is_empty(), "{:?}", marked(&mark));
    assert!(!p.path(".tend/daemon.json").exists());
}

#[test]
fn a_killed_daemon_s_services_are_stopped_by_cgroup_before_a_new_start() {
    killed_daemon_leaves_nothing_behind(&[]);
}

#[test]
fn a_killed_daemon_s_services_are_stopped_by_journal_without_cgroups() {
    killed_daemon_leaves_nothing_behind(&[("TEND_CGROUP", "off")]);
}

// Never on the word of a file: the lease (`daemon.json`) and the journal
// name processes; recovery signals only those that are provably what the
// killed run started (see SECURITY.md, "Who tend signals").

/// A process the test starts, unrelated to tend; killed when dropped.
struct Bystander(std::process::Child);

impl Bystander {
    /// `sleep`, in its own session when `own_session` (as a service is).
    fn start(own_session: bool) -> Bystander {
        let mut command = Command::new(if own_session { "setsid" } else { "sleep" });
        if own_session {
            command.args(["sleep", "1000"]);
        } else {
            command.arg("1000");
        }
        let child = command.stdin(std::process::Stdio::null()).spawn().unwrap();
        let pid = u64::from(child.id());
        // setsid forks only when it is a group leader already; it is not.
        let deadline = std::time::Instant::now() + common::DEADLINE;
        while !std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.starts_with("sleep"))
        {
            assert!(std::time::Instant::now() < deadline, "sleep never ran");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Bystander(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Field 22 of `/proc/PID/stat`: start time in clock ticks since boot.
fn start_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    fields[19].parse().unwrap()
}

/// A pid no process has now (one that just ended).
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// The `recovery-refused` rows of the journal.
fn refusals(p: &Project) -> Vec<serde_json::Value> {
    p.ok(&["events", "--json"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|entry| entry["command"] == "recovery-refused")
        .collect()
}

#[test]
fn a_forged_lease_naming_a_directory_outside_the_cgroup_hierarchy_signals_nothing() {
    let bystander = Bystander::start(true);
    let mut p = Project::new("[services.web]\nshell = \"exec sleep 1000\"\n");
    std::fs::create_dir_all(p.path(".tend")).unwrap();
    // A lease as someone else would write it: a dead holder, and a
    // "cgroup" that is a plain directory listing the bystander, named as
    // today's and yesterday's tend name their cgroups.
    let holder = dead_pid();
    let forged = p.path("forged");
    for name in [
        format!("tend-{holder}-1-web.0"),
        format!("tend-{holder}-web.0"),
    ] {
        std::fs::create_dir_all(forged.join(&name)).unwrap();
        std::fs::write(
            forged.join(&name).join("cgroup.procs"),
            format!("{}\n", bystander.pid()),
        )
        .unwrap();
    }
    std::fs::write(
        p.path(".tend/daemon.json"),
        serde_json::json!({
            "pid": holder,
            "start_ticks": 1,
            "cgroup_dirs": [forged],
            "journal_from": 0,
        })
        .to_string(),
    )
    .unwrap();

    p.up();
    p.wait_state("web", "running");
    assert!(
        alive(u64::from(bystander.pid())),
        "tend signalled a process named by a forged lease\n{}",
        p.read("up.err")
    );
    let refused = refusals(&p);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("not a directory of a mounted cgroup hierarchy"),
        "{refused:?}"
    );
    assert!(
        p.read("up.err").contains("not believed"),
        "{}",
        p.read("up.err")
    );
    assert_eq!(p.down(), 0);
}

/// Appends a `started` row to the journal behind tend's back.
fn forge_started(p: &Project, service: &str, data: serde_json::Value) {
    forge_started_under(p, "", service, data);
}

/// [`forge_started`] under `supervisor`'s name.
fn forge_started_under(p: &Project, supervisor: &str, service: &str, data: serde_json::Value) {
    let db = rusqlite::Connection::open(p.path(".tend/journal.db")).unwrap();
    let (id, prev): (i64, Vec<u8>) = db
        .query_row(
            "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    db.execute(
        "INSERT INTO events (id, at_ms, supervisor, kind, service, data, prev_hash, hash)
         VALUES (?1, ?2, ?6, 'started', ?3, ?4, ?5, ?5)",
        rusqlite::params![id + 1, now, service, data.to_string(), prev, supervisor],
    )
    .unwrap();
}

/// Waits until the journal holds `pid`'s start (rows are committed in
/// batches: a `kill -9` a moment after a start may precede its row).
fn wait_journaled(p: &Project, pid: u64) {
    p.wait_for("the start to be journaled", || {
        p.ok(&["events", "--json"]).lines().any(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|e| e["kind"] == "started" && e["pid"] == pid)
        })
    });
}

#[test]
fn a_forged_journal_row_naming_an_unrelated_process_signals_nothing() {
    let mark = format!("forged-row-{}", std::process::id());
    let _sweep = Sweep(mark.clone());
    let config = format!(
        "[services.web]\nshell = \"exec sleep 1000\"\nenv = {{ TEND_TEST_MARK = \"{mark}\" }}\n"
    );
    let mut p = Project::new(&config);
    let without_cgroups = [("TEND_CGROUP", "off")];
    p.up_with(&without_cgroups);
    let web = pid_of(&p, "web");
    wait_journaled(&p, web);
    p.kill_9();
    // Started after the killed run, as its services were: one in its own
    // session (as a service is), one not.
    let leader = Bystander::start(true);
    let member = Bystander::start(false);
    // A row naming the first by pid alone (as older versions journaled,
    // or as a forger who cannot know its start time writes), and one
    // naming the second with its exact start time.
    forge_started(
        &p,
        "db",
        serde_json::json!({"kind": "started", "service": "db", "generation": 1, "pid": leader.pid()}),
    );
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    forge_started(
        &p,
        "cache",
        serde_json::json!({
            "kind": "started", "service": "cache", "generation": 1, "pid": member.pid(),
            "start_ticks": start_ticks(member.pid()), "boot_id": boot.trim(),
        }),
    );

    // And a later start of `web` itself, naming a process that is gone:
    // it must not hide the real one (under the real one's supervisor).
    let supervisor: String = rusqlite::Connection::open(p.path(".tend/journal.db"))
        .unwrap()
        .query_row(
            "SELECT supervisor FROM events WHERE kind = 'started' AND service = 'web'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    forge_started_under(
        &p,
        &supervisor,
        "web",
        serde_json::json!({"kind": "started", "service": "web", "generation": 99, "pid": gone_pid()}),
    );

    p.up_with(&without_cgroups);
    assert!(!alive(web), "the real leftover {web} still runs");
    assert!(
        alive(u64::from(leader.pid())),
        "tend signalled a session leader named by a forged row\n{}",
        p.read("up.err")
    );
    assert!(
        alive(u64::from(member.pid())),
        "tend signalled a process named by a forged row\n{}",
        p.read("up.err")
    );
    let refused = refusals(&p);
    assert_eq!(refused.len(), 3, "{refused:?}");
    p.wait_for("exactly one web", || marked(&mark).len() == 1);
    assert_eq!(p.down(), 0);
}

/// The pid of a process that has ended (and been reaped).
fn gone_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn a_wall_clock_step_does_not_hide_a_leftover() {
    let mark = format!("clock-step-{}", std::process::id());
    let _sweep = Sweep(mark.clone());
    let config = format!(
        "[services.web]\nshell = \"exec sleep 1000\"\nenv = {{ TEND_TEST_MARK = \"{mark}\" }}\n"
    );
    let mut p = Project::new(&config);
    let without_cgroups = [("TEND_CGROUP", "off")];
    p.up_with(&without_cgroups);
    let web = pid_of(&p, "web");
    wait_journaled(&p, web);
    p.kill_9();
    // The killed run's clock was an hour behind: NTP has since stepped it
    // forward. Its rows say so (this breaks their hashes; the times are
    // what matters here).
    rusqlite::Connection::open(p.path(".tend/journal.db"))
        .unwrap()
        .execute("UPDATE events SET at_ms = at_ms - 3600000", [])
        .unwrap();

    p.up_with(&without_cgroups);
    assert!(!alive(web), "{web}, left by the killed run, still runs");
    let new = pid_of(&p, "web");
    assert_ne!(new, web);
    p.wait_for("exactly one web", || marked(&mark).len() == 1);
    assert_eq!(p.down(), 0);
    assert!(marked(&mark).is_empty(), "{:?}", marked(&mark));
}

/// The v2 cgroups the daemon `pid` made, by name (`tend-PID-TICKS-…`:
/// others' with a reused pid have another start time).
fn cgroups_of(pid: u32) -> Vec<std::path::PathBuf> {
    let prefix = format!("tend-{pid}-{}-", start_ticks(pid));
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a v2 cgroup");
    let mount = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    let base = std::path::Path::new(mount).join(path.trim_start_matches('/'));
    std::fs::read_dir(&base)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

#[test]
fn a_service_whose_empty_cgroup_was_removed_from_outside_starts_again() {
    let mut p = Project::new("[services.web]\nshell = \"exec sleep 1000\"\n");
    p.up();
    let first = pid_of(&p, "web");
    let daemon = p.daemon.as_ref().unwrap().id();
    p.ok(&["stop", "web"]);
    p.wait_for("web to end", || !alive(first));
    let cgroups = cgroups_of(daemon);
    assert_eq!(cgroups.len(), 1, "{cgroups:?}");
    // Anyone allowed to may remove an empty cgroup.
    std::fs::remove_dir(&cgroups[0]).unwrap();

    let out = p.tend(&["start", "web"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let second = pid_of(&p, "web");
    assert_ne!(first, second);
    let cgroups = cgroups_of(daemon);
    assert_eq!(cgroups.len(), 1, "a new cgroup: {cgroups:?}");
    let procs = std::fs::read_to_string(cgroups[0].join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|l| l == second.to_string()), "{procs}");
    assert_eq!(p.down(), 0);
}
