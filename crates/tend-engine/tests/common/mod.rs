//! A small lab for engine tests: children whose every incarnation logs what
//! happens to it and can be told, from the test, how to end.
//!
//! Tests run under tokio's paused clock. [`idle`] returns once every task is
//! idle (the paused clock only advances when nothing can run), so it is a
//! deterministic "let the tree settle", not a timing guess.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tend_engine::{ChildSpec, Context, Event, EventKind, Exit, SupervisorHandle};
use tokio::sync::{broadcast, mpsc};

/// How the test tells an incarnation to end.
#[derive(Debug)]
pub enum End {
    Crash(&'static str),
    Normal,
    Shutdown(&'static str),
    Panic,
}

#[derive(Clone, Default)]
pub struct Lab {
    log: Arc<Mutex<Vec<String>>>,
    controls: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<End>>>>,
}

/// How an incarnation reacts to being asked to stop.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OnCancel {
    /// Returns at once.
    Obey,
    /// Ignores the request (must be killed).
    Ignore,
    /// Takes this long to stop.
    Linger(Duration),
}

impl Lab {
    pub fn new() -> Self {
        Lab::default()
    }

    /// A permanent worker that obeys cancellation.
    pub fn child(&self, id: &str) -> ChildSpec {
        self.child_with(id, OnCancel::Obey)
    }

    pub fn child_with(&self, id: &str, on_cancel: OnCancel) -> ChildSpec {
        let lab = self.clone();
        let name = id.to_string();
        ChildSpec::task(id, move |ctx: Context| {
            let lab = lab.clone();
            let name = name.clone();
            async move { lab.incarnation(&name, ctx, on_cancel).await }
        })
    }

    async fn incarnation(&self, name: &str, ctx: Context, on_cancel: OnCancel) -> Exit {
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.controls.lock().unwrap().insert(name.to_string(), tx);
        self.push(format!("start {name}"));
        let end = tokio::select! {
            _ = ctx.cancelled(), if on_cancel != OnCancel::Ignore => None,
            end = rx.recv() => end,
        };
        match end {
            None => {
                if let OnCancel::Linger(d) = on_cancel {
                    tokio::time::sleep(d).await;
                }
                self.push(format!("stop {name}"));
                Exit::shutdown("asked")
            }
            Some(End::Crash(reason)) => {
                self.push(format!("crash {name}"));
                Exit::failed(reason)
            }
            Some(End::Normal) => {
                self.push(format!("done {name}"));
                Exit::normal()
            }
            Some(End::Shutdown(reason)) => {
                self.push(format!("quit {name}"));
                Exit::shutdown(reason)
            }
            Some(End::Panic) => {
                self.push(format!("panic {name}"));
                panic!("boom in {name}");
            }
        }
    }

    pub fn push(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }

    /// Tells the running incarnation of `id` how to end.
    pub fn end(&self, id: &str, end: End) {
        let controls = self.controls.lock().unwrap();
        let tx = controls
            .get(id)
            .unwrap_or_else(|| panic!("{id} never started"));
        tx.send(end)
            .unwrap_or_else(|_| panic!("{id} is not running"));
    }

    /// Tells the running incarnation of `id` how to end, if one runs and
    /// listens; whether it was told.
    pub fn try_end(&self, id: &str, end: End) -> bool {
        let controls = self.controls.lock().unwrap();
        controls.get(id).is_some_and(|tx| tx.send(end).is_ok())
    }

    pub fn crash(&self, id: &str) {
        self.end(id, End::Crash("crashed on purpose"));
    }

    /// The log so far, and clears it.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

/// A child that runs once (ready at once), crashes after a second, then
/// fails every start after that.
pub fn runs_once_then_cannot_start(id: &str) -> ChildSpec {
    ChildSpec::task(id, |ctx: Context| async move {
        if ctx.generation() == 1 {
            ctx.ready();
            tokio::time::sleep(Duration::from_secs(1)).await;
            return Err::<(), _>("crash");
        }
        Err("cannot start")
    })
    .await_ready(Duration::from_secs(1))
}

/// Lets every task run until all are idle (see the module doc); the paused
/// clock then moves on by one timer tick (1 ms).
pub async fn idle() {
    tokio::time::sleep(Duration::from_micros(1)).await;
}

/// Waits for the first event matching `pred`, skipping others.
pub async fn next_event(
    events: &mut broadcast::Receiver<Event>,
    mut pred: impl FnMut(&EventKind) -> bool,
) -> Event {
    tokio::time::timeout(Duration::from_secs(3600), async {
        loop {
            let event = events.recv().await.expect("event stream open");
            if pred(&event.kind) {
                return event;
            }
        }
    })
    .await
    .expect("event within an hour of paused time")
}

/// `(id, state)` of each child, in start order.
pub async fn states(sup: &SupervisorHandle) -> Vec<(String, tend_engine::ChildState)> {
    sup.which_children()
        .await
        .into_iter()
        .map(|c| (c.id.to_string(), c.state))
        .collect()
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The supervisor's exit; fails the test instead of hanging if it does not
/// end within an hour of paused time.
pub async fn ended(sup: &SupervisorHandle) -> Exit {
    tokio::time::timeout(Duration::from_secs(3600), sup.wait())
        .await
        .expect("supervisor ends within an hour of paused time")
}
