//! What a start would hit on this machine, found before anything starts:
//! a working directory, user or program that is not there, a command line
//! the kernel refuses. Each is an error at its key, as the file's own
//! mistakes are; otherwise `tend up` would retry the start forever.
//!
//! A container service runs in its image: its program, working directory
//! and user are the image's business, and are not looked for here.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, SysconfVar, Uid, User};
use tend_spec::ProcessSpec;

use crate::error::Diagnostics;
use crate::model::Service;

/// The `PATH` searched when a service has none (as `tend-process` does).
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The kernel's limit on one argument or variable (`MAX_ARG_STRLEN`, 32
/// pages of 4 KiB).
const MAX_ARG_STRLEN: usize = 32 * 4096;

/// The kernel's own cap on argv and environment together, whatever the
/// stack limit (`_STK_LIM / 4 * 3`, fs/exec.c), which `sysconf` ignores.
const KERNEL_ARG_CAP: u64 = 6 << 20;

const PROGRAM: &str = "an executable file: a path (relative to `cwd`), or a name on the \
                       service's PATH (its `env` PATH if set, else tend's own)";

/// Records what would keep `service` from starting here.
pub(crate) fn check(service: &Service, d: &mut Diagnostics<'_>) {
    let spec = &service.process;
    if spec.container.is_some() {
        return;
    }
    let places = service.places;
    let name = &service.name;
    let cwd = match &spec.cwd {
        None => std::env::current_dir().ok(),
        Some(dir) => match directory(dir) {
            Ok(()) => Some(dir.clone()),
            Err(why) => {
                d.at(
                    places.cwd.unwrap_or(places.table),
                    format!(
                        "the working directory {} of [services.{name}] {why}",
                        dir.display()
                    ),
                    Some(
                        "an existing directory (a relative `cwd` is from the config file's \
                         directory)"
                            .to_owned(),
                    ),
                );
                None
            }
        },
    };
    if let (Some(user), Some(at)) = (&spec.user, places.user) {
        if let Some(why) = no_user(user) {
            d.at(
                at,
                format!("{why} for [services.{name}]"),
                Some("a user of this machine, by name or id".to_owned()),
            );
        }
    }
    let command_at = places.command.unwrap_or(places.table);
    let (program, argv) = command_line(spec);
    if !program.is_empty() {
        let env = environment(spec);
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map_or_else(|| OsString::from(DEFAULT_PATH), |(_, v)| v.clone());
        let shown = if spec.shell {
            format!("/bin/sh (which `shell` runs) for [services.{name}]")
        } else {
            format!("program {program:?} of [services.{name}]")
        };
        if let Some(why) = locate(&program, &path, cwd.as_deref()) {
            d.at(
                command_at,
                format!("{shown} {why}"),
                Some(PROGRAM.to_owned()),
            );
        }
        if let Some(why) = too_long(&argv, &env) {
            d.at(
                command_at,
                format!("the command line and environment of [services.{name}] {why}"),
                Some(
                    "a shorter command line or environment (pass large data in a file)".to_owned(),
                ),
            );
        }
    }
    if let (Some(nofile), Some(at), Some(max)) = (spec.rlimits.nofile, places.nofile, nr_open()) {
        if nofile > max {
            d.at(
                at,
                format!(
                    "`nofile` in services.{name}.limits is {nofile}, over this machine's most \
                     (fs.nr_open)"
                ),
                Some(format!("an integer from 1 to {max}")),
            );
        }
    }
}

/// Why `dir` cannot be a working directory, if it cannot.
fn directory(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err("is not a directory".to_owned()),
        Err(error) => Err(match error.kind() {
            std::io::ErrorKind::NotFound => "does not exist".to_owned(),
            std::io::ErrorKind::NotADirectory => {
                "does not exist (a part of it is a file)".to_owned()
            }
            _ => format!("cannot be read: {error}"),
        }),
    }
}

/// Why `user` (a name or a numeric id) is not a user here, if it is not.
fn no_user(user: &str) -> Option<String> {
    let found = match user.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(user),
    };
    match found {
        Ok(Some(_)) => None,
        Ok(None) => Some(format!("no such user {user:?}")),
        Err(error) => Some(format!("cannot look up user {user:?} ({error})")),
    }
}

/// The program the kernel is asked to run, and the whole argv.
fn command_line(spec: &ProcessSpec) -> (String, Vec<String>) {
    match (spec.shell, spec.command.first()) {
        (true, Some(line)) => (
            "/bin/sh".to_owned(),
            vec!["/bin/sh".to_owned(), "-c".to_owned(), line.clone()],
        ),
        (false, Some(program)) => (program.clone(), spec.command.clone()),
        (_, None) => (String::new(), Vec::new()),
    }
}

/// The environment the service gets, as the process backend builds it
/// ([`tend_spec::EnvSpec::build`]); its account's variables left out, the
/// user not looked up (a `user` is taken to be another one than tend's).
fn environment(spec: &ProcessSpec) -> Vec<(OsString, OsString)> {
    spec.env
        .build(std::env::vars_os(), None, spec.user.is_some())
}

/// Why `program` would not run, searched as `execvp` does: a name with a
/// slash as given (from `cwd`), any other on `path`. `None` when it would
/// run, or when a relative place cannot be told (no usable `cwd`).
fn locate(program: &str, path: &OsStr, cwd: Option<&Path>) -> Option<String> {
    // Components again, so `./` parts go from what is shown.
    let from_cwd = |p: &Path| -> Option<PathBuf> {
        if p.is_absolute() {
            Some(p.components().collect())
        } else {
            cwd.map(|c| c.join(p).components().collect())
        }
    };
    if program.contains('/') {
        let file = from_cwd(Path::new(program))?;
        return match std::fs::metadata(&file) {
            Err(_) => Some(format!("does not exist ({})", file.display())),
            Ok(m) if m.is_dir() => Some(format!("is a directory ({})", file.display())),
            Ok(_) if !executable(&file) => Some(format!("is not executable ({})", file.display())),
            Ok(_) => None,
        };
    }
    let mut unsure = false;
    let mut denied = None;
    for dir in std::env::split_paths(path) {
        let Some(dir) = from_cwd(&dir) else {
            unsure = true;
            continue;
        };
        let candidate = dir.join(program);
        if !candidate.is_file() {
            continue;
        }
        if executable(&candidate) {
            return None;
        }
        denied.get_or_insert(candidate);
    }
    match denied {
        Some(file) => Some(format!(
            "is found on its PATH but is not executable ({})",
            file.display()
        )),
        None if unsure => None,
        None => Some(format!(
            "is not found on its PATH ({})",
            String::from_utf8_lossy(path.as_bytes())
        )),
    }
}

fn executable(file: &Path) -> bool {
    nix::unistd::access(file, AccessFlags::X_OK).is_ok()
}

/// Why `argv` and `env` are more than `execve` takes, if they are.
fn too_long(argv: &[String], env: &[(OsString, OsString)]) -> Option<String> {
    let strings = argv
        .iter()
        .map(String::len)
        .chain(env.iter().map(|(k, v)| k.len() + 1 + v.len()));
    let mut total = 0_u64;
    for len in strings {
        if len + 1 > MAX_ARG_STRLEN {
            return Some(format!(
                "hold a string of {len} bytes, over the kernel's limit of {} for one argument \
                 or variable (MAX_ARG_STRLEN)",
                MAX_ARG_STRLEN - 1
            ));
        }
        total += len as u64 + 1;
    }
    let pointers = (argv.len() + env.len()) as u64 * std::mem::size_of::<usize>() as u64;
    total += pointers;
    let limit = arg_max();
    (total > limit)
        .then(|| format!("are {total} bytes, over this machine's limit of {limit} (ARG_MAX)"))
}

/// How much argv and environment `execve` takes here: `sysconf(ARG_MAX)`
/// (a quarter of the stack limit), within the kernel's own cap.
fn arg_max() -> u64 {
    let sysconf = nix::unistd::sysconf(SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(128 << 10);
    sysconf.min(KERNEL_ARG_CAP)
}

/// The most open files a process may have here (`/proc/sys/fs/nr_open`).
fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_found_as_execvp_would() {
        let path = OsStr::new("/nonexistent:/bin:/usr/bin");
        assert_eq!(locate("sh", path, None), None);
        let missing = locate("no-such-program-here", path, None).unwrap();
        assert_eq!(
            missing,
            "is not found on its PATH (/nonexistent:/bin:/usr/bin)"
        );
        assert_eq!(locate("/bin/sh", OsStr::new(""), None), None);
        assert_eq!(
            locate("./sh", OsStr::new(""), Some(Path::new("/bin"))),
            None
        );
        assert_eq!(
            locate("./nope", OsStr::new(""), Some(Path::new("/bin"))).unwrap(),
            "does not exist (/bin/nope)"
        );
        assert_eq!(
            locate("/tmp", OsStr::new(""), None).unwrap(),
            "is a directory (/tmp)"
        );
        // A relative place with no directory to resolve it from: unsure.
        assert_eq!(locate("./x", OsStr::new(""), None), None);
        assert_eq!(locate("x", OsStr::new("bin"), None), None);
    }

    #[test]
    fn a_file_that_is_not_executable_is_told() {
        let dir = std::env::temp_dir().join(format!("tend-locate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain");
        std::fs::write(&file, "#!/bin/sh\n").unwrap();
        let path = dir.as_os_str();
        // Even root needs an x bit to execute a file.
        let why = locate("plain", path, None).unwrap();
        assert!(
            why.starts_with("is found on its PATH but is not executable"),
            "{why}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn argv_and_environment_are_measured_as_the_kernel_does() {
        assert_eq!(too_long(&["true".to_owned()], &[]), None);
        let long = "x".repeat(MAX_ARG_STRLEN);
        let why = too_long(&["echo".to_owned(), long], &[]).unwrap();
        assert!(why.contains("MAX_ARG_STRLEN"), "{why}");
        let many = vec!["y".repeat(100_000); 100];
        let why = too_long(&many, &[]).unwrap();
        assert!(why.contains("ARG_MAX"), "{why}");
    }

    #[test]
    fn a_missing_user_is_named() {
        assert_eq!(no_user("root"), None);
        assert_eq!(no_user("0"), None);
        assert_eq!(
            no_user("no-such-user-here").as_deref(),
            Some("no such user \"no-such-user-here\"")
        );
    }
}
