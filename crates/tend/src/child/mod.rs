//! What a child is: its identity, its spec (how to start it and what to do
//! when it ends) and the state machine of its life.

mod id;
pub(crate) mod lifecycle;
mod spec;

pub use id::ChildId;
pub use lifecycle::ChildState;
pub use spec::{ChildKind, ChildSpec};
