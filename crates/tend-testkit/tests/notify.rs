//! sd_notify, server side, with the real `systemd-notify` as the client:
//! readiness gates the next start, `STATUS=` is shown, a missed or
//! triggered watchdog stops the process as hung, and a process outside the
//! service is not heard.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, DEADLINE};
use tend_engine::{ChildSpec, ExitKind, Restart, Supervisor};
use tend_process::{ProcessExt, ProcessSpec, ReadySpec};

fn notify_service(line: &str, timeout: Duration) -> ProcessSpec {
    let mut spec = ProcessSpec::shell(line);
    spec.ready = ReadySpec::notify(timeout);
    spec
}

/// The first exit in the tree's events.
async fn first_exit(
    events: &mut tokio::sync::broadcast::Receiver<tend_engine::Event>,
) -> tend_engine::Exit {
    loop {
        let event = tokio::time::timeout(DEADLINE, events.recv())
            .await
            .expect("an exit in time")
            .unwrap();
        if let tend_engine::EventKind::ChildExited { exit, .. } = event.kind {
            return exit;
        }
    }
}

#[tokio::test]
async fn ready_from_systemd_notify_gates_the_next_start_and_status_is_shown() {
    let started = Instant::now();
    let sup = Supervisor::builder("s")
        .child(ChildSpec::process(
            "db",
            notify_service(
                "sleep 0.3; systemd-notify --ready --status='accepting connections'; exec sleep 100",
                DEADLINE,
            ),
        ))
        .child(ChildSpec::process("web", ProcessSpec::shell("exec sleep 100")))
        .start()
        .await
        .unwrap();
    // `start` returns once every child is up, `db` only when it said so.
    assert!(started.elapsed() >= Duration::from_millis(300));
    let children = sup.which_children().await;
    assert!(children[0].ready, "db is ready");
    assert_eq!(children[0].status.as_deref(), Some("accepting connections"));
    assert!(children[1].pid.is_some(), "web started after db was ready");
    sup.shutdown().await;
}

#[tokio::test]
async fn not_ready_in_time_is_a_start_failure() {
    let result = Supervisor::builder("s")
        .child(ChildSpec::process(
            "mute",
            notify_service("exec sleep 100", Duration::from_millis(300)),
        ))
        .start()
        .await;
    let error = result.unwrap_err().to_string();
    assert!(error.contains("not ready within 300ms"), "{error}");
}

#[tokio::test]
async fn a_missed_watchdog_stops_the_process_as_hung() {
    let mut spec = ProcessSpec::shell(
        "for i in 1 2 3 4 5; do systemd-notify WATCHDOG=1; sleep 0.1; done; exec sleep 100",
    );
    spec.watchdog = Some(Duration::from_millis(500));
    let mut builder = Supervisor::builder("s")
        .child(ChildSpec::process("hangs", spec).restart(Restart::Temporary));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let started = Instant::now();
    let exit = first_exit(&mut events).await;
    assert_eq!(exit.kind(), ExitKind::Watchdog, "{exit}");
    // Kept alive by five beats 100 ms apart, then 500 ms of silence.
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    sup.shutdown().await;
}

#[tokio::test]
async fn watchdog_trigger_stops_the_process_at_once() {
    let mut spec = ProcessSpec::shell("systemd-notify WATCHDOG=trigger; exec sleep 100");
    spec.watchdog = Some(Duration::from_secs(60));
    let mut builder = Supervisor::builder("s")
        .child(ChildSpec::process("asks", spec).restart(Restart::Temporary));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let exit = first_exit(&mut events).await;
    assert_eq!(exit.kind(), ExitKind::Watchdog, "{exit}");
    assert!(exit.to_string().contains("WATCHDOG=trigger"), "{exit}");
    sup.shutdown().await;
}

#[tokio::test]
async fn a_process_outside_the_service_is_not_heard() {
    // A stranger (this test's process) sends READY=1 to the service's
    // socket; then the service says a STATUS (systemd-notify waits until
    // that datagram, and so every earlier one, was taken) and touches a
    // file. The start must still be waiting: only the service's own READY
    // (after `go2`) ends it.
    let dir = std::env::temp_dir().join(format!("tend-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let line = format!(
        "cd {dir}; echo $NOTIFY_SOCKET > socket; \
         while [ ! -e go ]; do sleep 0.02; done; \
         systemd-notify --status=checked-in; touch checked; \
         while [ ! -e go2 ]; do sleep 0.02; done; \
         systemd-notify --ready; exec sleep 100",
        dir = dir.display(),
    );
    let sup = Supervisor::builder("s").start().await.unwrap();
    let start = {
        let sup = sup.clone();
        tokio::spawn(async move {
            sup.start_child(ChildSpec::process("svc", notify_service(&line, DEADLINE)))
                .await
        })
    };
    let socket_file = dir.join("socket");
    eventually("the service to write its socket's name", || {
        std::fs::read_to_string(&socket_file).is_ok_and(|s| s.starts_with('@'))
    })
    .await;
    let address = std::fs::read_to_string(&socket_file).unwrap();
    let name = address.trim().trim_start_matches('@');
    {
        use std::os::linux::net::SocketAddrExt;
        let to = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let stranger = std::os::unix::net::UnixDatagram::unbound().unwrap();
        stranger.send_to_addr(b"READY=1", &to).unwrap();
    }
    std::fs::write(dir.join("go"), "").unwrap();
    eventually("the service's own STATUS to be taken", || {
        dir.join("checked").exists()
    })
    .await;
    tokio::task::yield_now().await;
    assert!(
        !start.is_finished(),
        "a stranger's READY=1 must not finish the start"
    );
    std::fs::write(dir.join("go2"), "").unwrap();
    tokio::time::timeout(DEADLINE, start)
        .await
        .expect("ready once the service says so")
        .unwrap()
        .unwrap();
    let info = &sup.which_children().await[0];
    assert!(info.ready);
    assert_eq!(info.status.as_deref(), Some("checked-in"));
    sup.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn mainpid_hands_the_watch_over_to_the_process_it_names() {
    // A daemon that forks: the first process names its child and exits.
    tend_process::enable_orphan_reaping().unwrap();
    let spec = notify_service(
        "sleep 100 & systemd-notify --ready MAINPID=$!; exit 0",
        DEADLINE,
    );
    let mut builder = Supervisor::builder("s").child(ChildSpec::process("forker", spec));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let main = sup.child_info("forker").await.unwrap().pid.unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{main}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep", "the named main process is shown");
    // The shell exits at once (its `sleep` is handed to this process, the
    // subreaper); the service runs on as that `sleep`.
    let parent = || {
        let stat = std::fs::read_to_string(format!("/proc/{main}/stat")).unwrap_or_default();
        stat.rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1).map(str::to_owned))
            .unwrap_or_default()
    };
    eventually("the first process to be gone", || {
        parent() == std::process::id().to_string()
    })
    .await;
    // A window for a wrong end (the shell's exit taken for the service's)
    // to show: nothing is awaited here, something is ruled out.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let info = sup.child_info("forker").await.unwrap();
    assert_eq!(
        (info.state, info.generation, info.pid),
        (tend_engine::ChildState::Running, 1, Some(main))
    );
    // Its end is the service's end.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(main as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let exit = first_exit(&mut events).await;
    assert_eq!(exit.kind(), ExitKind::Killed, "{exit}");
    sup.shutdown().await;
}
