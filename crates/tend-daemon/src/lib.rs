//! # tend-daemon: a `tend.toml` as a running service tree
//!
//! Builds the supervision tree a [`tend_config::Config`] describes (process
//! children through `tend-process`), journals its events
//! (`tend-journal`), runs hooks, keeps per-instance log files, and serves
//! the HTTP/JSON API (axum) on the control socket `tend.sock` in the state
//! directory, and optionally on a TCP address behind a bearer token.
//! `tend up` runs [`run`]; every other `tend` command is a client of the API
//! (whose shapes are in [`tend_wire`]).

// Layers, from the bottom up: a module uses only those before it in this
// line (checked by .ci/layers).
// layers: keeper progress paths lock recovery logs tree failure life board upgrade hooks reload operator control metrics watch dashboard console server serve token daemon
mod board;
mod console;
mod control;
mod daemon;
mod dashboard;
mod failure;
mod hooks;
pub mod keeper;
mod life;
pub mod lock;
pub mod logs;
mod metrics;
mod operator;
pub mod paths;
pub mod progress;
mod recovery;
mod reload;
mod serve;
mod server;
pub mod token;
mod tree;
mod upgrade;
mod watch;

pub use daemon::{descriptor_shortfall, prepare, run, DaemonError, Ended, Options, Prepared};
pub use tree::{Instance, Layout, Unknown};
