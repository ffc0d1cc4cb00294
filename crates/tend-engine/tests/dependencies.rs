//! `depends_on` between siblings, on the paused clock: children start as
//! soon as their dependencies hold (started, ready, completed), as
//! concurrently as the graph allows; stop in reverse; a cycle or an unknown
//! name is an invalid spec; `binds_to` stops a dependent with its
//! dependency; a dependency that fails for good fails its dependents.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, ChildState, Condition, Context, CrashPolicy, EventKind, FailReason, Restart,
    SpecError, StartError, Supervisor,
};
use tokio::sync::broadcast;
use tokio::time::Instant;

/// A child that becomes ready after `delay` and then runs until asked to
/// stop.
fn ready_after(id: &str, delay: Duration) -> ChildSpec {
    ChildSpec::task(id, move |ctx: Context| async move {
        tokio::time::sleep(delay).await;
        ctx.ready();
        ctx.cancelled().await;
    })
    .await_ready(Duration::from_secs(60))
}

/// When each child was confirmed started, in the order events came.
async fn started_at(
    events: &mut broadcast::Receiver<tend_engine::Event>,
    n: usize,
) -> Vec<(String, Duration)> {
    let t0 = Instant::now();
    let mut seen = Vec::new();
    while seen.len() < n {
        let event = next_event(events, |k| matches!(k, EventKind::ChildStarted { .. })).await;
        if let EventKind::ChildStarted { id, .. } = event.kind {
            seen.push((id.to_string(), t0.elapsed()));
        }
    }
    seen
}

#[tokio::test(start_paused = true)]
async fn a_chain_starts_in_order_and_independent_children_do_not_wait() {
    // Given in the wrong order on purpose: the graph decides.
    let mut builder = Supervisor::builder("s")
        .child(ready_after("web", Duration::from_secs(1)).depends_on("api", Condition::Ready))
        .child(ready_after("api", Duration::from_secs(5)).depends_on("db", Condition::Ready))
        .child(ready_after("db", Duration::from_secs(2)))
        .child(ready_after("cache", Duration::from_secs(1)));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let started = started_at(&mut events, 4).await;
    let at = |id: &str| started.iter().find(|(i, _)| i == id).unwrap().1;
    assert_eq!(at("cache").as_secs(), 1, "no dependency: starts at once");
    assert_eq!(at("db").as_secs(), 2);
    assert_eq!(
        at("api").as_secs(),
        7,
        "db ready at 2 s, then 5 s of its own"
    );
    assert_eq!(at("web").as_secs(), 8);
    let ids: Vec<String> = states(&sup).await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids,
        strings(&["db", "api", "web", "cache"]),
        "start order: the graph's"
    );

    // Stopped in reverse: dependents first.
    let report = sup.shutdown().await;
    let order: Vec<String> = report.children.iter().map(|c| c.id.to_string()).collect();
    let pos = |id: &str| order.iter().position(|i| i == id).unwrap();
    assert!(
        pos("web") < pos("api") && pos("api") < pos("db"),
        "{order:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn started_and_completed_conditions() {
    let mut builder = Supervisor::builder("s")
        .child(
            ready_after("web", Duration::ZERO)
                .depends_on("migrate", Condition::Completed)
                .depends_on("db", Condition::Started),
        )
        .child(
            ChildSpec::task("migrate", |_ctx: Context| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
            })
            // Temporary, and kept once completed: web depends on it.
            .restart(Restart::Temporary)
            .depends_on("db", Condition::Started),
        )
        .child(ready_after("db", Duration::from_secs(10)));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let t0 = Instant::now();
    let started = started_at(&mut events, 3).await;
    let at = |id: &str| started.iter().find(|(i, _)| i == id).unwrap().1;
    assert_eq!(at("migrate").as_secs(), 0, "db spawned is enough");
    assert_eq!(at("web").as_secs(), 3, "after migrate completed");
    assert_eq!(at("db").as_secs(), 10);
    assert!(t0.elapsed() >= Duration::from_secs(10));
    let states = states(&sup).await;
    assert!(
        states.contains(&("migrate".into(), ChildState::Completed)),
        "{states:?}"
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn cycles_and_unknown_names_are_invalid_specs() {
    let idle = |id: &str| ChildSpec::task(id, |ctx: Context| async move { ctx.cancelled().await });
    let error = Supervisor::builder("s")
        .child(idle("a").depends_on("b", Condition::Ready))
        .child(idle("b").depends_on("a", Condition::Started))
        .child(idle("c").depends_on("nope", Condition::Started))
        .start()
        .await
        .unwrap_err();
    let StartError::InvalidSpec(errors) = error else {
        panic!("{error:?}")
    };
    let kinds: Vec<&SpecError> = errors.iter().map(|e| &e.error).collect();
    assert!(kinds.contains(&&SpecError::DependencyCycle(vec![
        "a".into(),
        "b".into(),
        "a".into()
    ])));
    assert!(kinds.contains(&&SpecError::UnknownDependency {
        child: "c".into(),
        name: "nope".into()
    }));
}

#[tokio::test(start_paused = true)]
async fn binds_to_stops_a_dependent_with_its_dependency_and_starts_it_with_it() {
    let mut builder = Supervisor::builder("s")
        .child(ready_after("db", Duration::ZERO))
        .child(
            ready_after("bound", Duration::ZERO)
                .depends_on("db", Condition::Ready)
                .binds_to(true),
        )
        .child(ready_after("loose", Duration::ZERO).depends_on("db", Condition::Ready));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    started_at(&mut events, 3).await;
    sup.terminate_child("db").await.unwrap();
    idle().await;
    // Stopped before db, as systemd stops the units bound to one it
    // stops; it waits for db to be started again.
    let states = states(&sup).await;
    assert_eq!(
        states,
        [
            ("db".to_string(), ChildState::Shutdown),
            ("bound".to_string(), ChildState::Pending),
            ("loose".to_string(), ChildState::Running),
        ]
    );
    let bound = sup.child_info("bound").await.unwrap();
    let exit = &bound.last_exit.unwrap().exit;
    assert!(
        exit.to_string()
            .contains("it binds to db, which is stopping"),
        "{exit}"
    );
    // Starting db again starts what it stopped.
    sup.restart_child("db").await.unwrap();
    idle().await;
    let bound = sup.child_info("bound").await.unwrap();
    assert_eq!((bound.state, bound.generation), (ChildState::Running, 2));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn restarting_a_dependency_restarts_what_binds_to_it_after_it() {
    let mut builder = Supervisor::builder("s")
        .child(ready_after("db", Duration::from_secs(1)))
        .child(
            ready_after("app", Duration::ZERO)
                .depends_on("db", Condition::Ready)
                .binds_to(true),
        )
        .child(
            ready_after("proxy", Duration::ZERO)
                .depends_on("app", Condition::Ready)
                .binds_to(true),
        );
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    started_at(&mut events, 3).await;
    sup.restart_child_now("db").await.unwrap();
    // Stopped dependents first: proxy, app, then db.
    let mut exited = Vec::new();
    while exited.len() < 3 {
        let event = next_event(&mut events, |k| matches!(k, EventKind::ChildExited { .. })).await;
        if let EventKind::ChildExited { id, .. } = event.kind {
            exited.push(id.to_string());
        }
    }
    assert_eq!(exited, ["proxy", "app", "db"]);
    // Then started again in dependency order, once db is ready.
    let again = started_at(&mut events, 3).await;
    let order: Vec<&str> = again.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(order, ["db", "app", "proxy"]);
    for id in ["db", "app", "proxy"] {
        let info = sup.child_info(id).await.unwrap();
        assert_eq!(
            (info.state, info.generation),
            (ChildState::Running, 2),
            "{id}"
        );
    }
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_dependency_that_crashes_and_comes_back_brings_its_bound_dependent_back() {
    let crashes = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let count = crashes.clone();
    let db = ChildSpec::task("db", move |ctx: Context| {
        let count = count.clone();
        async move {
            ctx.ready();
            if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                return Err::<(), _>("crashed");
            }
            ctx.cancelled().await;
            Ok(())
        }
    })
    .await_ready(Duration::from_secs(60));
    let mut builder = Supervisor::builder("s").child(db).child(
        ready_after("app", Duration::ZERO)
            .depends_on("db", Condition::Ready)
            .binds_to(true),
    );
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    started_at(&mut events, 2).await;
    // db crashes at 1 s and is restarted; app is stopped with it and
    // started again once db is ready again.
    let again = started_at(&mut events, 2).await;
    let order: Vec<&str> = again.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(order, ["db", "app"]);
    let app = sup.child_info("app").await.unwrap();
    assert_eq!((app.state, app.generation), (ChildState::Running, 2));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_dependency_that_fails_for_good_fails_its_dependents() {
    let mut builder = Supervisor::builder("s")
        .child(
            ChildSpec::task("migrate", |_ctx: Context| async {
                Err::<(), _>("bad schema")
            })
            .restart(Restart::Transient)
            .on_crash(CrashPolicy::Shutdown),
        )
        .child(ready_after("web", Duration::ZERO).depends_on("migrate", Condition::Completed));
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let failed = next_event(
        &mut events,
        |k| matches!(k, EventKind::ChildFailed { ref id, .. } if id.as_str() == "web"),
    )
    .await;
    assert!(matches!(
        failed.kind,
        EventKind::ChildFailed {
            reason: FailReason::DependencyFailed,
            ..
        }
    ));
    assert_eq!(
        sup.child_info("web").await.unwrap().generation,
        0,
        "never started"
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_concurrent_start_not_ready_in_time_is_an_exit_its_restart_type_handles() {
    let never = ChildSpec::task("never", |ctx: Context| async move { ctx.cancelled().await })
        .await_ready(Duration::from_secs(2));
    let mut builder = Supervisor::builder("s")
        .concurrent_start(true)
        .intensity(tend_engine::Intensity::new(10, Duration::from_secs(60)))
        .child(never);
    let mut events = builder.subscribe();
    let sup = builder.start().await.unwrap();
    let failed = next_event(&mut events, |k| {
        matches!(k, EventKind::ChildStartFailed { .. })
    })
    .await;
    assert!(matches!(
        failed.kind,
        EventKind::ChildStartFailed { ref exit, .. } if exit.to_string().contains("not ready within 2s")
    ));
    next_event(&mut events, |k| {
        matches!(k, EventKind::ChildRestarting { .. })
    })
    .await;
    idle().await;
    // Its restart is under way: restarting until the new incarnation is up.
    let info = sup.child_info("never").await.unwrap();
    assert_eq!((info.state, info.generation), (ChildState::Restarting, 2));
    assert!(info.incarnation.is_some() && info.running_since.is_some());
    sup.shutdown().await;
}

/// A child handed over at rest (`ChildSpec::resting`, what `tend upgrade`
/// uses) is not started: a completed job is not run again and still meets
/// its dependents' `completed` condition; a stopped one waits for an
/// operator's restart; a state not at rest is ignored.
#[tokio::test(start_paused = true)]
async fn resting_children_are_not_started_and_keep_their_meaning() {
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counting = |id: &str| {
        let ran = ran.clone();
        ChildSpec::task(id, move |ctx: Context| {
            let ran = ran.clone();
            async move {
                ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                ctx.cancelled().await;
            }
        })
    };
    let setup = ChildSpec::task("setup", |_ctx: Context| async {
        unreachable!("ran again") as ()
    })
    .restart(Restart::Transient)
    .resting(ChildState::Completed);
    let web = counting("web").depends_on("setup", Condition::Completed);
    let stopped = counting("stopped").resting(ChildState::Shutdown);
    let failed = counting("failed").resting(ChildState::Failed(FailReason::CircuitBreakerOpen));
    let not_at_rest = counting("running").resting(ChildState::Running);
    let root = Supervisor::builder("root")
        .children([setup, web, stopped, failed, not_at_rest])
        .start()
        .await
        .expect("started");
    let state = |id: &'static str| {
        let root = root.clone();
        async move { root.child_info(id).await.expect("a child").state }
    };
    assert_eq!(state("setup").await, ChildState::Completed);
    assert_eq!(state("web").await, ChildState::Running);
    assert_eq!(state("stopped").await, ChildState::Shutdown);
    assert_eq!(
        state("failed").await,
        ChildState::Failed(FailReason::CircuitBreakerOpen)
    );
    assert_eq!(state("running").await, ChildState::Running);
    assert_eq!(
        ran.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "web and running"
    );
    root.restart_child("stopped").await.expect("restarted");
    assert_eq!(state("stopped").await, ChildState::Running);
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 3);
    root.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_waiting_child_names_the_dependencies_it_still_waits_for() {
    let sup = Supervisor::builder("s")
        .child(
            ready_after("web", Duration::ZERO)
                .depends_on("db", Condition::Ready)
                .depends_on("cache", Condition::Started),
        )
        .child(ready_after("db", Duration::from_secs(10)))
        .child(ready_after("cache", Duration::ZERO))
        .start()
        .await
        .unwrap();
    let waits = |infos: Vec<tend_engine::ChildInfo>, id: &str| {
        let info = infos.into_iter().find(|i| i.id.as_str() == id).unwrap();
        let waits: Vec<String> = info
            .waiting_for
            .iter()
            .map(|(dep, condition)| format!("{dep} {condition}"))
            .collect();
        (info.state, waits)
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        waits(sup.which_children().await, "web"),
        (ChildState::Pending, strings(&["db ready"])),
        "cache started, db not ready yet"
    );
    assert_eq!(
        waits(vec![sup.child_info("web").await.unwrap()], "web").1,
        strings(&["db ready"]),
        "child_info says the same"
    );
    assert!(waits(sup.which_children().await, "db").1.is_empty());
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        waits(sup.which_children().await, "web"),
        (ChildState::Running, Vec::new()),
        "started: waits for nothing"
    );
    sup.shutdown().await;
}
