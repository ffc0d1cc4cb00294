//! The TCP API's token when the config names none: loopback is no
//! security boundary (any local user can connect to it), so every TCP
//! listener demands a token. One is generated from the OS's random source
//! into the state directory (mode 0600, the daemon's user's), and reused
//! by the next start; `tend dashboard` reads it from there.

use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::Path;

/// Random bytes in a generated token (64 hex characters).
const TOKEN_BYTES: usize = 32;

/// The shortest token the config accepts, so the shortest read back.
const SHORTEST: usize = 16;

/// The token in `file`, generated there if there is none yet.
///
/// # Errors
/// If it cannot be read or written, or the file is not the daemon's own
/// private one (a symbolic link, readable by others, another user's).
pub fn load_or_create(file: &Path) -> io::Result<String> {
    match read(file) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        read => return read,
    }
    let token = generate()?;
    match create_private(file, token.as_bytes()) {
        Ok(()) => Ok(token),
        // Another start wrote it first: theirs holds.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read(file),
        Err(e) => Err(e),
    }
}

/// The token in `file`, which must be private to this user.
///
/// # Errors
/// If it is missing, unreadable, not private, or too short to be one.
pub fn read(file: &Path) -> io::Result<String> {
    let mut opened = std::fs::OpenOptions::new()
        .read(true)
        // A FIFO planted here must not hang the start: it is refused below.
        .custom_flags(libc_o_nofollow() | libc_o_nonblock())
        .open(file)?;
    let meta = opened.metadata()?;
    let euid = rustix::process::geteuid().as_raw();
    if !meta.is_file() || meta.uid() != euid || meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} must be a file of user {euid} with mode 0600 (remove it to have a new one made)",
                file.display()
            ),
        ));
    }
    let mut text = String::new();
    opened.read_to_string(&mut text)?;
    let token = text.trim().to_owned();
    if token.len() < SHORTEST {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} holds no token (remove it to have one made)",
                file.display()
            ),
        ));
    }
    Ok(token)
}

/// Writes `contents` to a new file at `path`, mode 0600: never through a
/// symbolic link, never over an existing file (O_CREAT|O_EXCL|O_NOFOLLOW).
fn create_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc_o_nofollow())
        .open(path)?;
    file.write_all(contents)?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// `O_NOFOLLOW`, as the open flags want it.
fn libc_o_nofollow() -> i32 {
    // The bits are the same as rustix's; std takes a plain int.
    i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0)
}

/// `O_NONBLOCK`, likewise.
fn libc_o_nonblock() -> i32 {
    i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0)
}

/// A new token: random bytes from the OS, as hex.
fn generate() -> io::Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_made_once_private_and_kept() {
        let dir = std::env::temp_dir().join(format!("tend-token-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("api.token");
        let first = load_or_create(&file).unwrap();
        assert_eq!(first.len(), 2 * TOKEN_BYTES);
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        assert_eq!(load_or_create(&file).unwrap(), first);
        // A link in its place is refused, not followed.
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &file).unwrap();
        assert!(load_or_create(&file).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
