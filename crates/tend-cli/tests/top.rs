//! `tend top` in a real terminal: tmux runs it, `send-keys` presses its
//! keys and `capture-pane` reads the screen. Navigation, the log pane,
//! the filter and every action (restart, stop, start, kill, signal, on an
//! instance and on a group) are checked on the screen and against the
//! API. Each screen checked is kept under the target directory
//! (`tmp/top-captures/`).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{suite, Project, DEADLINE, FOUR_SERVICES};

/// A tmux server of the test's own, with one session running `tend top`.
struct Terminal {
    socket: String,
    captures: std::path::PathBuf,
    shots: usize,
}

impl Terminal {
    /// Runs `tend top` in `project`'s directory in a 150×45 terminal, or
    /// `None` (the test returns) where `TEND_SKIP_SUITES` lists `tmux`.
    fn open(project: &Project, name: &str) -> Option<Terminal> {
        if !suite::runs("tmux", || {
            suite::tool("tmux", &["-V"], "apt-get install tmux")
        }) {
            return None;
        }
        let socket = format!("tend-top-{}-{name}", std::process::id());
        let captures = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("top-captures")
            .join(name);
        std::fs::create_dir_all(&captures).unwrap();
        let command = format!(
            "cd {} && env -u TEND_CONFIG -u TEND_STATE_DIR -u TEND_SOCKET {} top --interval 500ms; echo TOP-ENDED $?; sleep 60",
            project.dir.path().display(),
            env!("CARGO_BIN_EXE_tend")
        );
        let started = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args([
                "-x",
                "150",
                "-y",
                "45",
                "-e",
                "TERM=xterm-256color",
                &command,
            ])
            .status()
            .unwrap();
        assert!(started.success(), "tmux new-session failed");
        Some(Terminal {
            socket,
            captures,
            shots: 0,
        })
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen as text.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    /// Presses keys (tmux key names: `j`, `Enter`, `Escape`, …).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Types text literally.
    fn text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", text]);
    }

    /// Waits until the screen satisfies `condition`; keeps that screen as
    /// an artefact named `what`.
    fn wait(&mut self, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if condition(&screen) {
                self.shots += 1;
                let file = format!("{:02}-{}.txt", self.shots, what.replace(' ', "-"));
                std::fs::write(self.captures.join(file), &screen).unwrap();
                return screen;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for the screen to show {what}; it shows:\n{screen}"
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

/// The row of `name` in the table (the first line that starts with it,
/// indented or not).
fn row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen.lines().find(|line| {
        let trimmed = line.trim_start_matches(['▾', ' ']);
        trimmed.starts_with(&format!("{name} "))
    })
}

#[test]
fn top_navigates_filters_and_acts_in_a_real_terminal() {
    let mut p = Project::new(FOUR_SERVICES);
    p.up();
    for name in ["alpha", "beta", "gamma", "delta.1", "delta.2"] {
        p.wait_state(name, "running");
    }
    let Some(mut t) = Terminal::open(&p, "actions") else {
        return;
    };
    // The tree: every instance running, the group heading its members,
    // and the first row's logs followed.
    let screen = t.wait("the tree", |s| {
        ["alpha", "beta", "gamma", "delta.1", "delta.2"]
            .iter()
            .all(|n| row(s, n).is_some_and(|r| r.contains("running")))
            && s.contains("logs of alpha")
            && s.contains("alpha says hello")
    });
    assert!(screen.contains("▾ g"), "{screen}");
    assert!(
        row(&screen, "g").unwrap().contains("3/3 running"),
        "{screen}"
    );
    assert!(screen.contains("5 running"), "the header counts: {screen}");
    let alpha_pid = p.service("alpha")["pid"].as_u64().unwrap();
    assert!(
        row(&screen, "alpha")
            .unwrap()
            .contains(&alpha_pid.to_string()),
        "{screen}"
    );

    // Navigation: down to beta, its logs follow.
    t.keys(&["j"]);
    t.wait("beta selected", |s| {
        s.contains("logs of beta") && s.contains("beta says hello")
    });
    t.keys(&["k"]);
    t.wait("alpha selected again", |s| s.contains("logs of alpha"));

    // Restart asks first; "n" cancels and nothing happens.
    t.keys(&["r"]);
    t.wait("the restart question", |s| s.contains("restart alpha? y/n"));
    t.keys(&["n"]);
    t.wait("the cancellation", |s| {
        s.contains("restart alpha: cancelled")
    });
    assert_eq!(p.service("alpha")["pid"].as_u64(), Some(alpha_pid));

    // Restart, confirmed: a new process.
    t.keys(&["r"]);
    t.wait("the restart question", |s| s.contains("restart alpha? y/n"));
    t.keys(&["y"]);
    t.wait("the restart done", |s| s.contains("restart: alpha"));
    p.wait_for("alpha restarted", || {
        let s = p.service("alpha");
        s["state"] == "running" && s["pid"].as_u64() != Some(alpha_pid)
    });
    let new_pid = p.service("alpha")["pid"].as_u64().unwrap();
    t.wait("alpha's new pid", |s| {
        row(s, "alpha").is_some_and(|r| r.contains(&new_pid.to_string()))
    });

    // Signal: a prompt for the signal, then a question.
    t.keys(&["x"]);
    t.wait("the signal prompt", |s| {
        s.contains("signal to send to alpha")
    });
    t.text("hup");
    t.keys(&["Enter"]);
    t.wait("the signal question", |s| {
        s.contains("send HUP to alpha? y/n")
    });
    t.keys(&["y"]);
    t.wait("the signal sent and trapped", |s| {
        s.contains("HUP sent to alpha") && s.contains("alpha got HUP")
    });

    // Stop, then start (no question for a start).
    t.keys(&["s"]);
    t.wait("the stop question", |s| s.contains("stop alpha? y/n"));
    t.keys(&["y"]);
    t.wait("alpha stopped", |s| {
        row(s, "alpha").is_some_and(|r| r.contains("shutdown"))
    });
    assert_eq!(p.service("alpha")["state"], "shutdown");
    t.keys(&["S"]);
    t.wait("alpha started", |s| {
        row(s, "alpha").is_some_and(|r| r.contains("running")) && s.contains("start: alpha")
    });

    // Kill: SIGKILL, and its restart type brings it back.
    let before = p.service("alpha")["pid"].as_u64().unwrap();
    t.keys(&["K"]);
    t.wait("the kill question", |s| s.contains("kill alpha? y/n"));
    t.keys(&["y"]);
    t.wait("alpha killed and restarted", |s| {
        row(s, "alpha").is_some_and(|r| r.contains("killed") && r.contains("running"))
    });
    p.wait_for("alpha back with a new pid", || {
        let s = p.service("alpha");
        s["state"] == "running" && s["pid"].as_u64() != Some(before)
    });
    assert_eq!(p.service("alpha")["restarts"], 1, "the kill was restarted");

    // The filter: only gamma's group and gamma.
    t.keys(&["/"]);
    t.text("gam");
    t.wait("the filter prompt", |s| s.contains("filter: gam"));
    t.keys(&["Enter"]);
    let filtered = t.wait("the filtered tree", |s| {
        row(s, "gamma").is_some() && row(s, "alpha").is_none()
    });
    assert!(row(&filtered, "beta").is_none() && row(&filtered, "delta.1").is_none());

    // An action on the group row acts on every member.
    let group_pids: Vec<u64> = ["gamma", "delta.1", "delta.2"]
        .iter()
        .map(|n| p.service(n)["pid"].as_u64().unwrap())
        .collect();
    t.keys(&["Escape"]);
    t.wait("the filter cleared", |s| row(s, "alpha").is_some());
    t.keys(&["g"]);
    for _ in 0..2 {
        t.keys(&["j"]);
    }
    t.wait("the group selected", |s| s.contains("logs of gamma"));
    t.keys(&["r"]);
    t.wait("the group question", |s| s.contains("restart g? y/n"));
    t.keys(&["y"]);
    t.wait("the group restarted", |s| {
        s.contains("restart: gamma, delta.1, delta.2")
    });
    p.wait_for("every member of g restarted", || {
        ["gamma", "delta.1", "delta.2"]
            .iter()
            .zip(&group_pids)
            .all(|(n, old)| {
                let s = p.service(n);
                s["state"] == "running" && s["pid"].as_u64() != Some(*old)
            })
    });

    // q quits, cleanly.
    t.keys(&["q"]);
    t.wait("top ended", |s| s.contains("TOP-ENDED 0"));
    assert_eq!(p.down(), 0);
}

#[test]
fn top_reconnects_when_tend_comes_back() {
    let mut p = Project::new(
        "[services.solo]\nshell = \"echo solo has pid $$; while true; do sleep 1; done\"\n",
    );
    p.up();
    p.wait_state("solo", "running");
    let Some(mut t) = Terminal::open(&p, "reconnect") else {
        return;
    };
    t.wait("solo running", |s| {
        row(s, "solo").is_some_and(|r| r.contains("running"))
    });
    assert_eq!(p.down(), 0);
    t.wait("the disconnection", |s| s.contains("not connected"));
    p.up();
    p.wait_state("solo", "running");
    let pid = p.service("solo")["pid"].as_u64().unwrap();
    // The picture and the log pane both come from the new daemon.
    t.wait("the new daemon's picture", |s| {
        row(s, "solo").is_some_and(|r| r.contains(&pid.to_string()))
            && !s.contains("not connected")
            && s.contains(&format!("solo has pid {pid}"))
    });
    t.keys(&["q"]);
    t.wait("top ended", |s| s.contains("TOP-ENDED 0"));
    assert_eq!(p.down(), 0);
}

#[test]
fn top_says_clearly_when_tend_is_not_running() {
    let p = Project::new("[services.solo]\nshell = \"sleep 1\"\n");
    let out = p.tend(&["top"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tend is not running"), "{err}");
}

/// `--raw` is not ignored by `tend top` (its screen always escapes a
/// service's text): it is refused as a usage error, and its help says so.
#[test]
fn top_refuses_raw_and_its_help_says_why() {
    let p = Project::new("[services.solo]\nshell = \"sleep 1\"\n");
    for args in [&["top", "--raw"][..], &["--raw", "top"]] {
        let out = p.tend(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("--raw does not apply to `tend top`"),
            "{args:?}: {err}"
        );
    }
    let help = p.ok(&["top", "--help"]);
    assert!(help.contains("--raw\ndoes not apply"), "{help}");
}
