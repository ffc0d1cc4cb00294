//! # tend-journal: what happened to a tree, provably unedited
//!
//! An append-only journal of a [`tend_engine`] supervision tree's events in an
//! embedded SQLite database (WAL): starts, exits with class, code and
//! signal, restarts, give-ups, isolations, and the operator's own commands.
//! Each row carries the SHA-256 of the row before it, so
//! [`Journal::verify`] finds any edited, deleted or reordered row and names
//! the first one by its id. Commits are batched by a writer thread of its
//! own ([`JournalWriter`]), so a restart storm costs one transaction per
//! batch, and a committed row survives a crash (kill -9) of the process.
//!
//! A file SQLite finds damaged (not a database, a malformed image) can be
//! moved aside before a run with [`set_aside_if_corrupt`], whose record
//! begins the new chain; an edited row is never damage.
//!
//! Attach it to any tree: `JournalWriter::open(path)?.attach_to(&root)`.
//! The chain's head (last row id and hash) is kept outside the table too,
//! in `journal.head`, so rows deleted at the end, every row deleted, or a
//! dropped table are found. Someone who can write both files can still
//! recompute the chain: export the head ([`Journal::head`]) and keep it
//! elsewhere to catch that ([`Journal::verify_against`]).

// Layers, from the bottom up: a module uses only those before it in this
// line (checked by .ci/layers).
// layers: file head store aside writer
mod aside;
mod file;
mod head;
mod store;
mod writer;

pub use aside::{set_aside_if_corrupt, SetAside};
pub use head::{head_path, BadHead, Head};
pub use store::{BadRow, Journal, JournalError, Query, Unfinished, Verification};
pub use tend_wire::{Entry, Record};
pub use writer::JournalWriter;
