//! Who could have written a path. tend runs what a config says, as the
//! user it runs as (often root), and keeps its state where it is told: a
//! file is believed only if no other user could have written it *or put
//! another in its place*. So not only the file: every directory that leads
//! to it and every symbolic link on the way, as named and as resolved,
//! must be owned by the user running tend or by root and writable by no
//! one else (sshd's `StrictModes`, over the whole path). A sticky
//! directory writable by all (`/tmp`) passes: no one may replace in it
//! what is not theirs, and what comes next is checked in turn.

use std::io;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

/// Why another user could replace `path` (through a directory or a link
/// on the way to it), or `None` if no one but the user running tend and
/// root could. `path` itself is not judged unless it is a symbolic link:
/// the caller checks what it opens.
///
/// # Errors
/// If the current directory is unknown (for a relative `path`).
pub fn replaceable_by_others(path: &Path) -> io::Result<Option<String>> {
    let me = nix::unistd::geteuid().as_raw();
    let absolute = std::path::absolute(path)?;
    // As named: each step, without following its last component.
    let mut steps = Vec::new();
    let mut prefix = PathBuf::new();
    for component in absolute.components() {
        prefix.push(component);
        if !matches!(component, Component::RootDir) {
            steps.push(prefix.clone());
        }
    }
    let Some(named) = steps.pop() else {
        return Ok(None);
    };
    // As resolved: the directories the path really goes through.
    let resolved = absolute
        .canonicalize()
        .ok()
        .and_then(|real| real.parent().map(Path::to_path_buf));
    // The path itself only as a link: what it is, the caller judges.
    let named = std::fs::symlink_metadata(&named)
        .is_ok_and(|meta| meta.file_type().is_symlink())
        .then_some(named);
    let steps = steps.into_iter().chain(named).chain(
        resolved
            .iter()
            .flat_map(|dir| dir.ancestors().map(Path::to_path_buf)),
    );
    for step in steps {
        let Ok(meta) = std::fs::symlink_metadata(&step) else {
            // Not there (yet): nothing to replace; what is made later is
            // made by tend.
            continue;
        };
        if let Some(why) = judge(&step, &meta, me) {
            return Ok(Some(why));
        }
    }
    Ok(None)
}

/// Why another user could change what `step` leads to, if one could.
fn judge(step: &Path, meta: &std::fs::Metadata, me: u32) -> Option<String> {
    let kind = meta.file_type();
    let what = if kind.is_symlink() {
        "the symbolic link"
    } else if kind.is_dir() {
        "the directory"
    } else {
        return None;
    };
    let (owner, mode) = (meta.uid(), meta.permissions().mode() & 0o7777);
    if owner != me && owner != 0 {
        return Some(format!(
            "{what} {} on the way to it is owned by uid {owner}, not by you (uid {me}) or root",
            step.display()
        ));
    }
    if kind.is_symlink() {
        return None;
    }
    let sticky = mode & 0o1000 != 0;
    if mode & 0o002 != 0 && !sticky {
        return Some(format!(
            "{what} {} on the way to it may be written by anyone (mode {mode:04o})",
            step.display()
        ));
    }
    if me == 0 && mode & 0o020 != 0 && meta.gid() != 0 && !sticky {
        return Some(format!(
            "{what} {} on the way to it may be written by its group (gid {}, mode {mode:04o})",
            step.display(),
            meta.gid()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_path_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tend.toml");
        std::fs::write(&file, "").unwrap();
        assert_eq!(replaceable_by_others(&file).unwrap(), None);
    }

    #[test]
    fn a_directory_anyone_may_write_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let file = open.join("tend.toml");
        std::fs::write(&file, "").unwrap();
        let why = replaceable_by_others(&file).unwrap().unwrap();
        assert!(
            why.contains("may be written by anyone (mode 0777)"),
            "{why}"
        );
        // Sticky, as /tmp: others cannot replace what is not theirs.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(replaceable_by_others(&file).unwrap(), None);
    }

    #[test]
    fn a_link_through_an_open_directory_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("private");
        let open = dir.path().join("open");
        std::fs::create_dir(&private).unwrap();
        std::fs::create_dir(&open).unwrap();
        let file = private.join("tend.toml");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let link = open.join("tend.toml");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        // The link is private's file, but anyone may swap the link.
        let why = replaceable_by_others(&link).unwrap().unwrap();
        assert!(why.contains(&open.display().to_string()), "{why}");
        // And a private link to a file in an open directory.
        let open_file = open.join("real.toml");
        std::fs::write(&open_file, "").unwrap();
        let private_link = private.join("link.toml");
        std::os::unix::fs::symlink(&open_file, &private_link).unwrap();
        let why = replaceable_by_others(&private_link).unwrap().unwrap();
        assert!(why.contains(&open.display().to_string()), "{why}");
    }
}
