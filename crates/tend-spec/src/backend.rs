use serde::{Deserialize, Serialize};

/// What runs a child's incarnations.
///
/// # Examples
///
/// ```
/// use tend_spec::Backend;
///
/// assert_eq!(Backend::Container.to_string(), "container");
/// let b: Backend = serde_json::from_str("\"wasm\"").unwrap();
/// assert_eq!(b, Backend::Wasm);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Backend {
    /// A future on a tokio task (a nested supervisor is one too).
    Task,
    /// An OS process.
    Process,
    /// A container, through a container runtime.
    Container,
    /// A WebAssembly module on a WASI runtime.
    Wasm,
    /// A workload on another node.
    Remote,
}

impl Backend {
    /// A short lower-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Task => "task",
            Backend::Process => "process",
            Backend::Container => "container",
            Backend::Wasm => "wasm",
            Backend::Remote => "remote",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend that is not built into this program or cannot run on this
/// machine, with a sentence a person can act on.
///
/// # Examples
///
/// ```
/// use tend_spec::{Backend, NotAvailable};
///
/// let e = NotAvailable::new(Backend::Wasm, "this build has no WASI runtime; rebuild with --features wasm");
/// assert_eq!(
///     e.to_string(),
///     "backend not available: wasm: this build has no WASI runtime; rebuild with --features wasm"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[error("backend not available: {backend}: {reason}")]
pub struct NotAvailable {
    /// The backend.
    pub backend: Backend,
    /// Why, and what to do about it.
    pub reason: String,
}

impl NotAvailable {
    /// `backend` cannot run children here, because of `reason`.
    pub fn new(backend: Backend, reason: impl Into<String>) -> Self {
        NotAvailable {
            backend,
            reason: reason.into(),
        }
    }
}
