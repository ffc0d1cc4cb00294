//! The state directory: where every command finds the running instance.
//!
//! `.tend/` beside the config file unless `--state-dir` or `TEND_STATE_DIR`
//! names another. It holds the control socket (unless `--socket` or
//! `TEND_SOCKET` puts it elsewhere), the service logs, the journal, and (for
//! a detached daemon) the daemon's own log.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Makes `dir` (mode 0700) and what leads to it; an error names `what`
/// it is and why it cannot be, once.
fn make(dir: &Path, what: &str) -> io::Result<()> {
    // Said plainly: mkdir's EEXIST or ENOTDIR leave the reader guessing.
    let not_a_dir = |p: &&Path| std::fs::metadata(p).is_ok_and(|m| !m.is_dir());
    if let Some(file) = dir.ancestors().find(not_a_dir) {
        let at = if file == dir {
            format!("{what} {} is a file, not a directory", dir.display())
        } else {
            format!(
                "cannot create {what} {}: {} is a file, not a directory",
                dir.display(),
                file.display()
            )
        };
        return Err(io::Error::new(io::ErrorKind::NotADirectory, at));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create {what} {}: {e}", dir.display()),
            )
        })
}

/// A state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
    socket: Option<PathBuf>,
}

impl StateDir {
    /// The state directory for `config`: `explicit` if given, else `.tend`
    /// beside the config file.
    #[must_use]
    pub fn for_config(config: &Path, explicit: Option<&Path>) -> StateDir {
        let root = match explicit {
            Some(dir) => dir.to_path_buf(),
            None => config
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join(".tend"),
        };
        StateDir { root, socket: None }
    }

    /// The same directory with its control socket at `socket` instead of
    /// `tend.sock` inside it (`None` keeps it there): for a socket on a
    /// runtime directory (`/run/tend`), or where the directory's path is
    /// too long for a socket's (108 bytes).
    #[must_use]
    pub fn with_socket(self, socket: Option<PathBuf>) -> StateDir {
        StateDir { socket, ..self }
    }

    /// Creates it (mode 0700: only its owner may reach the socket and
    /// logs), and a socket's directory elsewhere if it is missing.
    ///
    /// # Errors
    /// If it cannot be created; the error names the directory and says
    /// why, plainly where a part of its path is a file.
    pub fn create(&self) -> io::Result<()> {
        if let Some(parent) = self.socket.as_deref().and_then(Path::parent) {
            make(parent, "the socket's directory")?;
        }
        make(&self.root, "the state directory")?;
        make(&self.logs(), "the log directory")?;
        make(&self.hooks(), "the hooks' directory")?;
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot make {} private (mode 0700): {e}",
                    self.root.display()
                ),
            )
        })
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

    /// Where service logs go.
    #[must_use]
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// An instance's log file.
    #[must_use]
    pub fn log_file(&self, instance: &str) -> PathBuf {
        self.logs().join(format!("{instance}.log"))
    }

    /// The journal database.
    #[must_use]
    pub fn journal(&self) -> PathBuf {
        self.root.join("journal.db")
    }

    /// A detached daemon's own output.
    #[must_use]
    pub fn daemon_log(&self) -> PathBuf {
        self.root.join("tend.log")
    }

    /// Who runs this directory now (see `recovery`).
    #[must_use]
    pub fn lease(&self) -> PathBuf {
        self.root.join("daemon.json")
    }

    /// Event files handed to hooks on stdin.
    #[must_use]
    pub fn hooks(&self) -> PathBuf {
        self.root.join("hooks")
    }
}
