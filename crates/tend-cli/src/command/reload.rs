//! `tend reload [--dry-run]`: the plan, then (unless a dry run) the
//! reload itself.

use std::process::ExitCode;

use tend_wire::{ReloadQuery, ReloadReport};

use crate::cli::Target;
use crate::out::say;

/// Prints the plan, then (unless a dry run) applies it and says what
/// differed, if anything did (the file may change in between).
pub async fn reload(target: &Target, dry_run: bool) -> anyhow::Result<ExitCode> {
    let client = target.client();
    let plan = client.reload(ReloadQuery { dry_run: true }).await?;
    // A closed standard output does not stop the reload asked for.
    let said = say!("plan for {}:", target.config().display()).and_then(|()| print(&plan));
    if dry_run {
        said?;
        say!("dry run: nothing changed")?;
        return Ok(ExitCode::SUCCESS);
    }
    let applied = client.reload(ReloadQuery { dry_run: false }).await?;
    said?;
    if applied == plan {
        say!("applied")?;
    } else {
        say!("applied (the config changed meanwhile):")?;
        print(&applied)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print(report: &ReloadReport) -> anyhow::Result<()> {
    let list = |names: &[String]| {
        if names.is_empty() {
            "-".to_owned()
        } else {
            names.join(", ")
        }
    };
    say!("added:     {}", list(&report.added))?;
    say!("removed:   {}", list(&report.removed))?;
    say!("changed:   {}", list(&report.changed))?;
    say!("unchanged: {}", list(&report.unchanged))?;
    for bound in &report.restarted {
        say!(
            "restarted: {}, because it binds to {}, which changed",
            bound.service,
            bound.binds_to
        )?;
    }
    for note in &report.not_applied {
        say!("note: {note}")?;
    }
    Ok(())
}
