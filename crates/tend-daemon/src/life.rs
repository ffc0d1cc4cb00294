//! What the daemon is told of its own life, as flags every part can
//! follow: a shutdown asked for, an upgrade asked for (to which binary),
//! and closing (the tree is down or handed over: streams end, listeners
//! close).

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

/// The daemon's life flags; clones share them.
#[derive(Debug, Clone)]
pub struct Life {
    shutdown: Arc<watch::Sender<bool>>,
    upgrade: Arc<watch::Sender<Option<PathBuf>>>,
    closing: Arc<watch::Sender<bool>>,
}

impl Default for Life {
    fn default() -> Life {
        Life {
            shutdown: Arc::new(watch::Sender::new(false)),
            upgrade: Arc::new(watch::Sender::new(None)),
            closing: Arc::new(watch::Sender::new(false)),
        }
    }
}

impl Life {
    /// Asks the daemon to shut the tree down.
    pub fn ask_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Becomes true once a shutdown was asked for.
    #[must_use]
    pub fn shutdown_asked(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Asks the daemon to become `binary`.
    pub fn ask_upgrade(&self, binary: PathBuf) {
        self.upgrade.send_replace(Some(binary));
    }

    /// Becomes `Some(binary)` once an upgrade was asked for.
    #[must_use]
    pub fn upgrade_asked(&self) -> watch::Receiver<Option<PathBuf>> {
        self.upgrade.subscribe()
    }

    /// Why no new operator command is taken, if one is not: a shutdown
    /// or an upgrade under way.
    #[must_use]
    pub fn refusal(&self) -> Option<String> {
        if let Some(binary) = self.upgrade.borrow().as_ref() {
            return Some(format!(
                "tend is upgrading to {}; try again in a moment",
                binary.display()
            ));
        }
        (*self.shutdown.borrow()).then(|| "tend is shutting down".to_owned())
    }

    /// Ends every stream and closes the listeners.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Becomes true when the daemon is closing.
    #[must_use]
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Whether the daemon is closing.
    #[must_use]
    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }
}
