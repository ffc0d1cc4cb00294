//! `tend up` in the foreground, its standard output a pipe (a container's
//! log, `tend up | tee`): every service line is copied there, the services
//! slowed to the reader's pace, unless the reader stops taking anything;
//! then the services go on, their logs whole, and the copy says how many
//! lines it left out. (A terminal is never waited for: `terminal.rs`.)

mod common;

use std::io::Read;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Project, DEADLINE};

/// Lines the flood prints: 200,000 of 36 bytes, 8.8 MB with the prefix,
/// many times what tend queues for standard output.
const LINES: u64 = 200_000;

fn flooding_project() -> Project {
    Project::new(&format!(
        "[services.flood]\nshell = \"seq -f 'line %030g' 1 {LINES}\"\nrestart = \"never\"\n"
    ))
}

/// `tend up` with its standard output on a pipe this test reads.
fn up_on_a_pipe(p: &Project) -> Child {
    let err = std::fs::File::create(p.path("up.err")).unwrap();
    p.command(env!("CARGO_BIN_EXE_tend"))
        .arg("up")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .unwrap()
}

/// Reads `tend up`'s standard output on a thread, in pieces of `piece`
/// bytes with `pause` after each, once `go` says so; sends all of it
/// when the pipe closes.
fn reader(
    mut up: Child,
    piece: usize,
    pause: Duration,
    go: mpsc::Receiver<()>,
) -> mpsc::Receiver<(Child, Vec<u8>)> {
    let (sent, got) = mpsc::channel();
    let mut out = up.stdout.take().unwrap();
    std::thread::spawn(move || {
        let _ = go.recv();
        let mut all = Vec::new();
        let mut buffer = vec![0; piece];
        loop {
            match out.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buffer[..n]),
            }
            std::thread::sleep(pause);
        }
        let _ = sent.send((up, all));
    });
    got
}

/// The flood's numbers as shown, in order, and the lines the notes say
/// were left out.
fn shown_and_noted(out: &[u8]) -> (Vec<u64>, u64, Vec<String>) {
    let text = String::from_utf8_lossy(out);
    let mut shown = Vec::new();
    let mut noted = 0;
    let mut notes = Vec::new();
    for line in text.lines() {
        if let Some(number) = line.strip_prefix("flood | line ") {
            shown.push(number.parse().unwrap());
        } else if let Some(note) = line.strip_prefix("tend | (") {
            noted += note.split(' ').next().unwrap().parse::<u64>().unwrap();
            notes.push(line.to_owned());
        }
    }
    (shown, noted, notes)
}

fn log_lines(p: &Project) -> usize {
    std::fs::read_to_string(p.path(".tend/logs/flood.log"))
        .map(|log| log.lines().count())
        .unwrap_or(0)
}

/// Stops `tend up` (SIGINT, as Ctrl-C) once the flood's log has every
/// line, and waits for what the reader got.
fn stop(p: &Project, pid: u32, got: &mpsc::Receiver<(Child, Vec<u8>)>) -> Vec<u8> {
    p.wait_for("every line in the flood's log", || {
        log_lines(p) == LINES as usize
    });
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let (mut up, out) = got
        .recv_timeout(DEADLINE)
        .expect("tend up never closed its output");
    let status = up.wait().unwrap();
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(p.path("up.err")).unwrap()
    );
    out
}

/// A reader slower than the flood (about 3 MB/s): nothing is left out,
/// and every line is there once, in order, after its prefix.
#[test]
fn a_slow_reader_of_standard_output_gets_every_line() {
    let p = flooding_project();
    let up = up_on_a_pipe(&p);
    let pid = up.id();
    let (go, wait) = mpsc::channel();
    let got = reader(up, 16 * 1024, Duration::from_millis(5), wait);
    go.send(()).unwrap();
    let out = stop(&p, pid, &got);
    let (shown, noted, notes) = shown_and_noted(&out);
    assert_eq!(noted, 0, "lines were left out: {notes:?}");
    assert!(
        shown.iter().copied().eq(1..=LINES),
        "{} lines shown, not 1..={LINES} in order",
        shown.len()
    );
}

/// A reader that takes nothing for a while: the flood is not held (its
/// log has every line before anything is read), and the copy says how
/// many lines it left out, the rest shown once and in order.
#[test]
fn a_reader_that_stops_holds_no_service() {
    let p = flooding_project();
    let up = up_on_a_pipe(&p);
    let pid = up.id();
    let (go, wait) = mpsc::channel();
    let got = reader(up, 64 * 1024, Duration::ZERO, wait);
    let start = Instant::now();
    while log_lines(&p) < LINES as usize {
        assert!(
            start.elapsed() < DEADLINE,
            "the flood was held by a reader that stopped: {} lines in its log",
            log_lines(&p)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    go.send(()).unwrap();
    let out = stop(&p, pid, &got);
    let (shown, noted, notes) = shown_and_noted(&out);
    assert!(
        noted > 0,
        "nothing was left out of {} lines shown",
        shown.len()
    );
    assert!(
        notes
            .iter()
            .all(|n| n.contains("not shown: standard output blocked")),
        "{notes:?}"
    );
    assert!(
        shown.windows(2).all(|w| w[0] < w[1]),
        "a line twice or out of order"
    );
    assert_eq!(
        shown.len() as u64 + noted,
        LINES,
        "shown and noted are not every line"
    );
}

/// Whether `pid` has ended (gone, or a zombie not yet waited for).
fn ended(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(") ")
            .next()
            .is_some_and(|rest| rest.starts_with('Z'))
    })
}

/// Stopped with a reader that takes nothing: `tend up` still exits (its
/// wait for standard output is bounded), no line reaches the reader torn,
/// and every line is shown, noted there, or counted on standard error.
#[test]
fn an_exit_with_a_stopped_reader_tears_no_line_and_counts_the_rest() {
    let p = flooding_project();
    let up = up_on_a_pipe(&p);
    let pid = up.id();
    let (go, wait) = mpsc::channel();
    let got = reader(up, 64 * 1024, Duration::ZERO, wait);
    p.wait_for("every line in the flood's log", || {
        log_lines(&p) == LINES as usize
    });
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let asked = Instant::now();
    p.wait_for("tend up to exit", || ended(pid));
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "tend up took {took:?} to exit"
    );
    go.send(()).unwrap();
    let (mut up, out) = got.recv_timeout(DEADLINE).unwrap();
    up.wait().unwrap();
    let text = String::from_utf8(out).unwrap();
    for line in text.lines() {
        let whole = line
            .strip_prefix("flood | line ")
            .is_some_and(|n| n.len() == 30 && n.parse::<u64>().is_ok())
            || line.starts_with("tend | (");
        assert!(whole, "a torn line: {line:?}");
    }
    let (shown, noted, _) = shown_and_noted(text.as_bytes());
    let said = std::fs::read_to_string(p.path("up.err")).unwrap();
    let left: u64 = said
        .lines()
        .find_map(|l| {
            l.strip_prefix("tend: ")?
                .split_once(" lines of output not written to standard output")
                .map(|(n, _)| n.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no count of the lines left on standard error:\n{said}"));
    assert_eq!(
        shown.len() as u64 + noted + left,
        LINES,
        "shown {}, noted {noted}, left {left}",
        shown.len()
    );
}
