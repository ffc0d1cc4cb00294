//! Memory per idle child and the cost of starting and stopping many, for
//! tend, raw tokio tasks, ractor and kameo, measured in one run.
//!
//! Run: `cargo bench -p tend-bench --bench memory` (add `-- 25000 50000` for
//! other sizes). Memory is counted by a global allocator that tracks live
//! heap bytes, so it is exact and independent of the OS; the counting adds a
//! little time to every allocation, equally for every contender. Times here
//! are wall-clock, one run each (medians of 3 when the size is repeated);
//! the criterion bench `engine` gives the statistically careful ones.

#![allow(missing_docs)]

use std::alloc::System;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use tend_engine::{ChildSpec, Context, Supervisor};
use tokio::sync::Notify;

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap bytes live right now.
fn live() -> isize {
    let stats = ALLOCATOR.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize + stats.bytes_reallocated
}

struct Row {
    name: &'static str,
    n: usize,
    bytes_per_child: f64,
    start: Duration,
    stop: Duration,
}

async fn settle() {
    // Let freshly spawned tasks run to their first await.
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}

async fn tokio_tasks(n: usize) -> Row {
    let before = live();
    let stop = Arc::new(Notify::new());
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let stop = stop.clone();
            tokio::spawn(async move { stop.notified().await })
        })
        .collect();
    let start = t0.elapsed();
    settle().await;
    let bytes = live() - before;
    let t1 = Instant::now();
    stop.notify_waiters();
    for task in tasks {
        task.await.unwrap();
    }
    Row {
        name: "tokio::spawn, task awaiting a Notify (floor)",
        n,
        bytes_per_child: bytes as f64 / n as f64,
        start,
        stop: t1.elapsed(),
    }
}

async fn tend_children(n: usize) -> Row {
    let before = live();
    let t0 = Instant::now();
    let sup = Supervisor::builder("memory")
        .children((0..n).map(|i| {
            ChildSpec::task(format!("c{i}"), |ctx: Context| async move {
                ctx.cancelled().await
            })
        }))
        .start()
        .await
        .unwrap();
    let start = t0.elapsed();
    settle().await;
    let bytes = live() - before;
    let t1 = Instant::now();
    sup.shutdown().await;
    Row {
        name: "tend: supervised idle task (id, spec, state, context)",
        n,
        bytes_per_child: bytes as f64 / n as f64,
        start,
        stop: t1.elapsed(),
    }
}

mod ractor_idle {
    use ractor::{Actor, ActorProcessingErr, ActorRef};

    pub struct Idle;
    impl Actor for Idle {
        type Msg = ();
        type State = ();
        type Arguments = ();
        async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
            Ok(())
        }
    }
}

async fn ractor_children(n: usize) -> Row {
    use ractor::Actor;
    let (parent, parent_handle) = Actor::spawn(None, ractor_idle::Idle, ()).await.unwrap();
    settle().await;
    let before = live();
    let t0 = Instant::now();
    for _ in 0..n {
        Actor::spawn_linked(None, ractor_idle::Idle, (), parent.get_cell())
            .await
            .unwrap();
    }
    let start = t0.elapsed();
    settle().await;
    let bytes = live() - before;
    let t1 = Instant::now();
    parent.stop_children_and_wait(None, None).await;
    let stop = t1.elapsed();
    parent.stop(None);
    parent_handle.await.unwrap();
    Row {
        name: "ractor 0.16: idle actor linked to a parent",
        n,
        bytes_per_child: bytes as f64 / n as f64,
        start,
        stop,
    }
}

mod kameo_idle {
    use kameo::actor::{Actor, ActorRef};

    #[derive(Clone)]
    pub struct Idle;
    impl Actor for Idle {
        type Args = Self;
        type Error = String;
        async fn on_start(state: Self, _: ActorRef<Self>) -> Result<Self, String> {
            Ok(state)
        }
    }
}

async fn kameo_children(n: usize) -> Row {
    use kameo::actor::Spawn;
    let parent = kameo_idle::Idle::spawn(kameo_idle::Idle);
    parent.wait_for_startup().await;
    settle().await;
    let before = live();
    let t0 = Instant::now();
    for _ in 0..n {
        kameo_idle::Idle::supervise(&parent, kameo_idle::Idle)
            .spawn()
            .await;
    }
    let start = t0.elapsed();
    settle().await;
    let bytes = live() - before;
    let t1 = Instant::now();
    let _ = parent.stop_gracefully().await;
    parent.wait_for_shutdown().await;
    Row {
        name: "kameo 0.22: idle actor supervised by a parent",
        n,
        bytes_per_child: bytes as f64 / n as f64,
        start,
        stop: t1.elapsed(),
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100_000]
    } else {
        sizes
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("| contender | children | bytes/child | KiB/child | start µs/child | stop all |");
    println!("|---|---|---|---|---|---|");
    for &n in &sizes {
        let rows = rt.block_on(async {
            vec![
                tokio_tasks(n).await,
                tend_children(n).await,
                ractor_children(n).await,
                kameo_children(n).await,
            ]
        });
        for row in rows {
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.1} ms |",
                row.name,
                row.n,
                row.bytes_per_child,
                row.bytes_per_child / 1024.0,
                row.start.as_secs_f64() * 1e6 / row.n as f64,
                row.stop.as_secs_f64() * 1e3
            );
        }
    }
}
