//! The SQLite file: appending chained rows, reading them back, verifying the
//! chain.
//!
//! Each row's hash is SHA-256 over a canonical encoding of the row (its id,
//! time, supervisor, kind, service, JSON data) and the previous row's hash,
//! so any edited, deleted or reordered row breaks the chain at that row or
//! the one after it. The file is in WAL mode with `synchronous = NORMAL`: a
//! committed transaction survives a crash of the process (kill -9); only a
//! power loss may take the last ones.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use tend_wire::{Entry, Record, RecordKind};

/// Why a journal operation failed.
///
/// # Examples
///
/// ```
/// use tend_journal::{Journal, JournalError};
///
/// let error = Journal::open("/nonexistent/dir/journal.db").unwrap_err();
/// assert!(matches!(error, JournalError::Sqlite(_)));
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
/// let started = Record::Started { service: "web".into(), generation: 1, pid: Some(4242) };
/// journal.append([(SystemTime::now(), "root", &started)]).unwrap();
/// let entries = journal.read(&Query::default()).unwrap();
/// assert_eq!(entries[0].record, started);
/// assert_eq!(journal.verify().unwrap().first_bad, None);
/// ```
#[derive(Debug)]
pub struct Journal {
    db: Connection,
    last: Option<(i64, [u8; 32])>,
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
/// let started = Record::Started { service: "web".into(), generation: 1, pid: Some(4242) };
/// journal.append([(SystemTime::now(), "root", &started)]).unwrap();
/// let verification = journal.verify().unwrap();
/// assert_eq!(verification.rows, 1);
/// assert!(verification.first_bad.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Rows checked.
    pub rows: u64,
    /// The first row whose chain is broken, and how.
    pub first_bad: Option<BadRow>,
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
/// let started = Record::Started { service: "web".into(), generation: 1, pid: Some(4242) };
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
///     let record = Record::Started { service: service.into(), generation: 1, pid: None };
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
/// let started = Record::Started { service: "web".into(), generation: 1, pid: Some(4242) };
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
    /// When it was recorded started.
    pub at: SystemTime,
}

const GENESIS: [u8; 32] = [0; 32];

impl Journal {
    /// Opens (or creates) the journal at `path`.
    ///
    /// # Errors
    /// If SQLite cannot open or set up the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Journal, JournalError> {
        let db = Connection::open(path)?;
        db.busy_timeout(Duration::from_secs(5))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
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
        let last = db
            .query_row(
                "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1",
                [],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)),
            )
            .optional()?
            .map(|(id, hash)| (id, hash.try_into().unwrap_or(GENESIS)));
        Ok(Journal { db, last })
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
        self.last = last;
        Ok(written)
    }

    /// Reads entries, oldest first.
    ///
    /// # Errors
    /// If SQLite fails or a row cannot be decoded.
    pub fn read(&self, query: &Query) -> Result<Vec<Entry>, JournalError> {
        let mut sql = String::from(
            "SELECT id, at_ms, supervisor, data FROM events WHERE at_ms >= ?1 AND id > ?2",
        );
        if !query.services.is_empty() {
            sql.push_str(" AND service IN (SELECT value FROM json_each(?3))");
        } else {
            sql.push_str(" AND ?3 IS NOT NULL");
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?4");
        let since = query.since.map_or(i64::MIN, millis);
        let services = serde_json::to_string(&query.services).unwrap_or_default();
        let limit = query
            .limit
            .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let mut statement = self.db.prepare_cached(&sql)?;
        let rows = statement.query_map(
            params![since, query.after_id.unwrap_or(0), services, limit],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            },
        )?;
        let mut entries = Vec::new();
        for row in rows {
            let (id, at_ms, supervisor, data) = row?;
            let record = serde_json::from_str(&data)
                .map_err(|source| JournalError::Decode { id, source })?;
            entries.push(Entry {
                id,
                at: from_millis(at_ms),
                supervisor,
                record,
            });
        }
        entries.reverse();
        Ok(entries)
    }

    /// The last row's id (0 when empty): where a new run's rows begin.
    #[must_use]
    pub fn last_id(&self) -> i64 {
        self.last.map_or(0, |(id, _)| id)
    }

    /// The processes started after row `after_id` and never recorded as
    /// ended: what a supervisor killed with `SIGKILL` may have left
    /// running. Reads only start and end rows, keeping one per service.
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
        let mut running: std::collections::HashMap<(String, String), Unfinished> =
            std::collections::HashMap::new();
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let supervisor: String = row.get(2)?;
            let record: Record = serde_json::from_str(&row.get::<_, String>(3)?)
                .map_err(|source| JournalError::Decode { id, source })?;
            match record {
                Record::Started {
                    service,
                    generation,
                    pid: Some(pid),
                } => {
                    let key = (supervisor.clone(), service.clone());
                    running.insert(
                        key,
                        Unfinished {
                            supervisor,
                            service,
                            generation,
                            pid,
                            at: from_millis(row.get(1)?),
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
                    let key = (supervisor, service);
                    if running
                        .get(&key)
                        .is_some_and(|u| u.generation == generation)
                    {
                        running.remove(&key);
                    }
                }
                _ => {}
            }
        }
        let mut unfinished: Vec<Unfinished> = running.into_values().collect();
        unfinished.sort_by_key(|u| u.at);
        Ok(unfinished)
    }

    /// Walks the whole chain and names the first row that breaks it.
    ///
    /// # Errors
    /// If SQLite fails.
    pub fn verify(&self) -> Result<Verification, JournalError> {
        let mut statement = self.db.prepare(
            "SELECT id, at_ms, supervisor, kind, service, data, prev_hash, hash FROM events ORDER BY id",
        )?;
        let mut rows = statement.query([])?;
        let mut prev_hash = GENESIS;
        let mut prev_id = 0i64;
        let mut count = 0u64;
        while let Some(row) = rows.next()? {
            count += 1;
            let id: i64 = row.get(0)?;
            let bad = |problem: &str| BadRow {
                id,
                problem: problem.to_owned(),
            };
            let stored_prev: Vec<u8> = row.get(6)?;
            let stored: Vec<u8> = row.get(7)?;
            let hash = row_hash(
                id,
                row.get(1)?,
                &row.get::<_, String>(2)?,
                &row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?.as_deref(),
                &row.get::<_, String>(5)?,
                &stored_prev,
            );
            let problem = if id != prev_id + 1 {
                Some(bad(&format!("row {} is missing before it", prev_id + 1)))
            } else if stored_prev != prev_hash {
                Some(bad("its previous-row hash does not match the row before it (a row was deleted, reordered or edited)"))
            } else if stored != hash {
                Some(bad(
                    "its contents do not match its hash (the row was edited)",
                ))
            } else {
                None
            };
            if problem.is_some() {
                return Ok(Verification {
                    rows: count,
                    first_bad: problem,
                });
            }
            prev_hash = hash;
            prev_id = id;
        }
        Ok(Verification {
            rows: count,
            first_bad: None,
        })
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
