//! The chain's head kept outside the table: `journal.head` beside the
//! database, holding the last row's id and hash, replaced whole (temp file
//! and rename) after every commit.
//!
//! A chain alone cannot show rows deleted at its end, every row deleted,
//! or its table dropped: what is left still verifies. The head can. It
//! does not stop someone who can write both files from recomputing the
//! chain and the head; an exported head ([`Head`]'s `Display`, checked
//! with `tend journal verify --head`) kept elsewhere does.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::file;

/// The last row of a chain: its id and hash.
///
/// # Examples
///
/// ```
/// let head: tend_journal::Head = format!("3:{}", "ab".repeat(32)).parse().unwrap();
/// assert_eq!(head.id, 3);
/// assert_eq!(head.to_string(), format!("3:{}", "ab".repeat(32)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The last row's id (0: no row yet).
    pub id: i64,
    /// Its hash.
    pub hash: [u8; 32],
}

/// A head that could not be read. What was found is described by its
/// length only, never shown: the head file may be a link planted to a
/// secret (`/etc/shadow`), read by root.
#[derive(Debug, thiserror::Error)]
#[error("not a journal head: expected ID:HASH (a row id, a colon, 64 hex digits: at most 84 characters), found {len} bytes of something else")]
pub struct BadHead {
    /// How long what was found is, in bytes.
    pub len: usize,
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.id, hex(&self.hash))
    }
}

impl FromStr for Head {
    type Err = BadHead;

    fn from_str(text: &str) -> Result<Head, BadHead> {
        let bad = || BadHead { len: text.len() };
        let (id, hash) = text.trim().split_once(':').ok_or_else(bad)?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        if hash.len() != 64 || id < 0 {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hash.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(Head { id, hash: bytes })
    }
}

/// Where the head of the journal at `journal` is kept: `journal.head`
/// beside `journal.db`.
#[must_use]
pub fn head_path(journal: &Path) -> PathBuf {
    journal.with_extension("head")
}

/// The longest head file read: a head is at most 84 bytes and a newline.
const LONGEST: u64 = 128;

/// Reads the head file; `Ok(None)` when there is none (or `path` is empty:
/// a journal in memory has none). It is opened beside the journal without
/// following a symbolic link or blocking on a FIFO, a regular file of no
/// other hard link only, and at most `LONGEST` bytes of it are read.
pub(crate) fn read(path: &Path) -> Result<Option<Head>, String> {
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    let said = |e: std::io::Error| e.to_string();
    let (dir, name) = file::parent(path).map_err(said)?;
    let Some(head) = file::open_read(dir.as_fd(), name, path).map_err(said)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    (&head)
        .take(LONGEST + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |len: usize| format!("{}: {}", path.display(), BadHead { len });
    if bytes.len() as u64 > LONGEST {
        let len = head.metadata().map_or(u64::MAX, |m| m.len());
        return Err(bad(usize::try_from(len).unwrap_or(usize::MAX)));
    }
    let text = String::from_utf8(bytes).map_err(|e| bad(e.as_bytes().len()))?;
    text.parse()
        .map(Some)
        .map_err(|e: BadHead| format!("{}: {e}", path.display()))
}

/// Replaces the head file whole: a reader sees the old head or the new.
/// Written to `journal.head.tmp` made new (whatever was there removed, no
/// link followed, 0600) and renamed over the head, both relative to the
/// directory's descriptor; the temporary file is removed if either fails.
pub(crate) fn write(path: &Path, head: &Head) -> std::io::Result<()> {
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    let (dir, name) = file::parent(path)?;
    let dir = dir.as_fd();
    let mut temporary = name.to_owned();
    temporary.push(".tmp");
    let written = file::create_new(dir, &temporary)
        .and_then(|mut file| file.write_all(format!("{head}\n").as_bytes()))
        .and_then(|()| Ok(rustix::fs::renameat(dir, &temporary, dir, name)?));
    if written.is_err() {
        let _ = rustix::fs::unlinkat(dir, &temporary, rustix::fs::AtFlags::empty());
    }
    written
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
