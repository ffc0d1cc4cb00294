//! A small supervision tree that survives its children crashing.
//!
//! ```text
//! root (one-for-one, at most 10 restarts in 10 s)
//! ├── clock      permanent: ticks every second
//! ├── flaky      permanent, backoff 200 ms → 2 s: panics now and then
//! ├── pipeline   nested supervisor (rest-for-one)
//! │   ├── source   fails every 3 s; its restart restarts sink too
//! │   └── sink
//! └── janitor    transient: does its job once and completes
//! ```
//!
//! Run it with `cargo run -p tend-engine --example tree` (add a number of seconds to
//! run for, default 8; Ctrl-C stops it early, a second Ctrl-C kills).

use std::time::Duration;

use tend_engine::{
    Backoff, ChildSpec, Context, EventKind, Intensity, Restart, Strategy, Supervisor,
    SupervisorBuilder,
};

fn clock() -> ChildSpec {
    ChildSpec::task("clock", |ctx: Context| async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut n = 0u64;
        loop {
            tokio::select! {
                _ = ctx.cancelled() => return,
                _ = tick.tick() => { n += 1; println!("{:>13} tick {n}", "clock"); }
            }
        }
    })
}

fn flaky() -> ChildSpec {
    ChildSpec::task("flaky", |ctx: Context| async move {
        let lifetime = Duration::from_millis(700 + fastrand::u64(..1500));
        tokio::select! {
            _ = ctx.cancelled() => {}
            _ = tokio::time::sleep(lifetime) => panic!("flaky gave up after {lifetime:?}"),
        }
    })
    .backoff(Backoff::exponential(Duration::from_millis(200), Duration::from_secs(2)).jitter(0.2))
}

fn pipeline() -> SupervisorBuilder {
    Supervisor::builder("pipeline")
        .strategy(Strategy::RestForOne)
        .intensity(Intensity::new(5, Duration::from_secs(10)))
        .child(ChildSpec::task("source", |ctx: Context| async move {
            tokio::select! {
                _ = ctx.cancelled() => Ok(()),
                _ = tokio::time::sleep(Duration::from_secs(3)) => Err("upstream connection reset"),
            }
        }))
        .child(ChildSpec::task("sink", |ctx: Context| async move {
            ctx.cancelled().await
        }))
}

fn janitor() -> ChildSpec {
    ChildSpec::task("janitor", |_ctx: Context| async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        println!("{:>13} cleaned up, done", "janitor");
        Ok::<(), std::io::Error>(())
    })
    .restart(Restart::Transient)
}

fn describe(kind: &EventKind) -> Option<String> {
    Some(match kind {
        EventKind::ChildStarted { id, generation, .. } => {
            format!("started    {id} (incarnation {generation})")
        }
        EventKind::ChildExited {
            id, exit, ran_for, ..
        } => format!("exited     {id} after {ran_for:.1?}: {exit}"),
        EventKind::ChildRestarting { id, delay, .. } if !delay.is_zero() => {
            format!("restarting {id} in {delay:.0?}")
        }
        EventKind::GaveUp { offender, reason } => {
            format!("GAVE UP    because of {offender}: {reason}")
        }
        EventKind::SupervisorStopped { exit } => format!("stopped    {exit}"),
        _ => return None,
    })
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    // Before the tree starts, so an early Ctrl-C is handled too.
    let signals = tend_engine::ShutdownSignals::install().expect("signal handlers");
    let root = Supervisor::builder("root")
        .intensity(Intensity::new(10, Duration::from_secs(10)))
        .child(clock())
        .child(flaky())
        .child(ChildSpec::supervisor(pipeline()))
        .child(janitor())
        .start()
        .await
        .expect("the tree starts");
    println!("tree started; running for {seconds} s (Ctrl-C to stop early)");

    let mut events = root.subscribe();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let Some(line) = describe(&event.kind) {
                println!("{:>13} {line}", event.supervisor);
            }
        }
    });
    // Silence the default panic message: the tree reports panics as exits.
    std::panic::set_hook(Box::new(|_| {}));

    let exit = tokio::select! {
        exit = signals.run(&root) => exit,
        _ = tokio::time::sleep(Duration::from_secs(seconds)) => root.shutdown().await.exit,
    };
    println!("\nroot ended: {exit}");
    let m = root.metrics();
    println!(
        "root counters: {} incarnations, {} restarts, {} abnormal exits",
        m.spawned, m.restarts, m.exits_abnormal
    );
}
