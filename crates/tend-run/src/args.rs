//! The command line, in one place.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tend_process::Signal;

/// Keep a command running: restart it when it exits, capture its output,
/// stop it (and everything it started) cleanly on SIGTERM or SIGINT.
///
/// Exit status: 0 after a signal-initiated stop or when the command
/// completed; 1 when it failed and is not restarted, or when restarts gave
/// up; 2 on a usage error.
#[derive(Debug, Parser)]
#[command(name = "tend-run", version, about, long_about = None)]
pub struct Args {
    /// When to restart: always (also after a clean exit), on-failure, never.
    #[arg(long, value_enum, default_value_t = RestartArg::Always)]
    pub restart: RestartArg,

    /// Delay before the first restart of a run of failures, doubling up to
    /// --backoff-max; 0 restarts at once. Examples: 0, 100ms, 2s.
    #[arg(long, default_value = "100ms", value_parser = duration)]
    pub backoff: Duration,

    /// The longest delay between restarts.
    #[arg(long, default_value = "30s", value_parser = duration)]
    pub backoff_max: Duration,

    /// Signal sent to the command's process group to stop it.
    #[arg(long, default_value = "SIGTERM", value_parser = signal)]
    pub stop_signal: Signal,

    /// How long to wait after the stop signal before SIGKILL.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub stop_timeout: Duration,

    /// Append the command's stdout and stderr to this file instead of
    /// passing them through.
    #[arg(long)]
    pub log: Option<PathBuf>,

    /// Pass the command's output through as it is, control characters and
    /// all. By default they are shown escaped (`\x1b`) when standard
    /// output is a terminal, so that the command cannot drive it (set its
    /// title, clear it, answer for the operator); output to a pipe or a
    /// file is always as it is.
    #[arg(long)]
    pub raw: bool,

    /// Rotate the log file past this many bytes (0: never).
    #[arg(long, default_value_t = 0)]
    pub log_max_size: u64,

    /// Rotated log files to keep.
    #[arg(long, default_value_t = 5)]
    pub log_keep: u32,

    /// Run this many instances side by side (one-for-one siblings).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub replicas: u32,

    /// Give up after this many restarts within --period (default: never).
    #[arg(long)]
    pub max_restarts: Option<u32>,

    /// The window for --max-restarts.
    #[arg(long, default_value = "60s", value_parser = duration)]
    pub period: Duration,

    /// The program and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROG [ARGS]..."
    )]
    pub command: Vec<String>,
}

/// `--restart` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RestartArg {
    /// Restart after every exit.
    Always,
    /// Restart only after a failure.
    OnFailure,
    /// Never restart.
    Never,
}

fn duration(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|e| format!("{e} (expected e.g. 0, 250ms, 2s, 1m)"))
}

fn signal(text: &str) -> Result<Signal, String> {
    text.parse()
        .map_err(|e: tend_process::UnknownSignal| e.to_string())
}
