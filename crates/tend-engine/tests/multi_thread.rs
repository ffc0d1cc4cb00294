//! The engine on tokio's multi-thread runtime, under load: children crashing
//! as fast as they can while handles call in from other tasks. Real time, so
//! every wait is on a condition with a generous deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tend_engine::{ChildSpec, ChildState, Context, ControlError, Intensity, Strategy, Supervisor};

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_storm_keeps_counters_and_states_consistent() {
    let incarnations = Arc::new(AtomicU64::new(0));
    let target = 20_000;
    let make = |id: &str| {
        let incarnations = incarnations.clone();
        ChildSpec::task(id, move |ctx: Context| {
            let n = incarnations.fetch_add(1, Ordering::Relaxed);
            async move {
                if n < target {
                    return Err("crash");
                }
                ctx.cancelled().await;
                Ok(())
            }
        })
    };
    let sup = Supervisor::builder("storm")
        .strategy(Strategy::OneForAll)
        .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
        .children(["a", "b", "c", "d"].map(make))
        .start()
        .await
        .unwrap();
    tokio::time::timeout(DEADLINE, async {
        while incarnations.load(Ordering::Relaxed) < target + 4 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the storm ends");
    // Once all four run quietly, the books balance.
    let info = tokio::time::timeout(DEADLINE, async {
        loop {
            let info = sup.which_children().await;
            if info.iter().all(|c| c.state == ChildState::Running) {
                return info;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("all children running");
    let m = sup.metrics();
    assert_eq!(m.active, 4);
    assert_eq!(
        m.spawned,
        m.exits_normal + m.exits_shutdown + m.exits_abnormal + m.active
    );
    let generations: u64 = info.iter().map(|c| c.generation).sum();
    assert_eq!(generations, m.spawned);
    let report = sup.shutdown().await;
    assert_eq!(report.killed().count(), 0);
    assert_eq!(sup.metrics().active, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_calling_from_many_tasks_during_crashes_get_otp_answers() {
    let sup = Supervisor::builder("busy")
        .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
        .start()
        .await
        .unwrap();
    for i in 0..8 {
        let id = format!("w{i}");
        sup.start_child(ChildSpec::task(id, |ctx: Context| async move {
            tokio::select! {
                _ = ctx.cancelled() => Ok(()),
                _ = tokio::time::sleep(Duration::from_micros(50)) => Err("tick crash"),
            }
        }))
        .await
        .unwrap();
    }
    let callers: Vec<_> = (0..8)
        .map(|i| {
            let sup = sup.clone();
            tokio::spawn(async move {
                let id = format!("w{i}");
                for _ in 0..200 {
                    sup.terminate_child(&id).await.unwrap();
                    match sup.restart_child(&id).await {
                        Ok(_) => {}
                        Err(ControlError::Running(_)) | Err(ControlError::Restarting(_)) => {}
                        Err(other) => panic!("unexpected answer: {other}"),
                    }
                    assert_eq!(sup.count_children().await.specs, 8);
                }
            })
        })
        .collect();
    tokio::time::timeout(DEADLINE, async {
        for caller in callers {
            caller.await.unwrap();
        }
    })
    .await
    .expect("callers finish");
    let report = tokio::time::timeout(DEADLINE, sup.shutdown())
        .await
        .expect("shutdown");
    assert_eq!(report.children.len(), 8);
}
