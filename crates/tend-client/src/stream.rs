//! Answers that come as a stream: raw chunks (logs), JSON lines
//! (`/v1/events`) and server-sent events (`/v1/watch`).

use std::collections::VecDeque;
use std::marker::PhantomData;

use http_body_util::BodyExt as _;
use hyper::body::{Bytes, Incoming};
use serde::de::DeserializeOwned;

use crate::error::Error;

/// A body, chunk by chunk as the daemon sends it.
#[derive(Debug)]
pub struct Chunks {
    body: Incoming,
}

impl Chunks {
    pub(crate) fn new(body: Incoming) -> Chunks {
        Chunks { body }
    }

    /// The next chunk; `None` once the daemon ended the stream.
    pub async fn next(&mut self) -> Option<Result<Bytes, Error>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(e) => return Some(Err(Error::Http(e))),
            }
        }
    }
}

/// How a stream of messages is cut.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Framing {
    /// One JSON document per line.
    JsonLines,
    /// Server-sent events: blocks ended by an empty line, the JSON in
    /// their `data:` lines; comments (keep-alives) skipped.
    ServerSent,
}

/// Cuts a byte stream into the messages' data, whatever the chunking.
#[derive(Debug)]
struct Cutter {
    framing: Framing,
    partial: Vec<u8>,
}

impl Cutter {
    /// The data of each message `chunk` completes (none empty).
    fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        self.partial.extend_from_slice(chunk);
        let mut out = Vec::new();
        loop {
            let found = match self.framing {
                Framing::JsonLines => self
                    .partial
                    .iter()
                    .position(|&b| b == b'\n')
                    .map(|e| (e, 1)),
                Framing::ServerSent => self
                    .partial
                    .windows(2)
                    .position(|w| w == b"\n\n")
                    .map(|e| (e, 2)),
            };
            let Some((end, skip)) = found else {
                return out;
            };
            let block: Vec<u8> = self.partial.drain(..end + skip).take(end).collect();
            let data = match self.framing {
                Framing::JsonLines => block,
                Framing::ServerSent => {
                    let lines: Vec<&[u8]> = block
                        .split(|&b| b == b'\n')
                        .filter_map(|line| line.strip_prefix(b"data:"))
                        .map(|data| data.strip_prefix(b" ").unwrap_or(data))
                        .collect();
                    lines.join(&b'\n')
                }
            };
            if !data.iter().all(u8::is_ascii_whitespace) {
                out.push(data);
            }
        }
    }
}

/// A stream of typed messages: journal entries ([`Client::events`]),
/// watch messages ([`Client::watch`]).
///
/// [`Client::events`]: crate::Client::events
/// [`Client::watch`]: crate::Client::watch
#[derive(Debug)]
pub struct Messages<T> {
    chunks: Chunks,
    cutter: Cutter,
    ready: VecDeque<Vec<u8>>,
    kind: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Messages<T> {
    pub(crate) fn new(chunks: Chunks, framing: Framing) -> Messages<T> {
        Messages {
            chunks,
            cutter: Cutter {
                framing,
                partial: Vec::new(),
            },
            ready: VecDeque::new(),
            kind: PhantomData,
        }
    }

    /// The next message; `None` once the stream ended.
    ///
    /// # Errors
    /// A broken connection, or a message that does not read as `T`.
    pub async fn next(&mut self) -> Option<Result<T, Error>> {
        loop {
            if let Some(data) = self.ready.pop_front() {
                return Some(serde_json::from_slice(&data).map_err(Error::Decode));
            }
            match self.chunks.next().await? {
                Ok(chunk) => self.ready.extend(self.cutter.push(&chunk)),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cutter(framing: Framing) -> Cutter {
        Cutter {
            framing,
            partial: Vec::new(),
        }
    }

    #[test]
    fn server_sent_events_split_across_chunks_and_comments_are_skipped() {
        let mut sse = cutter(Framing::ServerSent);
        let first = sse.push(b": keepalive\n\ndata: {\"a\":1}\n\ndata: {\"a");
        assert_eq!(first, vec![b"{\"a\":1}".to_vec()]);
        let rest = sse.push(b"\":2}\n\ndata:{\"a\":3}\n\n");
        assert_eq!(rest, vec![b"{\"a\":2}".to_vec(), b"{\"a\":3}".to_vec()]);
        // Several data lines are one message, joined by newlines.
        assert_eq!(
            sse.push(b"data: [1,\ndata: 2]\n\n"),
            vec![b"[1,\n2]".to_vec()]
        );
    }

    #[test]
    fn json_lines_split_across_chunks_and_blank_lines_are_skipped() {
        let mut lines = cutter(Framing::JsonLines);
        assert!(lines.push(b"{\"id\":").is_empty());
        assert_eq!(
            lines.push(b"1}\n\n{\"id\":2}\n{"),
            vec![b"{\"id\":1}".to_vec(), b"{\"id\":2}".to_vec()]
        );
        assert_eq!(lines.push(b"}\n"), vec![b"{}".to_vec()]);
    }
}
