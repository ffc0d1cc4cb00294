//! A fixed workload for counting instructions (not time): N restarts of one
//! child that exits at once, on a current-thread runtime, then a shutdown.
//! Run it under `valgrind --tool=callgrind` with two values of N; the
//! difference divided by the difference of N is the engine's instructions
//! per restart, repeatable whatever else the machine does (see
//! BENCHMARKS.md).
//!
//! With `mt` as a second argument it runs on the benchmarks' multi-thread
//! runtime (two workers) and prints nanoseconds per restart: a quick timing,
//! for many alternating runs where criterion's are too few on a busy
//! machine.
//!
//! `cargo build --release -p tend-bench --example restart_loop`

#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tend_engine::{ChildSpec, Context, Intensity, Supervisor};
use tokio::sync::Notify;

fn main() {
    let restarts: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let timed = std::env::args().nth(2).is_some_and(|a| a == "mt");
    let runtime = if timed {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("runtime");
    let started = std::time::Instant::now();
    runtime.block_on(async {
        let count = Arc::new(AtomicU64::new(0));
        let done = Arc::new(Notify::new());
        let (counter, finished) = (count.clone(), done.clone());
        // Idle siblings before it (a variant for scaling checks).
        let siblings: usize = std::env::var("TEND_BENCH_SIBLINGS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let sup = Supervisor::builder("loop")
            .intensity(Intensity::new(u32::MAX, Duration::from_millis(1)))
            .children((0..siblings).map(|i| {
                ChildSpec::task(format!("idle{i}"), |ctx: Context| async move {
                    ctx.cancelled().await
                })
            }))
            .child(ChildSpec::task("flap", move |_ctx: Context| {
                // The first incarnation is the start, not a restart.
                if counter.fetch_add(1, Ordering::Relaxed) == restarts {
                    finished.notify_one();
                }
                async {}
            }))
            .start()
            .await
            .expect("start");
        done.notified().await;
        sup.shutdown().await;
    });
    if timed {
        let ns = started.elapsed().as_nanos() as f64 / restarts as f64;
        println!("{ns:.0} ns per restart");
    }
}
