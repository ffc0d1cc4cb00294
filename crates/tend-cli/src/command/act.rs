//! `tend start|stop|restart|kill` and `tend signal`: one request per name
//! given, each resolved by the daemon (a service, an instance, a group).

use std::process::ExitCode;

use tend_wire::{ActOptions, Acted, Action, ErrorCode};

use crate::cli::{Target, Wait};

/// Asks for `action` on each of `names`; by default each answer comes
/// once the effect holds (see [`Wait`]).
pub async fn act(target: &Target, action: Action, names: &[String], wait: Wait) -> ExitCode {
    let client = target.client();
    let options = ActOptions::from(wait);
    let mut failed = false;
    for name in names {
        match client.act(name, action, options).await {
            Ok(acted) if options.no_block => {
                println!("{action} queued: {}", acted.services.join(", "));
            }
            Ok(acted) => println!(
                "{action}: {}{}",
                acted.services.join(", "),
                also(action, &acted)
            ),
            Err(error) => {
                if error.code() == Some(ErrorCode::Timeout) {
                    // Its message names the command, the state reached,
                    // and that the command goes on.
                    eprintln!("tend: {error}");
                } else {
                    eprintln!("tend: {action} {name}: {error}");
                }
                failed = true;
            }
        }
    }
    outcome(failed)
}

/// Sends `signal` to each of `names`' running incarnations.
pub async fn signal(target: &Target, signal: &str, names: &[String]) -> ExitCode {
    let client = target.client();
    let mut failed = false;
    for name in names {
        match client.signal(name, signal).await {
            Ok(acted) => println!("{signal} sent to {}", acted.services.join(", ")),
            Err(error) => {
                eprintln!("tend: signal {name}: {error}");
                failed = true;
            }
        }
    }
    outcome(failed)
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
