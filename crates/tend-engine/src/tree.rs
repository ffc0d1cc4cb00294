//! What ties a running incarnation to its supervisor and its tree: the
//! messages a supervisor's inbox receives, and what a supervisor shares with
//! the rest of its tree.
//!
//! Kept low, below [`Context`](crate::context::Context) and the supervisor,
//! so that an incarnation can talk to its supervisor without either module
//! depending on the other.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::event::EventBus;
use crate::exit::Exit;
use crate::id::IncarnationIds;
use crate::metrics::TreeStats;

/// Which child of a supervisor: where its record is (`slot`, reused once
/// the child is removed) and its serial number (given when it is added,
/// never reused, and in start order). A message whose key no longer names a
/// child, or whose generation is not the running one, is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ChildKey {
    pub(crate) slot: u32,
    pub(crate) serial: u64,
}

/// A message to a supervisor's inbox, from one of its incarnations (or from
/// the supervisor to itself). Each names the child by its key and the
/// incarnation by its generation; a message about an incarnation that is no
/// longer current is ignored.
pub(crate) enum Message {
    /// An incarnation ended.
    Exited {
        key: ChildKey,
        generation: u64,
        exit: Exit,
    },
    /// An incarnation became ready (`ctx.ready()`).
    Ready { key: ChildKey, generation: u64 },
    /// A ready incarnation is no longer ready (`ctx.not_ready(reason)`).
    NotReady {
        key: ChildKey,
        generation: u64,
        reason: std::sync::Arc<str>,
    },
    /// An incarnation asked for more time to become ready: its start
    /// deadline moves to `by` from now, if that is later.
    ExtendStart {
        key: ChildKey,
        generation: u64,
        by: std::time::Duration,
    },
    /// Something found a running incarnation faulty (a failed health check,
    /// a missed heartbeat, a resource limit reached, a linked party that
    /// ended): the supervisor stops it by its shutdown spec and records
    /// `exit` as its end.
    Fault {
        key: ChildKey,
        generation: u64,
        exit: Exit,
    },
}

/// What a supervisor shares with the rest of its tree.
pub(crate) struct TreeLinks {
    /// `root/child/grandchild`: names events and traces.
    pub(crate) path: Arc<str>,
    /// The tree's one event stream.
    pub(crate) bus: EventBus,
    /// Cancelled to turn every stop in this subtree into an immediate kill.
    pub(crate) hurry: CancellationToken,
    /// Cancelled when the tree's root begins to stop: one token for the
    /// whole tree, for a library user's own tasks.
    pub(crate) shutdown: CancellationToken,
    /// Whether this is the tree's root supervisor.
    pub(crate) is_root: bool,
    /// The tree's incarnation ids (one numbering for the whole tree).
    pub(crate) ids: Arc<IncarnationIds>,
    /// The tree's supervisors' counters, for a collector.
    pub(crate) stats: Arc<TreeStats>,
}

impl TreeLinks {
    /// The links of a root supervisor named `name`.
    pub(crate) fn root(name: &str, bus: EventBus) -> Self {
        TreeLinks {
            path: name.into(),
            bus,
            hurry: CancellationToken::new(),
            shutdown: CancellationToken::new(),
            is_root: true,
            ids: Arc::default(),
            stats: Arc::default(),
        }
    }

    /// The links of a supervisor named `name` nested under `parent`.
    pub(crate) fn nested(parent: &TreeLinks, name: &str) -> Self {
        TreeLinks {
            path: format!("{}/{}", parent.path, name).into(),
            bus: parent.bus.clone(),
            hurry: parent.hurry.child_token(),
            shutdown: parent.shutdown.clone(),
            is_root: false,
            ids: parent.ids.clone(),
            stats: parent.stats.clone(),
        }
    }
}
