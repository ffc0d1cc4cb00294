//! `tend`: run a `tend.toml` and control it.
//!
//! `tend up` is the daemon (in the foreground, or detached with `-d`);
//! every other command but `check`, `schema`, `export`, `man`,
//! `completions` and `journal verify` is a client of its API on the
//! control socket (`tend_client`). This file only dispatches: each
//! command's body is in [`command`] (or [`top`] for the live view).

mod cli;
mod command;
mod export;
mod out;
mod show;
mod top;

use std::process::ExitCode;

use anyhow::Context as _;
use cli::{Cli, Command, ExportFormat, JournalCommand};
use command::{act, config, daemon, docs, events, journal, logs, reload, report, status, up};
use tend_wire::Action;

fn main() -> ExitCode {
    let cli = Cli::parse_checked();
    out::escape_on_terminal(cli.raw);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TEND_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        // Its own thread: a full or stalled standard error (the daemon's
        // `.tend/tend.log` under `up -d`) neither panics nor blocks.
        .with_writer(|| tend_process::diag::Writer)
        .log_internal_errors(false)
        .init();
    // The keeper is one thread with no runtime (see `tend_keeper`).
    if let Command::Up { keeper: true, .. } = cli.command {
        return up::keeper();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            tend_process::diag!("tend: cannot start: {e}");
            tend_process::flush_logs(std::time::Duration::from_secs(5));
            tend_process::diag::flush(std::time::Duration::from_secs(5));
            return ExitCode::from(1);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        // A reader that stopped reading (`| head -1`) is no failure.
        Err(error) if out::is_closed(&error) => ExitCode::SUCCESS,
        Err(error) => {
            tend_process::diag!("tend: {}", said_once(&error));
            ExitCode::from(1)
        }
    };
    // The services' last lines, in their logs and in the foreground copy
    // on standard output, and what was said on standard error, are
    // written before the exit (bounded: a reader that stopped reading
    // holds it 5 s at most).
    tend_process::flush_logs(std::time::Duration::from_secs(5));
    tend_process::diag::flush(std::time::Duration::from_secs(5));
    code
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let target = &cli.target;
    match cli.command {
        Command::Up { detach: true, .. } => up::detached(target).await,
        Command::Up { detached_child, .. } => up::foreground(target, detached_child, cli.raw).await,
        Command::Check => config::check(target),
        Command::Schema => config::schema(),
        Command::Status { json, services } => status::status(target, json, &services).await,
        Command::Ps { json } => status::ps(target, json).await,
        Command::Health { ready } => status::health(target, ready).await,
        Command::Start { services, wait } => act::act(target, Action::Start, &services, wait).await,
        Command::Stop { services, wait } => act::act(target, Action::Stop, &services, wait).await,
        Command::Restart { services, wait } => {
            act::act(target, Action::Restart, &services, wait).await
        }
        Command::Kill { services, wait } => act::act(target, Action::Kill, &services, wait).await,
        Command::Signal { signal, services } => act::signal(target, &signal, &services).await,
        Command::Logs {
            follow,
            lines,
            services,
        } => logs::logs(target, &services, lines, follow).await,
        Command::Events {
            follow,
            since,
            json,
            services,
        } => {
            let asked = events::Asked {
                follow,
                since,
                json,
                services: &services,
            };
            events::events(target, asked).await
        }
        Command::Reload { dry_run } => reload::reload(target, dry_run).await,
        Command::Top { interval } => {
            let every = humantime::parse_duration(&interval).context("reading --interval")?;
            top::run(target.client(), every).await
        }
        Command::Report { output, since } => report::write(target, &output, &since),
        Command::Dashboard => config::dashboard(target),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { dir } => docs::man(dir.as_deref()),
        Command::Export {
            format:
                ExportFormat::K8s {
                    per,
                    image,
                    namespace,
                    workdir,
                    name,
                },
        } => config::export_k8s(
            target,
            export::k8s::Options {
                per,
                image,
                namespace,
                workdir,
                name: name.unwrap_or_default(),
            },
        ),
        Command::Down => daemon::down(target).await,
        Command::Upgrade { binary } => daemon::upgrade(target, binary.as_deref()).await,
        Command::Journal {
            command: JournalCommand::Verify { head },
        } => journal::verify(target, head),
        Command::Journal {
            command: JournalCommand::Head,
        } => journal::head(target),
    }
}

/// An error and its causes, `a: b: c`, each said once: many errors write
/// their cause into their own message and also give it as their source,
/// which anyhow's `{:#}` would print twice (`… (os error 30): … (os error
/// 30)`).
fn said_once(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::said_once;

    /// An error that says its source in its message, and gives it.
    #[derive(Debug)]
    struct Repeats {
        source: std::io::Error,
    }

    impl std::fmt::Display for Repeats {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "no answer on tend.sock: {}", self.source)
        }
    }

    impl std::error::Error for Repeats {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_said_again() {
        let os = || std::io::Error::from_raw_os_error(30);
        let repeated = anyhow::Error::new(Repeats { source: os() }).context("starting");
        assert_eq!(
            said_once(&repeated),
            format!("starting: no answer on tend.sock: {}", os())
        );
        // A cause that adds something is kept.
        let plain = anyhow::Error::new(os()).context("creating .tend");
        assert_eq!(said_once(&plain), format!("creating .tend: {}", os()));
    }
}
