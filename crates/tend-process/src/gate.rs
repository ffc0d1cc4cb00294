//! A service's own readiness signals (`ready.log`, `ready.notify`,
//! `ready.file` and `ready.probe`): it is ready once *every* one it sets
//! holds, whatever the order they come in. Its startup and readiness
//! probes are the engine's to judge; the engine then needs both.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tend_engine::Context;
use tend_spec::ReadySpec;

/// One of the signals a service may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadySignal {
    /// A line of its output matched `ready.log`.
    Log = 1,
    /// It sent `READY=1` on its notify socket.
    Notify = 2,
    /// `ready.file` exists and `ready.probe` passes (polled together).
    Polled = 4,
}

/// The signals an incarnation still waits for.
#[derive(Debug)]
pub(crate) struct ReadyGate {
    ctx: Context,
    needs: u8,
    met: AtomicU8,
}

impl ReadyGate {
    /// The gate of an incarnation of a service readied by `spec`; one that
    /// sets no signal is ready at once.
    pub(crate) fn new(spec: &ReadySpec, ctx: Context) -> Arc<ReadyGate> {
        let mut needs = 0;
        if spec.log.is_some() {
            needs |= ReadySignal::Log as u8;
        }
        if spec.notify {
            needs |= ReadySignal::Notify as u8;
        }
        if spec.file.is_some() || spec.probe.is_some() {
            needs |= ReadySignal::Polled as u8;
        }
        if needs == 0 {
            ctx.ready();
        }
        Arc::new(ReadyGate {
            ctx,
            needs,
            met: AtomicU8::new(0),
        })
    }

    /// `signal` came; the incarnation is ready once every one needed did.
    pub(crate) fn met(&self, signal: ReadySignal) {
        let bit = signal as u8;
        let before = self.met.fetch_or(bit, Ordering::AcqRel);
        if before & bit == 0 && (before | bit) & self.needs == self.needs {
            self.ctx.ready();
        }
    }

    /// Whether `signal` came already (so its source may stop looking).
    pub(crate) fn has(&self, signal: ReadySignal) -> bool {
        self.met.load(Ordering::Acquire) & signal as u8 != 0
    }
}
