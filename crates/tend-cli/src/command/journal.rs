//! `tend journal verify`: the journal's hash chain, checked from the
//! file (opened read-only, left as it was), with or without a daemon;
//! `tend journal head`: its head, to keep elsewhere.

use std::process::ExitCode;

use tend_journal::{Head, JournalError, Record};

use crate::cli::Target;
use crate::out;
use crate::out::say;

/// Prints the chain's head, `ID:HASH`.
pub fn head(target: &Target) -> anyhow::Result<ExitCode> {
    let journal = target.open_journal("no journal at")?;
    say!("{}", journal.head())?;
    Ok(ExitCode::SUCCESS)
}

/// Checks every row's hash against the one before it, and the chain's
/// end against its head (`head`, or the head file).
pub fn verify(target: &Target, head: Option<Head>) -> anyhow::Result<ExitCode> {
    let verification = target.open_journal("no journal at").and_then(|journal| {
        Ok(match head {
            Some(head) => journal.verify_against(Some(head), "the head given (--head)")?,
            None => journal.verify()?,
        })
    });
    let verification = match verification {
        Ok(verification) => verification,
        Err(error) => {
            // A damaged file is an answer, not a failure to give one.
            if let Some(JournalError::Sqlite(damage)) = error
                .downcast_ref::<JournalError>()
                .filter(|e| e.is_corrupt())
            {
                say!(
                    "journal corrupt: {damage}; the next `tend up` moves it aside and begins a new journal"
                )?;
                return Ok(ExitCode::from(1));
            }
            return Err(error);
        }
    };
    let began = verification.began_after.as_ref().and_then(began_after);
    let code = match verification.first_bad {
        None if verification.unanchored.is_some() => {
            out::text(&format!(
                "journal unanchored: {} rows, hash chain intact, but {}",
                verification.rows,
                verification.unanchored.as_deref().unwrap_or_default()
            ))?;
            ExitCode::from(1)
        }
        None => {
            out::text(&format!(
                "journal ok: {} rows, hash chain intact",
                verification.rows
            ))?;
            ExitCode::SUCCESS
        }
        Some(bad) => {
            out::text(&format!(
                "journal broken at row {}: {}",
                bad.id, bad.problem
            ))?;
            ExitCode::from(1)
        }
    };
    match began {
        Some(began) => say!("; {began}")?,
        None => say!("")?,
    }
    Ok(code)
}

/// How the chain began, when a corrupt journal was moved aside before it.
fn began_after(record: &Record) -> Option<String> {
    let Record::JournalCorrupt {
        moved_to,
        error,
        last_good_row,
        last_good_hash,
    } = record
    else {
        return None;
    };
    let mut said = format!(
        "this chain began after the previous journal was found corrupt ({error}) and moved to {moved_to}"
    );
    match (last_good_row, last_good_hash) {
        (Some(row), Some(hash)) => {
            said.push_str(&format!(" (its last good row: {row}, hash {hash})"));
        }
        _ => said.push_str(" (no good row of it could be read)"),
    }
    Some(said)
}
