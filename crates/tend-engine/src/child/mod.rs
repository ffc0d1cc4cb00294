//! What a child is: its spec (how to start it and what to do when it ends),
//! the state machine of its life, and the task each incarnation runs on.

pub(crate) mod lifecycle;
mod probe;
pub(crate) mod sentinel;
mod spec;
pub(crate) mod task;

pub use probe::Probe;
pub use spec::{ChildSpec, Nested};
pub(crate) use spec::{Launch, Options};
