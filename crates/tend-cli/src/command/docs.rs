//! `tend man` and `tend completions`: documentation generated from the
//! command line's own definition.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::out::say;

/// tend(1) on standard output, or every page into `dir`.
pub fn man(dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let command = Cli::command();
    match dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            crate::out::write(&page)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
            say!("man pages written to {}", dir.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The completion script for `shell` on standard output.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    // Rendered into memory first: clap_complete panics on a write error,
    // and a reader that stops early (`| head`) is no error of ours.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "tend", &mut script);
    crate::out::write(&script)?;
    Ok(ExitCode::SUCCESS)
}
