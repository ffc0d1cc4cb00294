//! What reads the config file alone, with no daemon: `tend check`,
//! `tend schema`, `tend export k8s` and `tend dashboard`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::Target;
use crate::export;
use crate::out::say;

/// Every problem of the config, or a summary of what it runs.
pub fn check(target: &Target) -> anyhow::Result<ExitCode> {
    match tend_config::load_here(target.config(), tend_process::find_runtime) {
        Ok(config) => {
            let instances: usize = config.services.iter().map(|s| s.replicas as usize).sum();
            say!(
                "{}: ok ({}, {}, {})",
                target.config().display(),
                counted(config.services.len(), "service"),
                counted(instances, "instance"),
                counted(config.groups.len(), "group"),
            )?;
            if let Some(shortfall) = tend_daemon::descriptor_shortfall(&config) {
                tend_process::diag!("tend: warning: {shortfall}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            tend_process::diag!("{error}");
            if let tend_config::ConfigError::Invalid(list) = &error {
                let problems = match list.len() {
                    1 => "1 problem found".to_owned(),
                    n => format!("{n} problems found"),
                };
                tend_process::diag!("{problems}; nothing was started");
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// `3 services`, `1 service`.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The config file's JSON Schema.
pub fn schema() -> anyhow::Result<ExitCode> {
    say!("{:#}", tend_config::schema())?;
    Ok(ExitCode::SUCCESS)
}

/// `tend export k8s`: the config as Kubernetes manifests on stdout. The
/// file only is read: no runtime is asked about, nothing started.
pub fn export_k8s(target: &Target, mut options: export::k8s::Options) -> anyhow::Result<ExitCode> {
    let (config, text) = match tend_config::load_with_text(target.config()) {
        Ok(loaded) => loaded,
        Err(error) => {
            tend_process::diag!("{error}");
            return Ok(ExitCode::from(1));
        }
    };
    if options.name.is_empty() {
        options.name = config
            .file
            .parent()
            .and_then(Path::file_name)
            .map_or_else(|| "tend".to_owned(), |n| n.to_string_lossy().into_owned());
    }
    options.name = export::k8s::dns_name(&options.name)?;
    let documents = export::k8s::export(&config, &text, &options)?;
    let yaml = export::yaml(
        &documents,
        &target.config().display().to_string(),
        options.per.notes(),
    )?;
    crate::out::write(yaml.as_bytes()).context("writing the manifests")?;
    Ok(ExitCode::SUCCESS)
}

/// The dashboard's address: on the TCP listener, with the token in the
/// fragment (which a browser does not send, and keeps to the page).
pub fn dashboard(target: &Target) -> anyhow::Result<ExitCode> {
    let config = tend_config::load(target.config()).map_err(|e| anyhow::anyhow!("{e}"))?;
    match config.api.listen {
        Some(addr) => {
            let token = match config.api.token {
                Some(token) => token,
                // The one the daemon generated: every TCP listener has one.
                None => {
                    let file = target.state_dir().api_token();
                    match tend_daemon::token::read(&file) {
                        Ok(token) => token,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            eprintln!(
                                "tend: no API token yet: `tend up` generates one in {} \
                                 (or set `token` in [api])",
                                file.display()
                            );
                            return Ok(ExitCode::from(1));
                        }
                        Err(e) => {
                            return Err(anyhow::Error::new(e))
                                .with_context(|| format!("reading {}", file.display()))
                        }
                    }
                }
            };
            say!("http://{addr}/#token={token}")?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            tend_process::diag!(
                "tend: the dashboard is served on the control socket ({}) and on a TCP\n\
                 listener; a browser needs the latter: add to {}\n\n  \
                 [api]\n  listen = \"127.0.0.1:7654\"\n  token = \"…\"\n\n\
                 then restart tend (`tend reload` does not apply [api] settings).",
                target.state_dir().socket().display(),
                target.config().display()
            );
            Ok(ExitCode::from(1))
        }
    }
}
