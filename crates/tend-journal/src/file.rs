//! The journal's files, opened or looked at beside the database without
//! following a symbolic link, without blocking on a FIFO, regular files
//! with no other hard link only.
//!
//! tend usually runs as root, and the directory holding its journal may
//! have been prepared by someone else: a planted `journal.head ->
//! /etc/shadow` must not be read (or its content shown), a planted
//! `journal.head.tmp` must not make root truncate what it points to, a
//! FIFO must not hang a reader, and a `journal.db` hard-linked to another
//! name must not have rows written through it. SQLite opens the database
//! by path, so its files are looked at (`fstatat`, no link followed)
//! right before; the head is opened relative to the directory's
//! descriptor.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// The directory holding `path` (a file's path), open; and the file's name
/// in it.
pub(crate) fn parent(path: &Path) -> io::Result<(OwnedFd, &OsStr)> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("{}: {}", dir.display(), io::Error::from(e)),
        )
    })?;
    Ok((fd, name))
}

/// Whether `name` in `dir` is absent (`false`) or a regular file of no
/// other hard link (`true`), looked at without following a link. `shown`
/// names it in errors.
pub(crate) fn regular_or_absent(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    shown: &Path,
) -> io::Result<bool> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => sound(&stat, shown).map(|()| true),
        Err(rustix::io::Errno::NOENT) => Ok(false),
        Err(error) => Err(io::Error::new(
            io::Error::from(error).kind(),
            format!("{}: {}", shown.display(), io::Error::from(error)),
        )),
    }
}

/// `name` in `dir`, opened to read (`None` if there is none): not through a
/// symbolic link, not blocking on a FIFO, a regular file of no other hard
/// link only (checked on the descriptor it got).
pub(crate) fn open_read(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    shown: &Path,
) -> io::Result<Option<File>> {
    let flags =
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => {
            sound(&rustix::fs::fstat(&fd)?, shown)?;
            Ok(Some(File::from(fd)))
        }
        Err(rustix::io::Errno::NOENT) => Ok(None),
        // ELOOP (a symbolic link), ENXIO (a socket): said as what it is.
        Err(error) => {
            regular_or_absent(dir, name, shown)?;
            Err(io::Error::new(
                io::Error::from(error).kind(),
                format!("{}: {}", shown.display(), io::Error::from(error)),
            ))
        }
    }
}

/// `name` in `dir` made new (0600) to write: whatever was there (a stale
/// one, a planted link or FIFO) removed first, and `O_EXCL | O_NOFOLLOW`
/// so nothing that appears in between is reused or followed.
pub(crate) fn create_new(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<File> {
    let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
    let flags = OFlags::WRONLY
        | OFlags::CREATE
        | OFlags::EXCL
        | OFlags::NOFOLLOW
        | OFlags::NONBLOCK
        | OFlags::CLOEXEC
        | OFlags::NOCTTY;
    Ok(File::from(rustix::fs::openat(
        dir,
        name,
        flags,
        Mode::from_raw_mode(0o600),
    )?))
}

/// A regular file of no other hard link, or an error saying what it is.
fn sound(stat: &rustix::fs::Stat, shown: &Path) -> io::Result<()> {
    let what = match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile if stat.st_nlink > 1 => "a file with other hard links",
        FileType::RegularFile => return Ok(()),
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "of an unknown kind",
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is {what}, not a regular file of its own: refused (tend follows no symbolic link to its journal, and writes through no other name)",
            shown.display()
        ),
    ))
}
