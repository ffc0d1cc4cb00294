//! `tend status`, `tend ps` and `tend health`: what the daemon's status
//! board says, read without waiting on any command.

use std::process::ExitCode;

use tend_wire::{HealthStatus, ServicesQuery};

use crate::cli::Target;
use crate::show;

/// The status table (or JSON) of every instance, or of those `names`
/// resolve to.
pub async fn status(target: &Target, json: bool, names: &[String]) -> anyhow::Result<ExitCode> {
    let query = ServicesQuery {
        usage: false,
        services: names.into(),
    };
    let services = target.client().services(&query).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&services)?);
    } else {
        print!("{}", show::status_table(&services));
    }
    Ok(ExitCode::SUCCESS)
}

/// The supervision tree with OS pids and resource use.
pub async fn ps(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let tree = target.client().ps().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&tree)?);
    } else {
        print!("{}", show::tree(&tree));
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
            println!(
                "ready ({} instances with a readiness condition)",
                readiness.checked
            );
        } else {
            println!(
                "not ready: {} of {} instances with a readiness condition",
                readiness.not_ready, readiness.checked
            );
        }
        readiness.ready
    } else {
        let health = client.health().await?;
        println!("{}", health.status);
        health.status == HealthStatus::Ok
    };
    Ok(if fine {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
