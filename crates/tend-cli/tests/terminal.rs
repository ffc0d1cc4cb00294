//! A service's output cannot drive the operator's terminal: escape
//! sequences it prints (set the title, clear the screen) and sends as its
//! sd_notify `STATUS=` are shown escaped by `tend up` in the foreground,
//! `tend logs`, `tend status` and `tend top`, each run in a real terminal
//! (tmux: `capture-pane` reads the screen, `#{pane_title}` says whether
//! the title was set); `tend logs --raw` passes the bytes. Each screen
//! checked is kept under the target directory (`tmp/terminal-captures/`).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{suite, Project, DEADLINE};

/// Prints a title and a clear-screen sequence, and says the same in its
/// `STATUS=`.
const LOUD: &str = r#"
[services.loud]
shell = '''printf '\033]0;pwned\007\033[2J after\n'; systemd-notify --ready --status="$(printf 'st \033]0;pwned2\007\033[2J end')"; exec sleep 1000'''
ready = { notify = true, timeout = "20s" }
"#;

/// What the service's line looks like escaped.
const SHOWN: &str = r"\x1b]0;pwned\x07\x1b[2J after";

/// What its status looks like escaped.
const STATUS_SHOWN: &str = r"st \x1b]0;pwned2\x07\x1b[2J end";

/// A tmux server of the test's own; each command runs in a window of it.
struct Terminal {
    socket: String,
    dir: std::path::PathBuf,
    captures: std::path::PathBuf,
}

impl Terminal {
    /// A server for `project`, or `None` (the test returns) where
    /// `TEND_SKIP_SUITES` lists `tmux`.
    fn open(project: &Project, name: &str) -> Option<Terminal> {
        if !suite::runs("tmux", || {
            suite::tool("tmux", &["-V"], "apt-get install tmux")
        }) {
            return None;
        }
        let captures = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("terminal-captures")
            .join(name);
        std::fs::create_dir_all(&captures).unwrap();
        Some(Terminal {
            socket: format!("tend-terminal-{}-{name}", std::process::id()),
            dir: project.dir.path().to_path_buf(),
            captures,
        })
    }

    /// Runs `tend ARGS` in a new window named `window` (the first starts
    /// the server), then keeps the window open.
    fn run(&self, window: &str, args: &str) {
        let command = format!(
            "cd {} && env -u TEND_CONFIG -u TEND_STATE_DIR -u TEND_SOCKET {} {args}; echo ENDED-$?; sleep 120",
            self.dir.display(),
            env!("CARGO_BIN_EXE_tend")
        );
        let first = self.tmux(&["has-session"]).is_none();
        let mut tmux = Command::new("tmux");
        tmux.args(["-L", &self.socket, "-f", "/dev/null"]);
        if first {
            tmux.args([
                "new-session",
                "-d",
                "-s",
                "t",
                "-n",
                window,
                "-x",
                "200",
                "-y",
                "40",
            ]);
        } else {
            tmux.args(["new-window", "-d", "-t", "t:", "-n", window]);
        }
        let status = tmux
            .args(["-e", "TERM=xterm-256color", &command])
            .status()
            .unwrap();
        assert!(status.success(), "tmux could not open {window}");
    }

    fn tmux(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The screen of `window` as text.
    fn screen(&self, window: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &format!("t:{window}")])
            .unwrap_or_default()
    }

    /// The title the programs in `window` gave its pane.
    fn title(&self, window: &str) -> String {
        self.tmux(&[
            "display",
            "-p",
            "-t",
            &format!("t:{window}"),
            "#{pane_title}",
        ])
        .unwrap_or_default()
        .trim_end()
        .to_owned()
    }

    /// Waits until `window`'s screen satisfies `condition`; keeps it.
    fn wait(&self, window: &str, condition: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(window);
            if condition(&screen) {
                std::fs::write(self.captures.join(format!("{window}.txt")), &screen).unwrap();
                return screen;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {window}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

#[test]
fn a_service_s_escape_sequences_are_shown_escaped_on_a_terminal() {
    let project = Project::new(LOUD);
    let Some(t) = Terminal::open(&project, "escaped") else {
        return;
    };
    // The foreground daemon's echo of the service's output.
    t.run("up", "up");
    project.wait_for("the service to be ready with its status", || {
        project
            .tend(&["status", "--json"])
            .stdout
            .windows(b"pwned2".len())
            .any(|w| w == b"pwned2")
    });
    let up = t.wait("up", |s| s.contains(" after"));
    assert!(up.contains(&format!("loud | {SHOWN}")), "{up}");
    assert_ne!(t.title("up"), "pwned", "the echo set the title");

    t.run("logs", "logs loud");
    let logs = t.wait("logs", |s| s.contains("ENDED-"));
    assert!(logs.contains(SHOWN), "tend logs: {logs}");
    assert!(logs.contains("ENDED-0"), "{logs}");
    assert_ne!(t.title("logs"), "pwned", "tend logs set the title");

    t.run("status", "status loud");
    let status = t.wait("status", |s| s.contains("ENDED-"));
    assert!(status.contains(STATUS_SHOWN), "tend status: {status}");
    assert_ne!(t.title("status"), "pwned2", "tend status set the title");

    t.run("top", "top --interval 500ms");
    let top = t.wait("top", |s| s.contains(r"\x1b]0;pwned\x07"));
    assert!(top.contains("logs of loud"), "{top}");
    assert_ne!(t.title("top"), "pwned");

    // `--raw`: the bytes as the service wrote them (the terminal obeys).
    t.run("raw", "logs --raw loud");
    t.wait("raw", |s| s.contains("ENDED-0"));
    let start = Instant::now();
    while t.title("raw") != "pwned" {
        assert!(
            start.elapsed() < DEADLINE,
            "--raw did not pass the bytes: title {:?}, screen:\n{}",
            t.title("raw"),
            t.screen("raw")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!t.screen("raw").contains(r"\x1b"));

    // A pipe gets the bytes as they are too.
    let piped = project.tend(&["logs", "loud"]).stdout;
    assert_eq!(piped, b"\x1b]0;pwned\x07\x1b[2J after\n");
    assert_eq!(project.tend(&["down"]).status.code(), Some(0));
}

/// `tend up --raw` echoes the services' output as it is on a terminal too,
/// as `--raw` promises for every command that prints it.
#[test]
fn tend_up_raw_passes_a_service_s_bytes_to_the_terminal() {
    let project = Project::new(
        r#"
[services.loud]
shell = '''printf '\033]0;pwned\007 after\n'; exec sleep 1000'''
"#,
    );
    let Some(t) = Terminal::open(&project, "up-raw") else {
        return;
    };
    // Stopped whatever the test saw: tmux's end leaves it running (on a
    // terminal that hangs up, tend up runs on).
    let _down = Down(&project);
    t.run("up", "up --raw");
    let start = Instant::now();
    while t.title("up") != "pwned" {
        assert!(
            start.elapsed() < DEADLINE,
            "tend up --raw did not pass the bytes: title {:?}, screen:\n{}",
            t.title("up"),
            t.screen("up")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let up = t.wait("up", |s| s.contains("loud | ") && s.contains(" after"));
    assert!(!up.contains(r"\x1b"), "{up}");
    assert_eq!(project.tend(&["down"]).status.code(), Some(0));
}

/// Runs `tend down` for its project when dropped.
struct Down<'a>(&'a Project);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.tend(&["down"]);
    }
}
