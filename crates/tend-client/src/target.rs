//! Request targets (path and query): each path segment percent-encoded,
//! the query written by serde_urlencoded from the API's own query types
//! (axum reads them back with the same crate).

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde::Serialize;

use crate::error::Error;

/// What is escaped in a path segment: everything RFC 3986 does not allow
/// there (a `pchar`), plus `%` itself and the `/` that would end it.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// `/seg/seg/...?query`: the segments escaped one by one (so a name can
/// hold any character and stays one segment), the query from `query`.
///
/// # Errors
/// [`Error::Query`] if `query` is not a flat struct of plain values.
pub fn target<Q: Serialize + ?Sized>(
    segments: &[&str],
    query: Option<&Q>,
) -> Result<String, Error> {
    let mut out = String::new();
    for segment in segments {
        out.push('/');
        // `.` and `..` are dot-segments that a proxy may resolve away:
        // written escaped they are plain names.
        if segment.bytes().all(|b| b == b'.') && !segment.is_empty() {
            out.push_str(&"%2E".repeat(segment.len()));
        } else {
            out.extend(utf8_percent_encode(segment, SEGMENT));
        }
    }
    if let Some(query) = query {
        let text = serde_urlencoded::to_string(query)?;
        if !text.is_empty() {
            out.push('?');
            out.push_str(&text);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tend_wire::{EventsQuery, List, LogsQuery, RecordKind, ServicesQuery};

    fn path(segments: &[&str]) -> String {
        target::<()>(segments, None).unwrap()
    }

    #[test]
    fn plain_names_stay_readable() {
        assert_eq!(
            path(&["v1", "services", "web.2", "restart"]),
            "/v1/services/web.2/restart"
        );
        assert_eq!(
            path(&["v1", "services", "api_v2-b"]),
            "/v1/services/api_v2-b"
        );
    }

    #[test]
    fn awkward_names_stay_one_segment() {
        assert_eq!(
            path(&["v1", "services", "a b/c?d#e%f", "stop"]),
            "/v1/services/a%20b%2Fc%3Fd%23e%25f/stop"
        );
        assert_eq!(
            path(&["v1", "services", "..", "stop"]),
            "/v1/services/%2E%2E/stop"
        );
        assert_eq!(path(&["v1", "services", "."]), "/v1/services/%2E");
        assert_eq!(path(&["v1", "services", "café"]), "/v1/services/caf%C3%A9");
        assert_eq!(path(&["v1", "services", "x\ny"]), "/v1/services/x%0Ay");
    }

    #[test]
    fn queries_come_from_the_query_types() {
        let query = ServicesQuery {
            usage: true,
            services: List(vec!["web".into(), "a b&c=d".into()]),
        };
        assert_eq!(
            target(&["v1", "services"], Some(&query)).unwrap(),
            "/v1/services?usage=true&services=web%2Ca+b%26c%3Dd"
        );
        let events = EventsQuery {
            since: Some("1 hour".into()),
            kinds: List(vec![RecordKind::Exited, RecordKind::CrashLoop]),
            limit: Some(10),
            ..EventsQuery::default()
        };
        assert_eq!(
            target(&["v1", "events"], Some(&events)).unwrap(),
            "/v1/events?since=1+hour&limit=10&kinds=exited%2Ccrash_loop&problems=false&follow=false"
        );
        assert_eq!(
            target(&["v1", "logs"], Some(&LogsQuery::default())).unwrap(),
            "/v1/logs?lines=100&follow=false"
        );
    }

    #[test]
    fn a_query_reads_back_as_written() {
        let events = EventsQuery {
            since: Some("2 days".into()),
            services: List(vec!["web".into(), "db.1".into()]),
            kinds: List(vec![RecordKind::Restarting]),
            problems: true,
            follow: true,
            limit: None,
        };
        let text = serde_urlencoded::to_string(&events).unwrap();
        let read: EventsQuery = serde_urlencoded::from_str(&text).unwrap();
        assert_eq!(read, events);
    }
}
