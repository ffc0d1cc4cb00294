//! A failed request, as the API answers it: an [`ErrorCode`], a sentence
//! for people, and (for a rejected config) its problems one per line.

use tend_wire::ErrorCode;

use crate::tree::Unknown;

/// A failed operation, with what the API answers.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// The kind.
    pub code: ErrorCode,
    /// For people.
    pub message: String,
    /// A new config's problems, one per line.
    pub details: Vec<String>,
}

impl Failure {
    /// A failure of `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }
}

impl From<Unknown> for Failure {
    fn from(unknown: Unknown) -> Failure {
        Failure::new(ErrorCode::UnknownService, unknown.to_string())
    }
}
