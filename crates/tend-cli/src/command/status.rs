//! `tend status`, `tend ps` and `tend health`: what the daemon's status
//! board says, read without waiting on any command.

use std::process::ExitCode;

use tend_wire::{ErrorCode, HealthStatus, ServiceStatus, ServicesQuery, State};

use crate::cli::Target;
use crate::out;
use crate::out::say;
use crate::show;
use tend_client::Client;

/// `tend status NAME…`: every instance named is running (or, for a
/// service run once, completed) — systemctl's 0.
pub const ALL_RUNNING: u8 = 0;
/// Some instance named is not running (systemctl's 3, "program is not
/// running").
pub const NOT_RUNNING: u8 = 3;
/// A name means no service, instance or group (systemctl's 4, "no such
/// unit").
pub const UNKNOWN: u8 = 4;

/// The status table (or JSON) of every instance, or of those `names`
/// resolve to. With names, the exit code says whether they all run, as
/// `systemctl status` does; without, it is 0 whatever the states.
pub async fn status(target: &Target, json: bool, names: &[String]) -> anyhow::Result<ExitCode> {
    let query = ServicesQuery {
        usage: false,
        services: names.into(),
    };
    let services = match target.client().services(&query).await {
        Ok(services) => services,
        // A name the daemon does not know, or none could be (empty, a
        // comma in it: refused before asking).
        Err(error)
            if error.code() == Some(ErrorCode::UnknownService)
                || matches!(error, tend_client::Error::Query(_)) =>
        {
            tend_process::diag!("tend: {error}");
            return Ok(ExitCode::from(UNKNOWN));
        }
        Err(error) => return Err(error.into()),
    };
    if json {
        say!("{}", serde_json::to_string_pretty(&services)?)?;
    } else {
        out::text(&show::status_table(&services))?;
    }
    let running = |s: &ServiceStatus| matches!(s.state, State::Running | State::Completed);
    Ok(ExitCode::from(
        if names.is_empty() || services.iter().all(running) {
            ALL_RUNNING
        } else {
            NOT_RUNNING
        },
    ))
}

/// The supervision tree with OS pids and resource use.
pub async fn ps(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let tree = target.client().ps().await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&tree)?)?;
    } else {
        out::text(&show::tree(&tree))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `/healthz` or (`ready`) `/readyz`: said, and the exit code a script
/// or a container's health check reads.
pub async fn health(target: &Target, ready: bool) -> anyhow::Result<ExitCode> {
    let client = target.client();
    let fine = if ready {
        let readiness = client.readiness().await?;
        if readiness.ready {
            say!(
                "ready ({} instances with a readiness condition)",
                readiness.checked
            )?;
        } else {
            let names = readiness.not_ready_names.unwrap_or_default();
            let which = not_ready(&client, &names).await;
            say!(
                "not ready: {} of {} instances with a readiness condition{which}",
                readiness.not_ready,
                readiness.checked
            )?;
        }
        readiness.ready
    } else {
        let health = client.health().await?;
        say!("{}", health.status)?;
        health.status == HealthStatus::Ok
    };
    Ok(if fine {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `: db.1 (starting), api (running, not ready)`: the instances not ready,
/// each with its state (read from the status; empty when the daemon named
/// none, as an older one does).
async fn not_ready(client: &Client, names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let query = ServicesQuery {
        usage: false,
        services: names.into(),
    };
    // Their states are a second look: one that became ready meanwhile,
    // or left in a reload, is still named, without a state.
    let statuses = client.services(&query).await.unwrap_or_default();
    let worded: Vec<String> = names
        .iter()
        .map(|name| match statuses.iter().find(|s| &s.name == name) {
            Some(s) if s.state == State::Running => format!("{name} (running, not ready)"),
            Some(s) => format!("{name} ({})", s.text().state),
            None => name.clone(),
        })
        .collect();
    format!(": {}", worded.join(", "))
}
