//! Running a tree as a program's main job: until SIGINT or SIGTERM (Ctrl-C
//! where there are no unix signals), then a graceful shutdown; a second
//! signal makes it immediate.

use std::io;

use crate::exit::Exit;
use crate::supervisor::SupervisorHandle;

/// SIGINT and SIGTERM handlers, installed when this is created, that turn
/// the first signal into a graceful shutdown of a tree and the second into a
/// kill.
///
/// Use [`run_until_signal`] unless the handlers must exist before the tree
/// runs (so that no early signal takes the default action).
///
/// # Examples
///
/// ```no_run
/// use tend_engine::{ChildSpec, Context, ShutdownSignals, Supervisor};
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let signals = ShutdownSignals::install()?; // before anything starts
///     let root = Supervisor::builder("app")
///         .child(ChildSpec::task("server", |ctx: Context| async move { ctx.cancelled().await }))
///         .start()
///         .await
///         .expect("start");
///     let exit = signals.run(&root).await;
///     println!("stopped: {exit}");
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Installs the handlers (SIGINT and SIGTERM; elsewhere, Ctrl-C, whose
    /// handler tokio installs on first use). Must be called within a tokio
    /// runtime.
    ///
    /// # Errors
    /// If the operating system refuses a handler.
    pub fn install() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(ShutdownSignals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(ShutdownSignals {})
        }
    }

    #[cfg(unix)]
    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) {
        // Without a handler to call, a failed wait must not end the tree.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Runs until the tree ends by itself or a signal arrives. On the first
    /// signal it shuts the tree down gracefully (reverse order, each child by
    /// its shutdown spec); a second signal during that shutdown kills what is
    /// left at once ([`SupervisorHandle::hurry`]). Returns the tree's exit.
    pub async fn run(mut self, handle: &SupervisorHandle) -> Exit {
        tokio::select! {
            exit = handle.wait() => return exit,
            () = self.next() => {}
        }
        tracing::info!(
            supervisor = handle.name(),
            "signal received: shutting down (again to kill)"
        );
        let shutdown = handle.shutdown();
        tokio::pin!(shutdown);
        tokio::select! {
            report = &mut shutdown => return report.exit,
            () = self.next() => {}
        }
        tracing::warn!(
            supervisor = handle.name(),
            "second signal: killing what is left"
        );
        handle.hurry();
        shutdown.await.exit
    }
}

/// Installs SIGINT and SIGTERM handlers and runs the tree until one arrives;
/// see [`ShutdownSignals::run`].
///
/// # Errors
/// If a handler cannot be installed.
///
/// # Examples
///
/// ```no_run
/// use tend_engine::{ChildSpec, Context, ExitClass, Supervisor};
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let root = Supervisor::builder("app")
///         .child(ChildSpec::task("server", |ctx: Context| async move { ctx.cancelled().await }))
///         .start()
///         .await
///         .expect("start");
///     let exit = tend_engine::run_until_signal(&root).await?;
///     std::process::exit(if exit.class() == ExitClass::Abnormal { 1 } else { 0 });
/// }
/// ```
pub async fn run_until_signal(handle: &SupervisorHandle) -> io::Result<Exit> {
    Ok(ShutdownSignals::install()?.run(handle).await)
}
