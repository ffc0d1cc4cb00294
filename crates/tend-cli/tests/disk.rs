//! A full disk under the state directory: tend keeps
//! supervising (a crash-looping service keeps being restarted, the API
//! answers), holds what it cannot write, records when writing failed and
//! when it came back, and then catches up: every log line, in order, none
//! torn; every restart in the journal, the chain whole.
//!
//! Needs root, to mount a small tmpfs as the state directory; skips with a
//! message otherwise.

mod common;

use std::io::Write;
use std::process::Command;

use common::mount::mount;
use common::{suite, Project};
use serde_json::Value;

const CONFIG: &str = r#"
[supervisor]
intensity = { max_restarts = 100000, period = "1s" }

[services.ticker]
shell = "i=0; while :; do i=$((i+1)); echo \"line $i\"; [ $((i % 20)) = 0 ] && sleep 0.1; done"

[services.crasher]
shell = "exit 1"
backoff = { initial = "100ms", max = "100ms" }
start_limit = "none"                 # it crashes for good, writing rows
"#;

fn restarts(p: &Project, name: &str) -> u64 {
    p.service(name)["restarts"].as_u64().unwrap()
}

fn entries(p: &Project) -> Vec<Value> {
    p.ok(&["events", "--json", "--since", "1h"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count(entries: &[Value], kind: &str, file: &str) -> usize {
    entries
        .iter()
        .filter(|e| e["kind"] == kind && e["file"] == file)
        .count()
}

/// Checks that `lines` are "line 1", "line 2", … with none lost, torn or
/// repeated; how many there were.
fn numbered_lines<'a>(lines: impl Iterator<Item = &'a str>) -> u64 {
    let mut count = 0u64;
    for line in lines {
        let n: u64 = line
            .strip_prefix("line ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a torn or foreign line: {line:?}"));
        assert_eq!(n, count + 1, "a line lost or repeated before {line:?}");
        count += 1;
    }
    count
}

#[test]
fn a_full_disk_loses_no_line_and_no_restart() {
    let mut p = Project::new(CONFIG);
    let Some((state, _mounted)) = p.tmpfs_state("64m") else {
        return;
    };
    p.up_with(&[("TEND_LOG", "info")]);
    p.wait_state("ticker", "running");
    let ticker = p.service("ticker")["pid"].as_u64().unwrap();
    p.wait_for("a few crashes", || restarts(&p, "crasher") >= 3);

    // Disk full: fill the tmpfs.
    let filler = state.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    drop(file);
    let before = restarts(&p, "crasher");
    p.wait_for("restarts to go on while the disk is full", || {
        restarts(&p, "crasher") >= before + 10
    });
    // The log's last page may take a few more lines: wait until it
    // refused one (the daemon says so on its standard error).
    p.wait_for("the log to fail", || {
        p.read("up.err").contains("log file unwritable")
    });
    let log = state.join("logs/ticker.log");
    let size_while_full = std::fs::metadata(&log).unwrap().len();
    assert_eq!(p.service("ticker")["pid"].as_u64(), Some(ticker));
    std::fs::remove_file(&filler).unwrap();
    // SQLite reuses its WAL's space after a checkpoint, so the journal may
    // not have needed a new page while the disk was full; if it did, it
    // must have come back too.
    p.wait_for("the journal and the log to be written again", || {
        let e = entries(&p);
        count(&e, "write_recovered", "log") == 1
            && count(&e, "write_recovered", "journal") == count(&e, "write_failed", "journal")
    });
    assert!(std::fs::metadata(&log).unwrap().len() > size_while_full);

    // Every restart is in the journal, and the chain is whole.
    p.ok(&["stop", "crasher"]);
    p.wait_state("crasher", "shutdown");
    let e = entries(&p);
    let journaled = |kind: &str| {
        e.iter()
            .filter(|e| e["kind"] == kind && e["service"] == "crasher")
            .count() as u64
    };
    let crasher = p.service("crasher");
    assert_eq!(
        journaled("started"),
        crasher["starts"].as_u64().unwrap(),
        "a start went unrecorded"
    );
    assert_eq!(
        journaled("exited"),
        crasher["starts"].as_u64().unwrap(),
        "an exit went unrecorded"
    );
    assert!(crasher["restarts"].as_u64().unwrap() >= 20);
    let verified = p.ok(&["journal", "verify"]);
    assert!(verified.starts_with("journal ok"), "{verified}");
    assert!(count(&e, "write_failed", "journal") <= 1);
    let failed_log = e
        .iter()
        .find(|e| e["kind"] == "write_failed" && e["file"] == "log")
        .expect("the log's failure is journaled");
    assert_eq!(failed_log["service"], "ticker");

    // Every line the ticker wrote, in order, none torn, none twice.
    p.ok(&["stop", "ticker"]);
    p.wait_for("the ticker's log to catch up", || {
        !p.service("ticker")["pid"].is_u64()
    });
    let text = std::fs::read_to_string(&log).unwrap();
    let lines = numbered_lines(text.lines());
    assert!(lines > 100, "only {lines} lines");
    assert_eq!(p.service("ticker")["pid"].as_u64(), None);
    assert_eq!(p.down(), 0);
}

/// The log directory turned unwritable under a running tend (EACCES): the
/// service goes on, its log holds the lines it cannot rotate into a new
/// file, says so in the journal, and catches up once the directory is
/// writable again, with every line in order across the rotated files.
///
/// Runs tend as `nobody` (root ignores modes): suite `root`.
#[test]
fn an_unwritable_log_directory_loses_no_line() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let id = |args: &[&str]| -> Option<u32> {
        let out = Command::new("id").args(args).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    if !suite::runs("root", || suite::root("running tend as nobody")) {
        return;
    }
    let (Some(uid), Some(gid)) = (id(&["-u", "nobody"]), id(&["-g", "nobody"])) else {
        panic!("no nobody user to run tend as");
    };
    let mut p = Project::new(
        r#"
[services.ticker]
shell = "i=0; while :; do i=$((i+1)); echo \"line $i\"; [ $((i % 20)) = 0 ] && sleep 0.1; done"
logs = { max_size = "2KiB", keep = 1000 }
"#,
    );
    std::fs::set_permissions(p.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = p.path(".tend");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(uid), Some(gid)).unwrap();
    let out = std::fs::File::create(p.path("up.out")).unwrap();
    let err = std::fs::File::create(p.path("up.err")).unwrap();
    let tend = suite::for_others(env!("CARGO_BIN_EXE_tend"));
    let daemon = p
        .command(&tend)
        .arg("up")
        .uid(uid)
        .gid(gid)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    p.daemon = Some(daemon);
    // Its CLI too: root's talks only to root's daemons.
    p.user = Some((uid, gid));
    p.wait_for("the API to answer", || {
        p.tend(&["status", "--json"]).status.success()
    });
    let ticker = p.wait_state("ticker", "running")["pid"].as_u64().unwrap();
    let logs = state.join("logs");
    let rotated = |logs: &std::path::Path| {
        std::fs::read_dir(logs)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("ticker.log.")
            })
            .count()
    };
    p.wait_for("a rotation", || rotated(&logs) >= 1);
    // A live follower sees every line, also those the file cannot take yet.
    let follow = std::fs::File::create(p.path("follow.out")).unwrap();
    let mut follower = p.command(&tend);
    follower.uid(uid).gid(gid);
    let mut follower = follower
        .args(["logs", "-f", "-n", "0", "ticker"])
        .stdout(follow)
        .spawn()
        .unwrap();
    let followed = |p: &Project| {
        p.read("follow.out")
            .lines()
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
    };
    p.wait_for("the follower to see lines", || followed(&p) > 0);

    // The directory turns unwritable: the next rotation is refused.
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o500)).unwrap();
    p.wait_for("the log's failure to be journaled", || {
        entries(&p)
            .iter()
            .any(|e| e["kind"] == "write_failed" && e["file"] == "log")
    });
    let failed = entries(&p)
        .into_iter()
        .find(|e| e["kind"] == "write_failed")
        .unwrap();
    assert_eq!(failed["service"], "ticker");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("Permission denied"),
        "{failed}"
    );
    assert_eq!(p.service("ticker")["pid"].as_u64(), Some(ticker));
    // The ticker goes on meanwhile: 100 more lines, held for the file.
    let at_failure = followed(&p);
    p.wait_for("100 lines while the log fails", || {
        followed(&p) >= at_failure + 100
    });
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o700)).unwrap();
    p.wait_for("the log to be written again", || {
        entries(&p)
            .iter()
            .any(|e| e["kind"] == "write_recovered" && e["file"] == "log")
    });
    p.ok(&["stop", "ticker"]);
    p.wait_state("ticker", "shutdown");
    let _ = follower.kill();
    let _ = follower.wait();

    // Every line, oldest file first, in order: none lost, torn or twice.
    let mut files: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir(&logs)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name()?.to_str()?.to_owned();
            let n = match name.strip_prefix("ticker.log") {
                Some("") => 0,
                Some(rest) => rest.strip_prefix('.')?.parse().ok()?,
                None => return None,
            };
            Some((n, path))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    let texts: Vec<String> = files
        .iter()
        .map(|(_, file)| std::fs::read_to_string(file).unwrap())
        .collect();
    let lines = numbered_lines(texts.iter().flat_map(|t| t.lines()));
    assert!(lines > 50, "only {lines} lines");
    assert_eq!(p.down(), 0);
}

/// `tend up -d` on `p`, with its guard: `tend down` when dropped, so a
/// failed test leaves no daemon behind.
struct Detached<'a>(&'a Project);

impl Drop for Detached<'_> {
    fn drop(&mut self) {
        let _ = self.0.tend(&["down"]);
    }
}

fn up_detached(p: &Project) -> (Detached<'_>, std::process::Output) {
    let out = p.tend(&["up", "-d"]);
    (Detached(p), out)
}

/// Fills the filesystem of `dir` to the last byte; the filler's path.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    // The last partial block too.
    while file.write_all(&[0u8; 512]).is_ok() {}
    filler
}

const DETACHED: &str = r#"
[supervisor]
intensity = { max_restarts = 100000, period = "1s" }

[services.ticker]
shell = "i=0; while :; do i=$((i+1)); echo \"line $i\"; [ $((i % 20)) = 0 ] && sleep 0.1; done"

[services.crasher]
shell = "echo crashing; exit 1"
backoff = { initial = "100ms", max = "100ms" }
start_limit = "none"

# 20 KB/s: its log needs a new page of the full disk within the moment
# the test keeps it full (the ticker's 2 KB/s may not), so a log surely
# fails and recovers.
[services.chatter]
shell = "while :; do printf '%0200d\n' 0; sleep 0.01; done"
"#;

fn journaled(p: &Project, kind: &str, service: &str) -> u64 {
    entries(p)
        .iter()
        .filter(|e| e["kind"] == kind && e["service"] == service)
        .count() as u64
}

/// Under `tend up -d` the daemon's own log (`tend.log`) is in the state
/// directory: with that disk full, the first diagnostic cannot be written.
/// Nothing dies of it: not the daemon, not its journal thread, not a
/// service (no SIGPIPE); restarts go on; once space returns the journal
/// takes every row again and the log every line.
#[test]
fn a_full_state_directory_under_up_d_kills_nothing_and_the_journal_resumes() {
    let p = Project::new(DETACHED);
    let Some((state, _mounted)) = p.tmpfs_state("16m") else {
        return;
    };
    let (_daemon, out) = up_detached(&p);
    assert!(out.status.success(), "{out:?}");
    let ticker = p.wait_state("ticker", "running")["pid"].as_u64().unwrap();
    p.wait_for("a few crashes", || restarts(&p, "crasher") >= 3);

    let filler = fill(&state);
    let before = restarts(&p, "crasher");
    p.wait_for("restarts to go on while the disk is full", || {
        restarts(&p, "crasher") >= before + 20
    });
    let ticking = p.service("ticker");
    assert_eq!(ticking["pid"].as_u64(), Some(ticker), "the ticker died");
    assert_eq!(ticking["restarts"].as_u64(), Some(0), "{ticking}");
    assert!(common::alive(ticker));

    std::fs::remove_file(&filler).unwrap();
    let at_return = restarts(&p, "crasher");
    p.wait_for("the journal to take rows again", || {
        let starts = p.service("crasher")["starts"].as_u64().unwrap();
        starts > at_return + 5 && journaled(&p, "started", "crasher") >= at_return + 5
    });
    p.wait_for("the log's recovery to be journaled", || {
        count(&entries(&p), "write_recovered", "log") >= 1
    });
    p.ok(&["stop", "crasher", "ticker"]);
    p.wait_state("ticker", "shutdown");
    p.wait_state("crasher", "shutdown");
    let crasher = p.service("crasher");
    assert_eq!(
        journaled(&p, "started", "crasher"),
        crasher["starts"].as_u64().unwrap(),
        "a start went unrecorded"
    );
    let verified = p.ok(&["journal", "verify"]);
    assert!(verified.starts_with("journal ok"), "{verified}");
    let text = std::fs::read_to_string(state.join("logs/ticker.log")).unwrap();
    let lines = numbered_lines(text.lines());
    assert!(lines > 100, "only {lines} lines");
}

/// `tend up -d` on a state directory whose disk is already full starts,
/// says so, and runs its services; the journal is written once space
/// returns.
#[test]
fn up_d_on_a_full_disk_starts_with_a_warning() {
    let p = Project::new(DETACHED);
    let Some((state, _mounted)) = p.tmpfs_state("4m") else {
        return;
    };
    let filler = fill(&state);
    let (_daemon, out) = up_detached(&p);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert!(stderr.contains("is full"), "no warning: {stderr}");
    p.wait_state("ticker", "running");
    p.wait_for("a few crashes", || restarts(&p, "crasher") >= 3);
    std::fs::remove_file(&filler).unwrap();
    p.wait_for("the journal to be written", || {
        let e = entries(&p);
        count(&e, "write_recovered", "journal") == 1 && journaled(&p, "started", "crasher") >= 3
    });
    let verified = p.ok(&["journal", "verify"]);
    assert!(verified.starts_with("journal ok"), "{verified}");
}

/// A loop-mounted ext4 image frozen with `fsfreeze`, thawed (and
/// unmounted) when dropped.
struct Frozen {
    mount: std::path::PathBuf,
    frozen: bool,
}

impl Frozen {
    fn freeze(&mut self) {
        assert!(Command::new("fsfreeze")
            .arg("-f")
            .arg(&self.mount)
            .status()
            .unwrap()
            .success());
        self.frozen = true;
    }

    fn thaw(&mut self) {
        if self.frozen {
            let _ = Command::new("fsfreeze").arg("-u").arg(&self.mount).status();
            self.frozen = false;
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.thaw();
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// The state directory's filesystem frozen (as for a snapshot): writes
/// to it block. Supervision and the API go on meanwhile — `tend status`
/// answers within a second, a crash-looping service is restarted at its
/// backoff's pace — and once thawed, the journal and the logs catch up.
#[test]
fn a_frozen_state_directory_stalls_no_supervision() {
    let p = Project::new(DETACHED);
    let state = p.path(".tend");
    std::fs::create_dir(&state).unwrap();
    let image = p.path("state.img");
    let made = || {
        let ok = Command::new("truncate")
            .args(["-s", "64M"])
            .arg(&image)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new("mkfs.ext4")
                .args(["-q", "-F"])
                .arg(&image)
                .status()
                .is_ok_and(|s| s.success())
            && mount(&[
                "-o",
                "loop",
                image.to_str().unwrap(),
                state.to_str().unwrap(),
            ]);
        (!ok).then_some("loop-mounting an ext4 image needs root, loop devices and mkfs.ext4")
    };
    if !suite::runs("root", || suite::root("freezing a filesystem")) {
        return;
    }
    if let Some(why) = made() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let mut frozen = Frozen {
        mount: state.clone(),
        frozen: false,
    };
    let (_daemon, out) = up_detached(&p);
    assert!(out.status.success(), "{out:?}");
    let ticker = p.wait_state("ticker", "running")["pid"].as_u64().unwrap();
    p.wait_for("a few crashes", || restarts(&p, "crasher") >= 3);

    // Read before the freeze: every request during it has a deadline.
    let before = restarts(&p, "crasher");
    frozen.freeze();
    let (mut slowest, mut last) = (std::time::Duration::ZERO, before);
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(3) {
        // Given up after 5 s (tend before this change hung here).
        let asked = std::time::Instant::now();
        let mut status = Command::new(env!("CARGO_BIN_EXE_tend"))
            .args(["status", "--json"])
            .current_dir(p.dir.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        while status.try_wait().unwrap().is_none() && asked.elapsed().as_secs() < 5 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = status.kill();
        let out = status.wait_with_output().unwrap();
        slowest = slowest.max(asked.elapsed());
        if let Ok(Value::Array(services)) = serde_json::from_slice::<Value>(&out.stdout) {
            if let Some(crasher) = services.iter().find(|s| s["name"] == "crasher") {
                last = crasher["restarts"].as_u64().unwrap_or(last);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let during = last - before;
    frozen.thaw();
    assert!(
        slowest < std::time::Duration::from_secs(1),
        "tend status took {slowest:?} while the disk was frozen"
    );
    // 3 s at a 100 ms backoff: about 20 (30 with no start time at all).
    assert!(during >= 10, "only {during} restarts in 3 s frozen");
    assert_eq!(p.service("ticker")["pid"].as_u64(), Some(ticker));

    p.wait_for("the journal to catch up", || {
        let starts = p.service("crasher")["starts"].as_u64().unwrap();
        journaled(&p, "started", "crasher") + 3 >= starts && starts > before + during
    });
    p.ok(&["stop", "crasher", "ticker"]);
    p.wait_state("ticker", "shutdown");
    p.wait_state("crasher", "shutdown");
    let crasher = p.service("crasher");
    assert_eq!(
        journaled(&p, "started", "crasher"),
        crasher["starts"].as_u64().unwrap(),
        "a start went unrecorded"
    );
    let text = std::fs::read_to_string(state.join("logs/ticker.log")).unwrap();
    let lines = numbered_lines(text.lines());
    assert!(lines > 300, "only {lines} lines");
    let verified = p.ok(&["journal", "verify"]);
    assert!(verified.starts_with("journal ok"), "{verified}");
}

/// What is staged to be renamed into place in the state directory
/// (`daemon.json.new`, `journal.head.tmp`).
fn staged(state: &std::path::Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(state)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|name| {
            let name = name.to_string_lossy();
            name.ends_with(".new") || name.ends_with(".tmp")
        })
        .collect()
}

/// Files written whole through a temporary file and a rename (the lease
/// `daemon.json`, the journal's head) leave no temporary file behind when
/// the disk is full: it is removed when the write or the rename fails.
#[test]
fn a_full_disk_leaves_no_temporary_file_in_the_state_directory() {
    let p = Project::new(DETACHED);
    let Some((state, _mounted)) = p.tmpfs_state("4m") else {
        return;
    };
    let filler = fill(&state);
    let (_daemon, out) = up_detached(&p);
    assert!(out.status.success(), "{out:?}");
    p.wait_state("ticker", "running");
    p.wait_for("a few crashes", || restarts(&p, "crasher") >= 3);
    assert_eq!(staged(&state), Vec::<std::ffi::OsString>::new());
    std::fs::remove_file(&filler).unwrap();
    p.wait_for("the journal to be written", || {
        journaled(&p, "started", "crasher") >= 3
    });
    assert_eq!(staged(&state), Vec::<std::ffi::OsString>::new());
}
