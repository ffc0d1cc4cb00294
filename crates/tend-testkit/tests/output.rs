//! Output capture: every line once, in order, whole; rotation keeps the
//! configured count; partial last lines are flushed.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;

use common::*;
use tend_engine::{ChildSpec, Restart, Supervisor};
use tend_process::{LogSink, LogSpec, ProcessExt, ProcessSpec};

/// Runs `spec` once with its output into `file` (as `log` says) and waits
/// for it to end.
async fn run_logged(spec: ProcessSpec, log: LogSpec) {
    let sink = LogSink::from_spec(&log).unwrap();
    let sup = Supervisor::builder("t").start().await.unwrap();
    let mut events = sup.subscribe();
    sup.start_child(ChildSpec::process_with_sink("p", spec, sink).restart(Restart::Temporary))
        .await
        .unwrap();
    tokio::time::timeout(DEADLINE * 4, async {
        loop {
            if let tend_engine::EventKind::ChildExited { exit, .. } =
                events.recv().await.unwrap().kind
            {
                assert!(exit.is_normal(), "{exit}");
                return;
            }
        }
    })
    .await
    .expect("the flood ends");
    sup.shutdown().await;
}

fn log_spec(file: &Path) -> LogSpec {
    LogSpec {
        file: Some(file.to_path_buf()),
        max_size: 0,
        keep: 0,
        timestamps: false,
    }
}

/// Checks that `files` (oldest first) hold lines `first..=last`, each once,
/// in order, each whole.
fn assert_numbered_lines(files: &[std::path::PathBuf], first: u64, last: u64, width: usize) {
    let mut expected = first;
    for file in files {
        let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(file).unwrap());
        for line in reader.lines() {
            let line = line.unwrap();
            assert_eq!(
                line.len(),
                width,
                "a torn line in {}: {line:?}",
                file.display()
            );
            let n: u64 = line[..9]
                .parse()
                .unwrap_or_else(|_| panic!("bad line {line:?}"));
            assert_eq!(n, expected, "line order in {}", file.display());
            expected += 1;
        }
    }
    assert_eq!(expected, last + 1, "lines {first}..={last} all present");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_flood_is_captured_line_for_line() {
    let dir = temp_dir("flood");
    let file = dir.join("out.log");
    let lines = 5_000_000u64; // 40 bytes each: 200 MB
    run_logged(
        testkit(["flood", &lines.to_string(), "--width", "39"]),
        log_spec(&file),
    )
    .await;
    assert_eq!(std::fs::metadata(&file).unwrap().len(), lines * 40);
    assert_numbered_lines(&[file], 1, lines, 39);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_the_configured_count_and_never_splits_a_line() {
    let dir = temp_dir("rotation");
    let file = dir.join("out.log");
    let log = LogSpec {
        max_size: 10_000,
        keep: 3,
        ..log_spec(&file)
    };
    run_logged(testkit(["flood", "5000", "--width", "49"]), log).await;
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["out.log", "out.log.1", "out.log.2", "out.log.3"]);
    let files: Vec<_> = ["out.log.3", "out.log.2", "out.log.1", "out.log"]
        .iter()
        .map(|n| dir.join(n))
        .collect();
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() <= 10_000);
    }
    // 200 lines of 50 bytes fill each rotated file exactly; the newest
    // 4 files hold the last lines, in order.
    let kept: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum::<u64>()
        / 50;
    assert_numbered_lines(&files, 5000 - kept + 1, 5000, 49);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_last_line_and_stderr_are_captured() {
    let dir = temp_dir("partial");
    let file = dir.join("out.log");
    run_logged(
        testkit(["print", "no newline at the end", "--no-newline"]),
        log_spec(&file),
    )
    .await;
    run_logged(testkit(["print", "to stderr", "--stderr"]), log_spec(&file)).await;
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "no newline at the end\nto stderr\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_prefix_each_line() {
    let dir = temp_dir("stamps");
    let file = dir.join("out.log");
    let log = LogSpec {
        timestamps: true,
        ..log_spec(&file)
    };
    run_logged(testkit(["flood", "3", "--width", "20"]), log).await;
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    for (i, line) in lines.iter().enumerate() {
        let (stamp, rest) = line.split_once(' ').unwrap();
        assert!(stamp.ends_with('Z') && stamp.contains('T'), "{stamp}");
        assert!(rest.starts_with(&format!("{:09}", i + 1)), "{rest}");
    }
}
