//! Many spawns at once from several supervisors on the multi-thread runtime:
//! the spawn path (a vfork-like clone into each child's cgroup) must stay
//! correct under concurrency, and leave nothing behind.

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{ChildSpec, Intensity, Supervisor};
use tend_process::ProcessExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_crash_loops_under_four_supervisors_leave_nothing_behind() {
    tend_process::enable_orphan_reaping().unwrap();
    let mut supervisors = Vec::new();
    for s in 0..4 {
        let children =
            (0..4).map(|c| ChildSpec::process(format!("s{s}c{c}"), testkit(["exit", "1"])));
        let sup = Supervisor::builder(format!("sup{s}"))
            .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
            .children(children)
            .start()
            .await
            .unwrap();
        supervisors.push(sup);
    }
    eventually("2,000 restarts across the supervisors", || {
        supervisors
            .iter()
            .map(|s| s.metrics().restarts)
            .sum::<u64>()
            >= 2_000
    })
    .await;
    for sup in &supervisors {
        let report = tokio::time::timeout(DEADLINE, sup.shutdown())
            .await
            .expect("shutdown");
        assert_eq!(report.children.len(), 4);
        let m = sup.metrics();
        assert_eq!(m.active, 0);
        assert_eq!(
            m.spawned,
            m.exits_normal + m.exits_shutdown + m.exits_abnormal
        );
        assert_eq!(m.start_failures, 0, "every spawn succeeded");
    }
    assert!(
        tend_process::wait_for_orphans(DEADLINE),
        "no child left unreaped"
    );
}
