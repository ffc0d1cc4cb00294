//! Any bytes as an HTTP request on the control socket of a running tend:
//! a whole request gets an answer below 500, anything else an answer below
//! 500 or none, never a panic, and tend keeps answering.
//!
//! One daemon runs for the whole fuzzing session (started again if an
//! input shut it down), over a config of two services.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;

// The same exchange as the corpus regression test's.
#[path = "../../crates/tend-cli/tests/common/raw.rs"]
mod raw;

use raw::{asks_to_shut_down, exchange, Outcome};

const CONFIG: &str = include_str!("../api.toml");

/// How many times the daemon's run ended (an input shut it down).
static ENDED: AtomicU64 = AtomicU64::new(0);

/// The control socket of the daemon, started on first use.
fn socket() -> &'static PathBuf {
    static SOCKET: OnceLock<PathBuf> = OnceLock::new();
    SOCKET.get_or_init(|| {
        // libFuzzer's C main leaves SIGPIPE deadly; a Rust program (and
        // tend) ignores it, and a write to a connection the server closed
        // must fail, not kill.
        // SAFETY: setting a disposition before any thread of ours runs.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        // A panic anywhere, a daemon task included, is a crash to report.
        std::panic::set_hook(Box::new(|info| {
            eprintln!("{info}");
            std::process::abort();
        }));
        let dir = std::env::temp_dir().join(format!("tend-fuzz-api-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("tend.toml");
        std::fs::write(&config, CONFIG).unwrap();
        let options = tend_daemon::Options {
            config,
            state_dir: None,
            socket: None,
            echo: tend_daemon::logs::Echo::Off,
        };
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            // An input may shut it down: run it again.
            loop {
                if let Err(error) = runtime.block_on(tend_daemon::run(options.clone())) {
                    eprintln!("tend did not run again: {error}");
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                ENDED.fetch_add(1, Ordering::SeqCst);
            }
        });
        dir.join(".tend/tend.sock")
    })
}

fuzz_target!(|data: &[u8]| {
    // An upgrade would make this process another program (the daemon runs
    // in it): its body's parsing is tested in `openapi.rs` instead.
    if data.windows(11).any(|w| w == b"/v1/upgrade") {
        return;
    }
    let socket = socket();
    wait_until_answering(socket);
    let ended = ENDED.load(Ordering::SeqCst);
    match exchange(socket, data) {
        // A shutdown was accepted: the next input must not reach the
        // daemon that is stopping (it would close the connection).
        Outcome::Answered(202) if asks_to_shut_down(data) => wait_until_ended(ended),
        Outcome::Answered(status) => assert!(
            status < 500,
            "answered {status} to {:?}",
            String::from_utf8_lossy(data)
        ),
        // tend may be gone before its answer to a shutdown is read.
        Outcome::Unanswered if asks_to_shut_down(data) => {
            if !ended_within(ended, Duration::from_secs(5)) {
                // No shutdown after all: it must still answer.
                wait_until_answering(socket);
            }
        }
        Outcome::Unanswered => panic!("no answer to {:?}", String::from_utf8_lossy(data)),
        Outcome::Partial(status) => assert!(status.is_none_or(|s| s < 500)),
    }
});

/// Waits until the run that was going when `ended` was read has ended.
fn wait_until_ended(ended: u64) {
    assert!(
        ended_within(ended, Duration::from_secs(60)),
        "tend did not stop after accepting a shutdown"
    );
}

fn ended_within(ended: u64, limit: Duration) -> bool {
    let start = Instant::now();
    while ENDED.load(Ordering::SeqCst) == ended {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// Waits for the daemon (started, or started again after an input shut
/// it down) to answer.
fn wait_until_answering(socket: &Path) {
    let start = Instant::now();
    while exchange(socket, b"GET /v1/daemon HTTP/1.1\r\nHost: tend\r\n\r\n")
        != Outcome::Answered(200)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "tend stopped answering"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
