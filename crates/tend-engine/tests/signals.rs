//! `run_until_signal`: the first SIGTERM shuts the tree down gracefully, a
//! second one kills what is left. Real signals to this test process, which is
//! its own binary so no other test sees them.
#![cfg(feature = "signal")]

use std::time::Duration;

use tend_engine::{ChildSpec, Context, ExitClass, Shutdown, Supervisor};
use tokio::sync::mpsc;

fn send_sigterm() {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_signal_is_graceful_and_second_kills() {
    let (asked_tx, mut asked) = mpsc::unbounded_channel();
    let stubborn = ChildSpec::task("stubborn", move |ctx: Context| {
        let asked_tx = asked_tx.clone();
        async move {
            ctx.cancelled().await;
            let _ = asked_tx.send(());
            std::future::pending::<()>().await; // ignores the request
        }
    })
    .shutdown(Shutdown::Timeout(Duration::from_secs(3600)));
    let polite = ChildSpec::task(
        "polite",
        |ctx: Context| async move { ctx.cancelled().await },
    );
    let sup = Supervisor::builder("app")
        .child(polite)
        .child(stubborn)
        .start()
        .await
        .unwrap();

    let mut events = sup.subscribe();
    // Installed before any signal is sent: none is missed, none kills us.
    let signals = tend_engine::ShutdownSignals::install().unwrap();
    let runner = tokio::spawn({
        let sup = sup.clone();
        async move { signals.run(&sup).await }
    });
    send_sigterm();
    tokio::time::timeout(Duration::from_secs(30), asked.recv())
        .await
        .expect("the stubborn child is asked to stop")
        .unwrap();
    assert!(
        !runner.is_finished(),
        "graceful: waits for the stubborn child"
    );
    send_sigterm();
    let exit = tokio::time::timeout(Duration::from_secs(30), runner)
        .await
        .expect("the second signal ends it at once")
        .unwrap();
    assert_eq!(exit.class(), ExitClass::Shutdown);
    let mut killed = false;
    while let Ok(event) = events.try_recv() {
        if let tend_engine::EventKind::ChildExited { id, exit, .. } = event.kind {
            if id.as_str() == "stubborn" {
                killed = exit.kind() == tend_engine::ExitKind::Killed;
            }
        }
    }
    assert!(killed, "the stubborn child was killed");
}
