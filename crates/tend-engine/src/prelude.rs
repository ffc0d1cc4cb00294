//! The names most programs use, in one import.
//!
//! ```
//! use tend_engine::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let sup = Supervisor::builder("app")
//!     .strategy(Strategy::OneForOne)
//!     .child(ChildSpec::task("w", |ctx: Context| async move { ctx.cancelled().await }))
//!     .start()
//!     .await
//!     .unwrap();
//! assert_eq!(sup.which_children().await[0].state, ChildState::Running);
//! sup.shutdown().await;
//! # }
//! ```

pub use crate::child::ChildSpec;
pub use crate::context::Context;
pub use crate::error::{ControlError, StartError};
pub use crate::event::{Event, EventKind};
pub use crate::exit::{Exit, ExitClass, ExitKind};
pub use crate::id::ChildId;
pub use crate::state::ChildState;
pub use crate::status::{ChildInfo, SupervisorStatus};
pub use crate::supervisor::{Supervisor, SupervisorBuilder, SupervisorHandle};
pub use tend_spec::{
    AutoShutdown, Backoff, Condition, CrashPolicy, Intensity, OnExhausted, Restart, RestartBudget,
    Shutdown, Strategy,
};
