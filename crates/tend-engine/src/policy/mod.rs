//! Restart and resource policies as small pure values: no I/O, no tokio, no
//! clock of their own. Time is passed in (`std::time::Instant`; the engine
//! converts tokio's clock, so a paused clock drives them exactly).

mod backoff;
mod start_limit;
mod threshold;
mod window;

pub(crate) use backoff::BackoffState;
pub(crate) use start_limit::StartLimitState;
pub(crate) use threshold::Meter;
pub use threshold::{Crossing, Threshold};
pub use window::RestartWindow;
