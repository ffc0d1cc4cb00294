//! The API's query strings, as types: the server reads them and the
//! client writes them from the same struct, so no parameter is spelled
//! twice.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, IntoDeserializer as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::record::RecordKind;

/// A comma-separated list in a query string (`services=web,db`,
/// `kinds=exited,crash_loop`). Service names and vocabulary words hold no
/// comma and are never empty, so a comma needs no escaping beyond the
/// URL's own: an item that is empty or holds a comma cannot be written
/// (it could only be misread), and empty pieces read are ignored.
///
/// # Examples
///
/// ```
/// use tend_wire::{List, RecordKind};
///
/// let kinds = List(vec![RecordKind::Exited, RecordKind::CrashLoop]);
/// assert_eq!(serde_json::to_string(&kinds).unwrap(), r#""exited,crash_loop""#);
/// let read: List<RecordKind> = serde_json::from_str(r#""exited,,crash_loop""#).unwrap();
/// assert_eq!(read, kinds);
/// assert!(serde_json::from_str::<List<RecordKind>>(r#""exited,nope""#).is_err());
/// // Never written ambiguously: an empty name, or one with a comma.
/// assert!(serde_json::to_string(&List(vec!["a,b".to_owned()])).is_err());
/// assert!(serde_json::to_string(&List(vec![String::new()])).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<T> List<T> {
    /// Whether the list is empty (then the parameter is left out).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T> From<Vec<T>> for List<T> {
    fn from(items: Vec<T>) -> Self {
        List(items)
    }
}

impl<T: Clone> From<&[T]> for List<T> {
    fn from(items: &[T]) -> Self {
        List(items.to_vec())
    }
}

impl<T: fmt::Display> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut joined = String::new();
        for (i, item) in self.0.iter().enumerate() {
            let text = item.to_string();
            if text.is_empty() || text.contains(',') {
                return Err(serde::ser::Error::custom(format_args!(
                    "no service called {text:?}: a name is never empty and holds no comma"
                )));
            }
            if i > 0 {
                joined.push(',');
            }
            joined.push_str(&text);
        }
        serializer.serialize_str(&joined)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(PhantomData<T>);
        impl<T: DeserializeOwned> serde::de::Visitor<'_> for Visitor<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a comma-separated list")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<List<T>, E> {
                text.split(',')
                    .filter(|piece| !piece.is_empty())
                    .map(|piece| T::deserialize(piece.into_deserializer()))
                    .collect::<Result<Vec<T>, E>>()
                    .map(List)
            }
        }
        deserializer.deserialize_str(Visitor(PhantomData))
    }
}

/// `GET /v1/services` (and `GET /v1/services/{name}`, which reads
/// `usage` only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicesQuery {
    /// Measure memory and CPU too.
    #[serde(default)]
    pub usage: bool,
    /// Only these services, instances or groups, resolved by the daemon
    /// (none: every instance); a name it does not know is a 404.
    #[serde(default, skip_serializing_if = "List::is_empty")]
    pub services: List<String>,
}

/// `GET /v1/logs` (and `GET /v1/services/{name}/logs`, whose path names
/// the service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsQuery {
    /// Services, instances or groups (none: every instance).
    #[serde(default, skip_serializing_if = "List::is_empty")]
    pub services: List<String>,
    /// How many past lines of each.
    #[serde(default = "LogsQuery::default_lines")]
    pub lines: usize,
    /// Then new lines as they are written.
    #[serde(default)]
    pub follow: bool,
}

impl LogsQuery {
    fn default_lines() -> usize {
        100
    }
}

impl Default for LogsQuery {
    fn default() -> Self {
        LogsQuery {
            services: List::default(),
            lines: LogsQuery::default_lines(),
            follow: false,
        }
    }
}

/// `GET /v1/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsQuery {
    /// How far back, as a duration (`10m`, `1h`, `2 days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Only entries about these instances.
    #[serde(default, skip_serializing_if = "List::is_empty")]
    pub services: List<String>,
    /// At most this many past entries (the latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Only entries of these kinds (none: every kind).
    #[serde(default, skip_serializing_if = "List::is_empty")]
    pub kinds: List<RecordKind>,
    /// Only entries that tell of trouble.
    #[serde(default)]
    pub problems: bool,
    /// Then new entries as they are journaled.
    #[serde(default)]
    pub follow: bool,
}

/// `GET /v1/watch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchQuery {
    /// How often the picture is sampled, as a duration (`1s`, `500ms`;
    /// between 200 ms and 60 s; default 1 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Whether to measure memory and CPU.
    #[serde(default = "yes")]
    pub usage: bool,
    /// Whether to send journal entries.
    #[serde(default = "yes")]
    pub events: bool,
}

impl Default for WatchQuery {
    fn default() -> Self {
        WatchQuery {
            interval: None,
            usage: true,
            events: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// `POST /v1/reload`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadQuery {
    /// Only say what a reload would do.
    #[serde(default)]
    pub dry_run: bool,
}
