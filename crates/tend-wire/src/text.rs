//! Text a service wrote (its output, its sd_notify `STATUS=`, a reason it
//! gave) shown on an operator's terminal: control characters escaped, so
//! what a service prints cannot set the terminal's title, clear it, write
//! its clipboard (OSC 52) or worse. The one escaping of every screen: `tend
//! logs`, `status`, `events`, `journal` and `top`, and the foreground echo
//! of `tend up`.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is shown escaped: every control character (C0, DEL, C1)
/// but tab and newline.
#[must_use]
pub fn is_escaped(c: char) -> bool {
    c.is_control() && c != '\t' && c != '\n'
}

/// `text` with every control character but tab and newline written as an
/// escape: `\x1b` for an ASCII one (ESC, BEL, CR, DEL…), `\u{9b}` for a
/// C1 one; other text, any script, as it is. Nothing allocated when there
/// is nothing to escape.
///
/// # Examples
///
/// ```
/// use tend_wire::escape;
///
/// assert_eq!(escape("\x1b]0;pwned\x07\x1b[2J"), r"\x1b]0;pwned\x07\x1b[2J");
/// assert_eq!(escape("naïve\tcafé ☕"), "naïve\tcafé ☕");
/// assert_eq!(escape("\u{9b}31m"), r"\u{9b}31m");
/// ```
#[must_use]
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    push_escaped(&mut out, text);
    Cow::Owned(out)
}

/// [`escape`] for bytes that may not be UTF-8 (a service's raw output):
/// each byte that is not part of valid UTF-8 is written `\xNN`.
///
/// # Examples
///
/// ```
/// use tend_wire::escape_bytes;
///
/// assert_eq!(escape_bytes(b"ok\x1b[2J\xff\n"), r"ok\x1b[2J\xff" .to_owned() + "\n");
/// ```
#[must_use]
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return escape(text);
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        push_escaped(&mut out, chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        if !is_escaped(c) {
            out.push(c);
        } else if c.is_ascii() {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a service writes, what is shown holds no control
        /// character but tab and newline (and, being a `String`, no byte
        /// that is not UTF-8).
        #[test]
        fn nothing_shown_drives_a_terminal(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let shown = escape_bytes(&bytes);
            prop_assert!(!shown.chars().any(is_escaped), "{shown:?}");
            prop_assert!(shown.bytes().all(|b| b >= 0x20 || b == b'\t' || b == b'\n'));
        }

        /// Text with no control character is shown as it is.
        #[test]
        fn printable_text_is_kept(text in "[^\\p{Cc}]*|[\\PC\t\n]*") {
            let kept: String = text.chars().filter(|&c| !is_escaped(c)).collect();
            prop_assert_eq!(escape(&kept), kept.as_str());
            prop_assert_eq!(escape_bytes(kept.as_bytes()), kept.as_str());
        }

        /// Each character is escaped alone: text escaped in pieces (lines
        /// as they come) reads as the whole escaped at once.
        #[test]
        fn escaping_goes_character_by_character(a in any::<String>(), b in any::<String>()) {
            let whole = escape(&format!("{a}{b}")).into_owned();
            prop_assert_eq!(whole, format!("{}{}", escape(&a), escape(&b)));
        }
    }
}
