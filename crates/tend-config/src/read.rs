//! Reading typed values out of a spanned TOML document, recording a
//! diagnostic for every value that is wrong instead of stopping at the first.
//!
//! Written on top of `toml`'s spanned document rather than serde derive:
//! derive stops at the first error and loses the places of the rest, and a
//! config's author is owed every error at once.

use std::ops::Range;
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::Diagnostics;

/// A value and where it is.
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// A table being read: its entries, where it starts and how to name it in a
/// message (`[services.web]`, `services.web.backoff`).
pub(crate) struct Table<'t, 'i> {
    entries: &'t DeTable<'i>,
    at: usize,
    pub(crate) name: String,
}

impl<'t, 'i> Table<'t, 'i> {
    pub(crate) fn new(entries: &'t DeTable<'i>, at: usize, name: String) -> Self {
        Table { entries, at, name }
    }

    /// Where the table starts (for "missing key" messages).
    pub(crate) fn at(&self) -> usize {
        self.at
    }

    /// The value of `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<&'t Value<'i>> {
        self.entries
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    /// Every entry, in file order, with the key's span.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'t str, Range<usize>, &'t Value<'i>)> {
        self.entries
            .iter()
            .map(|(k, v)| (k.get_ref().as_ref(), k.span(), v))
    }

    /// A sub-table at `key`, if present and a table.
    pub(crate) fn table(&self, key: &str, d: &mut Diagnostics<'_>) -> Option<Table<'t, 'i>> {
        let value = self.get(key)?;
        let name = format!("{}.{key}", self.name.trim_matches(['[', ']']));
        as_table(value, name, d)
    }

    /// Reports every key not in `known`, with the closest known one.
    pub(crate) fn deny_unknown(&self, known: &[&str], d: &mut Diagnostics<'_>) {
        for (key, span, _) in self.entries() {
            if known.contains(&key) {
                continue;
            }
            let hint =
                closest(key, known).map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
            d.at(
                span.start,
                format!("unknown key `{key}` in {}{hint}", self.name),
                Some(format!("one of {}", list(known))),
            );
        }
    }

    /// Reads `key` with `read` when present.
    pub(crate) fn read<T>(
        &self,
        key: &str,
        d: &mut Diagnostics<'_>,
        read: impl FnOnce(&Value<'i>, &str, &mut Diagnostics<'_>) -> Option<T>,
    ) -> Option<T> {
        let value = self.get(key)?;
        read(value, &format!("`{key}` in {}", self.name), d)
    }
}

/// The value as a table, or a diagnostic.
pub(crate) fn as_table<'t, 'i>(
    value: &'t Value<'i>,
    name: String,
    d: &mut Diagnostics<'_>,
) -> Option<Table<'t, 'i>> {
    match value.get_ref() {
        DeValue::Table(entries) => Some(Table::new(entries, value.span().start, name)),
        other => {
            wrong(value, other, &name, "a table", d);
            None
        }
    }
}

fn wrong(
    value: &Value<'_>,
    found: &DeValue<'_>,
    what: &str,
    expected: &str,
    d: &mut Diagnostics<'_>,
) {
    d.at(
        value.span().start,
        format!("{what} is {}", describe(found)),
        Some(expected.to_owned()),
    );
}

fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("the string {s:?}"),
        DeValue::Integer(i) => format!("the integer {}", i.as_str()),
        DeValue::Float(f) => format!("the number {}", f.as_str()),
        DeValue::Boolean(b) => format!("the boolean {b}"),
        DeValue::Datetime(t) => format!("the date {t}"),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// `a`, `b` or `c`, for a message.
pub(crate) fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

/// The known name closest to `key`, when close enough to be a typo.
pub(crate) fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), *k))
        .filter(|(distance, k)| *distance <= 2.max(k.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

pub(crate) fn string(value: &Value<'_>, what: &str, d: &mut Diagnostics<'_>) -> Option<String> {
    match value.get_ref() {
        DeValue::String(s) => Some(s.to_string()),
        other => {
            wrong(value, other, what, "a string", d);
            None
        }
    }
}

pub(crate) fn boolean(value: &Value<'_>, what: &str, d: &mut Diagnostics<'_>) -> Option<bool> {
    match value.get_ref() {
        DeValue::Boolean(b) => Some(*b),
        other => {
            wrong(value, other, what, "true or false", d);
            None
        }
    }
}

fn integer(value: &Value<'_>) -> Option<i128> {
    match value.get_ref() {
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

/// An integer in `min..=max`.
pub(crate) fn int_in<T: TryFrom<i128>>(
    min: i128,
    max: i128,
) -> impl Fn(&Value<'_>, &str, &mut Diagnostics<'_>) -> Option<T> {
    move |value, what, d| {
        // Only u64's maximum goes unsaid: it is too long to read, and a
        // value past it is not an integer in TOML anyway.
        let expected = if max == i128::from(u64::MAX) {
            format!("an integer of at least {min}")
        } else {
            format!("an integer from {min} to {max}")
        };
        in_range(
            value,
            what,
            d,
            integer(value),
            |n| (min..=max).contains(n),
            expected,
        )
        .and_then(|n| T::try_from(n).ok())
    }
}

/// A number (integer or float) in `min..=max`.
pub(crate) fn number_in(
    min: f64,
    max: f64,
) -> impl Fn(&Value<'_>, &str, &mut Diagnostics<'_>) -> Option<f64> {
    move |value, what, d| {
        let n = match value.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(_) => integer(value).map(|n| n as f64),
            _ => None,
        };
        let expected = format!("a number from {min} to {max}");
        in_range(value, what, d, n, |n| (min..=max).contains(n), expected)
    }
}

/// `n` when `fits` it; otherwise a diagnostic: out of range, or (no `n`)
/// not a number at all.
fn in_range<N: std::fmt::Display>(
    value: &Value<'_>,
    what: &str,
    d: &mut Diagnostics<'_>,
    n: Option<N>,
    fits: impl Fn(&N) -> bool,
    expected: String,
) -> Option<N> {
    match n {
        Some(n) if fits(&n) => Some(n),
        Some(n) => {
            d.at(
                value.span().start,
                format!("{what} is {n}, out of range"),
                Some(expected),
            );
            None
        }
        None => {
            wrong(value, value.get_ref(), what, &expected, d);
            None
        }
    }
}

const DURATION: &str = r#"a duration such as "250ms", "10s", "5m" or "1h30m""#;

pub(crate) fn duration(value: &Value<'_>, what: &str, d: &mut Diagnostics<'_>) -> Option<Duration> {
    match value.get_ref() {
        DeValue::String(s) if s.trim() == "0" => Some(Duration::ZERO),
        DeValue::String(s) => match humantime::parse_duration(s) {
            Ok(duration) => Some(duration),
            Err(e) => {
                d.at(
                    value.span().start,
                    format!("bad duration {s:?} for {what} ({e})"),
                    Some(DURATION.to_owned()),
                );
                None
            }
        },
        DeValue::Integer(_) if integer(value) == Some(0) => Some(Duration::ZERO),
        other => {
            wrong(value, other, what, DURATION, d);
            None
        }
    }
}

const SIZE: &str = r#"a size such as "512MB", "1GiB", "64KB" or a number of bytes"#;

/// A size in bytes: an integer, or a string with a unit (`B`, `KB`/`K`,
/// `MB`/`M`, `GB`/`G`, `TB`/`T` are powers of 1000; `KiB` … `TiB` of 1024).
pub(crate) fn size(value: &Value<'_>, what: &str, d: &mut Diagnostics<'_>) -> Option<u64> {
    match value.get_ref() {
        DeValue::Integer(_) => int_in::<u64>(0, i128::from(u64::MAX))(value, what, d),
        DeValue::String(s) => match parse_size(s) {
            Some(bytes) => Some(bytes),
            None => {
                d.at(
                    value.span().start,
                    format!("bad size {s:?} for {what}"),
                    Some(SIZE.to_owned()),
                );
                None
            }
        },
        other => {
            wrong(value, other, what, SIZE, d);
            None
        }
    }
}

fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.replace('_', "").parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    };
    let bytes = number * factor as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// One of the names a serde enum accepts, `names` being those to suggest.
pub(crate) fn choice<T: DeserializeOwned>(
    names: &'static [&'static str],
) -> impl Fn(&Value<'_>, &str, &mut Diagnostics<'_>) -> Option<T> {
    move |value, what, d| {
        let expected = format!("one of {}", list(names));
        let DeValue::String(s) = value.get_ref() else {
            wrong(value, value.get_ref(), what, &expected, d);
            return None;
        };
        match serde_json::from_value(serde_json::Value::String(s.to_string())) {
            Ok(choice) => Some(choice),
            Err(_) => {
                let hint =
                    closest(s, names).map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
                d.at(
                    value.span().start,
                    format!("unknown value {s:?} for {what}{hint}"),
                    Some(expected),
                );
                None
            }
        }
    }
}

/// A non-empty array of strings (an argv).
pub(crate) fn argv(value: &Value<'_>, what: &str, d: &mut Diagnostics<'_>) -> Option<Vec<String>> {
    let expected = r#"a non-empty array of strings, e.g. ["./web", "--port", "8080"]"#;
    let DeValue::Array(items) = value.get_ref() else {
        wrong(value, value.get_ref(), what, expected, d);
        return None;
    };
    if items.is_empty() {
        d.at(
            value.span().start,
            format!("{what} is empty"),
            Some(expected.to_owned()),
        );
        return None;
    }
    let mut argv = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items.iter() {
        match string(item, &format!("an element of {what}"), d) {
            Some(s) => argv.push(s),
            None => ok = false,
        }
    }
    ok.then_some(argv)
}

/// An array of values each read with `read`.
pub(crate) fn array_of<T>(
    read: impl Fn(&Value<'_>, &str, &mut Diagnostics<'_>) -> Option<T>,
) -> impl Fn(&Value<'_>, &str, &mut Diagnostics<'_>) -> Option<Vec<T>> {
    move |value, what, d| {
        let DeValue::Array(items) = value.get_ref() else {
            wrong(value, value.get_ref(), what, "an array", d);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items.iter() {
            match read(item, &format!("an element of {what}"), d) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}
