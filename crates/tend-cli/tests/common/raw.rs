//! One raw HTTP request on the control socket, as the API fuzz target sends
//! it (`fuzz/fuzz_targets/api_request.rs` includes this file too).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// What became of a raw request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A whole request, answered with this status.
    Answered(u16),
    /// A whole request, and no answer: a bug.
    Unanswered,
    /// Not a whole request (ended by closing our side): any status, or
    /// none, is fine.
    Partial(Option<u16>),
}

/// Sends `request` on `socket` and reads the status line of the answer.
pub fn exchange(socket: &Path, request: &[u8]) -> Outcome {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return Outcome::Unanswered;
    };
    // Long enough for a daemon starved of CPU by a loaded machine (the
    // fuzzer stopped twice on 10 s under a full chaos run, and the same
    // inputs were answered in 50 ms alone); a hang still shows.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let whole = is_whole(request);
    let _ = stream.write_all(request);
    if !whole {
        // An incomplete request would wait for more: end it now.
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // The status line is enough (a followed stream never ends).
    while head.len() < 64 && !head.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let status = String::from_utf8_lossy(&head)
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3)?.parse().ok());
    match (whole, status) {
        (true, Some(status)) => Outcome::Answered(status),
        (true, None) => Outcome::Unanswered,
        (false, status) => Outcome::Partial(status),
    }
}

/// Whether `request` is exactly one whole HTTP/1.1 request with its body
/// (by `Content-Length`; a chunked one counts as not whole).
fn is_whole(request: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(head)) = parsed.parse(request) else {
        return false;
    };
    if parsed.version != Some(1) {
        return false;
    }
    let mut length = 0usize;
    for header in parsed.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return false;
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.parse().ok())
            {
                Some(n) => length = n,
                None => return false,
            }
        }
    }
    request.len() == head.saturating_add(length)
}

/// Whether `request` may ask tend to end or become another program: it
/// names `/v1/shutdown` or `/v1/upgrade` anywhere. The path is not parsed
/// here: hyper routes request lines httparse alone rejects (one with NULs
/// before the path reached it).
pub fn asks_to_shut_down(request: &[u8]) -> bool {
    request.windows(12).any(|w| w == b"/v1/shutdown")
        || request.windows(11).any(|w| w == b"/v1/upgrade")
}
