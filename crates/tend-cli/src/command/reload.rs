//! `tend reload [--dry-run]`: the plan, then (unless a dry run) the
//! reload itself.

use std::process::ExitCode;

use tend_wire::{ReloadQuery, ReloadReport};

use crate::cli::Target;

/// Prints the plan, then (unless a dry run) applies it and says what
/// differed, if anything did (the file may change in between).
pub async fn reload(target: &Target, dry_run: bool) -> anyhow::Result<ExitCode> {
    let client = target.client();
    let plan = client.reload(ReloadQuery { dry_run: true }).await?;
    println!("plan for {}:", target.config().display());
    print(&plan);
    if dry_run {
        println!("dry run: nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    let applied = client.reload(ReloadQuery { dry_run: false }).await?;
    if applied == plan {
        println!("applied");
    } else {
        println!("applied (the config changed meanwhile):");
        print(&applied);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(report: &ReloadReport) {
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
