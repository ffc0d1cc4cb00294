//! Writing a live tree's events without slowing it: a thread of its own
//! owns the database and commits whatever has queued up as one transaction
//! (group commit).
//!
//! A journal that cannot be written (disk full, read-only, unwritable)
//! stops nothing: the records are held in memory (up to [`HELD_MAX`]; the
//! oldest beyond are dropped and counted), a `write_failed` record marks
//! the moment, the file is reopened and tried again every [`RETRY`], and
//! once it takes them the held records are committed in order, followed by
//! `write_recovered`. The chain stays whole.
//!
//! A file removed, replaced or truncated under the writer is found before
//! the next commit (its inode or a shorter length): what is there is moved
//! aside and a new chain begins with a `journal_corrupt` record naming the
//! old one's last row. [`JournalWriter::close`] checkpoints on a clean
//! stop, so `journal.db` alone holds every row.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime};

use tend_engine::{Event, SupervisorHandle};
use tend_wire::{Entry, Record};
use tokio::sync::{broadcast, oneshot};

use crate::store::{Journal, JournalError};

/// The most records committed in one transaction.
const MAX_BATCH: usize = 4096;

/// How long the writer lets records gather after a commit before it takes
/// the next batch. In a restart storm this turns one commit and one thread
/// wake-up per record into one per a few milliseconds' worth; a lone
/// record still commits at once (the writer is waiting for it). It bounds
/// what a `kill -9` can lose to the last few milliseconds, which were
/// never committed.
const GATHER: Duration = Duration::from_millis(2);

/// How long the head file may stay behind the table while commits keep
/// coming (a storm): it is written once they pause, and at least this
/// often meanwhile, instead of after each commit (issue 26). A clean stop
/// and a flush write it at once.
const HEAD_EVERY: Duration = Duration::from_millis(100);

/// The most records held in memory while the file cannot be written.
pub const HELD_MAX: usize = 100_000;
/// How often a failing journal is tried again.
pub const RETRY: Duration = Duration::from_secs(1);

enum Message {
    /// Boxed: a record is large, a flush is a pointer.
    Record(Box<Item>),
    Flush(oneshot::Sender<()>),
    /// Commit what is queued, checkpoint, close the file, end.
    Close(oneshot::Sender<()>),
}

/// A handle on the journal's writer thread. Clones share it; the thread
/// ends when the last handle and every attached stream are gone, after
/// writing what was queued.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, Supervisor};
/// use tend_journal::{Journal, JournalWriter, Query, Record};
///
/// # #[tokio::main] async fn main() {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("journal.db");
/// let mut builder = Supervisor::builder("app");
/// let writer = JournalWriter::open(&path).unwrap();
/// writer.attach(builder.subscribe());
/// let root = builder
///     .child(ChildSpec::task("job", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// root.shutdown().await;
/// writer.flush().await;
///
/// let entries = Journal::open(&path).unwrap().read(&Query::default()).unwrap();
/// assert!(entries.iter().any(|e| matches!(&e.record, Record::Started { service, .. } if service == "job")));
/// assert_eq!(Journal::open(&path).unwrap().verify().unwrap().first_bad, None);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct JournalWriter {
    queue: mpsc::Sender<Message>,
    written: broadcast::Sender<Entry>,
    /// One line to each attached stream's forwarder, for `flush`.
    attached: Arc<Mutex<Vec<Drain>>>,
}

/// Asks a forwarder to pass on every event already in its stream, then
/// answer.
type Drain = tokio::sync::mpsc::UnboundedSender<oneshot::Sender<()>>;

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

/// Committed entries kept for followers that fall behind: a follower
/// further behind reads the gap from the file (`tend events -f`), so this
/// only absorbs a reader's hiccup. Each is an allocated row (about 0.6 KB
/// with its slot), kept until overwritten: 4,096 held 2.5 MB in a tree of
/// a few thousand services, growing with the tree.
const FOLLOW_BACKLOG: usize = 512;

impl JournalWriter {
    /// Opens the journal at `path` and starts its writer thread. A file
    /// that cannot be opened now (a full disk) is not an error: records are
    /// held and the file tried again every second, as after a failed write.
    ///
    /// # Errors
    /// If not even a stand-in journal can be made, or the thread started.
    pub fn open(path: impl AsRef<Path>) -> Result<JournalWriter, JournalError> {
        let path = path.as_ref().to_path_buf();
        let (journal, failing) = match Journal::open(&path) {
            Ok(journal) => (journal, None),
            Err(error) => {
                tracing::error!(file = %path.display(), %error, "journal unwritable: holding its records in memory");
                let now = SystemTime::now();
                let mark = Record::WriteFailed {
                    file: "journal".to_owned(),
                    service: None,
                    error: error.to_string(),
                };
                let failing = Failing {
                    since: now,
                    tried: Some(std::time::Instant::now()),
                    mark: Some((now, String::new(), mark)),
                    held: VecDeque::new(),
                    dropped: 0,
                };
                (Journal::open(":memory:")?, Some(failing))
            }
        };
        let (queue, inbox) = mpsc::channel();
        // Followers (`tend events -f`) read committed entries from here; a
        // follower this far behind is told it lagged and can read the
        // rest from the file. Allocated whole, so not larger.
        let (written, _) = broadcast::channel(FOLLOW_BACKLOG);
        let tell = written.clone();
        thread::Builder::new()
            .name("tend-journal".into())
            .spawn(move || write_loop(&path, journal, failing, &inbox, &tell))
            .map_err(JournalError::Thread)?;
        Ok(JournalWriter {
            queue,
            written,
            attached: Arc::default(),
        })
    }

    /// Journals every event of a tree from now on (the receiver from
    /// [`SupervisorHandle::subscribe`] or the builder's `subscribe`).
    /// Must be called within a tokio runtime.
    pub fn attach(&self, mut events: broadcast::Receiver<Event>) {
        let queue = self.queue.clone();
        let (drain, mut drains) = tokio::sync::mpsc::unbounded_channel::<oneshot::Sender<()>>();
        self.attached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(drain);
        tokio::spawn(async move {
            let mut starts = Starts::default();
            loop {
                let received = tokio::select! {
                    biased;
                    received = events.recv() => received,
                    Some(done) = drains.recv() => {
                        // Everything emitted before the flush is in the
                        // stream already: pass it on, then answer.
                        loop {
                            match events.try_recv() {
                                Ok(event) => {
                                    forward(&queue, &event, &mut starts);
                                }
                                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                                    lagged(&queue, missed);
                                }
                                Err(_) => break,
                            }
                        }
                        let _ = done.send(());
                        continue;
                    }
                };
                match received {
                    Ok(event) => {
                        if !forward(&queue, &event, &mut starts) {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => lagged(&queue, missed),
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Journals every event of the tree under `handle`.
    pub fn attach_to(&self, handle: &SupervisorHandle) {
        self.attach(handle.subscribe());
    }

    /// Journals a record of the caller's own (an operator's command).
    pub fn record(&self, supervisor: &str, record: Record) {
        let _ = self.queue.send(Message::Record(Box::new((
            SystemTime::now(),
            supervisor.to_owned(),
            record,
        ))));
    }

    /// Entries as they are committed.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Entry> {
        self.written.subscribe()
    }

    /// Commits everything recorded before this call, moves it from the
    /// `-wal` into the file itself (so a copy of `journal.db` alone holds
    /// every row) and closes the file; records after it are not kept.
    /// What a clean stop calls last.
    pub async fn close(&self) {
        self.drain_attached().await;
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Close(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Has every attached stream pass on what it already holds.
    async fn drain_attached(&self) {
        let drains: Vec<Drain> = self
            .attached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for drain in drains {
            let (done, drained) = oneshot::channel();
            if drain.send(done).is_ok() {
                let _ = drained.await;
            }
        }
    }

    /// Waits until everything recorded, or emitted by an attached tree,
    /// before this call is committed.
    pub async fn flush(&self) {
        self.drain_attached().await;
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// The generation last journaled as started, per supervisor and service:
/// an incarnation spawned but stopped before it was up (a shutdown began
/// while it started) ends with no start of its own, and the journal
/// gives it one, at its spawn, so every incarnation journaled has its
/// start (and its pid).
#[derive(Default)]
struct Starts(std::collections::HashMap<(std::sync::Arc<str>, String), u64>);

/// Queues an event's record (if the journal keeps its kind); false once
/// the writer is gone.
fn forward(queue: &mpsc::Sender<Message>, event: &Event, starts: &mut Starts) -> bool {
    let Ok(record) = Record::try_from(event) else {
        return true;
    };
    let at = wall_clock(event.at);
    let send = |at: SystemTime, record: Record| {
        queue
            .send(Message::Record(Box::new((
                at,
                event.supervisor.to_string(),
                record,
            ))))
            .is_ok()
    };
    match &record {
        Record::Started {
            service,
            generation,
            ..
        } => {
            starts
                .0
                .insert((event.supervisor.clone(), service.clone()), *generation);
        }
        Record::Exited {
            service,
            generation,
            pid: Some(pid),
            ran_for_ms,
            ..
        } => {
            let key = (event.supervisor.clone(), service.clone());
            if starts.0.remove(&key) != Some(*generation) {
                let spawned = at
                    .checked_sub(Duration::from_millis(*ran_for_ms))
                    .unwrap_or(at);
                let started = Record::Started {
                    service: service.clone(),
                    generation: *generation,
                    pid: Some(*pid),
                    // It has ended: nothing to recognise it by later.
                    start_ticks: None,
                    boot_id: None,
                };
                if !send(spawned, started) {
                    return false;
                }
            }
        }
        _ => {}
    }
    send(at, record)
}

/// Records that `missed` events went by unjournaled.
fn lagged(queue: &mpsc::Sender<Message>, missed: u64) {
    tracing::warn!(missed, "journal fell behind the event stream");
    let record = Record::Command {
        action: None,
        command: "journal-lagged".to_owned(),
        services: Vec::new(),
        outcome: Some(format!("{missed} events were not journaled")),
    };
    let _ = queue.send(Message::Record(Box::new((
        SystemTime::now(),
        String::new(),
        record,
    ))));
}

type Item = (SystemTime, String, Record);

/// Records the file has not taken yet, while it fails.
struct Failing {
    since: SystemTime,
    /// When the file was last tried: at most once per [`RETRY`], not once
    /// per batch while a storm's records keep coming; `None`: try at once
    /// (the writer is closing).
    tried: Option<std::time::Instant>,
    /// The `write_failed` record, committed first; `None` once it is.
    mark: Option<Item>,
    held: VecDeque<Item>,
    dropped: u64,
}

fn write_loop(
    path: &Path,
    mut journal: Journal,
    mut failing: Option<Failing>,
    inbox: &mpsc::Receiver<Message>,
    written: &broadcast::Sender<Entry>,
) {
    let mut batch: Vec<Item> = Vec::new();
    let mut flushes = Vec::new();
    let mut file = Identity::of(path);
    // What came during the last gathering, not yet taken.
    let mut came = None;
    let mut head_written = std::time::Instant::now();
    loop {
        // While failing, wake up to try again even if nothing comes.
        let first = match &failing {
            _ if came.is_some() => came.take(),
            None => match inbox.recv() {
                Ok(message) => Some(message),
                Err(_) => return,
            },
            Some(_) => match inbox.recv_timeout(RETRY) {
                Ok(message) => Some(message),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Last try for what is held, then give up.
                    try_at_once(&mut failing);
                    commit(path, &mut journal, &mut Vec::new(), &mut failing, written);
                    return;
                }
            },
        };
        let mut next = first;
        let mut closing = None;
        while let Some(message) = next.take() {
            match message {
                Message::Record(item) => batch.push(*item),
                Message::Flush(done) => flushes.push(done),
                Message::Close(done) => {
                    closing = Some(done);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = inbox.try_recv().ok();
            }
        }
        if closing.is_some() {
            try_at_once(&mut failing);
        }
        if !batch.is_empty() || failing.is_some() {
            if let Some(changed) = file.changed(path) {
                swap_file(path, &mut journal, &changed, &mut batch);
            }
            commit(path, &mut journal, &mut batch, &mut failing, written);
            file = Identity::of(path);
            // A start-up's batch of a few thousand rows is not kept as
            // spare room for ever (136 bytes a row).
            if batch.is_empty() {
                batch.shrink_to(64);
            }
        }
        if !flushes.is_empty() || closing.is_some() {
            journal.write_head();
            head_written = std::time::Instant::now();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
        if let Some(done) = closing {
            if let Err(error) = journal.checkpoint() {
                tracing::warn!(%error, "cannot checkpoint the journal at its close");
            }
            // Closing the last connection removes the emptied `-wal`.
            drop(journal);
            let _ = done.send(());
            return;
        }
        thread::sleep(GATHER);
        // The head once the commits pause (nothing came while gathering),
        // and at least every HEAD_EVERY while they do not.
        came = inbox.try_recv().ok();
        if came.is_none() || head_written.elapsed() >= HEAD_EVERY {
            journal.write_head();
            head_written = std::time::Instant::now();
        }
    }
}

/// Which file the writer has open, and how long it was: a file removed,
/// replaced or made shorter (truncated) under it is no longer its chain.
#[derive(Debug, Clone, Copy)]
struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
}

impl Identity {
    fn of(path: &Path) -> Option<Identity> {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path).ok().map(|m| Identity {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
        })
    }
}

trait Changed {
    /// What happened to the file since, if it is no longer the one open.
    fn changed(&self, path: &Path) -> Option<String>;
}

impl Changed for Option<Identity> {
    fn changed(&self, path: &Path) -> Option<String> {
        let was = (*self)?;
        let Some(now) = Identity::of(path) else {
            return Some("the journal file was removed while tend ran".to_owned());
        };
        if (now.dev, now.ino) != (was.dev, was.ino) {
            Some("the journal file was replaced while tend ran".to_owned())
        } else if now.len < was.len {
            Some(format!(
                "the journal file was truncated while tend ran ({} bytes, was {})",
                now.len, was.len
            ))
        } else {
            None
        }
    }
}

/// The file under the writer was removed, replaced or truncated: what is
/// there is moved aside, and a new chain begins with a record saying so
/// and where the old one ended (the rows of `batch` follow it).
fn swap_file(path: &Path, journal: &mut Journal, changed: &str, batch: &mut Vec<Item>) {
    let last = journal.head();
    tracing::error!(file = %path.display(), "{changed}: moving it aside and beginning a new journal");
    let moved_to = match crate::aside::move_aside(path, SystemTime::now()) {
        Ok(moved_to) => moved_to,
        Err(error) => {
            tracing::error!(%error, "cannot move the journal aside");
            return;
        }
    };
    // The old connection closes before the new file is made: its close
    // removes `journal.db-wal` by name.
    match Journal::nowhere() {
        Ok(nowhere) => drop(std::mem::replace(journal, nowhere)),
        Err(error) => tracing::error!(%error, "cannot close the journal"),
    }
    match Journal::open(path) {
        Ok(fresh) => *journal = fresh,
        // The commit that follows fails, and holds the rows until the
        // file can be made.
        Err(error) => tracing::error!(%error, "cannot begin a new journal"),
    }
    let record = Record::JournalCorrupt {
        moved_to: moved_to.display().to_string(),
        error: changed.to_owned(),
        last_good_row: (last.id > 0).then_some(last.id),
        last_good_hash: (last.id > 0).then(|| crate::head::hex(&last.hash)),
    };
    batch.insert(0, (SystemTime::now(), String::new(), record));
}

/// Commits `batch`, or, while failing, what is held and `batch` after
/// it, in order; on failure holds them.
fn commit(
    path: &Path,
    journal: &mut Journal,
    batch: &mut Vec<Item>,
    failing: &mut Option<Failing>,
    written: &broadcast::Sender<Entry>,
) {
    if let Some(state) = failing.as_mut() {
        hold(state, batch.drain(..));
        if state.tried.is_some_and(|at| at.elapsed() < RETRY) {
            return;
        }
        state.tried = Some(std::time::Instant::now());
        if catch_up(path, journal, state, written) {
            recovered(journal, failing, written);
        }
        return;
    }
    let error = match journal.append_rows(batch.iter().map(|(at, s, r)| (*at, s.as_str(), r))) {
        Ok(entries) => {
            publish(written, entries);
            batch.clear();
            return;
        }
        Err(error) => error,
    };
    tracing::error!(%error, "journal unwritable: holding its records in memory");
    let mark = Record::WriteFailed {
        file: "journal".to_owned(),
        service: None,
        error: error.to_string(),
    };
    let mut state = Failing {
        since: SystemTime::now(),
        tried: Some(std::time::Instant::now()),
        mark: Some((SystemTime::now(), String::new(), mark)),
        held: VecDeque::new(),
        dropped: 0,
    };
    hold(&mut state, batch.drain(..));
    *failing = Some(state);
}

/// Commits the mark, then what is held, oldest first, in transactions of
/// at most [`MAX_BATCH`], halved after each that fails: a backlog larger
/// than the space freed goes in as far as it fits, row by row at the end,
/// and the rest waits for the next try, rather than all of it failing as
/// one transaction forever. Whether everything held is written.
fn catch_up(
    path: &Path,
    journal: &mut Journal,
    state: &mut Failing,
    written: &broadcast::Sender<Entry>,
) -> bool {
    // A connection that failed may stay failed (a read-only remount):
    // start afresh; the chain is read back from the file.
    match Journal::open(path) {
        Ok(fresh) => *journal = fresh,
        Err(_) => return false,
    }
    let mut size = MAX_BATCH;
    while state.mark.is_some() || !state.held.is_empty() {
        let from_held = size.saturating_sub(usize::from(state.mark.is_some()));
        let from_held = from_held.min(state.held.len());
        let chunk = state
            .mark
            .iter()
            .chain(state.held.iter().take(from_held))
            .map(|(at, s, r)| (*at, s.as_str(), r));
        match journal.append(chunk) {
            Ok(entries) => {
                publish(written, entries);
                state.mark = None;
                state.held.drain(..from_held);
            }
            Err(error) if size > 1 => {
                tracing::debug!(%error, size, "journal catch-up failed: smaller transactions");
                size /= 2;
            }
            Err(error) => {
                tracing::debug!(%error, held = state.held.len(), "journal still unwritable");
                return false;
            }
        }
    }
    true
}

/// Everything held is written: says so in the journal, with how long it
/// failed and how many records it had to drop.
fn recovered(
    journal: &mut Journal,
    failing: &mut Option<Failing>,
    written: &broadcast::Sender<Entry>,
) {
    let Some(state) = failing.take() else { return };
    let after = state.since.elapsed().unwrap_or_default();
    tracing::info!(
        ?after,
        dropped = state.dropped,
        "the journal is writable again"
    );
    let record = Record::WriteRecovered {
        file: "journal".to_owned(),
        service: None,
        after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
        dropped: state.dropped,
    };
    let item = [(SystemTime::now(), String::new(), record)];
    match journal.append(item.iter().map(|(at, s, r)| (*at, s.as_str(), r))) {
        Ok(entries) => publish(written, entries),
        // Not held again: the next commit that fails marks it anew.
        Err(error) => tracing::error!(%error, "journal write failed again"),
    }
}

/// Tells the live followers what was committed.
fn publish(written: &broadcast::Sender<Entry>, entries: Vec<Entry>) {
    for entry in entries {
        let _ = written.send(entry);
    }
}

/// Lets the next commit try a failing file without waiting for [`RETRY`].
fn try_at_once(failing: &mut Option<Failing>) {
    if let Some(state) = failing {
        state.tried = None;
    }
}

/// Holds records, dropping the oldest beyond [`HELD_MAX`].
fn hold(state: &mut Failing, items: impl IntoIterator<Item = Item>) {
    state.held.extend(items);
    while state.held.len() > HELD_MAX {
        state.held.pop_front();
        state.dropped += 1;
    }
}

/// An event's monotonic time as wall-clock time.
fn wall_clock(at: tokio::time::Instant) -> SystemTime {
    let ago = tokio::time::Instant::now().saturating_duration_since(at);
    SystemTime::now() - ago
}
