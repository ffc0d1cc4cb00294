//! Containers as children, through a runtime's command line (podman or
//! docker), so that every part of a process child applies unchanged.
//!
//! The process tend spawns and watches is the runtime's client running the
//! container attached (`podman run --name tend-ID …`): it lives exactly as
//! long as the container, exits with its code (128 + n when signal n ended
//! it), and carries its standard output and error. Its exit is the runtime's
//! own wait, seen through a pidfd like any process's end: nothing is
//! polled. What a signal to the client cannot do reliably is done by name
//! through the runtime: a stop is `stop -t`, so the runtime sends the stop
//! signal inside and escalates; a container whose client was killed, or
//! whose incarnation was dropped, is removed with `rm -f`, and so is one
//! that completed. One that failed is kept, exited, until the next start
//! removes it: its logs and filesystem can be inspected meanwhile, and one
//! that failed into isolation (or for good) stays for debugging.
//!
//! Runtimes are driven through their CLIs rather than their HTTP APIs: the
//! CLI is the one interface podman and docker share, and it needs no client
//! crate nor socket path configuration.

use std::io;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tend_engine::{Backend, ChildId, NotAvailable};
use tend_spec::{ContainerSource, ContainerSpec, ProcessSpec, Runtime, Signal};

use crate::command::run_to_end;
use crate::exit::Ended;
use crate::reaper::{self, SpawnLock};

/// How long asking a runtime whether it works may take.
const INFO_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a runtime's `rm -f` may take.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(30);

/// The label naming a container's scope (`ContainerSpec::scope`).
const SCOPE_LABEL: &str = "io.tend.scope";

/// One child's container: which runtime, the name it runs under, and how.
#[derive(Debug)]
pub(crate) struct Container {
    pub(crate) runtime: Runtime,
    pub(crate) name: String,
    pub(crate) settings: ContainerSpec,
    /// Set when an isolation stopped it to keep: no stop removes it then,
    /// until the next start.
    kept: AtomicBool,
}

impl Container {
    /// The container of child `id` on `runtime`, named `tend-SCOPE-ID` (what
    /// a runtime refuses in a name replaced).
    pub(crate) fn new(runtime: Runtime, id: &ChildId, settings: ContainerSpec) -> Container {
        let scoped = match &settings.scope {
            Some(scope) => format!("{scope}-{id}"),
            None => id.to_string(),
        };
        let name = scoped
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>();
        Container {
            runtime,
            name: format!("tend-{name}"),
            settings,
            kept: AtomicBool::new(false),
        }
    }

    /// The runtime's client running the container of `spec`, attached: the
    /// process spawned for an incarnation. The service's environment,
    /// directory, user, rlimits and limits are the container's; the client
    /// itself runs with the supervisor's environment and no limit.
    ///
    /// # Errors
    /// What a container cannot do: sd_notify readiness or a watchdog (the
    /// notify socket does not reach inside).
    pub(crate) fn client(&self, spec: &ProcessSpec) -> Result<ProcessSpec, String> {
        if spec.ready.notify || spec.watchdog.is_some() {
            return Err(
                "a container cannot use sd_notify (`ready.notify`, `watchdog`); use `ready.log`, a file or a probe"
                    .to_owned(),
            );
        }
        let container = &self.settings;
        let mut args: Vec<String> = vec!["run".into(), "--name".into(), self.name.clone()];
        if let Some(scope) = &container.scope {
            // How a crashed tend's next run finds what it left.
            args.extend(["--label".into(), format!("{SCOPE_LABEL}={scope}")]);
        }
        args.extend([
            "--stop-signal".into(),
            spec.stop.signal.to_string(),
            "--stop-timeout".into(),
            whole_seconds(spec.stop.timeout).to_string(),
        ]);
        // A container's environment is its image's and the spec's: nothing
        // of the host's is passed, whatever `env.inherit` says.
        for (key, value) in &spec.env.set {
            args.extend(["--env".into(), format!("{key}={value}")]);
        }
        if let Some(cwd) = &spec.cwd {
            args.extend(["--workdir".into(), cwd.display().to_string()]);
        }
        if let Some(user) = &spec.user {
            let user = match &spec.group {
                Some(group) => format!("{user}:{group}"),
                None => user.clone(),
            };
            args.extend(["--user".into(), user]);
        }
        for group in spec.groups.iter().flatten() {
            args.extend(["--group-add".into(), group.clone()]);
        }
        for (name, value) in rlimits(spec) {
            args.extend(["--ulimit".into(), format!("{name}={value}:{value}")]);
        }
        if let Some(memory) = spec.limits.memory {
            args.extend(["--memory".into(), memory.to_string()]);
        }
        if let Some(cpu) = spec.limits.cpu {
            args.extend(["--cpus".into(), cpu.to_string()]);
        }
        if let Some(pids) = spec.limits.pids {
            args.extend(["--pids-limit".into(), pids.to_string()]);
        }
        if let Some(network) = &container.network {
            args.extend(["--network".into(), network.clone()]);
        }
        for volume in &container.volumes {
            args.extend(["--volume".into(), volume.clone()]);
        }
        for port in &container.publish {
            args.extend(["--publish".into(), port.clone()]);
        }
        args.extend(container.args.iter().cloned());
        match &container.source {
            ContainerSource::Image(image) => args.push(image.clone()),
            ContainerSource::Rootfs(dir) => {
                args.extend(["--rootfs".into(), dir.display().to_string()]);
            }
        }
        if spec.shell {
            args.extend(["/bin/sh".into(), "-c".into()]);
        }
        args.extend(spec.command.iter().filter(|s| !s.is_empty()).cloned());
        let mut client = ProcessSpec::new(self.runtime.program(), args);
        client.stop = spec.stop;
        client.success_codes.clone_from(&spec.success_codes);
        client.stdin.clone_from(&spec.stdin);
        if client.stdin.is_some() {
            // After `run`: the client passes its standard input on.
            client.command.insert(2, "--interactive".into());
        }
        Ok(client)
    }

    /// The runtime's command running `argv` in the container (an exec
    /// probe).
    pub(crate) fn exec(&self, argv: &[String]) -> ProcessSpec {
        let mut args = vec!["exec".to_owned(), self.name.clone()];
        args.extend(argv.iter().cloned());
        ProcessSpec::new(self.runtime.program(), args)
    }

    /// Before a start: the last incarnation's container (kept, exited), or
    /// one left by a supervisor that died, is removed. (Podman's `run
    /// --replace` would print the name it replaced into the service's log.)
    pub(crate) async fn clear(&self) {
        self.kept.store(false, Ordering::Release);
        self.remove().await;
    }

    /// Stops the container to keep it (an isolation): stopped, not removed.
    pub(crate) async fn stop_to_keep(&self, timeout: Duration) -> io::Result<()> {
        self.kept.store(true, Ordering::Release);
        self.stop(timeout).await
    }

    /// Removes the container after a stop, unless it is kept.
    pub(crate) async fn remove_unless_kept(&self) {
        if !self.kept.load(Ordering::Acquire) {
            self.remove().await;
        }
    }

    /// Asks the runtime to stop the container: the stop signal inside, up to
    /// `timeout`, then `SIGKILL`. Returns once the runtime has done so.
    pub(crate) async fn stop(&self, timeout: Duration) -> io::Result<()> {
        let mut command = Command::new(self.runtime.program());
        command
            .arg("stop")
            .arg("-t")
            .arg(whole_seconds(timeout).to_string())
            .arg(&self.name);
        let finished = run_to_end(command, timeout + REMOVE_TIMEOUT).await?;
        if finished.success() {
            Ok(())
        } else {
            Err(io::Error::other(last_line(&finished.stderr)))
        }
    }

    /// Sends `signal` to the container's main process, through the runtime
    /// (`kill --signal`): the runtime knows the process inside, whatever
    /// the host's pids did meanwhile.
    pub(crate) async fn signal(&self, signal: Signal) -> Result<(), String> {
        let mut command = Command::new(self.runtime.program());
        command
            .arg("kill")
            .arg(format!("--signal={}", signal.number()))
            .arg(&self.name);
        let finished = run_to_end(command, INFO_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        if finished.success() {
            Ok(())
        } else {
            Err(last_line(&finished.stderr))
        }
    }

    /// The host's pid of the container's main process, once it runs (asked
    /// every 100 ms for up to 10 s: the client creates the container after
    /// it is spawned); `None` if it never ran. Published as the child's
    /// pid, a signal (`tend signal`) reaches inside and usage is the
    /// container's main process's, not the client's.
    pub(crate) async fn main_pid(&self) -> Option<i32> {
        for _ in 0..100 {
            let mut inspect = Command::new(self.runtime.program());
            inspect
                .args(["container", "inspect", "--format", "{{.State.Pid}}"])
                .arg(&self.name);
            if let Ok(finished) = run_to_end(inspect, INFO_TIMEOUT).await {
                let pid = String::from_utf8_lossy(&finished.stdout)
                    .trim()
                    .parse::<i32>();
                if let Ok(pid @ 1..) = pid {
                    return Some(pid);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// Removes the container, killing it if it runs.
    pub(crate) async fn remove(&self) {
        remove(self.runtime, &self.name).await;
    }

    /// Removes the container from a thread of its own: what a dropped
    /// incarnation (no runtime to await on) leaves.
    pub(crate) fn remove_detached(&self) {
        if self.kept.load(Ordering::Acquire) {
            return;
        }
        let (program, args) = (
            self.runtime.program(),
            remove_args(self.runtime, &self.name),
        );
        let spawned = std::thread::Builder::new()
            .name("tend-container-rm".into())
            .spawn(move || {
                let _ = blocking(Command::new(program).args(args), REMOVE_TIMEOUT);
            });
        if let Err(error) = spawned {
            tracing::warn!(container = %self.name, %error, "cannot remove the container");
        }
    }
}

/// Removes container `name`, killing it if it runs.
async fn remove(runtime: Runtime, name: &str) {
    let mut command = Command::new(runtime.program());
    command.args(remove_args(runtime, name));
    if let Err(error) = run_to_end(command, REMOVE_TIMEOUT).await {
        tracing::warn!(container = %name, %error, "cannot remove the container");
    }
}

fn remove_args(runtime: Runtime, name: &str) -> Vec<String> {
    let mut args = vec!["rm".to_owned(), "--force".to_owned()];
    if runtime == Runtime::Podman {
        // Killed at once: a stop, if there was one, is over.
        args.extend(["--time".into(), "0".into()]);
    }
    args.push(name.to_owned());
    args
}

/// Removes every container of `scope`, running or not, on every runtime
/// that works here: what a supervisor killed with SIGKILL left (the
/// runtime keeps a container running without its client). Returns the
/// names removed.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// for name in tend_process::remove_scope("3fa9c2d1").await {
///     eprintln!("removed {name}, left by a killed tend");
/// }
/// # }
/// ```
pub async fn remove_scope(scope: &str) -> Vec<String> {
    let mut removed = Vec::new();
    for runtime in Runtime::ALL {
        if works(runtime).is_err() {
            continue;
        }
        let mut list = Command::new(runtime.program());
        list.args(["ps", "--all", "--format", "{{.Names}}", "--filter"])
            .arg(format!("label={SCOPE_LABEL}={scope}"));
        let Ok(listed) = run_to_end(list, INFO_TIMEOUT).await else {
            continue;
        };
        for name in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
            remove(runtime, name).await;
            removed.push(name.to_owned());
        }
    }
    removed
}

/// How the runtime's client ended, as the container ended: the runtimes
/// exit with 128 + n when signal n ended the container.
pub(crate) fn container_end(ended: Ended) -> Ended {
    match ended {
        Ended::Code(code @ 129..=192) => {
            tend_spec::Signal::from_number(code - 128).map_or(ended, Ended::Signal)
        }
        other => other,
    }
}

/// Finds the runtime that will run `spec`'s container: the one it names,
/// or podman, else docker; each asked once whether it works here (`info`),
/// a yes remembered.
///
/// # Errors
/// [`NotAvailable`] saying why none works.
///
/// # Examples
///
/// ```no_run
/// use tend_spec::{ContainerSource, ContainerSpec};
///
/// let spec = ContainerSpec::new(ContainerSource::Image("docker.io/library/redis:7".into()));
/// match tend_process::find_runtime(&spec) {
///     Ok(runtime) => println!("runs on {runtime}"),
///     Err(error) => eprintln!("{error}"),
/// }
/// ```
pub fn find_runtime(spec: &ContainerSpec) -> Result<Runtime, NotAvailable> {
    let candidates: &[Runtime] = match &spec.runtime {
        Some(runtime) => std::slice::from_ref(runtime),
        None => &Runtime::ALL,
    };
    let mut reasons = Vec::new();
    for &runtime in candidates {
        let fits = match (&spec.source, runtime) {
            (ContainerSource::Rootfs(_), Runtime::Docker) => Err(
                "docker cannot run a directory as a root filesystem (`rootfs`); use podman, or an image"
                    .to_owned(),
            ),
            _ => works(runtime),
        };
        match fits {
            Ok(()) => return Ok(runtime),
            Err(reason) => reasons.push(reason),
        }
    }
    let reason = if spec.runtime.is_some() {
        reasons.join("; ")
    } else {
        format!("no container runtime works here: {}", reasons.join("; "))
    };
    Err(NotAvailable::new(Backend::Container, reason))
}

/// Whether `runtime` answers `info` (docker: reaches its daemon).
fn works(runtime: Runtime) -> Result<(), String> {
    static WORKS: [OnceLock<()>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = &WORKS[Runtime::ALL.iter().position(|r| *r == runtime).unwrap_or(0)];
    if slot.get().is_some() {
        return Ok(());
    }
    let program = runtime.program();
    let mut info = Command::new(program);
    info.arg("info");
    match blocking(&mut info, INFO_TIMEOUT) {
        Ok(finished) if finished.0 == Some(Ended::Code(0)) => {
            let _ = slot.set(());
            Ok(())
        }
        Ok((_, stderr)) => Err(format!("{program}: {}", last_line(&stderr))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            Err(format!("{program}: not found on PATH"))
        }
        Err(error) => Err(format!("{program} info: {error}")),
    }
}

/// Runs `command` to its end on this thread, killing it after `timeout`: for
/// callers outside any async runtime (a config check). Tracked from its
/// spawn, so the orphan reaper leaves its status here. How it ended (none:
/// killed at the timeout) and its standard error.
fn blocking(command: &mut Command, timeout: Duration) -> io::Result<(Option<Ended>, Vec<u8>)> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let lock = SpawnLock::acquire();
    let child = command.spawn()?;
    let pid = i32::try_from(child.id()).map_err(io::Error::other)?;
    lock.track(pid);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = match receiver.recv_timeout(timeout) {
        Ok(output) => output,
        Err(_) => {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            let _ = receiver.recv();
            reaper::reaped(pid);
            return Ok((None, b"did not answer in time".to_vec()));
        }
    };
    reaper::reaped(pid);
    let output = output?;
    let ended = Ended::decode(output.status.code(), {
        use std::os::unix::process::ExitStatusExt;
        output.status.signal()
    });
    Ok((ended, output.stderr))
}

/// The rlimits a spec sets, by the runtimes' `--ulimit` names.
fn rlimits(spec: &ProcessSpec) -> Vec<(&'static str, u64)> {
    let r = &spec.rlimits;
    [
        ("nofile", r.nofile),
        ("nproc", r.nproc),
        ("core", r.core),
        ("as", r.address_space),
        ("stack", r.stack),
        ("memlock", r.memlock),
        ("cpu", r.cpu),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value?)))
    .collect()
}

/// A stop timeout in the whole seconds runtimes take, rounded up.
fn whole_seconds(timeout: Duration) -> u64 {
    timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0)
}

/// The last non-empty line of a runtime's error output, without its
/// `Error: ` prefix.
fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("failed, and said nothing");
    line.strip_prefix("Error: ").unwrap_or(line).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_runs_the_container_with_the_services_settings() {
        let mut spec = ProcessSpec::new("redis-server", ["--port", "7000"]);
        spec.env.set.insert("MODE".into(), "test".into());
        spec.limits.memory = Some(64 << 20);
        spec.rlimits.nofile = Some(1024);
        spec.stop.timeout = Duration::from_millis(2500);
        let mut container = ContainerSpec::new(ContainerSource::Image("redis:7".into()));
        container.network = Some("host".into());
        let c = Container::new(Runtime::Podman, &ChildId::from("cache.1"), container);
        let client = c.client(&spec).unwrap();
        let line = client.command.join(" ");
        assert_eq!(client.command[0], "podman");
        assert!(
            line.starts_with("podman run --name tend-cache.1 --stop-signal"),
            "{line}"
        );
        for part in [
            "--stop-signal SIGTERM --stop-timeout 3",
            "--env MODE=test",
            "--ulimit nofile=1024:1024",
            "--memory 67108864",
            "--network host",
        ] {
            assert!(line.contains(part), "{part} not in {line}");
        }
        assert!(line.ends_with("redis:7 redis-server --port 7000"), "{line}");
        assert!(client.limits.memory.is_none(), "the client runs unlimited");
        // A file as standard input is passed on into the container.
        let mut fed = ProcessSpec::new("cat", Vec::<String>::new());
        fed.stdin = Some("/etc/hostname".into());
        let client = c.client(&fed).unwrap();
        assert_eq!(
            client.command[..4],
            ["podman", "run", "--interactive", "--name"]
        );
        assert_eq!(
            client.stdin.as_deref(),
            Some(std::path::Path::new("/etc/hostname"))
        );
    }

    #[test]
    fn names_are_made_safe_and_docker_removes_without_a_timeout() {
        let spec = ProcessSpec::new("", Vec::<String>::new());
        let container = ContainerSpec::new(ContainerSource::Image("nginx".into()));
        let mut notify = ProcessSpec::new("", Vec::<String>::new());
        notify.ready.notify = true;
        let c = Container::new(
            Runtime::Docker,
            &ChildId::from("web/a b"),
            container.clone(),
        );
        assert_eq!(c.name, "tend-web-a-b");
        let mut scoped = container;
        scoped.scope = Some("3fa9c2d1".into());
        let s = Container::new(Runtime::Docker, &ChildId::from("web.2"), scoped);
        assert_eq!(s.name, "tend-3fa9c2d1-web.2");
        let line = s.client(&spec).unwrap().command.join(" ");
        assert!(line.contains("--label io.tend.scope=3fa9c2d1"), "{line}");
        let client = c.client(&spec).unwrap();
        assert_eq!(client.command.last().map(String::as_str), Some("nginx"));
        assert_eq!(
            remove_args(c.runtime, &c.name),
            ["rm", "--force", "tend-web-a-b"]
        );
        assert!(c.client(&notify).unwrap_err().contains("sd_notify"));
    }

    #[test]
    fn a_signal_end_inside_reads_as_that_signal() {
        use tend_spec::Signal;
        assert_eq!(container_end(Ended::Code(137)), Ended::Signal(Signal::Kill));
        assert_eq!(container_end(Ended::Code(143)), Ended::Signal(Signal::Term));
        assert_eq!(container_end(Ended::Code(3)), Ended::Code(3));
        assert_eq!(container_end(Ended::Code(125)), Ended::Code(125));
    }

    #[test]
    fn docker_cannot_run_a_rootfs() {
        let mut spec = ContainerSpec::new(ContainerSource::Rootfs("/srv/root".into()));
        spec.runtime = Some(Runtime::Docker);
        let error = find_runtime(&spec).unwrap_err();
        assert_eq!(error.backend, Backend::Container);
        assert!(
            error.reason.contains("docker cannot run a directory"),
            "{error}"
        );
    }
}
