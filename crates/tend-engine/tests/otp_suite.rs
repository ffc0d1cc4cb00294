//! Erlang/OTP's own supervisor test suite, `lib/stdlib/test/supervisor_SUITE.erl`
//! (erlang/otp at `05ef12a0280ca19b087f8b56dfa3661309be5a9c`), ported case by
//! case: each test is named after its OTP case, quotes what OTP asserts, and
//! asserts the same observable facts through tend's API.
//!
//! **40 of 66 cases ported**; the 26 others do not map onto tend (table
//! below). Beyond the suite, the restart-loop cases are repeated with 1, 2
//! and 10 children looping at once, and with a nested supervisor looping
//! under a parent that is asked to shut down (`restart_loop_*`,
//! `nested_supervisor_*`).
//!
//! The mapping: a child's pid is a running incarnation, identified by its
//! tree-unique [`IncarnationId`] (a new incarnation is a new pid); `undefined`
//! is a child with nothing running and no restart pending
//! ([`ChildState::is_at_rest`]); `restarting` is
//! [`ChildState::is_restarting`]; `count_children` is
//! [`SupervisorHandle::count_children`] as `[specs, active, supervisors,
//! workers]`; `{error, already_present}` is [`ControlError::AlreadyPresent`]
//! and so on. A start function returning `{error, …}` is a task that ends
//! before it calls `ctx.ready()` under `await_ready`. `{Strategy, MaxR,
//! MaxT}` is `Strategy` and `Intensity::new(MaxR, MaxT s)`. OTP lists
//! `which_children` newest first; tend in start order, which is what is
//! compared here. The OTP children (`supervisor_1`, `supervisor_3`,
//! `supervisor_deadlock`) are in `common/otp.rs`.
//!
//! All tests run on tokio's paused clock; every call to a supervisor is
//! bounded (60 s of paused time), so a supervisor that stops answering fails
//! its test instead of hanging it. `timer:sleep` in OTP becomes waiting for
//! the fact it waited for (a log line), or paused time where time itself is
//! the point (intensity windows).
//!
//! | OTP case | why it does not map onto tend |
//! |---|---|
//! | `sup_start_ignore_init` | no `init/1` callback: a supervisor cannot answer `ignore` to its own start |
//! | `sup_start_ignore_child` | a child's start cannot answer `ignore` ("started, nothing runs"): it starts or fails |
//! | `sup_start_ignore_temporary_child` | as above: no `ignore` start result |
//! | `sup_start_ignore_temporary_child_start_child` | as above: no `ignore` start result |
//! | `sup_start_ignore_temporary_child_start_child_simple` | `simple_one_for_one` and `ignore`: neither exists |
//! | `sup_start_ignore_permanent_child_start_child_simple` | `simple_one_for_one` and `ignore`: neither exists |
//! | `sup_start_error_return` | no `init/1` callback whose return could be malformed |
//! | `sup_start_fail` | no `init/1` callback that could crash |
//! | `sup_start_child_returns_error_simple` | `simple_one_for_one` with extra start arguments |
//! | `sup_start_map` | map child specs read back with `get_childspec`: specs are typed builders, there is no `get_childspec` |
//! | `sup_start_map_simple` | `simple_one_for_one` and `get_childspec` |
//! | `sup_start_map_faulty_specs` | map child spec parsing (`missing_id`, `missing_start`, unknown keys): ruled out by types |
//! | `child_adm_simple` | `simple_one_for_one` (children by pid, `{error, simple_one_for_one}`) |
//! | `simple_one_for_one` | `simple_one_for_one` strategy: tend has no template-spec strategy |
//! | `simple_one_for_one_shutdown` | `simple_one_for_one`'s asynchronous shutdown of its dynamic children |
//! | `simple_one_for_one_extra` | `simple_one_for_one` with extra start arguments and `{ok, Pid, Info}` |
//! | `simple_one_for_one_escalation` | `simple_one_for_one` with per-child extra start arguments |
//! | `get_callback_module` | no callback module |
//! | `do_not_save_start_parameters_for_temporary_children` | measures the size of `sys:get_status`; tend keeps no start arguments and has no state term to weigh |
//! | `simple_one_for_one_scale_many_temporary_children` | `simple_one_for_one` terminate by pid (OTP-9242); scaling is covered by `scale_start_stop_many_children` |
//! | `simple_global_supervisor` | `global` registered names (OTP-9212) |
//! | `hanging_restart_loop_simple` | `simple_one_for_one` restart loop (by pid, `{error, simple_one_for_one}`); the loop itself is `hanging_restart_loop` |
//! | `code_change` | hot code upgrade (`sys:change_code`) |
//! | `code_change_map` | hot code upgrade with map specs |
//! | `code_change_simple` | hot code upgrade of a `simple_one_for_one` supervisor |
//! | `code_change_simple_map` | hot code upgrade of a `simple_one_for_one` supervisor, map specs |
//!
//! Four tests fail on the engine as this file was written, as OTP says
//! they must not: `count_restarting_children`,
//! `restart_loop_of_2_children_is_answered` and
//! `restart_loop_of_10_children_is_answered` (no answer while two or more
//! children's restarts keep failing), and
//! `hanging_restart_loop_rest_for_one` (child3, stopped by rest_for_one
//! while child2's restart keeps failing, shown `restarting` instead of
//! `undefined`, and started by `terminate_child(child2)`).
//!
//! Three ported cases adapt numbers that OTP's `simple_one_for_one` gives
//! (`count_children`, `count_children_supervisor`,
//! `count_restarting_children`: one spec per child instead of one template
//! spec, so `specs` counts the children); their doc comments say how.

mod common;
#[path = "common/otp.rs"]
mod otp;

use std::time::Duration;

use common::{ended, idle};
use otp::*;
use tend_engine::{
    check_childspecs, AutoShutdown, ChildKind, ChildSpec, ChildState, Context, ControlError,
    ExitClass, ExitKind, GiveUp, IncarnationId, Intensity, Restart, Shutdown, SpecError,
    StartError, StopOutcome, Strategy, Supervisor, SupervisorBuilder, SupervisorHandle,
};
use tokio::sync::mpsc;

const W: ChildKind = ChildKind::Worker;
const S: ChildKind = ChildKind::Supervisor;

/// `start_link({ok, {{Strategy, MaxR, MaxT}, []}})`.
fn flags(name: &str, strategy: Strategy, max_r: u32, max_t: u64) -> SupervisorBuilder {
    Supervisor::builder(name)
        .strategy(strategy)
        .intensity(Intensity::new(max_r, Duration::from_secs(max_t)))
}

/// `terminate(Sup, Pid, Id, How)` for `normal`, `abnormal`, `shutdown`,
/// `{shutdown, Term}`: tells the child, then lets the tree settle (OTP waits
/// for the child's `'DOWN'`).
async fn tell(kids: &Kids, id: &str, msg: Msg) {
    kids.send(id, msg);
    idle().await;
}

/// The supervisor gave up because its restart intensity was reached
/// (OTP's `check_exit([SupPid])` after `reached_max_restart_intensity`).
async fn gave_up(sup: &SupervisorHandle) {
    let exit = ended(sup).await;
    assert_eq!(
        exit.kind(),
        ExitKind::GaveUp(GiveUp::IntensityReached),
        "{exit}"
    );
}

fn ms(n: u64) -> Shutdown {
    Shutdown::Timeout(Duration::from_millis(n))
}

// ---------------------------------------------------------------------------
// sup_start

/// OTP `sup_start_normal`: "Tests that the supervisor process starts
/// correctly and that it can be terminated gracefully":
/// `{ok, Pid} = start_link({ok, {{one_for_one, 2, 3600}, []}}),
/// terminate(Pid, shutdown)`.
#[tokio::test(start_paused = true)]
async fn sup_start_normal() {
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .expect("{ok, Pid}");
    assert!(sup.is_running());
    let report = shutdown(&sup).await;
    assert!(report.children.is_empty());
    assert_eq!(report.exit.kind(), ExitKind::Shutdown);
    assert!(!sup.is_running());
}

/// OTP `sup_start_child_returns_error`: a start function returning
/// `{error, reason}`, or some other term, makes `start_child` answer
/// `{error, {reason, _}}` (`{error, {error_reason, _}}`), and no spec is
/// kept: `[] = which_children(sup_test)`. Here the second start function
/// misbehaves by panicking instead of returning garbage.
#[tokio::test(start_paused = true)]
async fn sup_start_child_returns_error() {
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    let child1 = ChildSpec::task("child1", |_ctx: Context| async { Err::<(), _>("reason") })
        .await_ready(Duration::from_secs(5))
        .shutdown(ms(1000));
    match start_child(&sup, child1).await {
        Err(ControlError::StartFailed { id, exit }) => {
            assert_eq!(id.as_str(), "child1");
            assert_eq!(exit.kind(), ExitKind::StartFailure);
            assert_eq!(exit.reason(), Some("reason"));
        }
        other => panic!("{{error, {{reason, _}}}} expected, got {other:?}"),
    }
    let child2 = ChildSpec::task("child2", |_ctx: Context| -> std::future::Ready<()> {
        panic!("error_reason")
    })
    .await_ready(Duration::from_secs(5))
    .shutdown(ms(1000));
    match start_child(&sup, child2).await {
        Err(ControlError::StartFailed { id, exit }) => {
            assert_eq!(id.as_str(), "child2");
            assert_eq!(exit.kind(), ExitKind::StartFailure);
            assert!(exit.to_string().contains("error_reason"), "{exit}");
        }
        other => panic!("{{error, {{error_reason, _}}}} expected, got {other:?}"),
    }
    assert_eq!(which(&sup).await, []);
    assert_eq!(counts(&sup).await, [0, 0, 0, 0]);
    shutdown(&sup).await;
}

/// OTP `sup_start_restart_child_returns_error`: a child whose later starts
/// fail (`supervisor_1:start_child(error)`), terminated, then restarted:
/// `ok = terminate_child(sup_test, child1)`, `{error, {function_clause, _}} =
/// restart_child(sup_test, child1)`, `[{child1, undefined, worker, []}] =
/// which_children(sup_test)`.
#[tokio::test(start_paused = true)]
async fn sup_start_restart_child_returns_error() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .child(kids.fails_restarts("child1"))
        .start()
        .await
        .unwrap();
    assert_eq!(terminate_child(&sup, "child1").await, Ok(()));
    match restart_child(&sup, "child1").await {
        Err(ControlError::StartFailed { id, exit }) => {
            assert_eq!(id.as_str(), "child1");
            assert_eq!(exit.reason(), Some("function_clause"));
        }
        other => panic!("{{error, {{function_clause, _}}}} expected, got {other:?}"),
    }
    assert_eq!(which(&sup).await, [row("child1", Pid::Undefined, W)]);
    shutdown(&sup).await;
}

// ---------------------------------------------------------------------------
// sup_stop

/// OTP `sup_stop_infinity`: shutdown `infinity` is allowed for supervisor
/// *and* worker children; stopping the supervisor stops both with reason
/// `shutdown` (`check_exit_reason(CPid1, shutdown)`,
/// `check_exit_reason(CPid2, shutdown)`). Here the worker takes 10 s to stop,
/// longer than the 5 s default, so that `infinity` is seen to be waited out.
#[tokio::test(start_paused = true)]
async fn sup_stop_infinity() {
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    let child1 = ChildSpec::supervisor(Supervisor::builder("child1"));
    let child2 = ChildSpec::task("child2", |ctx: Context| async move {
        ctx.cancelled().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        tend_engine::Exit::shutdown("shutdown")
    })
    .shutdown(Shutdown::Infinity);
    start_child(&sup, child1).await.unwrap();
    start_child(&sup, child2).await.unwrap();
    assert_eq!(
        which(&sup).await.iter().map(|r| r.2).collect::<Vec<_>>(),
        [S, W]
    );

    let report = shutdown(&sup).await;
    let stops: Vec<_> = report.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(stops, ["child2", "child1"]);
    for stop in &report.children {
        match &stop.outcome {
            StopOutcome::Stopped(exit) => {
                assert_eq!(exit.class(), ExitClass::Shutdown, "{}: {exit}", stop.id)
            }
            other => panic!("{} should stop with shutdown, got {other:?}", stop.id),
        }
    }
    assert_eq!(report.children[0].took, Duration::from_secs(10));
}

/// OTP `sup_stop_timeout`: with shutdown 1000, a child that does not stop
/// (`CPid2 ! {sleep, 200000}`) is killed, the other stops:
/// `check_exit_reason(CPid1, shutdown)`, `check_exit_reason(CPid2, killed)`.
#[tokio::test(start_paused = true)]
async fn sup_stop_timeout() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1")).await.unwrap();
    start_child(&sup, kids.worker("child2")).await.unwrap();
    tell(&kids, "child2", Msg::Sleep).await;
    assert!(kids.logged("sleep child2#1"));

    let report = shutdown(&sup).await;
    let stops: Vec<_> = report.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(stops, ["child2", "child1"]);
    assert_eq!(report.children[0].outcome, StopOutcome::Killed);
    assert_eq!(report.children[0].took, Duration::from_millis(1000));
    assert!(
        matches!(&report.children[1].outcome, StopOutcome::Stopped(e) if e.class() == ExitClass::Shutdown),
        "{:?}",
        report.children[1]
    );
    assert!(kids.logged("stop child1#1"));
}

/// OTP `sup_stop_brutal_kill`: a `brutal_kill` child is killed at once, a
/// 1000 one stops: `check_exit_reason(CPid1, shutdown)`,
/// `check_exit_reason(CPid2, killed)`.
#[tokio::test(start_paused = true)]
async fn sup_stop_brutal_kill() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1")).await.unwrap();
    start_child(&sup, kids.worker("child2").shutdown(Shutdown::BrutalKill))
        .await
        .unwrap();

    let report = shutdown(&sup).await;
    let stops: Vec<_> = report.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(stops, ["child2", "child1"]);
    assert_eq!(report.children[0].outcome, StopOutcome::Killed);
    assert_eq!(report.children[0].took, Duration::ZERO);
    assert!(!kids.logged("stop child2#1"), "a brutal kill does not ask");
    assert!(
        matches!(&report.children[1].outcome, StopOutcome::Stopped(e) if e.class() == ExitClass::Shutdown),
        "{:?}",
        report.children[1]
    );
}

// ---------------------------------------------------------------------------
// API

/// OTP `child_adm`: `start_child`, `terminate_child`, `delete_child`,
/// `restart_child`, `which_children`, `count_children` with correct specs:
/// `{error, {already_started, CPid}}` for a running child, `{error,
/// not_found}` for an unknown id, `ok` to terminate a terminated child,
/// `{error, already_present}` to start it again, `{error, running}` to
/// restart or delete a running one, and `noproc` for a supervisor that does
/// not exist (tend: [`ControlError::SupervisorGone`]; `which_children` and
/// `count_children` of a gone supervisor answer empty and zero in tend,
/// where OTP raises `noproc`). Terminating by pid is `{error, not_found}`
/// outside `simple_one_for_one`: here, by the incarnation id.
#[tokio::test(start_paused = true)]
async fn child_adm() {
    let kids = Kids::new();
    let child = || kids.worker("child1");
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .child(child())
        .start()
        .await
        .unwrap();
    let foo = Supervisor::builder("foo").start().await.unwrap();
    shutdown(&foo).await;

    let w = which(&sup).await;
    let cpid = pid_in(&w, "child1").live();
    assert_eq!(w, [row("child1", Pid::Live(cpid), W)]);
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);

    // Start of an already running process.
    assert_eq!(
        start_child(&sup, child()).await,
        Err(ControlError::AlreadyStarted("child1".into()))
    );

    // Termination.
    assert_eq!(
        terminate_child(&sup, "hej").await,
        Err(ControlError::NotFound("hej".into()))
    );
    assert_eq!(
        terminate_child(&foo, "child1").await,
        Err(ControlError::SupervisorGone)
    );
    assert_eq!(terminate_child(&sup, "child1").await, Ok(()));
    assert!(
        kids.logged("stop child1#1"),
        "check_exit_reason(CPid, shutdown)"
    );
    assert_eq!(which(&sup).await, [row("child1", Pid::Undefined, W)]);
    assert_eq!(counts(&sup).await, [1, 0, 0, 1]);
    // Like deleting something that does not exist, it will succeed.
    assert_eq!(terminate_child(&sup, "child1").await, Ok(()));

    // Start of an already existing but not running process.
    assert_eq!(
        start_child(&sup, child()).await,
        Err(ControlError::AlreadyPresent("child1".into()))
    );

    // Restart.
    assert_eq!(restart_child(&sup, "child1").await, Ok(()));
    let w = which(&sup).await;
    let cpid2 = pid_in(&w, "child1").live();
    assert_ne!(cpid2, cpid);
    assert_eq!(w, [row("child1", Pid::Live(cpid2), W)]);
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);
    assert_eq!(
        restart_child(&sup, "child1").await,
        Err(ControlError::Running("child1".into()))
    );
    assert_eq!(
        restart_child(&sup, "child2").await,
        Err(ControlError::NotFound("child2".into()))
    );

    // Deletion.
    assert_eq!(
        delete_child(&sup, "child1").await,
        Err(ControlError::Running("child1".into()))
    );
    assert_eq!(
        delete_child(&sup, "hej").await,
        Err(ControlError::NotFound("hej".into()))
    );
    assert_eq!(
        delete_child(&foo, "child1").await,
        Err(ControlError::SupervisorGone)
    );
    assert_eq!(terminate_child(&sup, "child1").await, Ok(()));
    assert_eq!(delete_child(&sup, "child1").await, Ok(()));
    assert_eq!(
        restart_child(&sup, "child1").await,
        Err(ControlError::NotFound("child1".into()))
    );
    assert_eq!(which(&sup).await, []);
    assert_eq!(counts(&sup).await, [0, 0, 0, 0]);

    // Start.
    assert_eq!(
        start_child(&foo, child()).await,
        Err(ControlError::SupervisorGone)
    );
    assert_eq!(start_child(&sup, child()).await, Ok(()));
    let w = which(&sup).await;
    let cpid3 = pid_in(&w, "child1").live();
    assert!(cpid3 != cpid && cpid3 != cpid2);
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);

    // Terminate with a pid is not allowed when not simple_one_for_one.
    assert_eq!(
        terminate_child(&sup, &cpid3.to_string()).await,
        Err(ControlError::NotFound(cpid3.to_string().into()))
    );
    assert_eq!(which(&sup).await, [row("child1", Pid::Live(cpid3), W)]);
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);

    // which_children / count_children of a supervisor that is gone.
    assert_eq!(which(&foo).await, []);
    assert_eq!(counts(&foo).await, [0, 0, 0, 0]);
    shutdown(&sup).await;
}

/// OTP `extra_return`: a start function may return `{ok, Pid, Info}`; the
/// supervisor ignores `Info` (tend's starts return no extra term, so that
/// part has no counterpart) and everything else answers as usual:
/// `{error, not_found}` for `hej`, `{error, running}` to delete or restart a
/// running child, `[1,1,0,1]`, terminate → `undefined` and `[1,0,0,1]`,
/// restart → a new pid, delete → `[]` and `[0,0,0,0]`, start again, and
/// "Check that it can be automatically restarted": after `die` a new pid
/// and `[1,1,0,1]`.
#[tokio::test(start_paused = true)]
async fn extra_return() {
    let kids = Kids::new();
    let child = || kids.worker("child1");
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .child(child())
        .start()
        .await
        .unwrap();
    let cpid = pid_in(&which(&sup).await, "child1").live();
    assert_eq!(
        terminate_child(&sup, "hej").await,
        Err(ControlError::NotFound("hej".into()))
    );
    assert_eq!(
        delete_child(&sup, "hej").await,
        Err(ControlError::NotFound("hej".into()))
    );
    assert_eq!(
        restart_child(&sup, "hej").await,
        Err(ControlError::NotFound("hej".into()))
    );
    assert_eq!(
        delete_child(&sup, "child1").await,
        Err(ControlError::Running("child1".into()))
    );
    assert_eq!(
        restart_child(&sup, "child1").await,
        Err(ControlError::Running("child1".into()))
    );
    assert_eq!(which(&sup).await, [row("child1", Pid::Live(cpid), W)]);
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);

    assert_eq!(terminate_child(&sup, "child1").await, Ok(()));
    assert!(kids.logged("stop child1#1"));
    assert_eq!(which(&sup).await, [row("child1", Pid::Undefined, W)]);
    assert_eq!(counts(&sup).await, [1, 0, 0, 1]);

    assert_eq!(restart_child(&sup, "child1").await, Ok(()));
    let cpid2 = pid_in(&which(&sup).await, "child1").live();
    assert_ne!(cpid2, cpid);
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);

    assert_eq!(terminate_child(&sup, "child1").await, Ok(()));
    assert_eq!(terminate_child(&sup, "child1").await, Ok(()));
    assert_eq!(delete_child(&sup, "child1").await, Ok(()));
    assert_eq!(
        restart_child(&sup, "child1").await,
        Err(ControlError::NotFound("child1".into()))
    );
    assert_eq!(which(&sup).await, []);
    assert_eq!(counts(&sup).await, [0, 0, 0, 0]);

    assert_eq!(start_child(&sup, child()).await, Ok(()));
    let cpid3 = pid_in(&which(&sup).await, "child1").live();
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);

    // Check that it can be automatically restarted.
    tell(&kids, "child1", Msg::Die).await;
    let cpid4 = pid_in(&which(&sup).await, "child1");
    assert!(
        matches!(cpid4, Pid::Live(p) if p != cpid3),
        "not_restarted: {cpid3} -> {cpid4:?}"
    );
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);
    shutdown(&sup).await;
}

/// OTP `child_specs`: invalid child specs are rejected by `start_child`,
/// `check_childspecs` and `start_link` (`{error, {start_spec, …}}`); valid
/// ones (supervisor with `infinity` or 1000, temporary, transient, permanent
/// worker with `infinity`) pass; two specs with one id are
/// `{error, {duplicate_child_name, child}}`. OTP's malformed tuples (a bad
/// MFA, restart type, negative shutdown, child type, modules) cannot be
/// written with tend's typed specs; the malformed spec a `start_child` can
/// still be handed is an empty id.
#[tokio::test(start_paused = true)]
async fn child_specs() {
    let task = |id: &str| ChildSpec::task(id, |ctx: Context| async move { ctx.cancelled().await });
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    match start_child(&sup, task("")).await {
        Err(ControlError::InvalidSpec(e)) => assert_eq!(e.error, SpecError::EmptyId),
        other => panic!("{{error, _}} expected, got {other:?}"),
    }
    assert!(which(&sup).await.is_empty());

    let c1 = ChildSpec::supervisor(Supervisor::builder("child")).shutdown(Shutdown::Infinity);
    let c2 = ChildSpec::supervisor(Supervisor::builder("child")).shutdown(ms(1000));
    let c3 = task("child").restart(Restart::Temporary).shutdown(ms(1000));
    let c4 = task("child").restart(Restart::Transient).shutdown(ms(1000));
    let c5 = task("child").shutdown(Shutdown::Infinity);
    for spec in [&c1, &c2, &c3, &c4, &c5] {
        assert_eq!(
            check_childspecs(std::slice::from_ref(spec), AutoShutdown::Never),
            Ok(()),
            "{spec:?}"
        );
    }
    let errors = check_childspecs(&[c1.clone(), c2.clone()], AutoShutdown::Never).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].error, SpecError::DuplicateId("child".into()));
    shutdown(&sup).await;

    // Faulty child specs in supervisor start.
    match Supervisor::builder("sup_test")
        .child(task(""))
        .start()
        .await
    {
        Err(StartError::InvalidSpec(errors)) => {
            assert_eq!(errors[0].error, SpecError::EmptyId)
        }
        other => panic!("{{error, {{start_spec, _}}}} expected, got {other:?}"),
    }
    match Supervisor::builder("sup_test")
        .child(c1)
        .child(c2)
        .start()
        .await
    {
        Err(StartError::InvalidSpec(errors)) => {
            assert_eq!(errors[0].error, SpecError::DuplicateId("child".into()))
        }
        other => panic!("{{error, {{start_spec, _}}}} expected, got {other:?}"),
    }
}

/// OTP `sup_flags`: invalid supervisor flags make `start_link` fail with
/// `{error, {supervisor_data, …}}`: an invalid strategy, intensity
/// `infinity`, period `0` or `infinity`, flags of the wrong type; unknown
/// flags are ignored (`{ok, Pid} = start_link({ok, {#{silly_flag => true},
/// []}})`). In tend the strategy and intensity are typed; the invalid value
/// left is a period of zero.
#[tokio::test(start_paused = true)]
async fn sup_flags() {
    match flags("sup_test", Strategy::OneForOne, 2, 0).start().await {
        Err(StartError::InvalidSpec(errors)) => {
            assert!(
                errors.iter().any(|e| e.error == SpecError::ZeroPeriod),
                "{errors:?}"
            )
        }
        other => {
            panic!("{{error, {{supervisor_data, {{invalid_period, 0}}}}}} expected, got {other:?}")
        }
    }
    // Defaults, and an intensity of 0 (valid in OTP), start.
    let sup = Supervisor::builder("sup_test").start().await.unwrap();
    shutdown(&sup).await;
    let sup = flags("sup_test", Strategy::OneForOne, 0, 1)
        .start()
        .await
        .unwrap();
    shutdown(&sup).await;
}

// ---------------------------------------------------------------------------
// Restart types

/// OTP `permanent_normal`: "A permanent child should always be restarted":
/// after a `normal` exit, `[{child1, Pid, worker, []}]` with `is_pid(Pid)`
/// and `[1,1,0,1]`.
#[tokio::test(start_paused = true)]
async fn permanent_normal() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1")).await.unwrap();
    let cpid1 = pid_in(&which(&sup).await, "child1").live();
    tell(&kids, "child1", Msg::Stop).await;
    assert!(kids.logged("done child1#1"));
    let pid = pid_in(&which(&sup).await, "child1");
    assert!(
        matches!(pid, Pid::Live(p) if p != cpid1),
        "permanent_child_not_restarted: {pid:?}"
    );
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);
    shutdown(&sup).await;
}

/// OTP `transient_normal`: "A transient child should not be restarted if it
/// exits with reason normal": `[{child1, undefined, worker, []}]`,
/// `[1,0,0,1]`.
#[tokio::test(start_paused = true)]
async fn transient_normal() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1").restart(Restart::Transient))
        .await
        .unwrap();
    tell(&kids, "child1", Msg::Stop).await;
    assert_eq!(which(&sup).await, [row("child1", Pid::Undefined, W)]);
    assert_eq!(counts(&sup).await, [1, 0, 0, 1]);
    shutdown(&sup).await;
}

/// OTP `temporary_normal`: "A temporary process should never be restarted":
/// `[] = which_children`, `[0,0,0,0]`.
#[tokio::test(start_paused = true)]
async fn temporary_normal() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1").restart(Restart::Temporary))
        .await
        .unwrap();
    tell(&kids, "child1", Msg::Stop).await;
    assert_eq!(which(&sup).await, []);
    assert_eq!(counts(&sup).await, [0, 0, 0, 0]);
    shutdown(&sup).await;
}

/// OTP `permanent_shutdown`: a permanent child is restarted after exiting
/// with `shutdown` and after `{shutdown, some_info}`: a pid each time,
/// `[1,1,0,1]`.
#[tokio::test(start_paused = true)]
async fn permanent_shutdown() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1")).await.unwrap();
    let cpid1 = pid_in(&which(&sup).await, "child1").live();

    tell(&kids, "child1", Msg::Shutdown).await;
    let cpid2 = pid_in(&which(&sup).await, "child1");
    assert!(
        matches!(cpid2, Pid::Live(p) if p != cpid1),
        "permanent_child_not_restarted: {cpid2:?}"
    );
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);

    tell(&kids, "child1", Msg::ShutdownWith("some_info")).await;
    let cpid3 = pid_in(&which(&sup).await, "child1");
    assert!(
        matches!(cpid3, Pid::Live(p) if Pid::Live(p) != cpid2 && p != cpid1),
        "permanent_child_not_restarted: {cpid3:?}"
    );
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);
    shutdown(&sup).await;
}

/// OTP `transient_shutdown`: "A transient child should not be restarted if
/// it exits with reason shutdown or {shutdown,Term}": `undefined` and
/// `[1,0,0,1]` after each; `{ok, CPid2} = restart_child` in between.
#[tokio::test(start_paused = true)]
async fn transient_shutdown() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1").restart(Restart::Transient))
        .await
        .unwrap();
    tell(&kids, "child1", Msg::Shutdown).await;
    assert_eq!(which(&sup).await, [row("child1", Pid::Undefined, W)]);
    assert_eq!(counts(&sup).await, [1, 0, 0, 1]);

    assert_eq!(restart_child(&sup, "child1").await, Ok(()));
    tell(&kids, "child1", Msg::ShutdownWith("some_info")).await;
    assert_eq!(which(&sup).await, [row("child1", Pid::Undefined, W)]);
    assert_eq!(counts(&sup).await, [1, 0, 0, 1]);
    shutdown(&sup).await;
}

/// OTP `temporary_shutdown`: "A temporary process should never be
/// restarted": `[]` and `[0,0,0,0]` after `shutdown`; started again, `[]`
/// and `[0,0,0,0]` after `{shutdown, some_info}`.
#[tokio::test(start_paused = true)]
async fn temporary_shutdown() {
    let kids = Kids::new();
    let child1 = || kids.worker("child1").restart(Restart::Temporary);
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, child1()).await.unwrap();
    tell(&kids, "child1", Msg::Shutdown).await;
    assert_eq!(which(&sup).await, []);
    assert_eq!(counts(&sup).await, [0, 0, 0, 0]);

    assert_eq!(start_child(&sup, child1()).await, Ok(()));
    tell(&kids, "child1", Msg::ShutdownWith("some_info")).await;
    assert_eq!(which(&sup).await, []);
    assert_eq!(counts(&sup).await, [0, 0, 0, 0]);
    shutdown(&sup).await;
}

/// OTP `faulty_application_shutdown`: "Faulty application should shutdown
/// and pass on errors": an application whose top supervisor's child crashes
/// in `init` (`undef`) fails to start with `{{shutdown,
/// {failed_to_start_child, app_faulty, {undef, CallStack}}}, {app_faulty,
/// start, _}}`: the failure, the child's id and the original reason reach
/// the caller. Here the application is a nested supervisor under a root.
#[tokio::test(start_paused = true)]
async fn faulty_application_shutdown() {
    let server = ChildSpec::task("app_faulty", |_ctx: Context| async {
        panic!("undef: an_undefined_module_with:an_undefined_function(argument1, argument2)") as ()
    })
    .await_ready(Duration::from_secs(5));
    let app = Supervisor::builder("app_faulty_sup").child(server);
    let kids = Kids::new();
    let result = Supervisor::builder("application_controller")
        .child(kids.worker("kernel"))
        .child(ChildSpec::supervisor(app))
        .start()
        .await;
    match result {
        Err(StartError::ChildFailed { id, exit }) => {
            assert_eq!(id.as_str(), "app_faulty_sup");
            assert_eq!(exit.kind(), ExitKind::StartFailure);
            let reason = exit.reason().unwrap_or_default();
            assert!(
                reason.contains("failed to start child app_faulty")
                    && reason.contains("an_undefined_module_with"),
                "{reason}"
            );
        }
        other => panic!("failed_to_start_child expected, got {other:?}"),
    }
    // What started before is stopped again (the application shuts down).
    assert!(kids.logged("stop kernel#1"));
}

/// OTP `permanent_abnormal`: "A permanent child should always be
/// restarted": after `died`, a pid, `[1,1,0,1]`.
#[tokio::test(start_paused = true)]
async fn permanent_abnormal() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1")).await.unwrap();
    let cpid1 = pid_in(&which(&sup).await, "child1").live();
    tell(&kids, "child1", Msg::Die).await;
    let pid = pid_in(&which(&sup).await, "child1");
    assert!(
        matches!(pid, Pid::Live(p) if p != cpid1),
        "permanent_child_not_restarted: {pid:?}"
    );
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);
    shutdown(&sup).await;
}

/// OTP `transient_abnormal`: "A transient child should be restarted if it
/// exits with reason abnormal": a pid, `[1,1,0,1]`.
#[tokio::test(start_paused = true)]
async fn transient_abnormal() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1").restart(Restart::Transient))
        .await
        .unwrap();
    let cpid1 = pid_in(&which(&sup).await, "child1").live();
    tell(&kids, "child1", Msg::Die).await;
    let pid = pid_in(&which(&sup).await, "child1");
    assert!(
        matches!(pid, Pid::Live(p) if p != cpid1),
        "transient_child_not_restarted: {pid:?}"
    );
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);
    shutdown(&sup).await;
}

/// OTP `temporary_abnormal`: "A temporary process should never be
/// restarted": `[]`, `[0,0,0,0]`.
#[tokio::test(start_paused = true)]
async fn temporary_abnormal() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1").restart(Restart::Temporary))
        .await
        .unwrap();
    tell(&kids, "child1", Msg::Die).await;
    assert_eq!(which(&sup).await, []);
    assert_eq!(counts(&sup).await, [0, 0, 0, 0]);
    shutdown(&sup).await;
}

/// OTP `temporary_bystander`: "A temporary process killed as part of a
/// rest_for_one or one_for_all restart strategy should not be restarted
/// given its args are not saved. Otherwise the supervisor hits its limit
/// and crashes": both supervisors (`{one_for_all, 2, 300}`, `{rest_for_one,
/// 2, 300}`) are alive after child1 exits `normal`, and `[{child1, _, _, _}]
/// = which_children` in each.
#[tokio::test(start_paused = true)]
async fn temporary_bystander() {
    let (kids1, kids2) = (Kids::new(), Kids::new());
    let sup1 = flags("sup1", Strategy::OneForAll, 2, 300)
        .start()
        .await
        .unwrap();
    let sup2 = flags("sup2", Strategy::RestForOne, 2, 300)
        .start()
        .await
        .unwrap();
    for (sup, kids) in [(&sup1, &kids1), (&sup2, &kids2)] {
        start_child(sup, kids.worker("child1").shutdown(ms(100)))
            .await
            .unwrap();
        start_child(
            sup,
            kids.worker("child2")
                .restart(Restart::Temporary)
                .shutdown(ms(100)),
        )
        .await
        .unwrap();
    }
    kids1.send("child1", Msg::Stop);
    kids2.send("child1", Msg::Stop);
    idle().await;
    for (sup, kids) in [(&sup1, &kids1), (&sup2, &kids2)] {
        assert!(sup.is_running(), "{} died restarting child2", sup.name());
        let w = which(sup).await;
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].0, "child1");
        assert!(matches!(w[0].1, Pid::Live(_)), "{w:?}");
        assert!(kids.logged("stop child2#1"));
        assert_eq!(kids.times("start child2#1"), 1, "child2 not restarted");
    }
    shutdown(&sup1).await;
    shutdown(&sup2).await;
}

// ---------------------------------------------------------------------------
// Strategies

/// OTP `multiple_restarts`: "Test restarting a process multiple times,
/// being careful not to exceed the maximum restart frequency": intensity 1
/// in 1 s, the child killed, then three times 2.1 s later; the supervisor is
/// still alive: `ok = terminate_child`, `ok = delete_child`.
#[tokio::test(start_paused = true)]
async fn multiple_restarts() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 1, 1)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1").shutdown(Shutdown::BrutalKill))
        .await
        .unwrap();
    let mut last = pid_in(&which(&sup).await, "child1").live();
    tell(&kids, "child1", Msg::Die).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let pid = which(&sup).await[0].1.live();
        assert_ne!(pid, last, "restarted");
        last = pid;
        tell(&kids, "child1", Msg::Die).await;
        assert!(sup.is_running());
    }
    let info = answered("child_info", sup.child_info("child1"))
        .await
        .unwrap();
    assert_eq!((info.restarts, info.state), (4, ChildState::Running));
    assert_eq!(terminate_child(&sup, "child1").await, Ok(()));
    assert_eq!(delete_child(&sup, "child1").await, Ok(()));
    shutdown(&sup).await;
}

/// OTP `one_for_one`: "Test the one_for_one base case": after child1 dies,
/// two children, child2 with its old pid, `[2,2,0,2]`; then "Test restart
/// frequency property": two more deaths exceed `{one_for_one, 2, 3600}` and
/// the supervisor exits.
#[tokio::test(start_paused = true)]
async fn one_for_one() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1")).await.unwrap();
    start_child(&sup, kids.worker("child2")).await.unwrap();
    let w = which(&sup).await;
    let (cpid1, cpid2) = (pid_in(&w, "child1").live(), pid_in(&w, "child2").live());

    tell(&kids, "child1", Msg::Die).await;
    let w = which(&sup).await;
    assert_eq!(w.len(), 2, "bad_child_list: {w:?}");
    assert_eq!(pid_in(&w, "child2"), Pid::Live(cpid2), "bad_child");
    assert!(matches!(pid_in(&w, "child1"), Pid::Live(p) if p != cpid1));
    assert_eq!(counts(&sup).await, [2, 2, 0, 2]);

    // Test restart frequency property (OTP's head of which_children is the
    // newest child, child2).
    tell(&kids, "child2", Msg::Die).await;
    assert!(sup.is_running());
    tell(&kids, "child2", Msg::Die).await;
    gave_up(&sup).await;
}

/// OTP `one_for_one_escalation`: "Test restart escalation on a one_for_one
/// supervisor": child1's restarts fail (`supervisor_1:start_child(error)`),
/// `{one_for_one, 4, 3600}`; after it dies, `check_exit([SupPid, CPid2])`:
/// the supervisor and child2 exit. By OTP's `add_restart`, that is after
/// four failed restart attempts (the fifth restart exceeds 4).
#[tokio::test(start_paused = true)]
async fn one_for_one_escalation() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForOne, 4, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.fails_restarts("child1"))
        .await
        .unwrap();
    start_child(&sup, kids.worker("child2")).await.unwrap();
    kids.send("child1", Msg::Die);
    gave_up(&sup).await;
    assert!(kids.logged("stop child2#1"), "child2 exits with it");
    let failed: Vec<_> = kids
        .take()
        .into_iter()
        .filter(|l| l.starts_with("fail child1"))
        .collect();
    assert_eq!(
        failed,
        [
            "fail child1#2",
            "fail child1#3",
            "fail child1#4",
            "fail child1#5"
        ]
    );
}

/// OTP `one_for_all`: "Test the one_for_all base case": after child1 dies,
/// child2 exits too (`check_exit([CPid2])`), two children with no old pid,
/// `[2,2,0,2]`; two more deaths exceed `{one_for_all, 2, 3600}` and the
/// supervisor exits.
#[tokio::test(start_paused = true)]
async fn one_for_all() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForAll, 2, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1")).await.unwrap();
    start_child(&sup, kids.worker("child2")).await.unwrap();
    let w = which(&sup).await;
    let old = [pid_in(&w, "child1").live(), pid_in(&w, "child2").live()];

    tell(&kids, "child1", Msg::Die).await;
    assert!(kids.logged("stop child2#1"), "check_exit([CPid2])");
    let w = which(&sup).await;
    assert_eq!(w.len(), 2, "bad_child_list: {w:?}");
    for (id, pid, _) in &w {
        assert!(
            matches!(pid, Pid::Live(p) if !old.contains(p)),
            "{id}: child_should_not_be_alive: {w:?}"
        );
    }
    assert_eq!(counts(&sup).await, [2, 2, 0, 2]);

    tell(&kids, "child2", Msg::Die).await;
    assert!(sup.is_running());
    tell(&kids, "child2", Msg::Die).await;
    gave_up(&sup).await;
}

/// OTP `one_for_all_escalation`: "Test restart escalation on a one_for_all
/// supervisor": child2's restarts fail, `{one_for_all, 4, 3600}`; after
/// child1 dies, `check_exit([CPid2, SupPid])`: child2 is stopped, then the
/// supervisor exits.
#[tokio::test(start_paused = true)]
async fn one_for_all_escalation() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::OneForAll, 4, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1")).await.unwrap();
    start_child(&sup, kids.fails_restarts("child2"))
        .await
        .unwrap();
    kids.send("child1", Msg::Die);
    gave_up(&sup).await;
    assert!(kids.logged("stop child2#1"), "check_exit([CPid2, …])");
    assert_eq!(kids.times("fail child2#2"), 1);
}

/// Waits for the next gated start.
async fn knock(gate: &mut mpsc::UnboundedReceiver<Knock>) -> Knock {
    answered("a gated start", gate.recv())
        .await
        .expect("the gate is open")
}

/// OTP `one_for_all_other_child_fails_restart`: "Test that the supervisor
/// terminates a restarted child when a different child fails to start":
/// `{one_for_all, 3, 3600}`, child1 killed; child1's restart is let through,
/// child2's fails (`{stop, normal}`); then child1's new pid must go `'DOWN'`
/// with `shutdown` before any child starts again
/// (`restarting_child_not_terminated`), and the restart completes.
#[tokio::test(start_paused = true)]
async fn one_for_all_other_child_fails_restart() {
    let kids = Kids::new();
    let (gate_tx, mut gate) = mpsc::unbounded_channel();
    let starter = tokio::spawn(
        flags("sup_test", Strategy::OneForAll, 3, 3600)
            .child(kids.gated("child1", &gate_tx))
            .child(kids.gated("child2", &gate_tx))
            .start(),
    );
    // Let the children start.
    for want in [("child1", 1), ("child2", 1)] {
        let k = knock(&mut gate).await;
        assert_eq!((k.id.as_str(), k.generation), want);
        k.verdict.send(Gate::Ok).unwrap();
    }
    let sup = answered("start_link", starter).await.unwrap().unwrap();

    kids.send("child1", Msg::Die);
    // Let child1 restart but don't let child2.
    let k = knock(&mut gate).await;
    assert_eq!((k.id.as_str(), k.generation), ("child1", 2));
    k.verdict.send(Gate::Ok).unwrap();
    let k = knock(&mut gate).await;
    assert_eq!((k.id.as_str(), k.generation), ("child2", 2));
    k.verdict.send(Gate::StopNormal).unwrap();

    // Check child1 is terminated before anything starts again.
    let k = knock(&mut gate).await;
    assert!(
        kids.logged("stop child1#2"),
        "restarting_child_not_terminated: {} #{} starts while child1#2 runs",
        k.id,
        k.generation
    );
    // Let the restart complete.
    assert_eq!((k.id.as_str(), k.generation), ("child1", 3));
    k.verdict.send(Gate::Ok).unwrap();
    let k = knock(&mut gate).await;
    assert_eq!((k.id.as_str(), k.generation), ("child2", 3));
    k.verdict.send(Gate::Ok).unwrap();
    idle().await;
    assert_eq!(counts(&sup).await, [2, 2, 0, 2]);
    let report = shutdown(&sup).await;
    assert_eq!(report.exit.kind(), ExitKind::Shutdown);
}

/// OTP `rest_for_one`: "Test the rest_for_one base case": child2 dies,
/// child3 exits too (`check_exit([CPid3])`), child1 keeps its pid, child2
/// and child3 have new ones, three children, `[3,3,0,3]`; then child3 and
/// child2 die, exceeding `{rest_for_one, 2, 3600}`: the supervisor exits.
#[tokio::test(start_paused = true)]
async fn rest_for_one() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::RestForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    for id in ["child1", "child2", "child3"] {
        start_child(&sup, kids.worker(id)).await.unwrap();
    }
    let w = which(&sup).await;
    let [cpid1, cpid2, cpid3] = ["child1", "child2", "child3"].map(|id| pid_in(&w, id).live());
    assert_eq!(counts(&sup).await, [3, 3, 0, 3]);

    tell(&kids, "child2", Msg::Die).await;
    assert!(kids.logged("stop child3#1"), "check_exit([CPid3])");
    assert!(!kids.logged("stop child1#1"));
    let w = which(&sup).await;
    assert_eq!(w.len(), 3, "bad_child_list: {w:?}");
    assert_eq!(counts(&sup).await, [3, 3, 0, 3]);
    assert_eq!(
        pid_in(&w, "child1"),
        Pid::Live(cpid1),
        "child_should_be_alive"
    );
    for (id, old) in [("child2", cpid2), ("child3", cpid3)] {
        assert!(
            matches!(pid_in(&w, id), Pid::Live(p) if p != old),
            "{id}: child_should_not_be_alive: {w:?}"
        );
    }

    // Test restart frequency property.
    tell(&kids, "child3", Msg::Die).await;
    assert!(sup.is_running());
    tell(&kids, "child2", Msg::Die).await;
    gave_up(&sup).await;
}

/// OTP `rest_for_one_escalation`: "Test restart escalation on a
/// rest_for_one supervisor": child2's restarts fail, `{rest_for_one, 4,
/// 3600}`; after child1 dies, `check_exit([CPid2, SupPid])`.
#[tokio::test(start_paused = true)]
async fn rest_for_one_escalation() {
    let kids = Kids::new();
    let sup = flags("sup_test", Strategy::RestForOne, 4, 3600)
        .start()
        .await
        .unwrap();
    start_child(&sup, kids.worker("child1")).await.unwrap();
    start_child(&sup, kids.fails_restarts("child2"))
        .await
        .unwrap();
    kids.send("child1", Msg::Die);
    gave_up(&sup).await;
    assert!(kids.logged("stop child2#1"), "check_exit([CPid2, …])");
    assert_eq!(kids.times("fail child2#2"), 1);
}

/// OTP `rest_for_one_other_child_fails_restart`: "Test that the supervisor
/// terminates a restarted child when a different child fails to start",
/// under `{rest_for_one, 3, 3600}`: child1 killed, its restart let through,
/// child2's fails (`{stop, normal}`); the retry restarts child2 only
/// (`restarting_started_child` if child1 starts again).
#[tokio::test(start_paused = true)]
async fn rest_for_one_other_child_fails_restart() {
    let kids = Kids::new();
    let (gate_tx, mut gate) = mpsc::unbounded_channel();
    let starter = tokio::spawn(
        flags("sup_test", Strategy::RestForOne, 3, 3600)
            .child(kids.gated("child1", &gate_tx))
            .child(kids.gated("child2", &gate_tx))
            .start(),
    );
    for want in [("child1", 1), ("child2", 1)] {
        let k = knock(&mut gate).await;
        assert_eq!((k.id.as_str(), k.generation), want);
        k.verdict.send(Gate::Ok).unwrap();
    }
    let sup = answered("start_link", starter).await.unwrap().unwrap();

    kids.send("child1", Msg::Die);
    let k = knock(&mut gate).await;
    assert_eq!((k.id.as_str(), k.generation), ("child1", 2));
    k.verdict.send(Gate::Ok).unwrap();
    let k = knock(&mut gate).await;
    assert_eq!((k.id.as_str(), k.generation), ("child2", 2));
    k.verdict.send(Gate::StopNormal).unwrap();

    // Let child2 restart.
    let k = knock(&mut gate).await;
    assert_eq!(
        (k.id.as_str(), k.generation),
        ("child2", 3),
        "restarting_started_child"
    );
    k.verdict.send(Gate::Ok).unwrap();
    idle().await;
    assert!(!kids.logged("stop child1#2"), "child1 kept running");
    assert_eq!(counts(&sup).await, [2, 2, 0, 2]);
    let report = shutdown(&sup).await;
    assert_eq!(report.exit.kind(), ExitKind::Shutdown);
}

// ---------------------------------------------------------------------------
// Misc

/// OTP `child_unlink`: "Test that the supervisor does not hang forever if
/// the child unlinks and then is terminated by the supervisor": after
/// `terminate_child` of the naughty child, the supervisor has handled the
/// message sent to it within 5 s (`{message_queue_len, 0}`). Here the child
/// lets go of its context at once (it can no longer hear a stop request).
#[tokio::test(start_paused = true)]
async fn child_unlink() {
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    let naughty = ChildSpec::task("naughty_child", |ctx: Context| async move {
        drop(ctx);
        std::future::pending::<()>().await
    })
    .shutdown(ms(1000));
    start_child(&sup, naughty).await.unwrap();

    let t0 = tokio::time::Instant::now();
    let terminating = tokio::spawn({
        let sup = sup.clone();
        async move { sup.terminate_child("naughty_child").await }
    });
    tokio::task::yield_now().await;
    // SupPid ! foo: a request sent after the terminate.
    assert_eq!(counts(&sup).await, [1, 0, 0, 1]);
    assert!(t0.elapsed() <= Duration::from_secs(5), "supervisor_hangs");
    assert_eq!(
        answered("terminate_child", terminating).await.unwrap(),
        Ok(())
    );
    assert_eq!(which(&sup).await, [row("naughty_child", Pid::Undefined, W)]);
    shutdown(&sup).await;
}

/// OTP `tree`: "Test a basic supervison tree": under `{one_for_all, 4,
/// 3600}`, supchild1 (child1, child2), supchild2 (empty), supchild3
/// (transient, terminated): `[3,2,3,0]`; supchild2 gets dynamic children
/// child3 (whose restarts fail) and child4. child4 dying restarts only
/// child4. child3 dying makes supchild2 reach its intensity; the top
/// supervisor then restarts the whole tree, all three supervisors
/// (`[3,3,3,0]`), but not supchild2's dynamic children: `[child2, child1]`
/// and `[2,2,0,2]` in the new supchild1, `[]` and `[0,0,0,0]` in the new
/// supchild2 and supchild3.
#[tokio::test(start_paused = true)]
async fn tree() {
    let kids = Kids::new();
    let top = flags("sup_test", Strategy::OneForAll, 4, 3600)
        .start()
        .await
        .unwrap();
    let supchild1 = ChildSpec::supervisor(
        flags("supchild1", Strategy::OneForOne, 4, 3600)
            .child(kids.worker("child1"))
            .child(kids.worker("child2")),
    );
    let supchild2 = ChildSpec::supervisor(flags("supchild2", Strategy::OneForOne, 4, 3600));
    let supchild3 = ChildSpec::supervisor(flags("supchild3", Strategy::OneForOne, 4, 3600))
        .restart(Restart::Transient);
    start_child(&top, supchild1).await.unwrap();
    start_child(&top, supchild2).await.unwrap();
    start_child(&top, supchild3).await.unwrap();
    assert_eq!(terminate_child(&top, "supchild3").await, Ok(()));
    assert_eq!(counts(&top).await, [3, 2, 3, 0]);
    let old_top = which(&top).await;

    // Workers.
    let sup1 = answered("supervisor", top.supervisor("supchild1"))
        .await
        .unwrap();
    let sup2 = answered("supervisor", top.supervisor("supchild2"))
        .await
        .unwrap();
    let w1 = which(&sup1).await;
    let (cpid1, cpid2) = (pid_in(&w1, "child1").live(), pid_in(&w1, "child2").live());
    assert_eq!(counts(&sup1).await, [2, 2, 0, 2]);
    assert_eq!(counts(&sup2).await, [0, 0, 0, 0]);

    // Dynamic children.
    start_child(&sup2, kids.fails_restarts("child3"))
        .await
        .unwrap();
    start_child(&sup2, kids.worker("child4")).await.unwrap();
    assert_eq!(counts(&sup1).await, [2, 2, 0, 2]);
    assert_eq!(counts(&sup2).await, [2, 2, 0, 2]);
    let w2 = which(&sup2).await;
    let (cpid3, cpid4) = (pid_in(&w2, "child3").live(), pid_in(&w2, "child4").live());

    // Test that only the process that dies is restarted.
    tell(&kids, "child4", Msg::Die).await;
    assert_eq!(
        which(&sup1).await,
        [
            row("child1", Pid::Live(cpid1), W),
            row("child2", Pid::Live(cpid2), W)
        ]
    );
    assert_eq!(counts(&sup1).await, [2, 2, 0, 2]);
    let w2 = which(&sup2).await;
    assert_eq!(pid_in(&w2, "child3"), Pid::Live(cpid3));
    assert!(matches!(pid_in(&w2, "child4"), Pid::Live(p) if p != cpid4));
    assert_eq!(counts(&sup2).await, [2, 2, 0, 2]);

    // Test that the supervisor tree is restarted, but not dynamic children.
    tell(&kids, "child3", Msg::Die).await;
    assert!(!sup2.is_running(), "supchild2 reached its intensity");
    assert!(top.is_running());
    let new_top = which(&top).await;
    assert_eq!(new_top.len(), 3, "{new_top:?}");
    for ((id, pid, kind), (_, old, _)) in new_top.iter().zip(&old_top) {
        assert_eq!(*kind, S);
        assert!(
            matches!(pid, Pid::Live(_)) && pid != old,
            "{id} restarted: {old:?} -> {pid:?}"
        );
    }
    assert_eq!(counts(&top).await, [3, 3, 3, 0]);

    let new1 = answered("supervisor", top.supervisor("supchild1"))
        .await
        .unwrap();
    let new2 = answered("supervisor", top.supervisor("supchild2"))
        .await
        .unwrap();
    let new3 = answered("supervisor", top.supervisor("supchild3"))
        .await
        .unwrap();
    let w1 = which(&new1).await;
    assert_eq!(
        w1.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["child1", "child2"]
    );
    assert!(matches!(pid_in(&w1, "child1"), Pid::Live(p) if p != cpid1));
    assert!(matches!(pid_in(&w1, "child2"), Pid::Live(p) if p != cpid2));
    assert_eq!(counts(&new1).await, [2, 2, 0, 2]);
    assert_eq!(which(&new2).await, []);
    assert_eq!(counts(&new2).await, [0, 0, 0, 0]);
    assert_eq!(which(&new3).await, []);
    assert_eq!(counts(&new3).await, [0, 0, 0, 0]);
    shutdown(&top).await;
}

/// A temporary child that runs until stopped, as cheap as a child gets.
fn idler(id: String) -> ChildSpec {
    ChildSpec::task(id, |ctx: Context| async move { ctx.cancelled().await })
        .restart(Restart::Temporary)
        .shutdown(ms(1000))
}

/// OTP `count_children`: 1000 then 2000 temporary children:
/// `1000 = length(Children)`, `[1,1000,0,1000]`, `2000 =
/// length(Children2)`, `[1,2000,0,2000]`, two more `which_children` and
/// `count_children` give the same answers, and once each child is killed
/// `[1,0,0,0]`. OTP's supervisor is `simple_one_for_one`, whose one
/// template spec is the `1`; tend has one spec per child, so `specs` counts
/// the children ([N, N, 0, N]) and, all being temporary, drops to 0.
#[tokio::test(start_paused = true)]
async fn count_children() {
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    for i in 1..=1000 {
        start_child(&sup, idler(format!("child{i}"))).await.unwrap();
    }
    let children = which(&sup).await;
    let child_count = counts(&sup).await;
    for i in 1001..=2000 {
        start_child(&sup, idler(format!("child{i}"))).await.unwrap();
    }
    let child_count2 = counts(&sup).await;
    let children2 = which(&sup).await;
    let child_count3 = counts(&sup).await;
    let children3 = which(&sup).await;

    assert_eq!(children.len(), 1000);
    assert_eq!(child_count, [1000, 1000, 0, 1000]);
    assert_eq!(children2.len(), 2000);
    assert_eq!(child_count2, [2000, 2000, 0, 2000]);
    assert_eq!(children3, children2);
    assert_eq!(child_count3, child_count2);

    for (id, pid, kind) in &children3 {
        assert!(matches!(pid, Pid::Live(_)) && *kind == W);
        assert_eq!(kill_child(&sup, id).await, Ok(()));
    }
    idle().await;
    assert_eq!(counts(&sup).await, [0, 0, 0, 0]);
    shutdown(&sup).await;
}

/// OTP `count_children_supervisor`: as `count_children`, with children that
/// are supervisors: `[1,1000,1000,0]`, `[1,2000,2000,0]`, then `[1,0,0,0]`
/// (tend: `[N, N, N, 0]`, then all zero; see `count_children`).
#[tokio::test(start_paused = true)]
async fn count_children_supervisor() {
    let nested = |i: usize| {
        ChildSpec::supervisor(Supervisor::builder(format!("child{i}"))).restart(Restart::Temporary)
    };
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();
    for i in 1..=1000 {
        start_child(&sup, nested(i)).await.unwrap();
    }
    let children = which(&sup).await;
    let child_count = counts(&sup).await;
    for i in 1001..=2000 {
        start_child(&sup, nested(i)).await.unwrap();
    }
    let child_count2 = counts(&sup).await;
    let children2 = which(&sup).await;
    let child_count3 = counts(&sup).await;
    let children3 = which(&sup).await;

    assert_eq!(children.len(), 1000);
    assert_eq!(child_count, [1000, 1000, 1000, 0]);
    assert_eq!(children2.len(), 2000);
    assert_eq!(child_count2, [2000, 2000, 2000, 0]);
    assert_eq!(children3, children2);
    assert_eq!(child_count3, child_count2);

    for (id, pid, kind) in &children3 {
        assert!(matches!(pid, Pid::Live(_)) && *kind == S);
        assert_eq!(kill_child(&sup, id).await, Ok(()));
    }
    idle().await;
    assert_eq!(counts(&sup).await, [0, 0, 0, 0]);
    shutdown(&sup).await;
}

/// OTP `count_restarting_children`: "Test count_children when some children
/// are restarting": three `supervisor_deadlock` children (2 s per failing
/// start) under intensity 20 in 10 s; all three restarted: `[1,3,0,3]`;
/// then starts fail and two of them die: once their restarts are failing
/// (OTP sleeps 4 s) `[1,1,0,3]` (two restarting, counted as workers but not
/// active); starts succeed again: once both are back `[1,3,0,3]`; terminating them one by one: `[1,2,0,2]`,
/// `[1,1,0,1]`, `[1,0,0,0]`. OTP's supervisor is `simple_one_for_one` (one
/// template spec, terminated children removed); here one spec per child,
/// kept when terminated: `[3,3,0,3]`, `[3,1,0,3]`, `[3,3,0,3]`, then
/// `[3,2,0,3]`, `[3,1,0,3]`, `[3,0,0,3]`.
#[tokio::test(start_paused = true)]
async fn count_restarting_children() {
    let kids = Kids::new();
    let fail = Flag::default();
    let sup = flags("sup_test", Strategy::OneForOne, 20, 10)
        .start()
        .await
        .unwrap();
    assert_eq!(counts(&sup).await, [0, 0, 0, 0]);
    start_child(&sup, kids.deadlock("ch1", &fail))
        .await
        .unwrap();
    assert_eq!(counts(&sup).await, [1, 1, 0, 1]);
    start_child(&sup, kids.deadlock("ch2", &fail))
        .await
        .unwrap();
    assert_eq!(counts(&sup).await, [2, 2, 0, 2]);
    start_child(&sup, kids.deadlock("ch3", &fail))
        .await
        .unwrap();
    assert_eq!(counts(&sup).await, [3, 3, 0, 3]);

    for id in ["ch1", "ch2", "ch3"] {
        kids.send(id, Msg::Die);
    }
    idle().await;
    assert_eq!(counts(&sup).await, [3, 3, 0, 3]);
    let w = which(&sup).await;
    assert!(
        w.iter().all(|(_, pid, _)| matches!(pid, Pid::Live(_))),
        "{w:?}"
    );

    fail.set(true);
    kids.send("ch1", Msg::Die);
    kids.send("ch2", Msg::Die);
    // OTP sleeps 4 s "to allow restart to happen": here, until both
    // restarts have failed.
    kids.wait_for("fail ch1#3").await;
    kids.wait_for("fail ch2#3").await;
    assert_eq!(counts(&sup).await, [3, 1, 0, 3]);

    fail.set(false);
    // Until both run again (a third start each).
    kids.wait_until("ch1 and ch2 restarted", |log| {
        ["ch1", "ch2"].iter().all(|id| {
            let prefix = format!("start {id}#");
            log.iter().filter(|l| l.starts_with(&prefix)).count() >= 3
        })
    })
    .await;
    assert_eq!(counts(&sup).await, [3, 3, 0, 3]);

    assert_eq!(terminate_child(&sup, "ch3").await, Ok(()));
    assert_eq!(counts(&sup).await, [3, 2, 0, 3]);
    assert_eq!(terminate_child(&sup, "ch1").await, Ok(()));
    assert_eq!(counts(&sup).await, [3, 1, 0, 3]);
    assert_eq!(terminate_child(&sup, "ch2").await, Ok(()));
    assert_eq!(counts(&sup).await, [3, 0, 0, 3]);
    shutdown(&sup).await;
}

/// How `dont_save_child_specs_for_temporary_children` ends a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Kill,
    Normal,
    Abnormal,
    /// `supervisor:terminate_child`.
    Supervisor,
}

async fn end_child(kids: &Kids, sup: &SupervisorHandle, id: &str, how: How) {
    match how {
        How::Kill => assert_eq!(kill_child(sup, id).await, Ok(())),
        How::Normal => kids.send(id, Msg::Stop),
        How::Abnormal => kids.send(id, Msg::Die),
        How::Supervisor => assert_eq!(terminate_child(sup, id).await, Ok(())),
    }
    idle().await;
}

/// OTP `dont_save_child_specs_for_temporary_children(Type, TerminateHow)`.
async fn dont_save_child_specs_for_temporary_children(strategy: Strategy, how: How) {
    let case = format!("{strategy:?}, {how:?}");
    let kids = Kids::new();
    let sup = flags("sup", strategy, 2, 3600).start().await.unwrap();
    let permanent = kids.worker("child1");
    let transient = kids.worker("child2").restart(Restart::Transient);
    let temporary = kids.worker("child3").restart(Restart::Temporary);

    for (spec, saved_stopped) in [
        (permanent, how == How::Supervisor),
        (transient, matches!(how, How::Supervisor | How::Normal)),
    ] {
        let id = spec.id().to_string();
        assert_eq!(start_child(&sup, spec.clone()).await, Ok(()), "{case}");
        end_child(&kids, &sup, &id, how).await;
        if saved_stopped {
            // already_present/3
            assert_eq!(
                start_child(&sup, spec).await,
                Err(ControlError::AlreadyPresent(id.as_str().into())),
                "{case}"
            );
            assert_eq!(restart_child(&sup, &id).await, Ok(()), "{case}");
        } else {
            // restarted/3: restarted by the supervisor.
            assert_eq!(
                start_child(&sup, spec).await,
                Err(ControlError::AlreadyStarted(id.as_str().into())),
                "{case}"
            );
        }
    }

    // temporary_child_spec_not_saved/3
    assert_eq!(start_child(&sup, temporary.clone()).await, Ok(()), "{case}");
    end_child(&kids, &sup, "child3", how).await;
    assert_eq!(start_child(&sup, temporary).await, Ok(()), "{case}");
    assert!(sup.is_running(), "{case}");
    shutdown(&sup).await;
}

/// OTP `do_not_save_child_specs_for_temporary_children`: "Temporary children
/// shall not be restarted so supervisors should not save their spec when
/// they terminate": for `one_for_all`, `one_for_one`, `rest_for_one` and a
/// child ended by `kill`, `normal`, `abnormal` or `terminate_child`: a
/// permanent child is restarted (`{error, {already_started, _}}`) or, when
/// terminated, kept (`{error, already_present}`, then `{ok, _} =
/// restart_child`); a transient one likewise, kept also after `normal`; a
/// temporary one can always be started again (`{ok, _}`).
#[tokio::test(start_paused = true)]
async fn do_not_save_child_specs_for_temporary_children() {
    for how in [How::Kill, How::Normal, How::Abnormal, How::Supervisor] {
        for strategy in [
            Strategy::OneForAll,
            Strategy::OneForOne,
            Strategy::RestForOne,
        ] {
            dont_save_child_specs_for_temporary_children(strategy, how).await;
        }
    }
}

/// OTP `hanging_restart_loop` (OTP-9549): "Test that child and supervisor
/// can be shutdown while hanging in restart loop": `{one_for_one, 8, 10}`,
/// a `brutal_kill` child whose starts take 2 s and fail; while it loops:
/// `{error, already_present}` to start it, `{error, restarting}` to restart
/// or delete it, `[{child1, restarting, worker, []}]`, `[1,0,0,1]`; `ok =
/// terminate_child` (the old pid died with `error`), then `[{child1,
/// undefined, worker, []}]`; restarted (`{ok, CPid2}`), it loops again, and
/// the supervisor still shuts down ("does not give a timetrap timeout").
#[tokio::test(start_paused = true)]
async fn hanging_restart_loop() {
    let kids = Kids::new();
    let fail = Flag::default();
    let sup = flags("sup_test", Strategy::OneForOne, 8, 10)
        .start()
        .await
        .unwrap();
    let child1 = kids.deadlock("child1", &fail);
    start_child(&sup, child1.clone()).await.unwrap();

    fail.set(true);
    kids.send("child1", Msg::Die);
    kids.wait_for("fail child1#2").await;

    assert_eq!(
        start_child(&sup, child1.clone()).await,
        Err(ControlError::AlreadyPresent("child1".into()))
    );
    assert_eq!(
        restart_child(&sup, "child1").await,
        Err(ControlError::Restarting("child1".into()))
    );
    assert_eq!(
        delete_child(&sup, "child1").await,
        Err(ControlError::Restarting("child1".into()))
    );
    assert_eq!(which(&sup).await, [row("child1", Pid::Restarting, W)]);
    assert_eq!(counts(&sup).await, [1, 0, 0, 1]);

    assert_eq!(terminate_child(&sup, "child1").await, Ok(()));
    assert!(
        kids.logged("die child1#1"),
        "check_exit_reason(CPid1, error)"
    );
    assert_eq!(which(&sup).await, [row("child1", Pid::Undefined, W)]);
    let failed = kids.times_prefixed("fail child1#");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        kids.times_prefixed("fail child1#"),
        failed,
        "no retry after terminate"
    );

    fail.set(false);
    assert_eq!(restart_child(&sup, "child1").await, Ok(()));
    let g = generation(&sup, "child1").await;
    assert!(matches!(which(&sup).await[0].1, Pid::Live(_)));

    fail.set(true);
    kids.send("child1", Msg::Die);
    kids.wait_for(&format!("fail child1#{}", g + 1)).await;

    // Terminating the supervisor: it does not hang in the restart loop.
    let report = shutdown(&sup).await;
    assert!(
        kids.logged(&format!("die child1#{g}")),
        "check_exit_reason(CPid2, error)"
    );
    assert_eq!(report.exit.kind(), ExitKind::Shutdown);
    assert!(!sup.is_running());
}

/// Facts compared with OTP's, collected so that one run names every
/// divergence instead of the first.
#[derive(Default)]
struct Divergences(Vec<String>);

impl Divergences {
    fn check<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, tend: T, otp: T) {
        if tend != otp {
            self.0
                .push(format!("{what}:\n    tend: {tend:?}\n    OTP:  {otp:?}"));
        }
    }

    fn none(self) {
        assert!(
            self.0.is_empty(),
            "diverges from OTP:\n  {}",
            self.0.join("\n  ")
        );
    }
}

/// OTP `hanging_restart_loop_rest_for_one` (OTP-9549), under `{rest_for_one,
/// 8, 10}` with child1, child2 (starts take 2 s and fail) and child3, all
/// `brutal_kill`: while child2 loops, `{error, already_present}`, `{error,
/// restarting}` (restart, delete), `[{child3, undefined, worker, []},
/// {child2, restarting, worker, []}, {child1, CPid1, worker, []}]` (child3,
/// stopped by the strategy, is *not* restarting: only the child whose start
/// failed is), `[3,1,0,3]`; `ok = terminate_child(child2)` (its old pid
/// died with `error`), then child2 *and child3* `undefined`, child1 still
/// `CPid1`; child2 restarted, looping again, the supervisor still shuts
/// down. Every divergence is reported, not only the first.
#[tokio::test(start_paused = true)]
async fn hanging_restart_loop_rest_for_one() {
    let kids = Kids::new();
    let fail = Flag::default();
    let mut otp = Divergences::default();
    let sup = flags("sup_test", Strategy::RestForOne, 8, 10)
        .start()
        .await
        .unwrap();
    let child1 = kids.worker("child1").shutdown(Shutdown::BrutalKill);
    let child2 = kids.deadlock("child2", &fail);
    let child3 = kids.worker("child3").shutdown(Shutdown::BrutalKill);
    start_child(&sup, child1).await.unwrap();
    start_child(&sup, child2.clone()).await.unwrap();
    start_child(&sup, child3).await.unwrap();
    let cpid1 = pid_in(&which(&sup).await, "child1").live();

    fail.set(true);
    kids.send("child2", Msg::Die);
    kids.wait_for("fail child2#2").await;

    otp.check(
        "start_child(child2)",
        start_child(&sup, child2).await,
        Err(ControlError::AlreadyPresent("child2".into())),
    );
    otp.check(
        "restart_child(child2)",
        restart_child(&sup, "child2").await,
        Err(ControlError::Restarting("child2".into())),
    );
    otp.check(
        "delete_child(child2)",
        delete_child(&sup, "child2").await,
        Err(ControlError::Restarting("child2".into())),
    );
    otp.check(
        "which_children while child2's restart keeps failing",
        which(&sup).await,
        vec![
            row("child1", Pid::Live(cpid1), W),
            row("child2", Pid::Restarting, W),
            row("child3", Pid::Undefined, W),
        ],
    );
    otp.check("count_children", counts(&sup).await, [3, 1, 0, 3]);

    otp.check(
        "terminate_child(child2)",
        terminate_child(&sup, "child2").await,
        Ok(()),
    );
    assert!(
        kids.logged("die child2#1"),
        "check_exit_reason(CPid2, error)"
    );
    otp.check(
        "which_children after terminate_child(child2)",
        which(&sup).await,
        vec![
            row("child1", Pid::Live(cpid1), W),
            row("child2", Pid::Undefined, W),
            row("child3", Pid::Undefined, W),
        ],
    );

    fail.set(false);
    otp.check(
        "restart_child(child2)",
        restart_child(&sup, "child2").await,
        Ok(()),
    );
    let g = generation(&sup, "child2").await;

    fail.set(true);
    kids.send("child2", Msg::Die);
    kids.wait_for(&format!("fail child2#{}", g + 1)).await;

    // Terminating the supervisor: it does not hang in the restart loop.
    let report = shutdown(&sup).await;
    assert!(
        kids.logged(&format!("die child2#{g}")),
        "check_exit_reason(CPid22, error)"
    );
    otp.check("exit", report.exit.kind(), ExitKind::Shutdown);
    otp.none();
}

/// OTP `order_of_children`: "Test that children are started in the order
/// they are given, and terminated in the opposite order": ids `ch7, ch3,
/// ch10, ch2, ch5` under `{rest_for_one, 2, 3600}` start in that order
/// (pids growing); ch10 dying stops ch5 then ch2 (`[Pid5, Pid4]`), then ch10,
/// ch2, ch5 start again in order while ch7 and ch3 keep their pids; the
/// supervisor's shutdown stops all in the opposite start order.
#[tokio::test(start_paused = true)]
async fn order_of_children() {
    let kids = Kids::new();
    let ids = ["ch7", "ch3", "ch10", "ch2", "ch5"];
    let sup = flags("sup_test", Strategy::RestForOne, 2, 3600)
        .children(ids.map(|id| kids.worker(id)))
        .start()
        .await
        .unwrap();
    assert_eq!(
        kids.take(),
        [
            "start ch7#1",
            "start ch3#1",
            "start ch10#1",
            "start ch2#1",
            "start ch5#1"
        ]
    );
    let which1 = which(&sup).await;
    let pids1: Vec<IncarnationId> = which1.iter().map(|r| r.1.live()).collect();
    assert_eq!(which1.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ids);
    assert!(
        pids1.windows(2).all(|w| w[0] < w[1]),
        "pids growing: {which1:?}"
    );

    tell(&kids, "ch10", Msg::Die).await;
    assert_eq!(
        kids.take(),
        [
            "die ch10#1",
            "stop ch5#1",
            "stop ch2#1",
            "start ch10#2",
            "start ch2#2",
            "start ch5#2"
        ]
    );
    let which2 = which(&sup).await;
    let pids2: Vec<IncarnationId> = which2.iter().map(|r| r.1.live()).collect();
    assert_eq!(which2.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ids);
    assert_eq!(pids2[..2], pids1[..2], "ch7 and ch3 keep their pids");
    assert!(
        pids2.windows(2).all(|w| w[0] < w[1]),
        "pids growing: {which2:?}"
    );

    let report = shutdown(&sup).await;
    let stops: Vec<_> = report.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(stops, ["ch5", "ch2", "ch10", "ch3", "ch7"]);
    assert_eq!(
        kids.take(),
        [
            "stop ch5#2",
            "stop ch2#2",
            "stop ch10#2",
            "stop ch3#1",
            "stop ch7#1"
        ]
    );
}

/// OTP `scale_start_stop_many_children`: "Test that a non-simple supervisor
/// scales well for starting and stopping many children": 1000 then 100,000
/// permanent children started with `start_child` and stopped with
/// `terminate_child` (ids 1..1000 are already present in the second round:
/// `{error, already_present}`); the times may grow at most `(N2 div N1) *
/// 10` = 1000 times. Measured on the wall clock.
#[tokio::test(start_paused = true)]
async fn scale_start_stop_many_children() {
    const N1: u32 = 1000;
    const N2: u32 = 100_000;
    let child = |id: u32| {
        ChildSpec::task(id.to_string(), |ctx: Context| async move {
            ctx.cancelled().await
        })
        .shutdown(ms(1000))
    };
    let sup = flags("sup_test", Strategy::OneForOne, 2, 3600)
        .start()
        .await
        .unwrap();

    let t = std::time::Instant::now();
    for id in 1..=N1 {
        assert!(sup.start_child(child(id)).await.is_ok());
    }
    let start1 = t.elapsed();
    let t = std::time::Instant::now();
    for id in 1..=N1 {
        assert_eq!(sup.terminate_child(id.to_string()).await, Ok(()));
    }
    let stop1 = t.elapsed();
    assert_eq!(counts(&sup).await, [1000, 0, 0, 1000]);

    let t = std::time::Instant::now();
    for id in 1..=N2 {
        let answer = sup.start_child(child(id)).await;
        if id <= N1 {
            assert_eq!(
                answer,
                Err(ControlError::AlreadyPresent(id.to_string().into()))
            );
        } else {
            assert!(answer.is_ok(), "{answer:?}");
        }
    }
    let start2 = t.elapsed();
    assert_eq!(counts(&sup).await, [100_000, 99_000, 0, 100_000]);
    let t = std::time::Instant::now();
    for id in 1..=N2 {
        assert_eq!(sup.terminate_child(id.to_string()).await, Ok(()));
    }
    let stop2 = t.elapsed();
    assert_eq!(counts(&sup).await, [100_000, 0, 0, 100_000]);
    eprintln!(
        "{N1} children: start {start1:?}, stop {stop1:?}; {N2} children: start {start2:?}, stop {stop2:?}"
    );

    let limit = u128::from(N2 / N1) * 10;
    let start_scale = start2.as_micros() / (start1.as_micros() + 1);
    let stop_scale = stop2.as_micros() / (stop1.as_micros() + 1);
    assert!(start_scale <= limit, "bad_start_scale: {start_scale}");
    assert!(stop_scale <= limit, "bad_stop_scale: {stop_scale}");
    shutdown(&sup).await;
}

// ---------------------------------------------------------------------------
// Beyond the suite: restart loops of several children, and nested.

/// `hanging_restart_loop` with `n` children looping at once beside a steady
/// one (`{one_for_one, 1000, 10}`, so that intensity is never reached): between
/// attempts the supervisor answers `which_children` (the loopers
/// `restarting`), `count_children` (`[n+1, 1, 0, n+1]`), `terminate_child`
/// (that looper `undefined`, the others still `restarting`) and shuts down.
async fn restart_loop_of(n: usize) {
    let kids = Kids::new();
    let fail = Flag::default();
    let loopers: Vec<String> = (1..=n).map(|i| format!("loop{i}")).collect();
    let sup = flags("sup_test", Strategy::OneForOne, 1000, 10)
        .child(kids.worker("steady"))
        .children(loopers.iter().map(|id| kids.deadlock(id, &fail)))
        .start()
        .await
        .unwrap();
    let steady = pid_in(&which(&sup).await, "steady").live();

    fail.set(true);
    for id in &loopers {
        kids.send(id, Msg::Die);
    }
    for id in &loopers {
        kids.wait_for(&format!("fail {id}#2")).await;
    }

    let mut expected = vec![row("steady", Pid::Live(steady), W)];
    expected.extend(loopers.iter().map(|id| row(id, Pid::Restarting, W)));
    assert_eq!(which(&sup).await, expected);
    assert_eq!(counts(&sup).await, [n + 1, 1, 0, n + 1]);

    assert_eq!(terminate_child(&sup, "loop1").await, Ok(()));
    expected[1].1 = Pid::Undefined;
    assert_eq!(which(&sup).await, expected);

    let report = shutdown(&sup).await;
    assert_eq!(report.children.len(), n + 1);
    assert_eq!(report.exit.kind(), ExitKind::Shutdown);
    assert!(!sup.is_running());
    assert!(kids.logged("stop steady#1"));
}

/// One child's restarts keep failing: see [`restart_loop_of`].
#[tokio::test(start_paused = true)]
async fn restart_loop_of_1_child_is_answered() {
    restart_loop_of(1).await;
}

/// Two children's restarts keep failing at once: see [`restart_loop_of`].
#[tokio::test(start_paused = true)]
async fn restart_loop_of_2_children_is_answered() {
    restart_loop_of(2).await;
}

/// Ten children's restarts keep failing at once: see [`restart_loop_of`].
#[tokio::test(start_paused = true)]
async fn restart_loop_of_10_children_is_answered() {
    restart_loop_of(10).await;
}

/// A nested supervisor whose child loops (its starts take 2 s and fail),
/// under a parent that is asked to shut down: the parent answers (the
/// nested supervisor is running, `[1,1,1,0]`), the nested one answers (its
/// looper `restarting`), and the parent's shutdown stops the nested
/// supervisor and its subtree, which ends with `shutdown`.
#[tokio::test(start_paused = true)]
async fn nested_supervisor_looping_under_parent_shutdown() {
    let kids = Kids::new();
    let fail = Flag::default();
    let inner = flags("inner", Strategy::OneForOne, 8, 10)
        .child(kids.worker("steady"))
        .child(kids.deadlock("looper", &fail));
    let parent = flags("parent", Strategy::OneForOne, 8, 10)
        .child(ChildSpec::supervisor(inner))
        .start()
        .await
        .unwrap();

    fail.set(true);
    kids.send("looper", Msg::Die);
    kids.wait_for("fail looper#2").await;

    let nested = answered("supervisor", parent.supervisor("inner"))
        .await
        .unwrap();
    let w = which(&nested).await;
    assert!(matches!(pid_in(&w, "steady"), Pid::Live(_)), "{w:?}");
    assert_eq!(pid_in(&w, "looper"), Pid::Restarting);
    assert!(matches!(
        pid_in(&which(&parent).await, "inner"),
        Pid::Live(_)
    ));
    assert_eq!(counts(&parent).await, [1, 1, 1, 0]);

    let report = shutdown(&parent).await;
    assert_eq!(report.exit.kind(), ExitKind::Shutdown);
    assert_eq!(report.children.len(), 1);
    assert!(
        matches!(&report.children[0].outcome, StopOutcome::Stopped(e) if e.class() == ExitClass::Shutdown),
        "{:?}",
        report.children[0]
    );
    assert!(!nested.is_running());
    assert!(kids.logged("stop steady#1"));
}

/// A nested supervisor that is itself the looping child: its own intensity
/// is 0, so its looper's death makes it give up, and each of its restarts
/// fails (its looper's start takes 2 s and fails). The parent answers
/// between attempts (`restarting`, `[2,1,1,1]`, `{error, restarting}`),
/// terminates it (`undefined`, no retry), restarts it, and, while it loops
/// again, shuts down.
#[tokio::test(start_paused = true)]
async fn nested_supervisor_restart_loop_under_parent_shutdown() {
    let kids = Kids::new();
    let fail = Flag::default();
    let inner = flags("inner", Strategy::OneForOne, 0, 10).child(kids.deadlock("looper", &fail));
    let parent = flags("parent", Strategy::OneForOne, 8, 10)
        .child(ChildSpec::supervisor(inner))
        .child(kids.worker("steady"))
        .start()
        .await
        .unwrap();

    fail.set(true);
    kids.send("looper", Msg::Die);
    kids.wait_for("fail looper#1").await;

    let steady = pid_in(&which(&parent).await, "steady").live();
    assert_eq!(
        which(&parent).await,
        [
            row("inner", Pid::Restarting, S),
            row("steady", Pid::Live(steady), W)
        ]
    );
    assert_eq!(counts(&parent).await, [2, 1, 1, 1]);
    assert_eq!(
        restart_child(&parent, "inner").await,
        Err(ControlError::Restarting("inner".into()))
    );

    assert_eq!(terminate_child(&parent, "inner").await, Ok(()));
    assert_eq!(pid_in(&which(&parent).await, "inner"), Pid::Undefined);
    let failed = kids.times("fail looper#1");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        kids.times("fail looper#1"),
        failed,
        "no retry after terminate"
    );

    fail.set(false);
    assert_eq!(restart_child(&parent, "inner").await, Ok(()));
    assert!(matches!(
        pid_in(&which(&parent).await, "inner"),
        Pid::Live(_)
    ));
    fail.set(true);
    kids.send("looper", Msg::Die);
    kids.wait_for_nth("fail looper#1", failed + 1).await;

    let report = shutdown(&parent).await;
    assert_eq!(report.exit.kind(), ExitKind::Shutdown);
    assert!(!parent.is_running());
    assert!(kids.logged("stop steady#1"));
}
