//! The state directory: where every command finds the running instance.
//!
//! One per config file, beside it: `.tend/` for `tend.toml`, `.tend-NAME/`
//! for `NAME.toml` (or any other file name `NAME`), so two configs in one
//! directory are two instances; unless `--state-dir` or `TEND_STATE_DIR`
//! names another. It holds the lock that makes one daemon its only
//! runner, the control socket (unless `--socket` or `TEND_SOCKET` puts it
//! elsewhere), the service logs, the journal, and (for a detached daemon)
//! the daemon's own log.

use std::ffi::OsString;
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

    /// The lock file whose exclusive `flock` its daemon holds (see
    /// `lock`).
    #[must_use]
    pub fn lock(&self) -> PathBuf {
        self.root.join("tend.lock")
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
