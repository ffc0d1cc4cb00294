//! The SQLite file: appending chained rows, reading them back, verifying the
//! chain.
//!
//! Each row's hash is SHA-256 over a canonical encoding of the row (its id,
//! time, supervisor, kind, service, JSON data) and the previous row's hash,
//! so any edited, deleted or reordered row breaks the chain at that row or
//! the one after it. The file is in WAL mode with `synchronous = NORMAL`: a
//! committed transaction survives a crash of the process (kill -9); only a
//! power loss may take the last ones.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row};
use sha2::{Digest, Sha256};
use tend_wire::{Entry, Record, RecordKind};

use crate::head::{self, Head};

/// Why a journal operation failed.
///
/// # Examples
///
/// ```
/// use tend_journal::{Journal, JournalError};
///
/// // A planted link is refused before SQLite opens the file by path.
/// let dir = tempfile::tempdir().unwrap();
/// std::os::unix::fs::symlink("/etc/passwd", dir.path().join("journal.db")).unwrap();
/// let error = Journal::open(dir.path().join("journal.db")).unwrap_err();
/// assert!(matches!(error, JournalError::File(_)));
/// assert!(error.to_string().contains("journal.db is a symbolic link"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite said no.
    #[error("journal database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The writer thread could not be started.
    #[error("journal writer thread: {0}")]
    Thread(#[source] std::io::Error),
    /// A row's data is not a record this version knows.
    #[error("journal row {id}: unreadable record: {source}")]
    Decode {
        /// The row.
        id: i64,
        /// Why.
        source: serde_json::Error,
    },
    /// A row holds a value of a type the journal never writes there (text
    /// where a time belongs, a blob for a name): it was edited.
    #[error("journal broken at row {id}: {problem}")]
    Row {
        /// The row.
        id: i64,
        /// What it holds instead.
        problem: String,
    },
    /// A file of the journal (`journal.db`, its `-wal`, `-shm`, or
    /// `journal.head`) is a symbolic link, a FIFO, anything but a regular
    /// file, or has another hard link: refused before SQLite opens it by
    /// path (the error names it and says what it is).
    #[error("journal file: {0}")]
    File(#[source] std::io::Error),
    /// A corrupt journal file could not be moved aside.
    #[error("moving the corrupt journal {file} aside: {source}")]
    SetAside {
        /// The file.
        file: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl JournalError {
    /// Whether SQLite found the file itself damaged (not a database, or a
    /// malformed image), as opposed to busy, missing or unwritable. Rows
    /// that were edited are not damage: [`Journal::verify`] names them.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("journal.db");
    /// std::fs::write(&path, "garbage, not a database, long enough to be read as a header......................................................................").unwrap();
    /// assert!(tend_journal::Journal::open(&path).unwrap_err().is_corrupt());
    /// ```
    #[must_use]
    pub fn is_corrupt(&self) -> bool {
        match self {
            JournalError::Sqlite(error) => damaged(error),
            _ => false,
        }
    }
}

/// Whether an SQLite error says the file is damaged.
pub(crate) fn damaged(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// An open journal file.
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
/// use tend_journal::{Journal, Query, Record};
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut journal = Journal::open(dir.path().join("journal.db")).unwrap();
/// let started = Record::Started { service: "web".into(), generation: 1, pid: Some(4242), start_ticks: None, boot_id: None };
/// journal.append([(SystemTime::now(), "root", &started)]).unwrap();
/// let entries = journal.read(&Query::default()).unwrap();
/// assert_eq!(entries[0].record, started);
/// assert_eq!(journal.verify().unwrap().first_bad, None);
/// ```
#[derive(Debug)]
pub struct Journal {
    db: Connection,
    last: Option<(i64, [u8; 32])>,
    /// Where the chain's head is kept (`journal.head`).
    head_file: PathBuf,
    /// Whether the `events` table exists (a read-only open finds it
    /// dropped).
    table: bool,
    /// Whether rows were committed since the head file was last written
    /// ([`Journal::append_rows`]).
    head_behind: bool,
}

/// What [`Journal::verify`] found.
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
/// use tend_journal::{Journal, Record};
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut journal = Journal::open(dir.path().join("journal.db")).unwrap();
/// let started = Record::Started { service: "web".into(), generation: 1, pid: Some(4242), start_ticks: None, boot_id: None };
/// journal.append([(SystemTime::now(), "root", &started)]).unwrap();
/// let verification = journal.verify().unwrap();
/// assert_eq!(verification.rows, 1);
/// assert!(verification.first_bad.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    /// Rows checked.
    pub rows: u64,
    /// The first row whose chain is broken, and how.
    pub first_bad: Option<BadRow>,
    /// When the chain began after a corrupt journal was moved aside: its
    /// first record, a [`Record::JournalCorrupt`] naming where the old
    /// file went and its last good row.
    pub began_after: Option<Record>,
    /// Why the chain's end could not be checked against a head (no
    /// `journal.head`, or an unreadable one): rows deleted at the end,
    /// or all of them, would go unseen.
    pub unanchored: Option<String>,
}

/// A row that breaks the chain.
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
/// use tend_journal::{Journal, Record};
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut journal = Journal::open(dir.path().join("journal.db")).unwrap();
/// let started = Record::Started { service: "web".into(), generation: 1, pid: Some(4242), start_ticks: None, boot_id: None };
/// journal.append([(SystemTime::now(), "root", &started)]).unwrap();
/// // Someone edits the file behind the journal's back.
/// let db = rusqlite::Connection::open(dir.path().join("journal.db")).unwrap();
/// db.execute("UPDATE events SET service = 'api'", []).unwrap();
/// let bad = journal.verify().unwrap().first_bad.unwrap();
/// assert_eq!(bad.id, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// Its row id.
    pub id: i64,
    /// What is wrong with it.
    pub problem: String,
}

/// Which entries to read.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use tend_journal::{Journal, Query, Record};
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut journal = Journal::open(dir.path().join("journal.db")).unwrap();
/// for service in ["web", "db"] {
///     let record = Record::Started { service: service.into(), generation: 1, pid: None, start_ticks: None, boot_id: None };
///     journal.append([(SystemTime::now(), "root", &record)]).unwrap();
/// }
/// let query = Query {
///     since: Some(SystemTime::now() - Duration::from_secs(3600)),
///     services: vec!["db".into()],
///     ..Query::default()
/// };
/// let entries = journal.read(&query).unwrap();
/// assert_eq!(entries.len(), 1);
/// assert_eq!(entries[0].record.service(), Some("db"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only those at or after this time.
    pub since: Option<SystemTime>,
    /// Only those after this row id.
    pub after_id: Option<i64>,
    /// Only those about these services (empty: all).
    pub services: Vec<String>,
    /// At most this many, the latest ones.
    pub limit: Option<usize>,
}

/// A process recorded as started and never as ended.
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
/// use tend_journal::{Journal, Record};
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut journal = Journal::open(dir.path().join("journal.db")).unwrap();
/// let started = Record::Started { service: "web".into(), generation: 1, pid: Some(4242), start_ticks: None, boot_id: None };
/// journal.append([(SystemTime::now(), "root", &started)]).unwrap();
/// // Started, never recorded as ended: what a killed supervisor may have left.
/// let left = journal.unfinished(0).unwrap();
/// assert_eq!((left[0].service.as_str(), left[0].pid), ("web", 4242));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    /// Its supervisor.
    pub supervisor: String,
    /// Its service.
    pub service: String,
    /// Its incarnation number.
    pub generation: u64,
    /// Its pid.
    pub pid: u32,
    /// Its start time in clock ticks since boot, as recorded (`None` in
    /// rows of older versions).
    pub start_ticks: Option<u64>,
    /// The boot those ticks count from, as recorded.
    pub boot_id: Option<String>,
    /// When it was recorded started.
    pub at: SystemTime,
}

const GENESIS: [u8; 32] = [0; 32];

impl Journal {
    /// Opens (or creates) the journal at `path` (`:memory:`: one in
    /// memory, with no head file).
    ///
    /// # Errors
    /// If one of its files (`path`, its `-wal`, `-shm`, or its head file)
    /// is not a regular file of its own ([`JournalError::File`]), or
    /// SQLite cannot open or set up the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Journal, JournalError> {
        let path = path.as_ref();
        let head_file = if path == Path::new(":memory:") {
            PathBuf::new()
        } else {
            check_files(path)?;
            head::head_path(path)
        };
        let db = Connection::open(path)?;
        db.busy_timeout(Duration::from_secs(5))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        // Appends touch the right edge of the table and of its index: a
        // few pages. SQLite's default cache (2 MiB) filled as the journal
        // grew, and held that much of a long-running daemon's memory.
        db.pragma_update(None, "cache_size", "-512")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS events (
                id INTEGER PRIMARY KEY,
                at_ms INTEGER NOT NULL,
                supervisor TEXT NOT NULL,
                kind TEXT NOT NULL,
                service TEXT,
                data TEXT NOT NULL,
                prev_hash BLOB NOT NULL,
                hash BLOB NOT NULL
            );
            CREATE INDEX IF NOT EXISTS events_at ON events(at_ms);",
        )?;
        let last = last_row(&db)?;
        Ok(Journal {
            db,
            last,
            head_file,
            table: true,
            head_behind: false,
        })
    }

    /// Opens the journal at `path` to read it only (`tend journal verify`,
    /// `tend events` without a daemon): nothing is written to the file,
    /// and no `-wal` or `-shm` is made beside it when there is none (the
    /// file is then opened immutable: no writer is running), so a
    /// damaged or edited one stays as it was found. A dropped table reads
    /// as no rows (and [`verify`](Self::verify) names it).
    ///
    /// # Errors
    /// If there is no such file, one of its files is not a regular file
    /// of its own ([`JournalError::File`]), or SQLite cannot read it.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Journal, JournalError> {
        let path = path.as_ref();
        let there = check_files(path)?;
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
            | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let immutable = if Path::new(&wal).exists() {
            ""
        } else {
            "&immutable=1"
        };
        if !there {
            // SQLite would say only "unable to open".
            return Err(JournalError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("no journal file at {}", path.display())),
            )));
        }
        let uri = format!("file:{}?mode=ro{immutable}", uri_path(path));
        let db = Connection::open_with_flags(uri, flags)?;
        db.busy_timeout(Duration::from_secs(5))?;
        let table = db
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)?;
        let last = if table { last_row(&db)? } else { None };
        Ok(Journal {
            db,
            last,
            head_file: head::head_path(path),
            table,
            head_behind: false,
        })
    }

    /// Appends records in one transaction (one fsync-free commit for a
    /// whole batch: how the journal keeps up with a restart storm).
    ///
    /// # Errors
    /// If the transaction fails; then nothing of the batch is kept.
    pub fn append<'a>(
        &mut self,
        batch: impl IntoIterator<Item = (SystemTime, &'a str, &'a Record)>,
    ) -> Result<Vec<Entry>, JournalError> {
        let written = self.append_rows(batch)?;
        self.write_head();
        Ok(written)
    }

    /// [`append`](Self::append) without the head file: the writer updates
    /// it once a storm of commits pauses, or every `HEAD_EVERY` within one
    /// (a head replaced is a file made, written and renamed, which ext4
    /// flushes to disk: most of the journal's cost per restart, issue 26).
    /// A head behind the table is no deletion.
    pub(crate) fn append_rows<'a>(
        &mut self,
        batch: impl IntoIterator<Item = (SystemTime, &'a str, &'a Record)>,
    ) -> Result<Vec<Entry>, JournalError> {
        let tx = self.db.transaction()?;
        let mut last = self.last;
        let mut written = Vec::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (id, at_ms, supervisor, kind, service, data, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for (at, supervisor, record) in batch {
                let id = last.map_or(1, |(id, _)| id + 1);
                let prev = last.map_or(GENESIS, |(_, hash)| hash);
                let at_ms = millis(at);
                let kind = record.kind().to_string();
                let data = serde_json::to_value(record).unwrap_or_default().to_string();
                let service = record.service();
                let hash = row_hash(id, at_ms, supervisor, &kind, service, &data, &prev);
                insert.execute(params![
                    id, at_ms, supervisor, kind, service, data, prev, hash
                ])?;
                last = Some((id, hash));
                written.push(Entry {
                    id,
                    at: from_millis(at_ms),
                    supervisor: supervisor.to_owned(),
                    record: record.clone(),
                });
            }
        }
        tx.commit()?;
        self.head_behind |= last != self.last;
        self.last = last;
        Ok(written)
    }

    /// Writes the head file if rows were committed since it was last
    /// written. Committed already: a head left behind (a full disk) is
    /// caught up by the next call, and a head behind the table is no
    /// deletion.
    pub(crate) fn write_head(&mut self) {
        let Some((id, hash)) = self.last.filter(|_| self.head_behind) else {
            return;
        };
        match head::write(&self.head_file, &Head { id, hash }) {
            Ok(()) => self.head_behind = false,
            Err(error) => {
                tracing::warn!(%error, file = %self.head_file.display(), "cannot update the journal's head");
            }
        }
    }

    /// Reads entries, oldest first.
    ///
    /// # Errors
    /// If SQLite fails or a row cannot be decoded.
    pub fn read(&self, query: &Query) -> Result<Vec<Entry>, JournalError> {
        let limit = query
            .limit
            .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let mut entries = self.select(query, query.after_id.unwrap_or(0), limit, false)?;
        entries.reverse();
        Ok(entries)
    }

    /// One page of what `query` asks for (its `after_id` and `limit` aside):
    /// the first `page` entries after row `after`, oldest first. Reading a
    /// long history page by page, from the last id of each, holds one page
    /// in memory at a time.
    ///
    /// # Errors
    /// If SQLite fails or a row cannot be decoded.
    pub fn read_page(
        &self,
        query: &Query,
        after: i64,
        page: usize,
    ) -> Result<Vec<Entry>, JournalError> {
        let limit = i64::try_from(page).unwrap_or(i64::MAX);
        self.select(query, after, limit, true)
    }

    fn select(
        &self,
        query: &Query,
        after: i64,
        limit: i64,
        oldest_first: bool,
    ) -> Result<Vec<Entry>, JournalError> {
        if !self.table {
            return Ok(Vec::new());
        }
        let mut sql = String::from("SELECT id, at_ms, supervisor, data FROM events WHERE id > ?2");
        // A time of another type is not left out but named (text and blobs
        // sort after every integer; NULL is let through).
        if query.since.is_some() {
            sql.push_str(" AND (at_ms >= ?1 OR at_ms IS NULL)");
        } else {
            sql.push_str(" AND ?1 IS NOT NULL");
        }
        if !query.services.is_empty() {
            sql.push_str(" AND service IN (SELECT value FROM json_each(?3))");
        } else {
            sql.push_str(" AND ?3 IS NOT NULL");
        }
        sql.push_str(if oldest_first {
            " ORDER BY id LIMIT ?4"
        } else {
            " ORDER BY id DESC LIMIT ?4"
        });
        let since = query.since.map_or(i64::MIN, millis);
        let services = serde_json::to_string(&query.services).unwrap_or_default();
        let mut statement = self.db.prepare_cached(&sql)?;
        let mut rows = statement.query(params![since, after, services, limit])?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next()? {
            let id = row.get::<_, i64>(0)?;
            let read = || -> Result<(i64, String, &str), String> {
                Ok((
                    integer(row, 1, "at_ms")?,
                    text(row, 2, "supervisor")?.to_owned(),
                    text(row, 3, "data")?,
                ))
            };
            let (at_ms, supervisor, data) = read().map_err(|problem| JournalError::Row {
                id,
                problem: edited(&problem),
            })?;
            let record =
                serde_json::from_str(data).map_err(|source| JournalError::Decode { id, source })?;
            entries.push(Entry {
                id,
                at: from_millis(at_ms),
                supervisor,
                record,
            });
        }
        Ok(entries)
    }

    /// The last row's id (0 when empty): where a new run's rows begin.
    #[must_use]
    pub fn last_id(&self) -> i64 {
        self.last.map_or(0, |(id, _)| id)
    }

    /// The processes started after row `after_id` and never recorded as
    /// ended: what a supervisor killed with `SIGKILL` may have left
    /// running. Reads only start and end rows. Every start without its
    /// end counts, not only a service's last: a later row (a forged one,
    /// or one whose predecessor's end was never written) must not hide a
    /// process that still runs; each is checked against the process
    /// itself before anything is signalled.
    ///
    /// # Errors
    /// If SQLite fails or a row cannot be decoded.
    pub fn unfinished(&self, after_id: i64) -> Result<Vec<Unfinished>, JournalError> {
        let mut statement = self.db.prepare(
            "SELECT id, at_ms, supervisor, data FROM events
             WHERE id > ?1 AND kind IN (?2, ?3, ?4) ORDER BY id",
        )?;
        let mut rows = statement.query(params![
            after_id,
            RecordKind::Started.to_string(),
            RecordKind::Exited.to_string(),
            RecordKind::StartFailed.to_string(),
        ])?;
        let mut running: std::collections::HashMap<(String, String, u64), Unfinished> =
            std::collections::HashMap::new();
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let read = || -> Result<(i64, String, Record), String> {
                let record = serde_json::from_str(text(row, 3, "data")?)
                    .map_err(|e| format!("its data is not a record: {e}"))?;
                Ok((
                    integer(row, 1, "at_ms")?,
                    text(row, 2, "supervisor")?.to_owned(),
                    record,
                ))
            };
            // An edited row is `verify`'s to name; the others still count.
            let (at_ms, supervisor, record) = match read() {
                Ok(read) => read,
                Err(problem) => {
                    tracing::warn!(row = id, %problem, "skipping an unreadable journal row");
                    continue;
                }
            };
            match record {
                Record::Started {
                    service,
                    generation,
                    pid: Some(pid),
                    start_ticks,
                    boot_id,
                } => {
                    let key = (supervisor.clone(), service.clone(), generation);
                    running.insert(
                        key,
                        Unfinished {
                            supervisor,
                            service,
                            generation,
                            pid,
                            start_ticks,
                            boot_id,
                            at: from_millis(at_ms),
                        },
                    );
                }
                Record::Exited {
                    service,
                    generation,
                    ..
                }
                | Record::StartFailed {
                    service,
                    generation,
                    ..
                } => {
                    running.remove(&(supervisor, service, generation));
                }
                _ => {}
            }
        }
        let mut unfinished: Vec<Unfinished> = running.into_values().collect();
        unfinished.sort_by_key(|u| u.at);
        Ok(unfinished)
    }

    /// Walks the whole chain and names the first row that breaks it,
    /// whatever the edit: a changed value, a deleted or reordered row, or
    /// a value of a type the journal never writes (text for a time, a
    /// blob for a name); then checks its end against the head kept in
    /// `journal.head`, which finds rows deleted at the end, every row
    /// deleted, or the table dropped.
    ///
    /// # Errors
    /// If SQLite fails (a damaged file: see [`JournalError::is_corrupt`]).
    pub fn verify(&self) -> Result<Verification, JournalError> {
        match head::read(&self.head_file) {
            Ok(Some(head)) => self.verify_against(Some(head), "the head file (journal.head)"),
            Ok(None) => {
                let mut verification = self.verify_against(None, "")?;
                if verification.first_bad.is_none() && verification.rows > 0 {
                    verification.unanchored = Some(format!(
                        "there is no head file ({}): rows deleted at the end would go unseen",
                        self.head_file.display()
                    ));
                }
                Ok(verification)
            }
            Err(problem) => {
                let mut verification = self.verify_against(None, "")?;
                verification.unanchored = Some(format!("the head file is unreadable: {problem}"));
                Ok(verification)
            }
        }
    }

    /// [`verify`](Self::verify), the chain's end checked against `head`
    /// (one exported earlier with `tend journal head`, said as `source`)
    /// rather than the head file.
    ///
    /// # Errors
    /// If SQLite fails.
    pub fn verify_against(
        &self,
        head: Option<Head>,
        source: &str,
    ) -> Result<Verification, JournalError> {
        let mut walk = Walk {
            want: head.map(|h| h.id),
            ..Walk::default()
        };
        if self.table {
            walk.over(&self.db)?;
        }
        let mut verification = Verification {
            rows: walk.rows,
            first_bad: walk.first_bad.clone(),
            began_after: walk.began_after.clone(),
            unanchored: None,
        };
        let Some(head) = head.filter(|_| verification.first_bad.is_none()) else {
            return Ok(verification);
        };
        let last = walk.last_good.map_or(0, |(id, _)| id);
        let problem = if !self.table && head.id > 0 {
            Some((
                1,
                format!(
                    "the events table is gone (dropped): {source} says the chain ran to row {}",
                    head.id
                ),
            ))
        } else if head.id > last && last == 0 {
            Some((
                1,
                format!(
                    "every row is gone: {source} says the chain ran to row {}",
                    head.id
                ),
            ))
        } else if head.id > last {
            let missing = if head.id == last + 1 {
                format!("row {} is", head.id)
            } else {
                format!("rows {} to {} are", last + 1, head.id)
            };
            Some((
                last + 1,
                format!(
                    "{missing} missing at the end: {source} says the chain ran to row {}",
                    head.id
                ),
            ))
        } else if head.id > 0 && walk.found != Some(head.hash) {
            Some((
                head.id,
                format!("its hash does not match {source}: the chain was rewritten up to this row"),
            ))
        } else {
            None
        };
        verification.first_bad = problem.map(|(id, problem)| BadRow { id, problem });
        Ok(verification)
    }

    /// Moves every committed row from the `-wal` into the file itself and
    /// empties the `-wal`: a copy of the file alone then holds them all.
    ///
    /// # Errors
    /// If SQLite cannot (the file is busy or unwritable).
    pub fn checkpoint(&self) -> Result<(), JournalError> {
        let (busy, _, _): (i64, i64, i64) =
            self.db
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        if busy != 0 {
            return Err(JournalError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                Some("the checkpoint was blocked by a reader".to_owned()),
            )));
        }
        Ok(())
    }

    /// A journal of nothing, in memory: what stands in the writer's hands
    /// while its file is swapped.
    pub(crate) fn nowhere() -> Result<Journal, JournalError> {
        Ok(Journal {
            db: Connection::open_in_memory()?,
            last: None,
            head_file: PathBuf::new(),
            table: false,
            head_behind: false,
        })
    }

    /// The hash stored in row `id`, if there is such a row holding one.
    pub(crate) fn stored_hash(&self, id: i64) -> Result<Option<[u8; 32]>, JournalError> {
        if !self.table {
            return Ok(None);
        }
        let hash = self
            .db
            .query_row("SELECT hash FROM events WHERE id = ?1", [id], |row| {
                Ok(match row.get_ref(0)? {
                    ValueRef::Blob(hash) => <[u8; 32]>::try_from(hash).ok(),
                    _ => None,
                })
            })
            .optional()?;
        Ok(hash.flatten())
    }

    /// The chain's last row, as `tend journal head` exports it (id 0 and
    /// a zero hash for an empty journal).
    #[must_use]
    pub fn head(&self) -> Head {
        let (id, hash) = self.last.unwrap_or((0, GENESIS));
        Head { id, hash }
    }

    /// The number of rows.
    ///
    /// # Errors
    /// If SQLite fails.
    pub fn len(&self) -> Result<u64, JournalError> {
        Ok(self
            .db
            .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// Whether it has no rows.
    ///
    /// # Errors
    /// If SQLite fails.
    pub fn is_empty(&self) -> Result<bool, JournalError> {
        Ok(self.len()? == 0)
    }
}

/// The last row's id and hash, read as whatever it holds: an edited last
/// row must not keep the journal from opening (new rows chain on, and
/// `verify` names it).
fn last_row(db: &Connection) -> Result<Option<(i64, [u8; 32])>, rusqlite::Error> {
    db.query_row(
        "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1",
        [],
        |row| {
            let hash = match row.get_ref(1)? {
                ValueRef::Blob(hash) => hash.try_into().unwrap_or(GENESIS),
                _ => GENESIS,
            };
            Ok((row.get::<_, i64>(0)?, hash))
        },
    )
    .optional()
}

/// The chain, walked from its first row: how far it holds.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    /// Rows looked at (the first bad one included).
    pub rows: u64,
    /// The last row that verified, and its hash.
    pub last_good: Option<(i64, [u8; 32])>,
    /// The first row that does not.
    pub first_bad: Option<BadRow>,
    /// The first row's record, when it tells the chain began after a
    /// corrupt journal.
    pub began_after: Option<Record>,
    /// A row whose hash to keep (the head's).
    pub want: Option<i64>,
    /// That row's hash, if it verified.
    pub found: Option<[u8; 32]>,
}

impl Walk {
    /// Walks `db`'s chain until its first bad row. What was walked stays
    /// in `self` when SQLite fails part of the way (a damaged file).
    pub(crate) fn over(&mut self, db: &Connection) -> Result<(), rusqlite::Error> {
        let mut statement = db.prepare(
            "SELECT id, at_ms, supervisor, kind, service, data, prev_hash, hash FROM events ORDER BY id",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            self.rows += 1;
            let (expected, prev) = self.last_good.map_or((1, GENESIS), |(id, h)| (id + 1, h));
            match check(row, expected, &prev) {
                Ok(hash) => {
                    if expected == 1 {
                        self.began_after = serde_json::from_str::<Record>(
                            text(row, 5, "data").unwrap_or_default(),
                        )
                        .ok()
                        .filter(|r| matches!(r, Record::JournalCorrupt { .. }));
                    }
                    self.last_good = Some((expected, hash));
                    if self.want == Some(expected) {
                        self.found = Some(hash);
                    }
                }
                Err(bad) => {
                    self.first_bad = Some(bad);
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Checks one row against the chain (it should be row `expected`, after
/// a row whose hash is `prev`); its hash when it holds.
fn check(row: &Row<'_>, expected: i64, prev: &[u8; 32]) -> Result<[u8; 32], BadRow> {
    let id = integer(row, 0, "id").map_err(|problem| BadRow {
        id: expected,
        problem: edited(&problem),
    })?;
    let bad = |problem: String| BadRow { id, problem };
    if id != expected {
        return Err(bad(format!("row {expected} is missing before it")));
    }
    let columns = || -> Result<_, String> {
        Ok((
            integer(row, 1, "at_ms")?,
            text(row, 2, "supervisor")?,
            text(row, 3, "kind")?,
            optional_text(row, 4, "service")?,
            text(row, 5, "data")?,
            blob(row, 6, "prev_hash")?,
            blob(row, 7, "hash")?,
        ))
    };
    let (at_ms, supervisor, kind, service, data, stored_prev, stored) =
        columns().map_err(|problem| bad(edited(&problem)))?;
    let hash = row_hash(id, at_ms, supervisor, kind, service, data, stored_prev);
    if stored_prev != prev {
        Err(bad("its previous-row hash does not match the row before it (a row was deleted, reordered or edited)".to_owned()))
    } else if stored != hash {
        Err(bad(
            "its contents do not match its hash (the row was edited)".to_owned(),
        ))
    } else {
        Ok(hash)
    }
}

/// A column's problem, said as an edit.
fn edited(problem: &str) -> String {
    format!("{problem} (the row was edited)")
}

// Columns are read as whatever SQLite holds (`ValueRef`), never converted:
// a value of another type is named with its row, not a database error.

fn integer(row: &Row<'_>, index: usize, name: &str) -> Result<i64, String> {
    match value(row, index)? {
        ValueRef::Integer(n) => Ok(n),
        other => Err(wrong(name, other, "an integer")),
    }
}

fn text<'r>(row: &'r Row<'_>, index: usize, name: &str) -> Result<&'r str, String> {
    match value(row, index)? {
        ValueRef::Text(bytes) => {
            std::str::from_utf8(bytes).map_err(|_| format!("its {name} is not UTF-8 text"))
        }
        other => Err(wrong(name, other, "text")),
    }
}

fn optional_text<'r>(
    row: &'r Row<'_>,
    index: usize,
    name: &str,
) -> Result<Option<&'r str>, String> {
    match value(row, index)? {
        ValueRef::Null => Ok(None),
        _ => text(row, index, name).map(Some),
    }
}

fn blob<'r>(row: &'r Row<'_>, index: usize, name: &str) -> Result<&'r [u8], String> {
    match value(row, index)? {
        ValueRef::Blob(bytes) => Ok(bytes),
        other => Err(wrong(name, other, "a blob")),
    }
}

fn value<'r>(row: &'r Row<'_>, index: usize) -> Result<ValueRef<'r>, String> {
    row.get_ref(index).map_err(|e| e.to_string())
}

/// `its at_ms holds text ('noon'), where an integer belongs`.
fn wrong(name: &str, found: ValueRef<'_>, belongs: &str) -> String {
    let found = match found {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(n) => format!("the integer {n}"),
        ValueRef::Real(x) => format!("the real number {x}"),
        ValueRef::Text(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            let mut shown: String = text.chars().take(40).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            format!("text ('{shown}')")
        }
        ValueRef::Blob(bytes) => format!("a blob of {} bytes", bytes.len()),
    };
    format!("its {name} holds {found}, where {belongs} belongs")
}

/// SHA-256 over every column, each length-prefixed, and the previous hash.
fn row_hash(
    id: i64,
    at_ms: i64,
    supervisor: &str,
    kind: &str,
    service: Option<&str>,
    data: &str,
    prev: &[u8],
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"tend-journal-v1");
    hasher.update(id.to_be_bytes());
    hasher.update(at_ms.to_be_bytes());
    for field in [Some(supervisor), Some(kind), service, Some(data)] {
        match field {
            Some(text) => {
                hasher.update([1]);
                hasher.update((text.len() as u64).to_be_bytes());
                hasher.update(text.as_bytes());
            }
            None => hasher.update([0]),
        }
    }
    hasher.update(prev);
    hasher.finalize().into()
}

/// Checks the journal's files at `path` (it, its `-wal`, `-shm` and
/// `-journal`, and its head file) before SQLite opens them by path:
/// each a regular file of no other hard link, or absent, looked at
/// without following a symbolic link. Whether the journal itself is there.
fn check_files(path: &Path) -> Result<bool, JournalError> {
    let (dir, name) = crate::file::parent(path).map_err(JournalError::File)?;
    let dir = std::os::fd::AsFd::as_fd(&dir);
    let mut there = false;
    let head = head::head_path(path);
    let companions = ["", "-wal", "-shm", "-journal"].map(|suffix| {
        let mut companion = name.to_owned();
        companion.push(suffix);
        companion
    });
    let names = companions
        .iter()
        .map(OsString::as_os_str)
        .chain(head.file_name());
    for (i, name) in names.enumerate() {
        let shown = path.with_file_name(name);
        let found =
            crate::file::regular_or_absent(dir, name, &shown).map_err(JournalError::File)?;
        there |= i == 0 && found;
    }
    Ok(there)
}

/// `path` as the path of an SQLite `file:` URI (`%`, `?`, `#` and the
/// like escaped).
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    let mut out = String::new();
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn millis(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

fn from_millis(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}
