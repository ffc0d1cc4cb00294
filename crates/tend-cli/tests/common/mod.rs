//! Running the real `tend` binary against real configs, and waiting on
//! conditions with generous deadlines (never fixed sleeps).

#![allow(dead_code)]

pub mod mount;
#[path = "../../../tend-testkit/tests/common/suite.rs"]
pub mod suite;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const DEADLINE: Duration = Duration::from_secs(30);

/// A loopback port nothing listens on (for a config's `[api] listen`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the live views' tests look at: a service that traps HUP and
/// chatters, a quiet one, and a group (`g`) with a service and two
/// replicas; each says hello on start.
pub const FOUR_SERVICES: &str = r#"
[services.alpha]
shell = "trap 'echo alpha got HUP' HUP; echo alpha says hello; while true; do sleep 0.1; done"

[services.beta]
shell = "echo beta says hello; while true; do sleep 1; done"

[services.gamma]
shell = "echo gamma says hello; while true; do sleep 1; done"

[services.delta]
shell = "while true; do sleep 1; done"
replicas = 2

[groups.g]
services = ["gamma", "delta"]
"#;

/// A directory with a `tend.toml` and a `tend up` running on it.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub daemon: Option<Child>,
    /// The user (uid, gid) its `tend` commands run as, when not this
    /// process's: the CLI talks only to a daemon of its own user or root.
    pub user: Option<(u32, u32)>,
}

impl Project {
    /// A project whose config is `config`.
    pub fn new(config: &str) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("tend-e2e")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("tend.toml"), config).unwrap();
        Project {
            dir,
            daemon: None,
            user: None,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(self.path("tend.toml"), config).unwrap();
    }

    /// `program`, to run in the project directory with none of tend's
    /// own environment variables (the project's config is found there).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(self.dir.path())
            .env_remove("TEND_CONFIG")
            .env_remove("TEND_STATE_DIR")
            .env_remove("TEND_SOCKET");
        command
    }

    /// `tend ARGS` in the project directory.
    pub fn tend(&self, args: &[&str]) -> Output {
        let mut command;
        if let Some((uid, gid)) = self.user {
            use std::os::unix::process::CommandExt as _;
            command = self.command(suite::for_others(env!("CARGO_BIN_EXE_tend")));
            command.uid(uid).gid(gid);
        } else {
            command = self.command(env!("CARGO_BIN_EXE_tend"));
        }
        command.args(args).output().unwrap()
    }

    /// `tend ARGS`, given up on (killed, and an error) after `limit`: a
    /// hang is a failure, not a stuck test.
    pub fn tend_within(&self, args: &[&str], limit: Duration) -> Result<Output, String> {
        let child = self
            .command(env!("CARGO_BIN_EXE_tend"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let (sent, got) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sent.send(child.wait_with_output());
        });
        got.recv_timeout(limit).map(Result::unwrap).map_err(|_| {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            format!("`tend {}` hung ({} s)", args.join(" "), limit.as_secs())
        })
    }

    /// `tend ARGS`, which must succeed; its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.tend(args);
        assert!(
            out.status.success(),
            "tend {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts `tend up` in the foreground (output to files) and waits
    /// until its API answers.
    pub fn up(&mut self) {
        self.up_with(&[]);
    }

    /// `up`, with these environment variables set for `tend up`.
    pub fn up_with(&mut self, env: &[(&str, &str)]) {
        let out = std::fs::File::create(self.path("up.out")).unwrap();
        let err = std::fs::File::create(self.path("up.err")).unwrap();
        let child = self
            .command(env!("CARGO_BIN_EXE_tend"))
            .arg("up")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        self.daemon = Some(child);
        self.wait_for("the API to answer", || {
            self.tend(&["status", "--json"]).status.success()
        });
    }

    /// `tend status --json`.
    pub fn status(&self) -> Vec<Value> {
        let text = self.ok(&["status", "--json"]);
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// The status of one instance.
    pub fn service(&self, name: &str) -> Value {
        self.status()
            .into_iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in status"))
    }

    /// Waits until `condition` holds, or fails the test after the deadline.
    pub fn wait_for(&self, what: &str, mut condition: impl FnMut() -> bool) {
        let start = Instant::now();
        while !condition() {
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}\n--- up.err:\n{}",
                std::fs::read_to_string(self.path("up.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        if start.elapsed() > Duration::from_secs(2) {
            eprintln!("waited {:?} for {what}", start.elapsed());
        }
    }

    /// Waits until `name` is in `state`; returns its status.
    pub fn wait_state(&self, name: &str, state: &str) -> Value {
        let mut last = Value::Null;
        self.wait_for(&format!("{name} to be {state}"), || {
            last = self.service(name);
            last["state"] == state
        });
        last
    }

    /// `tend down`, then the foreground `tend up` must exit with `code`.
    pub fn down(&mut self) -> i32 {
        self.ok(&["down"]);
        self.wait_exit()
    }

    /// Kills the foreground `tend up` with SIGKILL and waits for it.
    pub fn kill_9(&mut self) {
        let daemon = self.daemon.as_ref().expect("tend up is running").id();
        Command::new("kill")
            .args(["-KILL", &daemon.to_string()])
            .status()
            .unwrap();
        self.wait_exit();
    }

    /// Waits for the foreground `tend up` to exit; its exit code.
    pub fn wait_exit(&mut self) -> i32 {
        let mut daemon = self.daemon.take().expect("tend up is running");
        let start = Instant::now();
        loop {
            if let Some(status) = daemon.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(start.elapsed() < DEADLINE, "tend up did not exit");
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(daemon.id().to_string())
                .status();
            let start = Instant::now();
            while daemon.try_wait().ok().flatten().is_none() && start.elapsed() < DEADLINE {
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}

/// Whether a process is alive (not a zombie).
pub fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// `curl` against the control socket: (status, body).
pub fn curl(socket: &Path, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let answer = request(socket, method, path, body);
    (answer.status, answer.body)
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// `curl` against the control socket, with the answer's content type.
pub fn request(socket: &Path, method: &str, path: &str, body: Option<&str>) -> Answer {
    curl_answer(socket, method, path, body, None)
}

/// A GET of a stream, read for `seconds` and then hung up.
pub fn request_for(socket: &Path, path: &str, seconds: u32) -> Answer {
    curl_answer(socket, "GET", path, None, Some(seconds))
}

fn curl_answer(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&str>,
    seconds: Option<u32>,
) -> Answer {
    let mut command = Command::new("curl");
    if let Some(seconds) = seconds {
        command.args(["--max-time", &seconds.to_string()]);
    }
    command
        .args([
            "-s",
            "-S",
            "-o",
            "-",
            "-w",
            "\n%{http_code} %{content_type}",
        ])
        .arg("--unix-socket")
        .arg(socket)
        .args(["-X", method]);
    if let Some(body) = body {
        command.args(["-H", "content-type: application/json", "--data", body]);
    }
    let out = command
        .arg(format!("http://tend{path}"))
        .output()
        .expect("curl runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, trailer) = text.rsplit_once('\n').unwrap();
    let (status, content_type) = trailer.split_once(' ').unwrap_or((trailer, ""));
    Answer {
        status: status.parse().unwrap_or(0),
        content_type: content_type.to_owned(),
        body: body.to_owned(),
    }
}
