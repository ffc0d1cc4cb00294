//! The journal does not lie and does not die, through the program: rows
//! deleted at its end, all of them or its table are found (against the
//! head kept in `journal.head`, or one exported); a clean stop leaves
//! every row in `journal.db` itself; `verify` leaves the file as it found
//! it; a file truncated or replaced, between runs or under a running
//! tend, is moved aside and journaling goes on, saying so; the writer
//! survives a full disk and catches up.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Project;
use rusqlite::Connection;
use serde_json::Value;

const CONFIG: &str = r#"
[supervisor]
intensity = { max_restarts = 100000, period = "1s" }

[services.sleeper]
shell = "sleep 1000"

[services.crasher]
shell = "exit 1"
backoff = { initial = "20ms", max = "20ms" }
start_limit = "none"
"#;

fn journal(p: &Project) -> PathBuf {
    p.path(".tend/journal.db")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn rows(file: &Path) -> i64 {
    Connection::open(file)
        .unwrap()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

/// `tend journal verify`: its exit code and what it said.
fn verify(p: &Project, args: &[&str]) -> (i32, String) {
    let out = p.tend(&[&["journal", "verify"], args].concat());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), said)
}

fn entries(p: &Project) -> Vec<Value> {
    p.ok(&["events", "--json", "--since", "1h"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A project that ran a while (a crasher writing rows) and was stopped
/// cleanly.
fn ran_and_stopped() -> Project {
    let mut p = Project::new(CONFIG);
    p.up();
    p.wait_for("a few crashes", || {
        p.service("crasher")["restarts"].as_u64().unwrap_or(0) >= 10
    });
    assert_eq!(p.down(), 0);
    p
}

#[test]
fn a_clean_stop_leaves_every_row_in_the_file_itself() {
    let p = ran_and_stopped();
    let (code, said) = verify(&p, &[]);
    assert_eq!(code, 0, "{said}");
    let verified: i64 = said
        .strip_prefix("journal ok: ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    // A backup of journal.db alone, without its -wal.
    let backup = tempfile::tempdir().unwrap();
    let copy = backup.path().join("journal.db");
    std::fs::copy(journal(&p), &copy).unwrap();
    assert!(verified > 20);
    assert_eq!(rows(&copy), verified, "rows left only in the -wal");
    assert!(!with_suffix(&journal(&p), "-wal").exists());
}

#[test]
fn verify_leaves_the_file_as_it_found_it() {
    let p = ran_and_stopped();
    let file = journal(&p);
    let before = std::fs::read(&file).unwrap();
    let (code, said) = verify(&p, &[]);
    assert_eq!(code, 0, "{said}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "verify wrote the file"
    );
    for companion in ["-wal", "-shm"] {
        assert!(
            !with_suffix(&file, companion).exists(),
            "verify made {companion}"
        );
    }
    // Nor does it make a table in a file that has none.
    Connection::open(&file)
        .unwrap()
        .execute_batch("DROP TABLE events")
        .unwrap();
    let before = std::fs::read(&file).unwrap();
    let (code, _) = verify(&p, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "verify wrote the file"
    );
}

#[test]
fn verify_finds_rows_deleted_at_the_end_all_of_them_and_the_table() {
    let p = ran_and_stopped();
    let file = journal(&p);
    let original = std::fs::read(&file).unwrap();
    let last = rows(&file);
    let half = last / 2;
    let cases = [
        (
            "DELETE FROM events WHERE id = (SELECT max(id) FROM events)".to_owned(),
            format!("journal broken at row {last}: row {last} is missing at the end"),
        ),
        (
            format!("DELETE FROM events WHERE id > {half}"),
            format!(
                "journal broken at row {}: rows {} to {last} are missing at the end",
                half + 1,
                half + 1
            ),
        ),
        (
            "DELETE FROM events".to_owned(),
            "journal broken at row 1: every row is gone".to_owned(),
        ),
        (
            "DROP TABLE events".to_owned(),
            "journal broken at row 1: the events table is gone (dropped)".to_owned(),
        ),
    ];
    for (edit, expected) in cases {
        std::fs::write(&file, &original).unwrap();
        let (code, said) = verify(&p, &[]);
        assert_eq!(code, 0, "{said}");
        Connection::open(&file)
            .unwrap()
            .execute_batch(&edit)
            .unwrap();
        let (code, said) = verify(&p, &[]);
        assert_eq!(code, 1, "{edit}: {said}");
        assert!(said.starts_with(&expected), "{edit}: {said}");
    }
}

#[test]
fn an_exported_head_catches_a_chain_recomputed_with_its_head_file() {
    let p = ran_and_stopped();
    let head = p.ok(&["journal", "head"]).trim().to_owned();
    let (code, said) = verify(&p, &["--head", &head]);
    assert_eq!(code, 0, "{said}");
    // Someone who can write the state directory rewrites history: a
    // whole new journal, its own head beside it, all consistent.
    let file = journal(&p);
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(p.path(".tend/journal.head")).unwrap();
    let mut forged = Project::new(CONFIG);
    forged.up();
    assert_eq!(forged.down(), 0);
    std::fs::copy(journal(&forged), &file).unwrap();
    std::fs::copy(
        forged.path(".tend/journal.head"),
        p.path(".tend/journal.head"),
    )
    .unwrap();
    let (code, said) = verify(&p, &[]);
    assert_eq!(code, 0, "the head file cannot tell: {said}");
    let (code, said) = verify(&p, &["--head", &head]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("the head given (--head)"), "{said}");
}

#[test]
fn a_journal_truncated_between_runs_is_set_aside_and_journaling_goes_on() {
    let mut p = ran_and_stopped();
    let file = journal(&p);
    let last = rows(&file);
    std::fs::File::create(&file).unwrap(); // truncated to nothing
    p.up();
    p.wait_for("new rows", || {
        entries(&p).iter().any(|e| e["kind"] == "started")
    });
    let first = &entries(&p)[0];
    assert_eq!(first["kind"], "journal_corrupt", "{first}");
    assert!(
        first["error"].as_str().unwrap().contains("truncated"),
        "{first}"
    );
    assert!(Path::new(first["moved_to"].as_str().unwrap()).exists());
    let (code, said) = verify(&p, &[]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("this chain began after"), "{said}");
    assert_eq!(p.down(), 0);
    assert!(rows(&file) > 1);
    assert!(last > 1);
}

#[test]
fn a_journal_truncated_or_replaced_under_a_running_tend_is_set_aside_and_journaling_goes_on() {
    for how in ["truncated", "replaced"] {
        let mut p = Project::new(CONFIG);
        p.up();
        p.wait_for("a few crashes", || {
            p.service("crasher")["restarts"].as_u64().unwrap_or(0) >= 5
        });
        let file = journal(&p);
        match how {
            "truncated" => drop(std::fs::File::create(&file).unwrap()),
            _ => {
                let other = p.path("other.db");
                Connection::open(&other)
                    .unwrap()
                    .execute_batch("CREATE TABLE unrelated (x); INSERT INTO unrelated VALUES (1);")
                    .unwrap();
                std::fs::rename(&other, &file).unwrap();
            }
        }
        p.wait_for("the journal to begin again, saying so", || {
            entries(&p)
                .first()
                .is_some_and(|e| e["kind"] == "journal_corrupt")
        });
        let first = entries(&p)[0].clone();
        assert!(
            first["error"]
                .as_str()
                .unwrap()
                .contains(&format!("{how} while tend ran")),
            "{first}"
        );
        assert!(first["last_good_row"].as_u64().unwrap() > 5, "{first}");
        // Journaling goes on in the new file.
        let seen = entries(&p).len();
        p.wait_for("more rows", || entries(&p).len() > seen + 5);
        let (code, said) = verify(&p, &[]);
        assert_eq!(code, 0, "{said}");
        assert!(said.contains("this chain began after"), "{said}");
        assert_eq!(p.down(), 0);
        assert!(rows(&file) > 5, "{how}");
    }
}

/// The state directory on a small tmpfs that fills up, `tend up`'s own
/// standard error failing too (`/dev/full`, as `tend up -d`'s `tend.log`
/// on that disk does): the journal's writer reports the failure there,
/// and that failing report must not kill it. Once space is back every
/// row is written.
#[test]
fn the_journal_writer_survives_a_full_disk_and_catches_up() {
    let mut p = Project::new(CONFIG);
    let Some((state, _mounted)) = p.tmpfs_state("8m") else {
        return;
    };
    // Its standard error fails too, every write (as a `tend.log` on the
    // full disk does once its last page is taken): the writer's report of
    // the failure must not be what kills it.
    let err = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    p.daemon = Some(
        p.command(env!("CARGO_BIN_EXE_tend"))
            .arg("up")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap(),
    );
    p.wait_for("the API", || p.tend(&["status"]).status.success());
    p.wait_for("a few crashes", || {
        p.service("crasher")["restarts"].as_u64().unwrap_or(0) >= 3
    });
    // Full: fill the tmpfs, and keep it full until the journal fails
    // (SQLite may find room in its -wal for a while).
    let filler = state.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 4096];
    let fill = |file: &mut std::fs::File| {
        use std::io::Write;
        while file.write_all(&block).is_ok() {}
    };
    fill(&mut file);
    // The journal falls behind the restarts: its writer holds them.
    let exits = |p: &Project| {
        entries(p)
            .iter()
            .filter(|e| e["kind"] == "exited" && e["service"] == "crasher")
            .count() as u64
    };
    let start = Instant::now();
    while p.service("crasher")["restarts"].as_u64().unwrap() < exits(&p) + 100 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the journal never failed"
        );
        fill(&mut file);
        std::thread::sleep(Duration::from_millis(100));
    }
    let during = p.service("crasher")["restarts"].as_u64().unwrap();
    drop(file);
    std::fs::remove_file(&filler).unwrap();
    // Space is back: the writer takes what it held, and goes on.
    p.wait_for("the journal to be written again", || {
        let e = entries(&p);
        e.iter()
            .any(|e| e["kind"] == "write_recovered" && e["file"] == "journal")
    });
    p.wait_for("rows after the recovery", || {
        let e = entries(&p);
        let recovered = e
            .iter()
            .position(|e| e["kind"] == "write_recovered" && e["file"] == "journal")
            .unwrap();
        e[recovered..]
            .iter()
            .filter(|e| e["kind"] == "exited")
            .count()
            > 5
    });
    let journaled = exits(&p);
    assert!(
        journaled > during,
        "{journaled} exits journaled, {during} restarts before space came back"
    );
    let (code, said) = verify(&p, &[]);
    assert_eq!(code, 0, "{said}");
    // (How the daemon says it stops, on a failing stderr, is not this
    // test's.)
    p.ok(&["down"]);
    p.wait_exit();
}

/// A restart storm with a shutdown racing it: incarnations spawned as the
/// shutdown began end before they are up, and each exit journaled still
/// has its start (same service, generation and pid) in the same run.
#[test]
fn every_exit_in_a_storm_cut_by_a_shutdown_has_its_start() {
    let mut p = Project::new(
        r#"
[supervisor]
intensity = { max_restarts = 100000, period = "1s" }

[services.storm]
shell = "sleep 0.0$((RANDOM % 5 + 5)); exit 1"
replicas = 20
backoff = { initial = "1ms", max = "1ms" }
start_limit = "none"
"#,
    );
    for _ in 0..6 {
        p.up();
        p.wait_for("a storm", || {
            p.status()
                .iter()
                .map(|s| s["restarts"].as_u64().unwrap_or(0))
                .sum::<u64>()
                >= 60
        });
        assert_eq!(p.down(), 0);
    }
    let db = Connection::open(journal(&p)).unwrap();
    let mut statement = db
        .prepare("SELECT id, kind || ':' || supervisor, data FROM events ORDER BY id")
        .unwrap();
    let rows: Vec<(i64, String, Value)> = statement
        .query_map([], |r| {
            let data: String = r.get(2)?;
            Ok((r.get(0)?, r.get(1)?, serde_json::from_str(&data).unwrap()))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut started = std::collections::HashSet::new();
    let mut exits = 0;
    let mut orphans = Vec::new();
    for (id, kind, data) in rows {
        let key = |d: &Value| {
            (
                d["service"].to_string(),
                d["generation"].as_u64(),
                d["pid"].as_u64(),
            )
        };
        match kind.as_str() {
            // A new run (the root's start): generations begin again.
            "supervisor_started:tend" => started.clear(),
            kind if kind.starts_with("started:") => {
                started.insert(key(&data));
            }
            kind if kind.starts_with("exited:") && data["pid"].is_u64() => {
                exits += 1;
                if !started.contains(&key(&data)) {
                    orphans.push(id);
                }
            }
            _ => {}
        }
    }
    assert!(exits > 300, "{exits}");
    assert!(orphans.is_empty(), "exits with no start: rows {orphans:?}");
}

/// The daemon's peak resident memory (`VmHWM`), in bytes.
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// Three clients reading a 100,000-row history at once: the daemon
/// streams it page by page, and its peak memory grows by a few pages per
/// client, not by the history.
#[test]
fn three_readers_of_a_long_history_leave_the_daemon_s_memory_bounded() {
    const ROWS: u64 = 100_000;
    let made = Instant::now();
    let mut p = Project::new(CONFIG.replace("exit 1", "sleep 1000").as_str());
    std::fs::create_dir(p.path(".tend")).unwrap();
    {
        let mut journal = tend_journal::Journal::open(journal(&p)).unwrap();
        let records: Vec<tend_journal::Record> = (0..ROWS)
            .map(|i| tend_journal::Record::Started {
                service: format!("service-{}-{}", i % 50, "x".repeat(150)),
                generation: i,
                pid: Some(1),
                start_ticks: None,
                boot_id: None,
            })
            .collect();
        for chunk in records.chunks(10_000) {
            let now = std::time::SystemTime::now();
            journal
                .append(chunk.iter().map(|r| (now, "tend", r)))
                .unwrap();
        }
    }
    eprintln!("{ROWS} rows made in {:?}", made.elapsed());
    p.up();
    let pid = p.daemon.as_ref().unwrap().id();
    let before = peak_memory(pid);
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let mut command = p.command(env!("CARGO_BIN_EXE_tend"));
            command
                .args(["events", "--json", "--since", "100d"])
                .stdout(Stdio::piped());
            let mut child = command.spawn().unwrap();
            std::thread::spawn(move || {
                use std::io::BufRead;
                let out = child.stdout.take().unwrap();
                let lines = std::io::BufReader::new(out).lines().count() as u64;
                assert!(child.wait().unwrap().success());
                lines
            })
        })
        .collect();
    for reader in readers {
        assert!(reader.join().unwrap() >= ROWS);
    }
    let grew = peak_memory(pid).saturating_sub(before);
    eprintln!("peak memory grew by {} MiB", grew >> 20);
    assert!(grew < 48 << 20, "the daemon grew by {} MiB", grew >> 20);
    assert_eq!(p.down(), 0);
}

/// `tend journal verify` and `tend journal head`, run by root without a
/// daemon, on a planted `journal.head`: a symbolic link (to a secret) is
/// not followed, a FIFO does not hang them, a head file of something
/// else is described by its length and never shown; and a `journal.db`
/// with a second hard link is refused, by name, before SQLite opens it.
#[test]
fn readers_neither_follow_nor_block_on_nor_show_a_planted_journal_file() {
    let p = ran_and_stopped();
    let head = p.path(".tend/journal.head");
    let original = std::fs::read(&head).unwrap();
    let secret = p.path("shadow");
    std::fs::write(
        &secret,
        "root:$6$SECRETSALT$SECRETHASH:19000:0:99999:7:::\n",
    )
    .unwrap();
    let restore = || {
        let _ = std::fs::remove_file(&head);
        std::fs::write(&head, &original).unwrap();
    };
    let plants: [(&str, &dyn Fn(), &str); 4] = [
        (
            "a symbolic link",
            &|| std::os::unix::fs::symlink(&secret, &head).unwrap(),
            ".tend/journal.head is a symbolic link",
        ),
        (
            "a FIFO",
            &|| {
                let made = std::process::Command::new("mkfifo")
                    .arg(&head)
                    .status()
                    .unwrap();
                assert!(made.success());
            },
            ".tend/journal.head is a FIFO",
        ),
        (
            "a copy of the secret",
            &|| {
                std::fs::copy(&secret, &head).unwrap();
            },
            "found 49 bytes",
        ),
        (
            "a second hard link to journal.db",
            &|| {
                restore();
                std::fs::hard_link(journal(&p), p.path("other-name")).unwrap();
            },
            ".tend/journal.db is a file with other hard links",
        ),
    ];
    let mut failures = Vec::new();
    for (what, plant, expected) in plants {
        let _ = std::fs::remove_file(&head);
        plant();
        for command in ["verify", "head"] {
            // A bad head file is no business of `tend journal head`,
            // which prints the table's.
            if what == "a copy of the secret" && command == "head" {
                continue;
            }
            let out = match p.tend_within(&["journal", command], Duration::from_secs(20)) {
                Ok(out) => out,
                Err(hung) => {
                    failures.push(format!("{what}: {hung}"));
                    continue;
                }
            };
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if out.status.success() {
                failures.push(format!(
                    "{what}: `tend journal {command}` succeeded: {said}"
                ));
            } else if said.contains("SECRET") {
                failures.push(format!(
                    "{what}: `tend journal {command}` showed the secret: {said}"
                ));
            } else if !said.contains(expected) {
                failures.push(format!(
                    "{what}: `tend journal {command}` does not say {expected:?}: {said}"
                ));
            }
        }
    }
    let _ = std::fs::remove_file(p.path("other-name"));
    restore();
    let (code, said) = verify(&p, &[]);
    assert_eq!(code, 0, "{said}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
