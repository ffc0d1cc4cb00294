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
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

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

/// A head that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not a journal head (expected ID:HASH, the hash 64 hex digits): {0:?}")]
pub struct BadHead(pub String);

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.id, hex(&self.hash))
    }
}

impl FromStr for Head {
    type Err = BadHead;

    fn from_str(text: &str) -> Result<Head, BadHead> {
        let bad = || BadHead(text.chars().take(100).collect());
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

/// Reads the head file; `Ok(None)` when there is none.
pub(crate) fn read(path: &Path) -> Result<Option<Head>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse()
            .map(Some)
            .map_err(|e: BadHead| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Replaces the head file whole: a reader sees the old head or the new.
pub(crate) fn write(path: &Path, head: &Head) -> std::io::Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    let temporary = PathBuf::from(name);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(format!("{head}\n").as_bytes())?;
    drop(file);
    std::fs::rename(&temporary, path)
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
