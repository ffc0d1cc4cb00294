//! How the supervisor's per-child operations scale: each measured in trees
//! of 1,000, 10,000 and 100,000 children, with the growth from one size to
//! the next printed at the end (10× the children should cost 10× for an
//! operation over all of them, and the same for an operation on one).
//!
//! `cargo bench -p tend-bench --bench scale` (about five minutes). Each
//! sample sets its tree up untimed and times the operation alone, on a
//! current-thread runtime. BENCHMARKS.md has the table and the method.

#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tend_engine::{
    ChildSpec, Condition, Context, Intensity, Restart, Supervisor, SupervisorBuilder,
    SupervisorHandle,
};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

/// The tree sizes measured: 1k, 10k and 100k (`TEND_SCALE_MAX=10000` stops
/// at 10k, for a baseline whose costs grow faster than linearly).
fn sizes() -> Vec<usize> {
    let max = std::env::var("TEND_SCALE_MAX")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(usize::MAX);
    [1_000, 10_000, 100_000]
        .into_iter()
        .filter(|&n| n <= max)
        .collect()
}

/// Restarts timed per sample in the restart benchmark (whatever the size).
const RESTARTS: u64 = 2_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The best time per unit seen for each (operation, size), and the units
/// (children, calls, restarts) one sample did, for the summary.
type Best = BTreeMap<(&'static str, usize), (Duration, u64)>;
static BEST: Mutex<Best> = Mutex::new(BTreeMap::new());

fn record(op: &'static str, n: usize, took: Duration, units: u64) {
    let per_unit = took / u32::try_from(units.max(1)).unwrap_or(u32::MAX);
    let mut best = BEST.lock().unwrap();
    let entry = best.entry((op, n)).or_insert((per_unit, units));
    entry.0 = entry.0.min(per_unit);
}

/// Lets freshly spawned tasks run to their first await, so that a timed
/// operation does not pay for the first polls of a tree just started.
async fn settle_tasks() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
}

fn idle(id: String) -> ChildSpec {
    ChildSpec::task(id, |ctx: Context| async move { ctx.cancelled().await })
}

fn tree(n: usize, restart: Restart) -> SupervisorBuilder {
    Supervisor::builder("scale")
        .intensity(Intensity::new(u32::MAX, Duration::from_millis(1)))
        .children((0..n).map(|i| idle(format!("c{i}")).restart(restart)))
}

/// Benchmarks `op` at each size: `setup` builds the tree (untimed), `op`
/// runs on it and returns how long its timed part took and over how many
/// units (children, or calls).
fn scaled<S, F>(c: &mut Criterion, op: &'static str, setup: S, run: F)
where
    S: Fn(&Runtime, usize) -> SupervisorHandle,
    F: Fn(&Runtime, &SupervisorHandle, usize) -> (Duration, u64),
{
    let rt = runtime();
    let mut group = c.benchmark_group(op);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(100));
    group.measurement_time(Duration::from_secs(2));
    for n in sizes() {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let sup = setup(&rt, n);
                    rt.block_on(settle_tasks());
                    let (took, units) = run(&rt, &sup, n);
                    rt.block_on(sup.shutdown());
                    record(op, n, took, units);
                    total += took;
                }
                total
            })
        });
    }
    group.finish();
}

fn start_stop(c: &mut Criterion) {
    let rt = runtime();
    for (op, stop) in [("start (builder)", false), ("stop (shutdown)", true)] {
        let mut group = c.benchmark_group(op);
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(100));
        group.measurement_time(Duration::from_secs(2));
        for n in sizes() {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let took = rt.block_on(async {
                            let t = Instant::now();
                            let sup = tree(n, Restart::Permanent).start().await.unwrap();
                            let started = t.elapsed();
                            settle_tasks().await;
                            let t = Instant::now();
                            sup.shutdown().await;
                            if stop {
                                t.elapsed()
                            } else {
                                started
                            }
                        });
                        record(op, n, took, n as u64);
                        total += took;
                    }
                    total
                })
            });
        }
        group.finish();
    }
}

fn per_child_operations(c: &mut Criterion) {
    let start = |restart: Restart| {
        move |rt: &Runtime, n: usize| rt.block_on(tree(n, restart).start()).unwrap()
    };
    scaled(
        c,
        "start_child",
        |rt, _| rt.block_on(Supervisor::builder("scale").start()).unwrap(),
        |rt, sup, n| {
            rt.block_on(async {
                let t = Instant::now();
                for i in 0..n {
                    sup.start_child(idle(format!("c{i}"))).await.unwrap();
                }
                (t.elapsed(), n as u64)
            })
        },
    );
    scaled(
        c,
        "terminate temporary",
        start(Restart::Temporary),
        |rt, sup, n| {
            rt.block_on(async {
                let t = Instant::now();
                for i in 0..n {
                    sup.terminate_child(format!("c{i}")).await.unwrap();
                }
                (t.elapsed(), n as u64)
            })
        },
    );
    scaled(
        c,
        "terminate transient",
        start(Restart::Transient),
        |rt, sup, n| {
            rt.block_on(async {
                let t = Instant::now();
                for i in 0..n {
                    sup.terminate_child(format!("c{i}")).await.unwrap();
                }
                (t.elapsed(), n as u64)
            })
        },
    );
    scaled(
        c,
        "terminate + delete",
        start(Restart::Permanent),
        |rt, sup, n| {
            rt.block_on(async {
                let t = Instant::now();
                for i in 0..n {
                    let id = format!("c{i}");
                    sup.terminate_child(id.as_str()).await.unwrap();
                    sup.delete_child(id).await.unwrap();
                }
                (t.elapsed(), n as u64)
            })
        },
    );
    scaled(
        c,
        "terminate + restart_child",
        start(Restart::Permanent),
        |rt, sup, n| {
            rt.block_on(async {
                let calls = n.min(1_000);
                let t = Instant::now();
                for i in 0..calls {
                    let id = format!("c{i}");
                    sup.terminate_child(id.as_str()).await.unwrap();
                    sup.restart_child(id).await.unwrap();
                }
                (t.elapsed(), calls as u64)
            })
        },
    );
    scaled(
        c,
        "count_children",
        start(Restart::Permanent),
        |rt, sup, n| {
            rt.block_on(async {
                let t = Instant::now();
                assert_eq!(sup.count_children().await.specs, n);
                (t.elapsed(), 1)
            })
        },
    );
    scaled(
        c,
        "which_children",
        start(Restart::Permanent),
        |rt, sup, n| {
            rt.block_on(async {
                let t = Instant::now();
                assert_eq!(sup.which_children_unmeasured().await.len(), n);
                (t.elapsed(), 1)
            })
        },
    );
    scaled(
        c,
        "restart_history",
        start(Restart::Permanent),
        |rt, sup, _| {
            rt.block_on(async {
                let t = Instant::now();
                let history = sup.restart_history().await;
                std::hint::black_box(history);
                (t.elapsed(), 1)
            })
        },
    );
}

/// Exits and restarts of one child among `n` idle ones: the cost of an
/// exit, its record, the restart decision and the new incarnation.
fn restart(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("exit and restart");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(100));
    group.measurement_time(Duration::from_secs(2));
    for n in sizes() {
        group.throughput(Throughput::Elements(RESTARTS));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let took = rt.block_on(async {
                        let count = Arc::new(AtomicU64::new(0));
                        let (go, done) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
                        let (counter, start, finished) = (count.clone(), go.clone(), done.clone());
                        // Its first incarnation waits for the go, then every
                        // incarnation exits at once.
                        let flap = ChildSpec::task("flap", move |ctx: Context| {
                            let runs = counter.fetch_add(1, Ordering::Relaxed);
                            if runs == RESTARTS {
                                finished.notify_one();
                            }
                            let start = start.clone();
                            async move {
                                if ctx.generation() == 1 {
                                    start.notified().await;
                                }
                            }
                        });
                        // The flapping child is last, so that a restart that
                        // walked the table would walk all of it.
                        let sup = tree(n, Restart::Permanent)
                            .child(flap)
                            .start()
                            .await
                            .unwrap();
                        settle_tasks().await;
                        let t = Instant::now();
                        go.notify_one();
                        done.notified().await;
                        let took = t.elapsed();
                        sup.shutdown().await;
                        took
                    });
                    record("exit and restart", n, took, RESTARTS);
                    total += took;
                }
                total
            })
        });
    }
    group.finish();
}

/// `n` children waiting for one gate (`depends_on` it, ready): the time
/// from the gate's readiness to every dependent started.
fn settle(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("settle waiting children");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(100));
    group.measurement_time(Duration::from_secs(2));
    for n in sizes() {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let took = rt.block_on(async {
                        let open = Arc::new(Notify::new());
                        let opened = open.clone();
                        let gate = ChildSpec::task("gate", move |ctx: Context| {
                            let opened = opened.clone();
                            async move {
                                opened.notified().await;
                                ctx.ready();
                                ctx.cancelled().await;
                            }
                        })
                        .await_ready(Duration::from_secs(3600));
                        let started = Arc::new(AtomicU64::new(0));
                        let all = Arc::new(Notify::new());
                        let children = (0..n).map(|i| {
                            let (started, all) = (started.clone(), all.clone());
                            ChildSpec::task(format!("c{i}"), move |ctx: Context| {
                                if started.fetch_add(1, Ordering::Relaxed) + 1 == n as u64 {
                                    all.notify_one();
                                }
                                async move { ctx.cancelled().await }
                            })
                            .depends_on("gate", Condition::Ready)
                        });
                        let sup = Supervisor::builder("scale")
                            .child(gate)
                            .children(children)
                            .start()
                            .await
                            .unwrap();
                        settle_tasks().await;
                        let t = Instant::now();
                        open.notify_one();
                        all.notified().await;
                        let took = t.elapsed();
                        sup.shutdown().await;
                        took
                    });
                    record("settle waiting children", n, took, n as u64);
                    total += took;
                }
                total
            })
        });
    }
    group.finish();
}

/// Prints, for each operation, its best time per unit (a child, a call, a
/// restart) at each size, and how the cost of the operation over the whole
/// tree grew from one size to the next: linear is 10× for an operation
/// over every child (or a listing of them) and 1× for one on a single child.
fn summary(_: &mut Criterion) {
    let best = BEST.lock().unwrap();
    let mut ops: Vec<&str> = best.keys().map(|(op, _)| *op).collect();
    ops.dedup();
    println!("\n| operation | per unit at 1k | at 10k | at 100k | cost 1k→10k | 10k→100k |");
    println!("|---|---|---|---|---|---|");
    for op in ops {
        let at = |n: usize| best.get(&(op, n)).copied();
        let (Some(a), Some(b)) = (at(1_000), at(10_000)) else {
            continue;
        };
        let c = at(100_000);
        // The whole operation's cost at one size against the size before.
        let growth = |(x, xu): (Duration, u64), (y, yu): (Duration, u64)| {
            (y.as_secs_f64() * yu as f64) / (x.as_secs_f64() * xu as f64).max(1e-12)
        };
        let (at_100k, growth_100k) = match c {
            Some(c) => (format!("{:.2?}", c.0), format!("{:.1}×", growth(b, c))),
            None => ("–".to_owned(), "–".to_owned()),
        };
        println!(
            "| {op} | {:.2?} | {:.2?} | {at_100k} | {:.1}× | {growth_100k} |",
            a.0,
            b.0,
            growth(a, b),
        );
    }
}

criterion_group!(
    benches,
    start_stop,
    per_child_operations,
    restart,
    settle,
    summary
);
criterion_main!(benches);
