//! Restart strategies, as OTP: one-for-one, one-for-all, rest-for-one.

mod common;

use common::*;
use tend_engine::{ChildState, Intensity, Restart, Strategy, Supervisor};

fn lots() -> Intensity {
    Intensity::new(100, std::time::Duration::from_secs(1))
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_failed_child() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(lots())
        .child(lab.child("a"))
        .child(lab.child("b"))
        .child(lab.child("c"))
        .start()
        .await
        .unwrap();
    assert_eq!(lab.take(), strings(&["start a", "start b", "start c"]));
    lab.crash("b");
    idle().await;
    assert_eq!(lab.take(), strings(&["crash b", "start b"]));
    let gens: Vec<_> = sup
        .which_children()
        .await
        .iter()
        .map(|c| c.generation)
        .collect();
    assert_eq!(gens, [1, 2, 1]);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn one_for_all_stops_others_in_reverse_then_starts_all_in_order() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .strategy(Strategy::OneForAll)
        .intensity(lots())
        .child(lab.child("a"))
        .child(lab.child("b"))
        .child(lab.child("c"))
        .child(lab.child("d"))
        .start()
        .await
        .unwrap();
    lab.take();
    lab.crash("b");
    idle().await;
    assert_eq!(
        lab.take(),
        strings(&[
            "crash b", "stop d", "stop c", "stop a", "start a", "start b", "start c", "start d"
        ])
    );
    let info = sup.which_children().await;
    assert!(info
        .iter()
        .all(|c| c.generation == 2 && c.restarts == 1 && c.state == ChildState::Running));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_failed_child_and_those_after_it() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .strategy(Strategy::RestForOne)
        .intensity(lots())
        .child(lab.child("a"))
        .child(lab.child("b"))
        .child(lab.child("c"))
        .child(lab.child("d"))
        .start()
        .await
        .unwrap();
    lab.take();
    lab.crash("b");
    idle().await;
    assert_eq!(
        lab.take(),
        strings(&["crash b", "stop d", "stop c", "start b", "start c", "start d"])
    );
    let gens: Vec<_> = sup
        .which_children()
        .await
        .iter()
        .map(|c| c.generation)
        .collect();
    assert_eq!(gens, [1, 2, 2, 2]);
    // The last child failing restarts only itself.
    lab.crash("d");
    idle().await;
    assert_eq!(lab.take(), strings(&["crash d", "start d"]));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn strategy_is_consulted_only_when_the_exit_leads_to_a_restart() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .strategy(Strategy::OneForAll)
        .intensity(lots())
        .child(lab.child("a"))
        .child(lab.child("b").restart(Restart::Transient))
        .child(lab.child("c"))
        .start()
        .await
        .unwrap();
    lab.take();
    lab.end("b", End::Normal);
    idle().await;
    assert_eq!(lab.take(), strings(&["done b"]));
    assert_eq!(
        states(&sup).await,
        vec![
            ("a".into(), ChildState::Running),
            ("b".into(), ChildState::Completed),
            ("c".into(), ChildState::Running)
        ]
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn one_for_all_drops_temporary_siblings_and_restarts_stopped_ones_as_otp_does() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .strategy(Strategy::OneForAll)
        .intensity(lots())
        .child(lab.child("a"))
        .child(lab.child("t").restart(Restart::Temporary))
        .child(lab.child("x").restart(Restart::Transient))
        .child(lab.child("c"))
        .start()
        .await
        .unwrap();
    sup.terminate_child("x").await.unwrap();
    lab.take();
    lab.crash("c");
    idle().await;
    // OTP's terminate_children removes temporary children; start_children
    // then starts every remaining spec, including the terminated one.
    assert_eq!(
        lab.take(),
        strings(&["crash c", "stop t", "stop a", "start a", "start x", "start c"])
    );
    let ids: Vec<_> = states(&sup).await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["a", "x", "c"]);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_leaves_earlier_siblings_alone_even_when_stopped() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .strategy(Strategy::RestForOne)
        .intensity(lots())
        .child(lab.child("a").restart(Restart::Transient))
        .child(lab.child("b"))
        .child(lab.child("c").restart(Restart::Transient))
        .start()
        .await
        .unwrap();
    sup.terminate_child("a").await.unwrap();
    sup.terminate_child("c").await.unwrap();
    lab.take();
    lab.crash("b");
    idle().await;
    assert_eq!(lab.take(), strings(&["crash b", "start b", "start c"]));
    assert_eq!(
        states(&sup).await,
        vec![
            ("a".into(), ChildState::Shutdown),
            ("b".into(), ChildState::Running),
            ("c".into(), ChildState::Running)
        ]
    );
    sup.shutdown().await;
}

/// An operator's stop of a child waiting out its backoff before the group
/// restart its crash began leaves the siblings the strategy stopped down,
/// as OTP's `terminate_child` leaves them `undefined`: they were due only
/// with it. Nothing starts when the delay would have ended. Under OTP's
/// order and with concurrent start alike.
#[tokio::test(start_paused = true)]
async fn terminating_a_backing_off_child_leaves_the_siblings_it_stopped_down() {
    for concurrent in [false, true] {
        let lab = Lab::new();
        let backoff = tend_engine::Backoff::fixed(std::time::Duration::from_millis(200));
        let sup = Supervisor::builder("s")
            .strategy(Strategy::RestForOne)
            .concurrent_start(concurrent)
            .intensity(lots())
            .child(lab.child("a").backoff(backoff))
            .child(lab.child("b"))
            .child(lab.child("c"))
            .start()
            .await
            .unwrap();
        lab.crash("a");
        idle().await;
        assert_eq!(
            states(&sup).await,
            [
                ("a".into(), ChildState::BackingOff),
                ("b".into(), ChildState::Pending),
                ("c".into(), ChildState::Pending)
            ]
        );
        let counts = sup.count_children().await;
        assert_eq!((counts.specs, counts.active), (3, 0));
        lab.take();
        sup.terminate_child("a").await.unwrap();
        idle().await;
        let down = [
            ("a".into(), ChildState::Shutdown),
            ("b".into(), ChildState::Shutdown),
            ("c".into(), ChildState::Shutdown),
        ];
        assert_eq!(states(&sup).await, down, "concurrent start: {concurrent}");
        // Nothing left due: the delay's end starts nothing.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert_eq!(states(&sup).await, down);
        assert!(lab.take().is_empty());
        // An operator brings them back one by one.
        for id in ["a", "b", "c"] {
            sup.restart_child(id).await.unwrap();
        }
        assert_eq!(lab.take(), strings(&["start a", "start b", "start c"]));
        sup.shutdown().await;
    }
}
