//! Supervisors: the builder that describes one, the handle that talks to a
//! running one, and the server task that does the work.
//!
//! Each supervisor is one tokio task (the *server*) that owns its children's
//! state outright; nothing else touches it, so there are no locks on the hot
//! path. Handles send it commands over an unbounded channel and get answers on
//! oneshot channels; incarnations report exits and readiness through its inbox;
//! restart delays are entries in its timer queue. See `server.rs` for the
//! priority between these sources.
//!
//! Starting and stopping a child are done *inline*, as OTP's supervisor does:
//! while the server waits for a child to become ready or to end, it queues
//! other children's messages and answers no command. Retrying a failed restart,
//! by contrast, goes back through the inbox, so commands (a shutdown, say) are
//! served between retries.

mod builder;
mod children;
mod control;
mod handle;
pub(crate) mod incarnation;
mod restart;
mod server;
mod shutdown;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use builder::{check_childspecs, Supervisor, SupervisorBuilder};
pub use handle::SupervisorHandle;

use crate::event::EventBus;
use crate::Exit;

/// Messages from incarnations (and from the server to itself).
pub(crate) enum Internal {
    /// An incarnation ended.
    Exited {
        seq: u64,
        generation: u64,
        exit: Exit,
    },
    /// An incarnation called `ctx.ready()`.
    Ready { seq: u64, generation: u64 },
    /// Retry a restart whose start failed (OTP's `try_again_restart`).
    TryAgain { seq: u64 },
}

/// What a supervisor shares with the rest of its tree.
pub(crate) struct Links {
    /// `root/child/grandchild`: names events and traces.
    pub(crate) path: Arc<str>,
    /// The tree's one event stream.
    pub(crate) bus: EventBus,
    /// Cancelled to turn every stop in this subtree into an immediate kill.
    pub(crate) hurry: CancellationToken,
}

impl Links {
    fn root(name: &str, bus: EventBus) -> Self {
        Links {
            path: name.into(),
            bus,
            hurry: CancellationToken::new(),
        }
    }

    fn nested(parent: &Links, name: &str) -> Self {
        Links {
            path: format!("{}/{}", parent.path, name).into(),
            bus: parent.bus.clone(),
            hurry: parent.hurry.child_token(),
        }
    }
}
