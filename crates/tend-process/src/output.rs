//! Capturing standard output and error: whole lines, none lost.
//!
//! Each stream is read by its own task from a non-blocking pipe and written,
//! line by line, to the child's [`LogSink`]: a size-rotated file and/or a live
//! tee. The task awaits each write before reading more, so a slow sink slows
//! the child (the pipe fills and its `write` blocks) instead of dropping
//! output. Lines are never torn: a chunk is cut after its last newline and the
//! rest waits for the next read; a partial last line is written with a newline
//! at end of stream. File writes are plain `write(2)` calls into the page
//! cache from the pump task; they never run on the supervisor's task.
//!
//! A file that cannot take a write (disk full, read-only, unwritable) never
//! stops the child: a write that failed half-way is cut back to its last
//! whole line, the lines are held (up to [`HELD_MAX`] bytes; beyond that the
//! oldest are dropped and counted), the file is tried again on the next
//! output and every [`RETRY`], and once it takes them the held lines follow
//! a marker line saying how many were dropped. The tee and live followers
//! get every line meanwhile. [`LogSink::on_trouble`] hears both turns.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tend_spec::LogSpec;
use tokio::net::unix::pipe;
use tokio::sync::broadcast;

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
    state: Mutex<SinkInner>,
    /// Whether the file is failing (read by the pumps without the lock).
    failing: AtomicBool,
}

#[derive(Default)]
struct SinkInner {
    file: Option<RotatingFile>,
    tee: Option<Tee>,
    timestamps: bool,
    /// Live followers (`tend logs -f`); made on the first `follow`.
    live: Option<broadcast::Sender<Arc<[u8]>>>,
    /// Lines the file has not taken yet, while it fails.
    held: Option<Held>,
    on_trouble: Option<TroubleHandler>,
}

type TroubleHandler = Arc<dyn Fn(LogTrouble) + Send + Sync>;

/// Lines waiting for a file that failed.
struct Held {
    lines: Vec<u8>,
    dropped_lines: u64,
    dropped_bytes: u64,
    since: SystemTime,
    error: String,
}

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
    /// The file stopped taking writes; lines are held from now on.
    Failing {
        /// Why (the OS error).
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
            Some(path) => Some(RotatingFile::open(path, spec.max_size, spec.keep)?),
            None => None,
        };
        Ok(LogSink {
            inner: Arc::new(Shared {
                state: Mutex::new(SinkInner {
                    file,
                    timestamps: spec.timestamps,
                    ..SinkInner::default()
                }),
                failing: AtomicBool::new(false),
            }),
        })
    }

    /// Calls `handler` when the file stops taking writes and when it takes
    /// them again (from the writing task: keep it short).
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

    /// Tries a failing file again (the pumps do so every second).
    pub fn retry(&self) {
        if self.is_failing() {
            self.lock().catch_up(&self.inner.failing);
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
        self.lock()
            .live
            .get_or_insert_with(|| broadcast::channel(FOLLOW_BACKLOG).0)
            .subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkInner> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes complete lines (`lines` ends with a newline). Never fails: a
    /// file that cannot take them holds them, a tee that cannot is skipped.
    fn write_lines(&self, lines: &[u8]) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let followed = inner.live.as_ref().is_some_and(|l| l.receiver_count() > 0);
        if inner.file.is_none() && inner.tee.is_none() && !followed {
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
        if inner.file.is_some() {
            inner.store(lines, &self.inner.failing);
        }
        if let Some(Tee::Stdout { prefix }) = &inner.tee {
            // A terminal that went away must not end the pump (the child
            // would die of SIGPIPE): the copy is skipped.
            let _ = tee(prefix, lines);
        }
    }
}

fn tee(prefix: &str, lines: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for line in lines.split_inclusive(|&b| b == b'\n') {
        out.write_all(prefix.as_bytes())?;
        out.write_all(line)?;
    }
    out.flush()
}

impl SinkInner {
    /// Writes lines to the file, or holds them while it fails.
    fn store(&mut self, lines: &[u8], failing: &AtomicBool) {
        if self.held.is_some() && !self.catch_up(failing) {
            self.hold(lines);
            return;
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if let Err(Unwritten { written, error }) = file.write_lines(lines) {
            let lines = &lines[written..];
            tracing::error!(file = %file.path.display(), %error, "log file unwritable: holding its lines");
            self.held = Some(Held {
                lines: Vec::new(),
                dropped_lines: 0,
                dropped_bytes: 0,
                since: SystemTime::now(),
                error: error.to_string(),
            });
            failing.store(true, Ordering::Relaxed);
            self.hold(lines);
            if let Some(handler) = &self.on_trouble {
                handler(LogTrouble::Failing {
                    error: error.to_string(),
                });
            }
        }
    }

    /// Keeps `lines` for later, dropping the oldest whole lines beyond
    /// [`HELD_MAX`].
    fn hold(&mut self, lines: &[u8]) {
        let Some(held) = self.held.as_mut() else {
            return;
        };
        held.lines.extend_from_slice(lines);
        if held.lines.len() > HELD_MAX {
            let excess = held.lines.len() - HELD_MAX;
            // Cut after the first newline at or past the excess.
            let cut = held.lines[excess..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(held.lines.len(), |i| excess + i + 1);
            held.dropped_lines += held.lines[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
            held.dropped_bytes += cut as u64;
            held.lines.drain(..cut);
        }
    }

    /// Writes the held lines (after a marker, if some were dropped);
    /// whether the file took them.
    fn catch_up(&mut self, failing: &AtomicBool) -> bool {
        let (Some(file), Some(held)) = (self.file.as_mut(), self.held.as_ref()) else {
            return true;
        };
        let mut text = Vec::with_capacity(held.lines.len() + 200);
        if held.dropped_lines > 0 {
            text.extend_from_slice(
                format!(
                    "tend: {} lines ({} bytes) of output were dropped here: the log could not be written from {} ({})\n",
                    held.dropped_lines,
                    held.dropped_bytes,
                    humantime::format_rfc3339_seconds(held.since),
                    held.error
                )
                .as_bytes(),
            );
        }
        let marker = text.len();
        text.extend_from_slice(&held.lines);
        if let Err(Unwritten { written, .. }) = file.write_lines(&text) {
            // What was written is not held again; a marker half-written
            // is written again whole.
            if let Some(held) = self.held.as_mut() {
                let done = written.saturating_sub(marker);
                held.lines.drain(..done);
                if written >= marker {
                    held.dropped_lines = 0;
                    held.dropped_bytes = 0;
                }
            }
            return false;
        }
        let after = held.since.elapsed().unwrap_or_default();
        let dropped_lines = held.dropped_lines;
        tracing::info!(file = %file.path.display(), dropped_lines, ?after, "log file writable again");
        self.held = None;
        failing.store(false, Ordering::Relaxed);
        if let Some(handler) = &self.on_trouble {
            handler(LogTrouble::Recovered {
                dropped_lines,
                after,
            });
        }
        true
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
    /// At end of stream (every writer closed the pipe).
    Ended,
    /// Asked to park (a re-exec hands the pipe over): the pipe, and the
    /// start of a line not finished yet. Everything before it was written.
    Parked {
        /// The pipe's read end.
        fd: OwnedFd,
        /// A partial last line, to be continued by the next reader.
        rest: Vec<u8>,
    },
}

/// Waits [`RETRY`]: the timer boxed, so a pump carries it only while its
/// sink fails (each loop makes this future, used or not; issue 26).
async fn retry_later() {
    Box::pin(tokio::time::sleep(RETRY)).await;
}

/// Copies a pipe to `sink` line by line until end of stream, or until
/// `park` turns true: then it reads what the pipe holds now, writes the
/// whole lines, and gives the pipe back with the partial line. `rest` is a
/// partial line a previous reader left.
///
/// The buffer is only held while output flows: an idle child costs no
/// buffer memory (a thousand quiet services would otherwise pin 128 KiB
/// each).
pub(crate) async fn pump(
    fd: OwnedFd,
    rest: Vec<u8>,
    sink: LogSink,
    mut ready_line: Option<ReadyLine>,
    mut park: tokio::sync::watch::Receiver<bool>,
) -> io::Result<Pumped> {
    let pipe = pipe::Receiver::from_owned_fd(fd)?;
    let mut buffer: Vec<u8> = rest;
    let (mut parking, mut may_park) = (false, true);
    loop {
        if !parking {
            tokio::select! {
                readable = pipe.readable() => readable?,
                () = retry_later(), if sink.is_failing() => {
                    sink.retry();
                    continue;
                }
                parked = park.wait_for(|p| *p), if may_park => {
                    // A dropped sender means no park is coming.
                    parking = parked.is_ok();
                    may_park = parking;
                    continue;
                }
            }
        }
        if buffer.capacity() - buffer.len() < READ_CHUNK {
            buffer.reserve(READ_CHUNK);
        }
        let read = match pipe.try_read_buf(&mut buffer) {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && parking => {
                let fd = pipe.into_nonblocking_fd()?;
                return Ok(Pumped::Parked { fd, rest: buffer });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        if read == 0 {
            if !buffer.is_empty() {
                buffer.push(b'\n');
                sink.write_lines(&buffer);
            }
            return Ok(Pumped::Ended);
        }
        let cut = match buffer.iter().rposition(|&b| b == b'\n') {
            Some(last_newline) => last_newline + 1,
            None if buffer.len() >= MAX_LINE => {
                buffer.push(b'\n');
                buffer.len()
            }
            None => continue,
        };
        if let Some(watch) = &ready_line {
            if watch.saw(&buffer[..cut]) {
                ready_line = None;
            }
        }
        sink.write_lines(&buffer[..cut]);
        buffer.drain(..cut);
        if buffer.is_empty() && read < READ_CHUNK {
            // The pipe is drained: give the memory back until more comes.
            buffer = Vec::new();
        }
    }
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

/// An append-only file rotated by size: `file` → `file.1` → … → `file.N`.
struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    keep: u32,
}

impl RotatingFile {
    fn open(path: &Path, max_size: u64, keep: u32) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            keep,
        })
    }

    /// Writes whole lines, rotating between lines so that no file grows past
    /// `max_size` (unless a single line is longer).
    fn write_lines(&mut self, lines: &[u8]) -> Result<(), Unwritten> {
        let failed = |written: usize| move |error| Unwritten { written, error };
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

    /// Appends whole lines, or nothing: a write that failed half-way
    /// (disk full) is cut back, so no line is ever torn.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Err(error) = self.file.write_all(bytes) {
            let _ = self.file.set_len(self.size);
            return Err(error);
        }
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let numbered = |n: u32| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        if self.keep == 0 {
            self.file = File::create(&self.path)?;
        } else {
            let _ = fs::remove_file(numbered(self.keep));
            for n in (1..self.keep).rev() {
                let from = numbered(n);
                if from.exists() {
                    fs::rename(&from, numbered(n + 1))?;
                }
            }
            fs::rename(&self.path, numbered(1))?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines `from..=to`, numbered.
    fn lines(from: u64, to: u64) -> Vec<u8> {
        (from..=to)
            .flat_map(|n| format!("line {n:07}\n").into_bytes())
            .collect()
    }

    #[test]
    fn a_file_that_refuses_writes_holds_lines_drops_the_oldest_and_catches_up_with_a_marker() {
        let troubles = Arc::new(Mutex::new(Vec::new()));
        let heard = troubles.clone();
        // /dev/full refuses every write with ENOSPC.
        let sink = LogSink::from_spec(&LogSpec {
            file: Some("/dev/full".into()),
            ..LogSpec::default()
        })
        .unwrap()
        .on_trouble(move |t| heard.lock().unwrap().push(t));
        let follower = sink.follow();
        // 13 bytes a line: 200,000 lines are 2.6 MB, more than is held.
        let total = 200_000u64;
        for chunk in (1..=total).step_by(1000) {
            sink.write_lines(&lines(chunk, chunk + 999));
        }
        assert!(sink.is_failing());
        assert!(
            matches!(&troubles.lock().unwrap()[..], [LogTrouble::Failing { error }] if error.contains("No space"))
        );
        // Live followers got everything meanwhile.
        assert_eq!(follower.len(), 200);
        sink.retry();
        assert!(sink.is_failing(), "still /dev/full");

        // Space comes back: the same sink, a file that takes writes.
        let dir = std::env::temp_dir().join(format!("tend-held-{}", std::process::id()));
        let path = dir.join("out.log");
        sink.lock().file = Some(RotatingFile::open(&path, 0, 0).unwrap());
        sink.write_lines(&lines(total + 1, total + 1));
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
        assert!(kept.len() as u64 * 13 <= HELD_MAX as u64 + 13);
        assert!(kept.len() as u64 * 13 >= HELD_MAX as u64 - 13);
        assert!(matches!(
            &troubles.lock().unwrap()[..],
            [LogTrouble::Failing { .. }, LogTrouble::Recovered { dropped_lines, .. }] if *dropped_lines == dropped
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
