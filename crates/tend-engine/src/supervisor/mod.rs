//! Supervisors: the builder that describes one, the handle that talks to a
//! running one, and the server task that does the work.
//!
//! Each supervisor is one tokio task (the *server*) that owns its children's
//! state outright; nothing else touches it, so there are no locks on the hot
//! path. Handles send it commands over an unbounded channel and get answers on
//! oneshot channels; incarnations report exits and readiness through its
//! mailbox; restart delays are entries in its timer queue. See `server.rs` for
//! the priority between these sources.
//!
//! Every start goes through one machine (`start`): a child due to start is
//! queued until its turn comes (OTP's order: the sibling before it is up;
//! or its dependencies hold) and its readiness is awaited without blocking
//! the loop, so commands are answered while children start or keep failing
//! to. Stopping a child is done *inline*, as OTP's supervisor does: while
//! the server waits for a child to end, it sets other children's messages
//! aside.
//!
//! Inside, calls go one way: `server` (the loop) dispatches to `control`
//! (the commands), which uses `restart` (what follows an exit), which uses
//! `start` (the start machine), which calls down into `incarnation` (one
//! incarnation's spawn, stop, wait and record), which uses `queue` (who is
//! due to start), `mailbox` and `children` (the table).

mod builder;
mod children;
mod control;
mod handle;
mod incarnation;
mod mailbox;
mod queue;
mod restart;
mod server;
mod start;

pub use builder::{check_childspecs, Supervisor, SupervisorBuilder};
pub use handle::SupervisorHandle;
