//! Exit classification and start failures, with real processes.

mod common;

use common::*;
use tend_engine::{ChildSpec, ControlError, ExitClass, ExitKind, Intensity, Signal, Supervisor};
use tend_process::{ProcessExt, ProcessSpec};

#[tokio::test]
async fn exit_codes_and_signals_are_typed_fields_and_classified_exactly() {
    let normal = exit_of(testkit(["exit", "0"])).await;
    assert_eq!(
        (
            normal.kind(),
            normal.class(),
            normal.code(),
            normal.signal()
        ),
        (ExitKind::Normal, ExitClass::Normal, Some(0), None)
    );

    let failed = exit_of(testkit(["exit", "3"])).await;
    assert_eq!(
        (failed.kind(), failed.class(), failed.code()),
        (ExitKind::Error, ExitClass::Abnormal, Some(3))
    );
    assert_eq!(failed.to_string(), "error (exit code 3)");

    let mut spec = testkit(["exit", "3"]);
    spec.success_codes = vec![0, 3];
    let success = exit_of(spec).await;
    assert_eq!(
        (success.kind(), success.class(), success.code()),
        (ExitKind::Normal, ExitClass::Normal, Some(3))
    );

    let segv = exit_of(testkit(["signal", "11"])).await;
    assert_eq!(
        (segv.kind(), segv.class(), segv.signal(), segv.code()),
        (
            ExitKind::Killed,
            ExitClass::Abnormal,
            Some(Signal::Segv),
            None
        )
    );
    assert_eq!(segv.to_string(), "killed by SIGSEGV");

    let term = exit_of(testkit(["signal", "15"])).await;
    assert_eq!(
        (term.class(), term.signal()),
        (ExitClass::Abnormal, Some(Signal::Term)),
        "a signal we did not send is abnormal"
    );

    let realtime = exit_of(testkit(["signal", "40"])).await;
    assert_eq!(realtime.signal(), Some(Signal::Realtime(40)));
}

#[tokio::test]
async fn a_spawn_that_fails_is_a_start_failure_with_a_precise_message() {
    let sup = Supervisor::builder("t").start().await.unwrap();
    let dir = temp_dir("not-executable");
    let not_executable = dir.join("script");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    let no_interpreter = dir.join("orphan");
    std::fs::write(&no_interpreter, "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(
        &no_interpreter,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let in_dir = |program: &str, cwd: &std::path::Path| {
        let mut s = ProcessSpec::new(program, Vec::<String>::new());
        s.cwd = Some(cwd.into());
        s
    };
    // Each names its real cause: the directory or the program, and which.
    let cases = [
        (
            ProcessSpec::new("/nonexistent/program", Vec::<String>::new()),
            "cannot start \"/nonexistent/program\": no such file (/nonexistent/program)".to_owned(),
        ),
        (
            ProcessSpec::new("no-such-program-anywhere", Vec::<String>::new()),
            "cannot start \"no-such-program-anywhere\": it is not found on PATH".to_owned(),
        ),
        (
            {
                let mut s = testkit(["exit", "0"]);
                s.cwd = Some("/nonexistent/dir".into());
                s
            },
            "the working directory /nonexistent/dir does not exist".to_owned(),
        ),
        (
            in_dir("true", &not_executable),
            format!(
                "cannot start \"true\": the working directory {} is not a directory",
                not_executable.display()
            ),
        ),
        (
            in_dir("./missing", &dir),
            format!(
                "cannot start \"./missing\": no such file ({}/missing)",
                dir.display()
            ),
        ),
        (
            ProcessSpec::new(not_executable.to_str().unwrap(), Vec::<String>::new()),
            "it is not executable".to_owned(),
        ),
        (
            ProcessSpec::new(no_interpreter.to_str().unwrap(), Vec::<String>::new()),
            "its interpreter (the #! line) or loader is missing".to_owned(),
        ),
        (
            {
                let mut s = testkit(["exit", "0"]);
                s.user = Some("no-such-user-here".into());
                s
            },
            "no such user \"no-such-user-here\"".to_owned(),
        ),
        (
            ProcessSpec::new("", Vec::<String>::new()),
            "the command is empty".to_owned(),
        ),
    ];
    for (i, (spec, expected)) in cases.into_iter().enumerate() {
        let err = match sup
            .start_child(ChildSpec::process(format!("bad{i}"), spec))
            .await
        {
            Ok(_) => panic!("case {i} started"),
            Err(err) => err,
        };
        match &err {
            ControlError::StartFailed { exit, .. } => {
                assert_eq!(exit.kind(), ExitKind::StartFailure, "case {i}");
                assert!(
                    exit.reason().is_some_and(|r| r.contains(&*expected)),
                    "case {i}: {exit} lacks {expected:?}"
                )
            }
            other => panic!("case {i}: {other:?}"),
        }
    }
    assert!(sup.which_children().await.is_empty());
    sup.shutdown().await;
}

#[tokio::test]
async fn a_crashing_process_is_restarted_with_a_new_pid_and_its_lineage() {
    // Each incarnation lives a second: ample time to read the table while
    // it runs, even on a slow machine.
    let sup = Supervisor::builder("t")
        .intensity(Intensity::new(10, std::time::Duration::from_secs(10)))
        .child(ChildSpec::process(
            "p",
            testkit(["exit", "1", "--after", "1000"]),
        ))
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let first = sup.which_children().await[0].pid.expect("a pid");
    let table = sup.process_table().await;
    let first_entry = table.by_pid(first).expect("the pid, beside its id");
    assert_eq!(
        (
            first_entry.backend,
            first_entry.id.as_str(),
            first_entry.parent
        ),
        (tend_engine::Backend::Process, "p", None)
    );
    let first_incarnation = first_entry.incarnation;
    let exit = tokio::time::timeout(DEADLINE, sup.monitor("p"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.exit.code(), Some(1));
    let mut exited_pid = None;
    let (second, replaces) = tokio::time::timeout(DEADLINE, async {
        loop {
            match events.recv().await.unwrap().kind {
                tend_engine::EventKind::ChildExited {
                    generation: 1, pid, ..
                } => exited_pid = pid,
                tend_engine::EventKind::ChildStarted {
                    generation: 2,
                    pid,
                    replaces,
                    ..
                } => return (pid, replaces),
                _ => {}
            }
        }
    })
    .await
    .expect("restarted");
    assert!(second.is_some_and(|pid| pid != first));
    assert_eq!(exited_pid, Some(first), "the exit names its process");
    assert_eq!(replaces, Some(first_incarnation), "the restart's lineage");
    let info = &sup.which_children().await[0];
    assert!(info.generation >= 2 && !info.state.is_at_rest());
    sup.shutdown().await;
    assert!(!exists(first as i32), "the first incarnation was reaped");
}
