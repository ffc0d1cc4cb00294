//! What can go wrong talking to the daemon.

use std::path::PathBuf;

use tend_wire::{ErrorCode, ErrorDetail};

/// A request that got no answer, or an answer that is an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing listens on the socket: the daemon is not running.
    #[error("tend is not running here (no answer on {}: {source}); start it with `tend up`", socket.display())]
    NotRunning {
        /// The socket asked.
        socket: PathBuf,
        /// Why the connection failed.
        source: std::io::Error,
    },
    /// The daemon answering runs another config than the one expected
    /// ([`Client::expecting_config`](crate::Client::expecting_config)).
    #[error("the daemon on {} runs {}, not {}; give each config its own state directory or socket", socket.display(), runs.display(), asked.display())]
    OtherConfig {
        /// The socket asked.
        socket: PathBuf,
        /// The config it runs (canonical).
        runs: PathBuf,
        /// The config expected (canonical).
        asked: PathBuf,
    },
    /// The connection broke or the exchange failed.
    #[error("talking to tend: {0}")]
    Http(#[from] hyper::Error),
    /// The daemon answered with an error (a 4xx or 5xx in the API's
    /// error shape); its message says it all (a config's problems
    /// included, which [`ErrorDetail::details`] also lists one by one).
    #[error("{}", .0.message)]
    Api(ErrorDetail),
    /// The daemon answered with something that is not the API's shape.
    #[error("tend answered {status}: {body}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The body, as text.
        body: String,
    },
    /// An answer that does not read as the type asked for (a daemon of
    /// another version, or a broken stream).
    #[error("reading tend's answer: {0}")]
    Decode(#[from] serde_json::Error),
    /// A query that cannot be written as a query string.
    #[error("{0}")]
    Query(#[from] serde_urlencoded::ser::Error),
}

impl Error {
    /// The API's error code, when the daemon answered with one.
    #[must_use]
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api(detail) => Some(detail.code),
            _ => None,
        }
    }
}
