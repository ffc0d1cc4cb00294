//! A journal file that is no longer a database is moved aside, so that it
//! keeps nothing from starting, and a new chain begins.
//!
//! Corrupt means what SQLite says is damage: the file is not a database (a
//! garbled or truncated header, garbage written over it) or its image is
//! malformed (SQLite's `quick_check` fails, or reading it does); or the
//! file no longer holds the chain its head (`journal.head`) names: it was
//! truncated (rows gone from the end, all of them, or its table) or
//! replaced by another. Rows edited, deleted or reordered within the
//! chain are not damage: the file is sound, `verify` names the row, and
//! nothing here moves it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::{Connection, OpenFlags};
use tend_wire::Record;

use crate::head;
use crate::store::{damaged, Journal, JournalError, Walk};

/// A corrupt journal file, moved aside.
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("journal.db");
/// std::fs::write(&path, vec![b'x'; 4096]).unwrap();
/// let aside = tend_journal::set_aside_if_corrupt(&path, SystemTime::now()).unwrap().unwrap();
/// assert!(!path.exists() && aside.moved_to.exists());
/// assert_eq!(aside.error, "file is not a database");
/// assert_eq!(aside.last_good, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// Where it went: `journal.db.corrupt-20261206T231500Z` beside it (its
    /// `-wal` and `-shm` beside that).
    pub moved_to: PathBuf,
    /// What SQLite said of it.
    pub error: String,
    /// Its last row that verified, with its hash, if any could be read.
    pub last_good: Option<(i64, [u8; 32])>,
}

impl SetAside {
    /// The record that begins the new chain.
    #[must_use]
    pub fn record(&self) -> Record {
        Record::JournalCorrupt {
            moved_to: self.moved_to.display().to_string(),
            error: self.error.clone(),
            last_good_row: self.last_good.map(|(id, _)| id),
            last_good_hash: self.last_good.map(|(_, hash)| head::hex(&hash)),
        }
    }
}

/// Checks the journal at `path` before it is opened for writing; if SQLite
/// finds it damaged, moves it (and its `-wal` and `-shm`) aside, named with
/// the time `now`, and reads back the last row of it that verifies. A
/// missing file, or a sound one (edited rows included), is left alone.
///
/// Call it only where no other process writes the journal (before a
/// daemon starts).
///
/// # Errors
/// If SQLite cannot tell (the file is busy, unreadable), or the file
/// cannot be moved.
pub fn set_aside_if_corrupt(
    path: impl AsRef<Path>,
    now: SystemTime,
) -> Result<Option<SetAside>, JournalError> {
    let path = path.as_ref();
    let Some(error) = damage(path)? else {
        return Ok(None);
    };
    // Named whole in the record, wherever the caller stands.
    let path = &path
        .parent()
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .zip(path.file_name())
        .map_or_else(|| path.to_path_buf(), |(dir, name)| dir.join(name));
    let moved_to = move_aside(path, now)?;
    Ok(Some(SetAside {
        last_good: last_good(&moved_to),
        moved_to,
        error,
    }))
}

/// Moves the journal at `path` (whole, absolute), its `-wal` and `-shm`
/// and its head aside, to a name with the time `now`; where it went.
pub(crate) fn move_aside(path: &Path, now: SystemTime) -> Result<PathBuf, JournalError> {
    let moved_to = free_name(path, now);
    // The companions first: a stale `-wal` must never sit beside the new
    // file, whose first open would take it in.
    for suffix in ["-wal", "-shm"] {
        let companion = with_suffix(path, suffix);
        if companion.exists() {
            move_file(&companion, &with_suffix(&moved_to, suffix))?;
        }
    }
    // The old chain's head, which the new chain must not be held to.
    let head = head::head_path(path);
    if head.exists() {
        move_file(&head, &with_suffix(&moved_to, ".head"))?;
    }
    if path.exists() {
        move_file(path, &moved_to)?;
    }
    Ok(moved_to)
}

/// What SQLite finds wrong with the file, if anything.
fn damage(path: &Path) -> Result<Option<String>, JournalError> {
    if !path.exists() {
        return Ok(None);
    }
    // Read-only: a writable connection to a file that is not a database
    // deletes its `-wal` and `-shm` when it closes, which are evidence.
    let checked = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|db| {
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut statement = db.prepare("PRAGMA quick_check(3)")?;
        let found = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(found)
    });
    match checked {
        Ok(found) if found.iter().all(|line| line == "ok") => {
            if let Some(problem) = against_head(path)? {
                return Ok(Some(problem));
            }
        }
        Ok(found) => return Ok(Some(found.join("; ").replace('\n', " "))),
        Err(error) if damaged(&error) => return Ok(Some(error.to_string())),
        Err(error) => return Err(error.into()),
    }
    // Sound as SQLite sees it: it must also open as the journal does
    // (its last row read, its table made if missing).
    match Journal::open(path) {
        Ok(_) => Ok(None),
        Err(error) if error.is_corrupt() => Ok(Some(match error {
            JournalError::Sqlite(error) => error.to_string(),
            other => other.to_string(),
        })),
        Err(error) => Err(error),
    }
}

/// How the file falls short of the chain its head names: truncated (rows
/// gone from its end, all of them, or its table) or replaced (another
/// chain: the row the head names has another hash). A head behind the
/// table is no harm (a crash between a commit and the head's update); no
/// head (an older tend) is not checked here, nor a row edited within the
/// chain (`verify` names it).
fn against_head(path: &Path) -> Result<Option<String>, JournalError> {
    let Ok(Some(head)) = head::read(&head::head_path(path)) else {
        return Ok(None);
    };
    if head.id == 0 {
        return Ok(None);
    }
    // The stored hashes only, not a walk: a start stays quick on a long
    // journal (`verify` walks).
    let journal = Journal::open_read_only(path)?;
    let last = journal.head();
    if last.id < head.id {
        return Ok(Some(format!(
            "the file was truncated or replaced: it ends at row {}, its head (journal.head) at row {}",
            last.id, head.id
        )));
    }
    if journal.stored_hash(head.id)? != Some(head.hash) {
        return Ok(Some(format!(
            "the file was replaced: its row {} is not the one its head (journal.head) names",
            head.id
        )));
    }
    Ok(None)
}

/// The last row of the chain that verifies, read from what is left.
fn last_good(path: &Path) -> Option<(i64, [u8; 32])> {
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    // Read what is there even where the header promises more pages than
    // the file has (truncated); read-only, so nothing is written.
    db.pragma_update(None, "writable_schema", "ON").ok()?;
    let mut walk = Walk::default();
    // A damaged page ends the walk; what verified before it stands.
    let _ = walk.over(&db);
    walk.last_good
}

/// `journal.db.corrupt-20261206T231500Z` beside `path`; `-2`, `-3`, …
/// after it when one of that second exists.
fn free_name(path: &Path, now: SystemTime) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(now)
        .to_string()
        .replace(['-', ':'], "");
    let name = path
        .file_name()
        .map_or_else(|| "journal.db".into(), |n| n.to_string_lossy().into_owned());
    let base = path.with_file_name(format!("{name}.corrupt-{stamp}"));
    let mut candidate = base.clone();
    let mut n = 1;
    while candidate.exists() || with_suffix(&candidate, "-wal").exists() {
        n += 1;
        candidate = with_suffix(&base, &format!("-{n}"));
    }
    candidate
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn move_file(from: &Path, to: &Path) -> Result<(), JournalError> {
    std::fs::rename(from, to).map_err(|source| JournalError::SetAside {
        file: from.to_path_buf(),
        source,
    })
}
