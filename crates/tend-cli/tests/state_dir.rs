//! The state directory under attack, through the real binary: tend runs as
//! root and its state directory sits beside a config others may write to.
//! Nothing planted in it (a symbolic link, a FIFO) is followed or blocks
//! the daemon; a state directory someone else owns or may write to is
//! refused, by the daemon and by root's readers (`tend logs`, `events`,
//! `journal verify`, `report`); and of any number of `tend up -d` started
//! at once exactly one runs the services.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{suite, Project, DEADLINE};

/// A config whose one service's command line names the project (to count
/// its processes), with a hook so `hooks/` is used.
fn config(dir: &Path) -> String {
    format!(
        r#"
[services.web]
shell = "echo web is up; while :; do sleep 1; done # {}"
"#,
        dir.display()
    )
}

/// A project whose `tend up -d`s are stopped, whatever the test saw.
struct Detached {
    project: Project,
}

impl Detached {
    fn new() -> Detached {
        let project = Project::new("");
        project.write_config(&config(project.dir.path()));
        Detached { project }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.project.path(name)
    }

    /// `tend up -d`, given up on (and failed) after the deadline: a hang
    /// is a failure, not a stuck test.
    fn up_d(&self) -> Result<Output, String> {
        self.project
            .tend_within(&["up", "-d"], Duration::from_secs(20))
    }

    /// The processes of this project's service now.
    fn services(&self) -> usize {
        processes(self.project.dir.path(), |argv| {
            argv.first().is_some_and(|a| a == "sh" || a == "/bin/sh")
        })
    }

    /// The detached daemons of this project now.
    fn daemons(&self) -> usize {
        processes(self.project.dir.path(), |argv| {
            argv.iter().any(|a| a == "--detached-child")
        })
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        // A FIFO an old daemon blocks on is opened, so it goes on and
        // can be stopped.
        for planted in [
            "tend.log",
            "logs/web.log",
            "daemon.json",
            "tend.lock",
            "journal.head",
            "journal.head.tmp",
        ] {
            let path = self.path(&format!(".tend/{planted}"));
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_fifo()) {
                let _ = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc_nonblock())
                    .open(&path);
            }
        }
        let _ = self.project.tend(&["down"]);
        for pid in matching_pids(self.project.dir.path(), |_| true) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

fn libc_nonblock() -> i32 {
    // O_NONBLOCK on Linux.
    0o4000
}

/// Pids of processes whose command line names `dir` and which `pick`s.
fn matching_pids(dir: &Path, pick: impl Fn(&[String]) -> bool) -> Vec<u32> {
    let marker = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let argv: Vec<String> = raw
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        });
        if !zombie && argv.iter().any(|a| a.contains(&marker)) && pick(&argv) {
            found.push(pid);
        }
    }
    found
}

fn processes(dir: &Path, pick: impl Fn(&[String]) -> bool) -> usize {
    matching_pids(dir, pick).len()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A file and a directory outside the project that root's tend must
/// leave as they are.
struct Victim {
    _dir: tempfile::TempDir,
    file: PathBuf,
    folder: PathBuf,
}

impl Victim {
    fn new() -> Victim {
        let dir = tempfile::Builder::new()
            .prefix("tend-victim")
            .tempdir()
            .unwrap();
        let file = dir.path().join("precious");
        std::fs::write(&file, "precious\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        Victim {
            _dir: dir,
            file,
            folder,
        }
    }

    fn untouched(&self) -> Result<(), String> {
        let content = std::fs::read_to_string(&self.file).unwrap();
        if content != "precious\n" {
            return Err(format!("the victim file was written: {content:?}"));
        }
        let mode = std::fs::metadata(&self.folder).unwrap().mode() & 0o7777;
        if mode != 0o755 {
            return Err(format!("the victim directory's mode became {mode:o}"));
        }
        let entries: Vec<_> = std::fs::read_dir(&self.folder)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        if !entries.is_empty() {
            return Err(format!(
                "files were made in the victim directory: {entries:?}"
            ));
        }
        Ok(())
    }
}

/// What is planted where, in a state directory made as tend makes it.
#[derive(Debug, Clone, Copy)]
enum Plant {
    /// A symbolic link to the victim file.
    FileLink,
    /// A symbolic link to the victim directory.
    DirLink,
    /// A FIFO.
    Fifo,
}

#[test]
fn nothing_planted_in_the_state_directory_is_followed_or_blocks_the_daemon() {
    let cases: &[(&str, Plant, &str)] = &[
        (".tend", Plant::DirLink, "symbolic link"),
        (".tend/logs", Plant::DirLink, "symbolic link"),
        (".tend/hooks", Plant::DirLink, "symbolic link"),
        (".tend/logs/web.log", Plant::FileLink, "symbolic link"),
        (".tend/logs/web.log", Plant::Fifo, "FIFO"),
        (".tend/logs/_hooks.log", Plant::FileLink, "symbolic link"),
        (".tend/tend.log", Plant::FileLink, "symbolic link"),
        (".tend/tend.log", Plant::Fifo, "FIFO"),
        (".tend/tend.lock", Plant::FileLink, "symbolic link"),
        (".tend/tend.lock", Plant::Fifo, "FIFO"),
        (".tend/daemon.json", Plant::FileLink, "symbolic link"),
        (".tend/daemon.json", Plant::Fifo, "FIFO"),
        (".tend/journal.db", Plant::FileLink, "symbolic link"),
        (".tend/journal.db-wal", Plant::FileLink, "symbolic link"),
        (".tend/journal.db-shm", Plant::Fifo, "FIFO"),
    ];
    let mut failures = Vec::new();
    for &(at, plant, said) in cases {
        let project = Detached::new();
        let victim = Victim::new();
        if at != ".tend" {
            for dir in [".tend", ".tend/logs", ".tend/hooks"] {
                std::fs::create_dir_all(project.path(dir)).unwrap();
                std::fs::set_permissions(project.path(dir), std::fs::Permissions::from_mode(0o700))
                    .unwrap();
            }
        }
        let path = project.path(at);
        let _ = std::fs::remove_dir(&path);
        match plant {
            Plant::FileLink => std::os::unix::fs::symlink(&victim.file, &path).unwrap(),
            Plant::DirLink => std::os::unix::fs::symlink(&victim.folder, &path).unwrap(),
            Plant::Fifo => {
                let made = Command::new("mkfifo").arg(&path).status().unwrap();
                assert!(made.success());
            }
        }
        let started = Instant::now();
        let out = match project.up_d() {
            Ok(out) => out,
            Err(hung) => {
                failures.push(format!("{at} as a {plant:?}: {hung}"));
                continue;
            }
        };
        let said_all = text(&out);
        let problem = if out.status.success() {
            Some(format!("`tend up -d` succeeded: {said_all}"))
        } else if !said_all.contains(&format!("{at} is a {said}")) {
            Some(format!(
                "the error does not name {at} as a {said}: {said_all}"
            ))
        } else {
            victim.untouched().err().or_else(|| {
                let running = project.services();
                (running != 0).then(|| format!("{running} service processes run"))
            })
        };
        if let Some(problem) = problem {
            failures.push(format!("{at} as a {plant:?}: {problem}"));
        } else {
            eprintln!("{at} as a {plant:?}: refused in {:?}", started.elapsed());
        }
        drop(project);
        // The victim lives until the daemon, if any, is gone.
        drop(victim);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_state_directory_another_user_owns_or_may_write_to_is_refused() {
    let cases: &[(&str, &str)] = &[
        (".tend", "owned by nobody"),
        (".tend", "group-writable"),
        (".tend", "writable by others"),
        (".tend/logs", "owned by nobody"),
        (".tend/logs", "group-writable"),
        (".tend/hooks", "writable by others"),
    ];
    let mut failures = Vec::new();
    for &(at, how) in cases {
        let project = Detached::new();
        for dir in [".tend", ".tend/logs", ".tend/hooks"] {
            std::fs::create_dir_all(project.path(dir)).unwrap();
            std::fs::set_permissions(project.path(dir), std::fs::Permissions::from_mode(0o700))
                .unwrap();
        }
        let path = project.path(at);
        let expected = match how {
            "owned by nobody" => {
                let done = Command::new("chown")
                    .arg("nobody")
                    .arg(&path)
                    .status()
                    .unwrap();
                assert!(done.success());
                "is owned by uid 65534, not by uid 0 who runs tend"
            }
            "group-writable" => {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o770)).unwrap();
                "is writable by its group or others (mode 0770)"
            }
            _ => {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o703)).unwrap();
                "is writable by its group or others (mode 0703)"
            }
        };
        let out = match project.up_d() {
            Ok(out) => out,
            Err(hung) => {
                failures.push(format!("{at} {how}: {hung}"));
                continue;
            }
        };
        let said = text(&out);
        let problem = if out.status.success() {
            Some(format!("`tend up -d` succeeded: {said}"))
        } else if !said.contains(&format!("{at} {expected}")) {
            Some(format!("the error does not say {at} {expected:?}: {said}"))
        } else if project.services() != 0 {
            Some("a service runs".into())
        } else if project.path(".tend/journal.db").exists() {
            Some("a journal was made".into())
        } else {
            None
        };
        if let Some(problem) = problem {
            failures.push(format!("{at} {how}: {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tend_logs_without_a_daemon_follows_no_planted_symbolic_link() {
    let project = Detached::new();
    let victim = Victim::new();
    std::fs::write(&victim.file, "root's secret\n").unwrap();
    for dir in [".tend", ".tend/logs"] {
        std::fs::create_dir_all(project.path(dir)).unwrap();
        std::fs::set_permissions(project.path(dir), std::fs::Permissions::from_mode(0o700))
            .unwrap();
    }
    std::os::unix::fs::symlink(&victim.file, project.path(".tend/logs/web.log")).unwrap();
    let out = project.project.tend(&["logs", "web"]);
    let said = text(&out);
    assert!(
        !said.contains("root's secret"),
        "tend logs followed the link: {said}"
    );
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("symbolic link"), "{said}");
}

#[test]
fn of_racing_tend_up_d_exactly_one_runs_the_services_and_down_stops_all() {
    const ROUNDS: usize = 4;
    const RACERS: usize = 8;
    let project = Detached::new();
    let project_dir = project.project.dir.path().to_path_buf();
    for round in 1..=ROUNDS {
        // Every other round from no state directory at all: its making
        // races too.
        if round % 2 == 1 {
            let _ = std::fs::remove_dir_all(project_dir.join(".tend"));
        }
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_tend"))
                    .args(["up", "-d"])
                    .current_dir(&project_dir)
                    .env_remove("TEND_CONFIG")
                    .env_remove("TEND_STATE_DIR")
                    .env_remove("TEND_SOCKET")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outputs: Vec<Output> = racers
            .into_iter()
            .map(|r| r.wait_with_output().unwrap())
            .collect();
        let won = outputs.iter().filter(|o| o.status.success()).count();
        let said: Vec<String> = outputs.iter().map(text).collect();
        assert_eq!(
            won,
            1,
            "round {round}: {won} of {RACERS} succeeded:\n{}",
            said.join("\n---\n")
        );
        for (output, said) in outputs.iter().zip(&said) {
            if !output.status.success() {
                assert!(
                    said.contains("tend is already running (pid "),
                    "round {round}: a loser said: {said}"
                );
            }
        }
        // Settled: the winner's service is up.
        let start = Instant::now();
        while project.services() == 0 {
            assert!(
                start.elapsed() < DEADLINE,
                "round {round}: the service never started"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        // Anything a loser started would be up by now too.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(project.daemons(), 1, "round {round}: daemons");
        assert_eq!(
            project.services(),
            1,
            "round {round}: the service runs more than once"
        );
        let down = project.project.tend(&["down"]);
        assert!(down.status.success(), "round {round}: {}", text(&down));
        let start = Instant::now();
        while project.daemons() + project.services() > 0 {
            assert!(
                start.elapsed() < DEADLINE,
                "round {round}: after `tend down`, {} daemons and {} services still run",
                project.daemons(),
                project.services()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// `tend ARGS` as `user` (uid and gid; `None`: root), given up on after
/// the deadline: a reader that hangs on a planted FIFO is a failure.
fn read_as(project: &Detached, user: Option<u32>, args: &[&str]) -> Result<Output, String> {
    let mut command;
    if let Some(id) = user {
        use std::os::unix::process::CommandExt as _;
        command = Command::new(suite::for_others(env!("CARGO_BIN_EXE_tend")));
        command.uid(id).gid(id);
    } else {
        command = Command::new(env!("CARGO_BIN_EXE_tend"));
    }
    let child = command
        .args(args)
        .current_dir(project.project.dir.path())
        .env_remove("TEND_CONFIG")
        .env_remove("TEND_STATE_DIR")
        .env_remove("TEND_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (sent, got) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sent.send(child.wait_with_output());
    });
    match got.recv_timeout(Duration::from_secs(20)) {
        Ok(output) => Ok(output.unwrap()),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            Err(format!("`tend {}` hung (20 s)", args.join(" ")))
        }
    }
}

/// The commands that read a state directory without a daemon.
const READERS: &[&[&str]] = &[
    &["logs", "web"],
    &["events"],
    &["journal", "verify"],
    &["report", "-o", "/dev/null"],
];

#[test]
fn root_s_readers_refuse_a_state_directory_another_user_owns_and_its_owner_reads_it() {
    const NOBODY: u32 = 65534;
    let project = Detached::new();
    // nobody may reach the project, and owns its state directory: what
    // is in it is nobody's to swap between the check and the open (the
    // journal, a regular file when looked at, for a FIFO or a symbolic
    // link before SQLite opens it by path). Refused whatever it holds.
    std::fs::set_permissions(project.path(""), std::fs::Permissions::from_mode(0o755)).unwrap();
    for dir in [".tend", ".tend/logs"] {
        std::fs::create_dir_all(project.path(dir)).unwrap();
        std::fs::set_permissions(project.path(dir), std::fs::Permissions::from_mode(0o700))
            .unwrap();
    }
    std::fs::write(project.path(".tend/logs/web.log"), "nobody's line\n").unwrap();
    std::fs::write(project.path(".tend/journal.db"), "").unwrap();
    let chowned = Command::new("chown")
        .args(["-R", "-h", "nobody:"])
        .arg(project.path(".tend"))
        .status()
        .unwrap();
    assert!(chowned.success());

    let mut failures = Vec::new();
    for args in READERS {
        let out = match read_as(&project, None, args) {
            Ok(out) => out,
            Err(hung) => {
                failures.push(hung);
                continue;
            }
        };
        let said = text(&out);
        let expected = ".tend is owned by uid 65534 (nobody), not by uid 0 who runs tend: refused";
        if out.status.success() {
            failures.push(format!("`tend {}` succeeded: {said}", args.join(" ")));
        } else if !said.contains(expected)
            || !said.contains("run this as that user: sudo -u nobody")
        {
            failures.push(format!(
                "`tend {}` does not say {expected:?} and whom to run it as: {said}",
                args.join(" ")
            ));
        }
    }
    // Its owner reads it.
    match read_as(&project, Some(NOBODY), &["logs", "web"]) {
        Ok(out) if out.status.success() && text(&out).contains("nobody's line") => {}
        Ok(out) => failures.push(format!("nobody's `tend logs web`: {}", text(&out))),
        Err(hung) => failures.push(hung),
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn readers_refuse_a_journal_planted_as_a_symbolic_link_or_fifo() {
    let mut failures = Vec::new();
    for plant in [Plant::FileLink, Plant::Fifo] {
        let project = Detached::new();
        let victim = Victim::new();
        std::fs::create_dir_all(project.path(".tend")).unwrap();
        std::fs::set_permissions(
            project.path(".tend"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let journal = project.path(".tend/journal.db");
        let said_as = match plant {
            Plant::Fifo => {
                assert!(Command::new("mkfifo")
                    .arg(&journal)
                    .status()
                    .unwrap()
                    .success());
                "is a FIFO, not a regular file: refused"
            }
            _ => {
                std::os::unix::fs::symlink(&victim.file, &journal).unwrap();
                "is a symbolic link, not a regular file: refused"
            }
        };
        for args in &READERS[1..] {
            match read_as(&project, None, args) {
                Ok(out) if !out.status.success() && text(&out).contains(said_as) => {}
                Ok(out) => failures.push(format!(
                    "`tend {}` on a {plant:?}: {}",
                    args.join(" "),
                    text(&out)
                )),
                Err(hung) => failures.push(format!("{hung} on a {plant:?}")),
            }
        }
        victim.untouched().unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Makes the state directory as tend makes it (0700), for a plant in it.
fn state_directory(project: &Detached) {
    for dir in [".tend", ".tend/logs", ".tend/hooks"] {
        std::fs::create_dir_all(project.path(dir)).unwrap();
        std::fs::set_permissions(project.path(dir), std::fs::Permissions::from_mode(0o700))
            .unwrap();
    }
}

/// The journal's files beside `journal.db`: a symbolic link or FIFO at
/// `journal.head`, or a second hard link to `journal.db`, its `-wal` or
/// its head, is refused by name before anything is read or written
/// through it (SQLite opens the database by path), and the other name is
/// left as it was.
#[test]
fn a_planted_journal_file_or_hard_link_is_refused_by_name() {
    let cases: &[(&str, Option<Plant>, &str)] = &[
        (".tend/journal.head", Some(Plant::FileLink), "symbolic link"),
        (".tend/journal.head", Some(Plant::Fifo), "FIFO"),
        (".tend/journal.db", None, "file with other hard links"),
        (".tend/journal.db-wal", None, "file with other hard links"),
        (".tend/journal.head", None, "file with other hard links"),
    ];
    let mut failures = Vec::new();
    for &(at, plant, said) in cases {
        let project = Detached::new();
        let victim = Victim::new();
        state_directory(&project);
        let path = project.path(at);
        // A hard link to a file in the project (the same filesystem).
        let other = project.path("other-name");
        match plant {
            Some(Plant::FileLink) => std::os::unix::fs::symlink(&victim.file, &path).unwrap(),
            Some(Plant::Fifo) => {
                assert!(Command::new("mkfifo")
                    .arg(&path)
                    .status()
                    .unwrap()
                    .success());
            }
            Some(Plant::DirLink) => unreachable!(),
            None => {
                std::fs::write(&other, "").unwrap();
                std::fs::hard_link(&other, &path).unwrap();
            }
        }
        let out = match project.up_d() {
            Ok(out) => out,
            Err(hung) => {
                failures.push(format!("{at} as {said}: {hung}"));
                continue;
            }
        };
        let said_all = text(&out);
        let problem = if out.status.success() {
            Some(format!("`tend up -d` succeeded: {said_all}"))
        } else if !said_all.contains(&format!("{at} is a {said}")) {
            Some(format!(
                "the error does not name {at} as a {said}: {said_all}"
            ))
        } else if plant.is_none() && std::fs::metadata(&other).unwrap().len() != 0 {
            Some("the other name was written through".into())
        } else {
            victim.untouched().err().or_else(|| {
                let running = project.services();
                (running != 0).then(|| format!("{running} service processes run"))
            })
        };
        if let Some(problem) = problem {
            failures.push(format!("{at} as {said}: {problem}"));
        }
        drop(project);
        drop(victim);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `journal.head` is written through `journal.head.tmp` and a rename: a
/// symbolic link planted there is not followed (root truncated and wrote
/// the file it named), and a FIFO does not block the journal thread (and
/// with it `tend down`): the temporary file is made new, 0600, whatever
/// was there removed first.
#[test]
fn a_planted_journal_head_tmp_is_replaced_not_followed_or_blocked_on() {
    let mut failures = Vec::new();
    for plant in [Plant::FileLink, Plant::Fifo] {
        let project = Detached::new();
        let victim = Victim::new();
        state_directory(&project);
        let tmp = project.path(".tend/journal.head.tmp");
        match plant {
            Plant::FileLink => std::os::unix::fs::symlink(&victim.file, &tmp).unwrap(),
            _ => assert!(Command::new("mkfifo").arg(&tmp).status().unwrap().success()),
        }
        let problem = (|| {
            let out = project.up_d()?;
            if !out.status.success() {
                return Err(format!("`tend up -d` failed: {}", text(&out)));
            }
            // The service's start is journaled, and the head written.
            let head = project.path(".tend/journal.head");
            let started = Instant::now();
            while !std::fs::symlink_metadata(&head).is_ok_and(|m| m.is_file()) {
                if started.elapsed() > DEADLINE {
                    return Err(format!(
                        "journal.head never written as a regular file: {:?}",
                        std::fs::symlink_metadata(&head).map(|m| m.file_type())
                    ));
                }
                victim.untouched()?;
                std::thread::sleep(Duration::from_millis(50));
            }
            victim.untouched()?;
            let mode = std::fs::metadata(&head).unwrap().mode() & 0o777;
            if mode != 0o600 {
                return Err(format!("journal.head is mode {mode:o}, not 0600"));
            }
            let down = project
                .project
                .tend_within(&["down"], Duration::from_secs(20))?;
            if !down.status.success() {
                return Err(format!("`tend down` failed: {}", text(&down)));
            }
            victim.untouched()
        })();
        if let Err(problem) = problem {
            failures.push(format!("journal.head.tmp as a {plant:?}: {problem}"));
        }
        drop(project);
        drop(victim);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
