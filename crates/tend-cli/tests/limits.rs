//! The daemon within limits, through the real program: the TCP API
//! demands a token even on loopback (another local user gets a 401);
//! idle or slow clients neither take its descriptors nor keep the control
//! socket out; a few hundred services start under the common 1,024
//! descriptors; a start whose services give up fails `up -d`; and no
//! signal kills it with its default action.

mod common;
#[path = "../../tend-run/tests/common/limits.rs"]
mod limits;
use limits::{may_raise_hard_limits, open_files_limits, sleeping_children_of};

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, Project, DEADLINE};
use serde_json::Value;

/// Held by the tests that use many TCP connections or a fixed port: the
/// 1,100 connections' ephemeral ports could take the port another test's
/// daemon is about to bind.
static TCP_PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `tend ARGS` in the project directory through `sh -c "PREFIX; exec
/// tend ARGS"`: to start it under a lower descriptor limit.
fn tend_under(p: &Project, prefix: &str, args: &str) -> Output {
    tend_under_with(p, &[], prefix, args)
}

/// [`tend_under`] without `CAP_SYS_RESOURCE`: as a user that cannot raise
/// its hard limit (root raises it to fs.nr_open).
fn tend_under_unprivileged(p: &Project, prefix: &str, args: &str) -> Output {
    tend_under_with(p, &DROP_SYS_RESOURCE, prefix, args)
}

/// setpriv(1)'s arguments that take `CAP_SYS_RESOURCE` away from what it
/// runs, root or not.
const DROP_SYS_RESOURCE: [&str; 4] = [
    "setpriv",
    "--inh-caps=-sys_resource",
    "--bounding-set=-sys_resource",
    "--",
];

fn tend_under_with(p: &Project, wrapper: &[&str], prefix: &str, args: &str) -> Output {
    Command::new(wrapper.first().copied().unwrap_or("sh"))
        .args(wrapper.iter().skip(1))
        .args(if wrapper.is_empty() {
            &[][..]
        } else {
            &["sh"][..]
        })
        .arg("-c")
        .arg(format!("{prefix}; exec \"$0\" {args}"))
        .arg(env!("CARGO_BIN_EXE_tend"))
        .current_dir(p.dir.path())
        .env_remove("TEND_CONFIG")
        .env_remove("TEND_STATE_DIR")
        .env_remove("TEND_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The detached daemon's pid, from its lease.
fn daemon_pid(p: &Project) -> u32 {
    let lease: Value = serde_json::from_str(&p.read(".tend/daemon.json")).unwrap();
    u32::try_from(lease["pid"].as_u64().expect("the daemon's pid")).unwrap()
}

/// Waits until `name` is in the status and running (after a reload: it
/// is not there at first).
fn wait_running(p: &Project, name: &str) {
    p.wait_for(&format!("{name} to run"), || {
        p.status()
            .iter()
            .any(|s| s["name"] == name && s["state"] == "running")
    });
}

fn kill(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// `curl` as user `nobody`: the HTTP status.
fn curl_as_nobody(args: &[&str]) -> String {
    let out = Command::new("setpriv")
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .args(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// This test process's own descriptor limit raised (it holds many
/// sockets), through prlimit(1).
fn raise_own_limit(to: u64) {
    let status = Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            &format!("--nofile={to}:{to}"),
        ])
        .status()
        .unwrap();
    assert!(status.success(), "raising this test's descriptor limit");
}

#[test]
fn a_loopback_listener_without_a_configured_token_refuses_other_users() {
    let _alone = TCP_PORTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let port = free_port();
    let mut p = Project::new(&format!(
        "[api]\nlisten = \"127.0.0.1:{port}\"\n\n[services.a]\ncommand = [\"sleep\", \"1000\"]\n"
    ));
    p.up();
    let stop = format!("http://127.0.0.1:{port}/v1/services/a/stop");
    // Another local user: refused, and a nothing stopped.
    assert_eq!(curl_as_nobody(&["-X", "POST", &stop]), "401");
    assert_eq!(p.service("a")["state"], "running");

    // The generated token: the daemon's user's alone, and it works.
    let file = p.path(".tend/api.token");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    assert!(!std::fs::symlink_metadata(&file)
        .unwrap()
        .file_type()
        .is_symlink());
    let token = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert!(token.len() >= 32, "{token:?}");
    let list = |auth: &str| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
            .arg(format!("Authorization: Bearer {auth}"))
            .arg(format!("http://127.0.0.1:{port}/v1/services"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(list(&token), "200");
    assert_eq!(list("0123456789abcdef-a-guess"), "401");

    // `tend dashboard` gives the address with it.
    assert_eq!(
        p.ok(&["dashboard"]).trim(),
        format!("http://127.0.0.1:{port}/#token={token}")
    );

    // The next start keeps it.
    assert_eq!(p.down(), 0);
    p.up();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        token,
        "a new token at the next start"
    );
    assert_eq!(list(&token), "200");
    assert_eq!(p.down(), 0);
}

#[test]
fn idle_connections_take_neither_the_descriptors_nor_the_control_socket() {
    let _alone = TCP_PORTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    raise_own_limit(4096);
    let port = free_port();
    let p = Project::new(&format!(
        "[api]\nlisten = \"127.0.0.1:{port}\"\ntoken = \"a-token-of-the-limits-test\"\n\n\
         [services.a]\ncommand = [\"sleep\", \"1000\"]\n"
    ));
    // The daemon at 1,024 descriptors, hard limit too: none to raise to.
    let up = tend_under(&p, "ulimit -n 1024", "up -d");
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let before = p.service("a")["pid"].as_u64().unwrap();

    // 1,100 clients that connect and send nothing.
    let mut idle = Vec::new();
    for _ in 0..1100 {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        idle.push(TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap());
    }
    // Whatever the daemon accepted of them is accepted by now.
    std::thread::sleep(Duration::from_millis(500));

    let started = Instant::now();
    let status = Command::new("timeout")
        .args(["5", env!("CARGO_BIN_EXE_tend"), "status", "--json"])
        .current_dir(p.dir.path())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "status did not answer within 5 s: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    let restart = Command::new("timeout")
        .args(["20", env!("CARGO_BIN_EXE_tend"), "restart", "a"])
        .current_dir(p.dir.path())
        .output()
        .unwrap();
    assert!(
        restart.status.success(),
        "restart failed: {}\n{}",
        String::from_utf8_lossy(&restart.stderr),
        p.read(".tend/tend.log")
    );
    p.wait_for("a to run again", || {
        let a = p.service("a");
        a["state"] == "running" && a["pid"].as_u64().is_some_and(|pid| pid != before)
    });
    drop(idle);
    p.ok(&["down"]);
}

#[test]
fn a_request_head_sent_slowly_or_never_is_cut_off() {
    let _alone = TCP_PORTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let port = free_port();
    let mut p = Project::new(&format!(
        "[api]\nlisten = \"127.0.0.1:{port}\"\ntoken = \"a-token-of-the-limits-test\"\n\n\
         [services.a]\ncommand = [\"sleep\", \"1000\"]\n"
    ));
    p.up();
    // The control socket answers a moment before the TCP listener.
    p.wait_for("the TCP listener", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let mut silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET /v1/services HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    for stream in [&mut silent, &mut slow] {
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut answer = Vec::new();
        // Closed (perhaps after a 408): the read ends; kept open, it times
        // out with an error.
        let read = stream.read_to_end(&mut answer);
        assert!(
            read.is_ok(),
            "still open after {:?}: {read:?}",
            started.elapsed()
        );
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(20),
        "cut off after {took:?}"
    );
    // A client that asks at once is served as ever.
    assert_eq!(p.service("a")["state"], "running");
    assert_eq!(p.down(), 0);
}

/// 400 clients that connect, send nothing and reconnect as soon as they
/// are cut (more than the listener's 256 slots) must not keep a health
/// probe waiting longer than its timeout: connections accepted under such
/// pressure get a second, not ten, to send their request's head.
#[test]
fn a_reconnecting_crowd_of_idle_clients_does_not_starve_a_health_probe() {
    let _alone = TCP_PORTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    raise_own_limit(4096);
    let port = free_port();
    let mut p = Project::new(&format!(
        "[api]\nlisten = \"127.0.0.1:{port}\"\ntoken = \"a-token-of-the-limits-test\"\n\n\
         [services.a]\ncommand = [\"sleep\", \"1000\"]\n"
    ));
    p.up();
    p.wait_for("the TCP listener", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let crowd = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let connect = || {
                let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).ok()?;
                stream.set_nonblocking(true).ok()?;
                Some(stream)
            };
            let mut crowd: Vec<Option<TcpStream>> = (0..400).map(|_| connect()).collect();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for slot in &mut crowd {
                    let mut byte = [0u8; 1];
                    let cut = match slot {
                        Some(stream) => !matches!(
                            stream.read(&mut byte),
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                        ),
                        None => true,
                    };
                    if cut {
                        *slot = connect();
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    // Past the first connections' full ten seconds.
    std::thread::sleep(Duration::from_secs(11));
    let mut slow = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let probe = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "5",
            ])
            .arg(format!("http://127.0.0.1:{port}/healthz"))
            .output()
            .unwrap();
        let code = String::from_utf8_lossy(&probe.stdout).into_owned();
        if code != "200" {
            slow.push(format!("{code:?} after {:?}", started.elapsed()));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    crowd.join().unwrap();
    assert!(slow.is_empty(), "probes that failed: {slow:?}");
    assert_eq!(p.down(), 0);
}

#[test]
fn three_hundred_services_run_under_1024_descriptors() {
    use std::fmt::Write as _;
    let mut config = String::new();
    for i in 0..300 {
        let _ = write!(
            config,
            "[services.s{i:03}]\ncommand = [\"sleep\", \"1000\"]\n"
        );
    }
    let p = Project::new(&config);
    // The soft limit only: the hard one is what tend raises it to.
    let up = tend_under(&p, "ulimit -Sn 1024", "up -d");
    assert!(
        up.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&up.stderr),
        p.read(".tend/tend.log")
    );
    p.wait_for("300 services running", || {
        p.status()
            .iter()
            .filter(|s| s["state"] == "running")
            .count()
            == 300
    });
    // Each service gets the soft limit it would have had.
    let pid = p.service("s150")["pid"].as_u64().unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        open_files.split_whitespace().nth(3),
        Some("1024"),
        "{open_files}"
    );
    p.ok(&["down"]);
}

#[test]
fn up_detached_fails_when_its_services_give_up_while_starting() {
    use std::fmt::Write as _;
    let mut config = String::new();
    for i in 0..100 {
        let _ = write!(
            config,
            "[services.s{i:03}]\ncommand = [\"sleep\", \"1000\"]\n"
        );
    }
    let p = Project::new(&config);
    // 200 descriptors, hard limit too: not enough for 100 services, and
    // nothing to raise to. Their starts fail, the root gives up.
    let up = tend_under_unprivileged(&p, "ulimit -n 200", "up -d");
    let said = String::from_utf8_lossy(&up.stderr);
    assert_eq!(up.status.code(), Some(1), "{said}");
    assert!(said.contains("gave up"), "{said}");
    // Foretold at the start, on standard error and in the daemon's log.
    let warning = "the hard descriptor limit (RLIMIT_NOFILE) is 200, too low for 100 processes: they need about 492";
    assert!(said.contains(warning), "{said}");
    let log = std::fs::read_to_string(p.path(".tend/tend.log")).unwrap();
    assert!(log.contains(warning), "{log}");
}

#[test]
fn tend_check_warns_when_the_hard_descriptor_limit_cannot_hold_the_config() {
    // 60 services of 2 replicas: 120 processes, 3 descriptors each and 192
    // for tend (64, and 128 log files open at once).
    use std::fmt::Write as _;
    let mut config = String::new();
    for i in 0..60 {
        let _ = write!(
            config,
            "[services.s{i:02}]\ncommand = [\"sleep\", \"1000\"]\nreplicas = 2\n"
        );
    }
    let p = Project::new(&config);
    let low = tend_under_unprivileged(&p, "ulimit -n 500", "check");
    let said = String::from_utf8_lossy(&low.stderr);
    assert_eq!(low.status.code(), Some(0), "{said}");
    assert!(
        said.contains("warning: the hard descriptor limit (RLIMIT_NOFILE) is 500, too low for 120 processes: they need about 552 (3 each and 192 for tend itself)"),
        "{said}"
    );
    assert!(said.contains("ulimit -Hn"), "{said}");
    let enough = tend_under_unprivileged(&p, "ulimit -n 552", "check");
    assert_eq!(enough.status.code(), Some(0));
    assert!(
        !String::from_utf8_lossy(&enough.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&enough.stderr)
    );
}

#[test]
fn no_signal_kills_the_daemon_hup_reloads_and_quit_stops_cleanly() {
    let p = Project::new("[services.a]\ncommand = [\"sleep\", \"1000\"]\n");
    p.ok(&["up", "-d"]);
    p.wait_state("a", "running");
    let pid = daemon_pid(&p);
    let service = p.service("a")["pid"].as_u64().unwrap();
    for signal in [
        "USR1", "USR2", "ALRM", "PIPE", "XFSZ", "XCPU", "PROF", "VTALRM", "STKFLT", "PWR", "IO",
        "SYS",
    ] {
        kill(signal, pid);
        // Still there, and answering.
        p.wait_for(&format!("the daemon to answer after SIG{signal}"), || {
            p.tend(&["status", "--json"]).status.success()
        });
        assert!(common::alive(u64::from(pid)), "SIG{signal} killed it");
    }
    assert!(p.path(".tend/daemon.json").exists());

    // SIGHUP: the changed config takes effect.
    p.write_config(
        "[services.a]\ncommand = [\"sleep\", \"1000\"]\n[services.b]\ncommand = [\"sleep\", \"1000\"]\n",
    );
    kill("HUP", pid);
    wait_running(&p, "b");
    assert_eq!(p.service("a")["pid"].as_u64(), Some(service));
    assert!(common::alive(u64::from(pid)));

    // SIGQUIT: a clean stop: services stopped, the lease released.
    kill("QUIT", pid);
    p.wait_for("the daemon to exit", || !common::alive(u64::from(pid)));
    assert!(!common::alive(service), "the service outlived the daemon");
    assert!(
        !p.path(".tend/daemon.json").exists(),
        "the lease was left behind"
    );
    assert!(
        p.read(".tend/tend.log").contains("SIGQUIT: shutting down"),
        "{}",
        p.read(".tend/tend.log")
    );
}

#[test]
fn real_time_and_fault_signals_sent_by_another_process_do_not_kill_the_daemon() {
    let p = Project::new("[services.a]\ncommand = [\"sleep\", \"1000\"]\n");
    p.ok(&["up", "-d"]);
    p.wait_state("a", "running");
    let pid = daemon_pid(&p);
    let service = p.service("a")["pid"].as_u64().unwrap();
    // kill(1) of procps knows no SIGRTMAX: the real-time ones by number
    // (glibc's SIGRTMIN is 34, the kernel's SIGRTMAX 64). SIGSEGV twice:
    // std's stack-overflow handler let the first through, not the second.
    for (signal, said) in [
        ("34", "tend: SIGRTMIN ignored"),
        ("39", "tend: SIGRTMIN+5 ignored"),
        ("64", "tend: SIGRTMAX ignored"),
        ("ABRT", "tend: SIGABRT from pid"),
        ("TRAP", "tend: SIGTRAP from pid"),
        ("ILL", "tend: SIGILL from pid"),
        ("FPE", "tend: SIGFPE from pid"),
        ("SEGV", "tend: SIGSEGV from pid"),
        ("SEGV", "tend: SIGSEGV from pid"),
        ("BUS", "tend: SIGBUS from pid"),
    ] {
        let before = p.read(".tend/tend.log").matches(said).count();
        kill(signal, pid);
        p.wait_for(
            &format!("SIG{signal} said in tend.log, or the daemon dead"),
            || {
                p.read(".tend/tend.log").matches(said).count() > before
                    || !common::alive(u64::from(pid))
            },
        );
        assert!(common::alive(u64::from(pid)), "SIG{signal} killed it");
        assert!(
            p.tend(&["status", "--json"]).status.success(),
            "no answer after SIG{signal}"
        );
        assert_eq!(p.service("a")["pid"].as_u64(), Some(service));
    }
    p.ok(&["down"]);
    p.wait_for("the daemon to exit", || !common::alive(u64::from(pid)));
    assert!(!common::alive(service), "the service outlived the daemon");
    assert!(
        !p.path(".tend/daemon.json").exists(),
        "the lease was left behind"
    );
}

#[test]
fn sighup_reloads_a_foreground_tend_up_off_a_terminal() {
    let mut p = Project::new("[services.a]\ncommand = [\"sleep\", \"1000\"]\n");
    p.up();
    let pid = p.daemon.as_ref().unwrap().id();
    p.write_config(
        "[services.a]\ncommand = [\"sleep\", \"1000\"]\n[services.b]\ncommand = [\"sleep\", \"1000\"]\n",
    );
    kill("HUP", pid);
    wait_running(&p, "b");
    assert_eq!(p.down(), 0);
}

#[test]
fn a_foreground_tend_up_whose_terminal_closes_runs_on() {
    let p = Project::new("[services.a]\ncommand = [\"sleep\", \"1000\"]\n");
    // `tend up` on a pseudo-terminal of script(1); killing script closes
    // the terminal, and the kernel hangs it up: SIGHUP.
    let mut terminal = Command::new("script")
        .arg("-qfec")
        .arg(format!("exec {} up", env!("CARGO_BIN_EXE_tend")))
        .arg("/dev/null")
        .current_dir(p.dir.path())
        .env_remove("TEND_CONFIG")
        .env_remove("TEND_STATE_DIR")
        .env_remove("TEND_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    p.wait_for("the API to answer", || {
        p.tend(&["status", "--json"]).status.success()
    });
    p.wait_state("a", "running");
    let pid = daemon_pid(&p);
    kill("KILL", terminal.id());
    terminal.wait().unwrap();
    p.wait_for("the hangup to be said in tend.log", || {
        p.read(".tend/tend.log").contains("the terminal closed")
    });
    assert!(common::alive(u64::from(pid)), "SIGHUP killed it");
    assert_eq!(p.service("a")["state"], "running");
    p.ok(&["down"]);
    p.wait_for("the daemon to exit", || !common::alive(u64::from(pid)));
}

#[test]
fn as_root_tend_raises_its_hard_descriptor_limit_and_services_keep_the_original() {
    if !may_raise_hard_limits() {
        eprintln!("skipped: no CAP_SYS_RESOURCE here (root in a sandbox that took it away)");
        return;
    }
    // 120 replicas need 3 descriptors each and 192 for tend: more than the
    // hard limit of 256 it starts with.
    let p = Project::new("[services.s]\ncommand = [\"sleep\", \"1000\"]\nreplicas = 120\n");
    let limits = "ulimit -Sn 200; ulimit -Hn 256";
    // Nothing to warn of: root raises it to fs.nr_open.
    let check = tend_under(&p, limits, "check");
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(
        check.status.success() && !said.contains("warning"),
        "{said}"
    );
    let up = tend_under(&p, limits, "up -d");
    assert!(
        up.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&up.stderr),
        p.read(".tend/tend.log")
    );
    let pid = daemon_pid(&p);
    // Exec'd: a child not yet exec'd still has the daemon's limits.
    let sleeping = || sleeping_children_of(pid);
    p.wait_for("120 replicas running", || sleeping().len() == 120);
    let most = std::fs::read_to_string("/proc/sys/fs/nr_open").unwrap();
    assert_eq!(
        open_files_limits(pid),
        (most.trim().to_owned(), most.trim().to_owned()),
        "the daemon's limits"
    );
    for child in sleeping() {
        assert_eq!(
            open_files_limits(child),
            ("200".to_owned(), "256".to_owned()),
            "a service's limits"
        );
    }
    p.ok(&["down"]);
}

#[test]
fn the_daemon_holds_no_log_file_open_per_service() {
    let n = 200;
    let mut p = Project::new(&format!(
        "[services.s]\ncommand = [\"sh\", \"-c\", \"echo up; exec sleep 1000\"]\nreplicas = {n}\n"
    ));
    p.up();
    let pid = daemon_pid(&p);
    let logs = std::fs::canonicalize(p.path(".tend/logs")).unwrap();
    let written = || {
        std::fs::read_dir(&logs)
            .unwrap()
            .flatten()
            .filter(|f| std::fs::read_to_string(f.path()).is_ok_and(|text| text == "up\n"))
            .map(|f| f.file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    p.wait_for("every replica's line in its log file", || {
        written().len() == n
    });
    let open: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .collect();
    let log_files = open
        .iter()
        .filter(|target| target.parent() == Some(logs.as_path()))
        .count();
    // At most the 128 written last.
    assert!(
        log_files <= 128,
        "{log_files} log files open for {n} replicas"
    );
    // Two pipes and a pidfd each, and what tend holds besides.
    assert!(
        open.len() <= 3 * n + 192,
        "{} descriptors open for {n} replicas",
        open.len()
    );
    // `tend logs` reads them as ever.
    let file = &written()[0];
    let instance = file.strip_suffix(".log").unwrap();
    assert_eq!(p.ok(&["logs", instance]), "up\n");
    assert_eq!(p.down(), 0);
}

#[test]
fn a_log_file_replaced_by_a_symbolic_link_while_closed_is_not_followed() {
    // Its file is closed once idle for 10 s, and opened again for the
    // second line.
    let mut p = Project::new(
        "[services.w]\ncommand = [\"sh\", \"-c\", \"echo first; sleep 15; echo second; exec sleep 1000\"]\n",
    );
    p.up();
    let log = p.path(".tend/logs/w.log");
    p.wait_for("the first line", || {
        std::fs::read_to_string(&log).is_ok_and(|text| text == "first\n")
    });
    let victim = p.path("victim");
    std::fs::write(&victim, "the victim's\n").unwrap();
    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink(&victim, &log).unwrap();
    // Said on the foreground daemon's standard error.
    p.wait_for("the second line refused", || {
        p.read("up.err").contains("log file unwritable")
    });
    let said = p.read("up.err");
    assert!(said.contains("symbolic link"), "{said}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "the victim's\n");
    assert_eq!(p.down(), 0);
}
