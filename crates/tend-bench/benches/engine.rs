//! Criterion benchmarks of the engine, each beside its baseline measured in
//! the same run. See BENCHMARKS.md for method, machine and results.
//!
//! - `restart`: one child that exits at once and is restarted, per restart;
//!   baseline: a bare loop re-spawning a tokio task and awaiting it, from a
//!   worker thread of the same runtime; peers: ractor (restart written by hand
//!   in `handle_supervisor_evt`) and kameo (declarative restart policy).
//! - `start`: starting 10k idle children, per child; baseline: 10k
//!   `tokio::spawn` of a task awaiting a `Notify`.
//! - `stop`: shutting down a supervisor of N idle children.

#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tend_engine::{ChildSpec, Context, Intensity, Supervisor};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

mod peers;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Counts incarnations and wakes the bench when `target` is reached.
#[derive(Clone)]
struct Goal {
    count: Arc<AtomicU64>,
    target: Arc<AtomicU64>,
    done: Arc<Notify>,
}

impl Goal {
    fn new(target: u64) -> Self {
        Goal {
            count: Arc::new(AtomicU64::new(0)),
            target: Arc::new(AtomicU64::new(target)),
            done: Arc::new(Notify::new()),
        }
    }

    fn hit(&self) {
        if self.count.fetch_add(1, Ordering::Relaxed) + 1 == self.target.load(Ordering::Relaxed) {
            self.done.notify_one();
        }
    }
}

fn restart(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("restart");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));

    group.bench_function("bare_respawn_loop", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                tokio::spawn(async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        tokio::spawn(async {}).await.unwrap();
                    }
                    start.elapsed()
                })
                .await
                .unwrap()
            })
        })
    });

    group.bench_function("tend_one_for_one", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                // The first incarnation is the start, not a restart.
                let goal = Goal::new(iters + 1);
                let child_goal = goal.clone();
                let start = Instant::now();
                let sup = Supervisor::builder("bench")
                    .intensity(Intensity::new(u32::MAX, Duration::from_millis(1)))
                    .child(ChildSpec::task("flap", move |_ctx: Context| {
                        child_goal.hit();
                        async {}
                    }))
                    .start()
                    .await
                    .unwrap();
                goal.done.notified().await;
                let elapsed = start.elapsed();
                sup.shutdown().await;
                elapsed
            })
        })
    });

    group.bench_function("ractor_hand_written", |b| {
        b.iter_custom(|iters| rt.block_on(peers::ractor_restarts(iters)))
    });
    group.bench_function("kameo_restart_policy", |b| {
        b.iter_custom(|iters| rt.block_on(peers::kameo_restarts(iters)))
    });
    group.finish();
}

const START_N: u64 = 10_000;

fn start(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("start_10k");
    group.throughput(Throughput::Elements(START_N));
    group.sample_size(20);

    group.bench_function("tokio_spawn", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let stop = Arc::new(Notify::new());
                    let start = Instant::now();
                    let handles: Vec<_> = (0..START_N)
                        .map(|_| {
                            let stop = stop.clone();
                            tokio::spawn(async move { stop.notified().await })
                        })
                        .collect();
                    total += start.elapsed();
                    stop.notify_waiters();
                    for h in handles {
                        h.abort();
                    }
                }
                total
            })
        })
    });

    group.bench_function("tend_start_child", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let sup = Supervisor::builder("bench").start().await.unwrap();
                    let start = Instant::now();
                    for i in 0..START_N {
                        sup.start_child(idle_child(i)).await.unwrap();
                    }
                    total += start.elapsed();
                    sup.shutdown().await;
                }
                total
            })
        })
    });

    group.bench_function("tend_builder", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let sup = Supervisor::builder("bench")
                        .children((0..START_N).map(idle_child))
                        .start()
                        .await
                        .unwrap();
                    total += start.elapsed();
                    sup.shutdown().await;
                }
                total
            })
        })
    });
    group.finish();
}

fn idle_child(i: u64) -> ChildSpec {
    ChildSpec::task(format!("c{i}"), |ctx: Context| async move {
        ctx.cancelled().await
    })
}

fn stop(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("stop");
    group.sample_size(10);
    for n in [10_000u64, 100_000] {
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("tend_shutdown", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let sup = Supervisor::builder("bench")
                            .children((0..n).map(idle_child))
                            .start()
                            .await
                            .unwrap();
                        let start = Instant::now();
                        sup.shutdown().await;
                        total += start.elapsed();
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, restart, start, stop);
criterion_main!(benches);
