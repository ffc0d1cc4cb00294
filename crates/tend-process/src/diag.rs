//! The supervisor's own diagnostics (its tracing output and the lines it
//! says on standard error), written by a thread of their own.
//!
//! A diagnostic must never stop supervision: `eprintln!` panics when
//! standard error fails (a full disk under `tend up -d`, whose standard
//! error is `.tend/tend.log`) and blocks the caller when it stalls (a
//! frozen filesystem, a paused terminal). Here a line is queued (bounded,
//! never waiting: beyond `QUEUE` lines the newest are dropped and
//! counted) and written by the `tend-diag` thread, which counts write
//! errors instead of failing, and says how many lines were lost once it
//! can write again.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::OnceLock;
use std::time::Duration;

/// Lines waiting for standard error before the newest are dropped.
const QUEUE: usize = 4096;

enum Message {
    Line(Vec<u8>),
    Flushed(mpsc::Sender<()>),
}

struct Diag {
    queue: Option<SyncSender<Message>>,
    /// Lines not queued (the queue was full) since the last said.
    dropped: AtomicU64,
    /// Writes standard error refused, ever.
    failed: AtomicU64,
}

static DIAG: OnceLock<Diag> = OnceLock::new();

fn diag() -> &'static Diag {
    DIAG.get_or_init(|| {
        let (queue, lines) = mpsc::sync_channel(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("tend-diag".into())
            .spawn(move || work(&lines));
        Diag {
            // Without its thread, diagnostics are dropped (and counted).
            queue: spawned.is_ok().then_some(queue),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    })
}

/// The most bytes of lines gathered into one write.
const BATCH: usize = 64 * 1024;

/// How long the thread lets lines gather after a write before it takes the
/// next: in a restart storm (three lines a restart) one wake-up and one
/// write per a few milliseconds' worth instead of one per line (issue 26);
/// a lone line is written at once (the thread is waiting for it).
const GATHER: Duration = Duration::from_millis(2);

fn work(lines: &mpsc::Receiver<Message>) {
    let mut err = io::stderr();
    let mut batch = Vec::new();
    let mut flushed = Vec::new();
    while let Ok(first) = lines.recv() {
        // What queued meanwhile goes out with it, in one write (a restart
        // says three lines; issue 26).
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => {
                    let dropped = diag().dropped.swap(0, Ordering::Relaxed);
                    if dropped > 0 {
                        let note = format!("tend: {dropped} diagnostic lines were dropped here (standard error did not keep up)\n");
                        batch.extend_from_slice(note.as_bytes());
                    }
                    batch.extend_from_slice(&line);
                }
                Message::Flushed(done) => flushed.push(done),
            }
            if batch.len() < BATCH {
                next = lines.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            put(&mut err, &batch);
            batch.clear();
            batch.shrink_to(BATCH);
        }
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
        std::thread::sleep(GATHER);
    }
}

fn put(err: &mut io::Stderr, bytes: &[u8]) {
    if err.write_all(bytes).is_err() {
        diag().failed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Queues `bytes` (whole lines) for standard error; never blocks, never
/// fails.
pub fn write(bytes: &[u8]) {
    let diag = diag();
    let queued = diag
        .queue
        .as_ref()
        .is_some_and(|q| q.try_send(Message::Line(bytes.to_vec())).is_ok());
    if !queued {
        diag.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Says one line on standard error (a newline is added), as `eprintln!`
/// would, without its panic or its wait.
pub fn say(line: std::fmt::Arguments<'_>) {
    write(format!("{line}\n").as_bytes());
}

/// Waits (up to `timeout`) until every line queued before is written or
/// refused: before the process exits or `exec`s.
pub fn flush(timeout: Duration) {
    let Some(queue) = &diag().queue else {
        return;
    };
    let (done, flushed) = mpsc::channel();
    if queue.try_send(Message::Flushed(done)).is_ok() {
        let _ = flushed.recv_timeout(timeout);
    }
}

/// Writes standard error refused so far (a full or failed disk).
#[must_use]
pub fn failed_writes() -> u64 {
    diag().failed.load(Ordering::Relaxed)
}

/// A writer for `tracing_subscriber::fmt().with_writer(|| Writer)`: each
/// event goes through [`write()`]; it never fails.
///
/// # Examples
///
/// ```
/// use std::io::Write;
///
/// let mut w = tend_process::diag::Writer;
/// w.write_all(b"tend: hello\n").unwrap();
/// tend_process::diag::flush(std::time::Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Writer;

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `eprintln!` through [`say`]: queued, never panics, never blocks.
#[macro_export]
macro_rules! diag {
    ($($arg:tt)*) => {
        $crate::diag::say(format_args!($($arg)*))
    };
}
