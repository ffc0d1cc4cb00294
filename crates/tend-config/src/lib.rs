//! # tend-config: `tend.toml`
//!
//! Reads a tend configuration into a [`Config`]: services, groups, the root
//! supervisor and the API listener, with every default applied (see
//! [`defaults`]). A wrong file is reported whole: **every** problem, each
//! with its file, line and column, what was found and what was expected —
//! and nothing is started from it.
//!
//! ```
//! use tend_config::parse_str;
//!
//! let config = parse_str("tend.toml", r#"
//!     [services.web]
//!     command = ["./web", "--port", "8080"]
//!     replicas = 2
//! "#).unwrap();
//! assert_eq!(config.services[0].instances(), ["web.1", "web.2"]);
//!
//! let errors = parse_str("tend.toml", r#"
//!     [services.web]
//!     comand = ["./web"]
//!     stop = { signal = "SIGTREM", timeout = "10 parsecs" }
//! "#).unwrap_err();
//! let text = errors.to_string();
//! assert!(text.contains("tend.toml:3:5: unknown key `comand`"), "{text}");
//! assert!(text.contains("bad signal name \"SIGTREM\""), "{text}");
//! assert!(text.contains("bad duration \"10 parsecs\""), "{text}");
//! ```
//!
//! [`schema`] is the file's JSON Schema, for editors.

// Layers, from the bottom up: a module uses only those before it in this
// line (checked by .ci/layers).
// layers: error trust file model plan defaults read parse machine schema
pub mod defaults;
mod error;
mod file;
mod machine;
mod model;
mod parse;
mod plan;
mod read;
mod schema;
pub mod trust;

use std::path::Path;
use std::sync::Arc;

use tend_spec::{ContainerSpec, NotAvailable, Runtime};

pub use error::{ConfigError, Diagnostic};
pub use file::MAX_CONFIG_SIZE;
pub use model::{
    ApiSettings, Config, Dependency, Group, HookEvent, Hooks, Member, Places, Service,
    SupervisorSettings,
};
pub use plan::Plan;
pub use schema::schema;

/// The file `tend` reads when none is named.
pub const DEFAULT_FILE: &str = "tend.toml";

/// Reads and checks the config at `path`: a regular file of at most
/// [`MAX_CONFIG_SIZE`] bytes.
///
/// # Errors
/// [`ConfigError::Read`] if the file cannot be read,
/// [`ConfigError::NotAFile`] or [`ConfigError::TooLarge`] if it is not
/// opened, [`ConfigError::Invalid`] with every problem found otherwise.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    load_with_text(path.as_ref()).map(|(config, _)| config)
}

/// [`load`], also returning the text it read: for a caller that works on
/// the file as written too (an export keeps each service's table as it
/// is), without reading it a second time, which could see another file.
///
/// # Errors
/// As [`load`].
///
/// # Examples
///
/// ```
/// let dir = std::env::temp_dir().join(format!("tend-doc-text-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("tend.toml");
/// std::fs::write(&file, "[services.web]\ncommand = [\"./web\"]\n").unwrap();
/// let (config, text) = tend_config::load_with_text(&file).unwrap();
/// assert_eq!(config.services[0].name, "web");
/// assert!(text.starts_with("[services.web]"));
/// # std::fs::remove_dir_all(dir).unwrap();
/// ```
pub fn load_with_text(path: &Path) -> Result<(Config, String), ConfigError> {
    let text = file::read(path)?;
    // Messages name the file as given; paths in the config are resolved
    // against its absolute directory, whatever the current one becomes.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut config = parse_in(path, &absolute, &text)?;
    config.file = absolute;
    Ok((config, text))
}

/// Checks `text` as the contents of the config at `path` (relative `cwd`s
/// are resolved against `path`'s directory).
///
/// # Errors
/// [`ConfigError::Invalid`] with every problem found.
pub fn parse_str(path: impl AsRef<Path>, text: &str) -> Result<Config, ConfigError> {
    parse_in(path.as_ref(), path.as_ref(), text)
}

/// Which container runtime will run a container here, or why none can
/// (`tend_process::find_runtime`).
///
/// # Examples
///
/// ```
/// use tend_config::FindRuntime;
/// use tend_spec::{ContainerSpec, NotAvailable, Runtime};
///
/// // A machine where podman always works (tests use such stand-ins; the
/// // `tend` program asks tend-process).
/// fn podman(_: &ContainerSpec) -> Result<Runtime, NotAvailable> {
///     Ok(Runtime::Podman)
/// }
/// let find: FindRuntime = podman;
/// # let _ = find;
/// ```
pub type FindRuntime = fn(&ContainerSpec) -> Result<Runtime, NotAvailable>;

/// Reads and checks the config at `path` as [`load`] does, then what a
/// start would hit on this machine: what `tend check`, `tend up` and a
/// reload say, rather than a start failing at 3 a.m. ([`load`] alone asks
/// nothing of the machine, for a caller that only reads the file.)
///
/// - `find` is asked which runtime runs each container service, named in
///   the service's spec; a container no runtime here can run is an error
///   at its `container` table (`backend not available: container: …`).
/// - A process service's `cwd` must be a directory, its `user` a user, its
///   program an executable file on the PATH it will get (its `env` PATH,
///   else this process's; a path with a slash from its `cwd`; `/bin/sh`
///   for `shell`), its argv and environment within `execve`'s limits
///   (`ARG_MAX`), its `nofile` within `fs.nr_open`. A container service's
///   program, directory and user are its image's, and not looked for.
///
/// # Errors
/// As [`load`], and every problem found here.
///
/// # Examples
///
/// ```
/// use tend_config::load_here;
/// use tend_spec::{Backend, NotAvailable};
///
/// let dir = std::env::temp_dir().join(format!("tend-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("tend.toml");
/// std::fs::write(&file, "[services.cache]\ncontainer = { image = \"redis:7\" }\n").unwrap();
/// let nowhere = |_: &_| Err(NotAvailable::new(Backend::Container, "no runtime here"));
/// let error = load_here(&file, nowhere).unwrap_err().to_string();
/// assert!(error.contains("tend.toml:2:13: backend not available: container: no runtime here"), "{error}");
/// # std::fs::remove_dir_all(dir).unwrap();
/// ```
pub fn load_here(path: impl AsRef<Path>, find: FindRuntime) -> Result<Config, ConfigError> {
    let path = path.as_ref();
    let (mut config, text) = load_with_text(path)?;
    let mut diagnostics = error::Diagnostics::new(path, &text);
    let scope = container_scope(&config.file);
    for service in &mut config.services {
        machine::check(service, &mut diagnostics);
        let Some(container) = Arc::make_mut(&mut service.process).container.as_mut() else {
            continue;
        };
        container.scope = Some(scope.clone());
        match find(container) {
            Ok(runtime) => container.runtime = Some(runtime),
            Err(error) => diagnostics.at(
                service.places.container.unwrap_or(service.places.table),
                error.to_string(),
                Some("a runtime that works here: podman or docker installed (and docker's daemon running)".to_owned()),
            ),
        }
    }
    if diagnostics.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(diagnostics.into_sorted()))
    }
}

/// What keeps the containers of the config at `file` (an absolute path)
/// apart from another config's on the same machine, and the same from one
/// run to the next (a restarted tend finds what it left): 32 bits of the
/// FNV-1a hash of the path, in hex. Written out because std's hasher may
/// change between Rust releases, and the names must not.
///
/// # Examples
///
/// ```
/// let scope = tend_config::container_scope(std::path::Path::new("/etc/tend/tend.toml"));
/// assert_eq!(scope.len(), 8);
/// assert_eq!(scope, tend_config::container_scope(std::path::Path::new("/etc/tend/tend.toml")));
/// ```
#[must_use]
pub fn container_scope(file: &Path) -> String {
    let hash = file
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{:08x}", hash >> 32)
}

fn parse_in(shown: &Path, file: &Path, text: &str) -> Result<Config, ConfigError> {
    let mut diagnostics = error::Diagnostics::new(shown, text);
    match parse::parse(file, text, &mut diagnostics) {
        Some(config) if diagnostics.is_empty() => Ok(config),
        _ => Err(ConfigError::Invalid(diagnostics.into_sorted())),
    }
}
