//! The command line, in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Keep services running: restart them when they fail, capture their logs,
/// journal what happened, and answer for them over an API.
#[derive(Debug, Parser)]
#[command(name = "tend", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Where to find the running instance and its config.
    #[command(flatten)]
    pub target: Target,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The config file and the state directory: every command finds the
/// running instance the same way.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The config file.
    #[arg(
        short = 'c',
        long = "config",
        global = true,
        env = "TEND_CONFIG",
        default_value = "tend.toml"
    )]
    pub config: PathBuf,
    /// The state directory (socket, logs, journal); default `.tend` beside
    /// the config file.
    #[arg(long, global = true, env = "TEND_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the config's services, in the foreground (Ctrl-C stops them
    /// gracefully, a second Ctrl-C kills), or as a daemon with -d.
    Up {
        /// Detach: run in the background, output to files in the state
        /// directory.
        #[arg(short = 'd', long)]
        detach: bool,
        /// (internal) the detached daemon itself.
        #[arg(long, hide = true)]
        detached_child: bool,
    },
    /// Check the config and report every problem, without running anything.
    Check,
    /// Print the config file's JSON Schema (for editors).
    Schema,
    /// The services: state, pid, uptime, restarts, last exit.
    Status {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Only these services (default: all).
        services: Vec<String>,
    },
    /// The supervision tree with OS pids and resource use.
    Ps {
        /// Print JSON instead of a tree.
        #[arg(long)]
        json: bool,
    },
    /// Start stopped services (all instances of a replicated one).
    Start {
        /// Service, instance (`web.2`) or group names.
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Stop services; they stay stopped until started.
    Stop {
        /// Service, instance or group names.
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Stop services, then start them.
    Restart {
        /// Service, instance or group names.
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Kill services at once (SIGKILL); their restart type then applies.
    Kill {
        /// Service, instance or group names.
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Send a signal to services' main processes.
    Signal {
        /// The signal: a name (SIGHUP, HUP) or a number.
        signal: String,
        /// Service, instance or group names.
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Show services' output.
    Logs {
        /// Keep printing new lines.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Lines of history to show first, per instance.
        #[arg(short = 'n', long = "lines", default_value_t = 100)]
        lines: usize,
        /// Only these services (default: all).
        services: Vec<String>,
    },
    /// Show the journal of events: starts, exits, restarts, commands.
    Events {
        /// Keep printing new events.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Only events this recent, e.g. 10m, 1h, 2d.
        #[arg(long, value_parser = duration)]
        since: Option<String>,
        /// Print each event as a JSON object on a line.
        #[arg(long)]
        json: bool,
        /// Only events of these services.
        services: Vec<String>,
    },
    /// Re-read the config and apply the difference: unchanged services keep
    /// running untouched.
    Reload,
    /// Stop every service gracefully and end the daemon.
    Down,
    /// Replace the running daemon with a new binary (by default the one
    /// running this command) without stopping any service: same pid, every
    /// process kept, no log line lost. The new binary must pass its own
    /// `check` of the config first; if it does not, nothing changes.
    Upgrade {
        /// The binary to become (default: this `tend`).
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// The journal of events.
    Journal {
        /// What to do with it.
        #[command(subcommand)]
        command: JournalCommand,
    },
}

/// `tend journal …`.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Check the hash chain; name the first edited, deleted or reordered row.
    Verify,
}

fn duration(text: &str) -> Result<String, String> {
    humantime::parse_duration(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("{e} (expected a duration such as 10m, 1h, 2d)"))
}
