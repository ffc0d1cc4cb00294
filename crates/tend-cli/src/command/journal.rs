//! `tend journal verify`: the journal's hash chain, checked from the
//! file, with or without a daemon.

use std::process::ExitCode;

use crate::cli::Target;

/// Checks every row's hash against the one before it.
pub fn verify(target: &Target) -> anyhow::Result<ExitCode> {
    let journal = target.open_journal("no journal at")?;
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
