//! Reading a config file, bounded: `-c /dev/zero` or a FIFO must be an
//! error, not a read that never ends (or never starts).

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

use crate::error::ConfigError;

/// The largest config file read: 4 MiB. A thousand services take about
/// 100 KiB; anything near this is a mistake (a log, an image).
pub const MAX_CONFIG_SIZE: u64 = 4 << 20;

/// The text of the config at `path`, if it is a regular file of at most
/// [`MAX_CONFIG_SIZE`] bytes.
pub(crate) fn read(path: &Path) -> Result<String, ConfigError> {
    let failed = |source| ConfigError::Read {
        file: path.to_path_buf(),
        source,
    };
    // Looked at before it is opened: opening a FIFO waits for a writer,
    // and opening a device may do something.
    check(path, &std::fs::metadata(path).map_err(failed)?)?;
    // Nor may another user put another file in its place.
    if let Some(why) = crate::trust::replaceable_by_others(path).map_err(failed)? {
        return Err(ConfigError::NotTrusted {
            file: path.to_path_buf(),
            why,
        });
    }
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(failed)?;
    // And again as opened, in case the path was replaced in between.
    check(path, &file.metadata().map_err(failed)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    if bytes.len() as u64 > MAX_CONFIG_SIZE {
        return Err(ConfigError::TooLarge {
            file: path.to_path_buf(),
            limit: MAX_CONFIG_SIZE,
        });
    }
    String::from_utf8(bytes).map_err(|error| {
        failed(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (byte {} is not)",
                error.utf8_error().valid_up_to()
            ),
        ))
    })
}

/// Whether only the user running tend (or root) could have written the
/// file: owned by one of them, and writable by no one else. Group write is
/// allowed to a user's own config (Debian's user-private groups make files
/// 0664), not to root's: a root tend runs what the file says as root.
fn trusted(path: &Path, metadata: &Metadata) -> Result<(), ConfigError> {
    use std::os::unix::fs::MetadataExt as _;
    let me = nix::unistd::geteuid().as_raw();
    let (owner, mode) = (metadata.uid(), metadata.mode());
    let why = if owner != me && owner != 0 {
        Some(format!(
            "it is owned by uid {owner}, not by you (uid {me}) or root"
        ))
    } else if mode & 0o002 != 0 {
        Some(format!("anyone may write it (mode {:o})", mode & 0o7777))
    } else if me == 0 && mode & 0o020 != 0 && metadata.gid() != 0 {
        Some(format!(
            "its group (gid {}) may write it (mode {:o})",
            metadata.gid(),
            mode & 0o7777
        ))
    } else {
        None
    };
    match why {
        Some(why) => Err(ConfigError::NotTrusted {
            file: path.to_path_buf(),
            why,
        }),
        None => Ok(()),
    }
}

fn check(path: &Path, metadata: &Metadata) -> Result<(), ConfigError> {
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        if metadata.len() > MAX_CONFIG_SIZE {
            return Err(ConfigError::TooLarge {
                file: path.to_path_buf(),
                limit: MAX_CONFIG_SIZE,
            });
        }
        return trusted(path, metadata);
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(ConfigError::NotAFile {
        file: path.to_path_buf(),
        what,
    })
}
