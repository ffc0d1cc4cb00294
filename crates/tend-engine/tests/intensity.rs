//! Restart intensity, as OTP: more than `max_restarts` restarts within
//! `period` make the supervisor give up, stop its children in reverse start
//! order and exit with a shutdown-class "reached_max_restart_intensity".

mod common;

use std::time::Duration;

use common::*;
use tend_engine::{
    ChildSpec, ChildState, Context, EventKind, ExitClass, ExitKind, FailReason, GiveUp, Intensity,
    Strategy, Supervisor,
};
use tokio::time::Instant;

/// The exit of a supervisor that reached its restart intensity.
const INTENSITY: ExitKind = ExitKind::GaveUp(GiveUp::IntensityReached);

#[tokio::test(start_paused = true)]
async fn default_intensity_is_one_restart_in_five_seconds() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .child(lab.child("a"))
        .child(lab.child("b"))
        .start()
        .await
        .unwrap();
    lab.crash("a");
    idle().await;
    assert!(sup.is_running());
    tokio::time::sleep(Duration::from_millis(4_999)).await;
    lab.take();
    lab.crash("a");
    let exit = ended(&sup).await;
    assert_eq!(exit.class(), ExitClass::Shutdown);
    assert_eq!(exit.kind(), INTENSITY);
    // The failed child is not restarted; the others stop in reverse order.
    assert_eq!(lab.take(), strings(&["crash a", "stop b"]));
}

#[tokio::test(start_paused = true)]
async fn restarts_older_than_the_period_fall_out_of_the_window() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(2, Duration::from_secs(10)))
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    let t0 = Instant::now();
    let crash_at = |ms: u64| {
        let lab = lab.clone();
        async move {
            tokio::time::sleep_until(t0 + Duration::from_millis(ms)).await;
            lab.crash("a");
            idle().await;
        }
    };
    // Restarts at 0 s, 5 s and 10.001 s: the first has fallen out.
    crash_at(0).await;
    crash_at(5_000).await;
    crash_at(10_001).await;
    assert!(sup.is_running());
    assert_eq!(sup.which_children().await[0].generation, 4);
    // One at 10.005 s makes three within 10 s.
    crash_at(10_005).await;
    assert_eq!(ended(&sup).await.kind(), INTENSITY);
}

#[tokio::test(start_paused = true)]
async fn the_window_is_inclusive_at_exactly_one_period() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(1, Duration::from_secs(10)))
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    let t0 = Instant::now();
    lab.crash("a");
    idle().await;
    tokio::time::sleep_until(t0 + Duration::from_secs(10)).await;
    lab.crash("a");
    assert_eq!(ended(&sup).await.kind(), INTENSITY);
}

#[tokio::test(start_paused = true)]
async fn just_past_one_period_the_old_restart_no_longer_counts() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(1, Duration::from_secs(10)))
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    let t0 = Instant::now();
    lab.crash("a");
    idle().await;
    tokio::time::sleep_until(t0 + Duration::from_millis(10_001)).await;
    lab.crash("a");
    idle().await;
    assert!(
        sup.is_running(),
        "sub-second precision: 10.001 s is outside a 10 s window"
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn zero_intensity_gives_up_on_the_first_restart() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(0, Duration::from_secs(1)))
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    lab.crash("a");
    let gave_up = next_event(&mut events, |k| matches!(k, EventKind::GaveUp { .. })).await;
    match gave_up.kind {
        EventKind::GaveUp { offender, reason } => {
            assert_eq!(offender.as_str(), "a");
            assert_eq!(reason, GiveUp::IntensityReached);
        }
        _ => unreachable!(),
    }
    ended(&sup).await;
    assert_eq!(sup.metrics().give_ups, 1);
}

#[tokio::test(start_paused = true)]
async fn a_one_for_all_restart_counts_once_however_many_children_it_touches() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .strategy(Strategy::OneForAll)
        .intensity(Intensity::new(2, Duration::from_secs(60)))
        .child(lab.child("a"))
        .child(lab.child("b"))
        .child(lab.child("c"))
        .start()
        .await
        .unwrap();
    lab.crash("a");
    idle().await;
    lab.crash("c");
    idle().await;
    assert!(sup.is_running());
    assert_eq!(sup.metrics().restarts, 6);
    lab.crash("b");
    ended(&sup).await;
}

#[tokio::test(start_paused = true)]
async fn normal_exits_of_permanent_children_count_too() {
    let lab = Lab::new();
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(1, Duration::from_secs(5)))
        .child(lab.child("a"))
        .start()
        .await
        .unwrap();
    lab.end("a", End::Normal);
    idle().await;
    lab.end("a", End::Normal);
    assert_eq!(ended(&sup).await.kind(), INTENSITY);
}

#[tokio::test(start_paused = true)]
async fn failed_restart_attempts_count_toward_intensity() {
    let crashy = runs_once_then_cannot_start("crashy");
    let sup = Supervisor::builder("s")
        .intensity(Intensity::new(3, Duration::from_secs(60)))
        .child(crashy)
        .start()
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let exit = ended(&sup).await;
    assert_eq!(exit.kind(), INTENSITY);
    let mut start_failures = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(event.kind, EventKind::ChildStartFailed { .. }) {
            start_failures += 1;
        }
    }
    // The restart after the crash and two retries fail; the third retry
    // would be the fourth restart within the period.
    assert_eq!(start_failures, 3);
    assert_eq!(sup.metrics().start_failures, 3);
}

#[tokio::test(start_paused = true)]
async fn an_operator_restart_that_fails_leaves_the_child_stopped() {
    let spec = ChildSpec::task("flaky", |ctx: Context| async move {
        if ctx.generation() > 1 {
            return Err("cannot start");
        }
        ctx.ready();
        ctx.cancelled().await;
        Ok(())
    })
    .await_ready(Duration::from_secs(1));
    let sup = Supervisor::builder("s").child(spec).start().await.unwrap();
    sup.terminate_child("flaky").await.unwrap();
    let err = sup.restart_child("flaky").await.unwrap_err();
    assert!(err.to_string().contains("cannot start"), "{err}");
    idle().await;
    assert_eq!(
        states(&sup).await,
        vec![("flaky".into(), ChildState::Failed(FailReason::StartFailed))]
    );
    assert_eq!(sup.metrics().restarts, 0);
    sup.shutdown().await;
}
