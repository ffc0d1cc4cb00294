//! Stopping children: one child by its shutdown spec, and all of them in
//! reverse start order.
//!
//! Stopping one child is a small protocol (OTP's `shutdown/2`, s6's
//! `up_d` → `uptimeout`):
//!
//! 1. `BrutalKill`: abort the task at once.
//!    `Timeout(d)` / `Infinity`: cancel the incarnation's token and wait for
//!    its exit, up to `d` (or forever), or until the tree is hurried.
//! 2. Past the deadline: abort the task.
//! 3. Wait for the exit the aborted task reports, and record it.
//!
//! An exit that arrives after the request is recorded as a shutdown-class
//! exit (its reason kept): the incarnation ended because it was asked to.
//! Aborting a task that never yields (a blocking loop) cannot complete; such a
//! child delays its supervisor's shutdown, as an unkillable process would.

use tend_spec::Shutdown;
use tokio::time::Instant;

use super::server::{Server, Waited};
use crate::child::lifecycle::LifeEvent;
use crate::{ChildStop, Exit, StopOutcome, StopReport};

impl Server {
    /// Stops the running incarnation of `seq` and records its end.
    pub(crate) async fn stop_child(&mut self, seq: u64) -> ChildStop {
        let started = Instant::now();
        let child = self.children.get_mut(seq).expect("stop of a known child");
        let id = child.id().clone();
        let Some(running) = child.running.as_ref() else {
            return ChildStop {
                id,
                outcome: StopOutcome::NotRunning,
                took: std::time::Duration::ZERO,
            };
        };
        let generation = child.generation;
        let deadline = match child.spec.shutdown {
            Shutdown::BrutalKill => {
                running.abort.abort();
                None
            }
            Shutdown::Timeout(timeout) => {
                running.ctx.cancel();
                Some(Some(started + timeout))
            }
            Shutdown::Infinity => {
                running.ctx.cancel();
                Some(None)
            }
        };
        child.apply(LifeEvent::Stop);

        let outcome = match deadline {
            None => {
                self.kill_and_reap(seq, generation).await;
                StopOutcome::Killed
            }
            Some(deadline) => match self.wait_for(seq, generation, false, deadline, true).await {
                Waited::Exited(exit) => {
                    self.record_exit(seq, exit.clone().into_shutdown(), Instant::now());
                    StopOutcome::Stopped(exit)
                }
                Waited::Ready | Waited::TimedOut => {
                    self.kill_and_reap(seq, generation).await;
                    StopOutcome::Killed
                }
            },
        };
        ChildStop {
            id,
            outcome,
            took: started.elapsed(),
        }
    }

    /// Stops every child in reverse start order, calls off pending restarts,
    /// and returns the report with `exit` as the supervisor's exit.
    pub(crate) async fn stop_all(&mut self, exit: Exit) -> StopReport {
        let mut report = Vec::with_capacity(self.children.len());
        for seq in self.children.all().into_iter().rev() {
            let Some(child) = self.children.get(seq) else {
                continue;
            };
            let (id, state) = (child.id().clone(), child.state());
            let line = if state.is_active() {
                self.stop_child(seq).await
            } else {
                if state.is_restarting() {
                    self.cancel_delay(seq);
                }
                ChildStop {
                    id,
                    outcome: StopOutcome::NotRunning,
                    took: std::time::Duration::ZERO,
                }
            };
            report.push(line);
        }
        self.timers.clear();
        StopReport {
            children: report,
            exit,
        }
    }
}
