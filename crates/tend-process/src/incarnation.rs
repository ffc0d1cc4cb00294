//! One incarnation of a process child: spawn, capture, wait, stop.
//!
//! The future returned to the engine owns the process. It ends when the
//! process ends (its exit classified), or when the engine cancels it: then it
//! sends the stop signal to the process group, waits up to the stop timeout,
//! sends `SIGKILL`, and reaps. Either way, whatever the process left behind
//! in its group or cgroup is killed before the future returns, so a stop
//! never leaves a process behind and a restart never runs beside leftovers.
//! If the engine aborts the future instead (brutal kill, or a hurried
//! shutdown), its drop guard kills the group and cgroup at once and leaves a
//! small task to reap.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use rustix::process::Pid;
use tend_engine::{Context, Exit, ExitClass, ExitKind};
use tend_spec::{ProcessSpec, Runtime, Signal};

use crate::cgroup::{Cgroup, CgroupSlot};
use crate::container::{container_end, Container};
use crate::exit::{classify, Ended};
use crate::gate::{ReadyGate, ReadySignal};
use crate::group::{in_group, kill_group, signal_group};
use crate::handover::{self, Adopted, Parked};
use crate::held::{self, HeldProcess};
use crate::notify::{Notice, NotifySocket};
use crate::output::{pump, LogSink, Park, Pumped, ReadyLine};
use crate::prepare::prepare;
use crate::probe::until_ready;
use crate::reaper::{self, SpawnLock};
use crate::spawn::spawn;
use crate::usage;
use crate::wait::{reap_later, PidFd};

/// How long output pumps may keep draining after the process ended before
/// the incarnation returns without them (they then finish in the background).
const DRAIN: Duration = Duration::from_secs(2);

/// A process to watch: spawned now, or adopted from a previous image.
struct Launched {
    /// The process spawned (its process group's leader).
    pid: Pid,
    /// The process watched: the one spawned, or the main one it named.
    watched: PidFd,
    stdout: OwnedFd,
    stderr: OwnedFd,
    /// Partial lines a previous image read.
    rests: [Vec<u8>; 2],
    notify: Option<NotifySocket>,
    cgroup: Option<Arc<Cgroup>>,
    /// Whether it was ready under the previous image.
    was_ready: bool,
}

/// Runs one incarnation; the engine calls this through the child's factory.
pub(crate) async fn run(
    spec: Arc<ProcessSpec>,
    sink: LogSink,
    cgroups: Arc<CgroupSlot>,
    ready_pattern: Result<Option<Arc<Regex>>, Arc<str>>,
    container: Option<Arc<Container>>,
    ctx: Context,
) -> Exit {
    // Nothing new is spawned while this image hands its processes over; the
    // next image starts it. Ready, so that no start waits on it meanwhile,
    // and a stop is answered at once.
    let Some(live) = handover::Live::enter() else {
        ctx.ready();
        ctx.cancelled().await;
        return Exit::shutdown("not started: tend was handing over to its next version");
    };
    let start_failure = |reason: &dyn std::fmt::Display| Exit::new(ExitKind::StartFailure, reason);
    let ready_pattern = match ready_pattern {
        Ok(pattern) => pattern,
        Err(error) => return start_failure(&format_args!("ready.log: {error}")),
    };
    // In a block, as the resource limits below: a local's storage stays
    // in the future until its scope ends, moved out or not (issue 26).
    let Launched {
        pid,
        mut watched,
        stdout,
        stderr,
        rests: [stdout_rest, stderr_rest],
        notify,
        cgroup,
        was_ready,
    } = match match handover::claim(ctx.id().as_str()) {
        Some(adopted) => adopt(adopted, &cgroups),
        None => match container.as_deref() {
            None => launch(&spec, &cgroups, ctx.id().as_str()),
            // Boxed: the runtime's client spec (a second `ProcessSpec`)
            // and its commands are no part of every child's future.
            Some(container) => {
                Box::pin(launch_container(
                    container,
                    &spec,
                    &cgroups,
                    ctx.id().as_str(),
                ))
                .await
            }
        },
    } {
        Ok(launched) => launched,
        Err(reason) => return start_failure(&reason),
    };
    let mut guard = Leftovers {
        pid,
        cgroup,
        container: container.clone(),
        armed: true,
    };
    publish(&ctx, watched.pid().unsigned_abs());
    // `tend signal` and the like reach the process through here: its pidfd,
    // never a pid read elsewhere. Taken before it may be ready (below), so
    // that a signal sent as soon as it started finds it.
    let mut signals = ctx.signals();
    let probe_cgroup = guard.cgroup.clone();
    let raw_pid = pid.as_raw_nonzero().get();
    // A second holder (tend's keeper) keeps the process's descriptors, so
    // the process outlives this supervisor if it dies.
    let mut held_round = held::round();
    hold(
        &ctx,
        raw_pid,
        &watched,
        || [stdout.try_clone().ok(), stderr.try_clone().ok()],
        notify.as_ref(),
        guard.cgroup.as_deref(),
        was_ready,
        &spec,
    );
    ctx.set_usage_probe(move || usage::sample(probe_cgroup.as_deref(), raw_pid));
    // Futures only some children need are boxed when needed, so an idle
    // child without them carries none of their state (issue 26).
    let mut watch = {
        let limits = spec.limits;
        (limits.memory.is_some() || limits.cpu.is_some() || limits.pids.is_some()).then(|| {
            Box::pin(usage::watch(
                limits,
                guard.cgroup.clone(),
                raw_pid,
                ctx.clone(),
            ))
        })
    };
    // Ready once it runs, unless its own signals say when (its probes are
    // the engine's, which then needs both).
    let gate = ReadyGate::new(&spec.ready, ctx.clone());
    let ready_line = ready_pattern.map(|pattern| ReadyLine {
        pattern,
        gate: gate.clone(),
    });
    let park = Arc::new(Park::default());
    park.reads([&stdout, &stderr]);
    // One task reads both streams (issue 26: one task a child, not two).
    let mut pumping = Some(tokio::spawn(pump(
        [(stdout, stdout_rest), (stderr, stderr_rest)],
        sink,
        ready_line,
        Arc::clone(&park),
    )));
    if was_ready {
        ctx.ready();
    }
    let polled = until_ready(&spec, container.as_deref(), &gate);
    tokio::pin!(polled);
    // A container's main process, once it runs, is the pid shown and
    // signalled, and the one measured.
    let mut inside = container.as_deref().map(|container| {
        Box::pin(async {
            if let Some(main) = container.main_pid().await {
                publish(&ctx, main.unsigned_abs());
                ctx.set_usage_probe(move || usage::sample(None, main));
            }
            std::future::pending::<std::convert::Infallible>().await
        })
    });
    // Part of this future (not a task of its own), so it ends with the
    // incarnation however that ends.
    let listener_cgroup = guard.cgroup.clone();
    // An adopted main process named by `MAINPID=` stays the one watched.
    let announced = AtomicI32::new(if watched.pid() == raw_pid {
        0
    } else {
        watched.pid()
    });
    let mut listening = notify.as_ref().map(|socket| {
        Box::pin(listen(
            socket,
            &ctx,
            &gate,
            pid,
            listener_cgroup,
            &announced,
        ))
    });

    // Wait for the end (or stop it), but do not reap yet: while the zombie
    // holds the pid, the group id cannot be reused, so killing what is left
    // of the group hits only what this process left behind. The process
    // watched is the one spawned, or the main process it named
    // (`MAINPID=`) once it ended: a daemon that forked hands over.
    let mut exceeded = None;
    let mut hung = false;
    let stopped = loop {
        let outcome = tokio::select! {
            Some(request) = signals.recv() => Outcome::Signal(request),
            // Polled, not a readiness future: a smaller idle child.
            ended = std::future::poll_fn(|cx| watched.poll_exited(cx)) => match ended {
                Ok(()) => Outcome::Ended,
                Err(error) => break Err(error),
            },
            () = ctx.cancelled() => Outcome::Stop,
            over = boxed(&mut watch) => {
                // A limit no cgroup enforces: stop it as the kernel would not.
                exceeded = Some(over);
                Outcome::Stop
            }
            () = boxed(&mut listening) => {
                // WATCHDOG=trigger: hung, by its own account.
                hung = true;
                Outcome::Stop
            }
            never = &mut polled => match never {},
            never = boxed(&mut inside) => match never {},
            asked = handover::asked(held_round) => match asked {
                handover::Asked::Park => Outcome::Park,
                handover::Asked::HoldAgain(round) => Outcome::HoldAgain(round),
            },
        };
        match outcome {
            Outcome::Signal(request) => match container.clone() {
                None => {
                    let sent = watched.signal(request.signal.number());
                    let _ = request.sent.send(sent.map_err(|e| e.to_string()));
                }
                // Through the runtime, off this loop: it takes a moment.
                Some(container) => {
                    tokio::spawn(async move {
                        let _ = request.sent.send(container.signal(request.signal).await);
                    });
                }
            },
            Outcome::Ended => match hand_over(&announced, &watched) {
                Some(main) => {
                    // The first process ended: reap it, watch the main one.
                    let _ = watched.try_reap();
                    reaper::reaped(watched.pid());
                    publish(&ctx, main.pid().unsigned_abs());
                    watched = main;
                    if let (Some(holder), Ok(pidfd)) = (held::holder(), watched.duplicate()) {
                        holder.main_changed(raw_pid, watched.pid(), pidfd);
                    }
                }
                None => break Ok(None),
            },
            Outcome::Stop => match container.as_deref() {
                None => break stop(&spec, pid, &watched).await.map(Some),
                // Boxed, as the container's other calls: a runtime's
                // command is kilobytes of future, which no other child
                // should carry.
                Some(container) => {
                    break Box::pin(stop_container(container, &spec, pid, &watched))
                        .await
                        .map(Some)
                }
            },
            Outcome::HoldAgain(round) => {
                held_round = round;
                hold(
                    &ctx,
                    raw_pid,
                    &watched,
                    || park.lend(),
                    notify.as_ref(),
                    guard.cgroup.as_deref(),
                    was_ready,
                    &spec,
                );
            }
            Outcome::Park => {
                park.ask();
                // Taken: awaited once, here or at the end.
                let pipes = match pumping.take() {
                    Some(pumping) => match pumping.await {
                        Ok(Pumped::Parked { pipes }) => pipes,
                        _ => [None, None],
                    },
                    None => [None, None],
                };
                let [stdout, stderr] = pipes;
                // Not held across the stop below: a `Parked` (184 bytes)
                // would be in every child's future (issue 26).
                if let Ok(parked) = watched
                    .duplicate()
                    .map(|pidfd| Parked {
                        id: ctx.id().to_string(),
                        group: raw_pid,
                        main: watched.pid(),
                        pidfd,
                        stdout,
                        stderr,
                        notify: notify
                            .as_ref()
                            .and_then(|s| Some((s.duplicate().ok()?, s.address().to_owned()))),
                        cgroup: guard
                            .cgroup
                            .as_ref()
                            .map(|c| (c.path().to_path_buf(), c.v1_dirs())),
                        ready: ctx.is_ready(),
                    })
                    .inspect_err(|error| {
                        tracing::error!(id = %ctx.id(), %error, "cannot hand the process over; stopping it");
                    })
                {
                    // The process is the next image's now: nothing here
                    // kills it, whatever happens to this future.
                    guard.armed = false;
                    live.park(parked);
                    // Asked to stop meanwhile (its supervisor's strategy):
                    // answered at once; the next image takes the process if
                    // the child runs there, and stops it if it rests.
                    ctx.cancelled().await;
                    return Exit::shutdown("stopped while handed over to the next tend");
                }
                break stop(&spec, pid, &watched).await.map(Some);
            }
        }
    };
    guard.armed = false;
    // Its end no longer waits on a slow reader of tend's standard output.
    park.end();
    kill_group(pid);
    if let Some(cgroup) = guard.cgroup.take() {
        cgroup.kill_all();
    }
    // The end, boxed: what it holds (the wait, the exit, the drain) is no
    // part of a running child's future (issue 26).
    let exit = Box::pin(finish(
        stopped,
        watched,
        &spec,
        container.as_deref(),
        exceeded,
        hung,
        pumping,
    ))
    .await;
    if let Some(holder) = held::holder() {
        holder.release(raw_pid);
    }
    drop(live);
    exit
}

/// Gives the holder, if there is one, duplicates of the process's
/// descriptors (`pipes` makes those of its pipes). A process
/// whose descriptors cannot be duplicated runs on without a second holder
/// (said once here).
#[allow(clippy::too_many_arguments)]
fn hold(
    ctx: &Context,
    group: i32,
    watched: &PidFd,
    pipes: impl FnOnce() -> [Option<OwnedFd>; 2],
    notify: Option<&NotifySocket>,
    cgroup: Option<&Cgroup>,
    was_ready: bool,
    spec: &ProcessSpec,
) {
    let Some(holder) = held::holder() else {
        return;
    };
    let [stdout, stderr] = pipes();
    let held = (|| -> std::io::Result<HeldProcess> {
        Ok(HeldProcess {
            id: ctx.id().to_string(),
            group,
            main: watched.pid(),
            pidfd: watched.duplicate()?,
            stdout,
            stderr,
            notify: notify
                .map(|s| Ok::<_, std::io::Error>((s.duplicate()?, s.address().to_owned())))
                .transpose()?,
            cgroup: cgroup.map(|c| (c.path().to_path_buf(), c.v1_dirs())),
            ready: was_ready || ctx.is_ready(),
            fostered: reaper::is_fostered(watched.pid()),
        })
    })();
    match held {
        Ok(held) => holder.hold(held, spec),
        Err(error) => {
            tracing::warn!(id = %ctx.id(), %error, "cannot give the process's descriptors to the keeper");
        }
    }
}

/// Reaps the ended (or stopped) process, tells its exit, removes its
/// container as its end asks, and lets the pipes drain.
async fn finish(
    stopped: std::io::Result<Option<bool>>,
    watched: PidFd,
    spec: &ProcessSpec,
    container: Option<&Container>,
    exceeded: Option<usage::Exceeded>,
    hung: bool,
    pumping: Option<tokio::task::JoinHandle<Pumped>>,
) -> Exit {
    let asked_to_stop = matches!(stopped, Ok(Some(_)));
    let ended = match stopped {
        Ok(stopped) => watched.wait().await.map(|ended| (ended, stopped)),
        Err(error) => Err(error),
    };
    reaper::reaped(watched.pid());
    // Ended while no supervisor ran (its end recorded by tend's keeper).
    let late = reaper::ended_at(watched.pid())
        .and_then(|at| std::time::SystemTime::now().duration_since(at).ok());
    let runtime = container.as_ref().map(|c| c.runtime);
    // A client that a signal ended by itself (the runtime maps the
    // container's signals to codes) may have left its container running.
    let client_signalled = matches!(ended, Ok((Ended::Signal(_), None)));
    let ended = ended.map(|(ended, stopped)| match runtime {
        Some(_) => {
            // The runtime's `stop -t` escalated to SIGKILL inside.
            let ended = container_end(ended);
            let killed = stopped == Some(false)
                && ended == Ended::Signal(Signal::Kill)
                && spec.stop.signal != Signal::Kill;
            (ended, if killed { Some(true) } else { stopped })
        }
        None => (ended, stopped),
    });
    let exit = match (exceeded, ended) {
        (Some(over), _) => Exit::new(
            ExitKind::ResourceExceeded(over.resource),
            format_args!("{} of {}", over.used, over.limit),
        ),
        (None, _) if hung => Exit::new(ExitKind::Watchdog, "it said so (WATCHDOG=trigger)"),
        (None, Ok((_, Some(true)))) => Exit::new(
            ExitKind::Killed,
            format_args!(
                "no exit within {:?} of {}",
                spec.stop.timeout, spec.stop.signal
            ),
        )
        .with_signal(Signal::Kill),
        (None, Ok((Ended::Code(code @ 125..=127), _))) if runtime.is_some() => Exit::new(
            ExitKind::StartFailure,
            format_args!(
                "{} could not run the container (code {code}); its error is in the service's log",
                runtime.map_or("", Runtime::program)
            ),
        )
        .with_code(code),
        (None, Ok((ended, _))) => classify(ended, &spec.success_codes),
        (None, Err(error)) => Exit::failed(format_args!("waiting for the process failed: {error}")),
    };
    let exit = match late {
        Some(late) => exit.seen_late(late),
        None => exit,
    };
    // Removed (unless an isolation keeps it): a container tend stopped, one
    // that completed, one its killed client may have left running. Kept,
    // exited, to inspect until the next start: one that failed.
    if let Some(container) = container {
        if asked_to_stop || client_signalled || exit.class() == ExitClass::Normal {
            Box::pin(container.remove_unless_kept()).await;
        }
    }
    // Let the pipes drain to end of stream.
    if let Some(pumping) = pumping {
        let _ = tokio::time::timeout(DRAIN, pumping).await;
    }
    exit
}

/// Prepares and spawns the process, in its cgroup, with a notify socket if
/// it speaks sd_notify.
fn launch(spec: &ProcessSpec, cgroups: &CgroupSlot, id: &str) -> Result<Launched, String> {
    // A notify socket, when the service speaks sd_notify, named in its
    // environment.
    let notify = if spec.ready.notify || spec.watchdog.is_some() {
        Some(NotifySocket::bind_new().map_err(|e| format!("notify socket: {e}"))?)
    } else {
        None
    };
    let with_notify;
    let launched: &ProcessSpec = match &notify {
        Some(socket) => {
            with_notify = notify_env(spec, socket.address());
            &with_notify
        }
        None => spec,
    };
    // The environment is built here, `NOTIFY_SOCKET` in it.
    let prepared = prepare(launched).map_err(|e| e.to_string())?;
    let cgroup = cgroups.get(id, &spec.limits)?;
    let lock = SpawnLock::acquire();
    let spawned = spawn(launched, &prepared, cgroup.as_deref()).map_err(|e| e.to_string())?;
    let pid = spawned.pid;
    lock.track(pid.as_raw_nonzero().get());
    let watched = PidFd::new(spawned.pidfd, pid.as_raw_nonzero().get()).map_err(|error| {
        kill_group(pid);
        format!("cannot watch process {}: {error}", pid.as_raw_nonzero())
    })?;
    Ok(Launched {
        pid,
        watched,
        stdout: spawned.stdout,
        stderr: spawned.stderr,
        rests: [Vec::new(), Vec::new()],
        notify,
        cgroup,
        was_ready: false,
    })
}

/// Launches a container's client, once a stale container of the same
/// name is gone.
async fn launch_container(
    container: &Container,
    spec: &ProcessSpec,
    cgroups: &CgroupSlot,
    id: &str,
) -> Result<Launched, String> {
    let client = container.client(spec)?;
    container.clear().await;
    launch(&client, cgroups, id)
}

/// Takes over a process a previous program image handed over (already
/// tracked for the reaper by the adoption).
fn adopt(adopted: Adopted, cgroups: &CgroupSlot) -> Result<Launched, String> {
    let pid = Pid::from_raw(adopted.group).ok_or("a handed-over process without a pid")?;
    let watched = PidFd::new(adopted.pidfd, adopted.main)
        .map_err(|e| format!("cannot watch handed-over process {}: {e}", adopted.main))?;
    let cgroup = adopted.cgroup.and_then(|(dir, v1)| match Cgroup::adopt(dir.clone(), v1) {
        Ok(cgroup) => Some(Arc::new(cgroup)),
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "cannot take the handed-over cgroup; using the process group only");
            None
        }
    });
    if let Some(cgroup) = &cgroup {
        cgroups.put(cgroup.clone());
    }
    let notify = adopted
        .notify
        .map(|(fd, address)| NotifySocket::from_fd(fd, address))
        .transpose()
        .map_err(|e| format!("notify socket: {e}"))?;
    // A stream the process had closed before the handover: an empty pipe
    // at end of stream stands in for it.
    let pipe = |stream: Option<(OwnedFd, Vec<u8>)>| -> Result<(OwnedFd, Vec<u8>), String> {
        match stream {
            Some(stream) => Ok(stream),
            None => {
                let (reader, _writer) = rustix::pipe::pipe_with(
                    rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
                )
                .map_err(|e| e.to_string())?;
                Ok((reader, Vec::new()))
            }
        }
    };
    let (stdout, stdout_rest) = pipe(adopted.stdout)?;
    let (stderr, stderr_rest) = pipe(adopted.stderr)?;
    Ok(Launched {
        pid,
        watched,
        stdout,
        stderr,
        rests: [stdout_rest, stderr_rest],
        notify,
        cgroup,
        was_ready: adopted.ready,
    })
}

/// The boxed future, if there is one; else never ready.
async fn boxed<F: std::future::Future>(future: &mut Option<std::pin::Pin<Box<F>>>) -> F::Output {
    match future {
        Some(future) => future.as_mut().await,
        None => std::future::pending().await,
    }
}

/// What ended a turn of the wait.
enum Outcome {
    /// A signal to send to it.
    Signal(tend_engine::SignalRequest),
    /// The watched process ended.
    Ended,
    /// It is to be stopped.
    Stop,
    /// Its process is to be handed to the next program image.
    Park,
    /// The holder is to get the process again (this round of it).
    HoldAgain(u64),
}

/// The main process named by `MAINPID=`, if one was and it is not the one
/// that just ended: watched from now on.
fn hand_over(announced: &AtomicI32, ended: &PidFd) -> Option<PidFd> {
    let main = announced.load(Ordering::Acquire);
    if main == 0 || main == ended.pid() {
        return None;
    }
    let fd =
        rustix::process::pidfd_open(Pid::from_raw(main)?, rustix::process::PidfdFlags::empty())
            .ok()?;
    PidFd::new(fd, main).ok()
}

/// The spec with `NOTIFY_SOCKET` (and `WATCHDOG_USEC`) in its environment.
fn notify_env(spec: &ProcessSpec, address: &str) -> ProcessSpec {
    let mut spec = spec.clone();
    spec.env.set.insert("NOTIFY_SOCKET".into(), address.into());
    if let Some(watchdog) = spec.watchdog {
        let micros = watchdog.as_micros().to_string();
        spec.env.set.insert("WATCHDOG_USEC".into(), micros);
    }
    spec
}

/// Applies what the service says on its notify socket to its incarnation;
/// returns on `WATCHDOG=trigger` (never, if the socket fails). Only the
/// service's processes are heard: its main process, its process group and
/// its cgroup.
async fn listen(
    socket: &NotifySocket,
    ctx: &Context,
    gate: &ReadyGate,
    main: Pid,
    cgroup: Option<Arc<Cgroup>>,
    announced: &AtomicI32,
) {
    let main_raw = main.as_raw_nonzero().get().unsigned_abs();
    let ours = |pid: u32| {
        pid == main_raw
            || in_group(pid, main)
            || cgroup
                .as_ref()
                .is_some_and(|c| c.pids().iter().any(|&p| p.unsigned_abs() == pid))
    };
    while let Ok(notices) = socket.recv(ours).await {
        for notice in notices {
            match notice {
                Notice::Ready => gate.met(ReadySignal::Notify),
                Notice::Status(text) => ctx.set_status(&text),
                Notice::Errno(errno) => ctx.set_status(&format!(
                    "error {errno}: {}",
                    std::io::Error::from_raw_os_error(errno)
                )),
                Notice::Watchdog => ctx.heartbeat(),
                Notice::WatchdogTrigger => return,
                Notice::ExtendTimeout(by) => ctx.extend_start_timeout(by),
                // Not ready until it says `READY=1` again (systemd's
                // reload protocol); stopping, for good.
                Notice::Reloading => {
                    ctx.set_status("reloading");
                    ctx.not_ready("reloading (RELOADING=1)");
                }
                Notice::Stopping => {
                    ctx.set_status("stopping");
                    ctx.not_ready("stopping (STOPPING=1)");
                }
                // Only one of the service's own processes can be named (as
                // systemd requires it be in the unit's cgroup); it is tracked
                // so the orphan reaper leaves it to this incarnation.
                Notice::MainPid(pid) if ours(pid) => {
                    if let Ok(raw) = i32::try_from(pid) {
                        SpawnLock::acquire().track(raw);
                        announced.store(raw, Ordering::Release);
                        publish(ctx, pid);
                    }
                }
                Notice::MainPid(pid) => {
                    tracing::warn!(id = %ctx.id(), pid, "MAINPID= names a process outside the service: ignored");
                }
            }
        }
    }
    std::future::pending().await
}

/// The stop protocol: the stop signal to the group (and to the watched
/// process, if it left the group), the timeout, `SIGKILL`.
/// Returns once the process has ended (unreaped), telling whether it had to
/// be killed.
async fn stop(spec: &ProcessSpec, pid: Pid, pidfd: &PidFd) -> std::io::Result<bool> {
    signal_group(pid, spec.stop.signal.number());
    // A main process handed over to (`MAINPID=`) that left the group.
    if !in_group(pidfd.pid().unsigned_abs(), pid) {
        let _ = pidfd.signal(spec.stop.signal.number());
    }
    match tokio::time::timeout(spec.stop.timeout, pidfd.exited()).await {
        Ok(ended) => ended.map(|()| false),
        Err(_) => {
            kill_group(pid);
            let _ = pidfd.signal(rustix::process::Signal::KILL.as_raw());
            pidfd.exited().await.map(|()| true)
        }
    }
}

/// A container's stop, by the runtime: the stop signal inside, the
/// timeout, `SIGKILL` (`stop -t`), while the client's exit is awaited; if
/// the runtime does not answer in time, the client is killed (the
/// container is removed with every stopped one). Returns once the client
/// has ended (unreaped), telling whether it was killed here.
async fn stop_container(
    container: &Container,
    spec: &ProcessSpec,
    pid: Pid,
    pidfd: &PidFd,
) -> std::io::Result<bool> {
    let answered = tokio::time::timeout(spec.stop.timeout + CONTAINER_STOP_MARGIN, async {
        let (asked, ended) = tokio::join!(container.stop(spec.stop.timeout), pidfd.exited());
        if let Err(error) = asked {
            tracing::warn!(container = %container.name, %error, "the runtime could not stop the container");
        }
        ended
    })
    .await;
    match answered {
        // Whether the runtime had to kill it shows in the exit code.
        Ok(ended) => ended.map(|()| false),
        Err(_) => {
            kill_group(pid);
            let _ = pidfd.signal(rustix::process::Signal::KILL.as_raw());
            pidfd.exited().await.map(|()| true)
        }
    }
}

/// How long past its stop timeout a container's runtime may take to stop
/// it before its client is killed and the container removed.
const CONTAINER_STOP_MARGIN: Duration = Duration::from_secs(10);

/// Kills everything left if the incarnation's future is dropped early.
struct Leftovers {
    pid: Pid,
    cgroup: Option<Arc<Cgroup>>,
    container: Option<Arc<Container>>,
    armed: bool,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        kill_group(self.pid);
        let _ = rustix::process::kill_process(self.pid, rustix::process::Signal::KILL);
        if let Some(holder) = held::holder() {
            holder.release(self.pid.as_raw_nonzero().get());
        }
        if let Some(cgroup) = self.cgroup.take() {
            cgroup.kill_all();
        }
        if let Some(container) = self.container.take() {
            container.remove_detached();
        }
        // Reap off the dropped future, if a runtime is here (the orphan
        // reaper, when enabled, covers the rest).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(reap_later(self.pid));
        }
    }
}

/// Publishes `pid` as the incarnation's process, with its start time, read
/// while it is still ours (not yet reaped, so the pid is not yet reused):
/// the journal records both, and recovery believes only that pair.
fn publish(ctx: &Context, pid: u32) {
    ctx.set_process(pid, crate::identity::start_ticks(pid));
}

#[cfg(test)]
mod tests {
    //! What an idle child costs in futures: a thousand idle services hold a
    //! thousand incarnation futures and a thousand pumps, each a tokio
    //! task allocation of its future's size (issue 26).
    #![allow(unreachable_code, unused_variables, clippy::diverging_sub_expression)]

    use std::mem::size_of;

    /// The size of what `f` returns, without calling it.
    fn returned<R>(_: &impl FnOnce() -> R) -> usize {
        size_of::<R>()
    }

    #[test]
    fn futures_of_an_idle_child_stay_small() {
        let sizes = [
            (
                "incarnation::run",
                returned(&|| super::run(todo!(), todo!(), todo!(), todo!(), todo!(), todo!())),
            ),
            (
                "output::pump",
                returned(&|| crate::output::pump(todo!(), todo!(), todo!(), todo!())),
            ),
            (
                "incarnation::listen",
                returned(&|| super::listen(todo!(), todo!(), todo!(), todo!(), todo!(), todo!())),
            ),
            (
                "incarnation::stop",
                returned(&|| super::stop(todo!(), todo!(), todo!())),
            ),
            (
                "incarnation::stop_container",
                returned(&|| super::stop_container(todo!(), todo!(), todo!(), todo!())),
            ),
            (
                "probe::until_ready",
                returned(&|| crate::probe::until_ready(todo!(), todo!(), todo!())),
            ),
            (
                "usage::watch",
                returned(&|| crate::usage::watch(todo!(), todo!(), todo!(), todo!())),
            ),
            (
                "handover::asked",
                returned(&|| crate::handover::asked(todo!())),
            ),
            (
                "incarnation::finish",
                returned(&|| {
                    super::finish(
                        todo!(),
                        todo!(),
                        todo!(),
                        todo!(),
                        todo!(),
                        todo!(),
                        todo!(),
                    )
                }),
            ),
            (
                "PidFd::exited",
                returned(&|| crate::wait::PidFd::exited(todo!())),
            ),
            (
                "PidFd::wait",
                returned(&|| crate::wait::PidFd::wait(todo!())),
            ),
            (
                "Container::main_pid",
                returned(&|| crate::container::Container::main_pid(todo!())),
            ),
            (
                "Container::clear",
                returned(&|| crate::container::Container::clear(todo!())),
            ),
            (
                "Container::remove_unless_kept",
                returned(&|| crate::container::Container::remove_unless_kept(todo!())),
            ),
        ];
        for (name, size) in sizes {
            println!("{name:32} {size:>7} bytes");
        }
        // The incarnation was 16.8 KB here (33 KB a task, issue 26): a
        // polled readiness check, a container's commands and its stop were
        // carried by every child. They are boxed when used; what stays is
        // what an idle child waits on. (Sizes of an unoptimised build.)
        // Then 4.5 KB: a resource watch, a notify listener and a
        // container's main-pid lookup are now boxed too, only for the
        // children that have them (3.6 KB), and so is a container's launch,
        // whose client spec (1.2 KB, twice) every child carried (1.7 KB).
        // Then 1,088: the exit of the pidfd is polled (no readiness future),
        // a handover is awaited through a `Notify` (a watch was 168
        // bytes), locals that were moved out no longer keep their storage
        // (the launch's result, 152 bytes), and the end (wait, exit, drain)
        // is boxed. In release: 1,632 to 1,064 (`-Zprint-type-sizes`).
        // Then 904 (880 in release): a handover's `Parked` is no longer
        // held across the stop that follows a failed one.
        let run = sizes[0].1;
        assert!(run <= 960, "incarnation::run is {run} bytes");
        // The pump was 608 bytes: its retry timer is boxed now, made only
        // while its sink fails (512). Two of them ran a child, one a
        // stream; one serves both now, polling the pipes' readiness (no
        // readiness futures), its waits for the disk boxed (336).
        let pump = sizes[1].1;
        assert!(pump <= 400, "output::pump is {pump} bytes");
        let polled = sizes[5].1;
        assert!(polled <= 256, "probe::until_ready is {polled} bytes");
    }
}
