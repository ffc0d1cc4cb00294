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
// layers: error model defaults read parse schema
pub mod defaults;
mod error;
mod model;
mod parse;
mod read;
mod schema;

use std::path::Path;

pub use error::{ConfigError, Diagnostic};
pub use model::{
    ApiSettings, Config, Dependency, Group, HookEvent, Hooks, Member, Service, SupervisorSettings,
};
pub use schema::schema;

/// The file `tend` reads when none is named.
pub const DEFAULT_FILE: &str = "tend.toml";

/// Reads and checks the config at `path`.
///
/// # Errors
/// [`ConfigError::Read`] if the file cannot be read, [`ConfigError::Invalid`]
/// with every problem found otherwise.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    // Messages name the file as given; paths in the config are resolved
    // against its absolute directory, whatever the current one becomes.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut config = parse_in(path, &absolute, &text)?;
    config.file = absolute;
    Ok(config)
}

/// Checks `text` as the contents of the config at `path` (relative `cwd`s
/// are resolved against `path`'s directory).
///
/// # Errors
/// [`ConfigError::Invalid`] with every problem found.
pub fn parse_str(path: impl AsRef<Path>, text: &str) -> Result<Config, ConfigError> {
    parse_in(path.as_ref(), path.as_ref(), text)
}

fn parse_in(shown: &Path, file: &Path, text: &str) -> Result<Config, ConfigError> {
    let mut diagnostics = error::Diagnostics::new(shown, text);
    match parse::parse(file, text, &mut diagnostics) {
        Some(config) if diagnostics.is_empty() => Ok(config),
        _ => Err(ConfigError::Invalid(diagnostics.into_sorted())),
    }
}
