//! `tend logs`: services' output, as the daemon's log files hold it; from
//! the files themselves when no daemon runs.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use tend_wire::LogsQuery;

use crate::cli::Target;
use crate::out;

/// The last `lines` of each of `names` (none: every instance), then with
/// `follow` new ones as they come.
pub async fn logs(
    target: &Target,
    names: &[String],
    lines: usize,
    follow: bool,
) -> anyhow::Result<ExitCode> {
    let client = target.client();
    if !follow && !client.is_up().await {
        // What a service said before the daemon ended (or was killed) is
        // what an operator wants to read then.
        return from_files(target, names, lines);
    }
    let query = LogsQuery {
        services: names.into(),
        lines,
        follow,
    };
    let mut chunks = client.logs(&query).await?;
    // Whole lines only, so that a character split between two chunks is
    // not taken for bytes that are not UTF-8 when it is escaped.
    let mut pending = Vec::new();
    while let Some(chunk) = chunks.next().await {
        pending.extend_from_slice(&chunk?);
        if let Some(end) = pending.iter().rposition(|&b| b == b'\n') {
            out::write(&pending[..=end])?;
            pending.drain(..=end);
        }
    }
    if !pending.is_empty() {
        out::write(&pending)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tend logs` while no daemon runs: the names resolved against the config
/// file as the daemon would (a service, an instance `web.1`, a group), and
/// each instance's last lines read from its log file, prefixed as the
/// daemon prefixes them.
fn from_files(target: &Target, names: &[String], lines: usize) -> anyhow::Result<ExitCode> {
    let config = tend_config::load(target.config()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let layout = tend_daemon::Layout::of(&config);
    let instances = layout.find(names)?;
    let dir = target.state_dir();
    if std::fs::symlink_metadata(dir.logs()).is_err() {
        bail!(
            "tend is not running and there are no logs in {}",
            dir.logs().display()
        );
    }
    // Read through no symbolic link, regular files only.
    let logs = dir.read_logs()?;
    let prefix = instances.len() > 1;
    let width = instances.iter().map(|i| i.name.len()).max().unwrap_or(0);
    for instance in instances {
        let file = dir.log_file(&instance.name);
        let tail =
            tend_daemon::logs::tail(&logs, &tend_daemon::paths::log_name(&instance.name), lines)
                .with_context(|| format!("reading {}", file.display()))?;
        out::write(&tend_daemon::logs::prefixed(
            &instance.name,
            width,
            prefix,
            &tail,
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
