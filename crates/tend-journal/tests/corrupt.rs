//! A journal file SQLite finds damaged is moved aside with its companions
//! and the last row of it that verifies; a sound one (edited rows
//! included) never is.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::Connection;
use tend_journal::{set_aside_if_corrupt, Journal, Record};

fn journal_with(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut journal = Journal::open(&path).unwrap();
    let records: Vec<Record> = (0..n)
        .map(|i| Record::Started {
            service: format!("service-{i}-{}", "x".repeat(i % 50)),
            generation: i as u64,
            pid: Some(1000 + i as u32),
            start_ticks: None,
            boot_id: None,
        })
        .collect();
    journal
        .append(records.iter().map(|r| (SystemTime::now(), "tend", r)))
        .unwrap();
    drop(journal);
    // The last connection closed: everything is in the main file.
    assert!(!with_suffix(&path, "-wal").exists());
    (dir, path)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn hash_of(path: &Path, id: i64) -> String {
    let hash: Vec<u8> = Connection::open(path)
        .unwrap()
        .query_row("SELECT hash FROM events WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn at(stamp: &str) -> SystemTime {
    humantime::parse_rfc3339(stamp).unwrap()
}

#[test]
fn garbage_is_moved_aside_with_its_companions_named_with_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    std::fs::write(&path, "garbage\n").unwrap();
    std::fs::write(with_suffix(&path, "-wal"), "stale wal").unwrap();
    std::fs::write(with_suffix(&path, "-shm"), "stale shm").unwrap();
    let aside = set_aside_if_corrupt(&path, at("2026-12-06T23:15:00Z"))
        .unwrap()
        .expect("corrupt");
    let expected = dir.path().join("journal.db.corrupt-20261206T231500Z");
    assert_eq!(aside.moved_to, expected);
    assert_eq!(aside.error, "file is not a database");
    assert_eq!(aside.last_good, None);
    assert_eq!(std::fs::read_to_string(&expected).unwrap(), "garbage\n");
    assert_eq!(
        std::fs::read_to_string(with_suffix(&expected, "-wal")).unwrap(),
        "stale wal"
    );
    assert!(with_suffix(&expected, "-shm").exists());
    for gone in [
        path.clone(),
        with_suffix(&path, "-wal"),
        with_suffix(&path, "-shm"),
    ] {
        assert!(!gone.exists(), "{}", gone.display());
    }
    match aside.record() {
        Record::JournalCorrupt {
            moved_to,
            last_good_row: None,
            last_good_hash: None,
            ..
        } => assert_eq!(moved_to, expected.display().to_string()),
        other => panic!("{other:?}"),
    }
    // A new journal begins where it was.
    let mut journal = Journal::open(&path).unwrap();
    journal
        .append([(SystemTime::now(), "tend", &aside.record())])
        .unwrap();
    let verification = journal.verify().unwrap();
    assert_eq!(verification.first_bad, None);
    assert_eq!(verification.began_after, Some(aside.record()));
    // A second corrupt file in the same second does not replace the first.
    drop(journal);
    std::fs::write(&path, vec![b'y'; 5000]).unwrap();
    let again = set_aside_if_corrupt(&path, at("2026-12-06T23:15:00Z"))
        .unwrap()
        .expect("corrupt");
    assert_eq!(
        again.moved_to,
        dir.path().join("journal.db.corrupt-20261206T231500Z-2")
    );
    assert_eq!(std::fs::read_to_string(&expected).unwrap(), "garbage\n");
}

#[test]
fn a_sound_journal_is_left_alone_even_with_edited_rows() {
    let (dir, path) = journal_with(20);
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "UPDATE events SET service = 'other' WHERE id = 3;
             UPDATE events SET at_ms = 'noon' WHERE id = 4;
             DELETE FROM events WHERE id = 7;",
        )
        .unwrap();
    assert_eq!(
        set_aside_if_corrupt(&path, SystemTime::now()).unwrap(),
        None
    );
    assert!(path.exists());
    // The file and its head (journal.head), nothing moved.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    assert_eq!(
        Journal::open(&path)
            .unwrap()
            .verify()
            .unwrap()
            .first_bad
            .unwrap()
            .id,
        3
    );
    // Nor is a missing one made.
    let missing = dir.path().join("none.db");
    assert_eq!(
        set_aside_if_corrupt(&missing, SystemTime::now()).unwrap(),
        None
    );
    assert!(!missing.exists());
}

#[test]
fn a_garbled_header_is_corrupt() {
    let (_dir, path) = journal_with(50);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..16].copy_from_slice(b"not sqlite here!");
    std::fs::write(&path, &bytes).unwrap();
    let aside = set_aside_if_corrupt(&path, SystemTime::now())
        .unwrap()
        .expect("corrupt");
    assert_eq!(aside.error, "file is not a database");
    assert_eq!(aside.last_good, None);
}

#[test]
fn a_truncated_file_is_corrupt_and_its_readable_rows_give_the_last_good_hash() {
    let (_dir, path) = journal_with(3000);
    let size = std::fs::metadata(&path).unwrap().len();
    let hashes: Vec<String> = (1..=3000).map(|id| hash_of(&path, id)).collect();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(size / 2).unwrap();
    drop(file);
    let aside = set_aside_if_corrupt(&path, SystemTime::now())
        .unwrap()
        .expect("corrupt");
    assert!(!aside.error.is_empty());
    let (row, hash) = aside.last_good.expect("the first pages still read");
    assert!((1..3000).contains(&row), "{row}");
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, hashes[usize::try_from(row).unwrap() - 1]);
    assert!(!path.exists());
}

#[test]
fn a_garbled_page_in_the_middle_is_corrupt() {
    let (_dir, path) = journal_with(3000);
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    let middle = (bytes.len() / page / 2) * page;
    for b in &mut bytes[middle..middle + page] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let aside = set_aside_if_corrupt(&path, SystemTime::now())
        .unwrap()
        .expect("corrupt");
    assert!(!aside.error.is_empty(), "{aside:?}");
}

/// The check costs little next to a start: a journal of 200,000 rows.
#[test]
fn checking_a_large_sound_journal_is_quick() {
    let (_dir, path) = journal_with(200_000);
    let start = std::time::Instant::now();
    assert_eq!(
        set_aside_if_corrupt(&path, SystemTime::now()).unwrap(),
        None
    );
    let took = start.elapsed();
    eprintln!(
        "{} MB checked in {took:?}",
        std::fs::metadata(&path).unwrap().len() >> 20
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}
