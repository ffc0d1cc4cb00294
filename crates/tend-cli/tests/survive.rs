//! tend survives its own crash: under `tend up -d` the keeper above the
//! daemon keeps every service running through a `kill -9` of the daemon,
//! holds their pipes, records an exit that happens while no daemon runs,
//! and starts the daemon again, which re-adopts each process by its pid:
//! no service started twice, no exit missed, no watchdog fired, no line
//! lost, doubled or torn, the journal's chain whole.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use common::{alive, Project};
use serde_json::Value;

const CHATTERS: usize = 4;
const NOTIFIED: usize = 3;
const IDLE: usize = 10;
const KILLS: usize = 20;
/// The kill after which `exits` ends with code 3 while no daemon runs.
const EXIT_AT: usize = 7;
/// How long the daemon hangs (stopped) before that kill.
const HANG: Duration = Duration::from_millis(1500);

/// 20 services: four write numbered lines "main PID SEQ" (one `write`
/// each, the shell's `echo`, about every 2 ms), three speak sd_notify
/// with a 10 s watchdog (pinged every 0.1 s; wide, so that a loaded
/// machine alone does not make it fire), one exits with code 3 on
/// SIGUSR1, one has three replicas, the rest sleep; and a job that
/// completes and one an operator stops, neither to run again.
fn config() -> String {
    let mut config = String::new();
    for i in 0..CHATTERS {
        config += &format!(
            "[services.chat{i}]\nshell = \"i=0; while true; do i=$((i+1)); echo \\\"main $$ $i\\\"; sleep 0.002; done\"\n\n"
        );
    }
    for i in 0..NOTIFIED {
        config += &format!(
            "[services.notified{i}]\nshell = \"systemd-notify --ready; while true; do systemd-notify WATCHDOG=1; sleep 0.1; done\"\nready = {{ notify = true }}\nwatchdog = \"10s\"\n\n"
        );
    }
    config += "[services.exits]\nshell = \"trap 'exit 3' USR1; while true; do sleep 0.05; done\"\nrestart = \"on-failure\"\n\n";
    config += "[services.rep]\nshell = \"exec sleep 100000\"\nreplicas = 3\n\n";
    config += "[services.job]\nshell = \"echo ran >> job.runs\"\nrestart = \"never\"\n\n";
    for i in 0..IDLE {
        config += &format!("[services.idle{i}]\nshell = \"exec sleep 100000\"\n\n");
    }
    config
}

fn daemon_pid(p: &Project) -> Option<u64> {
    let answer = common::request(&p.path(".tend/tend.sock"), "GET", "/v1/daemon", None);
    let info: Value = serde_json::from_str(&answer.body).ok()?;
    info["pid"].as_u64()
}

fn pids(p: &Project) -> BTreeMap<String, u64> {
    p.status()
        .into_iter()
        .filter_map(|s| Some((s["name"].as_str()?.to_owned(), s["pid"].as_u64()?)))
        .collect()
}

/// Every running instance, once the daemon answers and all run.
fn all_running(p: &Project, expected: usize) -> bool {
    let out = p.tend(&["status", "--json"]);
    if !out.status.success() {
        return false;
    }
    let Ok(Value::Array(services)) = serde_json::from_slice::<Value>(&out.stdout) else {
        return false;
    };
    services.iter().filter(|s| s["state"] == "running").count() == expected
}

/// Per process of each chatter, its sequence numbers in the log: never
/// doubled, never out of order, never torn. The lines logged and the
/// numbers missing.
fn check_lines(p: &Project) -> (usize, u64) {
    let (mut total, mut missing) = (0, 0);
    for i in 0..CHATTERS {
        let log = p.read(&format!(".tend/logs/chat{i}.log"));
        let mut seen: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for line in log.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            assert_eq!(parts.len(), 3, "chat{i}: a torn line: {line:?}");
            seen.entry(parts[1])
                .or_default()
                .push(parts[2].parse().expect("a sequence number"));
        }
        assert_eq!(seen.len(), 1, "chat{i} ran one process: {:?}", seen.keys());
        for seqs in seen.values() {
            for pair in seqs.windows(2) {
                assert!(
                    pair[1] > pair[0],
                    "chat{i}: {} after {}: doubled or out of order",
                    pair[1],
                    pair[0]
                );
            }
            total += seqs.len();
            missing += seqs.last().copied().unwrap_or(0) - seqs.len() as u64;
        }
    }
    (total, missing)
}

/// How long a daemon may take to come back and take everything back: a
/// loaded CI machine (load 30+) took up to half a minute.
const BACK: Duration = Duration::from_secs(120);

/// Waits until `condition` holds; on a timeout the daemon's log says why.
fn wait(p: &Project, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        if start.elapsed() > BACK {
            let log = p.read(".tend/tend.log");
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "timed out waiting for {what}\n--- tend.log:\n{}",
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// `tend up -d` in `p`, stopped by `tend down` when the test ends, passed
/// or not: a failed test must not leave a keeper, a daemon and its
/// services running (a daemon just killed may take a while to answer).
struct UpD<'a>(&'a Project);

impl<'a> UpD<'a> {
    fn start(p: &'a Project) -> UpD<'a> {
        p.ok(&["up", "-d"]);
        UpD(p)
    }
}

impl Drop for UpD<'_> {
    fn drop(&mut self) {
        let start = Instant::now();
        while start.elapsed() < BACK {
            match self.0.tend_within(&["down"], BACK) {
                Ok(out) if out.status.success() => return,
                // Down already (the test said `down` itself), unless a
                // keeper holds the lock and starts the daemon again.
                Ok(out)
                    if String::from_utf8_lossy(&out.stderr).contains("not running")
                        && Command::new("flock")
                            .arg("-n")
                            .arg(self.0.path(".tend/tend.lock"))
                            .arg("true")
                            .status()
                            .is_ok_and(|s| s.success()) =>
                {
                    return
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

fn kill(signal: &str, pid: u64) {
    Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
}

/// What a round kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victim {
    Daemon,
    Keeper,
}

/// The keeper of `daemon`: its parent (the one `tend up -d` started, or
/// one that started the daemon again), or its child (one it started for
/// itself after its keeper was killed).
fn keeper_of(daemon: u64) -> Option<u64> {
    let is_keeper = |pid: u64| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("--keeper"))
    };
    let stat = std::fs::read_to_string(format!("/proc/{daemon}/stat")).ok()?;
    let parent: u64 = stat
        .rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    if is_keeper(parent) {
        return Some(parent);
    }
    std::fs::read_dir(format!("/proc/{daemon}/task"))
        .ok()?
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<u64>>()
        })
        .find(|pid| is_keeper(*pid))
}

/// How many pidfds `pid` holds (the keeper: one for its daemon, one for
/// each process it holds).
fn pidfds(pid: u64) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |fds| {
        fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().contains("[pidfd]"))
            .count()
    })
}

/// The keeper of `daemon` once a new one holds `held` processes or more
/// (after `old` was killed).
fn new_keeper(p: &Project, daemon: u64, old: u64, held: usize) -> u64 {
    wait(p, "a new keeper holding every process", || {
        keeper_of(daemon).is_some_and(|new| new != old && pidfds(new) > held)
    });
    keeper_of(daemon).unwrap()
}

/// The daemon that answers once another than `old` (killed) does.
fn new_daemon(p: &Project, old: u64) -> u64 {
    wait(p, "a new daemon", || {
        daemon_pid(p).is_some_and(|pid| pid != old)
    });
    daemon_pid(p).unwrap()
}

#[test]
fn twenty_kills_of_the_daemon_restart_no_service_and_lose_no_line() {
    twenty_kills(|_| Victim::Daemon);
}

/// The same, with the keeper killed too (every third round, seven times):
/// the daemon starts a new keeper, gives it every process again, and the
/// daemon kills after it are survived as well.
#[test]
fn twenty_kills_of_the_daemon_and_its_keeper_restart_no_service_and_lose_no_line() {
    twenty_kills(|round| {
        if round % 3 == 2 {
            Victim::Keeper
        } else {
            Victim::Daemon
        }
    });
}

fn twenty_kills(victim: impl Fn(usize) -> Victim) {
    assert_eq!(victim(EXIT_AT), Victim::Daemon);
    let p = Project::new(&config());
    let _up = UpD::start(&p);
    let instances = CHATTERS + NOTIFIED + 1 + 3 + IDLE;
    wait(&p, "every service running", || all_running(&p, instances));
    p.wait_state("job", "completed");
    p.ok(&["stop", "idle0"]);
    p.wait_state("idle0", "shutdown");
    let first = pids(&p);
    let mut expected = first.clone();
    let mut daemons = BTreeSet::new();
    let mut exits_ended_by = None;
    // A fixed sequence of random moments (an LCG: no dependency for it).
    let mut seed: u64 = 26;
    let mut moment = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        Duration::from_millis((seed >> 33) % 400)
    };
    for round in 1..=KILLS {
        let daemon = daemon_pid(&p).expect("the daemon answers");
        assert!(daemons.insert(daemon), "a new daemon each round");
        // A random moment: lines are being read and written.
        std::thread::sleep(moment());
        if victim(round) == Victim::Keeper {
            let keeper = keeper_of(daemon).expect("the daemon has a keeper");
            kill("-KILL", keeper);
            // A new one, holding every running process again.
            new_keeper(&p, daemon, keeper, instances - 1);
            assert_eq!(
                daemon_pid(&p),
                Some(daemon),
                "round {round}: the same daemon"
            );
            assert_eq!(pids(&p), expected, "round {round}: the same processes");
            daemons.remove(&daemon);
            continue;
        }
        if round == EXIT_AT {
            // The daemon hangs, and `exits` ends meanwhile: only the
            // keeper sees its end before the daemon is killed.
            kill("-STOP", daemon);
            kill("-USR1", expected["exits"]);
            wait(&p, "exits to end", || !alive(expected["exits"]));
            exits_ended_by = Some(SystemTime::now());
            // A hang of a second and a half (not a synchronisation: a gap
            // between the end and its being seen, for the journal's time
            // to show which of the two it is).
            std::thread::sleep(HANG);
        }
        kill("-KILL", daemon);
        let since = Instant::now();
        new_daemon(&p, daemon);
        let restarted = since.elapsed();
        if round == EXIT_AT {
            // Its end told by the keeper, its restart by policy.
            wait(&p, "exits restarted", || {
                let exits = p.service("exits");
                exits["pid"]
                    .as_u64()
                    .is_some_and(|pid| pid != expected["exits"])
            });
        }
        wait(&p, "every service running again", || {
            all_running(&p, instances - 1)
        });
        let now = pids(&p);
        for (name, pid) in &expected {
            if round == EXIT_AT && name == "exits" {
                continue;
            }
            assert_eq!(
                now.get(name),
                Some(pid),
                "round {round}: {name} kept its process (daemon back in {restarted:?})"
            );
        }
        if round == EXIT_AT {
            assert_ne!(now["exits"], expected["exits"], "exits restarted");
            let exits = p.service("exits");
            assert_eq!(exits["last_exit"]["code"], 3, "{exits}");
            // Journaled with its real time: before the daemon was killed,
            // though the new daemon learned of it after.
            let events = p.ok(&["events", "--json", "--since", "1h"]);
            let exited = events
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|e| e["kind"] == "exited" && e["pid"].as_u64() == Some(expected["exits"]))
                .expect("the exit of exits journaled");
            let at = humantime::parse_rfc3339(exited["at"].as_str().unwrap()).unwrap();
            assert!(
                at < exits_ended_by.unwrap() + HANG / 2,
                "the exit is journaled at its real time, not when it was seen: {exited}"
            );
            expected.insert("exits".into(), now["exits"]);
        }
        assert!(!now.contains_key("idle0"), "the operator's stop holds");
        assert_eq!(p.service("job")["state"], "completed");
    }
    // Lines still flow to the logs, every one once and in order.
    let (lines, _) = check_lines(&p);
    wait(&p, "more lines", || check_lines(&p).0 > lines + 1000);
    let (lines, missing) = check_lines(&p);
    eprintln!("{lines} lines logged over {KILLS} kills, {missing} missing");
    assert_eq!(missing, 0, "lines lost across the kills");
    // The journal: its chain whole, no watchdog fired, each service
    // started once (`exits` twice), the job run once.
    p.ok(&["journal", "verify"]);
    let events = p.ok(&["events", "--json", "--since", "1h"]);
    let events: Vec<Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut started: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for event in &events {
        if event["kind"] == "started" {
            if let (Some(name), Some(pid)) = (event["service"].as_str(), event["pid"].as_u64()) {
                started.entry(name.to_owned()).or_default().insert(pid);
            }
        }
        let text = event.to_string();
        assert!(!text.contains("watchdog"), "a watchdog fired: {text}");
    }
    for (name, pids) in &started {
        let times = if name == "exits" { 2 } else { 1 };
        assert_eq!(pids.len(), times, "{name} started as {pids:?}");
    }
    assert_eq!(p.read("job.runs"), "ran\n", "the job ran once");
    p.ok(&["down"]);
    for pid in expected.values() {
        assert!(!alive(*pid), "pid {pid} left after tend down");
    }
    // The keeper ended with the daemon: `up -d` may follow at once.
    p.ok(&["up", "-d"]);
    p.ok(&["down"]);
}

#[test]
fn a_kill_of_the_keeper_leaves_the_daemon_and_every_service_running() {
    let p = Project::new("[services.web]\nshell = \"exec sleep 100000\"\n\n[services.tick]\nshell = \"i=0; while true; do i=$((i+1)); echo \\\"tick $$ $i\\\"; sleep 0.01; done\"\n");
    let _up = UpD::start(&p);
    wait(&p, "both running", || all_running(&p, 2));
    let daemon = daemon_pid(&p).unwrap();
    let before = pids(&p);
    let keeper = keeper_of(daemon).expect("the daemon's parent is its keeper");
    kill("-KILL", keeper);
    let renewed = new_keeper(&p, daemon, keeper, 2);
    assert!(p.read(".tend/tend.log").contains("the keeper is gone"));
    // Supervision goes on: the same daemon, the same processes, a kill
    // seen and restarted.
    assert_eq!(daemon_pid(&p), Some(daemon));
    assert_eq!(pids(&p), before);
    kill("-KILL", before["web"]);
    wait(&p, "web restarted", || {
        let web = p.service("web");
        web["state"] == "running" && web["pid"].as_u64() != Some(before["web"])
    });
    let log = p.read(".tend/logs/tick.log");
    p.ok(&["down"]);
    assert!(!alive(daemon));
    assert!(!alive(before["tick"]));
    wait(&p, "the new keeper to end with the daemon", || {
        !alive(renewed)
    });
    assert!(log.lines().count() > 0);
    // The lock went with them: `up -d` may follow at once.
    p.ok(&["up", "-d"]);
    p.ok(&["down"]);
}

#[test]
fn after_an_upgrade_the_keeper_still_keeps_every_service() {
    let p = Project::new("[services.web]\nshell = \"exec sleep 100000\"\n\n[services.job]\nshell = \"echo ran >> job.runs\"\nrestart = \"never\"\n");
    let _up = UpD::start(&p);
    wait(&p, "web running", || all_running(&p, 1));
    p.wait_state("job", "completed");
    let daemon = daemon_pid(&p).unwrap();
    let web = pids(&p)["web"];
    let binary = p.path("tend-new");
    std::fs::copy(env!("CARGO_BIN_EXE_tend"), &binary).unwrap();
    p.ok(&["upgrade", "--binary", binary.to_str().unwrap()]);
    wait(&p, "the upgraded daemon", || {
        std::fs::read_link(format!("/proc/{daemon}/exe"))
            .ok()
            .as_deref()
            == Some(binary.as_path())
            && all_running(&p, 1)
    });
    // The keeper followed: it runs the new program too, the same process.
    let keeper = keeper_of(daemon).expect("a keeper");
    wait(&p, "the keeper to upgrade itself", || {
        std::fs::read_link(format!("/proc/{keeper}/exe"))
            .ok()
            .as_deref()
            == Some(binary.as_path())
    });
    // The new image kept the keeper's channel: a kill -9 of it now is
    // survived too, and the daemon started again is the new program.
    kill("-KILL", daemon);
    let again = new_daemon(&p, daemon);
    wait(&p, "web running again", || all_running(&p, 1));
    assert_eq!(pids(&p)["web"], web, "web kept its process");
    assert_eq!(
        std::fs::read_link(format!("/proc/{again}/exe")).unwrap(),
        binary,
        "the daemon started again runs the new program"
    );
    assert_eq!(keeper_of(again), Some(keeper), "the same keeper");
    assert_eq!(p.service("job")["state"], "completed");
    assert_eq!(p.read("job.runs"), "ran\n", "the job ran once");
    p.ok(&["down"]);
    assert!(!alive(web));
}

/// A `kill` of the keeper (SIGTERM, what a service manager sends to stop
/// it) is meant for tend: the keeper passes it on, and the daemon stops
/// every service in order, then both end.
#[test]
fn a_sigterm_to_the_keeper_stops_tend_in_order() {
    let p = Project::new("[services.web]\nshell = \"exec sleep 100000\"\n");
    let _up = UpD::start(&p);
    wait(&p, "web running", || all_running(&p, 1));
    let daemon = daemon_pid(&p).unwrap();
    let keeper = keeper_of(daemon).expect("a keeper");
    let web = pids(&p)["web"];
    kill("-TERM", keeper);
    wait(&p, "tend and web to end", || {
        !alive(daemon) && !alive(keeper) && !alive(web)
    });
    assert!(p.read(".tend/tend.log").contains("SIGTERM: shutting down"));
    // A clean end: the lock is free, `up -d` follows at once.
    p.ok(&["up", "-d"]);
    p.ok(&["down"]);
}

/// A daemon killed while `tend down` stops its services: its keeper starts
/// the next one to finish the stop, and `down` returns once it has,
/// nothing started again and nothing left.
#[test]
fn a_daemon_killed_while_it_stops_has_the_stop_finished() {
    let p = Project::new("[services.slow]\nshell = \"trap 'sleep 1; exit 0' TERM; while true; do sleep 0.05; done\"\n\n[services.web]\nshell = \"exec sleep 100000\"\n");
    let _up = UpD::start(&p);
    wait(&p, "both running", || all_running(&p, 2));
    let daemon = daemon_pid(&p).unwrap();
    let keeper = keeper_of(daemon).unwrap();
    let before = pids(&p);
    let down = p
        .command(env!("CARGO_BIN_EXE_tend"))
        .arg("down")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait(&p, "the stop to begin", || {
        p.read(".tend/tend.log").contains("shutting down")
    });
    kill("-KILL", daemon);
    let out = down.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    for pid in before.values().chain([&daemon, &keeper]) {
        assert!(
            !alive(*pid),
            "pid {pid} ({:?}) left after tend down: services {before:?}, daemon {daemon}, keeper {keeper}\n{}",
            std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
            p.read(".tend/tend.log")
        );
    }
    let log = p.read(".tend/tend.log");
    assert!(log.contains("finishing the stop"), "{log}");
    // Nothing was started again meanwhile: each started once.
    let events = p.ok(&["events", "--json", "--since", "1h"]);
    let starts = events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "started" && e["service"] == "web")
        .filter_map(|e| e["pid"].as_u64())
        .collect::<BTreeSet<_>>();
    assert_eq!(starts, BTreeSet::from([before["web"]]), "{events}");
    p.ok(&["up", "-d"]);
    p.ok(&["down"]);
}

/// Processes a restarted daemon took back, then both the daemon and its
/// keeper killed: the next `tend up -d` stops them (they are its own,
/// though older than the daemon that journaled them last), no duplicate.
#[test]
fn after_a_kill_of_both_the_next_up_stops_what_was_taken_back() {
    let p = Project::new("[services.web]\nshell = \"exec sleep 100000\"\n");
    let _up = UpD::start(&p);
    wait(&p, "web running", || all_running(&p, 1));
    let first = daemon_pid(&p).unwrap();
    kill("-KILL", first);
    let daemon = new_daemon(&p, first);
    wait(&p, "web running again", || all_running(&p, 1));
    let web = pids(&p)["web"];
    let keeper = keeper_of(daemon).unwrap();
    // Both at once: the daemon held still first, or it could start a new
    // keeper between the two kills (as it should: that keeper would then
    // start it again, and the processes would survive).
    kill("-STOP", daemon);
    Command::new("kill")
        .args(["-KILL", &keeper.to_string(), &daemon.to_string()])
        .status()
        .unwrap();
    wait(&p, "both gone", || !alive(keeper) && !alive(daemon));
    p.ok(&["up", "-d"]);
    wait(&p, "web running", || all_running(&p, 1));
    assert!(
        !alive(web),
        "the old web ({web}) was stopped, not left beside a new one"
    );
    assert_ne!(pids(&p)["web"], web);
    p.ok(&["down"]);
}

/// A keeper that stops reading (stopped, hung) while processes come and
/// go is replaced once a message has waited the send timeout for it: one
/// it missed would leave its picture of the processes wrong, and what
/// waits for it holds descriptors. The new keeper holds every process, so
/// a daemon killed after keeps them.
#[test]
fn a_keeper_that_stops_reading_is_replaced_and_a_kill_after_is_survived() {
    let p = Project::new(
        "[supervisor]\nintensity = { max_restarts = 1000000000, period = \"1s\" }\n\n\
         [services.web]\nshell = \"exec sleep 100000\"\n\n\
         [services.crash]\nshell = \"exit 1\"\nrestart = \"always\"\nbackoff = \"none\"\nstart_limit = \"none\"\n",
    );
    let _up = UpD::start(&p);
    wait(&p, "web running", || pids(&p).contains_key("web"));
    let web = pids(&p)["web"];
    let daemon = daemon_pid(&p).unwrap();
    let stuck = keeper_of(daemon).unwrap();
    kill("-STOP", stuck);
    let keeper = new_keeper(&p, daemon, stuck, 1);
    assert!(!alive(stuck), "the stuck keeper was killed");
    assert!(p
        .read(".tend/tend.log")
        .contains("the keeper does not read"));
    kill("-KILL", daemon);
    let again = new_daemon(&p, daemon);
    wait(&p, "web running again", || {
        pids(&p).get("web") == Some(&web)
    });
    assert_eq!(keeper_of(again), Some(keeper), "the new keeper started it");
    p.ok(&["down"]);
    assert!(!alive(web));
}

/// The keeper replaced twice, the daemon killed between: the processes'
/// parent is init, the keeper is the third; an exit now is seen at once,
/// with its code.
#[test]
fn an_exit_after_the_keeper_was_replaced_twice_is_seen_with_its_code() {
    let p = Project::new("[services.web]\nshell = \"exec sleep 100000\"\n\n[services.exits]\nshell = \"trap 'exit 3' USR1; while true; do sleep 0.05; done\"\nrestart = \"on-failure\"\n");
    let _up = UpD::start(&p);
    wait(&p, "both running", || all_running(&p, 2));
    let daemon = daemon_pid(&p).unwrap();
    let keeper = keeper_of(daemon).unwrap();
    kill("-KILL", keeper);
    let keeper = new_keeper(&p, daemon, keeper, 2);
    kill("-KILL", daemon);
    let daemon = new_daemon(&p, daemon);
    wait(&p, "both running again", || all_running(&p, 2));
    assert_eq!(keeper_of(daemon), Some(keeper));
    kill("-KILL", keeper);
    new_keeper(&p, daemon, keeper, 2);
    let exits = pids(&p)["exits"];
    kill("-USR1", exits);
    wait(&p, "exits restarted", || {
        p.service("exits")["pid"]
            .as_u64()
            .is_some_and(|pid| pid != exits)
    });
    let service = p.service("exits");
    assert_eq!(service["last_exit"]["code"], 3, "{service}");
    p.ok(&["down"]);
}
