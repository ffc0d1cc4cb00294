//! Files opened beneath a directory descriptor: never through a symbolic
//! link, never blocking on a FIFO, regular files only.
//!
//! tend usually runs as root and writes into directories others may have
//! prepared: a planted `web.log -> /etc/shadow` must not make it append
//! there, and a FIFO planted as a log must not hang it. Each file is opened
//! with `openat(dir, name, O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)` and checked
//! with `fstat` on the descriptor it got (not on the path, which can change
//! in between); anything but a regular file is refused with an error that
//! names it and says what it is.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// To read; it must exist.
    Read,
    /// To append, made (0600) if missing.
    Append,
    /// To read and write, made (0600) if missing, not truncated.
    ReadWrite,
    /// Emptied, made (0600) if missing.
    Truncate,
    /// Made new (0600); an existing one is an error.
    CreateNew,
}

impl Access {
    fn flags(self) -> OFlags {
        let safe = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        safe | match self {
            Access::Read => OFlags::RDONLY,
            Access::Append => OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE,
            Access::ReadWrite => OFlags::RDWR | OFlags::CREATE,
            Access::Truncate => OFlags::WRONLY | OFlags::TRUNC | OFlags::CREATE,
            Access::CreateNew => OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
        }
    }
}

/// The most a kernel-made file read on a restart holds here
/// (`/proc/PID/stat` is under 1 KiB; a cgroup's `cgroup.procs` is
/// usually empty).
const KERNEL_FILE_BUFFER: usize = 2048;

/// Reads a small file the kernel generates (`/proc`, cgroupfs) into a
/// stack buffer: open, read until the end, close. `fs::read_to_string`
/// also asks the size first (`statx`, which such files report as 0) and
/// then reads in growing steps: nine system calls for a `/proc/PID/stat`,
/// read on every restart (issue 26). `first_read_only`: stop after the
/// first read that leaves room, for files the kernel hands over whole to
/// a read with room (a single-record `seq_file`, as `/proc/PID/stat`).
pub(crate) fn read_kernel_file(path: &Path, first_read_only: bool) -> io::Result<String> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut buffer = [0u8; KERNEL_FILE_BUFFER];
    let mut filled = 0;
    loop {
        let read = match rustix::io::read(&fd, &mut buffer[filled..]) {
            Ok(read) => read,
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        };
        filled += read;
        if read == 0 || (first_read_only && filled < buffer.len()) {
            break;
        }
        if filled == buffer.len() {
            // Larger than expected: the rest the ordinary way.
            let mut bytes = buffer.to_vec();
            io::Read::read_to_end(&mut File::from(fd), &mut bytes)?;
            return String::from_utf8(bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
        }
    }
    String::from_utf8(buffer[..filled].to_vec())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Whether a kernel-made file is empty, by one read (a cgroup's
/// `cgroup.procs` when its processes are gone: open, read, close).
pub(crate) fn kernel_file_is_empty(path: &Path) -> io::Result<bool> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut byte = [0u8; 64];
    loop {
        match rustix::io::read(&fd, &mut byte) {
            Ok(read) => return Ok(read == 0),
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
}

/// Opens the directory at `path` (following symbolic links: a path an
/// operator named), close-on-exec.
///
/// # Errors
/// If it cannot be opened or is not a directory.
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let at = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    Ok(rustix::fs::open(
        at,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens `name` (one path component) in `dir` as `access` says: a regular
/// file only, not through a symbolic link, without blocking. `shown` names
/// it in errors.
///
/// # Errors
/// If it cannot be opened, or is a symbolic link, FIFO, socket, device or
/// directory: the error names `shown` and what it is.
pub fn open_regular(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    access: Access,
    shown: &Path,
) -> io::Result<File> {
    let fd = match rustix::fs::openat(dir, name, access.flags(), Mode::from_raw_mode(0o600)) {
        Ok(fd) => fd,
        // ELOOP (O_NOFOLLOW on a symbolic link), ENXIO (a FIFO with no
        // reader, a socket): said plainly, as what the file is.
        Err(error) => {
            return Err(
                match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile => {
                        refused(shown, what(FileType::from_raw_mode(stat.st_mode)))
                    }
                    _ => error.into(),
                },
            )
        }
    };
    let stat = rustix::fs::fstat(&fd)?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        return Err(refused(shown, what(kind)));
    }
    // A hard link to another file (a config, a root-owned file) would be
    // written through as surely as a symbolic link.
    if stat.st_nlink > 1 {
        return Err(refused(shown, "a file with other hard links"));
    }
    // O_NONBLOCK stays: it means nothing to a regular file.
    Ok(File::from(fd))
}

/// Whether `name` in `dir` is absent (`false`) or a regular file of no
/// other hard link (`true`), looked at without following a symbolic link;
/// anything else is an error naming `shown`. For files another library
/// opens by path (SQLite's): a hard link would be written through as
/// surely as a symbolic link.
///
/// # Errors
/// If it is a symbolic link, FIFO, socket, device or directory, has
/// another hard link, or cannot be looked at.
pub fn regular_or_absent(dir: BorrowedFd<'_>, name: &OsStr, shown: &Path) -> io::Result<bool> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile if stat.st_nlink > 1 => {
                Err(refused(shown, "a file with other hard links"))
            }
            FileType::RegularFile => Ok(true),
            kind => Err(refused(shown, what(kind))),
        },
        Err(rustix::io::Errno::NOENT) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Whether `name` exists in `dir` (as anything; a symbolic link is not
/// followed).
#[must_use]
pub fn exists(dir: impl AsFd, name: &OsStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
}

/// What a file of `kind` is, in words.
#[must_use]
pub fn what(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "of an unknown kind",
    }
}

fn refused(shown: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is {what}, not a regular file: refused (tend opens only regular files there, and follows no symbolic link)",
            shown.display()
        ),
    )
}
