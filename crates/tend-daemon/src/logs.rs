//! Service output: one rotated file per instance in the state directory, a
//! coloured copy on the terminal when `tend up` runs in the foreground, and
//! the last lines of a file for `tend logs`.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tend_journal::{JournalWriter, Record};
use tend_process::{LogSink, LogSpec, LogTrouble, Tee};

use crate::paths::{log_name, Access, Dir, StateDir};

/// How the foreground copy looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// No copy (a detached daemon).
    Off,
    /// `name | line`, the line as it is (standard output is not a
    /// terminal).
    Plain,
    /// `name | line` on a terminal: the line's control characters escaped,
    /// the name coloured unless `NO_COLOR` is set.
    Terminal {
        /// Whether the name is coloured.
        coloured: bool,
    },
}

/// Whether output may be coloured: only to a terminal (`terminal`), and
/// not when `NO_COLOR` is set to anything but the empty string
/// (<https://no-color.org>).
#[must_use]
pub fn colours(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

const COLOURS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// Every instance's sink, by instance name.
#[derive(Debug, Clone)]
pub struct Sinks {
    dir: StateDir,
    echo: Echo,
    by_name: Arc<Mutex<HashMap<String, LogSink>>>,
    width: usize,
    /// Where a log file's failures and recoveries are recorded.
    journal: Option<JournalWriter>,
    /// `logs/`'s descriptor, opened and checked once, shared by every sink.
    logs: Arc<Mutex<Option<Arc<OwnedFd>>>>,
}

impl Sinks {
    /// Sinks writing under `dir`, echoed as `echo` says, names padded to
    /// `width`.
    #[must_use]
    pub fn new(dir: StateDir, echo: Echo, width: usize) -> Sinks {
        Sinks {
            dir,
            echo,
            by_name: Arc::default(),
            width,
            journal: None,
            logs: Arc::default(),
        }
    }

    /// `logs/`'s descriptor, opened (and checked) the first time.
    fn logs_dir(&self) -> io::Result<Arc<OwnedFd>> {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(fd) = logs.as_ref() {
            return Ok(Arc::clone(fd));
        }
        let fd = Arc::new(self.dir.open_logs()?.into_fd());
        *logs = Some(Arc::clone(&fd));
        Ok(fd)
    }

    /// Records in `journal` when a log file stops taking writes and when it
    /// takes them again.
    #[must_use]
    pub fn with_journal(mut self, journal: JournalWriter) -> Sinks {
        self.journal = Some(journal);
        self
    }

    /// A new sink for `instance` (replacing any before it), the file rotated
    /// as `spec` says; `colour` picks its colour.
    ///
    /// # Errors
    /// If its file cannot be opened.
    pub fn open(&self, instance: &str, spec: &LogSpec, colour: usize) -> io::Result<LogSink> {
        let spec = LogSpec {
            file: Some(self.dir.log_file(instance)),
            ..spec.clone()
        };
        // In `logs/`, checked, by its descriptor: a planted symbolic link
        // or FIFO is refused, never followed.
        let mut sink = LogSink::from_spec_in(self.logs_dir()?, &spec)?;
        if let Some(journal) = self.journal.clone() {
            let service = instance.to_owned();
            sink = sink.on_trouble(move |trouble| {
                let file = "log".to_owned();
                let service = Some(service.clone());
                let record = match trouble {
                    LogTrouble::Failing { error } => Record::WriteFailed {
                        file,
                        service,
                        error,
                    },
                    LogTrouble::Recovered {
                        dropped_lines,
                        after,
                    } => Record::WriteRecovered {
                        file,
                        service,
                        after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
                        dropped: dropped_lines,
                    },
                };
                journal.record("", record);
            });
        }
        let name = format!("{instance:<width$}", width = self.width);
        match self.echo {
            Echo::Off => {}
            Echo::Plain => {
                sink = sink.with_tee(Tee::Stdout {
                    prefix: format!("{name} | "),
                })
            }
            Echo::Terminal { coloured: false } => {
                sink = sink.with_tee(Tee::Terminal {
                    prefix: format!("{name} | "),
                })
            }
            Echo::Terminal { coloured: true } => {
                let code = COLOURS[colour % COLOURS.len()];
                sink = sink.with_tee(Tee::Terminal {
                    prefix: format!("\x1b[{code}m{name} |\x1b[0m "),
                });
            }
        }
        self.lock().insert(instance.to_owned(), sink.clone());
        Ok(sink)
    }

    /// The sink of `instance`, if it has one.
    #[must_use]
    pub fn get(&self, instance: &str) -> Option<LogSink> {
        self.lock().get(instance).cloned()
    }

    /// Forgets `instance` (a removed service).
    pub fn remove(&self, instance: &str) {
        self.lock().remove(instance);
    }

    /// The log file of `instance`.
    #[must_use]
    pub fn file(&self, instance: &str) -> PathBuf {
        self.dir.log_file(instance)
    }

    /// The last `n` lines of `instance`'s log file ([`tail`]).
    ///
    /// # Errors
    /// If its directory or file cannot be read.
    pub fn tail(&self, instance: &str, n: usize) -> io::Result<Vec<u8>> {
        tail(&self.dir.open_logs()?, &log_name(instance), n)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LogSink>> {
        self.by_name.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Below this, the state directory's filesystem counts as full.
const NEARLY_FULL: u64 = 64 * 1024;

/// A warning when the filesystem of `dir` (the state directory) has no
/// room left: tend starts anyway, holding what it cannot write.
#[must_use]
pub fn full_disk_warning(dir: &Path) -> Option<String> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    (free < NEARLY_FULL).then(|| {
        format!(
            "tend: warning: the filesystem of {} is full ({free} bytes free): services start, their output (1 MiB each) and the journal's records are held in memory and written once space returns",
            dir.display()
        )
    })
}

/// `lines` as `tend logs` shows several instances' output: each line
/// after its instance's name, padded to `width`; as they are when
/// `prefix` is false (one instance).
#[must_use]
pub fn prefixed(name: &str, width: usize, prefix: bool, lines: &[u8]) -> Vec<u8> {
    if !prefix {
        return lines.to_vec();
    }
    let mut out = Vec::with_capacity(lines.len() + 16);
    for line in lines.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(format!("{name:<width$} | ").as_bytes());
        out.extend_from_slice(line);
    }
    out
}

/// The last `n` lines of the log file `name` in `dir`, reaching into its
/// first rotated copy (`name.1`) when the current one has fewer. Opened
/// through no symbolic link, regular files only.
///
/// # Errors
/// If a file exists but cannot be read, or is not a regular file.
pub fn tail(dir: &Dir, name: &str, n: usize) -> io::Result<Vec<u8>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut lines = last_lines(dir, name, n)?;
    // A partial last line counts as a line.
    let partial = usize::from(lines.last().is_some_and(|&b| b != b'\n'));
    let found = lines.iter().filter(|&&b| b == b'\n').count() + partial;
    if found < n {
        let mut older = last_lines(dir, &format!("{name}.1"), n - found)?;
        older.append(&mut lines);
        lines = older;
    }
    Ok(lines)
}

/// Reads backwards from the end in blocks until `n` line ends are found.
fn last_lines(dir: &Dir, name: &str, n: usize) -> io::Result<Vec<u8>> {
    const BLOCK: u64 = 64 * 1024;
    let mut f = match dir.open_file(name, Access::Read) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let mut start = len;
    let mut buffer = Vec::new();
    loop {
        let from = start.saturating_sub(BLOCK);
        let mut block = vec![0; (start - from) as usize];
        f.seek(SeekFrom::Start(from))?;
        f.read_exact(&mut block)?;
        block.append(&mut buffer);
        buffer = block;
        start = from;
        // One more newline than lines wanted: the one before the first line.
        let newlines = buffer.iter().filter(|&&b| b == b'\n').count();
        let trailing = usize::from(buffer.last() == Some(&b'\n'));
        if start == 0 || newlines > n - 1 + trailing {
            break;
        }
    }
    let mut ends = buffer
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(i, _)| i)
        .rev();
    // Skip the trailing newline, then n-1 more: the next one (if any)
    // ends the line before the first one kept.
    let skip = if buffer.last() == Some(&b'\n') {
        n
    } else {
        n - 1
    };
    let cut = ends.nth(skip).map_or(0, |i| i + 1);
    Ok(buffer.split_off(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_takes_the_last_lines_across_blocks_and_rotations() {
        let root = std::env::temp_dir().join(format!("tend-tail-{}", std::process::id()));
        let state = StateDir::for_config(std::path::Path::new("tend.toml"), Some(&root));
        state.create().unwrap();
        let logs = state.open_logs().unwrap();
        let dir = state.logs();
        let file = dir.join("a.log");
        let text: String = (1..=30_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&file, &text).unwrap();
        let got = String::from_utf8(tail(&logs, "a.log", 3).unwrap()).unwrap();
        assert_eq!(got, "line 29998\nline 29999\nline 30000\n");
        let many = tail(&logs, "a.log", 20_000).unwrap();
        assert_eq!(many.iter().filter(|&&b| b == b'\n').count(), 20_000);
        assert!(String::from_utf8(many).unwrap().starts_with("line 10001\n"));

        std::fs::write(dir.join("a.log.1"), "old 1\nold 2\n").unwrap();
        std::fs::write(&file, "new 1\n").unwrap();
        assert_eq!(
            String::from_utf8(tail(&logs, "a.log", 2).unwrap()).unwrap(),
            "old 2\nnew 1\n"
        );
        assert_eq!(
            String::from_utf8(tail(&logs, "a.log", 9).unwrap()).unwrap(),
            "old 1\nold 2\nnew 1\n"
        );
        // A partial last line counts as a line.
        std::fs::write(&file, "a\nb").unwrap();
        assert_eq!(
            String::from_utf8(tail(&logs, "a.log", 1).unwrap()).unwrap(),
            "b"
        );
        assert!(tail(&logs, "none.log", 5).unwrap().is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
