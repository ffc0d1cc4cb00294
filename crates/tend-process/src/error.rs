//! Why a process could not be started.

/// Why a process could not be started: a start failure, never a panic.
///
/// # Examples
///
/// ```
/// use tend_process::{ProcessSpec, SpawnError};
///
/// let empty = ProcessSpec::new("", Vec::<String>::new());
/// assert!(matches!(tend_process::check(&empty), Err(SpawnError::EmptyCommand)));
///
/// let mut spec = ProcessSpec::new("true", Vec::<String>::new());
/// spec.user = Some("no-such-user-here".into());
/// let error = tend_process::check(&spec).unwrap_err();
/// assert!(matches!(error, SpawnError::NoSuchUser(_) | SpawnError::NotRoot), "{error}");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The command line is empty.
    #[error("the command is empty")]
    EmptyCommand,
    /// `shell = true` takes a single command line.
    #[error("with shell = true, the command must be a single command line")]
    ShellWithArgs,
    /// Changing user or group needs root.
    #[error("running as another user or group needs root (this supervisor runs as uid {})", rustix::process::geteuid().as_raw())]
    NotRoot,
    /// No such user.
    #[error("no such user {0:?}")]
    NoSuchUser(String),
    /// No such group.
    #[error("no such group {0:?}")]
    NoSuchGroup(String),
    /// The user database could not be read.
    #[error("looking up users and groups failed: {0}")]
    Lookup(String),
    /// `exec` (or a step before it) failed: no such file, permission, bad
    /// working directory, a limit that cannot be set.
    #[error("cannot start {program:?}: {error}")]
    Exec {
        /// The program.
        program: String,
        /// What the system said.
        #[source]
        error: std::io::Error,
    },
    /// The process could not be watched.
    #[error("cannot open a pidfd for the new process: {0}")]
    Pidfd(#[source] std::io::Error),
}
