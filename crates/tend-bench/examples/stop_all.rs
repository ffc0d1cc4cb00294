//! A fixed workload for counting instructions: N idle children started by
//! the builder, then a shutdown that stops them all in reverse order, on a
//! current-thread runtime. Under `valgrind --tool=callgrind` with two
//! values of N, the difference divided by the difference of N is the cost
//! of one child's start and stop (see BENCHMARKS.md).
//!
//! `cargo build --release -p tend-bench --example stop_all`

#![allow(missing_docs)]

use tend_engine::{ChildSpec, Context, Supervisor};

fn main() {
    let children: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sup = Supervisor::builder("stop")
            .children((0..children).map(|i| {
                ChildSpec::task(format!("c{i}"), |ctx: Context| async move {
                    ctx.cancelled().await
                })
            }))
            .start()
            .await
            .expect("start");
        if std::env::args().nth(2).is_some_and(|a| a == "start-only") {
            std::process::exit(0);
        }
        let report = sup.shutdown().await;
        assert_eq!(report.children.len(), children);
    });
}
