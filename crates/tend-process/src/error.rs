//! Why a process could not be started.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

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
    /// The working directory cannot be entered (checked by `tend check`;
    /// this is for one that went away since).
    #[error("cannot start {program:?}: the working directory {} {}", dir.display(), dir_problem(error))]
    WorkingDir {
        /// The program.
        program: String,
        /// The directory.
        dir: PathBuf,
        /// What `chdir` said.
        error: io::Error,
    },
    /// The program is not there, or is not something that can run.
    #[error("cannot start {program:?}: {why}")]
    Program {
        /// The program, as the command names it.
        program: String,
        /// What is wrong with it, e.g. `it is not found on PATH (/usr/bin:/bin)`.
        why: String,
    },
    /// The process could not be watched.
    #[error("cannot open a pidfd for the new process: {0}")]
    Pidfd(#[source] std::io::Error),
}

/// The step of a start that failed, when the spawn code knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Entering the working directory.
    Chdir,
    /// `execve` itself.
    Exec,
}

impl SpawnError {
    /// What starting `program` in `cwd` failed with, worded by its cause:
    /// the working directory, the program, or else as the system said.
    /// `found` is the file a PATH search found, if one was made. `step` is
    /// `None` where the spawn code cannot tell (`std`'s `Command`): the
    /// directory is then looked at again.
    pub(crate) fn start(
        program: &OsStr,
        found: Option<&Path>,
        cwd: Option<&Path>,
        step: Option<Step>,
        error: io::Error,
    ) -> SpawnError {
        let name = program.to_string_lossy().into_owned();
        let dir_failed = match (step, cwd) {
            (Some(Step::Chdir), Some(_)) => true,
            (None, Some(dir)) => !dir.is_dir(),
            _ => false,
        };
        if let (true, Some(dir)) = (dir_failed, cwd) {
            return SpawnError::WorkingDir {
                program: name,
                dir: dir.to_path_buf(),
                error,
            };
        }
        let file = match found {
            Some(found) => Some(found.to_path_buf()),
            None if program.as_bytes().contains(&b'/') => {
                // From the directory it ran in: its own, or this process's.
                let dir = cwd
                    .map(Path::to_path_buf)
                    .or_else(|| std::env::current_dir().ok());
                let file = dir.map_or_else(|| PathBuf::from(program), |d| d.join(program));
                // Components again, so `./` parts go from what is shown.
                Some(file.components().collect())
            }
            None => None,
        };
        let why = match (error.raw_os_error(), &file) {
            (Some(libc::ENOENT), None) => "it is not found on PATH".to_owned(),
            (Some(libc::ENOENT), Some(file)) if !file.exists() => {
                format!("no such file ({})", file.display())
            }
            (Some(libc::ENOENT), Some(_)) => {
                "its interpreter (the #! line) or loader is missing".to_owned()
            }
            (Some(libc::EACCES), Some(file)) if file.is_dir() => {
                format!("it is a directory ({})", file.display())
            }
            (Some(libc::EACCES), _) => {
                "it is not executable (or a directory on the way is not searchable)".to_owned()
            }
            (Some(libc::ENOEXEC), _) => {
                "it is not a program this machine runs (no #! line, or another architecture)"
                    .to_owned()
            }
            _ => {
                return SpawnError::Exec {
                    program: name,
                    error,
                }
            }
        };
        SpawnError::Program { program: name, why }
    }
}

/// What is wrong with a working directory, from `chdir`'s error.
fn dir_problem(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(libc::ENOENT) => "does not exist".to_owned(),
        Some(libc::ENOTDIR) => "is not a directory".to_owned(),
        _ => format!("cannot be entered ({error})"),
    }
}
