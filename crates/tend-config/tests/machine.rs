//! What `tend up` would hit on this machine is found by `load_here` (so by
//! `tend check`, `tend up` and a reload), each at its place; and the file
//! itself is read only when it is a regular file of a sane size.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use tend_config::{ConfigError, Diagnostic, FindRuntime, MAX_CONFIG_SIZE};
use tend_spec::Runtime;

/// A directory of its own, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("tend-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let file = self.0.join(name);
        std::fs::write(&file, text).unwrap();
        file
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const PODMAN: FindRuntime = |_| Ok(Runtime::Podman);

fn problems(file: &Path) -> Vec<Diagnostic> {
    match tend_config::load_here(file, PODMAN) {
        Err(ConfigError::Invalid(list)) => list,
        other => panic!("expected problems, got {other:?}"),
    }
}

fn places(found: &[Diagnostic]) -> Vec<(usize, usize, &str)> {
    found
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str()))
        .collect()
}

#[test]
fn what_a_start_would_hit_is_an_error_at_its_key() {
    let dir = Dir::new("machine");
    dir.file("plain", "#!/bin/sh\n");
    std::fs::create_dir(dir.0.join("bin")).unwrap();
    let tool = dir.file("bin/tool", "#!/bin/sh\n");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.file(
        "tend.toml",
        r#"[services.nowhere]
command = ["sleep", "1"]
cwd = "missing"

[services.filed]
command = ["sleep", "1"]
cwd = "plain"

[services.nobody]
command = ["sleep", "1"]
user = "no-such-user-here"

[services.typo]
command = ["slepe", "1"]

[services.relative]
command = ["./nope"]

[services.private]
command = ["tool"]
env = { PATH = "/nonexistent" }

[services.own-path]
command = ["tool"]
cwd = "."
env = { PATH = "bin" }

[services.shell]
shell = "exec no-such-program-anywhere"

[services.boxed]
command = ["no-such-program-in-the-image"]
cwd = "/not/on/this/host"
user = "no-such-user-here"
container = { image = "busybox" }
"#,
    );
    let found = problems(&file);
    let d = dir.0.display();
    assert_eq!(
        places(&found),
        [
            (
                3,
                7,
                &*format!("the working directory {d}/missing of [services.nowhere] does not exist")
            ),
            (
                7,
                7,
                &*format!("the working directory {d}/plain of [services.filed] is not a directory")
            ),
            (
                11,
                8,
                "no such user \"no-such-user-here\" for [services.nobody]"
            ),
            (
                14,
                11,
                &*format!(
                    "program \"slepe\" of [services.typo] is not found on its PATH ({})",
                    std::env::var("PATH").unwrap()
                )
            ),
            (
                17,
                11,
                &*format!(
                    "program \"./nope\" of [services.relative] does not exist ({}/nope)",
                    std::env::current_dir().unwrap().display()
                )
            ),
            (
                20,
                11,
                "program \"tool\" of [services.private] is not found on its PATH (/nonexistent)"
            ),
        ]
    );
    // Not in the list: `own-path` (its relative PATH is from its cwd),
    // `shell` (the line is the shell's: only /bin/sh is looked for) and
    // `boxed` (a container's program, cwd and user are its image's).
    let expected = found[0].expected.as_deref().unwrap();
    assert!(expected.contains("an existing directory"), "{expected}");
}

#[test]
fn a_program_is_looked_for_from_the_services_cwd() {
    let dir = Dir::new("cwd");
    dir.file("plain", "#!/bin/sh\n");
    let script = dir.file("run", "#!/bin/sh\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.file(
        "tend.toml",
        r#"[services.ok]
command = ["./run"]
cwd = "."

[services.noexec]
command = ["./plain"]
cwd = "."

[services.on-path]
command = ["run"]
cwd = "."
env = { PATH = "." }
"#,
    );
    let found = problems(&file);
    assert_eq!(
        places(&found),
        [(
            6,
            11,
            &*format!(
                "program \"./plain\" of [services.noexec] is not executable ({}/plain)",
                dir.0.display()
            )
        )]
    );
    std::fs::set_permissions(dir.0.join("plain"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = tend_config::load_here(&file, PODMAN).unwrap();
    assert_eq!(config.services.len(), 3);
}

#[test]
fn a_command_line_over_the_kernels_limit_is_refused() {
    let dir = Dir::new("argmax");
    // 800,000 empty arguments: 2.4 MB of file, 7.2 MB for execve (a byte
    // and a pointer each), over the kernel's cap of 6 MiB whatever the
    // stack limit.
    let args = vec!["\"\""; 800_000].join(",");
    let file = dir.file(
        "tend.toml",
        &format!(
            "[services.big]\ncommand = [\"true\",{args}]\n\n[services.huge]\nshell = \"{}\"\n",
            "y".repeat(200_000)
        ),
    );
    let found = problems(&file);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].line, found[0].column), (2, 11));
    assert!(
        found[0]
            .message
            .starts_with("the command line and environment of [services.big] are ")
            && found[0].message.contains("(ARG_MAX)"),
        "{}",
        found[0].message
    );
    assert_eq!((found[1].line, found[1].column), (5, 9));
    assert!(
        found[1].message.contains("a string of 200000 bytes")
            && found[1].message.contains("MAX_ARG_STRLEN"),
        "{}",
        found[1].message
    );
}

#[test]
fn nofile_states_its_real_range() {
    let dir = Dir::new("nofile");
    let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let file = dir.file(
        "tend.toml",
        &format!(
            "[services.a]\ncommand = [\"true\"]\nlimits = {{ nofile = {} }}\n",
            nr_open + 1
        ),
    );
    let found = problems(&file);
    assert_eq!(
        places(&found),
        [(
            3,
            21,
            &*format!(
                "`nofile` in services.a.limits is {}, over this machine's most (fs.nr_open)",
                nr_open + 1
            )
        )]
    );
    assert_eq!(
        found[0].expected.as_deref(),
        Some(&*format!("an integer from 1 to {nr_open}"))
    );
    // Out of what any Linux takes, the file alone says so.
    let file = dir.file(
        "tend.toml",
        "[services.a]\ncommand = [\"true\"]\nlimits = { nofile = 99999999999 }\n",
    );
    let found = problems(&file);
    assert_eq!(
        found[0].to_string(),
        format!(
            "{}:3:21: `nofile` in services.a.limits is 99999999999, out of range; expected an integer from 1 to 2147483584",
            file.display()
        )
    );
}

#[test]
fn only_a_regular_file_of_a_sane_size_is_read() {
    let dir = Dir::new("bounded");
    let cases: [(&Path, &str); 2] = [
        (Path::new("/dev/zero"), "a character device"),
        (&dir.0, "a directory"),
    ];
    for (path, what) in cases {
        let error = tend_config::load(path).unwrap_err();
        assert!(matches!(error, ConfigError::NotAFile { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read {}: it is {what}, not a regular file",
                path.display()
            )
        );
    }
    // A FIFO is refused without waiting for a writer.
    let fifo = dir.0.join("fifo");
    nix_mkfifo(&fifo);
    let error = tend_config::load(&fifo).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "cannot read {}: it is a FIFO, not a regular file",
            fifo.display()
        )
    );
    // Over the limit: refused before reading (a sparse file costs nothing).
    let big = dir.0.join("big.toml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(MAX_CONFIG_SIZE + 1)
        .unwrap();
    let error = tend_config::load(&big).unwrap_err();
    assert!(matches!(error, ConfigError::TooLarge { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "cannot read {}: it is larger than 4 MiB, the most a config file may be",
            big.display()
        )
    );
    // At the limit, it is read (and is wrong as TOML, not as a file).
    std::fs::File::create(&big)
        .unwrap()
        .set_len(MAX_CONFIG_SIZE)
        .unwrap();
    assert!(matches!(
        tend_config::load(&big).unwrap_err(),
        ConfigError::Invalid(_)
    ));
    // Not UTF-8: said once, with where.
    let binary = dir.0.join("binary.toml");
    std::fs::write(&binary, b"# caf\xe9\n").unwrap();
    assert_eq!(
        tend_config::load(&binary).unwrap_err().to_string(),
        format!(
            "cannot read {}: it is not UTF-8 text (byte 5 is not)",
            binary.display()
        )
    );
}

fn nix_mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}
