//! `tend down` and `tend upgrade`: the daemon's own life.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tend_process::identity::ProcessIdentity;
use tend_wire::{ServicesQuery, UpgradeRequest};

use crate::cli::Target;
use crate::command::up::absolute;
use crate::out::say;

/// Asks the daemon to stop and waits until it is gone: its socket
/// removed (once every service is down), its process and its keeper's
/// ended, so its lock is free and a `tend up` right after starts a new one.
pub async fn down(target: &Target) -> anyhow::Result<ExitCode> {
    let client = target.client();
    // Identified before it is asked to stop: pid and start time, so a pid
    // reused after it ends is not waited for.
    let daemon = client.server_pid().await.and_then(ProcessIdentity::of);
    // And its keeper (`up -d`), which ends once the daemon has: it lets
    // the lock go first, so a free lock alone does not say it is gone.
    let keeper = client
        .daemon()
        .await
        .ok()
        .and_then(|info| info.keeper)
        .and_then(ProcessIdentity::of);
    client.shutdown().await?;
    let started = Instant::now();
    // Until the lock is free too: a daemon killed while it stopped is
    // started again by its keeper, to finish the stop.
    let dir = target.state_dir();
    let running = || async {
        daemon.as_ref().is_some_and(ProcessIdentity::is_running)
            || keeper.as_ref().is_some_and(ProcessIdentity::is_running)
            || (client.socket().exists() && client.is_up().await)
            || tend_daemon::lock::is_held(&dir)
    };
    while running().await {
        if started.elapsed() > Duration::from_secs(600) {
            bail!("tend is still shutting down after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    say!("tend: stopped")?;
    Ok(ExitCode::SUCCESS)
}

/// Asks the daemon to become `binary` (default: this program) and waits
/// until the new image answers.
pub async fn upgrade(target: &Target, binary: Option<&Path>) -> anyhow::Result<ExitCode> {
    let binary = match binary {
        Some(binary) => absolute(binary)?,
        None => std::env::current_exe().context("finding the tend binary")?,
    };
    let client = target.client();
    let plan = client
        .upgrade(&UpgradeRequest {
            binary: Some(binary.display().to_string()),
        })
        .await?;
    say!("tend: handing over to {} ({})", plan.version, plan.binary)?;
    let started = Instant::now();
    loop {
        // Connections made during the exec wait in the socket's backlog;
        // an error means the old image was mid-answer: ask again.
        if let Ok(info) = client.daemon().await {
            if info.upgrades >= plan.upgrades {
                let status = client.services(&ServicesQuery::default()).await?;
                let running = status.iter().filter(|s| s.pid.is_some()).count();
                say!(
                    "tend: upgraded to {} (pid {} kept, {running} processes running)",
                    info.version,
                    info.pid
                )?;
                return Ok(ExitCode::SUCCESS);
            }
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!(
                "the upgraded daemon did not answer within 2 minutes; see {}",
                target.state_dir().daemon_log().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
