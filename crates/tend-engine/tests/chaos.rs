//! Chaos for tasks, on the paused clock: 50 task children under supervisors
//! of all three strategies, three deep, take 100 faults a second for two
//! minutes of virtual time — crashes, panics, normal and shutdown exits,
//! kills, restarts, stops and starts through the handles — and then the
//! event stream is audited: every child runs again, every start has its
//! end, every abnormal exit was followed by its restart (or its supervisor
//! giving up), and OTP's intensity rule replayed over the restart events
//! gives up exactly where the engine did. Deterministic: a seeded
//! generator and tokio's paused clock. (`bench/chaos.py` does the same for
//! processes, through the `tend` program.)

mod common;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use common::{idle, End, Lab, OnCancel};
use tend_engine::{
    ChildSpec, ChildState, EventKind, GiveUp, Intensity, Shutdown, Strategy, Supervisor,
    SupervisorHandle,
};
use tokio::time::Instant;

/// Where each worker is: the chain of supervisor ids below the root.
struct Worker {
    id: String,
    parents: Vec<&'static str>,
}

/// Replicated pairs' supervisors give up at 20 restarts in 10 s; the rest
/// never do.
fn tight() -> Intensity {
    Intensity::new(20, Duration::from_secs(10))
}

fn many() -> Intensity {
    Intensity::new(1_000_000, Duration::from_secs(1))
}

fn tree(lab: &Lab) -> (tend_engine::SupervisorBuilder, Vec<Worker>) {
    let mut workers = Vec::new();
    let mut worker = |id: String, parents: Vec<&'static str>, i: usize| {
        // Most obey a stop at once; some take 50 ms; one in ten ignores it
        // and is killed after its 100 ms shutdown timeout.
        let on_cancel = match i % 10 {
            0 => OnCancel::Ignore,
            3 | 7 => OnCancel::Linger(Duration::from_millis(50)),
            _ => OnCancel::Obey,
        };
        workers.push(Worker {
            id: id.clone(),
            parents,
        });
        lab.child_with(&id, on_cancel)
            .shutdown(Shutdown::Timeout(Duration::from_millis(100)))
    };
    let mut root = Supervisor::builder("root").intensity(many());
    for i in 0..10 {
        root = root.child(worker(format!("single{i}"), vec![], i));
    }
    for (name, strategy) in [("ofa", Strategy::OneForAll), ("rfo", Strategy::RestForOne)] {
        let mut group = Supervisor::builder(name)
            .strategy(strategy)
            .intensity(many());
        for i in 0..10 {
            group = group.child(worker(format!("{name}{i}"), vec![name], i));
        }
        root = root.child(ChildSpec::supervisor(group));
    }
    let mut deep = Supervisor::builder("deep").intensity(many());
    for p in 0..10 {
        let pair: &'static str = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"][p];
        let mut sup = Supervisor::builder(pair).intensity(tight());
        for i in 0..2 {
            sup = sup.child(worker(format!("{pair}w{i}"), vec!["deep", pair], p * 2 + i));
        }
        deep = deep.child(ChildSpec::supervisor(sup));
    }
    root = root
        .child(ChildSpec::supervisor(deep))
        .event_capacity(64 * 1024);
    (root, workers)
}

async fn handle_of(root: &SupervisorHandle, parents: &[&str]) -> Option<SupervisorHandle> {
    let mut handle = root.clone();
    for id in parents {
        handle = handle.supervisor(*id).await.ok()?;
    }
    Some(handle)
}

#[tokio::test(start_paused = true)]
async fn fifty_tasks_under_a_hundred_faults_a_second_keep_otp_s_rules() {
    // The panics are the faults: not worth a backtrace each.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("boom in") {
            report(info);
        }
    }));
    let lab = Lab::new();
    let (mut builder, workers) = tree(&lab);
    let mut events = builder.subscribe();
    let collected = tokio::spawn(async move {
        let mut all = Vec::new();
        loop {
            match events.recv().await {
                Ok(event) => all.push(event),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    panic!("the audit lost {n} events")
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return all,
            }
        }
    });
    let root = builder.start().await.expect("started");
    let mut rng = fastrand::Rng::with_seed(20_261_123);
    let mut faults: HashMap<&'static str, u32> = HashMap::new();
    let mut stopped: Vec<(Instant, usize)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut next = Instant::now();
    while next < deadline {
        // 100 a second, on schedule (a stop that takes a while does not
        // thin them out: the next ones follow at once).
        next += Duration::from_millis(10);
        tokio::time::sleep_until(next).await;
        // Start again what was stopped a while ago.
        let now = Instant::now();
        for (_, w) in stopped.extract_if(.., |(when, _)| *when <= now) {
            if let Some(sup) = handle_of(&root, &workers[w].parents).await {
                let _ = sup.restart_child(workers[w].id.as_str()).await;
            }
        }
        let w = rng.usize(..workers.len());
        let worker = &workers[w];
        let roll = rng.u32(..100);
        let fault = match roll {
            0..40 => lab
                .try_end(&worker.id, End::Crash("chaos"))
                .then_some("crash"),
            40..50 => lab.try_end(&worker.id, End::Panic).then_some("panic"),
            50..60 => lab
                .try_end(&worker.id, End::Normal)
                .then_some("normal exit"),
            60..65 => lab
                .try_end(&worker.id, End::Shutdown("chaos"))
                .then_some("shutdown exit"),
            _ => {
                let Some(sup) = handle_of(&root, &worker.parents).await else {
                    *faults.entry("raced").or_default() += 1;
                    continue;
                };
                let id = worker.id.as_str();
                match roll {
                    65..80 => sup.kill_child(id).await.ok().map(|()| "kill"),
                    // An operator's restart: stop, then start (OTP's
                    // restart_child is for a stopped child only).
                    80..92 => match sup.terminate_child(id).await {
                        Ok(()) => sup.restart_child(id).await.ok().map(|_| "restart"),
                        Err(_) => None,
                    },
                    _ => sup
                        .terminate_child(worker.id.as_str())
                        .await
                        .ok()
                        .map(|()| {
                            stopped.push((now + Duration::from_millis(rng.u64(100..2000)), w));
                            "stop"
                        }),
                }
            }
        };
        *faults.entry(fault.unwrap_or("raced")).or_default() += 1;
    }
    // Settle: everything stopped is started again, every supervisor that
    // gave up has been restarted by its parent.
    for (_, w) in stopped.drain(..) {
        if let Some(sup) = handle_of(&root, &workers[w].parents).await {
            let _ = sup.restart_child(workers[w].id.as_str()).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    for worker in &workers {
        let sup = handle_of(&root, &worker.parents)
            .await
            .unwrap_or_else(|| panic!("the supervisor of {} is gone", worker.id));
        let info = sup.child_info(worker.id.as_str()).await.expect("a child");
        assert_eq!(info.state, ChildState::Running, "{} at the end", worker.id);
    }
    let landed: u32 = faults
        .iter()
        .filter(|(k, _)| **k != "raced")
        .map(|(_, n)| n)
        .sum();
    assert!(landed > 8_000, "faults that landed: {faults:?}");
    root.shutdown().await;
    // The stream ends with the last handle.
    drop(root);
    idle().await;
    let events = collected.await.expect("the collector");
    audit(&events, &faults);
}

/// The event stream against the rules.
fn audit(events: &[tend_engine::Event], faults: &HashMap<&'static str, u32>) {
    // Every start has its end (the tree was shut down at the end).
    let mut balance: HashMap<(String, String), i64> = HashMap::new();
    for event in events {
        let key = |id: &tend_engine::ChildId| (event.supervisor.to_string(), id.to_string());
        match &event.kind {
            EventKind::ChildStarted { id, .. } => *balance.entry(key(id)).or_default() += 1,
            EventKind::ChildExited { id, .. } => *balance.entry(key(id)).or_default() -= 1,
            _ => {}
        }
    }
    let unbalanced: Vec<_> = balance.iter().filter(|(_, n)| **n != 0).collect();
    assert!(unbalanced.is_empty(), "starts without ends: {unbalanced:?}");

    // Every abnormal exit is followed by its restart, or by its supervisor
    // (or one above it) giving up or stopping.
    let mut open: HashMap<(String, String), Instant> = HashMap::new();
    let mut restarts_checked = 0;
    for event in events {
        let sup = event.supervisor.to_string();
        match &event.kind {
            EventKind::ChildExited { id, exit, .. } if exit.is_abnormal() => {
                open.insert((sup, id.to_string()), event.at);
            }
            EventKind::ChildRestarting { id, .. }
                if open.remove(&(sup.clone(), id.to_string())).is_some() =>
            {
                restarts_checked += 1;
            }
            EventKind::GaveUp { .. } | EventKind::SupervisorStopped { .. } => {
                open.retain(|(s, _), _| !(*s == sup || s.starts_with(&format!("{sup}/"))));
            }
            EventKind::ChildStarted { id, .. } => {
                let key = (sup, id.to_string());
                assert!(
                    !open.contains_key(&key),
                    "{key:?} started again with no restart decided after its abnormal exit"
                );
            }
            _ => {}
        }
    }
    assert!(open.is_empty(), "abnormal exits never restarted: {open:?}");

    // OTP's intensity: each supervisor's restarts (a fresh window whenever
    // it starts again) are the ones its window allowed, and it gave up
    // exactly at the one that overflowed.
    let intensity_of = |path: &str| {
        if path.starts_with("root/deep/p") {
            tight()
        } else {
            many()
        }
    };
    let mut windows: HashMap<String, VecDeque<Instant>> = HashMap::new();
    let (mut allowed, mut refused) = (0, 0);
    for event in events {
        let path = event.supervisor.to_string();
        match &event.kind {
            EventKind::ChildStarted { id, pid: None, .. } => {
                windows.remove(&format!("{path}/{id}"));
            }
            EventKind::ChildRestarting { .. }
            | EventKind::GaveUp {
                reason: GiveUp::IntensityReached,
                ..
            } => {
                let limit = intensity_of(&path);
                let window = windows.entry(path.clone()).or_default();
                window.push_back(event.at);
                while window
                    .front()
                    .is_some_and(|&r| event.at.duration_since(r) > limit.period)
                {
                    window.pop_front();
                }
                let overflowed = window.len() > limit.max_restarts as usize;
                let gave_up = matches!(event.kind, EventKind::GaveUp { .. });
                assert_eq!(
                    overflowed,
                    gave_up,
                    "{path}: {} restarts within {:?} at {:?}, and it {}",
                    window.len(),
                    limit.period,
                    event.at,
                    if gave_up { "gave up" } else { "restarted" }
                );
                if gave_up {
                    refused += 1;
                } else {
                    allowed += 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        refused > 0,
        "the tight supervisors never gave up ({allowed} restarts): the check checked nothing"
    );
    eprintln!(
        "chaos (tasks): faults {faults:?}; {allowed} restarts and {refused} give-ups replayed, {restarts_checked} abnormal exits each restarted"
    );
}
