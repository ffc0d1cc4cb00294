//! `tend logs`: services' output, as the daemon's log files hold it.

use std::io::Write as _;
use std::process::ExitCode;

use tend_wire::LogsQuery;

use crate::cli::Target;

/// The last `lines` of each of `names` (none: every instance), then with
/// `follow` new ones as they come.
pub async fn logs(
    target: &Target,
    names: &[String],
    lines: usize,
    follow: bool,
) -> anyhow::Result<ExitCode> {
    let query = LogsQuery {
        services: names.into(),
        lines,
        follow,
    };
    let mut chunks = target.client().logs(&query).await?;
    let mut out = std::io::stdout().lock();
    while let Some(chunk) = chunks.next().await {
        out.write_all(&chunk?)?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
