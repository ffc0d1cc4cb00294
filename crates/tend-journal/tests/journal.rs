//! The chain catches every kind of tampering and names the row; records
//! come back as they went in.

use std::time::{Duration, SystemTime};

use rusqlite::Connection;
use tend_journal::{Journal, Query, Record};
use tend_wire::{Exit, ExitClass, ExitKind};

fn exited(service: &str, code: i32) -> Record {
    Record::Exited {
        service: service.to_owned(),
        generation: 1,
        exit: Exit {
            kind: ExitKind::Error,
            class: ExitClass::Abnormal,
            code: Some(code),
            signal: None,
            reason: None,
        },
        ran_for_ms: 5,
        pid: None,
    }
}

fn journal_with(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut journal = Journal::open(&path).unwrap();
    let records: Vec<Record> = (0..n)
        .map(|i| exited(if i % 2 == 0 { "a" } else { "b" }, i as i32))
        .collect();
    let t0 = SystemTime::now() - Duration::from_secs(3600);
    journal
        .append(
            records
                .iter()
                .enumerate()
                .map(|(i, r)| (t0 + Duration::from_secs(i as u64 * 60), "tend", r)),
        )
        .unwrap();
    (dir, path)
}

#[test]
fn an_intact_journal_verifies_and_reads_back_in_order() {
    let (_dir, path) = journal_with(10);
    let journal = Journal::open(&path).unwrap();
    let verification = journal.verify().unwrap();
    assert_eq!(verification.rows, 10);
    assert_eq!(verification.first_bad, None);
    let all = journal.read(&Query::default()).unwrap();
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(all[3].record, exited("b", 3));
    let only_b = journal
        .read(&Query {
            services: vec!["b".into()],
            ..Query::default()
        })
        .unwrap();
    assert_eq!(only_b.len(), 5);
    let last_two = journal
        .read(&Query {
            limit: Some(2),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(last_two.iter().map(|e| e.id).collect::<Vec<_>>(), [9, 10]);
    let recent = journal
        .read(&Query {
            since: Some(SystemTime::now() - Duration::from_secs(3600 - 7 * 60 + 1)),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(recent.first().map(|e| e.id), Some(8));
}

#[test]
fn appending_after_reopening_continues_the_chain() {
    let (_dir, path) = journal_with(3);
    let mut journal = Journal::open(&path).unwrap();
    let more = exited("c", 9);
    let written = journal
        .append([(SystemTime::now(), "tend", &more)])
        .unwrap();
    assert_eq!(written[0].id, 4);
    assert_eq!(journal.verify().unwrap().first_bad, None);
}

#[test]
fn an_edited_row_is_named() {
    let (_dir, path) = journal_with(10);
    let db = Connection::open(&path).unwrap();
    db.execute(
        "UPDATE events SET data = replace(data, '\"code\":6', '\"code\":0') WHERE id = 7",
        [],
    )
    .unwrap();
    let bad = Journal::open(&path)
        .unwrap()
        .verify()
        .unwrap()
        .first_bad
        .expect("caught");
    assert_eq!(bad.id, 7, "{bad:?}");
    assert!(bad.problem.contains("edited"), "{bad:?}");
}

#[test]
fn an_edited_column_outside_the_data_is_named_too() {
    let (_dir, path) = journal_with(10);
    let db = Connection::open(&path).unwrap();
    db.execute("UPDATE events SET at_ms = at_ms + 1 WHERE id = 4", [])
        .unwrap();
    assert_eq!(
        Journal::open(&path)
            .unwrap()
            .verify()
            .unwrap()
            .first_bad
            .unwrap()
            .id,
        4
    );
}

#[test]
fn a_deleted_row_is_named_by_the_row_after_it() {
    let (_dir, path) = journal_with(10);
    let db = Connection::open(&path).unwrap();
    db.execute("DELETE FROM events WHERE id = 5", []).unwrap();
    let bad = Journal::open(&path)
        .unwrap()
        .verify()
        .unwrap()
        .first_bad
        .expect("caught");
    assert_eq!(bad.id, 6, "{bad:?}");
}

#[test]
fn reordered_rows_are_named() {
    let (_dir, path) = journal_with(10);
    let db = Connection::open(&path).unwrap();
    // Swap rows 3 and 4 wholesale (ids kept in place, contents exchanged).
    db.execute_batch(
        "UPDATE events SET id = -3 WHERE id = 3;
         UPDATE events SET id = 3 WHERE id = 4;
         UPDATE events SET id = 4 WHERE id = -3;",
    )
    .unwrap();
    let bad = Journal::open(&path)
        .unwrap()
        .verify()
        .unwrap()
        .first_bad
        .expect("caught");
    assert_eq!(bad.id, 3, "{bad:?}");
}

/// `flush` covers what an attached tree emitted before it, even when the
/// task forwarding the tree's events has not run yet: here it lives on a
/// runtime nobody drives until the flush.
#[test]
fn flush_includes_what_an_attached_tree_already_emitted() {
    use tend_engine::{ChildSpec, Context, Supervisor};
    use tend_journal::JournalWriter;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let idle = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let tree = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let writer = JournalWriter::open(&path).unwrap();
    let mut builder = Supervisor::builder("app");
    let events = builder.subscribe();
    // The forwarder is spawned on `idle`, which does not run it yet.
    idle.block_on(async { writer.attach(events) });
    tree.block_on(async {
        let root = builder
            .child(ChildSpec::task("job", |ctx: Context| async move {
                ctx.cancelled().await;
            }))
            .start()
            .await
            .unwrap();
        root.shutdown().await;
    });
    idle.block_on(writer.flush());
    let kinds: Vec<String> = Journal::open(&path)
        .unwrap()
        .read(&Query::default())
        .unwrap()
        .iter()
        .map(|e| e.record.kind().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "started",
            "supervisor_started",
            "exited",
            "supervisor_stopped"
        ]
    );
}

#[test]
fn unfinished_names_every_start_that_never_ended() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path().join("journal.db")).unwrap();
    let started = |service: &str, generation: u64, pid: u32| Record::Started {
        service: service.to_owned(),
        generation,
        pid: Some(pid),
        start_ticks: None,
        boot_id: None,
    };
    let now = SystemTime::now();
    // An earlier run, ended cleanly or not: not this run's business.
    let before = [started("old", 1, 90)];
    journal
        .append(before.iter().map(|r| (now, "tend", r)))
        .unwrap();
    let from = journal.last_id();
    assert_eq!(from, 1);
    let run = [
        started("a", 1, 10),
        exited("a", 1),
        started("a", 2, 11),
        started("b", 1, 12),
        Record::StartFailed {
            service: "b".to_owned(),
            generation: 1,
            exit: Exit {
                kind: ExitKind::Error,
                class: ExitClass::Abnormal,
                code: None,
                signal: None,
                reason: None,
            },
        },
        started("c", 1, 13),
        // The same name under another supervisor is another service.
        started("a", 1, 14),
        // A later start does not hide an earlier one that never ended.
        started("d", 1, 15),
        started("d", 2, 16),
    ];
    let supervisors = [
        "tend", "tend", "tend", "tend", "tend", "tend", "tend/g", "tend", "tend",
    ];
    journal
        .append(run.iter().zip(supervisors).map(|(r, s)| (now, s, r)))
        .unwrap();
    let mut left: Vec<(String, String, u64, u32)> = journal
        .unfinished(from)
        .unwrap()
        .into_iter()
        .map(|u| (u.supervisor, u.service, u.generation, u.pid))
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec![
            ("tend".into(), "a".into(), 2, 11),
            ("tend".into(), "c".into(), 1, 13),
            ("tend".into(), "d".into(), 1, 15),
            ("tend".into(), "d".into(), 2, 16),
            ("tend/g".into(), "a".into(), 1, 14),
        ]
    );
    assert_eq!(journal.unfinished(journal.last_id()).unwrap(), Vec::new());
}

/// Edits that put a value of another type in a column: each is named at
/// its row by `verify` and by reading, never a database error, and the
/// journal still opens and appends.
#[test]
fn a_value_of_the_wrong_type_is_named_at_its_row() {
    let edits = [
        (
            "UPDATE events SET at_ms = 'noon' WHERE id = 5",
            "at_ms holds text ('noon')",
        ),
        (
            "UPDATE events SET at_ms = 1.5 WHERE id = 5",
            "at_ms holds the real number 1.5",
        ),
        (
            "UPDATE events SET supervisor = X'00FF' WHERE id = 5",
            "supervisor holds a blob of 2 bytes",
        ),
        (
            "UPDATE events SET data = CAST(data AS BLOB) WHERE id = 5",
            "data holds a blob",
        ),
        (
            "UPDATE events SET kind = X'07' WHERE id = 5",
            "kind holds a blob of 1 bytes",
        ),
        (
            "UPDATE events SET service = X'01' WHERE id = 5",
            "service holds a blob of 1 bytes",
        ),
        (
            "UPDATE events SET prev_hash = 'abc' WHERE id = 5",
            "prev_hash holds text ('abc')",
        ),
        (
            "UPDATE events SET hash = 42 WHERE id = 5",
            "hash holds the integer 42",
        ),
        (
            "UPDATE events SET supervisor = CAST(X'C328' AS TEXT) WHERE id = 5",
            "supervisor is not UTF-8 text",
        ),
    ];
    for (edit, named) in edits {
        let (_dir, path) = journal_with(10);
        Connection::open(&path).unwrap().execute(edit, []).unwrap();
        let mut journal = Journal::open(&path).unwrap_or_else(|e| panic!("{edit}: {e}"));
        let bad = journal.verify().unwrap().first_bad.expect(edit);
        assert_eq!(bad.id, 5, "{edit}: {bad:?}");
        assert!(bad.problem.contains(named), "{edit}: {}", bad.problem);
        assert!(bad.problem.contains("edited"), "{edit}: {}", bad.problem);
        // Reading entries takes the time, the supervisor and the data.
        if ["at_ms", "supervisor", "data"]
            .iter()
            .any(|column| edit.contains(&format!("SET {column} ")))
        {
            let error = journal.read(&Query::default()).unwrap_err();
            assert!(
                error.to_string().starts_with("journal broken at row 5: "),
                "{edit}: {error}"
            );
        }
        // What follows still reads, and the journal goes on.
        let later = journal
            .read(&Query {
                after_id: Some(5),
                ..Query::default()
            })
            .unwrap();
        assert_eq!(later.len(), 5, "{edit}");
        journal
            .append([(SystemTime::now(), "tend", &exited("c", 1))])
            .unwrap();
        assert_eq!(journal.verify().unwrap().first_bad.unwrap().id, 5, "{edit}");
    }
}

/// A NULL where the journal never writes one (a table rebuilt without its
/// constraints) is named the same way.
#[test]
fn a_null_where_none_belongs_is_named_at_its_row() {
    let (_dir, path) = journal_with(10);
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE loose (id INTEGER PRIMARY KEY, at_ms, supervisor, kind, service, data, prev_hash, hash);
             INSERT INTO loose SELECT * FROM events;
             DROP TABLE events;
             ALTER TABLE loose RENAME TO events;
             UPDATE events SET at_ms = NULL WHERE id = 6;",
        )
        .unwrap();
    let journal = Journal::open(&path).unwrap();
    let bad = journal.verify().unwrap().first_bad.unwrap();
    assert_eq!(bad.id, 6, "{bad:?}");
    assert!(
        bad.problem
            .contains("its at_ms holds NULL, where an integer belongs"),
        "{bad:?}"
    );
    for since in [None, Some(SystemTime::now() - Duration::from_secs(60))] {
        let error = journal
            .read(&Query {
                since,
                ..Query::default()
            })
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("journal broken at row 6: its at_ms holds NULL"),
            "{error}"
        );
    }
}

/// The last row's hash edited to text: the journal still opens, appends,
/// and names that row.
#[test]
fn an_edited_last_hash_keeps_nothing_from_opening() {
    let (_dir, path) = journal_with(4);
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE events SET hash = 'x' WHERE id = 4", [])
        .unwrap();
    let mut journal = Journal::open(&path).unwrap();
    let written = journal
        .append([(SystemTime::now(), "tend", &exited("c", 1))])
        .unwrap();
    assert_eq!(written[0].id, 5);
    assert_eq!(journal.verify().unwrap().first_bad.unwrap().id, 4);
}

/// Unfinished starts are read past an edited row (recovery needs the rest).
#[test]
fn unfinished_reads_past_a_row_of_the_wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut journal = Journal::open(&path).unwrap();
    for (service, pid) in [("a", 10), ("b", 11)] {
        let started = Record::Started {
            service: service.into(),
            generation: 1,
            pid: Some(pid),
            start_ticks: None,
            boot_id: None,
        };
        journal
            .append([(SystemTime::now(), "tend", &started)])
            .unwrap();
    }
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE events SET at_ms = 'noon' WHERE id = 1", [])
        .unwrap();
    let left = journal.unfinished(0).unwrap();
    assert_eq!(left.iter().map(|u| u.pid).collect::<Vec<_>>(), [11]);
}
