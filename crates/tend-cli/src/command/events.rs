//! `tend events`: the journal, from the daemon (which can follow it live)
//! or, when none runs, from the file.

use std::process::ExitCode;

use anyhow::Context as _;
use tend_wire::{Entry, EventsQuery};

use crate::cli::Target;
use crate::out::say;
use crate::show;

/// What `tend events` was asked.
#[derive(Debug)]
pub struct Asked<'a> {
    /// Keep printing new entries.
    pub follow: bool,
    /// How far back (a duration).
    pub since: Option<String>,
    /// JSON lines instead of text.
    pub json: bool,
    /// Only about these.
    pub services: &'a [String],
}

/// Prints the entries asked for.
pub async fn events(target: &Target, asked: Asked<'_>) -> anyhow::Result<ExitCode> {
    let limit = match (&asked.since, asked.follow) {
        (Some(_), _) => None,
        (None, false) => Some(100),
        (None, true) => Some(10),
    };
    let client = target.client();
    if !asked.follow && !client.is_up().await {
        // History needs no daemon: after a crash (or `kill -9`) it is
        // exactly what an operator wants to read.
        return from_file(target, &asked, limit);
    }
    let query = EventsQuery {
        since: asked.since.clone(),
        services: asked.services.into(),
        limit,
        follow: asked.follow,
        ..EventsQuery::default()
    };
    let mut entries = client.events(&query).await?;
    while let Some(entry) = entries.next().await {
        print(&entry?, asked.json)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tend events` while no daemon runs: straight from the journal file.
fn from_file(target: &Target, asked: &Asked<'_>, limit: Option<usize>) -> anyhow::Result<ExitCode> {
    let journal = target.open_journal("tend is not running and there is no journal at")?;
    let since = asked
        .since
        .as_deref()
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
        services: asked.services.to_vec(),
        limit,
    })?;
    for entry in &entries {
        print(entry, asked.json)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One entry, as a JSON line or as the line people read.
fn print(entry: &Entry, json: bool) -> anyhow::Result<()> {
    if json {
        say!("{}", serde_json::to_string(entry)?)
    } else {
        say!("{}", show::event_line(entry))
    }
}
