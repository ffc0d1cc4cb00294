//! `tend-testkit`: a small program that misbehaves on demand, for tend's
//! process tests and benchmarks.
//!
//! ```text
//! tend-testkit exit CODE [--after MS]      exit with CODE (after MS)
//! tend-testkit hang                         sleep until killed (SIGTERM ends it)
//! tend-testkit ignore-term                  ignore SIGTERM and SIGINT, sleep forever
//! tend-testkit signal NUM [--after MS]      kill itself with signal NUM
//! tend-testkit fork N [--setsid] [--pids FILE]
//!                                           start N grandchildren that sleep forever (the
//!                                           first calls setsid with --setsid), write their
//!                                           pids to FILE, then sleep
//! tend-testkit flood LINES [--width W]      print LINES numbered lines to stdout, exit 0
//! tend-testkit print TEXT [--stderr] [--no-newline]
//!                                           print TEXT and exit 0
//! tend-testkit ready                        print READY, then sleep until killed
//! tend-testkit spin                         burn CPU until killed
//! tend-testkit alloc MB                     allocate and touch MB mebibytes, print
//!                                           "allocated", then sleep
//! tend-testkit env NAME                     print the value of NAME (or <unset>)
//! tend-testkit whoami                       print uid, gid, groups, umask, cwd, nofile
//! tend-testkit spawn-loop SECONDS PROG [ARGS]...
//!                                           the benchmark floor: spawn PROG and wait for
//!                                           it, again and again, for SECONDS (std::process)
//! tend-testkit serve ADDR [--health FILE] [--after MS]
//!                                           after MS, listen on ADDR (host:port), print
//!                                           "listening", and answer each HTTP request 200
//!                                           (503 while FILE, if given, does not exist)
//! tend-testkit fds                         print its open file descriptors, one line
//! tend-testkit chatter MS [--grandchild] [--burst N]
//!                                           every MS ms write one numbered line
//!                                           "TAG PID SEQ" (one write(2) each, so never torn);
//!                                           N more at once on SIGUSR1; with --grandchild a
//!                                           forked child does the same with tag "g" (chaos)
//! tend-testkit stamp FILE [--exit CODE] [--sleep MS]
//!                                           append a CLOCK_MONOTONIC stamp (ns) to FILE,
//!                                           sleep MS, exit with CODE (benchmarks)
//! ```

use std::io::Write;
use std::time::Duration;

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::unistd::{fork, setsid, ForkResult};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first() else {
        eprintln!("usage: tend-testkit MODE [ARGS] (see the source's doc comment)");
        std::process::exit(2);
    };
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let after = || {
        if let Some(ms) = value("--after").and_then(|v| v.parse().ok()) {
            std::thread::sleep(Duration::from_millis(ms));
        }
    };
    match mode.as_str() {
        "exit" => {
            after();
            std::process::exit(number(1) as i32);
        }
        "hang" => sleep_forever(),
        "ignore-term" => {
            ignore(Signal::SIGTERM);
            ignore(Signal::SIGINT);
            println!("ignoring SIGTERM");
            sleep_forever();
        }
        "signal" => {
            after();
            let number = number(1) as i32;
            match Signal::try_from(number) {
                Ok(sig) => {
                    // Rust's runtime handles SIGSEGV and SIGBUS itself (stack
                    // overflow detection); the default action is what we want.
                    set_handler(sig, SigHandler::SigDfl);
                    nix::sys::signal::raise(sig).expect("raise");
                }
                // A realtime signal (nix names only the standard ones); its
                // default action ends the process.
                // SAFETY: raise takes any signal number.
                #[allow(unsafe_code)]
                Err(_) => unsafe {
                    nix::libc::raise(number);
                },
            }
            sleep_forever();
        }
        "fork" => {
            let pids = (0..number(1))
                .map(|i| grandchild(i == 0 && flag("--setsid")))
                .collect::<Vec<_>>();
            if let Some(path) = value("--pids") {
                let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
                std::fs::write(path, text).expect("write pids");
            }
            sleep_forever();
        }
        "flood" => {
            let width = value("--width")
                .and_then(|v| v.parse().ok())
                .unwrap_or(40usize);
            let pad = "x".repeat(width.saturating_sub(10));
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 16, out.lock());
            for n in 1..=number(1) {
                writeln!(out, "{n:09} {pad}").expect("write");
            }
            out.flush().expect("flush");
        }
        "print" => {
            let text = args.get(1).cloned().unwrap_or_default();
            let end = if flag("--no-newline") { "" } else { "\n" };
            if flag("--stderr") {
                eprint!("{text}{end}");
            } else {
                print!("{text}{end}");
            }
        }
        "spin" => {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        "alloc" => {
            let mut blocks = Vec::new();
            for _ in 0..number(1) {
                blocks.push(vec![1u8; 1 << 20]);
            }
            println!("allocated {} MiB", blocks.len());
            sleep_forever();
        }
        "ready" => {
            println!("READY");
            sleep_forever();
        }
        "fds" => {
            // Collected first, then checked: the listing's own descriptor
            // is closed by then and drops out.
            let names: Vec<String> = std::fs::read_dir("/proc/self/fd")
                .map(|dir| {
                    dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default();
            let mut fds: Vec<u32> = names.iter().filter_map(|f| f.parse().ok()).collect();
            fds.retain(|&fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok());
            fds.sort_unstable();
            let fds: Vec<String> = fds.iter().map(u32::to_string).collect();
            println!("{}", fds.join(" "));
        }
        "serve" => {
            after();
            let address = args.get(1).cloned().unwrap_or_default();
            serve(&address, value("--health").map(std::path::PathBuf::from));
        }
        "env" => {
            let name = args.get(1).cloned().unwrap_or_default();
            println!(
                "{}",
                std::env::var(&name).unwrap_or_else(|_| "<unset>".into())
            );
        }
        "whoami" => {
            let groups: Vec<String> = nix::unistd::getgroups()
                .unwrap_or_default()
                .iter()
                .map(|g| g.as_raw().to_string())
                .collect();
            let mask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
            let (nofile, _) =
                nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                    .unwrap_or((0, 0));
            println!(
                "uid={} gid={} groups={} umask={:03o} cwd={} nofile={} sid_is_pid={} pgid_is_pid={}",
                nix::unistd::getuid(),
                nix::unistd::getgid(),
                groups.join(","),
                mask.bits(),
                std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
                nofile,
                nix::unistd::getsid(None).ok() == Some(nix::unistd::getpid()),
                nix::unistd::getpgrp() == nix::unistd::getpid(),
            );
        }
        "spawn-loop" => {
            let seconds = number(1);
            let program = args.get(2).expect("spawn-loop SECONDS PROG");
            let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
            let mut runs = 0u64;
            let fork = std::env::var_os("SPAWN_LOOP_FORK").is_some();
            while std::time::Instant::now() < deadline {
                let mut command = std::process::Command::new(program);
                command.args(&args[3..]);
                if fork {
                    use std::os::unix::process::CommandExt;
                    // SAFETY: setsid is async-signal-safe.
                    #[allow(unsafe_code)]
                    unsafe {
                        command.pre_exec(|| {
                            let _ = setsid();
                            Ok(())
                        });
                    }
                }
                let _ = command.status();
                runs += 1;
            }
            println!("{runs}");
        }
        "chatter" => {
            let every = Duration::from_millis(number(1).max(1));
            let burst = value("--burst")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000u64);
            // SAFETY: the handler only stores to an atomic.
            #[allow(unsafe_code)]
            unsafe {
                signal(Signal::SIGUSR1, SigHandler::Handler(on_usr1)).expect("SIGUSR1 handler");
            }
            let tag = if flag("--grandchild") {
                // SAFETY: single-threaded here; the child goes on in this loop.
                #[allow(unsafe_code)]
                match unsafe { fork() }.expect("fork") {
                    ForkResult::Parent { .. } => "main",
                    ForkResult::Child => "g",
                }
            } else {
                "main"
            };
            let pid = std::process::id();
            let mut seq = 0u64;
            let say = |seq: u64| {
                let line = format!("{tag} {pid} {seq}\n");
                // One write per line: lines from two processes on one pipe
                // interleave whole (a write under PIPE_BUF is atomic).
                if nix::unistd::write(std::io::stdout(), line.as_bytes()).is_err() {
                    std::process::exit(0);
                }
            };
            loop {
                seq += 1;
                say(seq);
                if BURST.swap(false, std::sync::atomic::Ordering::Relaxed) {
                    for _ in 0..burst {
                        seq += 1;
                        say(seq);
                    }
                }
                std::thread::sleep(every);
            }
        }
        "stamp" => {
            let path = args.get(1).expect("stamp FILE");
            let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
            let ns = now.tv_sec() as u128 * 1_000_000_000 + now.tv_nsec() as u128;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open");
            writeln!(file, "{ns}").expect("write");
            if let Some(ms) = value("--sleep").and_then(|v| v.parse().ok()) {
                std::thread::sleep(Duration::from_millis(ms));
            }
            std::process::exit(value("--exit").and_then(|v| v.parse().ok()).unwrap_or(0));
        }
        other => {
            eprintln!("tend-testkit: unknown mode {other:?}");
            std::process::exit(2);
        }
    }
}

/// Set by SIGUSR1 in `chatter`: write a burst.
static BURST: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_usr1(_: i32) {
    BURST.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn ignore(sig: Signal) {
    set_handler(sig, SigHandler::SigIgn);
}

fn set_handler(sig: Signal, handler: SigHandler) {
    // SAFETY: SIG_IGN and SIG_DFL run no handler code.
    #[allow(unsafe_code)]
    unsafe {
        signal(sig, handler).expect("set signal disposition");
    }
}

/// Forks a grandchild that sleeps forever (after `setsid` if asked) and
/// returns its pid.
fn grandchild(escape: bool) -> i32 {
    // SAFETY: this program is single-threaded when it forks, and the child
    // only calls setsid and sleeps.
    #[allow(unsafe_code)]
    match unsafe { fork() }.expect("fork") {
        ForkResult::Parent { child } => child.as_raw(),
        ForkResult::Child => {
            if escape {
                let _ = setsid();
            }
            sleep_forever()
        }
    }
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// A tiny HTTP server for probe tests: one thread per connection, the
/// status from whether `health` exists.
fn serve(address: &str, health: Option<std::path::PathBuf>) -> ! {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind(address).unwrap_or_else(|e| {
        eprintln!("cannot listen on {address}: {e}");
        std::process::exit(1)
    });
    println!("listening");
    let _ = std::io::stdout().flush();
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let health = health.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(match stream.try_clone() {
                Ok(s) => s,
                Err(_) => return,
            });
            let mut line = String::new();
            // The request line and headers, up to the blank line.
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" || line == "\n" {
                    break;
                }
                line.clear();
            }
            let ok = health.as_ref().is_none_or(|f| f.exists());
            let status = if ok {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        });
    }
    std::process::exit(0)
}
