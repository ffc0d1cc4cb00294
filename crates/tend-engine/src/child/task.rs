//! Running one incarnation of a child on its own tokio task (the task side;
//! the supervisor side is `supervisor/incarnation.rs`).
//!
//! The task reports its end through an [`ExitGuard`]: a value owned by the
//! task whose `Drop` sends the exit to the supervisor's inbox. Every way a
//! task can end passes through that drop: returning, panicking (caught here),
//! and being aborted (the future is dropped), so the supervisor learns of
//! every end with one mechanism and no join handle to poll.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::Poll;

use futures_util::FutureExt;
use tokio::task::AbortHandle;

use crate::context::Context;
use crate::exit::{Exit, ExitKind, IntoExit};

/// Sends the incarnation's exit to its supervisor when dropped.
pub(crate) struct ExitGuard {
    ctx: Context,
    exit: Option<Exit>,
}

impl ExitGuard {
    pub(crate) fn new(ctx: Context) -> Self {
        ExitGuard { ctx, exit: None }
    }

    /// Reports `exit` (by dropping the guard).
    #[inline]
    fn finish(mut self, exit: Exit) {
        self.exit = Some(exit);
    }
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        // No exit recorded means the future was dropped before finishing:
        // the task was aborted.
        let exit = self.exit.take().unwrap_or_else(Exit::killed);
        self.ctx.report_exit(exit);
    }
}

/// Spawns `future` as an incarnation; a panic inside it becomes an abnormal
/// exit.
pub(crate) fn spawn<F>(future: F, guard: ExitGuard) -> AbortHandle
where
    F: Future + Send + 'static,
    F::Output: IntoExit,
{
    tokio::spawn(async move {
        let exit = match AssertUnwindSafe(future).catch_unwind().await {
            Ok(output) => output.into_exit(),
            Err(panic) => panicked(panic.as_ref()),
        };
        guard.finish(exit);
    })
    .abort_handle()
}

/// The exit for a panic ([`ExitKind::Panic`]), with its message as reason.
pub(crate) fn panicked(payload: &(dyn Any + Send)) -> Exit {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)");
    Exit::new(ExitKind::Panic, message)
}

pin_project_lite::pin_project! {
    /// A task's future with its polls timed: the busy time (wall time spent
    /// inside `poll`, so blocking counts too) is charged to its CPU-time
    /// meter. Used only for children with a CPU-time limit.
    pub(crate) struct Metered<F> {
        #[pin]
        future: F,
        ctx: Context,
    }
}

impl<F> Metered<F> {
    pub(crate) fn new(future: F, ctx: Context) -> Self {
        Metered { future, ctx }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // The real clock: a paused tokio clock does not move during a poll.
        let started = std::time::Instant::now();
        let poll = this.future.poll(cx);
        this.ctx.charge_busy(started.elapsed());
        poll
    }
}
