//! `tend`: run a `tend.toml` and control it.
//!
//! `tend up` is the daemon (in the foreground, or detached with `-d`);
//! every other command but `check`, `schema` and `journal verify` is a thin
//! client of its API on the control socket.

mod cli;
mod client;
mod export;
mod report;
mod show;
mod top;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use cli::{Cli, Command, ExportFormat, JournalCommand, Target};
use client::Client;
use tend_daemon::logs::Echo;
use tend_daemon::paths::StateDir;
use tend_daemon::progress::Follow;
use tend_wire::{Acted, DaemonInfo, Entry, ReloadReport, ServiceStatus, TreeNode, UpgradePlan};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TEND_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tend: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("tend: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn state_dir(target: &Target) -> StateDir {
    StateDir::for_config(&target.config, target.state_dir.as_deref())
        .with_socket(target.socket.clone())
}

fn client(target: &Target) -> Client {
    Client::new(state_dir(target).socket())
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let target = cli.target;
    match cli.command {
        Command::Up { detach: true, .. } => up_detached(&target).await,
        Command::Up { detached_child, .. } => up(&target, detached_child).await,
        Command::Check => check(&target),
        Command::Schema => {
            println!("{:#}", tend_config::schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { json, services } => status(&target, json, &services).await,
        Command::Ps { json } => {
            let tree: TreeNode = client(&target).get("/v1/ps").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tree)?);
            } else {
                print!("{}", show::tree(&tree));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Start { services } => act(&target, "start", &services).await,
        Command::Stop { services } => act(&target, "stop", &services).await,
        Command::Restart { services } => act(&target, "restart", &services).await,
        Command::Kill { services } => act(&target, "kill", &services).await,
        Command::Signal { signal, services } => {
            let client = client(&target);
            for name in &services {
                let acted: Acted = client
                    .post(
                        &format!("/v1/services/{name}/signal"),
                        Some(serde_json::json!({ "signal": signal })),
                    )
                    .await?;
                println!("{signal} sent to {}", acted.services.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Logs {
            follow,
            lines,
            services,
        } => {
            let path = format!(
                "/v1/logs?services={}&lines={lines}&follow={follow}",
                services.join(",")
            );
            let mut out = std::io::stdout().lock();
            client(&target)
                .stream(&path, |chunk| {
                    out.write_all(chunk)?;
                    out.flush()?;
                    Ok(())
                })
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Events {
            follow,
            since,
            json,
            services,
        } => events(&target, follow, since, json, &services).await,
        Command::Reload { dry_run } => reload(&target, dry_run).await,
        Command::Top { interval } => {
            let every = humantime::parse_duration(&interval).context("reading --interval")?;
            top::run(client(&target), every).await
        }
        Command::Report { output, since } => report::write(&target, &output, &since),
        Command::Dashboard => dashboard(&target),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "tend",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => man(dir.as_deref()),
        Command::Health { ready } => health(&target, ready).await,
        Command::Export {
            format:
                ExportFormat::K8s {
                    per,
                    image,
                    namespace,
                    workdir,
                    name,
                },
        } => export_k8s(
            &target,
            export::k8s::Options {
                per,
                image,
                namespace,
                workdir,
                name: name.unwrap_or_default(),
            },
        ),
        Command::Down => down(&target).await,
        Command::Upgrade { binary } => upgrade(&target, binary.as_deref()).await,
        Command::Journal {
            command: JournalCommand::Verify,
        } => verify(&target),
    }
}

/// `tend health [--ready]`: `/healthz` or `/readyz` on the control socket.
async fn health(target: &Target, ready: bool) -> anyhow::Result<ExitCode> {
    let path = if ready { "/readyz" } else { "/healthz" };
    let (status, body) = client(target).probe(path).await?;
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if ready {
        let checked = answer["checked"].as_u64().unwrap_or(0);
        let not_ready = answer["not_ready"].as_u64().unwrap_or(0);
        if status == 200 {
            println!("ready ({checked} instances with a readiness condition)");
        } else {
            println!("not ready: {not_ready} of {checked} instances with a readiness condition");
        }
    } else {
        println!("{}", answer["status"].as_str().unwrap_or("unknown"));
    }
    Ok(if status == 200 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `tend export k8s`: the config as Kubernetes manifests on stdout. The
/// file only is read: no runtime is asked about, nothing started.
fn export_k8s(target: &Target, mut options: export::k8s::Options) -> anyhow::Result<ExitCode> {
    let (config, text) = match tend_config::load_with_text(&target.config) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{error}");
            return Ok(ExitCode::from(1));
        }
    };
    if options.name.is_empty() {
        options.name = config
            .file
            .parent()
            .and_then(Path::file_name)
            .map_or_else(|| "tend".to_owned(), |n| n.to_string_lossy().into_owned());
    }
    options.name = export::k8s::dns_name(&options.name)?;
    let documents = export::k8s::export(&config, &text, &options)?;
    let yaml = export::yaml(
        &documents,
        &target.config.display().to_string(),
        options.per.notes(),
    )?;
    std::io::stdout()
        .write_all(yaml.as_bytes())
        .context("writing the manifests")?;
    Ok(ExitCode::SUCCESS)
}

fn check(target: &Target) -> anyhow::Result<ExitCode> {
    match tend_config::load_here(&target.config, tend_process::find_runtime) {
        Ok(config) => {
            let instances: usize = config.services.iter().map(|s| s.replicas as usize).sum();
            println!(
                "{}: ok ({} services, {} instances, {} groups)",
                target.config.display(),
                config.services.len(),
                instances,
                config.groups.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("{error}");
            if let tend_config::ConfigError::Invalid(list) = &error {
                eprintln!(
                    "{} problem{} found; nothing was started",
                    list.len(),
                    if list.len() == 1 { "" } else { "s" }
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}

async fn up(target: &Target, detached: bool) -> anyhow::Result<ExitCode> {
    let echo = if detached {
        Echo::Off
    } else if std::io::stdout().is_terminal() {
        Echo::Coloured
    } else {
        Echo::Plain
    };
    let options = tend_daemon::Options {
        config: target.config.clone(),
        state_dir: target.state_dir.clone(),
        socket: target.socket.clone(),
        echo,
    };
    match tend_daemon::run(options).await {
        Ok(ended) if ended.gave_up() => {
            eprintln!("tend: the services gave up: {}", ended.exit);
            Ok(ExitCode::from(1))
        }
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(tend_daemon::DaemonError::Config(error)) => {
            eprintln!("{error}");
            eprintln!("nothing was started");
            Ok(ExitCode::from(1))
        }
        Err(error) => Err(error.into()),
    }
}

/// Starts the daemon in the background and returns once its socket answers.
async fn up_detached(target: &Target) -> anyhow::Result<ExitCode> {
    let options = tend_daemon::Options {
        config: target.config.clone(),
        state_dir: target.state_dir.clone(),
        socket: target.socket.clone(),
        echo: Echo::Off,
    };
    // Wrong configs and a daemon already running are said here, not in a
    // log file.
    let (_, dir) = match tend_daemon::prepare(&options) {
        Ok(found) => found,
        Err(tend_daemon::DaemonError::Config(error)) => {
            eprintln!("{error}");
            eprintln!("nothing was started");
            return Ok(ExitCode::from(1));
        }
        Err(error) => return Err(error.into()),
    };
    dir.create()
        .with_context(|| format!("creating {}", dir.root().display()))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.daemon_log())
        .with_context(|| format!("opening {}", dir.daemon_log().display()))?;
    let exe = std::env::current_exe().context("finding the tend binary")?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("--config")
        .arg(absolute(&target.config)?)
        .arg("--state-dir")
        .arg(absolute(dir.root())?);
    if let Some(socket) = &target.socket {
        command.arg("--socket").arg(absolute(socket)?);
    }
    command
        .args(["up", "--detached-child"])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // Its own process group: a Ctrl-C in this terminal is not for it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().context("starting the daemon")?;
    let client = Client::new(dir.socket());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if client.is_up().await {
            println!(
                "tend: running in the background (pid {}); its log: {}",
                child.id(),
                dir.daemon_log().display()
            );
            follow_start(&client).await;
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(status) = child.try_wait()? {
            let tail = tend_daemon::logs::tail(&dir.daemon_log(), 20).unwrap_or_default();
            eprint!("{}", String::from_utf8_lossy(&tail));
            bail!("the daemon exited at start ({status})");
        }
        if Instant::now() > deadline {
            bail!(
                "the daemon did not answer within 60 s; see {}",
                dir.daemon_log().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How long `tend up -d` shows start-up progress before it leaves the
/// rest to `tend status`.
const FOLLOW_START: Duration = Duration::from_secs(120);

/// Prints start-up progress (who is up, who waits on which dependency)
/// whenever it changes, until everything started.
async fn follow_start(client: &Client) {
    let started = Instant::now();
    let mut follow = Follow::new(true);
    loop {
        let Ok(status) = client.get::<Vec<ServiceStatus>>("/v1/services").await else {
            return;
        };
        let (line, over) = follow.look(&status);
        if let Some(line) = line {
            println!("tend: {line}");
        }
        if over {
            return;
        }
        if started.elapsed() > FOLLOW_START {
            println!("tend: still starting; `tend status` shows where it stands");
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn absolute(path: &Path) -> anyhow::Result<std::path::PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

async fn status(target: &Target, json: bool, names: &[String]) -> anyhow::Result<ExitCode> {
    let mut services: Vec<ServiceStatus> = client(target).get("/v1/services").await?;
    if !names.is_empty() {
        let unknown: Vec<&String> = names
            .iter()
            .filter(|n| {
                !services
                    .iter()
                    .any(|s| &s.name == *n || &s.service == *n || s.group.as_ref() == Some(*n))
            })
            .collect();
        if let Some(name) = unknown.first() {
            bail!("no service called {name:?}");
        }
        services.retain(|s| {
            names
                .iter()
                .any(|n| &s.name == n || &s.service == n || s.group.as_ref() == Some(n))
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&services)?);
    } else {
        print!("{}", show::status_table(&services));
    }
    Ok(ExitCode::SUCCESS)
}

async fn act(target: &Target, action: &str, names: &[String]) -> anyhow::Result<ExitCode> {
    let client = client(target);
    let mut failed = false;
    for name in names {
        match client
            .post::<Acted>(&format!("/v1/services/{name}/{action}"), None)
            .await
        {
            Ok(acted) => println!("{action}: {}", acted.services.join(", ")),
            Err(error) => {
                eprintln!("tend: {name}: {error:#}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn events(
    target: &Target,
    follow: bool,
    since: Option<String>,
    json: bool,
    services: &[String],
) -> anyhow::Result<ExitCode> {
    let limit = match (&since, follow) {
        (Some(_), _) => None,
        (None, false) => Some(100),
        (None, true) => Some(10),
    };
    let client = client(target);
    if !follow && !client.is_up().await {
        // History needs no daemon: after a crash (or `kill -9`) it is
        // exactly what an operator wants to read.
        return events_from_file(target, since.as_deref(), limit, json, services);
    }
    let mut path = format!("/v1/events?follow={follow}&services={}", services.join(","));
    if let Some(since) = since {
        path.push_str("&since=");
        path.push_str(&since.replace(' ', "%20"));
    }
    if let Some(limit) = limit {
        path.push_str(&format!("&limit={limit}"));
    }
    let mut out = std::io::stdout().lock();
    let mut partial: Vec<u8> = Vec::new();
    client
        .stream(&path, |chunk| {
            partial.extend_from_slice(chunk);
            while let Some(end) = partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = partial.drain(..=end).collect();
                if json {
                    out.write_all(&line)?;
                } else {
                    let entry: Entry = serde_json::from_slice(&line).context("reading an event")?;
                    writeln!(out, "{}", show::event_line(&entry))?;
                }
                out.flush()?;
            }
            Ok(())
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// `tend events` while no daemon runs: straight from the journal file.
fn events_from_file(
    target: &Target,
    since: Option<&str>,
    limit: Option<usize>,
    json: bool,
    services: &[String],
) -> anyhow::Result<ExitCode> {
    let journal = open_journal(target, "tend is not running and there is no journal at")?;
    let since = since
        .map(humantime::parse_duration)
        .transpose()
        .context("reading --since")?
        .map(|ago| {
            std::time::SystemTime::now()
                .checked_sub(ago)
                .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
        });
    let entries = journal.read(&tend_journal::Query {
        since,
        after_id: None,
        services: services.to_vec(),
        limit,
    })?;
    let mut out = std::io::stdout().lock();
    for entry in &entries {
        if json {
            writeln!(out, "{}", serde_json::to_string(entry)?)?;
        } else {
            writeln!(out, "{}", show::event_line(entry))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the plan, then (unless a dry run) applies it and says what
/// differed, if anything did (the file may change in between).
async fn reload(target: &Target, dry_run: bool) -> anyhow::Result<ExitCode> {
    let client = client(target);
    let plan: ReloadReport = client.post("/v1/reload?dry_run=true", None).await?;
    println!("plan for {}:", target.config.display());
    print_reload(&plan);
    if dry_run {
        println!("dry run: nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    let applied: ReloadReport = client.post("/v1/reload", None).await?;
    if applied == plan {
        println!("applied");
    } else {
        println!("applied (the config changed meanwhile):");
        print_reload(&applied);
    }
    Ok(ExitCode::SUCCESS)
}

/// The dashboard's address: on the TCP listener, with the token in the
/// fragment (which a browser does not send, and keeps to the page).
fn dashboard(target: &Target) -> anyhow::Result<ExitCode> {
    let config = tend_config::load(&target.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    match config.api.listen {
        Some(addr) => {
            let fragment = config
                .api
                .token
                .as_ref()
                .map(|t| format!("#token={t}"))
                .unwrap_or_default();
            println!("http://{addr}/{fragment}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "tend: the dashboard is served on the control socket ({}) and on a TCP\n\
                 listener; a browser needs the latter: add to {}\n\n  \
                 [api]\n  listen = \"127.0.0.1:7654\"\n  token = \"…\"\n\n\
                 then restart tend (`tend reload` does not apply [api] settings).",
                state_dir(target).socket().display(),
                target.config.display()
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// `tend man`: tend(1) on standard output, or every page into `dir`.
fn man(dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let command = <Cli as clap::CommandFactory>::command();
    match dir {
        None => {
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
            println!("man pages written to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_reload(report: &ReloadReport) {
    let list = |names: &[String]| {
        if names.is_empty() {
            "-".to_owned()
        } else {
            names.join(", ")
        }
    };
    println!("added:     {}", list(&report.added));
    println!("removed:   {}", list(&report.removed));
    println!("changed:   {}", list(&report.changed));
    println!("unchanged: {}", list(&report.unchanged));
    for note in &report.not_applied {
        println!("note: {note}");
    }
}

/// Asks the daemon to stop and waits until it is gone.
async fn down(target: &Target) -> anyhow::Result<ExitCode> {
    let client = client(target);
    let _: serde_json::Value = client.post("/v1/shutdown", None).await?;
    let started = Instant::now();
    // The daemon removes its socket last, once every service is down.
    while client.socket().exists() && client.is_up().await {
        if started.elapsed() > Duration::from_secs(600) {
            bail!("tend is still shutting down after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("tend: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Asks the daemon to become `binary` (default: this program) and waits
/// until the new image answers.
async fn upgrade(target: &Target, binary: Option<&Path>) -> anyhow::Result<ExitCode> {
    let binary = match binary {
        Some(binary) => absolute(binary)?,
        None => std::env::current_exe().context("finding the tend binary")?,
    };
    let client = client(target);
    let plan: UpgradePlan = client
        .post(
            "/v1/upgrade",
            Some(serde_json::json!({ "binary": binary.display().to_string() })),
        )
        .await?;
    println!("tend: handing over to {} ({})", plan.version, plan.binary);
    let started = Instant::now();
    loop {
        // Connections made during the exec wait in the socket's backlog;
        // an error means the old image was mid-answer: ask again.
        if let Ok(info) = client.get::<DaemonInfo>("/v1/daemon").await {
            if info.upgrades >= plan.upgrades {
                let status: Vec<ServiceStatus> = client.get("/v1/services").await?;
                let running = status.iter().filter(|s| s.pid.is_some()).count();
                println!(
                    "tend: upgraded to {} (pid {} kept, {running} processes running)",
                    info.version, info.pid
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!(
                "the upgraded daemon did not answer within 2 minutes; see {}",
                state_dir(target).daemon_log().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The journal file of `target`'s state directory, opened without a
/// daemon (after a crash, or to verify); `missing` starts the error when
/// there is none.
fn open_journal(target: &Target, missing: &str) -> anyhow::Result<tend_journal::Journal> {
    let file = state_dir(target).journal();
    if !file.exists() {
        bail!("{missing} {}", file.display());
    }
    tend_journal::Journal::open(&file).with_context(|| format!("opening {}", file.display()))
}

fn verify(target: &Target) -> anyhow::Result<ExitCode> {
    let journal = open_journal(target, "no journal at")?;
    let verification = journal.verify()?;
    match verification.first_bad {
        None => {
            println!("journal ok: {} rows, hash chain intact", verification.rows);
            Ok(ExitCode::SUCCESS)
        }
        Some(bad) => {
            println!("journal broken at row {}: {}", bad.id, bad.problem);
            Ok(ExitCode::from(1))
        }
    }
}
