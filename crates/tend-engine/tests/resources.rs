//! Task resource accounting with limits (seed D): counters a task charges
//! through its context, and CPU busy time measured around its polls; a
//! warning at 80 %, and at 100 % a stop with `ResourceExceeded`.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, ChildState, Context, CrashPolicy, EventKind, ExitKind, FailReason, Intensity,
    Resource, Supervisor,
};

/// A task that handles a message each time it is told to, charging it.
fn consumer() -> ChildSpec {
    ChildSpec::task("consumer", |ctx: Context| async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = ctx.cancelled() => return,
                _ = tick.tick() => ctx.charge(Resource::Messages, 1),
            }
        }
    })
}

#[tokio::test(start_paused = true)]
async fn a_counter_warns_at_80_percent_and_stops_the_child_at_100() {
    let mut builder = Supervisor::builder("s")
        .intensity(Intensity::new(10, Duration::from_secs(1)))
        .child(consumer().limit(Resource::Messages, 10));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let t0 = tokio::time::Instant::now();
    let warning = next_event(&mut events, |k| {
        matches!(k, EventKind::ResourceWarning { .. })
    })
    .await;
    assert!(matches!(
        warning.kind,
        EventKind::ResourceWarning {
            resource: Resource::Messages,
            used: 8,
            limit: 10,
            ..
        }
    ));
    assert_eq!(
        t0.elapsed(),
        Duration::from_secs(7),
        "the 8th message, at 7 s"
    );
    let usage = sup.child_info("consumer").await.unwrap().usage.unwrap();
    assert_eq!(usage.counters, [(Resource::Messages, 8)]);
    assert_eq!(
        sup.which_children().await[0]
            .usage
            .as_ref()
            .unwrap()
            .counters,
        [(Resource::Messages, 8)]
    );
    assert_eq!(
        sup.which_children_unmeasured().await[0].usage,
        None,
        "unmeasured means no usage"
    );
    let exceeded = next_event(&mut events, |k| {
        matches!(k, EventKind::ResourceExceeded { .. })
    })
    .await;
    assert!(matches!(
        exceeded.kind,
        EventKind::ResourceExceeded {
            resource: Resource::Messages,
            used: 10,
            limit: 10,
            ..
        }
    ));
    idle().await;
    let info = sup.child_info("consumer").await.unwrap();
    let exit = &info.history[0].exit;
    assert_eq!(exit.kind(), ExitKind::ResourceExceeded(Resource::Messages));
    assert_eq!(exit.reason(), Some("10 of 10"));
    assert_eq!(info.generation, 2, "restarted, with a fresh count");
    assert_eq!(
        info.usage.unwrap().counters,
        [(Resource::Messages, 1)],
        "its first message, handled at once"
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn busy_time_in_polls_is_charged_to_a_cpu_time_limit() {
    let sup = Supervisor::builder("s")
        .child(
            ChildSpec::task("spinner", |ctx: Context| async move {
                loop {
                    // 20 ms of blocking work per poll, then yield.
                    std::thread::sleep(Duration::from_millis(20));
                    tokio::select! {
                        _ = ctx.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(1)) => {}
                    }
                }
            })
            .cpu_time_limit(Duration::from_millis(100))
            .on_crash(CrashPolicy::Shutdown),
        )
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let mut warned = false;
    loop {
        match next_event(&mut events, |k| {
            matches!(
                k,
                EventKind::ResourceWarning { .. } | EventKind::ResourceExceeded { .. }
            )
        })
        .await
        .kind
        {
            EventKind::ResourceWarning {
                resource: Resource::CpuTime,
                used,
                limit,
                ..
            } => {
                assert!(used >= 80_000 && limit == 100_000, "{used} µs");
                warned = true;
            }
            EventKind::ResourceExceeded {
                resource: Resource::CpuTime,
                used,
                ..
            } => {
                assert!(used >= 100_000, "{used} µs");
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(warned, "the warning comes first");
    idle().await;
    let info = sup.child_info("spinner").await.unwrap();
    assert_eq!(info.state, ChildState::Failed(FailReason::ResourceExceeded));
    assert_eq!(
        info.last_exit.unwrap().exit.kind(),
        ExitKind::ResourceExceeded(Resource::CpuTime)
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn without_a_limit_nothing_is_counted_and_a_named_counter_works_like_any() {
    let sup = Supervisor::builder("s")
        .child(ChildSpec::task("free", |ctx: Context| async move {
            ctx.charge(Resource::Calls, 1_000_000);
            ctx.heartbeat();
            ctx.cancelled().await;
        }))
        .child(
            ChildSpec::task("uploads", |ctx: Context| async move {
                ctx.charge(Resource::Named("bytes-out"), 4_096);
                ctx.charge(Resource::Calls, 1);
                ctx.cancelled().await;
            })
            .limit(Resource::Named("bytes-out"), 1 << 20)
            .limit(Resource::Calls, 10)
            .limit(Resource::Calls, 100),
        )
        .start()
        .await
        .unwrap();
    idle().await;
    assert_eq!(sup.child_info("free").await.unwrap().usage, None);
    let usage = sup.child_info("uploads").await.unwrap().usage.unwrap();
    assert_eq!(
        usage.counters,
        [(Resource::Named("bytes-out"), 4_096), (Resource::Calls, 1)],
        "one meter per resource, the last limit set wins"
    );
    assert_eq!(usage.cpu_time, None, "no CPU-time limit, no poll timing");
    sup.shutdown().await;
}
