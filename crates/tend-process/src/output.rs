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

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tend_spec::LogSpec;
use tokio::net::unix::pipe;
use tokio::sync::broadcast;

/// A line longer than this is written in pieces rather than buffered whole.
const MAX_LINE: usize = 1 << 20;
const READ_CHUNK: usize = 64 * 1024;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Where a child's output goes. One sink serves both streams and every
/// incarnation of a child; clones share it.
#[derive(Clone, Default)]
pub struct LogSink {
    inner: Arc<Mutex<SinkInner>>,
}

#[derive(Default)]
struct SinkInner {
    file: Option<RotatingFile>,
    tee: Option<Tee>,
    timestamps: bool,
    /// Live followers (`tend logs -f`); made on the first `follow`.
    live: Option<broadcast::Sender<Arc<[u8]>>>,
}

/// Chunks of whole lines a follower may fall behind by before it loses the
/// oldest (it is told how many by `Lagged`; the file keeps everything).
const FOLLOW_BACKLOG: usize = 1024;

/// A live copy of the output for a foreground view.
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
            inner: Arc::new(Mutex::new(SinkInner {
                file,
                tee: None,
                timestamps: spec.timestamps,
                live: None,
            })),
        })
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
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes complete lines (`lines` ends with a newline).
    fn write_lines(&self, lines: &[u8]) -> io::Result<()> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let followed = inner.live.as_ref().is_some_and(|l| l.receiver_count() > 0);
        if inner.file.is_none() && inner.tee.is_none() && !followed {
            return Ok(());
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
        if let Some(file) = inner.file.as_mut() {
            file.write_lines(lines)?;
        }
        if let Some(Tee::Stdout { prefix }) = &inner.tee {
            let mut out = io::stdout().lock();
            for line in lines.split_inclusive(|&b| b == b'\n') {
                out.write_all(prefix.as_bytes())?;
                out.write_all(line)?;
            }
            out.flush()?;
        }
        Ok(())
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

/// Copies one stream into the sink until end of stream. Returns the bytes
/// copied.
///
/// The buffer is only held while output flows: an idle child costs no
/// buffer memory (a thousand quiet services would otherwise pin 128 KiB
/// each).
pub(crate) async fn pump(
    fd: OwnedFd,
    sink: LogSink,
    mut ready_line: Option<ReadyLine>,
) -> io::Result<u64> {
    let pipe = pipe::Receiver::from_owned_fd(fd)?;
    let mut buffer: Vec<u8> = Vec::new();
    let mut total = 0u64;
    loop {
        pipe.readable().await?;
        if buffer.capacity() - buffer.len() < READ_CHUNK {
            buffer.reserve(READ_CHUNK);
        }
        let read = match pipe.try_read_buf(&mut buffer) {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        if read == 0 {
            if !buffer.is_empty() {
                buffer.push(b'\n');
                sink.write_lines(&buffer)?;
            }
            return Ok(total);
        }
        total += read as u64;
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
        sink.write_lines(&buffer[..cut])?;
        buffer.drain(..cut);
        if buffer.is_empty() && read < READ_CHUNK {
            // The pipe is drained: give the memory back until more comes.
            buffer = Vec::new();
        }
    }
}

/// A readiness signal read from output: the first line matching `pattern`
/// (on stdout or stderr) makes the incarnation ready. Lines are looked at
/// only until then.
#[derive(Clone)]
pub(crate) struct ReadyLine {
    pub(crate) pattern: Arc<regex::Regex>,
    pub(crate) ctx: tend::Context,
}

impl ReadyLine {
    /// Looks at whole lines; tells whether one matched (and said ready).
    fn saw(&self, lines: &[u8]) -> bool {
        if self.ctx.is_ready() {
            return true;
        }
        let matched = lines
            .split(|&b| b == b'\n')
            .any(|line| self.pattern.is_match(&String::from_utf8_lossy(line)));
        if matched {
            self.ctx.ready();
        }
        matched
    }
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
    fn write_lines(&mut self, lines: &[u8]) -> io::Result<()> {
        if self.max_size == 0 || self.size + lines.len() as u64 <= self.max_size {
            return self.append(lines);
        }
        let mut rest = lines;
        while !rest.is_empty() {
            let room = self.max_size.saturating_sub(self.size) as usize;
            // The longest run of whole lines that fits.
            let fit = rest[..room.min(rest.len())]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            if fit > 0 {
                self.append(&rest[..fit])?;
                rest = &rest[fit..];
            } else if self.size == 0 {
                // A line longer than max_size gets a file of its own.
                let end = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| i + 1);
                self.append(&rest[..end])?;
                rest = &rest[end..];
            } else {
                self.rotate()?;
            }
        }
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
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
