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
    tokio::spawn(incarnation(future, guard)).abort_handle()
}

/// `future` with its panics caught and its end reported through `guard`.
///
/// A combinator, not an `async move` block: such a block keeps the future
/// it captured beside the one it awaits, so every task would hold its
/// incarnation's future twice (33 KB instead of 17 KB a process child, in
/// issue 26).
fn incarnation<F>(future: F, guard: ExitGuard) -> impl Future<Output = ()> + Send + 'static
where
    F: Future + Send + 'static,
    F::Output: IntoExit,
{
    AssertUnwindSafe(future).catch_unwind().map(move |ended| {
        let exit = match ended {
            Ok(output) => output.into_exit(),
            Err(panic) => panicked(panic.as_ref()),
        };
        guard.finish(exit);
    })
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

#[cfg(test)]
mod tests {
    #![allow(unreachable_code, clippy::diverging_sub_expression)]

    use super::*;

    /// The size of what `f` returns, without calling it.
    fn returned<R>(_: &impl FnOnce() -> R) -> usize {
        std::mem::size_of::<R>()
    }

    /// A task holds its incarnation's future once, whatever its size.
    #[test]
    fn a_task_holds_its_future_once() {
        async fn big() {
            let buffer = [1u8; 16 * 1024];
            tokio::task::yield_now().await;
            std::hint::black_box(&buffer);
        }
        let future = returned(&big);
        let task = returned(&|| incarnation(big(), todo!()));
        println!("future {future} bytes, task {task} bytes");
        assert!(
            task < future + 512,
            "future {future} bytes, task {task} bytes"
        );
    }
}
