//! Capturing standard output and error: whole lines, none lost while
//! the disk keeps up.
//!
//! Each stream is read by its own task from a non-blocking pipe, cut into
//! whole lines (a chunk is cut after its last newline and the rest waits
//! for the next read; a partial last line gets a newline at end of stream)
//! and handed to the child's [`LogSink`]. The sink sends them to live
//! followers at once and queues them for two threads: the log writer
//! (every file write and rotation of every sink) and the console (the
//! foreground copy). No file or terminal write runs on the async runtime,
//! so a disk that stalls (frozen, a hung mount) or a terminal that stops
//! reading holds up only those threads, never a pump, the supervisor or
//! the API.
//!
//! What the file has not taken is bounded: [`HELD_MAX`] bytes per sink,
//! counting a write under way. A file that refuses a write (disk full,
//! read-only, unwritable) keeps the lines (a write that failed half-way is
//! cut back to its last whole line) and is tried again on the next output
//! and every [`RETRY`]; beyond the bound — refused, or a write blocked —
//! the oldest lines are dropped and counted, and once the file takes
//! writes again a marker line says how many, where they were. While the
//! file takes writes, a child that writes faster than the disk is slowed
//! (back-pressure: the pump waits for room, the pipe fills) and loses
//! nothing; while it refuses them or the disk stalls, the child is never
//! held. Its pipe is never closed for it. [`LogSink::on_trouble`] hears
//! both turns.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use atomic_waker::AtomicWaker;

use rustix::fs::AtFlags;
use tend_spec::LogSpec;
use tokio::net::unix::pipe;
use tokio::sync::broadcast;

use crate::files::{self, Access};
use crate::gate::{ReadyGate, ReadySignal};

/// A line longer than this is written in pieces rather than buffered whole.
const MAX_LINE: usize = 1 << 20;
const READ_CHUNK: usize = 64 * 1024;
/// What a sink holds in memory while its file cannot be written.
pub(crate) const HELD_MAX: usize = 1 << 20;
/// How often a failing file is tried again when no output comes.
pub(crate) const RETRY: Duration = Duration::from_secs(1);

/// Which stream a line came from.
///
/// # Examples
///
/// ```
/// use tend_process::Stream;
///
/// assert_ne!(Stream::Stdout, Stream::Stderr);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Where a child's output goes. One sink serves both streams and every
/// incarnation of a child; clones share it.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Supervisor};
/// use tend_process::{LogSink, LogSpec, LogTrouble, ProcessExt, ProcessSpec, Tee};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let dir = std::env::temp_dir().join(format!("tend-doc-sink-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let spec = LogSpec { file: Some(dir.join("hello.log")), ..LogSpec::default() };
/// let sink = LogSink::from_spec(&spec)
///     .unwrap()
///     .with_tee(Tee::Stdout { prefix: "hello | ".into() })
///     .on_trouble(|trouble| {
///         if let LogTrouble::Failing { error } = trouble {
///             eprintln!("hello.log takes no more writes ({error}); lines are held");
///         }
///     });
/// let root = Supervisor::builder("root")
///     .child(ChildSpec::process_with_sink("hello", ProcessSpec::shell("echo hello"), sink))
///     .start()
///     .await
///     .unwrap();
/// root.shutdown().await;
/// # }
/// ```
#[derive(Clone, Default)]
pub struct LogSink {
    inner: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// What the pumps touch: never held across a write to a file.
    state: Mutex<SinkInner>,
    /// The file, touched only by the log writer thread (and tests).
    file: Mutex<Option<RotatingFile>>,
    /// Whether the file is failing (read by the pumps without the lock).
    failing: AtomicBool,
    /// Bytes the writer thread is writing now (counted in the bound).
    writing: AtomicUsize,
    /// Told after each turn of the writer thread on this sink.
    wrote: tokio::sync::Notify,
}

#[derive(Default)]
struct SinkInner {
    has_file: bool,
    tee: Option<Tee>,
    timestamps: bool,
    /// Live followers (`tend logs -f`); made on the first `follow`.
    live: Option<broadcast::Sender<Arc<[u8]>>>,
    /// Lines the file has not taken yet.
    queue: Queue,
    /// Since when, and why, the file does not take lines.
    trouble: Option<Trouble>,
    on_trouble: Option<TroubleHandler>,
}

type TroubleHandler = Arc<dyn Fn(LogTrouble) + Send + Sync>;

/// Whole lines waiting for the file, and those dropped before them.
#[derive(Default)]
struct Queue {
    lines: Vec<u8>,
    /// Whole lines still in a child's pipe, to move into the file after
    /// `lines` (a duplicate of the pipe's read end, and how many bytes).
    /// At most one: its pump waits for it before it reads that pipe again.
    splice: Option<(OwnedFd, usize)>,
    /// The writer thread took `splice` and has not finished moving it:
    /// the pipe's head is still those lines.
    splicing: bool,
    /// Handed to the writer thread, not taken yet.
    scheduled: bool,
    dropped_lines: u64,
    dropped_bytes: u64,
    /// When the first of the dropped lines was dropped, and why.
    dropped_since: Option<(SystemTime, String)>,
}

impl Queue {
    /// Whether lines wait in a pipe for the writer thread to move them.
    fn splices(&self) -> bool {
        self.splice.is_some() || self.splicing
    }
}

/// A file that failed or fell behind.
struct Trouble {
    since: SystemTime,
    error: String,
    /// Lines dropped since.
    dropped_lines: u64,
}

/// A write blocked this long means a stalled disk: an ended pump no longer
/// waits for its lines to be written.
const STALL: Duration = Duration::from_millis(100);

/// Why lines are dropped while no write failed: the writer thread is
/// blocked in a write (a frozen or stalled filesystem).
const STALLED: &str = "writes to the log blocked (a stalled or frozen filesystem)";

/// A turn in a log file's fortunes, for [`LogSink::on_trouble`].
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tend_process::{LogSink, LogSpec, LogTrouble};
///
/// let dir = std::env::temp_dir().join(format!("tend-doc-trouble-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let seen: Arc<Mutex<Vec<LogTrouble>>> = Arc::default();
/// let spec = LogSpec { file: Some(dir.join("web.log")), ..LogSpec::default() };
/// let sink = LogSink::from_spec(&spec).unwrap().on_trouble({
///     let seen = Arc::clone(&seen);
///     move |trouble| seen.lock().unwrap().push(trouble)
/// });
/// // A healthy file: nothing to report, nothing held.
/// assert!(!sink.is_failing() && seen.lock().unwrap().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTrouble {
    /// The file stopped taking writes, or a write blocked while more than
    /// 1 MiB waited; lines are held from now on.
    Failing {
        /// Why (the OS error, or that writes blocked).
        error: String,
    },
    /// The file takes writes again; the held lines were written.
    Recovered {
        /// Lines dropped because more than 1 MiB waited.
        dropped_lines: u64,
        /// How long it failed.
        after: Duration,
    },
}

/// Chunks of whole lines a follower may fall behind by before it loses the
/// oldest (it is told how many by `Lagged`; the file keeps everything).
const FOLLOW_BACKLOG: usize = 1024;

/// A live copy of the output for a foreground view.
///
/// # Examples
///
/// ```
/// use tend_process::{LogSink, Tee};
///
/// // Every line also on this program's standard output, prefixed like
/// // `docker compose up` does.
/// let sink = LogSink::discard().with_tee(Tee::Stdout { prefix: "web | ".into() });
/// # let _ = sink;
/// ```
pub enum Tee {
    /// Written to this process's standard output, each line prefixed.
    Stdout {
        /// Put before each line, e.g. `"web | "`.
        prefix: String,
    },
    /// Written to this process's standard output, a terminal, each line
    /// prefixed and its control characters escaped
    /// ([`tend_wire::escape_bytes`]): a service's output must not drive
    /// the operator's terminal.
    Terminal {
        /// Put before each line, e.g. `"web | "` (as it is: it may colour).
        prefix: String,
    },
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink").finish_non_exhaustive()
    }
}

impl LogSink {
    /// A sink that discards everything.
    #[must_use]
    pub fn discard() -> Self {
        LogSink::default()
    }

    /// A sink writing to `spec.file` (if any), rotated as the spec says.
    ///
    /// # Errors
    /// If the file cannot be opened for appending.
    pub fn from_spec(spec: &LogSpec) -> io::Result<Self> {
        let file = match &spec.file {
            Some(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    fs::create_dir_all(dir)?;
                }
                let dir = Arc::new(files::open_dir(path.parent().unwrap_or(Path::new(".")))?);
                Some(RotatingFile::open(dir, path, spec.max_size, spec.keep)?)
            }
            None => None,
        };
        Ok(LogSink::with_file(file, spec))
    }

    /// A sink writing to `spec.file`, a file in `dir` (a descriptor of its
    /// directory, which the caller checked: a state directory's `logs/`).
    /// The file and its rotated copies are opened and renamed relative to
    /// `dir`, never through a symbolic link, regular files only.
    ///
    /// # Errors
    /// If the file cannot be opened for appending, or is not a regular file.
    pub fn from_spec_in(dir: Arc<OwnedFd>, spec: &LogSpec) -> io::Result<Self> {
        let file = match &spec.file {
            Some(path) => Some(RotatingFile::open(dir, path, spec.max_size, spec.keep)?),
            None => None,
        };
        Ok(LogSink::with_file(file, spec))
    }

    fn with_file(file: Option<RotatingFile>, spec: &LogSpec) -> Self {
        LogSink {
            inner: Arc::new(Shared {
                state: Mutex::new(SinkInner {
                    has_file: file.is_some(),
                    timestamps: spec.timestamps,
                    ..SinkInner::default()
                }),
                file: Mutex::new(file),
                ..Shared::default()
            }),
        }
    }

    /// Calls `handler` when the file stops taking writes and when it takes
    /// them again (from the writing thread or a pump: keep it short, never
    /// block).
    #[must_use]
    pub fn on_trouble(self, handler: impl Fn(LogTrouble) + Send + Sync + 'static) -> Self {
        self.lock().on_trouble = Some(Arc::new(handler));
        self
    }

    /// Whether the file is failing (lines are being held).
    #[must_use]
    pub fn is_failing(&self) -> bool {
        self.inner.failing.load(Ordering::Relaxed)
    }

    /// Has the writer thread try a failing file again (it does so every
    /// second by itself).
    pub fn retry(&self) {
        if self.is_failing() {
            schedule(&self.inner, &mut self.lock());
        }
    }

    /// Also copies every line to `tee`.
    #[must_use]
    pub fn with_tee(self, tee: Tee) -> Self {
        self.lock().tee = Some(tee);
        self
    }

    /// Follows the output live from now on: each item is one or more whole
    /// lines, as written (with timestamps, if the sink adds them). A
    /// follower that falls behind loses the oldest chunks, never the file's
    /// copy, and never slows the child.
    #[must_use]
    pub fn follow(&self) -> broadcast::Receiver<Arc<[u8]>> {
        Self::subscribe(self.lock())
    }

    /// Follows the output from exactly where the file ends: runs `read`
    /// (a read of the log file, e.g. its last lines) once every line taken
    /// so far is in the file and while nothing is added to it, and
    /// subscribes at that moment. What `read` sees and what the receiver
    /// gets then neither overlap nor leave a gap: [`follow`](Self::follow)
    /// then a read of the file could miss lines still queued for the file
    /// (sent to followers before the subscription, not in the file yet) or
    /// show lines twice.
    ///
    /// It writes what is queued itself, on this thread: call it off the
    /// async runtime (a disk write may block). While the file fails or the
    /// log writer stalls, or if a flood never lets the queue empty, it
    /// subscribes and reads as [`follow`](Self::follow) does.
    pub fn follow_after<T>(&self, read: impl FnOnce() -> T) -> (broadcast::Receiver<Arc<[u8]>>, T) {
        // Each round writes everything queued; the pump's back-pressure
        // bounds what a round can find, so a few rounds reach an empty queue.
        const ROUNDS: usize = 64;
        let shared = &self.inner;
        let mut closed_before = None;
        for _ in 0..ROUNDS {
            // Not waited for while the writer thread is stuck in a write
            // (a frozen disk, which holds the file's lock): the file can
            // still be read.
            let Some(file) = lock_unless_stalled(&shared.file) else {
                break;
            };
            let inner = self.lock();
            let pending = !inner.queue.lines.is_empty()
                || inner.queue.splices()
                || inner.queue.dropped_since.is_some();
            let hopeless = file.is_none() || self.is_failing() || writer::stalled();
            if !pending || hopeless {
                let receiver = Self::subscribe(inner);
                let read = read();
                drop(file);
                if closed_before == Some(true) {
                    // Opened by this flush only: closed again, as the
                    // writer thread would once idle.
                    if let Some(file) = shared
                        .file
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .as_mut()
                    {
                        file.close();
                    }
                }
                return (receiver, read);
            }
            drop(inner);
            closed_before.get_or_insert(file.as_ref().is_some_and(|f| !f.is_open()));
            // Splicing: the writer thread has the pipe's lines and is about
            // to say so; nothing to write here meanwhile.
            let busy = self.lock().queue.splicing;
            write_out_locked(shared, file);
            shared.wrote.notify_waiters();
            if busy {
                std::thread::yield_now();
            }
        }
        let receiver = self.follow();
        (receiver, read())
    }

    fn subscribe(
        mut inner: std::sync::MutexGuard<'_, SinkInner>,
    ) -> broadcast::Receiver<Arc<[u8]>> {
        inner
            .live
            .get_or_insert_with(|| broadcast::channel(FOLLOW_BACKLOG).0)
            .subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkInner> {
        self.inner.lock()
    }

    /// Whether whole lines may go from the pipe to the file by `splice`
    /// (see [`Reader::read`]): the file is there and healthy, lines are
    /// written as they came (no timestamps), no splice is under way.
    fn may_splice(&self) -> bool {
        if self.is_failing() || writer::stalled() {
            return false;
        }
        let inner = self.lock();
        inner.has_file && !inner.timestamps && !inner.queue.splices()
    }

    /// Takes whole lines that stay in the pipe `pipe` (its first `len`
    /// bytes, `lines` a copy of them) until the writer thread moves them
    /// into the file: followers and the console get the copy now.
    fn splice_lines(&self, pipe: OwnedFd, lines: &[u8]) {
        let mut inner = self.lock();
        if let Some(live) = inner.live.as_ref().filter(|live| live.receiver_count() > 0) {
            let _ = live.send(Arc::from(lines));
        }
        inner.queue.splice = Some((pipe, lines.len()));
        schedule(&self.inner, &mut inner);
        inner.tee_lines(lines);
    }

    /// Waits until the lines handed by [`splice_lines`](Self::splice_lines)
    /// left the pipe (into the file, or held if the file failed): until
    /// then the pipe's head is theirs, so its pump reads nothing more.
    ///
    /// If the writer thread stalls (a frozen disk) before it took them,
    /// they are taken back: read out of the pipe and queued as read lines
    /// (held within bounds), so that no pump, and no process's end, waits
    /// on the stalled disk. One the writer is moving already holds its
    /// pipe in the kernel until the disk moves: that one is waited for.
    async fn spliced(&self) {
        loop {
            let notified = self.inner.wrote.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = self.lock();
                if !inner.queue.splices() {
                    return;
                }
                if writer::stalled() {
                    if let Some((pipe, len)) = inner.queue.splice.take() {
                        read_exactly(&pipe, len, &mut inner.queue.lines);
                        let heard = inner.trim(HELD_MAX, &self.inner.failing);
                        schedule(&self.inner, &mut inner);
                        let handler = inner.on_trouble.clone();
                        drop(inner);
                        if let (Some(handler), Some(trouble)) = (handler, heard) {
                            handler(trouble);
                        }
                        return;
                    }
                }
            }
            let _ = tokio::time::timeout(STALL, notified).await;
        }
    }

    /// Takes complete lines (`lines` ends with a newline). Never fails and
    /// never waits on a disk or a terminal: the file's copy is queued for
    /// the log writer thread, the tee's for the console thread.
    fn write_lines(&self, lines: &[u8]) {
        let mut inner = self.lock();
        let followed = inner.live.as_ref().is_some_and(|l| l.receiver_count() > 0);
        if !inner.has_file && inner.tee.is_none() && !followed {
            return;
        }
        let stamped;
        let lines = if inner.timestamps {
            stamped = stamp(lines);
            &stamped[..]
        } else {
            lines
        };
        if followed {
            if let Some(live) = &inner.live {
                let _ = live.send(Arc::from(lines));
            }
        }
        let mut heard = None;
        if inner.has_file {
            // Lines are held up to HELD_MAX while the file refuses writes or
            // a write blocks. A writer that is only behind is waited for
            // (`room`), so the queue passes that only by one read: a line up
            // to `MAX_LINE` long, which must be written whole, not dropped
            // as if the disk had stalled. Four times the bound is the hard
            // ceiling (many pumps sharing one sink).
            let bound = if self.is_failing() || writer::stalled() {
                HELD_MAX
            } else {
                4 * HELD_MAX
            };
            let bound = bound.saturating_sub(self.inner.writing.load(Ordering::Relaxed));
            inner.queue.lines.extend_from_slice(lines);
            heard = inner.trim(bound, &self.inner.failing);
            schedule(&self.inner, &mut inner);
        }
        inner.tee_lines(lines);
        let handler = inner.on_trouble.clone();
        drop(inner);
        if let (Some(handler), Some(trouble)) = (handler, heard) {
            handler(trouble);
        }
    }

    /// Waits while more than half of [`HELD_MAX`] waits for the file and
    /// the writer keeps up: back-pressure, so a flood slows the child (its
    /// pipe fills) and never loses a line. Not while the file refuses
    /// writes or the disk stalls: then the child is not held, and lines
    /// beyond the bound are dropped and counted instead. The same for the
    /// copy on standard output when it is a file or a pipe (a container's
    /// log, `tend up | tee`): every line, unless a write to it blocks.
    /// Never for a terminal: an operator's paused or slow terminal must not
    /// slow a service, so it is shown what it can take.
    ///
    /// Once `park` says the process ended, standard output no longer
    /// paces the drain: its end (and its restart) must not wait on a slow
    /// reader; what is left in its pipes is queued for it, within bounds.
    pub(crate) async fn room(&self, park: &Park) {
        loop {
            let notified = self.inner.wrote.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let console = console::ROOM.notified();
            tokio::pin!(console);
            console.as_mut().enable();
            if self.has_room(park) {
                return;
            }
            let _ = tokio::time::timeout(STALL, async {
                tokio::select! {
                    () = notified => {}
                    () = console => {}
                }
            })
            .await;
        }
    }

    /// Whether [`room`](Self::room) would return at once.
    fn has_room(&self, park: &Park) -> bool {
        let (queued, streamed) = {
            let inner = self.lock();
            let streamed = matches!(inner.tee, Some(Tee::Stdout { .. }));
            (inner.queue.lines.len(), streamed)
        };
        let pending = queued + self.inner.writing.load(Ordering::Relaxed);
        (pending <= HELD_MAX / 2 || self.is_failing() || writer::stalled())
            && (!streamed || park.has_ended() || console::has_room())
    }

    /// [`room`](Self::room), its state boxed only when it has to wait: a
    /// pump carries no timer while output flows freely (issue 26).
    async fn room_boxed(&self, park: &Park) {
        if !self.has_room(park) {
            Box::pin(self.room(park)).await;
        }
    }

    /// Waits until the file took every line given so far, unless it
    /// fails or the disk stalls (a write blocked for more than
    /// [`STALL`]): then at once.
    async fn written(&self) {
        loop {
            let notified = self.inner.wrote.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let inner = self.lock();
                let pending = inner.queue.scheduled
                    || !inner.queue.lines.is_empty()
                    || inner.queue.splices()
                    || self.inner.writing.load(Ordering::Relaxed) > 0;
                if !pending || self.is_failing() || writer::stalled() {
                    return;
                }
            }
            let _ = tokio::time::timeout(STALL, notified).await;
        }
    }

    /// Writes what is queued now, on this thread, and keeps the writer
    /// thread away from this sink after (tests): the test alone decides
    /// when lines are written, whatever the machine's load.
    #[cfg(test)]
    fn write_now(&self) {
        write_out(&self.inner);
        self.keep_writer_away();
    }

    /// Marks the queue as handed over, so that no write schedules the
    /// writer thread for it (tests; [`write_now`](Self::write_now) writes).
    #[cfg(test)]
    fn keep_writer_away(&self) {
        self.lock().queue.scheduled = true;
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, SinkInner> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Hands `shared` to the writer thread, once until it takes the queue.
fn schedule(shared: &Arc<Shared>, inner: &mut SinkInner) {
    if !inner.queue.scheduled {
        inner.queue.scheduled = true;
        writer::schedule(Arc::clone(shared));
    }
}

impl SinkInner {
    /// Queues `lines` for the console thread, if this sink is echoed.
    fn tee_lines(&self, lines: &[u8]) {
        match &self.tee {
            Some(Tee::Stdout { prefix }) => console::tee(prefix, lines, console::To::Stream),
            Some(Tee::Terminal { prefix }) => console::tee(prefix, lines, console::To::Terminal),
            None => {}
        }
    }

    /// Drops the oldest whole lines beyond `bound` bytes, counted; the
    /// trouble to report if this begins one.
    fn trim(&mut self, bound: usize, failing: &AtomicBool) -> Option<LogTrouble> {
        let queue = &mut self.queue;
        if queue.lines.len() <= bound {
            return None;
        }
        let excess = queue.lines.len() - bound;
        // Cut after the first newline at or past the excess.
        let cut = queue.lines[excess..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(queue.lines.len(), |i| excess + i + 1);
        let lines = count_lines(&queue.lines[..cut]);
        queue.dropped_lines += lines;
        queue.dropped_bytes += cut as u64;
        queue.lines.drain(..cut);
        let mut began = None;
        let trouble = self.trouble.get_or_insert_with(|| {
            failing.store(true, Ordering::Relaxed);
            began = Some(LogTrouble::Failing {
                error: STALLED.to_owned(),
            });
            tracing::error!(
                "log writes blocked with more than 1 MiB waiting: dropping the oldest lines"
            );
            Trouble {
                since: SystemTime::now(),
                error: STALLED.to_owned(),
                dropped_lines: 0,
            }
        });
        trouble.dropped_lines += lines;
        queue
            .dropped_since
            .get_or_insert_with(|| (SystemTime::now(), trouble.error.clone()));
        began
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// How much of a splice reached the file.
enum Moved {
    All,
    /// None: rotation must cut between lines, or the write before failed.
    Not,
    /// This many bytes, then the error.
    Part(usize, io::Error),
}

/// Reads `len` bytes from the head of `pipe` (they are there: its pump
/// waits) onto `into`.
fn read_exactly(pipe: &OwnedFd, len: usize, into: &mut Vec<u8>) {
    let start = into.len();
    into.resize(start + len, 0);
    let mut done = 0;
    while done < len {
        match rustix::io::read(pipe, &mut into[start + done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    into.truncate(start + done);
}

/// `file`'s lock, or `None` once the writer thread, which holds it while
/// it writes, is stuck in a write.
fn lock_unless_stalled(
    file: &Mutex<Option<RotatingFile>>,
) -> Option<std::sync::MutexGuard<'_, Option<RotatingFile>>> {
    loop {
        match file.try_lock() {
            Ok(file) => return Some(file),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) if writer::stalled() => return None,
            Err(std::sync::TryLockError::WouldBlock) => {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// Writes what `shared` has queued (after a marker, if lines were
/// dropped), on the writer thread: a failed write puts the rest back.
fn write_out(shared: &Arc<Shared>) {
    write_out_locked(
        shared,
        shared.file.lock().unwrap_or_else(|e| e.into_inner()),
    );
}

/// [`write_out`] with the file's lock taken (and given up half-way, before
/// the sink's state is updated and its trouble told).
fn write_out_locked(
    shared: &Arc<Shared>,
    mut file: std::sync::MutexGuard<'_, Option<RotatingFile>>,
) {
    let (mut text, marker, dropped, since, splice) = {
        let mut inner = shared.lock();
        let queue = &mut inner.queue;
        queue.scheduled = false;
        if file.is_none() {
            queue.lines = Vec::new();
            if let Some((pipe, len)) = queue.splice.take() {
                // No file: the lines leave the pipe all the same.
                let mut gone = Vec::new();
                read_exactly(&pipe, len, &mut gone);
            }
            return;
        }
        let mut text = Vec::new();
        let since = queue.dropped_since.take();
        if let Some((since, error)) = &since {
            text.extend_from_slice(
                format!(
                    "tend: {} lines ({} bytes) of output were dropped here: the log could not be written from {} ({})\n",
                    queue.dropped_lines,
                    queue.dropped_bytes,
                    humantime::format_rfc3339_seconds(*since),
                    error
                )
                .as_bytes(),
            );
        }
        let dropped = (
            std::mem::take(&mut queue.dropped_lines),
            std::mem::take(&mut queue.dropped_bytes),
        );
        let marker = text.len();
        text.append(&mut queue.lines);
        let splice = queue.splice.take();
        queue.splicing = splice.is_some();
        if text.is_empty() && splice.is_none() && inner.trouble.is_none() {
            return;
        }
        shared.writing.store(
            text.len() + splice.as_ref().map_or(0, |s| s.1),
            Ordering::Relaxed,
        );
        (text, marker, dropped, since, splice)
    };
    let Some(rotating) = file.as_mut() else {
        return;
    };
    let mut written = rotating.write_lines(&text);
    if let Some((pipe, len)) = splice {
        // Moved from the pipe into the file by the kernel: each byte is in
        // one of the two, whenever this process dies. What cannot be moved
        // (the file failed, or rotation must cut between lines) is read
        // out of the pipe and goes the way of written lines.
        let moved = match &written {
            Ok(()) => rotating.splice_lines(&pipe, len),
            Err(_) => Moved::Not,
        };
        let (unmoved, rotating_first) = match moved {
            Moved::All => (0, false),
            Moved::Not => (len, written.is_ok()),
            Moved::Part(done, error) => {
                written = Err(Unwritten {
                    written: text.len(),
                    error,
                });
                (len - done, false)
            }
        };
        if unmoved > 0 {
            let from = text.len();
            read_exactly(&pipe, unmoved, &mut text);
            if rotating_first {
                written = rotating.write_lines(&text[from..]).map_err(|e| Unwritten {
                    written: from + e.written,
                    error: e.error,
                });
            }
        }
    }
    let path = rotating.path.clone();
    drop(file);
    shared.writing.store(0, Ordering::Relaxed);
    let mut inner = shared.lock();
    // The pipe's head is past those lines now (moved, or read).
    inner.queue.splicing = false;
    let heard = match written {
        Ok(()) => {
            let Some(trouble) = inner.trouble.take() else {
                return;
            };
            shared.failing.store(false, Ordering::Relaxed);
            let after = trouble.since.elapsed().unwrap_or_default();
            tracing::info!(file = %path.display(), dropped_lines = trouble.dropped_lines, ?after, "log file writable again");
            LogTrouble::Recovered {
                dropped_lines: trouble.dropped_lines,
                after,
            }
        }
        Err(Unwritten { written, error }) => {
            let queue = &mut inner.queue;
            // Lines dropped while these were written come after them.
            let dropped_after = queue.dropped_since.is_some();
            let rest = &text[written.max(marker)..];
            if written < marker {
                // The marker is written again, whole, with these counts.
                queue.dropped_lines += dropped.0;
                queue.dropped_bytes += dropped.1;
                queue.dropped_since = since.or(queue.dropped_since.take());
            }
            if dropped_after {
                // These are dropped too, so that what is dropped is one
                // run, told by one marker.
                let lines = count_lines(rest);
                queue.dropped_lines += lines;
                queue.dropped_bytes += rest.len() as u64;
                queue
                    .dropped_since
                    .get_or_insert_with(|| (SystemTime::now(), error.to_string()));
                if let Some(trouble) = inner.trouble.as_mut() {
                    trouble.dropped_lines += lines;
                }
            } else {
                let mut lines = rest.to_vec();
                lines.append(&mut queue.lines);
                queue.lines = lines;
            }
            let began = inner.trouble.is_none();
            if began {
                tracing::error!(file = %path.display(), %error, "log file unwritable: holding its lines");
                shared.failing.store(true, Ordering::Relaxed);
                inner.trouble = Some(Trouble {
                    since: SystemTime::now(),
                    error: error.to_string(),
                    dropped_lines: 0,
                });
            } else if let Some(trouble) = inner.trouble.as_mut() {
                trouble.error = error.to_string();
            }
            let _ = inner.trim(HELD_MAX, &shared.failing);
            if !began {
                return;
            }
            LogTrouble::Failing {
                error: error.to_string(),
            }
        }
    };
    let handler = inner.on_trouble.clone();
    drop(inner);
    if let Some(handler) = handler {
        handler(heard);
    }
}

/// The log writer thread: every file write of every sink, off the async
/// runtime, so a disk that blocks (frozen, stalled) holds up only this
/// thread; the pumps queue and go on. It keeps the files it wrote last
/// open, at most [`LOG_FILES_OPEN`], and closes one idle for [`IDLE`].
mod writer {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc::{self, RecvTimeoutError, Sender};
    use std::sync::{Arc, Mutex, OnceLock, Weak};
    use std::time::{Duration, Instant};

    use super::{write_out, Shared, RETRY, STALL};
    use crate::nofile::LOG_FILES_OPEN;

    /// A log file not written for this long is closed.
    const IDLE: Duration = Duration::from_secs(10);

    /// The sinks whose file is open, the least recently written first.
    #[derive(Default)]
    struct OpenFiles {
        order: VecDeque<(Weak<Shared>, Instant)>,
    }

    impl OpenFiles {
        /// `shared` was just written: last to be closed; the file written
        /// least recently is closed if more than [`LOG_FILES_OPEN`] are
        /// open.
        fn written(&mut self, shared: &Arc<Shared>) {
            let open = shared
                .file
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_some_and(super::RotatingFile::is_open);
            // Dropped sinks (their file closed with them) and this one.
            self.order.retain(|(sink, _)| {
                sink.strong_count() > 0 && !std::ptr::eq(sink.as_ptr(), Arc::as_ptr(shared))
            });
            if !open {
                return;
            }
            self.order
                .push_back((Arc::downgrade(shared), Instant::now()));
            while self.order.len() > LOG_FILES_OPEN {
                self.close_first();
            }
        }

        /// Closes the files not written for [`IDLE`].
        fn close_idle(&mut self) {
            while self
                .order
                .front()
                .is_some_and(|(_, at)| at.elapsed() >= IDLE)
            {
                self.close_first();
            }
        }

        fn close_first(&mut self) {
            let Some((sink, _)) = self.order.pop_front() else {
                return;
            };
            if let Some(sink) = sink.upgrade() {
                if let Some(file) = sink.file.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                    file.close();
                }
            }
        }

        fn is_empty(&self) -> bool {
            self.order.is_empty()
        }
    }

    enum Work {
        Write(Arc<Shared>),
        /// Said once everything handed over before is written.
        Flushed(Sender<()>),
    }

    static QUEUE: OnceLock<Mutex<Option<Sender<Work>>>> = OnceLock::new();

    /// When the write under way began (ms since [`EPOCH`]; 0: none).
    pub(super) static BUSY_SINCE: AtomicU64 = AtomicU64::new(0);
    static EPOCH: OnceLock<Instant> = OnceLock::new();

    pub(super) fn now_ms() -> u64 {
        let epoch = EPOCH.get_or_init(Instant::now);
        u64::try_from(epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Whether the writer thread is stuck in a write for more than
    /// [`STALL`].
    pub(super) fn stalled() -> bool {
        let since = BUSY_SINCE.load(Ordering::Relaxed);
        since != 0 && now_ms().saturating_sub(since) > STALL.as_millis() as u64
    }

    fn send(work: Work) -> bool {
        let queue = QUEUE.get_or_init(|| {
            let (queue, work) = mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("tend-log-writer".into())
                .spawn(move || run(&work));
            if let Err(e) = &spawned {
                tracing::error!(error = %e, "cannot start the log writer thread: log files are not written");
            }
            Mutex::new(spawned.is_ok().then_some(queue))
        });
        let queue = queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.as_ref().is_some_and(|q| q.send(work).is_ok())
    }

    /// Asks the writer thread to write `shared`'s queue.
    pub(super) fn schedule(shared: Arc<Shared>) {
        send(Work::Write(shared));
    }

    /// Waits (up to `timeout`) until what was queued before is written.
    pub(crate) fn flush(timeout: Duration) {
        let (done, flushed) = mpsc::channel();
        if send(Work::Flushed(done)) {
            let _ = flushed.recv_timeout(timeout);
        }
    }

    fn run(work: &mpsc::Receiver<Work>) {
        // Sinks whose file fails: tried again every RETRY.
        let mut failing: Vec<Arc<Shared>> = Vec::new();
        let mut open = OpenFiles::default();
        loop {
            let mut due = Vec::new();
            // Woken every RETRY while a file fails or is open (to close it
            // once idle); asleep otherwise.
            let next = if failing.is_empty() && open.is_empty() {
                work.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                work.recv_timeout(RETRY)
            };
            match next {
                Ok(first) => {
                    due.push(first);
                    due.extend(work.try_iter());
                }
                Err(RecvTimeoutError::Timeout) => {
                    due.extend(failing.drain(..).map(Work::Write));
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
            for work in due {
                let shared = match work {
                    Work::Write(shared) => shared,
                    Work::Flushed(done) => {
                        let _ = done.send(());
                        continue;
                    }
                };
                BUSY_SINCE.store(now_ms(), Ordering::Relaxed);
                write_out(&shared);
                BUSY_SINCE.store(0, Ordering::Relaxed);
                open.written(&shared);
                shared.wrote.notify_waiters();
                if shared.failing.load(Ordering::Relaxed)
                    && !failing.iter().any(|f| Arc::ptr_eq(f, &shared))
                {
                    failing.push(shared);
                }
            }
            failing.retain(|f| f.failing.load(Ordering::Relaxed));
            open.close_idle();
        }
    }
}

/// Waits (up to `timeout`) until every line taken so far is in its log
/// file (or held, if the file fails): before the process `exec`s or exits.
pub fn flush_logs(timeout: Duration) {
    let deadline = std::time::Instant::now() + timeout;
    writer::flush(timeout);
    // And the copy on standard output (`tend-run`'s pass-through): a
    // command's last words must not die with the process.
    console::flush(deadline.saturating_duration_since(std::time::Instant::now()));
}

/// The console thread: the foreground copy of every service's output
/// (`tend up`'s `name | line`), off the async runtime, so a terminal that
/// stops reading (paused, gone) never holds up a pump.
mod console {
    use std::io::Write;
    use std::sync::{Condvar, Mutex, OnceLock};
    use std::time::{Duration, Instant};

    /// Bytes waiting for a terminal before new lines are dropped.
    const BOUND: usize = 1 << 20;

    /// Bytes waiting for a file or a pipe before new lines are dropped:
    /// the pumps wait (back-pressure) once half of [`BOUND`] waits, so this
    /// is reached only when standard output takes nothing for [`STALL`]
    /// (a reader that stopped) or many pumps add a chunk at once.
    const STREAM_BOUND: usize = 4 * BOUND;

    /// How long a file or a pipe may take no byte before the services are
    /// no longer held for it: a reader that pauses (a log driver flushing)
    /// slows them, as any pipe does; one that stopped does not stop them.
    const STALL: Duration = Duration::from_secs(1);

    /// Written a piece of whole lines at a time, so that progress is seen:
    /// to a pipe or a socket at most `PIPE_BUF`, which the kernel writes
    /// whole or not at all (a reader that stops never gets half a line,
    /// even when tend exits meanwhile) and which a reader taking a few
    /// kilobytes a second still takes within [`STALL`]; to a file, more.
    const PIECE_TO_PIPE: usize = 4096;
    const PIECE_TO_FILE: usize = 64 * 1024;

    /// The piece size for standard output as it is now.
    fn piece() -> usize {
        match rustix::fs::fstat(std::io::stdout()) {
            Ok(stat) => match rustix::fs::FileType::from_raw_mode(stat.st_mode) {
                rustix::fs::FileType::Fifo | rustix::fs::FileType::Socket => PIECE_TO_PIPE,
                _ => PIECE_TO_FILE,
            },
            Err(_) => PIECE_TO_FILE,
        }
    }

    /// Where standard output goes, which decides what a flood meets.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(super) enum To {
        /// A terminal: control characters escaped; what it cannot take
        /// now is dropped and counted (an operator's paused terminal never
        /// slows a service).
        Terminal,
        /// A file or a pipe (a container's log, `tend up | tee`): every
        /// line, the pumps waiting for room, unless a write blocks for
        /// longer than [`STALL`].
        Stream,
    }

    /// Told when the console wrote (there may be room again).
    pub(super) static ROOM: tokio::sync::Notify = tokio::sync::Notify::const_new();

    #[derive(Default)]
    struct Waiting {
        bytes: Vec<u8>,
        dropped_lines: u64,
        /// While bytes taken are being written: when the last piece of them
        /// was taken by standard output (or the writing began).
        writing: Option<Instant>,
        /// Where the lines dropped went (the note says which).
        dropped_from: Option<To>,
        /// Lines taken and not written yet.
        in_flight: u64,
    }

    struct Console {
        waiting: Mutex<Waiting>,
        more: Condvar,
        /// Told when everything taken was written.
        written: Condvar,
    }

    static CONSOLE: OnceLock<Option<&'static Console>> = OnceLock::new();

    /// Queues `lines`, each after `prefix`, for standard output (`to`).
    pub(super) fn tee(prefix: &str, lines: &[u8], to: To) {
        let console = CONSOLE.get_or_init(|| {
            let console: &'static Console = Box::leak(Box::new(Console {
                waiting: Mutex::default(),
                more: Condvar::new(),
                written: Condvar::new(),
            }));
            std::thread::Builder::new()
                .name("tend-console".into())
                .spawn(move || run(console))
                .ok()
                .map(|_| console)
        });
        let Some(console) = console else {
            return;
        };
        let mut waiting = console.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let bound = match to {
            To::Terminal => BOUND,
            To::Stream => STREAM_BOUND,
        };
        if waiting.bytes.len() + lines.len() > bound {
            waiting.dropped_lines += super::count_lines(lines);
            waiting.dropped_from = Some(to);
            return;
        }
        let prefix = prefix.as_bytes();
        match to {
            To::Terminal => {
                for line in lines.split_inclusive(|&b| b == b'\n') {
                    waiting.bytes.extend_from_slice(prefix);
                    waiting
                        .bytes
                        .extend_from_slice(tend_wire::escape_bytes(line).as_bytes());
                }
            }
            To::Stream => {
                // The hot path of a flood into a file (issue 26): newlines
                // found by memchr, room made once.
                let bytes = &mut waiting.bytes;
                bytes.reserve(
                    lines.len() + memchr::memchr_iter(b'\n', lines).count() * prefix.len(),
                );
                let mut start = 0;
                for end in memchr::memchr_iter(b'\n', lines) {
                    bytes.extend_from_slice(prefix);
                    bytes.extend_from_slice(&lines[start..=end]);
                    start = end + 1;
                }
                if start < lines.len() {
                    bytes.extend_from_slice(prefix);
                    bytes.extend_from_slice(&lines[start..]);
                }
            }
        }
        console.more.notify_one();
    }

    fn run(console: &Console) {
        let mut out = std::io::stdout();
        let piece = piece();
        loop {
            let (bytes, dropped, from) = {
                let mut waiting = console.waiting.lock().unwrap_or_else(|e| e.into_inner());
                while waiting.bytes.is_empty() && waiting.dropped_lines == 0 {
                    waiting = console
                        .more
                        .wait(waiting)
                        .unwrap_or_else(|e| e.into_inner());
                }
                waiting.writing = Some(Instant::now());
                waiting.in_flight = super::count_lines(&waiting.bytes);
                (
                    std::mem::take(&mut waiting.bytes),
                    std::mem::take(&mut waiting.dropped_lines),
                    waiting.dropped_from.take(),
                )
            };
            // Room again for the pumps waiting on a stream: they fill the
            // queue again while this writes.
            ROOM.notify_waiters();
            write_in_pieces(console, &mut out, &bytes, piece);
            if dropped > 0 {
                let why = match from {
                    Some(To::Stream) => "standard output blocked",
                    _ => "the terminal did not keep up",
                };
                let note = format!("tend | ({dropped} lines of output not shown: {why})\n");
                let _ = out.write_all(note.as_bytes());
            }
            let _ = out.flush();
            {
                let mut waiting = console.waiting.lock().unwrap_or_else(|e| e.into_inner());
                waiting.writing = None;
                waiting.in_flight = 0;
            }
            console.written.notify_all();
            ROOM.notify_waiters();
        }
    }

    /// Writes `bytes` a piece of whole lines at a time, telling `console`
    /// after each that standard output took it. A terminal or a pipe that
    /// went away must not end anything (the child would die of SIGPIPE):
    /// the rest of the copy is skipped.
    fn write_in_pieces(
        console: &Console,
        out: &mut std::io::Stdout,
        mut bytes: &[u8],
        piece: usize,
    ) {
        while !bytes.is_empty() {
            let end = if bytes.len() <= piece {
                bytes.len()
            } else {
                memchr::memrchr(b'\n', &bytes[..piece])
                    .or_else(|| memchr::memchr(b'\n', &bytes[piece..]).map(|i| piece + i))
                    .map_or(bytes.len(), |i| i + 1)
            };
            if out.write_all(&bytes[..end]).is_err() {
                return;
            }
            let written = super::count_lines(&bytes[..end]);
            bytes = &bytes[end..];
            let mut waiting = console.waiting.lock().unwrap_or_else(|e| e.into_inner());
            waiting.writing = Some(Instant::now());
            waiting.in_flight = waiting.in_flight.saturating_sub(written);
        }
    }

    /// Whether a pump copying to a file or a pipe may read more: at most
    /// half of [`BOUND`] waits besides what is being written, or standard
    /// output has taken nothing for [`STALL`] (then lines are dropped at
    /// [`STREAM_BOUND`], counted).
    pub(super) fn has_room() -> bool {
        let Some(Some(console)) = CONSOLE.get() else {
            return true;
        };
        let waiting = console.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.bytes.len() <= BOUND / 2
            || waiting.writing.is_some_and(|since| since.elapsed() > STALL)
    }

    /// Waits (up to `timeout`) until every line queued so far is written.
    pub(super) fn flush(timeout: std::time::Duration) {
        let Some(Some(console)) = CONSOLE.get() else {
            return;
        };
        let waiting = console.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let (waiting, _) = console
            .written
            .wait_timeout_while(waiting, timeout, |w| {
                w.writing.is_some() || !w.bytes.is_empty() || w.dropped_lines > 0
            })
            .unwrap_or_else(|e| e.into_inner());
        // Still there: said on standard error, which may still be read
        // (the note on standard output would wait behind them).
        let left = super::count_lines(&waiting.bytes) + waiting.dropped_lines + waiting.in_flight;
        if left > 0 {
            crate::diag!(
                "tend: {left} lines of output not written to standard output: it did not take them within {}",
                humantime::format_duration(timeout)
            );
        }
    }
}

fn stamp(lines: &[u8]) -> Vec<u8> {
    let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let mut out = Vec::with_capacity(lines.len() + (now.len() + 1) * 8);
    for line in lines.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(now.as_bytes());
        out.push(b' ');
        out.extend_from_slice(line);
    }
    out
}

/// How a pump ended.
#[derive(Debug)]
pub(crate) enum Pumped {
    /// At end of both streams (every writer closed the pipes).
    Ended,
    /// Asked to park (a re-exec hands the pipes over): stdout's and
    /// stderr's pipe, each with the start of a line not finished yet
    /// (`None`: that stream had ended). Everything before was written.
    Parked {
        /// Per stream, the pipe's read end and a partial last line, to be
        /// continued by the next reader.
        pipes: [Option<(OwnedFd, Vec<u8>)>; 2],
    },
}

/// Asks a pump to give its pipes back (a re-exec hands them over): a flag
/// and one waker, a few bytes where a watch channel took 0.3 KB a child
/// (issue 26). It also lends the pipes the pump reads: duplicates for a
/// holder that asks again ([`Park::lend`]).
#[derive(Default)]
pub(crate) struct Park {
    asked: AtomicBool,
    waker: AtomicWaker,
    /// The process ended: the pump drains what is left.
    ended: AtomicBool,
    /// The descriptors of the pipes the pump reads, while it reads them:
    /// a slot is emptied, under this lock, before its pipe is closed, so
    /// a number lent is never one reused meanwhile.
    reading: Mutex<[Option<RawFd>; 2]>,
}

impl Park {
    /// The pump is to read these pipes (set before it starts).
    pub(crate) fn reads(&self, pipes: [&OwnedFd; 2]) {
        *self.reading() = pipes.map(|fd| Some(fd.as_raw_fd()));
    }

    fn reading(&self) -> std::sync::MutexGuard<'_, [Option<RawFd>; 2]> {
        self.reading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Duplicates of the pipes the pump still reads (`None` for one it
    /// finished).
    pub(crate) fn lend(&self) -> [Option<OwnedFd>; 2] {
        let reading = self.reading();
        reading.map(|fd| {
            // SAFETY: the number is open while its slot holds it (the pump
            // empties the slot, under the lock held here, before it closes
            // the pipe); it is only borrowed to be duplicated.
            #[allow(unsafe_code)]
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd?) };
            borrowed.try_clone_to_owned().ok()
        })
    }

    /// Empties pipe `index`'s slot; `then` (its close) runs under the lock.
    fn done_reading<T>(&self, index: Option<usize>, then: impl FnOnce() -> T) -> T {
        let mut reading = self.reading();
        match index {
            Some(index) => reading[index] = None,
            None => *reading = [None, None],
        }
        then()
    }

    /// Tells the pump its process ended.
    pub(crate) fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }

    fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Has the pump park; once asked, it stays asked.
    pub(crate) fn ask(&self) {
        self.asked.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Whether it was asked; if not, `cx` is woken when it is.
    fn poll_asked(&self, cx: &mut Context<'_>) -> bool {
        self.waker.register(cx.waker());
        self.asked.load(Ordering::Acquire)
    }
}

/// Empties the lent pipes' slots when the pump ends, before its pipes
/// close.
struct Lent<'a>(&'a Park);

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        self.0.done_reading(None, || ());
    }
}

/// One stream's pipe and the start of a line not finished yet.
struct Reader {
    pipe: pipe::Receiver,
    buffer: Vec<u8>,
}

/// What one read from a pipe came to.
enum Step {
    /// Bytes were read (the whole lines among them written).
    Read,
    /// Whole lines were seen in the pipe and left there for the writer
    /// thread to move into the file: wait for it before reading again.
    Spliced,
    /// Nothing to read now.
    Empty,
    /// End of stream: the partial last line, if any, was written.
    Ended,
}

thread_local! {
    /// A pipe of this thread that `tee` copies a child's pipe into, to
    /// look at its lines without taking them (made on first use, kept).
    static PEEK: std::cell::OnceCell<Option<(OwnedFd, OwnedFd)>> = const { std::cell::OnceCell::new() };
}

impl Reader {
    /// Reads once and hands the whole lines to `sink`.
    ///
    /// While the sink's file is healthy and no partial line is held, the
    /// whole lines are not read out of the pipe: `tee` copies them (for
    /// the ready line, followers and the console) and the writer thread
    /// moves them from the pipe into the file with `splice`. Each byte is
    /// then in the pipe or in the file, never in this process only: a
    /// `kill -9` of the supervisor loses no line, and the next one (the
    /// pipe held by tend's keeper) writes none twice. A line that comes
    /// in parts, or a file that fails, goes the way of a read.
    fn read(&mut self, sink: &LogSink, ready_line: &mut Option<ReadyLine>) -> io::Result<Step> {
        if self.buffer.is_empty() && sink.may_splice() {
            if let Some(step) = self.peek(sink, ready_line)? {
                return Ok(step);
            }
        }
        let buffer = &mut self.buffer;
        if buffer.capacity() - buffer.len() < READ_CHUNK {
            buffer.reserve(READ_CHUNK);
        }
        let read = match self.pipe.try_read_buf(buffer) {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Step::Empty),
            Err(e) => return Err(e),
        };
        if read == 0 {
            if !buffer.is_empty() {
                buffer.push(b'\n');
                sink.write_lines(buffer);
            }
            return Ok(Step::Ended);
        }
        let cut = match buffer.iter().rposition(|&b| b == b'\n') {
            Some(last_newline) => last_newline + 1,
            None if buffer.len() >= MAX_LINE => {
                buffer.push(b'\n');
                buffer.len()
            }
            None => return Ok(Step::Read),
        };
        if let Some(watch) = ready_line {
            if watch.saw(&buffer[..cut]) {
                *ready_line = None;
            }
        }
        sink.write_lines(&buffer[..cut]);
        buffer.drain(..cut);
        if buffer.is_empty() && read < READ_CHUNK {
            // The pipe is drained: give the memory back until more comes.
            *buffer = Vec::new();
        }
        Ok(Step::Read)
    }
}

impl Reader {
    /// Looks at the whole lines at the head of the pipe and has the sink
    /// move them: `None` if there are none (a partial line only, or the
    /// end of the stream), to read instead.
    fn peek(
        &mut self,
        sink: &LogSink,
        ready_line: &mut Option<ReadyLine>,
    ) -> io::Result<Option<Step>> {
        PEEK.with(|peek| {
            let Some((out, into)) = peek
                .get_or_init(|| {
                    rustix::pipe::pipe_with(
                        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
                    )
                    .ok()
                })
                .as_ref()
            else {
                return Ok(None);
            };
            let copied = self.pipe.try_io(|| {
                rustix::pipe::tee(
                    &self.pipe,
                    into,
                    READ_CHUNK,
                    rustix::pipe::SpliceFlags::NONBLOCK,
                )
                .map_err(io::Error::from)
            });
            let copied = match copied {
                Ok(0) => return Ok(None),
                Ok(copied) => copied,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Some(Step::Empty)),
                // Not a pipe `tee` takes: read it.
                Err(_) => return Ok(None),
            };
            let mut lines = Vec::with_capacity(copied);
            read_exactly(out, copied, &mut lines);
            if lines.len() != copied {
                // Never left with a copy in it: the next look would
                // begin with stale bytes.
                let mut rest = [0_u8; 4096];
                while matches!(rustix::io::read(out, &mut rest), Ok(n) if n > 0) {}
                return Ok(None);
            }
            let cut = memchr::memrchr(b'\n', &lines).map_or(0, |i| i + 1);
            if cut == 0 {
                return Ok(None);
            }
            lines.truncate(cut);
            if let Some(watch) = ready_line {
                if watch.saw(&lines) {
                    *ready_line = None;
                }
            }
            let pipe = rustix::io::dup(&self.pipe)?;
            sink.splice_lines(pipe, &lines);
            Ok(Some(Step::Spliced))
        })
    }
}

/// What a pump waits for.
enum Woken {
    /// The pipe of this stream (0 stdout, 1 stderr) may be read, or failed.
    Readable(usize, io::Result<()>),
    /// It is asked to park.
    Park,
}

/// A child's output pipe (the read end of a pipe this crate made, or one a
/// previous image handed over), non-blocking and registered with tokio:
/// one `ioctl` where `from_owned_fd` checks what it is and reads and
/// writes its flags (`fstat`, two `fcntl`), on every restart (issue 26).
fn receiver(fd: OwnedFd) -> io::Result<pipe::Receiver> {
    rustix::io::ioctl_fionbio(&fd, true)?;
    pipe::Receiver::from_owned_fd_unchecked(fd)
}

/// Copies stdout's and stderr's pipes (`pipes`, each with a partial line
/// a previous reader left) to `sink` line by line until both end, or until
/// `park` is asked: then it reads what the pipes hold now, writes the
/// whole lines, and gives the pipes back with their partial lines.
///
/// One task serves both streams, and its idle state is little more than
/// the two pipes: readiness is polled, not awaited through futures, and
/// the waits of a busy pump are boxed (issue 26: a thousand idle children
/// held two thousand pump tasks of 768 bytes). Neither stream starves the
/// other: they are looked at in turn. A stream whose pipe fails is
/// dropped; the other goes on. The buffers are only held while output
/// flows: an idle child costs no buffer memory (a thousand quiet services
/// would otherwise pin 128 KiB each).
pub(crate) async fn pump(
    pipes: [(OwnedFd, Vec<u8>); 2],
    sink: LogSink,
    mut ready_line: Option<ReadyLine>,
    park: Arc<Park>,
) -> Pumped {
    // Under the lent pipes' lock: a pipe that cannot be read is closed
    // with its slot emptied, the others are lent from here on.
    let mut readers = {
        let mut reading = park.reading();
        let readers = pipes.map(|(fd, rest)| match receiver(fd) {
            Ok(pipe) => Some(Reader { pipe, buffer: rest }),
            Err(error) => {
                tracing::warn!(%error, "cannot read a child's output pipe");
                None
            }
        });
        *reading = readers
            .each_ref()
            .map(|r| r.as_ref().map(|r| r.pipe.as_raw_fd()));
        readers
    };
    // Each pipe is closed after its slot is emptied: as it ends (below),
    // and all when this ends however it ends (declared after `readers`,
    // so dropped first).
    let _lent = Lent(&park);
    let mut first = 0;
    while readers.iter().any(Option::is_some) {
        let woken = std::future::poll_fn(|cx| {
            if park.poll_asked(cx) {
                return Poll::Ready(Woken::Park);
            }
            for index in [first, 1 - first] {
                if let Some(reader) = &readers[index] {
                    if let Poll::Ready(ready) = reader.pipe.poll_read_ready(cx) {
                        return Poll::Ready(Woken::Readable(index, ready));
                    }
                }
            }
            Poll::Pending
        })
        .await;
        let (index, step) = match woken {
            Woken::Park => {
                // Boxed: only a re-exec parks.
                return Box::pin(parked_pipes(readers, &sink, &mut ready_line, &park)).await;
            }
            Woken::Readable(index, Err(error)) => (index, Err(error)),
            Woken::Readable(index, Ok(())) => (
                index,
                readers[index]
                    .as_mut()
                    .map_or(Ok(Step::Ended), |r| r.read(&sink, &mut ready_line)),
            ),
        };
        // The other stream is looked at first next time.
        first = 1 - index;
        match step {
            Ok(Step::Read) => sink.room_boxed(&park).await,
            Ok(Step::Spliced) => {
                Box::pin(sink.spliced()).await;
                sink.room_boxed(&park).await;
            }
            Ok(Step::Empty) => {}
            Ok(Step::Ended) => park.done_reading(Some(index), || readers[index] = None),
            Err(error) => {
                tracing::warn!(%error, "cannot read a child's output pipe");
                park.done_reading(Some(index), || readers[index] = None);
            }
        }
    }
    // An ended process's log is whole when its end is told (unless the
    // disk fails or stalls).
    Box::pin(sink.written()).await;
    Pumped::Ended
}

/// Reads what each pipe holds now, writes the whole lines, and gives the
/// pipes back for the next reader, each with its partial line.
async fn parked_pipes(
    readers: [Option<Reader>; 2],
    sink: &LogSink,
    ready_line: &mut Option<ReadyLine>,
    park: &Park,
) -> Pumped {
    // Handed over, or closed below: lent no more.
    park.done_reading(None, || ());
    let mut pipes = [None, None];
    for (slot, reader) in pipes.iter_mut().zip(readers) {
        let Some(mut reader) = reader else { continue };
        loop {
            match reader.read(sink, ready_line) {
                Ok(Step::Read) => sink.room(park).await,
                Ok(Step::Spliced) => sink.spliced().await,
                Ok(Step::Empty) => {
                    match reader.pipe.into_nonblocking_fd() {
                        Ok(fd) => *slot = Some((fd, reader.buffer)),
                        Err(error) => {
                            tracing::warn!(%error, "cannot hand a child's output pipe over");
                        }
                    }
                    break;
                }
                Ok(Step::Ended) => break,
                Err(error) => {
                    tracing::warn!(%error, "cannot read a child's output pipe");
                    break;
                }
            }
        }
    }
    sink.written().await;
    Pumped::Parked { pipes }
}

/// A readiness signal read from output: the first line matching `pattern`
/// (on stdout or stderr) meets the incarnation's `ready.log`. Lines are
/// looked at only until then.
#[derive(Clone)]
pub(crate) struct ReadyLine {
    pub(crate) pattern: Arc<regex::Regex>,
    pub(crate) gate: Arc<ReadyGate>,
}

impl ReadyLine {
    /// Looks at whole lines; tells whether one matched (now or before).
    fn saw(&self, lines: &[u8]) -> bool {
        if self.gate.has(ReadySignal::Log) {
            return true;
        }
        let matched = lines
            .split(|&b| b == b'\n')
            .any(|line| self.pattern.is_match(&String::from_utf8_lossy(line)));
        if matched {
            self.gate.met(ReadySignal::Log);
        }
        matched
    }
}

/// A write that stopped: the first `written` bytes (whole lines) are in
/// the file, the rest are not.
struct Unwritten {
    written: usize,
    error: io::Error,
}

/// An append-only file rotated by size: `file` → `file.1` → … → `file.N`,
/// each opened and renamed relative to its directory's descriptor
/// ([`files`]: no symbolic link followed, regular files only).
///
/// Its descriptor is held only while the log writer keeps it among the
/// files written last ([`LOG_FILES_OPEN`](crate::nofile::LOG_FILES_OPEN)):
/// 10,000 services must not hold 10,000 descriptors (issue 26). Closed,
/// it is opened again, with the same checks, when it has lines to write.
struct RotatingFile {
    /// The whole path, to name it.
    path: PathBuf,
    /// Shared by every file of one directory: one descriptor, not one a
    /// service.
    dir: Arc<OwnedFd>,
    name: OsString,
    /// Open while recently written; `None` once the writer closed it.
    file: Option<File>,
    /// A splice cleared the open file's `O_APPEND` (set again before a
    /// `write`).
    unappended: bool,
    /// Its size, read again from the file each time it is opened.
    size: u64,
    max_size: u64,
    keep: u32,
}

impl RotatingFile {
    /// Opens `path`'s file in `dir` (its directory), made if missing,
    /// checked, and closed again: opened for writing when lines come.
    fn open(dir: Arc<OwnedFd>, path: &Path, max_size: u64, keep: u32) -> io::Result<Self> {
        let name = path
            .file_name()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} names no file", path.display()),
                )
            })?
            .to_owned();
        let mut file = RotatingFile {
            path: path.to_path_buf(),
            dir,
            name,
            file: None,
            unappended: false,
            size: 0,
            max_size,
            keep,
        };
        file.file()?;
        file.close();
        Ok(file)
    }

    /// The open file: opened now (and its size read) if it was closed.
    fn file(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let file =
                files::open_regular(self.dir.as_fd(), &self.name, Access::Append, &self.path)?;
            self.size = file.metadata()?.len();
            self.file = Some(file);
            self.unappended = false;
        }
        // Just opened if it was not.
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("log file not open"))
    }

    /// Gives its descriptor back; the next write opens it again.
    fn close(&mut self) {
        self.file = None;
    }

    fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Writes whole lines, rotating between lines so that no file grows past
    /// `max_size` (unless a single line is longer).
    fn write_lines(&mut self, lines: &[u8]) -> Result<(), Unwritten> {
        let failed = |written: usize| move |error| Unwritten { written, error };
        // Opened first: the size it has now decides the rotation.
        self.file().map_err(failed(0))?;
        if self.max_size == 0 || self.size + lines.len() as u64 <= self.max_size {
            return self.append(lines).map_err(failed(0));
        }
        let mut rest = lines;
        while !rest.is_empty() {
            let written = lines.len() - rest.len();
            let room = self.max_size.saturating_sub(self.size) as usize;
            // The longest run of whole lines that fits.
            let fit = rest[..room.min(rest.len())]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            if fit > 0 {
                self.append(&rest[..fit]).map_err(failed(written))?;
                rest = &rest[fit..];
            } else if self.size == 0 {
                // A line longer than max_size gets a file of its own.
                let end = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| i + 1);
                self.append(&rest[..end]).map_err(failed(written))?;
                rest = &rest[end..];
            } else {
                self.rotate().map_err(failed(written))?;
            }
        }
        Ok(())
    }

    /// Moves the first `len` bytes of `pipe` (whole lines) to the end of
    /// the file with `splice`, unless rotation must come first.
    fn splice_lines(&mut self, pipe: &OwnedFd, len: usize) -> Moved {
        if let Err(error) = self.file() {
            return Moved::Part(0, error);
        }
        // `splice` refuses a file opened to append: it writes at the end
        // read now (a file truncated meanwhile, as by `copytruncate`, is
        // written from its new end), and the flag comes back for the next
        // `write`.
        let unappended = self.unappended;
        let Some(file) = self.file.as_ref() else {
            return Moved::Part(0, io::Error::other("log file not open"));
        };
        let end =
            match set_append(file, false, unappended).and_then(|()| Ok(file.metadata()?.len())) {
                Ok(end) => end,
                Err(error) => return Moved::Part(0, error),
            };
        self.unappended = true;
        self.size = end;
        if self.max_size != 0 && end > 0 && end + len as u64 > self.max_size {
            return Moved::Not;
        }
        let mut offset = end;
        let mut done = 0;
        while done < len {
            match rustix::pipe::splice(
                pipe,
                None,
                file,
                Some(&mut offset),
                len - done,
                rustix::pipe::SpliceFlags::empty(),
            ) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(error) => {
                    self.size += done as u64;
                    return Moved::Part(done, error.into());
                }
            }
        }
        self.size += done as u64;
        if done < len {
            return Moved::Part(
                done,
                io::Error::other("the pipe held fewer bytes than its lines"),
            );
        }
        Moved::All
    }

    /// Appends whole lines, or nothing: a write that failed half-way
    /// (disk full) is cut back, so no line is ever torn.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let size = self.size;
        let unappended = std::mem::take(&mut self.unappended);
        let file = self.file()?;
        set_append(file, true, unappended)?;
        if let Err(error) = file.write_all(bytes) {
            let _ = file.set_len(size);
            return Err(error);
        }
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let numbered = |n: u32| {
            let mut name = self.name.clone();
            name.push(format!(".{n}"));
            name
        };
        let shown = |name: &OsStr| self.path.with_file_name(name);
        if self.keep == 0 {
            self.file = Some(files::open_regular(
                self.dir.as_fd(),
                &self.name,
                Access::Truncate,
                &self.path,
            )?);
        } else {
            let _ =
                rustix::fs::unlinkat(&self.dir, numbered(self.keep).as_os_str(), AtFlags::empty());
            for n in (1..self.keep).rev() {
                let from = numbered(n);
                if files::exists(&self.dir, &from) {
                    rustix::fs::renameat(&self.dir, &from, &self.dir, numbered(n + 1))?;
                }
            }
            rustix::fs::renameat(&self.dir, &self.name, &self.dir, numbered(1))?;
            // Closed first: should the fresh one fail to open, the next
            // write tries again rather than appending to the rotated copy.
            self.file = None;
            let fresh = self.name.clone();
            self.file = Some(files::open_regular(
                self.dir.as_fd(),
                &fresh,
                Access::Append,
                &shown(&fresh),
            )?);
        }
        self.size = 0;
        self.unappended = false;
        Ok(())
    }
}

/// Sets `O_APPEND` on (for `write`) or off (for `splice`), unless it is
/// so already: `unappended` says it is off.
fn set_append(file: &File, on: bool, unappended: bool) -> io::Result<()> {
    if on != unappended {
        return Ok(());
    }
    let flags = rustix::fs::fcntl_getfl(file)?;
    let flags = if on {
        flags | rustix::fs::OFlags::APPEND
    } else {
        flags - rustix::fs::OFlags::APPEND
    };
    rustix::fs::fcntl_setfl(file, flags)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Held by the tests that use the log writer thread: it closes the
    /// files written least recently, another test's too.
    static WRITER: Mutex<()> = Mutex::new(());

    /// Descriptors of this process open on files in `dir` (not on `dir`
    /// itself).
    fn open_in(dir: &Path) -> usize {
        fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.parent() == Some(dir))
            .count()
    }

    #[test]
    fn log_files_are_open_only_while_written_a_bounded_few_at_a_time() {
        let _alone = WRITER.lock().unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("tend-open-logs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let n = crate::nofile::LOG_FILES_OPEN * 2 + 10;
        // The first one rotated every two lines: its rotation goes on
        // across closes and opens.
        let sinks: Vec<LogSink> = (0..n)
            .map(|i| {
                LogSink::from_spec(&LogSpec {
                    file: Some(dir.join(format!("s{i}.log"))),
                    max_size: if i == 0 { 30 } else { 0 },
                    keep: 2,
                    ..LogSpec::default()
                })
                .unwrap()
            })
            .collect();
        // Made (an empty file for `tend logs`), and closed.
        assert!(dir.join(format!("s{}.log", n - 1)).exists());
        assert_eq!(open_in(&dir), 0, "log files held open before any line");
        for round in 0..3 {
            for (i, sink) in sinks.iter().enumerate() {
                sink.write_lines(format!("round {round} of {i:03}\n").as_bytes());
            }
            flush_logs(Duration::from_secs(60));
            let open = open_in(&dir);
            assert!(
                open <= crate::nofile::LOG_FILES_OPEN,
                "{open} log files open after round {round}"
            );
        }
        for i in 1..n {
            assert_eq!(
                fs::read_to_string(dir.join(format!("s{i}.log"))).unwrap(),
                format!("round 0 of {i:03}\nround 1 of {i:03}\nround 2 of {i:03}\n")
            );
        }
        // 15 bytes a line, 30 a file: rotated after the second.
        assert_eq!(
            fs::read_to_string(dir.join("s0.log.1")).unwrap(),
            "round 0 of 000\nround 1 of 000\n"
        );
        assert_eq!(
            fs::read_to_string(dir.join("s0.log")).unwrap(),
            "round 2 of 000\n"
        );
        drop(sinks);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A healthy file takes a line longer than what is held for a failing
    /// one, whole: it was dropped as if the disk had stalled.
    #[test]
    fn a_line_longer_than_the_held_bound_is_written_whole() {
        let _alone = WRITER.lock().unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("tend-long-line-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let troubles = Arc::new(Mutex::new(Vec::new()));
        let heard = troubles.clone();
        let sink = LogSink::from_spec(&LogSpec {
            file: Some(dir.join("long.log")),
            ..LogSpec::default()
        })
        .unwrap()
        .on_trouble(move |t| heard.lock().unwrap().push(t));
        sink.keep_writer_away();
        let mut line = vec![b'y'; HELD_MAX + HELD_MAX / 2];
        line.push(b'\n');
        sink.write_lines(&line);
        sink.write_lines(b"after\n");
        sink.write_now();
        let log = fs::read(dir.join("long.log")).unwrap();
        assert_eq!(log.len(), line.len() + 6, "{:?}", troubles.lock().unwrap());
        assert!(log.ends_with(b"y\nafter\n"));
        assert!(troubles.lock().unwrap().is_empty());
        drop(sink);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A follower that starts while lines wait for the file (read from
    /// the child, sent to followers already, in the queue or still in the
    /// pipe) finds them in the file it reads, and gets live only what comes
    /// after: no line missed, none twice (`tend logs -f` under load missed
    /// one when it subscribed, then read the file).
    #[test]
    fn a_follower_starts_exactly_where_the_file_ends() {
        let _alone = WRITER.lock().unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("tend-follow-after-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("talker.log");
        let sink = LogSink::from_spec(&LogSpec {
            file: Some(file.clone()),
            ..LogSpec::default()
        })
        .unwrap();
        sink.keep_writer_away();
        let before = sink.follow();
        sink.write_lines(&lines(1, 3));
        let (read_end, write_end) = rustix::pipe::pipe().unwrap();
        rustix::io::write(&write_end, &lines(4, 6)).unwrap();
        sink.splice_lines(read_end, &lines(4, 6));
        assert_eq!(
            fs::read(&file).unwrap_or_default(),
            b"",
            "nothing written yet"
        );

        let (mut after, tail) = sink.follow_after(|| fs::read(&file).unwrap());
        assert_eq!(tail, lines(1, 6), "what waited is in the file read");
        sink.keep_writer_away();
        sink.write_lines(&lines(7, 8));
        assert_eq!(&*after.try_recv().unwrap(), &lines(7, 8)[..]);
        assert!(after.try_recv().is_err(), "nothing twice");
        drop(before);
        drop(sink);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A follower that starts while the writer thread is stuck in a write
    /// (a frozen disk: it holds the file's lock) is not held until the disk
    /// thaws: it reads the file and follows.
    #[test]
    fn a_follower_is_not_held_by_a_writer_stuck_in_a_write() {
        let _alone = WRITER.lock().unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("tend-follow-stuck-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("frozen.log");
        let sink = LogSink::from_spec(&LogSpec {
            file: Some(file.clone()),
            ..LogSpec::default()
        })
        .unwrap();
        sink.keep_writer_away();
        sink.write_lines(&lines(1, 2));
        // The writer thread in a write that began a second ago.
        let held = sink.inner.file.lock().unwrap();
        while writer::now_ms() < 1_100 {
            std::thread::sleep(Duration::from_millis(10));
        }
        writer::BUSY_SINCE.store(writer::now_ms() - 1_000, Ordering::Relaxed);
        let (done, started) = std::sync::mpsc::channel();
        let following = sink.clone();
        let reading = file.clone();
        std::thread::spawn(move || {
            let (_, read) = following.follow_after(|| fs::read(&reading).unwrap_or_default());
            let _ = done.send(read);
        });
        let read = started.recv_timeout(Duration::from_secs(30));
        writer::BUSY_SINCE.store(0, Ordering::Relaxed);
        drop(held);
        assert_eq!(
            read.expect("follow_after returned while the write was stuck"),
            b""
        );
        drop(sink);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Lines `from..=to`, numbered.
    fn lines(from: u64, to: u64) -> Vec<u8> {
        (from..=to)
            .flat_map(|n| format!("line {n:07}\n").into_bytes())
            .collect()
    }

    #[test]
    fn a_file_that_refuses_writes_holds_lines_drops_the_oldest_and_catches_up_with_a_marker() {
        let _alone = WRITER.lock().unwrap_or_else(|e| e.into_inner());
        let troubles = Arc::new(Mutex::new(Vec::new()));
        let heard = troubles.clone();
        // /dev/full refuses every write with ENOSPC (a device: put in
        // place by hand, as `from_spec` opens regular files only).
        let sink = LogSink::discard().on_trouble(move |t| heard.lock().unwrap().push(t));
        sink.lock().has_file = true;
        *sink.inner.file.lock().unwrap() = Some(RotatingFile {
            path: "/dev/full".into(),
            dir: Arc::new(files::open_dir(Path::new("/dev")).unwrap()),
            name: "full".into(),
            file: Some(
                fs::OpenOptions::new()
                    .append(true)
                    .open("/dev/full")
                    .unwrap(),
            ),
            unappended: false,
            size: 0,
            max_size: 0,
            keep: 0,
        });
        // Written only by `write_now`: a writer thread kept off the
        // processor on a loaded machine would otherwise decide how much is
        // held (CI saw a quarter of it once).
        sink.keep_writer_away();
        let follower = sink.follow();
        // 13 bytes a line: 200,000 lines are 2.6 MB, more than is held.
        let total = 200_000u64;
        for chunk in (1..=total).step_by(1000) {
            sink.write_lines(&lines(chunk, chunk + 999));
            if chunk == 1 {
                sink.write_now();
            }
        }
        sink.write_now();
        assert!(sink.is_failing());
        // Failing once, for the refused write.
        assert!(
            matches!(&troubles.lock().unwrap()[..], [LogTrouble::Failing { error }] if error.contains("No space")),
            "{:?}",
            troubles.lock().unwrap()
        );
        // Live followers got everything meanwhile.
        assert_eq!(follower.len(), 200);
        sink.write_now();
        assert!(sink.is_failing(), "still /dev/full");

        // Space comes back: the same sink, a file that takes writes.
        let dir = std::env::temp_dir().join(format!("tend-held-{}", std::process::id()));
        let path = dir.join("out.log");
        fs::create_dir_all(&dir).unwrap();
        *sink.inner.file.lock().unwrap() = Some(
            RotatingFile::open(Arc::new(files::open_dir(&dir).unwrap()), &path, 0, 0).unwrap(),
        );
        sink.write_lines(&lines(total + 1, total + 1));
        sink.write_now();
        assert!(!sink.is_failing());
        let text = fs::read_to_string(&path).unwrap();
        let mut rows = text.lines();
        let marker = rows.next().unwrap();
        let dropped: u64 = marker
            .strip_prefix("tend: ")
            .and_then(|m| m.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no marker first: {marker}"));
        assert!(marker.contains("No space left on device"), "{marker}");
        // Held: the newest lines, whole, in order, then the new one.
        let kept: Vec<u64> = rows
            .map(|l| l.strip_prefix("line ").unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            kept.first(),
            Some(&(dropped + 1)),
            "the oldest were dropped"
        );
        assert!(kept.windows(2).all(|w| w[1] == w[0] + 1), "gap or disorder");
        assert_eq!(kept.last(), Some(&(total + 1)));
        // As much as is held, to the line.
        assert!(kept.len() as u64 * 13 <= HELD_MAX as u64);
        assert!(kept.len() as u64 * 13 > HELD_MAX as u64 - 13);
        assert!(matches!(
            &troubles.lock().unwrap()[..],
            [LogTrouble::Failing { .. }, LogTrouble::Recovered { dropped_lines, .. }] if *dropped_lines == dropped
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
