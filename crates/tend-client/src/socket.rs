//! Reaching a control socket at any path length.
//!
//! A unix socket's address holds at most 107 bytes of path, and a config
//! under a deep directory puts its socket further than that. Such a path
//! is reached through its directory instead: an `O_PATH` descriptor of the
//! directory and `/proc/self/fd/N/NAME`, a short path the kernel resolves
//! to the same file. The daemon binds through this same [`Short`], so any
//! location works on both ends.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use tokio::net::UnixStream;

/// The longest path a `sockaddr_un` holds (108 bytes with the NUL).
const MAX: usize = 107;

/// A socket path as it can be handed to `connect` or `bind`: the path
/// itself when short enough, else one through its directory's descriptor,
/// valid while this lives.
#[derive(Debug)]
pub struct Short {
    path: PathBuf,
    _dir: Option<OwnedFd>,
}

impl Short {
    /// `path`, or a short path to the same file.
    ///
    /// # Errors
    /// If its directory cannot be opened, or its file name alone is too
    /// long.
    pub fn new(path: &Path) -> io::Result<Short> {
        if path.as_os_str().len() <= MAX {
            return Ok(Short {
                path: path.to_path_buf(),
                _dir: None,
            });
        }
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} names no file", path.display()),
            ));
        };
        Short::through(open_dir(dir)?, name)
    }

    /// `name` in the directory `dir`, reached through `/proc/self/fd`.
    fn through(dir: OwnedFd, name: &OsStr) -> io::Result<Short> {
        let short = Path::new("/proc/self/fd")
            .join(dir.as_raw_fd().to_string())
            .join(name);
        if short.as_os_str().len() > MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the socket's file name is too long for a unix socket: {}",
                    name.to_string_lossy()
                ),
            ));
        }
        Ok(Short {
            path: short,
            _dir: Some(dir),
        })
    }

    /// The path to hand to the system.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The socket at `path` as [`connect`] reaches it: through its directory's
/// descriptor, checked on that descriptor to be this user's or root's
/// (another user's could hold a symbolic link to some other root daemon's
/// socket, which the peer check below would pass), and `path` itself a
/// socket, no symbolic link. Only the directory's owner can change it
/// after the check.
fn checked(path: &Path) -> io::Result<Short> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let fd = open_dir(dir)?;
    let owner = rustix::fs::fstat(&fd)?.st_uid;
    let me = rustix::process::geteuid().as_raw();
    if owner != me && owner != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the socket's directory {} is owned by uid {owner}, not by you (uid {me}) or root: refused (its owner could point the socket elsewhere); run this as that user",
                dir.display()
            ),
        ));
    }
    let kind = rustix::fs::statat(&fd, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
        .map(|stat| rustix::fs::FileType::from_raw_mode(stat.st_mode))?;
    if kind != rustix::fs::FileType::Socket {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is not a socket ({}): refused",
                path.display(),
                if kind == rustix::fs::FileType::Symlink {
                    "a symbolic link"
                } else {
                    "another kind of file"
                }
            ),
        ));
    }
    // Through the checked directory, where /proc is mounted.
    if Path::new("/proc/self/fd").is_dir() {
        Short::through(fd, name)
    } else {
        Short::new(path)
    }
}

/// The directory `dir`, opened only to reach what is in it.
fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?)
}

/// Connects to the socket at `path`, however long, and only to a daemon
/// run by this user or root, through a directory of this user's or root's
/// and no symbolic link: whoever could put a socket at that path (a
/// writable parent directory) must not be answered as if they were tend
/// (`tend down` run by root telling a stranger nothing, or trusting what
/// they say).
///
/// # Errors
/// As `connect`, or [`Short::new`]; `PermissionDenied` if the process at
/// the other end is another user's, or the socket's directory is;
/// `InvalidInput` if the path is not a socket (a symbolic link).
pub async fn connect(path: &Path) -> io::Result<UnixStream> {
    let short = checked(path)?;
    let stream = UnixStream::connect(short.path()).await?;
    let peer = stream.peer_cred()?.uid();
    let me = rustix::process::geteuid().as_raw();
    if peer != me && peer != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the socket {} is served by uid {peer}, not by you (uid {me}) or root: not tend's, refused",
                path.display()
            ),
        ));
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_socket_under_a_long_path_is_reached() {
        let base = std::env::temp_dir().join(format!("tend-short-{}", std::process::id()));
        let deep = base.join("d".repeat(120)).join("e".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let socket = deep.join("tend.sock");
        assert!(socket.as_os_str().len() > MAX);
        // What binding it plainly says.
        assert!(std::os::unix::net::UnixListener::bind(&socket).is_err());
        let short = Short::new(&socket).unwrap();
        assert!(short.path().starts_with("/proc/self/fd/"));
        let listener = std::os::unix::net::UnixListener::bind(short.path()).unwrap();
        drop(short);
        assert!(socket.exists(), "bound where the long path says");
        let stream = connect(&socket).await.unwrap();
        let (_accepted, _) = listener.accept().unwrap();
        drop(stream);
        // A short path is used as it is.
        let near = Short::new(Path::new("/tmp/x.sock")).unwrap();
        assert_eq!(near.path(), Path::new("/tmp/x.sock"));
        std::fs::remove_dir_all(base).unwrap();
    }
}
