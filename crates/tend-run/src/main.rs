//! `tend-run`: keep one command alive without a config file.

mod args;
mod report;

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tend_engine::{
    AutoShutdown, Backoff, ChildSpec, Exit, ExitKind, Intensity, Restart, Supervisor,
};
use tend_process::{LogSink, LogSpec, ProcessExt, ProcessSpec, StopSpec, Tee};

use args::{Args, RestartArg};

#[tokio::main]
async fn main() -> ExitCode {
    // Diagnostics through their own thread: a full or stalled standard
    // error neither panics nor blocks supervision.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("TEND_LOG"))
        .with_writer(|| tend_process::diag::Writer)
        .log_internal_errors(false)
        .init();
    let args = Args::parse();
    let code = match run(args).await {
        Ok(code) => code,
        Err(error) => {
            tend_process::diag!("tend-run: {error:#}");
            ExitCode::from(1)
        }
    };
    tend_process::flush_logs(std::time::Duration::from_secs(5));
    tend_process::diag::flush(Duration::from_secs(5));
    code
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Handlers first, so no early signal takes the default action.
    let signals = tend_engine::ShutdownSignals::install().context("installing signal handlers")?;
    tend_process::enable_orphan_reaping().context("becoming a child subreaper")?;
    // Its children need descriptors too (3 each: 10,000 replicas need more
    // than a hard limit of 20,000, which root raises to fs.nr_open); the
    // command gets the original limits back.
    if let Err(error) = tend_process::raise_nofile() {
        tend_process::diag!("tend-run: could not raise the descriptor limit: {error}");
    }
    if let Some(shortfall) = tend_process::nofile_shortfall(u64::from(args.replicas)) {
        tend_process::diag!("tend-run: warning: {shortfall}");
    }

    let spec = process_spec(&args);
    tend_process::check(&spec)?;
    let sink = log_sink(&args)?;
    let mut builder = supervisor(&args, std::sync::Arc::new(spec), &sink);
    // Subscribed before the start, so the first starts are shown too; the
    // printer ends on the supervisor's last event.
    let escape = !args.raw && std::io::stderr().is_terminal();
    let printer = tokio::spawn(report::print(builder.subscribe(), escape));
    let root = builder.start().await?;

    let exit = signals.run(&root).await;
    // Every child is stopped; what they left behind was killed. Reap it all
    // before exiting, so no zombie is handed to init.
    if !tokio::task::spawn_blocking(|| tend_process::wait_for_orphans(Duration::from_secs(5)))
        .await
        .unwrap_or(false)
    {
        tend_process::diag!("tend-run: some descendants were still exiting when it left");
    }
    let summary = tokio::time::timeout(Duration::from_secs(5), printer)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    Ok(exit_status(&exit, &summary))
}

/// The exit status (see `args.rs`), from how the tree ended: 1 when it gave
/// up, when the last of the children ended and one had failed, or on any
/// abnormal end; 0 otherwise (a signal-initiated stop, or every child
/// completed).
fn exit_status(exit: &Exit, summary: &report::Summary) -> ExitCode {
    match exit.kind() {
        ExitKind::GaveUp(_) => ExitCode::from(1),
        ExitKind::AutoShutdown if summary.any_failed() => ExitCode::from(1),
        _ if exit.is_abnormal() => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

fn process_spec(args: &Args) -> ProcessSpec {
    let mut spec = ProcessSpec::new(args.command[0].clone(), args.command[1..].iter().cloned());
    spec.stop = StopSpec {
        signal: args.stop_signal,
        timeout: args.stop_timeout,
    };
    spec
}

fn log_sink(args: &Args) -> anyhow::Result<LogSink> {
    Ok(match &args.log {
        Some(file) => LogSink::from_spec(&LogSpec {
            file: Some(file.clone()),
            max_size: args.log_max_size,
            keep: args.log_keep,
            timestamps: false,
        })
        .with_context(|| format!("opening {}", file.display()))?,
        // Passed through; replicas get a prefix each (supervisor()).
        None => LogSink::discard().with_tee(tee(args, String::new())),
    })
}

/// The copy of the output on standard output: on a terminal, control
/// characters escaped unless `--raw` (the command must not drive the
/// operator's terminal); to a pipe or a file, the bytes as they are.
fn tee(args: &Args, prefix: String) -> Tee {
    if !args.raw && std::io::stdout().is_terminal() {
        Tee::Terminal { prefix }
    } else {
        Tee::Stdout { prefix }
    }
}

/// One spec shared by every replica (an `Arc`), not a copy each (issue 26).
fn supervisor(
    args: &Args,
    spec: std::sync::Arc<ProcessSpec>,
    sink: &LogSink,
) -> tend_engine::SupervisorBuilder {
    let restart = match args.restart {
        RestartArg::Always => Restart::Permanent,
        RestartArg::OnFailure => Restart::Transient,
        RestartArg::Never => Restart::Temporary,
    };
    let intensity = match args.max_restarts {
        Some(max) => Intensity::new(max, args.period),
        // Keep it alive: no give-up unless asked.
        None => Intensity::new(u32::MAX, Duration::from_secs(1)),
    };
    // Children that may end for good make tend-run end once all have.
    let auto_shutdown = if restart == Restart::Permanent {
        AutoShutdown::Never
    } else {
        AutoShutdown::AllSignificant
    };
    let program = std::path::Path::new(&args.command[0])
        .file_name()
        .map_or_else(
            || args.command[0].clone(),
            |n| n.to_string_lossy().into_owned(),
        );
    let children = (1..=args.replicas).map(|n| {
        let id = if args.replicas == 1 {
            program.clone()
        } else {
            format!("{program}-{n}")
        };
        let sink = match &args.log {
            None if args.replicas > 1 => LogSink::discard().with_tee(tee(args, format!("{id} | "))),
            _ => sink.clone(),
        };
        let mut child = ChildSpec::process_with_sink(id, std::sync::Arc::clone(&spec), sink)
            .restart(restart)
            .significant(restart != Restart::Permanent);
        if !args.backoff.is_zero() {
            child = child.backoff(
                Backoff::exponential(args.backoff, args.backoff_max.max(args.backoff))
                    .jitter(0.1)
                    .reset_after(Duration::from_secs(60)),
            );
        }
        child
    });
    Supervisor::builder("tend-run")
        // Replicas are independent: asked to stop all at once.
        .concurrent_stop(true)
        .intensity(intensity)
        .auto_shutdown(auto_shutdown)
        .children(children)
}
