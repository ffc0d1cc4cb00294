//! Running a tree as a program's main job: until SIGINT or SIGTERM, then a
//! graceful shutdown; a second signal makes it immediate.

use tokio::signal::unix::{signal, SignalKind};

use crate::{Exit, SupervisorHandle};

/// Runs until the supervisor ends by itself or the process gets SIGINT or
/// SIGTERM. On the first signal it shuts the tree down gracefully (reverse
/// order, each child by its shutdown spec); a second signal during that
/// shutdown kills what is left at once. Returns the supervisor's exit.
///
/// # Panics
/// If the signal handlers cannot be installed (outside a tokio runtime with
/// signal support).
///
/// # Examples
///
/// ```no_run
/// use tend::{ChildSpec, Context, ExitClass, Supervisor};
///
/// #[tokio::main]
/// async fn main() {
///     let root = Supervisor::builder("app")
///         .child(ChildSpec::task("server", |ctx: Context| async move { ctx.cancelled().await }))
///         .start()
///         .await
///         .expect("start");
///     let exit = tend::run_until_signal(&root).await;
///     std::process::exit(if exit.class() == ExitClass::Abnormal { 1 } else { 0 });
/// }
/// ```
pub async fn run_until_signal(handle: &SupervisorHandle) -> Exit {
    let mut interrupt = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    let mut terminate = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        exit = handle.wait() => return exit,
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!(
        supervisor = handle.name(),
        "signal received: shutting down (again to kill)"
    );
    let hurry = handle.clone();
    let second = tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::warn!(
            supervisor = hurry.name(),
            "second signal: killing what is left"
        );
        hurry.hurry();
    });
    let report = handle.shutdown().await;
    second.abort();
    report.exit
}
