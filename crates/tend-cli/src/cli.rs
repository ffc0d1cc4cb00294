//! The command line, in one place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use tend_client::Client;
use tend_daemon::paths::StateDir;
use tend_wire::ActOptions;

/// Keep services running: restart them when they fail, capture their logs,
/// journal what happened, and answer for them over an API.
#[derive(Debug, Parser)]
#[command(
    name = "tend",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Examples:\n  tend up -d && tend status     # start in the background, look\n  tend logs -f web              # follow one service's output\n  tend top                      # the live view\n  tend reload --dry-run         # what a config change would do\n  tend down\n\nEvery command finds the running instance by its config file (-c, default\n./tend.toml) and the state directory beside it (.tend/ for tend.toml,\n.tend-NAME/ for NAME.toml), and talks only to the daemon of that file."
)]
pub struct Cli {
    /// Where to find the running instance and its config.
    #[command(flatten)]
    pub target: Target,
    /// Print services' text (their output, status, reasons) as it is, control
    /// characters and all. By default they are shown escaped (`\x1b`) when
    /// standard output is a terminal, so that a service cannot drive it;
    /// output to a pipe or a file is always as it is. Not for `tend top`,
    /// whose screen always shows them escaped.
    #[arg(long, global = true)]
    pub raw: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The command line, parsed; a usage error (exit 2) for `--raw` where
    /// it does not apply (`tend top`), rather than ignored.
    pub fn parse_checked() -> Cli {
        let cli = Cli::parse();
        if cli.raw && matches!(cli.command, Command::Top { .. }) {
            <Cli as clap::CommandFactory>::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--raw does not apply to `tend top`: its screen is drawn cell by cell and always shows services' text escaped (`tend logs --raw` gives the bytes)",
                )
                .exit();
        }
        cli
    }
}

/// The config file and the state directory: every command finds the
/// running instance the same way.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The config file [default: tend.toml].
    #[arg(
        short = 'c',
        long = "config",
        global = true,
        env = "TEND_CONFIG",
        value_name = "CONFIG"
    )]
    pub named_config: Option<PathBuf>,
    /// The state directory (lock, socket, logs, journal); default beside
    /// the config file: `.tend` for tend.toml, `.tend-NAME` for NAME.toml.
    #[arg(long, global = true, env = "TEND_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The control socket; default `tend.sock` in the state directory.
    #[arg(long, global = true, env = "TEND_SOCKET")]
    pub socket: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the config's services, in the foreground (Ctrl-C stops them
    /// gracefully, a second Ctrl-C kills), or as a daemon with -d.
    #[command(
        after_help = "Examples:\n  tend up                      # foreground; Ctrl-C stops gracefully\n  tend up -d                   # in the background\n  tend -c /etc/tend/tend.toml up"
    )]
    Up {
        /// Detach: run in the background, output to files in the state
        /// directory.
        #[arg(short = 'd', long)]
        detach: bool,
        /// (internal) the detached daemon itself.
        #[arg(long, hide = true)]
        detached_child: bool,
        /// (internal) the keeper above the detached daemon.
        #[arg(long, hide = true)]
        keeper: bool,
    },
    /// Check the config and report every problem, without running anything.
    #[command(
        after_help = "Examples:\n  tend check\n  tend -c deploy/tend.toml check && tend reload"
    )]
    Check,
    /// Print the config file's JSON Schema (for editors).
    #[command(
        after_help = "Examples:\n  tend schema > tend.schema.json   # for editors (Taplo, VS Code)"
    )]
    Schema,
    /// The services: state, readiness, pid, uptime, restarts, last exit.
    #[command(
        after_help = "Exit status (as systemctl status):\n  0  every service named is running (or, run once, completed); always 0 with no names\n  3  some service named is not running\n  4  a name means no service, instance or group\n\nREADY is yes or no for a service with a readiness condition (ready, or a\nreadiness probe), - for one without.\n\nExamples:\n  tend status\n  tend status web worker.2 || echo 'not all running'\n  tend status --json | jq '.[] | select(.state != \"running\")'"
    )]
    Status {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Only these services (default: all).
        services: Vec<String>,
    },
    /// The supervision tree with OS pids and resource use.
    #[command(after_help = "Examples:\n  tend ps\n  tend ps --json")]
    Ps {
        /// Print JSON instead of a tree.
        #[arg(long)]
        json: bool,
    },
    /// Start stopped services (all instances of a replicated one).
    #[command(
        after_help = "Examples:\n  tend start web\n  tend start backend      # every service of a group"
    )]
    Start {
        /// Service, instance (`web.2`) or group names.
        #[arg(required = true)]
        services: Vec<String>,
        /// How long to wait for the effect.
        #[command(flatten)]
        wait: Wait,
    },
    /// Stop services; they stay stopped until started.
    #[command(
        after_help = "Examples:\n  tend stop worker        # every replica\n  tend stop worker.2"
    )]
    Stop {
        /// Service, instance or group names.
        #[arg(required = true)]
        services: Vec<String>,
        /// How long to wait for the effect.
        #[command(flatten)]
        wait: Wait,
    },
    /// Stop services, then start them.
    #[command(after_help = "Examples:\n  tend restart web\n  tend restart web worker")]
    Restart {
        /// Service, instance or group names.
        #[arg(required = true)]
        services: Vec<String>,
        /// How long to wait for the effect.
        #[command(flatten)]
        wait: Wait,
    },
    /// Kill services at once (SIGKILL); their restart type then applies.
    #[command(after_help = "Examples:\n  tend kill web")]
    Kill {
        /// Service, instance or group names.
        #[arg(required = true)]
        services: Vec<String>,
        /// How long to wait for the effect.
        #[command(flatten)]
        wait: Wait,
    },
    /// Send a signal to services' main processes.
    #[command(
        after_help = "Examples:\n  tend signal HUP nginx     # reload its config\n  tend signal SIGUSR1 worker.1"
    )]
    Signal {
        /// The signal: a name (SIGHUP, HUP) or a number.
        signal: String,
        /// Service, instance or group names.
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Show services' output.
    #[command(
        after_help = "Examples:\n  tend logs web\n  tend logs -f\n  tend logs -n 500 web worker"
    )]
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
    #[command(
        after_help = "Examples:\n  tend events\n  tend events -f web\n  tend events --since 1h --json"
    )]
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
    /// running untouched. Prints the plan (added, removed, changed,
    /// unchanged) first.
    #[command(
        after_help = "Examples:\n  tend reload --dry-run     # what would change\n  tend reload"
    )]
    Reload {
        /// Print the plan only; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Stop every service gracefully and end the daemon.
    #[command(after_help = "Examples:\n  tend down")]
    Down,
    /// Replace the running daemon with a new binary (by default the one
    /// running this command) without stopping any service: same pid, every
    /// process kept, no log line lost. The new binary must pass its own
    /// `check` of the config first; if it does not, nothing changes.
    #[command(
        after_help = "Examples:\n  tend upgrade                        # become this tend\n  tend upgrade --binary /usr/local/bin/tend"
    )]
    Upgrade {
        /// The binary to become (default: this `tend`).
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// A live view of the tree: states, pids, restarts, CPU, memory, logs;
    /// keys to restart, stop, start and signal.
    #[command(
        after_help = "Keys:\n  ↑/↓ j/k  select        enter  follow its logs   /  filter\n  r restart   s stop   S start   K kill   h HUP   t TERM   q quit\n\nServices' text (their output, reasons) is always shown escaped here: --raw\ndoes not apply, since the screen is drawn cell by cell (`tend logs --raw`\ngives the bytes).\n\nExamples:\n  tend top\n  tend top --interval 500ms"
    )]
    Top {
        /// How often the picture is refreshed.
        #[arg(long, default_value = "1s", value_parser = duration)]
        interval: String,
    },
    /// Write a self-contained HTML page of the journal's history: restart
    /// timeline per service, exit classes, give-ups.
    #[command(
        after_help = "Examples:\n  tend report                       # tend-report.html, the last 24 h\n  tend report --since 7d -o week.html"
    )]
    Report {
        /// The page to write.
        #[arg(short = 'o', long, default_value = "tend-report.html")]
        output: PathBuf,
        /// How far back, e.g. 1h, 7d.
        #[arg(long, default_value = "24h", value_parser = duration)]
        since: String,
    },
    /// Whether the running tend is healthy (`/healthz`), or with --ready
    /// whether every service with a readiness condition is ready
    /// (`/readyz`): exit 0 if so, 1 if not. For probes: Kubernetes' exec
    /// probes, docker's HEALTHCHECK.
    #[command(
        after_help = "Examples:\n  tend health             # exit 0 while the tree runs\n  tend health --ready     # exit 0 once every service with a readiness condition is ready\n  HEALTHCHECK CMD [\"tend\", \"health\"]   # in a Containerfile"
    )]
    Health {
        /// Ask whether the services are ready, not only whether tend runs.
        #[arg(long)]
        ready: bool,
    },
    /// Turn the config into another system's: Kubernetes manifests (YAML on
    /// standard output).
    #[command(
        after_help = "Examples:\n  tend export k8s --image registry.example/app:1.4 | kubectl apply -f -\n  tend -c deploy/tend.toml export k8s --per service --image app:1.4 > app.yaml"
    )]
    Export {
        /// The format.
        #[command(subcommand)]
        format: ExportFormat,
    },
    /// Print the web dashboard's address (it needs `[api] listen`; the
    /// control socket serves it too, to clients that speak unix sockets).
    #[command(after_help = "Examples:\n  tend dashboard")]
    Dashboard,
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  tend completions bash > /etc/bash_completion.d/tend\n  tend completions zsh > \"${fpath[1]}/_tend\"\n  tend completions fish > ~/.config/fish/completions/tend.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page, or write one page per command into a directory.
    #[command(
        after_help = "Examples:\n  tend man | man -l -\n  tend man --dir /usr/local/share/man/man1"
    )]
    Man {
        /// Write tend.1, tend-up.1, … here instead.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The journal of events.
    #[command(after_help = "Examples:\n  tend journal verify")]
    Journal {
        /// What to do with it.
        #[command(subcommand)]
        command: JournalCommand,
    },
}

/// `tend export …`.
#[derive(Debug, Subcommand)]
pub enum ExportFormat {
    /// Kubernetes: one Pod per group with tend as PID 1 (--per group, the
    /// default), or one Deployment per service (a Job for one that is not
    /// always restarted) with its probes, stop timeout
    /// (terminationGracePeriodSeconds), limits and restart policy mapped.
    /// What does not map is named in a comment above its object.
    #[command(
        after_help = "Examples:\n  tend export k8s --image registry.example/app:1.4\n  tend export k8s --per service --namespace shop --image app:1.4\n  tend export k8s --image app:1.4 --workdir /srv/app   # where tend.toml sits in the image"
    )]
    K8s {
        /// One Pod per group with tend as PID 1, or one workload per service.
        #[arg(long, value_enum, default_value = "group")]
        per: crate::export::k8s::Per,
        /// The image holding tend and the services' programs (a container
        /// service runs its own image).
        #[arg(long)]
        image: Option<String>,
        /// The namespace of every object (default: none, kubectl's).
        #[arg(long)]
        namespace: Option<String>,
        /// The directory of tend.toml in the image: relative paths mean the
        /// same there.
        #[arg(long, default_value = "/etc/tend")]
        workdir: PathBuf,
        /// The application's name: a label of every object, and the pod of
        /// the services in no group (default: the config's directory name).
        #[arg(long)]
        name: Option<String>,
    },
}

/// `tend journal …`.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Check the hash chain; name the first edited, deleted or reordered row,
    /// and rows deleted at its end (against the head in `journal.head`, or
    /// one exported earlier with `--head`).
    #[command(
        after_help = "Examples:\n  tend journal verify\n  tend -c /etc/tend/tend.toml journal verify || echo 'the journal was tampered with'\n  tend journal verify --head \"$(cat /safe/place/tend.head)\""
    )]
    Verify {
        /// A head printed earlier by `tend journal head` and kept where
        /// no one who can write the state directory can: the chain must
        /// still hold that row, unchanged (catches a chain recomputed
        /// whole, which the head file beside it cannot).
        #[arg(long, value_name = "ID:HASH")]
        head: Option<tend_journal::Head>,
    },
    /// Print the chain's head (last row id and hash) to keep elsewhere for
    /// `tend journal verify --head`.
    #[command(after_help = "Examples:\n  tend journal head > /safe/place/tend.head")]
    Head,
}

fn duration(text: &str) -> Result<String, String> {
    humantime::parse_duration(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("{e} (expected a duration such as 10m, 1h, 2d)"))
}

/// How `start`, `stop`, `restart` and `kill` wait: until the effect holds
/// (started, and ready where the service has a readiness condition;
/// stopped), as `systemctl` does, or not at all.
#[derive(Debug, Clone, Copy, Args)]
pub struct Wait {
    /// Return once the command is queued, without waiting for its effect.
    #[arg(long)]
    pub no_block: bool,
    /// The longest to wait for the effect (`30s`, `2m`; default 90s). Past
    /// it tend says the state reached, exits 1, and the command goes on.
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "no_block")]
    pub timeout: Option<Duration>,
}

impl From<Wait> for ActOptions {
    fn from(wait: Wait) -> ActOptions {
        ActOptions {
            no_block: wait.no_block,
            // Whole seconds on the wire; a fraction waits the second out.
            timeout_s: wait
                .timeout
                .map(|t| t.as_secs() + u64::from(t.subsec_nanos() > 0)),
        }
    }
}

impl Target {
    /// The config file: the one named, else `tend.toml` here.
    pub fn config(&self) -> &Path {
        self.named_config
            .as_deref()
            .unwrap_or(Path::new(tend_config::DEFAULT_FILE))
    }

    /// The state directory of the instance this command is about.
    pub fn state_dir(&self) -> StateDir {
        StateDir::for_config(self.config(), self.state_dir.as_deref())
            .with_socket(self.socket.clone())
    }

    /// A client of its daemon, which refuses a daemon of another config
    /// file. Unless no config is named and the daemon is found by its
    /// state directory or socket alone (`tend --socket /run/tend/tend.sock
    /// status` from anywhere): then the daemon there is the one meant.
    pub fn client(&self) -> Client {
        let client = Client::new(self.state_dir().socket());
        let found_alone = self.state_dir.is_some() || self.socket.is_some();
        if self.named_config.is_none() && found_alone {
            client
        } else {
            client.expecting_config(self.config())
        }
    }

    /// Its journal file, opened without a daemon (after a crash, or to
    /// verify) to read only, so a damaged one stays as it was found;
    /// `missing` starts the error when there is none.
    pub fn open_journal(&self, missing: &str) -> anyhow::Result<tend_journal::Journal> {
        let file = self.state_dir().journal();
        // A link (even a dangling one) is refused below, not taken for none.
        if std::fs::symlink_metadata(&file).is_err() {
            bail!("{missing} {}", file.display());
        }
        // SQLite opens it by path: no symbolic link, no FIFO.
        self.state_dir()
            .read_root()
            .and_then(|root| root.check_journal(tend_daemon::paths::JOURNAL))?;
        tend_journal::Journal::open_read_only(&file)
            .with_context(|| format!("opening {}", file.display()))
    }
}
