//! A storm of records (a crash-looping service journals three a restart)
//! costs the writer few replacements of its head file: the head follows
//! the table once the commits pause, and every so often while they do not
//! (issue 26: a head replaced after every commit was most of the
//! journal's cost a restart). A flush leaves the head on the last row.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tend_journal::{head_path, Head, Journal, JournalWriter, Record};

fn restarting(i: u32) -> Record {
    Record::Restarting {
        service: "crash".to_owned(),
        delay_ms: 0,
        restarts: u64::from(i),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_commits_replaces_the_head_a_few_times_and_a_flush_brings_it_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let head = head_path(&path);
    let writer = JournalWriter::open(&path).unwrap();

    // Every head file written is a new file (made, then renamed over the
    // old one): seen as a new (inode, change time) pair.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (head, done) = (head.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut seen = HashSet::new();
            while !done.load(Ordering::Relaxed) {
                if let Ok(meta) = std::fs::metadata(&head) {
                    seen.insert((meta.ino(), meta.ctime(), meta.ctime_nsec()));
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            seen.len()
        })
    };
    // A record every half millisecond for 600 ms: a commit every few
    // milliseconds, hundreds in all.
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < Duration::from_millis(600) {
        writer.record("tend", restarting(sent));
        sent += 1;
        std::thread::sleep(Duration::from_micros(500));
    }
    writer.flush().await;
    done.store(true, Ordering::Relaxed);
    let heads = watcher.join().unwrap();

    // 600 ms at most one head per 100 ms, plus the first and the flush's;
    // generous for a loaded machine. Before: one a commit (> 100 here).
    assert!(
        heads <= 15,
        "{heads} head files written for {sent} records in 600 ms"
    );
    let on_file: Head = std::fs::read_to_string(&head).unwrap().parse().unwrap();
    let journal = Journal::open(&path).unwrap();
    let verification = journal.verify().unwrap();
    assert_eq!(verification.first_bad, None);
    assert_eq!(verification.unanchored, None);
    assert_eq!(
        on_file.id,
        i64::from(sent),
        "the head after a flush names the last row"
    );
}
