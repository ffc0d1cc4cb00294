//! What a child is: its spec (how to start it and what to do when it ends),
//! the state machine of its life, and the task each incarnation runs on.

mod health;
pub(crate) mod lifecycle;
pub(crate) mod sentinel;
mod spec;
pub(crate) mod task;

pub use health::HealthCheck;
pub(crate) use spec::Launch;
pub use spec::{ChildSpec, Nested};
