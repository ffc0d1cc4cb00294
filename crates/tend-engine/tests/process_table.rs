//! Seed D's process table: every incarnation of every child in a tree has a
//! tree-unique id, a restarted one records the id it replaced, and the
//! table lists the live ones with their path, state and capacity.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use tend_engine::{ChildKind, ChildSpec, ChildState, Context, EventKind, Intensity, Supervisor};

fn lots() -> Intensity {
    Intensity::new(100, Duration::from_secs(1))
}

#[tokio::test(start_paused = true)]
async fn ids_are_unique_across_the_tree_and_restarts_record_their_lineage() {
    let lab = Lab::new();
    let mut builder = Supervisor::builder("root")
        .intensity(lots())
        .child(lab.child("a"))
        .child(ChildSpec::supervisor(
            Supervisor::builder("group")
                .intensity(lots())
                .child(lab.child("g1"))
                .child(lab.child("g2")),
        ));
    let mut events = builder.subscribe();
    let root = builder.start().await.unwrap();
    let mut started = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let EventKind::ChildStarted {
            incarnation,
            replaces,
            ..
        } = event.kind
        {
            assert_eq!(replaces, None, "first incarnations replace nothing");
            started.push(incarnation);
        }
    }
    assert_eq!(started.len(), 4, "a, g1, g2, group");
    assert_eq!(
        started.iter().collect::<HashSet<_>>().len(),
        4,
        "unique across the nested supervisor too: {started:?}"
    );

    let table = root.process_table().await;
    let first_a = table.entries[0].incarnation;
    lab.crash("a");
    idle().await;
    let table = root.process_table().await;
    let a = &table.entries[0];
    assert_eq!(a.id.as_str(), "a");
    assert_eq!(
        a.parent,
        Some(first_a),
        "the restart records what it replaced"
    );
    assert!(a.incarnation > first_a);
    assert_eq!(
        root.child_info("a").await.unwrap().incarnation,
        Some(a.incarnation)
    );
    let history = root.child_info("a").await.unwrap().history;
    assert_eq!(history[0].incarnation, first_a);
    root.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_table_lists_live_incarnations_with_paths_states_and_capacity() {
    let lab = Lab::new();
    let root = Supervisor::builder("root")
        .intensity(lots())
        .max_children(5)
        .child(lab.child("a"))
        .child(ChildSpec::supervisor(
            Supervisor::builder("group").child(lab.child("g")),
        ))
        .child(lab.child("done").restart(tend_engine::Restart::Transient))
        .start()
        .await
        .unwrap();
    lab.end("done", End::Normal);
    idle().await;
    let table = root.process_table().await;
    let rows: Vec<(String, ChildKind, ChildState, Option<usize>)> = table
        .entries
        .iter()
        .map(|e| (e.path(), e.kind, e.state, e.capacity.max))
        .collect();
    assert_eq!(
        rows,
        [
            (
                "root/a".to_string(),
                ChildKind::Worker,
                ChildState::Running,
                Some(5)
            ),
            (
                "root/group".to_string(),
                ChildKind::Supervisor,
                ChildState::Running,
                Some(5)
            ),
            (
                "root/group/g".to_string(),
                ChildKind::Worker,
                ChildState::Running,
                None
            ),
        ],
        "the completed child has no live incarnation"
    );
    assert_eq!(table.entries[0].capacity.children, 3);
    assert_eq!(table.entries[2].capacity.children, 1);
    assert!(
        table.entries.iter().all(|e| e.pid.is_none()),
        "tasks have no pid"
    );
    let g = table.entries[2].incarnation;
    assert_eq!(table.get(g).unwrap().id.as_str(), "g");
    assert_eq!(table.in_state(ChildState::Running).count(), 3);
    root.shutdown().await;
    assert!(root.process_table().await.entries.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_incarnation_knows_its_id_and_lineage() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(ChildSpec::task("c", move |ctx: Context| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push((ctx.incarnation(), ctx.replaces()));
                if ctx.generation() < 3 {
                    return Err("again");
                }
                ctx.cancelled().await;
                Ok(())
            }
        }))
        .start()
        .await
        .unwrap();
    idle().await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].1, None);
    assert_eq!(seen[1].1, Some(seen[0].0));
    assert_eq!(seen[2].1, Some(seen[1].0));
    sup.shutdown().await;
}
