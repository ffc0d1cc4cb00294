//! `tend start|stop|restart|kill` and `tend signal`: one request per name
//! given, each resolved by the daemon (a service, an instance, a group).
//! Every name is resolved before anything is done: a typo among them
//! changes nothing.

use std::process::ExitCode;

use tend_client::Client;
use tend_wire::{ActOptions, Acted, Action, ErrorCode, ServicesQuery};

use crate::cli::{Target, Wait};
use crate::out::say;

/// Asks for `action` on each of `names`; by default each answer comes
/// once the effect holds (see [`Wait`]).
pub async fn act(
    target: &Target,
    action: Action,
    names: &[String],
    wait: Wait,
) -> anyhow::Result<ExitCode> {
    let client = target.client();
    if let Some(refused) = unknown(&client, &action.to_string(), names).await {
        return Ok(refused);
    }
    let options = ActOptions::from(wait);
    let mut failed = false;
    // A closed standard output stops no action: the names were all
    // asked for, so all are acted on; it is said once they were.
    let mut said = Ok(());
    for name in names {
        let line = match client.act(name, action, options).await {
            Ok(acted) if options.no_block => {
                format!("{action} queued: {}", acted.services.join(", "))
            }
            Ok(acted) => format!(
                "{action}: {}{}",
                acted.services.join(", "),
                also(action, &acted)
            ),
            Err(error) => {
                if error.code() == Some(ErrorCode::Timeout) {
                    // Its message names the command, the state reached,
                    // and that the command goes on.
                    tend_process::diag!("tend: {error}");
                } else {
                    tend_process::diag!("tend: {action} {name}: {error}");
                }
                failed = true;
                continue;
            }
        };
        if said.is_ok() {
            said = say!("{line}");
        }
    }
    said?;
    Ok(outcome(failed))
}

/// Sends `signal` to each of `names`' running incarnations.
pub async fn signal(target: &Target, signal: &str, names: &[String]) -> anyhow::Result<ExitCode> {
    let client = target.client();
    if let Some(refused) = unknown(&client, &format!("signal {signal}"), names).await {
        return Ok(refused);
    }
    let mut failed = false;
    let mut said = Ok(());
    for name in names {
        match client.signal(name, signal).await {
            Ok(acted) => {
                if said.is_ok() {
                    said = say!("{signal} sent to {}", acted.services.join(", "));
                }
            }
            Err(error) => {
                tend_process::diag!("tend: signal {name}: {error}");
                failed = true;
            }
        }
    }
    said?;
    Ok(outcome(failed))
}

/// Resolves every name first (`GET /v1/services?services=…`, which acts
/// on nothing): `None` when all mean something, else the exit of a
/// command refused whole, its reason said.
async fn unknown(client: &Client, what: &str, names: &[String]) -> Option<ExitCode> {
    let query = ServicesQuery {
        usage: false,
        services: names.into(),
    };
    match client.services(&query).await {
        Ok(_) => None,
        Err(error) => {
            let nothing = if error.code() == Some(ErrorCode::UnknownService)
                || matches!(error, tend_client::Error::Query(_))
            {
                "; nothing was done"
            } else {
                ""
            };
            tend_process::diag!("tend: {what}: {error}{nothing}");
            Some(ExitCode::from(1))
        }
    }
}

/// `; also restarted: app (binds to db)`, for what a binding reached.
fn also(action: Action, acted: &Acted) -> String {
    if acted.also.is_empty() {
        return String::new();
    }
    let done = match action {
        Action::Start => "started",
        Action::Stop => "stopped",
        _ => "restarted",
    };
    let reached: Vec<String> = acted
        .also
        .iter()
        .map(|b| format!("{} (binds to {})", b.service, b.binds_to))
        .collect();
    format!("; also {done}: {}", reached.join(", "))
}

fn outcome(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
