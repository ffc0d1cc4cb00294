//! What is wrong with a config: every problem, each with its place.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a config file.
///
/// # Examples
///
/// ```
/// use tend_config::ConfigError;
///
/// let error = tend_config::parse_str("tend.toml", "[services.web]\ncomand = [\"./web\"]\n")
///     .unwrap_err();
/// let ConfigError::Invalid(problems) = error else { unreachable!() };
/// let typo = problems.iter().find(|p| p.message.contains("comand")).unwrap();
/// assert_eq!((typo.line, typo.column), (2, 1));
/// assert!(typo.to_string().starts_with("tend.toml:2:1: unknown key `comand`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What was found, e.g. ``unknown key `comand` in [services.web]``.
    pub message: String,
    /// What was expected there, e.g. ``one of `command`, `shell`, …``.
    pub expected: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some(expected) = &self.expected {
            write!(f, "; expected {expected}")?;
        }
        Ok(())
    }
}

/// Why a config could not be loaded.
///
/// # Examples
///
/// ```
/// use tend_config::ConfigError;
///
/// let missing = tend_config::load("/nonexistent/tend.toml").unwrap_err();
/// assert!(matches!(missing, ConfigError::Read { .. }));
///
/// let wrong = tend_config::parse_str("tend.toml", "[services.web]\nreplicas = 0\n").unwrap_err();
/// let ConfigError::Invalid(problems) = &wrong else { unreachable!() };
/// assert!(!problems.is_empty());
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a regular file (a directory, a FIFO, a device): reading it could
    /// wait forever or never end, so it is not opened.
    #[error("cannot read {}: it is {what}, not a regular file", file.display())]
    NotAFile {
        /// The file.
        file: PathBuf,
        /// What it is instead, e.g. `a character device`.
        what: &'static str,
    },
    /// Larger than a config file may be ([`MAX_CONFIG_SIZE`](crate::MAX_CONFIG_SIZE)).
    #[error(
        "cannot read {}: it is larger than {} MiB, the most a config file may be",
        file.display(),
        limit >> 20
    )]
    TooLarge {
        /// The file.
        file: PathBuf,
        /// The limit, in bytes (whole MiB).
        limit: u64,
    },
    /// Someone other than the user running tend (or root) could have
    /// written what it says to run: a config another user owns, or one
    /// writable by others, is not believed (as sshd refuses a writable
    /// `authorized_keys`): a root tend would run their commands as root.
    #[error("refusing {}: {why} (another user could make tend run anything; `chown` it to you or root and `chmod go-w` it)", file.display())]
    NotTrusted {
        /// The file.
        file: PathBuf,
        /// Who else could write it, e.g. `it is owned by uid 65534`.
        why: String,
    },
    /// The file was read and is wrong: every problem found, in file order.
    #[error("{}", Listed(.0))]
    Invalid(Vec<Diagnostic>),
}

struct Listed<'a>(&'a [Diagnostic]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics while a file is read, turning byte offsets into
/// lines and columns.
#[derive(Debug)]
pub(crate) struct Diagnostics<'a> {
    file: &'a Path,
    text: &'a str,
    found: Vec<(usize, Diagnostic)>,
}

impl<'a> Diagnostics<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        Diagnostics {
            file,
            text,
            found: Vec::new(),
        }
    }

    /// Records a problem at byte `offset`.
    pub(crate) fn at(&mut self, offset: usize, message: String, expected: Option<String>) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        self.found.push((
            offset,
            Diagnostic {
                file: self.file.to_path_buf(),
                line,
                column,
                message,
                expected,
            },
        ));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// Every problem, in file order.
    pub(crate) fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.found.sort_by_key(|(offset, _)| *offset);
        self.found.dedup_by(|a, b| a.1 == b.1);
        self.found.into_iter().map(|(_, d)| d).collect()
    }
}
