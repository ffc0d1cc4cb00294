//! Why a process could not be started.

/// Why a process could not be started: a start failure, never a panic.
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
