//! The state directory: where every command finds the running instance.
//!
//! One per config file, beside it: `.tend/` for `tend.toml`, `.tend-NAME/`
//! for `NAME.toml` (or any other file name `NAME`), so two configs in one
//! directory are two instances; unless `--state-dir` or `TEND_STATE_DIR`
//! names another. It holds the lock that makes one daemon its only
//! runner, the control socket (unless `--socket` or `TEND_SOCKET` puts it
//! elsewhere), the service logs, the journal, and (for a detached daemon)
//! the daemon's own log.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
pub use tend_process::files::Access;
use tend_process::files::{self};

/// Whether a directory must be this user's own (to write in it), or need
/// only be a real directory (to read from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Owned by the effective user, writable by no one else; made private
    /// (0700) if it is not.
    Owned,
    /// Not a symbolic link, owned by the effective user or root (reads:
    /// `tend logs` without a daemon, the journal). Another user's is
    /// refused: its owner could swap what is read (a FIFO, a symbolic
    /// link for the journal SQLite opens by path) between the check and
    /// the open.
    Read,
}

/// One directory of a state directory, open: its files are opened relative
/// to this descriptor (never through a symbolic link, regular files only),
/// so what was checked is what is used.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens (and with `create`, makes, 0700) the directory `name` in
    /// `parent`, without following a symbolic link, and checks it on its
    /// descriptor. `path` and `what` name it in errors.
    fn open(
        parent: BorrowedFd<'_>,
        name: &OsStr,
        path: &Path,
        what: &str,
        check: Check,
        create: bool,
    ) -> io::Result<Dir> {
        let said = |kind: io::ErrorKind, why: String| {
            io::Error::new(kind, format!("{what} {} {why}", path.display()))
        };
        let linked = || {
            said(
                io::ErrorKind::InvalidInput,
                "is a symbolic link: refused (tend follows none there; make it a real directory)"
                    .into(),
            )
        };
        if create {
            match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(error) => {
                    return Err(said(
                        io::Error::from(error).kind(),
                        format!("cannot be created: {}", io::Error::from(error)),
                    ))
                }
            }
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(parent, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP) => return Err(linked()),
            // O_DIRECTORY is looked at before O_NOFOLLOW.
            Err(rustix::io::Errno::NOTDIR)
                if rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink) =>
            {
                return Err(linked())
            }
            Err(rustix::io::Errno::NOTDIR) => {
                let kind = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW).map_or(
                    "not a directory",
                    |s| match FileType::from_raw_mode(s.st_mode) {
                        FileType::RegularFile => "a file",
                        kind => files::what(kind),
                    },
                );
                return Err(said(
                    io::ErrorKind::NotADirectory,
                    format!("is {kind}, not a directory"),
                ));
            }
            Err(error) => {
                let error = io::Error::from(error);
                return Err(said(error.kind(), format!("cannot be opened: {error}")));
            }
        };
        let stat = rustix::fs::fstat(&fd)?;
        let me = rustix::process::geteuid().as_raw();
        if check == Check::Read && stat.st_uid != me && stat.st_uid != 0 {
            let owner = user_name(stat.st_uid);
            return Err(said(
                io::ErrorKind::PermissionDenied,
                format!(
                    "is owned by uid {}{}, not by uid {me} who runs tend: refused (its owner could lead a reader through the paths in it); run this as that user: sudo -u {} tend …",
                    stat.st_uid,
                    owner.as_ref().map_or_else(String::new, |name| format!(" ({name})")),
                    owner.unwrap_or_else(|| format!("'#{}'", stat.st_uid)),
                ),
            ));
        }
        if check == Check::Owned {
            if stat.st_uid != me {
                return Err(said(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "is owned by uid {}, not by uid {me} who runs tend: refused (another user could plant files in it)",
                        stat.st_uid
                    ),
                ));
            }
            let mode = stat.st_mode & 0o7777;
            if mode & 0o022 != 0 {
                return Err(said(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "is writable by its group or others (mode {mode:04o}): refused (another user could plant files in it; `chmod 700` it)"
                    ),
                ));
            }
            // Private: only its owner may reach the socket and the logs.
            if mode & 0o077 != 0 {
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o700)).map_err(|e| {
                    said(
                        io::Error::from(e).kind(),
                        format!("cannot be made private (mode 0700): {}", io::Error::from(e)),
                    )
                })?;
            }
        }
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Its path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory's descriptor.
    #[must_use]
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The descriptor, given away (to a log sink).
    #[must_use]
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// The file `name` in it, opened as `access` says: a regular file,
    /// reached through no symbolic link, never blocking on a FIFO.
    ///
    /// # Errors
    /// If it cannot be opened, or is not a regular file (the error says).
    pub fn open_file(&self, name: &str, access: Access) -> io::Result<File> {
        files::open_regular(self.fd(), OsStr::new(name), access, &self.path.join(name))
    }

    /// The contents of `name`, or `None` if there is none.
    ///
    /// # Errors
    /// If it exists but cannot be read or is not a regular file.
    pub fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match self.open_file(name, Access::Read) {
            Ok(mut file) => {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)?;
                Ok(Some(bytes))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Writes `name` whole or not at all: a temporary file (`NAME.new`),
    /// renamed over it; removed again if writing or renaming fails (a full
    /// disk), so none is left behind.
    ///
    /// # Errors
    /// If it cannot be written.
    pub fn write_whole(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let staged = format!("{name}.new");
        let _ = rustix::fs::unlinkat(&self.fd, staged.as_str(), AtFlags::empty());
        let written = self
            .open_file(&staged, Access::CreateNew)
            .and_then(|mut file| file.write_all(bytes))
            .and_then(|()| {
                Ok(rustix::fs::renameat(
                    &self.fd,
                    staged.as_str(),
                    &self.fd,
                    name,
                )?)
            });
        if written.is_err() {
            let _ = rustix::fs::unlinkat(&self.fd, staged.as_str(), AtFlags::empty());
        }
        written
    }

    /// Removes the file `name` (not a directory), if it is there.
    pub fn remove(&self, name: &str) {
        let _ = rustix::fs::unlinkat(&self.fd, name, AtFlags::empty());
    }

    /// Checks that `name` is a regular file or absent: for a file another
    /// library opens by its path (SQLite's journal), right before it does.
    ///
    /// # Errors
    /// If it is anything else (a symbolic link, a FIFO…).
    pub fn regular_or_absent(&self, name: &str) -> io::Result<bool> {
        files::regular_or_absent(self.fd(), OsStr::new(name), &self.path.join(name))
    }

    /// Checks the journal's files (`name`, its `-wal`, `-shm` and
    /// `-journal`, and its head `journal.head`): regular files of no other
    /// hard link, or absent, before SQLite opens them by path.
    ///
    /// # Errors
    /// If one is not.
    pub fn check_journal(&self, name: &str) -> io::Result<()> {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            self.regular_or_absent(&format!("{name}{suffix}"))?;
        }
        let head = tend_journal::head_path(Path::new(name));
        self.regular_or_absent(&head.to_string_lossy())?;
        Ok(())
    }
}

/// The name of the user `uid`, if it has one.
fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|user| user.name)
}

/// Opens the directory at `path`, the last component as [`Dir::open`]
/// does, what leads to it as named (made first, with `create`).
fn open_path(path: &Path, what: &str, check: Check, create: bool) -> io::Result<Dir> {
    // Said plainly: mkdir's EEXIST or ENOTDIR leave the reader guessing.
    let not_a_dir =
        |p: &&Path| std::fs::symlink_metadata(p).is_ok_and(|m| !m.is_dir() && !m.is_symlink());
    if let Some(file) = path.ancestors().skip(1).find(not_a_dir) {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!(
                "cannot create {what} {}: {} is a file, not a directory",
                path.display(),
                file.display()
            ),
        ));
    }
    // What leads to it must be as safe as it is: a directory another user
    // may write lets them swap the whole state directory for their own
    // while tend runs (SQLite opens the journal by path).
    if let Some(why) = tend_config::trust::replaceable_by_others(path)? {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{what} {}: {why}: refused (another user could put their own in its place)",
                path.display()
            ),
        ));
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = match path.file_name() {
        Some(name) => name,
        // `/`, `..`: resolved as named.
        None => {
            return open_path(
                &std::path::absolute(path)?.canonicalize()?,
                what,
                check,
                create,
            )
        }
    };
    if create {
        std::fs::create_dir_all(parent).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create {what} {}: {e}", path.display()),
            )
        })?;
    }
    let parent = files::open_dir(parent)
        .map_err(|e| io::Error::new(e.kind(), format!("{what} {}: {e}", path.display())))?;
    Dir::open(parent.as_fd(), name, path, what, check, create)
}

/// The lock file's name in the state directory.
pub const LOCK: &str = "tend.lock";
/// The journal's.
pub const JOURNAL: &str = "journal.db";
/// A detached daemon's own log's.
pub const DAEMON_LOG: &str = "tend.log";
/// The lease's.
pub const LEASE: &str = "daemon.json";
/// The hooks' output's, in `logs/`: a name no service's log can have
/// (a service's name begins with a letter or digit), so a service named
/// `hooks` keeps its log to itself.
pub const HOOKS_LOG: &str = "_hooks.log";

/// A state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
    socket: Option<PathBuf>,
}

impl StateDir {
    /// The state directory for `config`: `explicit` if given, else beside
    /// the config file, named after it ([`StateDir::name_for`]).
    #[must_use]
    pub fn for_config(config: &Path, explicit: Option<&Path>) -> StateDir {
        let root = match explicit {
            Some(dir) => dir.to_path_buf(),
            None => config
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join(StateDir::name_for(config)),
        };
        StateDir { root, socket: None }
    }

    /// The name of the state directory beside `config`: `.tend` for
    /// `tend.toml` (as always), `.tend-NAME` for `NAME.toml` or for a file
    /// named `NAME` otherwise. Two config files in one directory never
    /// share one.
    #[must_use]
    pub fn name_for(config: &Path) -> OsString {
        let Some(name) = config.file_name() else {
            return ".tend".into();
        };
        if name == tend_config::DEFAULT_FILE {
            return ".tend".into();
        }
        let named = Path::new(name);
        let stem = match (named.extension(), named.file_stem()) {
            (Some(ext), Some(stem)) if ext == "toml" => stem,
            _ => name,
        };
        let mut dir = OsString::from(".tend-");
        dir.push(stem);
        dir
    }

    /// The same directory with its control socket at `socket` instead of
    /// `tend.sock` inside it (`None` keeps it there): for a socket on a
    /// runtime directory (`/run/tend`). Any path length works
    /// ([`tend_client::socket::Short`], on both ends).
    #[must_use]
    pub fn with_socket(self, socket: Option<PathBuf>) -> StateDir {
        StateDir { socket, ..self }
    }

    /// Creates it (mode 0700: only its owner may reach the socket and
    /// logs) with its `logs/` and `hooks/`, and a socket's directory
    /// elsewhere if it is missing; and checks each is a real directory (no
    /// symbolic link), owned by this user and writable by no one else.
    ///
    /// # Errors
    /// If one cannot be created or fails a check; the error names the
    /// directory and says why.
    pub fn create(&self) -> io::Result<()> {
        if let Some(parent) = self.socket.as_deref().and_then(Path::parent) {
            // One that exists is the operator's (`/run`, `/tmp`): only one
            // tend makes is checked as its own.
            if !parent.as_os_str().is_empty() && std::fs::symlink_metadata(parent).is_err() {
                open_path(parent, "the socket's directory", Check::Owned, true)?;
            }
        }
        let root = self.open_with(Check::Owned, true)?;
        self.sub(&root, "logs", Check::Owned, true)?;
        self.sub(&root, "hooks", Check::Owned, true)?;
        Ok(())
    }

    /// Opens it, made before ([`StateDir::create`]), checked again.
    ///
    /// # Errors
    /// If it is missing, or is not a real directory of this user's,
    /// writable by no one else.
    pub fn open(&self) -> io::Result<Dir> {
        self.open_with(Check::Owned, false)
    }

    /// Opens its `logs/`, checked as [`StateDir::open`] does.
    ///
    /// # Errors
    /// As [`StateDir::open`].
    pub fn open_logs(&self) -> io::Result<Dir> {
        let root = self.open()?;
        self.sub(&root, "logs", Check::Owned, false)
    }

    /// Opens its `hooks/`, checked as [`StateDir::open`] does.
    ///
    /// # Errors
    /// As [`StateDir::open`].
    pub fn open_hooks(&self) -> io::Result<Dir> {
        let root = self.open()?;
        self.sub(&root, "hooks", Check::Owned, false)
    }

    /// Opens its `logs/` to read (`tend logs` without a daemon): no
    /// symbolic link followed, each directory this user's or root's.
    ///
    /// # Errors
    /// If it is missing, a symbolic link, or another user's.
    pub fn read_logs(&self) -> io::Result<Dir> {
        let root = self.open_with(Check::Read, false)?;
        self.sub(&root, "logs", Check::Read, false)
    }

    /// Opens the directory itself to read, as [`StateDir::read_logs`].
    ///
    /// # Errors
    /// If it is missing, a symbolic link, or another user's.
    pub fn read_root(&self) -> io::Result<Dir> {
        self.open_with(Check::Read, false)
    }

    fn open_with(&self, check: Check, create: bool) -> io::Result<Dir> {
        open_path(&self.root, "the state directory", check, create)
    }

    fn sub(&self, root: &Dir, name: &str, check: Check, create: bool) -> io::Result<Dir> {
        let what = match name {
            "logs" => "the log directory",
            _ => "the hooks' directory",
        };
        Dir::open(
            root.fd(),
            OsStr::new(name),
            &self.root.join(name),
            what,
            check,
            create,
        )
    }

    /// The directory itself.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The control socket: `tend.sock` inside it, unless placed elsewhere
    /// ([`StateDir::with_socket`]).
    #[must_use]
    pub fn socket(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(|| self.root.join("tend.sock"))
    }

    /// The lock file whose exclusive `flock` its daemon holds (see
    /// `lock`).
    #[must_use]
    pub fn lock(&self) -> PathBuf {
        self.root.join(LOCK)
    }

    /// Where service logs go.
    #[must_use]
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// An instance's log file.
    #[must_use]
    pub fn log_file(&self, instance: &str) -> PathBuf {
        self.logs().join(log_name(instance))
    }

    /// The journal database.
    #[must_use]
    pub fn journal(&self) -> PathBuf {
        self.root.join(JOURNAL)
    }

    /// A detached daemon's own output.
    #[must_use]
    pub fn daemon_log(&self) -> PathBuf {
        self.root.join(DAEMON_LOG)
    }

    /// Who runs this directory now (see `recovery`).
    #[must_use]
    pub fn lease(&self) -> PathBuf {
        self.root.join(LEASE)
    }

    /// The TCP API's generated token, when the config names none (see
    /// `token`).
    #[must_use]
    pub fn api_token(&self) -> PathBuf {
        self.root.join("api.token")
    }

    /// Event files handed to hooks on stdin.
    #[must_use]
    pub fn hooks(&self) -> PathBuf {
        self.root.join("hooks")
    }
}

/// An instance's log file's name in `logs/`.
#[must_use]
pub fn log_name(instance: &str) -> String {
    format!("{instance}.log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_config_file_has_its_own_state_directory() {
        let dir = |config: &str| {
            StateDir::for_config(Path::new(config), None)
                .root()
                .to_path_buf()
        };
        assert_eq!(dir("tend.toml"), Path::new("./.tend"));
        assert_eq!(dir("/srv/app/tend.toml"), Path::new("/srv/app/.tend"));
        assert_eq!(dir("/srv/app/b.toml"), Path::new("/srv/app/.tend-b"));
        assert_eq!(
            dir("deploy/prod.v2.toml"),
            Path::new("deploy/.tend-prod.v2")
        );
        assert_eq!(dir("/srv/app/tend"), Path::new("/srv/app/.tend-tend"));
        assert_eq!(dir("/srv/app/b.conf"), Path::new("/srv/app/.tend-b.conf"));
        let explicit = StateDir::for_config(Path::new("b.toml"), Some(Path::new("/var/lib/tend")));
        assert_eq!(explicit.root(), Path::new("/var/lib/tend"));
        assert_eq!(explicit.lock(), Path::new("/var/lib/tend/tend.lock"));
    }
}
