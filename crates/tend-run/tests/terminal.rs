//! The command's output cannot drive the operator's terminal: on a real
//! terminal (tmux: `capture-pane` reads the screen, `#{pane_title}` says
//! whether the title was set) `tend-run` shows the escape sequences it
//! prints escaped, as `tend` does; `--raw` passes the bytes, and so does a
//! pipe.

#[path = "../../tend-testkit/tests/common/suite.rs"]
mod suite;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

/// Sets the title, clears the screen, then says a word; and ends.
const LOUD: &str = r"printf '\033]0;pwned\007\033[2J after\n'";

/// Its line, escaped.
const SHOWN: &str = r"\x1b]0;pwned\x07\x1b[2J after";

/// A tmux server of the test's own; each command runs in a window of it.
struct Terminal {
    socket: String,
}

impl Terminal {
    fn open(name: &str) -> Option<Terminal> {
        if !suite::runs("tmux", || {
            suite::tool("tmux", &["-V"], "apt-get install tmux")
        }) {
            return None;
        }
        Some(Terminal {
            socket: format!("tend-run-terminal-{}-{name}", std::process::id()),
        })
    }

    /// Runs `tend-run ARGS` in a new window named `window`, then keeps the
    /// window open.
    fn run(&self, window: &str, args: &str) {
        let command = format!(
            "{} {args}; echo ENDED-$?; sleep 120",
            env!("CARGO_BIN_EXE_tend-run")
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
            .stdin(Stdio::null())
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn screen(&self, window: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &format!("t:{window}")])
            .unwrap_or_default()
    }

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

    /// Waits until `window` says how `tend-run` ended; its screen.
    fn ended(&self, window: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(window);
            if screen.contains("ENDED-") {
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
fn the_command_s_escape_sequences_are_shown_escaped_on_a_terminal() {
    let Some(t) = Terminal::open("escaped") else {
        return;
    };
    let run = format!("--restart never -- sh -c \"{LOUD}\"");
    t.run("escaped", &run);
    let screen = t.ended("escaped");
    assert!(screen.contains(SHOWN), "{screen}");
    assert!(screen.contains("ENDED-0"), "{screen}");
    assert_ne!(
        t.title("escaped"),
        "pwned",
        "tend-run's output set the title"
    );

    // `--raw`: the bytes as the command wrote them (the terminal obeys).
    t.run("raw", &format!("--raw {run}"));
    t.ended("raw");
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

    // A pipe gets the bytes as they are.
    let piped = Command::new(env!("CARGO_BIN_EXE_tend-run"))
        .args(["--restart", "never", "--", "sh", "-c", LOUD])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(piped.stdout, b"\x1b]0;pwned\x07\x1b[2J after\n");
}
