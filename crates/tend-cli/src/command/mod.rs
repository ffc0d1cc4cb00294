//! Each command's body, one module per kind of work; `main` only
//! dispatches. Those that talk to a daemon do it through `tend_client`,
//! with `tend_wire` types only.

pub mod act;
pub mod config;
pub mod daemon;
pub mod docs;
pub mod events;
pub mod journal;
pub mod logs;
pub mod reload;
pub mod report;
pub mod status;
pub mod up;
