//! The writer on a full disk: it holds what it cannot write, tries again,
//! and once space is back commits it all, in order, the chain whole.
//! Needs root (a small tmpfs); skips with a message otherwise.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tend_journal::{Journal, JournalWriter, Query, Record};

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn record(i: u64) -> Record {
    Record::Started {
        service: format!("service-{i}-{}", "x".repeat(200)),
        generation: i,
        pid: Some(1),
        start_ticks: None,
        boot_id: None,
    }
}

/// The generations of the `started` rows in the file, and whether a
/// `write_recovered` row is among them.
fn read_back(path: &std::path::Path) -> (Vec<u64>, bool, Journal) {
    let journal = Journal::open_read_only(path).unwrap();
    let entries = journal.read(&Query::default()).unwrap();
    let started = entries
        .iter()
        .filter_map(|e| match &e.record {
            Record::Started { generation, .. } => Some(*generation),
            _ => None,
        })
        .collect();
    let recovered = entries
        .iter()
        .any(|e| matches!(e.record, Record::WriteRecovered { .. }));
    (started, recovered, journal)
}

/// Waits (generously) until `done` holds for what the file says.
async fn until(
    writer: &JournalWriter,
    path: &std::path::Path,
    what: &str,
    done: impl Fn(&[u64], bool) -> bool,
) -> (Vec<u64>, bool, Journal) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        writer.flush().await;
        let (started, recovered, journal) = read_back(path);
        if done(&started, recovered) {
            return (started, recovered, journal);
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen in 60 s ({} started rows, recovered: {recovered})",
            started.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_writer_survives_a_full_disk_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&state)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    }
    let _mount = Mount(state.clone());
    let path = state.join("journal.db");
    let writer = JournalWriter::open(&path).unwrap();
    for n in 1..=10 {
        writer.record("root", record(n));
    }
    writer.flush().await;
    // Fill the disk, then write more than fits in one transaction
    // ([`MAX_BATCH`] is 4,096) and more than the space freed first.
    let filler = state.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    {
        use std::io::Write;
        while file.write_all(&[0u8; 4096]).is_ok() {}
    }
    let n = 10_000;
    for i in 11..=n {
        writer.record("root", record(i));
        if i % 500 == 0 {
            writer.flush().await;
        }
    }
    writer.flush().await;
    let (started, recovered, _) = read_back(&path);
    assert!(
        started.len() < 1_000 && !recovered,
        "the disk was not full: {} rows",
        started.len()
    );
    // A megabyte back: part of the backlog fits and goes in, in order.
    let full = file.metadata().unwrap().len();
    file.set_len(full - (1 << 20)).unwrap();
    let (partly, recovered, _) = until(
        &writer,
        &path,
        "part of the backlog written",
        |started, _| started.len() > 100,
    )
    .await;
    assert!(!recovered, "all 10,000 rows cannot fit in a megabyte");
    assert_eq!(
        partly,
        (1..=partly.len() as u64).collect::<Vec<_>>(),
        "a record lost or reordered"
    );
    // All space back: the rest goes in.
    drop(file);
    std::fs::remove_file(&filler).unwrap();
    let (started, _, journal) = until(&writer, &path, "the writer came back", |_, recovered| {
        recovered
    })
    .await;
    assert_eq!(
        started,
        (1..=n).collect::<Vec<_>>(),
        "a record lost or reordered"
    );
    let entries = journal.read(&Query::default()).unwrap();
    assert!(entries
        .iter()
        .any(|e| matches!(e.record, Record::WriteFailed { .. })));
    assert_eq!(journal.verify().unwrap().first_bad, None);
}
