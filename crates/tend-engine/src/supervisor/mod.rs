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
//! Starting and stopping a child are done *inline*, as OTP's supervisor does:
//! while the server waits for a child to become ready or to end, it sets
//! other children's messages aside and answers no command. Retrying a failed
//! restart, by contrast, goes back through the mailbox, so commands (a
//! shutdown, say) are served between retries.
//!
//! A supervisor with dependencies starts concurrently instead (`order`): a
//! child starts once its dependencies hold, and its readiness is awaited
//! without blocking the loop.
//!
//! Inside, calls go one way: `server` (the loop) dispatches to `control` (the
//! commands), `order` (settling a concurrent start) and `restart` (what
//! follows an exit), which all call down into `incarnation` (one
//! incarnation's start, stop, wait and record), which uses `mailbox` and
//! `children` (the table).

mod builder;
mod children;
mod control;
mod handle;
mod incarnation;
mod mailbox;
mod order;
mod restart;
mod server;

pub use builder::{check_childspecs, Supervisor, SupervisorBuilder};
pub use handle::SupervisorHandle;
