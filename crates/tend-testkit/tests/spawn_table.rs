//! A spawn does not copy the supervisor's descriptor table: the child's
//! table is small however many descriptors the supervisor holds, so a
//! spawn costs the same with 10 children or 10,000 (issue 26). Its own
//! binary: the low slots a spawn lends the child are reserved by the
//! process's first spawns, which no other test may make first.

mod common;

use common::*;
use tend_process::ProcessSpec;

/// The size of the descriptor table of the process that prints it.
fn fd_size(output: &str) -> usize {
    output
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no FDSize in {output:?}"))
}

#[tokio::test]
async fn a_child_gets_a_small_descriptor_table_whatever_the_supervisor_holds() {
    let report = "grep FDSize /proc/$$/status";
    let before = fd_size(&output_of("first", ProcessSpec::new("sh", ["-c", report])).await);
    // 600 more descriptors here: a copied table would have 1,024 entries.
    let held: Vec<std::fs::File> = (0..600)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    let after = fd_size(&output_of("later", ProcessSpec::new("sh", ["-c", report])).await);
    assert!(
        after < 600,
        "the child's table has {after} entries (the first child's had {before}): \
         a copy of the supervisor's"
    );
    drop(held);
}
