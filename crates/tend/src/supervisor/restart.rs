//! What follows an incarnation's own exit: the restart type, then, for a
//! restart, the child's own budget, its backoff, the supervisor's intensity
//! and the strategy.
//!
//! The strategy runs in two phases, as OTP's `restart/3`: *stop* the siblings
//! it concerns (reverse start order; temporary ones are dropped), then *start*
//! every child of the group that is due, in start order. With a delay the
//! start phase waits on a timer; without one it runs at once. A start that
//! fails leaves that child `Restarting` and queues a retry through the inbox
//! (OTP's `try_again_restart`), so commands are served between tries; each
//! retry is a restart again and counts toward intensity.

use std::time::Duration;

use tend_spec::{AutoShutdown, OnExhausted, Strategy};
use tokio::time::Instant;

use super::server::Server;
use crate::child::lifecycle::LifeEvent;
use crate::event::EventKind;
use crate::exit::{Exit, ExitKind, GiveUp};
use crate::state::ChildState;
use crate::tree::Message;

impl Server {
    /// An incarnation ended on its own: record it and apply the restart type.
    pub(crate) async fn on_exit(&mut self, seq: u64, generation: u64, exit: Exit) -> Option<Exit> {
        let current = self
            .children
            .table
            .get(seq)
            .is_some_and(|c| c.is_current(generation));
        if !current {
            return None;
        }
        let class = exit.class();
        let now = Instant::now();
        let ran_for = self.children.record_exit(seq, exit, now);
        let child = self.children.table.get(seq)?;
        if child.spec.restart.restarts_after(class) {
            return self.restart(seq, ran_for, now).await;
        }
        // Not restarted: a temporary spec goes, others are kept (OTP's
        // `del_child`), then auto-shutdown is considered.
        let significant = child.spec.significant;
        let id = child.id().clone();
        self.children.drop_if_temporary(seq);
        if significant && self.auto_shutdown_due() {
            self.emit(|| EventKind::AutoShutdown { trigger: id });
            let exit = Exit::from(ExitKind::AutoShutdown);
            return Some(self.children.stop_all(exit).await.exit);
        }
        None
    }

    /// OTP's `do_auto_shutdown`, once the significant child's spec was
    /// updated.
    fn auto_shutdown_due(&self) -> bool {
        match self.settings.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .table
                .records()
                .any(|c| c.spec.significant && c.is_alive()),
        }
    }

    /// A restart of `seq` is due (after an exit, or a retry). `ran_for` is
    /// how long the last incarnation ran, for backoff's reset.
    pub(crate) async fn restart(
        &mut self,
        seq: u64,
        ran_for: Duration,
        now: Instant,
    ) -> Option<Exit> {
        let child = self.children.table.get_mut(seq)?;
        let id = child.id().clone();

        // 1. The child's own budget, if it has one.
        let mut delay = Duration::ZERO;
        let mut crash_loop = false;
        if let (Some(budget), Some(window)) = (child.spec.budget, child.budget.as_mut()) {
            if !window.try_add(now.into_std()) {
                match budget.on_exhausted {
                    OnExhausted::Escalate => {
                        return Some(self.give_up(seq, GiveUp::BudgetExhausted).await);
                    }
                    OnExhausted::Stop => {
                        child.apply(LifeEvent::Trip);
                        self.emit(|| EventKind::ChildFailed {
                            id,
                            reason: "circuit breaker open".into(),
                        });
                        return None;
                    }
                    OnExhausted::Isolate => {
                        child.apply(LifeEvent::Isolate);
                        self.emit(|| EventKind::ChildIsolated { id });
                        return None;
                    }
                    OnExhausted::CrashLoopBackOff(wait) => {
                        delay = wait;
                        crash_loop = true;
                        let id = id.clone();
                        self.emit(|| EventKind::ChildCrashLoop { id, delay: wait });
                    }
                }
            }
        }

        // 2. Its backoff.
        let child = self.children.table.get_mut(seq)?;
        if let Some(backoff) = child.spec.backoff {
            delay = delay.max(child.backoff.next_delay(&backoff, ran_for, fastrand::f64()));
        }

        // 3. The supervisor's intensity (OTP's `add_restart`).
        if !self.intensity.try_add(now.into_std()) {
            return Some(self.give_up(seq, GiveUp::IntensityReached).await);
        }

        // 4. The strategy: stop the siblings concerned.
        self.stop_siblings(seq).await;
        let child = self.children.table.get_mut(seq)?;
        child.apply(match (delay.is_zero(), crash_loop) {
            (true, _) => LifeEvent::Restart,
            (false, false) => LifeEvent::Delay,
            (false, true) => LifeEvent::CrashLoop,
        });
        if !delay.is_zero() {
            child.timer = Some(self.children.timers.insert(seq, delay));
        }
        self.emit(|| EventKind::ChildRestarting { id, delay });
        if delay.is_zero() {
            self.start_group(seq).await;
        }
        None
    }

    /// A backoff or crash-loop delay ran out.
    pub(crate) async fn on_delay_elapsed(&mut self, seq: u64) -> Option<Exit> {
        let child = self.children.table.get_mut(seq)?;
        child.timer = None;
        child.apply(LifeEvent::DelayElapsed);
        self.start_group(seq).await;
        None
    }

    /// The siblings the strategy restarts with `seq`, in start order
    /// (without `seq` itself).
    fn siblings(&self, seq: u64) -> Vec<u64> {
        let group = match self.settings.strategy {
            Strategy::OneForOne => return Vec::new(),
            Strategy::OneForAll => self.children.table.all(),
            Strategy::RestForOne => self.children.table.from(seq),
        };
        group.into_iter().filter(|&s| s != seq).collect()
    }

    /// Stop phase: stops the siblings in reverse start order and marks them
    /// due for a restart. As in OTP, temporary siblings are dropped and every
    /// other sibling is started again, even one that was stopped before; a
    /// failed or isolated sibling is left as it is.
    async fn stop_siblings(&mut self, seq: u64) {
        for sibling in self.siblings(seq).into_iter().rev() {
            if self.children.table.get(sibling).is_none() {
                continue;
            }
            self.children.halt(sibling).await;
            if self.children.drop_if_temporary(sibling) {
                continue;
            }
            if let Some(child) = self.children.table.get_mut(sibling) {
                if matches!(child.state(), ChildState::Stopped | ChildState::Restarting) {
                    child.apply(LifeEvent::Restart);
                }
            }
        }
    }

    /// Start phase: starts every child of `seq`'s group that is due, in start
    /// order. On a failure, queues a retry for the child that failed.
    async fn start_group(&mut self, seq: u64) {
        let group = match self.settings.strategy {
            // The common case, without allocating a group.
            Strategy::OneForOne => {
                self.start_member(seq).await;
                return;
            }
            Strategy::OneForAll => self.children.table.all(),
            Strategy::RestForOne => self.children.table.from(seq),
        };
        for member in group {
            if !self.start_member(member).await {
                return;
            }
        }
    }

    /// Starts one member of a restart group if it is due; `false` when its
    /// start failed (a retry is queued) and the rest of the group must wait.
    async fn start_member(&mut self, member: u64) -> bool {
        let Some(child) = self.children.table.get_mut(member) else {
            return true;
        };
        if child.state() != ChildState::Restarting {
            return true;
        }
        child.restarts += 1;
        self.children.shared.counters.restarted();
        if self.children.start(member).await.is_err() {
            let child = self
                .children
                .table
                .get_mut(member)
                .expect("a failed start keeps its spec");
            child.apply(LifeEvent::Restart);
            let _ = self
                .children
                .mailbox
                .sender()
                .send(Message::TryAgain { seq: member });
            return false;
        }
        true
    }

    /// Intensity reached (or a budget escalated) because of `offender`:
    /// stop everything and end with [`ExitKind::GaveUp`].
    async fn give_up(&mut self, offender: u64, reason: GiveUp) -> Exit {
        self.children.shared.counters.gave_up();
        let mut exit = Exit::from(ExitKind::GaveUp(reason));
        if let Some(child) = self.children.table.get(offender) {
            let offender = child.id().clone();
            exit = exit.with_reason(format_args!("because of child {offender}"));
            self.emit(|| EventKind::GaveUp { offender, reason });
        }
        self.children.stop_all(exit).await.exit
    }
}
