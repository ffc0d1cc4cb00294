//! The children of OTP's `supervisor_SUITE`, for `otp_suite.rs`, and the
//! suite's way of looking at a supervisor.
//!
//! - [`Kids::worker`] is `supervisor_1:start_child/0`: a server that starts
//!   at once, stops when asked, and ends as the test tells it ([`Msg`]).
//! - [`Kids::fails_restarts`] is `supervisor_1:start_child(error)`: its first
//!   start succeeds, every later one fails (`function_clause` in `init`).
//! - [`Kids::deadlock`] is `supervisor_deadlock`: while its [`Flag`] is set,
//!   a start takes 2 s and then fails with `error`.
//! - [`Kids::gated`] is `supervisor_3`: each start tells the test and waits
//!   for its verdict ([`Gate`]).
//!
//! Every start is awaited (`await_ready`), as `start_link` is: a start that
//! fails is a start failure, not an exit after a start. Each incarnation
//! logs what happens to it as `"<what> <id>#<generation>"` (`start`, `stop`
//! when asked to stop, `die`, `done`, `quit`, `fail` for a failed start).
//!
//! [`which`] and [`counts`] are OTP's `which_children` (in start order, where
//! OTP lists the newest first) and `count_children` (`[specs, active,
//! supervisors, workers]`), each bounded by [`PATIENCE`] of paused time: a
//! supervisor that does not answer fails the test instead of hanging it,
//! and so are the calls below ([`start_child`], [`terminate_child`], …).

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tend_engine::{
    ChildInfo, ChildKind, ChildSpec, ChildState, Context, ControlError, Exit, IncarnationId,
    Shutdown, StopReport, SupervisorHandle,
};
use tokio::sync::{mpsc, oneshot, watch};

/// How long a supervisor has to answer a call (paused time): OTP's
/// timetrap is one minute for the whole suite.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Awaits `call`, failing the test if the supervisor has not answered
/// within [`PATIENCE`] of paused time.
pub async fn answered<T>(what: &str, call: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, call).await {
        Ok(answer) => answer,
        Err(_) => {
            panic!("{what}: no answer within {PATIENCE:?} (paused clock): the supervisor hangs")
        }
    }
}

pub async fn start_child(sup: &SupervisorHandle, spec: ChildSpec) -> Result<(), ControlError> {
    answered("start_child", sup.start_child(spec))
        .await
        .map(drop)
}

pub async fn terminate_child(sup: &SupervisorHandle, id: &str) -> Result<(), ControlError> {
    answered("terminate_child", sup.terminate_child(id)).await
}

pub async fn restart_child(sup: &SupervisorHandle, id: &str) -> Result<(), ControlError> {
    answered("restart_child", sup.restart_child(id))
        .await
        .map(drop)
}

pub async fn delete_child(sup: &SupervisorHandle, id: &str) -> Result<(), ControlError> {
    answered("delete_child", sup.delete_child(id)).await
}

/// `exit(Pid, kill)`.
pub async fn kill_child(sup: &SupervisorHandle, id: &str) -> Result<(), ControlError> {
    answered("kill_child", sup.kill_child(id)).await
}

/// `terminate(Sup, shutdown)`: the supervisor stops its children and ends.
pub async fn shutdown(sup: &SupervisorHandle) -> StopReport {
    answered("shutdown", sup.shutdown()).await
}

/// The current (or last) generation of a child.
pub async fn generation(sup: &SupervisorHandle, id: &str) -> u64 {
    answered("child_info", sup.child_info(id))
        .await
        .expect("the child exists")
        .generation
}

/// A child's pid as OTP's `which_children` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    /// A running incarnation (starting, running or stopping), by its
    /// tree-unique id: a new incarnation is a new pid.
    Live(IncarnationId),
    /// A restart is pending (OTP's `restarting`).
    Restarting,
    /// Nothing runs and nothing is due (OTP's `undefined`).
    Undefined,
}

impl Pid {
    /// The incarnation, for a live pid.
    #[track_caller]
    pub fn live(self) -> IncarnationId {
        match self {
            Pid::Live(id) => id,
            other => panic!("expected a live pid, got {other:?}"),
        }
    }
}

/// The OTP pid of a child.
#[track_caller]
pub fn pid_of(info: &ChildInfo) -> Pid {
    if info.state.is_active() {
        Pid::Live(
            info.incarnation
                .expect("an active child has an incarnation"),
        )
    } else if info.state.is_restarting() {
        Pid::Restarting
    } else if info.state.is_at_rest() || info.state == ChildState::Pending {
        // Pending: due to start, waiting for its turn (the sibling ahead of
        // it), as OTP's children after one whose restart keeps failing.
        Pid::Undefined
    } else {
        panic!("{}: state {} has no OTP counterpart", info.id, info.state)
    }
}

/// OTP's `which_children`: `(id, pid, type)` of each child, in start order.
pub async fn which(sup: &SupervisorHandle) -> Vec<(String, Pid, ChildKind)> {
    answered("which_children", sup.which_children_unmeasured())
        .await
        .iter()
        .map(|c| (c.id.to_string(), pid_of(c), c.kind))
        .collect()
}

/// The pid of one child in [`which`].
#[track_caller]
pub fn pid_in(which: &[(String, Pid, ChildKind)], id: &str) -> Pid {
    which
        .iter()
        .find(|(i, _, _)| i == id)
        .unwrap_or_else(|| panic!("{id} is not in {which:?}"))
        .1
}

/// A row of [`which`].
pub fn row(id: &str, pid: Pid, kind: ChildKind) -> (String, Pid, ChildKind) {
    (id.to_string(), pid, kind)
}

/// OTP's `get_child_counts`: `[specs, active, supervisors, workers]`.
pub async fn counts(sup: &SupervisorHandle) -> [usize; 4] {
    let c = answered("count_children", sup.count_children()).await;
    [c.specs, c.active, c.supervisors, c.workers]
}

/// What the test tells a running incarnation (OTP's messages and exit
/// signals to a `supervisor_1` child).
#[derive(Debug, Clone, Copy)]
pub enum Msg {
    /// `Pid ! die`: ends abnormally (`died`, or `error` for a deadlock child).
    Die,
    /// `Pid ! stop`: ends normally.
    Stop,
    /// `exit(Pid, shutdown)`: ends with `shutdown`.
    Shutdown,
    /// `exit(Pid, {shutdown, Term})`.
    ShutdownWith(&'static str),
    /// `Pid ! {sleep, 200000}`: stops listening, also to stop requests.
    Sleep,
}

/// The verdict on a gated start (`supervisor_3`'s `{Result, Caller}`).
#[derive(Debug)]
pub enum Gate {
    /// `{ok, undefined}`: started.
    Ok,
    /// `{stop, normal}`: the start fails, the incarnation ending normally.
    StopNormal,
}

/// A gated start waiting for its verdict.
#[derive(Debug)]
pub struct Knock {
    pub id: String,
    pub generation: u64,
    pub verdict: oneshot::Sender<Gate>,
}

/// `supervisor_deadlock`'s `fail_start` entry.
#[derive(Clone, Default)]
pub struct Flag(Arc<AtomicBool>);

impl Flag {
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::SeqCst);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
pub struct Kids {
    log: Arc<watch::Sender<Vec<String>>>,
    cursor: Arc<Mutex<usize>>,
    controls: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Msg>>>>,
}

impl Default for Kids {
    fn default() -> Self {
        Kids {
            log: Arc::new(watch::Sender::new(Vec::new())),
            cursor: Arc::default(),
            controls: Arc::default(),
        }
    }
}

/// How long any start may take (OTP's `start_link` waits forever).
const START_TIMEOUT: Duration = Duration::from_secs(3600);

/// `supervisor_deadlock`'s failing `init`: `timer:sleep(2000)`.
pub const DEADLOCK_START: Duration = Duration::from_secs(2);

impl Kids {
    pub fn new() -> Self {
        Kids::default()
    }

    pub fn push(&self, line: String) {
        self.log.send_modify(|log| log.push(line));
    }

    /// The lines logged since the last call.
    pub fn take(&self) -> Vec<String> {
        let mut cursor = self.cursor.lock().unwrap();
        let log = self.log.borrow();
        let new = log[*cursor..].to_vec();
        *cursor = log.len();
        new
    }

    /// Whether `line` was ever logged.
    pub fn logged(&self, line: &str) -> bool {
        self.log.borrow().iter().any(|l| l == line)
    }

    /// How many times `line` was logged.
    pub fn times(&self, line: &str) -> usize {
        self.log.borrow().iter().filter(|l| *l == line).count()
    }

    /// How many lines start with `prefix`.
    pub fn times_prefixed(&self, prefix: &str) -> usize {
        self.log
            .borrow()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }

    /// Waits until `done` holds for the log (within [`PATIENCE`] of paused
    /// time).
    pub async fn wait_until(&self, what: &str, done: impl FnMut(&Vec<String>) -> bool) {
        let mut log = self.log.subscribe();
        let seen = tokio::time::timeout(PATIENCE, log.wait_for(done));
        assert!(
            matches!(seen.await, Ok(Ok(_))),
            "{what}: not within {PATIENCE:?}; log: {:?}",
            self.log.borrow()
        );
    }

    /// Waits until `line` is logged (within [`PATIENCE`] of paused time).
    pub async fn wait_for(&self, line: &str) {
        self.wait_for_nth(line, 1).await;
    }

    /// Waits until `line` has been logged `n` times (within [`PATIENCE`]).
    pub async fn wait_for_nth(&self, line: &str, n: usize) {
        let mut log = self.log.subscribe();
        let seen = tokio::time::timeout(
            PATIENCE,
            log.wait_for(|l| l.iter().filter(|x| *x == line).count() >= n),
        );
        assert!(
            matches!(seen.await, Ok(Ok(_))),
            "{line:?} not logged {n} time(s) within {PATIENCE:?}; log: {:?}",
            self.log.borrow()
        );
    }

    /// Tells the running incarnation of `id` something.
    #[track_caller]
    pub fn send(&self, id: &str, msg: Msg) {
        let controls = self.controls.lock().unwrap();
        let tx = controls
            .get(id)
            .unwrap_or_else(|| panic!("{id} never started"));
        tx.send(msg)
            .unwrap_or_else(|_| panic!("{id} is not running (told {msg:?})"));
    }

    /// `supervisor_1:start_child/0` as `{Id, Start, permanent, 1000, worker, []}`.
    pub fn worker(&self, id: &str) -> ChildSpec {
        let kids = self.clone();
        let name = id.to_string();
        ChildSpec::task(id, move |ctx: Context| {
            let (kids, name) = (kids.clone(), name.clone());
            async move {
                ctx.ready();
                kids.serve(&name, &ctx, "died").await
            }
        })
        .await_ready(START_TIMEOUT)
        .shutdown(Shutdown::Timeout(Duration::from_millis(1000)))
    }

    /// `supervisor_1:start_child(error)`: the first start (by this spec, in
    /// this supervisor) succeeds, later ones fail with `function_clause`.
    pub fn fails_restarts(&self, id: &str) -> ChildSpec {
        let kids = self.clone();
        let name = id.to_string();
        let started_once = Arc::new(AtomicBool::new(false));
        ChildSpec::task(id, move |ctx: Context| {
            let (kids, name) = (kids.clone(), name.clone());
            let first = !started_once.swap(true, Ordering::SeqCst);
            async move {
                if !first {
                    kids.push(format!("fail {name}#{}", ctx.generation()));
                    return Exit::failed("function_clause");
                }
                ctx.ready();
                kids.serve(&name, &ctx, "died").await
            }
        })
        .await_ready(START_TIMEOUT)
        .shutdown(Shutdown::Timeout(Duration::from_millis(1000)))
    }

    /// `supervisor_deadlock:start_child/0` as `{Id, Start, permanent,
    /// brutal_kill, worker, []}`: while `fail` is set, a start takes 2 s and
    /// fails with `error`; [`Msg::Die`] is its `restart` cast (ends with
    /// `error`).
    pub fn deadlock(&self, id: &str, fail: &Flag) -> ChildSpec {
        let kids = self.clone();
        let name = id.to_string();
        let fail = fail.clone();
        ChildSpec::task(id, move |ctx: Context| {
            let (kids, name, fail) = (kids.clone(), name.clone(), fail.clone());
            async move {
                if fail.get() {
                    tokio::time::sleep(DEADLOCK_START).await;
                    kids.push(format!("fail {name}#{}", ctx.generation()));
                    return Exit::failed("error");
                }
                ctx.ready();
                kids.serve(&name, &ctx, "error").await
            }
        })
        .await_ready(START_TIMEOUT)
        .shutdown(Shutdown::BrutalKill)
    }

    /// `supervisor_3:start_child/2` as `{Id, Start, permanent, 1000, worker,
    /// []}`: each start knocks on `gate` and waits for the test's verdict.
    pub fn gated(&self, id: &str, gate: &mpsc::UnboundedSender<Knock>) -> ChildSpec {
        let kids = self.clone();
        let name = id.to_string();
        let gate = gate.clone();
        ChildSpec::task(id, move |ctx: Context| {
            let (kids, name, gate) = (kids.clone(), name.clone(), gate.clone());
            async move {
                let (verdict, answer) = oneshot::channel();
                let knock = Knock {
                    id: name.clone(),
                    generation: ctx.generation(),
                    verdict,
                };
                gate.send(knock).expect("the test listens");
                match answer.await.expect("the test answers") {
                    Gate::Ok => {
                        ctx.ready();
                        kids.serve(&name, &ctx, "died").await
                    }
                    Gate::StopNormal => {
                        kids.push(format!("fail {name}#{}", ctx.generation()));
                        Exit::normal()
                    }
                }
            }
        })
        .await_ready(START_TIMEOUT)
        .shutdown(Shutdown::Timeout(Duration::from_millis(1000)))
    }

    /// A started incarnation's life: registers its control, logs `start`,
    /// then ends as told or when asked to stop.
    async fn serve(&self, name: &str, ctx: &Context, dies_with: &'static str) -> Exit {
        let generation = ctx.generation();
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.controls.lock().unwrap().insert(name.to_string(), tx);
        self.push(format!("start {name}#{generation}"));
        let msg = tokio::select! {
            () = ctx.cancelled() => None,
            msg = rx.recv() => msg,
        };
        let (what, exit) = match msg {
            None => ("stop", Exit::shutdown("shutdown")),
            Some(Msg::Die) => ("die", Exit::failed(dies_with)),
            Some(Msg::Stop) => ("done", Exit::normal()),
            Some(Msg::Shutdown) => ("quit", Exit::shutdown("shutdown")),
            Some(Msg::ShutdownWith(term)) => ("quit", Exit::shutdown(term)),
            Some(Msg::Sleep) => {
                self.push(format!("sleep {name}#{generation}"));
                std::future::pending::<()>().await;
                unreachable!()
            }
        };
        self.push(format!("{what} {name}#{generation}"));
        exit
    }
}
