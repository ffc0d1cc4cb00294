//! Standard output for every command: a reader that goes away (`tend
//! status | head -1`) ends the command quietly, as it ends `cat`, instead
//! of `println!`'s panic on a closed pipe. On a terminal, control
//! characters are shown escaped ([`tend_wire::escape_bytes`]) unless
//! `--raw`: everything a command prints passes here, much of it a
//! service's text, and none of it may drive the operator's terminal.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether control characters are escaped: set once, by [`escape_on_terminal`].
static ESCAPE: AtomicBool = AtomicBool::new(false);

/// Escapes what is printed when standard output is a terminal, unless
/// `raw`. Pipes and files get the bytes as they are, as `cat` gives them.
pub fn escape_on_terminal(raw: bool) {
    ESCAPE.store(!raw && std::io::stdout().is_terminal(), Ordering::Relaxed);
}

/// Standard output was closed by its reader: not an error to report, the
/// end of the command (`main` exits 0 and says nothing).
#[derive(Debug)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for Closed {}

/// Whether `error` (or any of its causes) is standard output closed.
pub fn is_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<Closed>())
}

/// Writes `bytes` to standard output and flushes it.
///
/// # Errors
/// [`Closed`] when the reader is gone; any other write error as it is.
pub fn write(bytes: &[u8]) -> anyhow::Result<()> {
    let escaped;
    let bytes = if ESCAPE.load(Ordering::Relaxed) {
        escaped = tend_wire::escape_bytes(bytes);
        escaped.as_bytes()
    } else {
        bytes
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Closed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("writing to standard output")),
    }
}

/// `println!` through [`write`]: `say!("…", …)?`.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::out::write(format!("{}\n", format_args!($($arg)*)).as_bytes())
    };
}
pub(crate) use say;

/// `print!` through [`write`]: text without a newline added.
pub fn text(text: &str) -> anyhow::Result<()> {
    write(text.as_bytes())
}
