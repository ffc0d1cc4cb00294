//! The supervisor's inbox, with Erlang's selective receive.
//!
//! While the supervisor waits inline for one incarnation (to be ready, or to
//! end after a stop), messages about other children arrive too. They are set
//! aside in `deferred` and handed out first, in arrival order, once the wait
//! is over: nothing is lost and nothing is reordered.

use std::collections::VecDeque;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::exit::Exit;
use crate::tree::{ChildKey, Message};

/// What an inline wait is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// The incarnation's end only.
    Exit,
    /// Its readiness, or its end (or a fault, such as a failed startup
    /// probe) if that comes first.
    ReadyOrExit,
}

/// Whether a hurried tree cuts an inline wait short.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Hurry<'a> {
    /// Wait regardless (the incarnation is being killed anyway).
    Ignore,
    /// Stop waiting when this token is cancelled.
    CutShort(&'a CancellationToken),
}

/// What an inline wait ended with.
pub(crate) enum Waited {
    Ready,
    Exited(Exit),
    /// Found faulty while starting; it still runs.
    Faulty(Exit),
    /// The deadline passed, or the tree was hurried.
    TimedOut,
}

pub(crate) struct Mailbox {
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Message>,
    deferred: VecDeque<Message>,
}

impl Mailbox {
    pub(crate) fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Mailbox {
            tx,
            rx,
            deferred: VecDeque::new(),
        }
    }

    /// A sender for incarnations (and for the supervisor's own retries).
    pub(crate) fn sender(&self) -> &mpsc::UnboundedSender<Message> {
        &self.tx
    }

    /// A message set aside during an earlier wait, oldest first.
    pub(crate) fn take_deferred(&mut self) -> Option<Message> {
        self.deferred.pop_front()
    }

    /// The next new message. Cancel-safe. Never ends: the mailbox holds a
    /// sender itself.
    pub(crate) async fn recv(&mut self) -> Message {
        self.rx
            .recv()
            .await
            .expect("the mailbox holds a sender of its own")
    }

    /// Waits for what `want` names about incarnation `generation` of child
    /// `key`, setting every other message aside; ends early at `deadline`
    /// (if any) or when `hurry` says so.
    pub(crate) async fn wait_for(
        &mut self,
        key: ChildKey,
        generation: u64,
        want: Want,
        deadline: Option<Instant>,
        hurry: Hurry<'_>,
    ) -> Waited {
        let wanted = |message: &Message| match *message {
            Message::Exited {
                key: s,
                generation: g,
                ..
            } => s == key && g == generation,
            Message::Ready {
                key: s,
                generation: g,
            }
            | Message::Fault {
                key: s,
                generation: g,
                ..
            } => want == Want::ReadyOrExit && s == key && g == generation,
            Message::TryAgain { .. } | Message::NotReady { .. } | Message::ExtendStart { .. } => {
                false
            }
        };
        let mut deadline = deadline;
        if let Some(position) = self.deferred.iter().position(wanted) {
            let message = self
                .deferred
                .remove(position)
                .expect("position is in range");
            return waited(message);
        }
        let hurried = async {
            match hurry {
                Hurry::CutShort(token) => token.cancelled().await,
                Hurry::Ignore => std::future::pending().await,
            }
        };
        tokio::pin!(hurried);
        loop {
            let message = tokio::select! {
                biased;
                () = &mut hurried => return Waited::TimedOut,
                message = self.rx.recv() => message.expect("the mailbox holds a sender of its own"),
                () = sleep_until(deadline) => return Waited::TimedOut,
            };
            if wanted(&message) {
                return waited(message);
            }
            if let Message::ExtendStart {
                key: s,
                generation: g,
                by,
            } = message
            {
                if want == Want::ReadyOrExit && s == key && g == generation {
                    let asked = Instant::now() + by;
                    deadline = deadline.map(|d| d.max(asked));
                    continue;
                }
            }
            self.deferred.push_back(message);
        }
    }
}

fn waited(message: Message) -> Waited {
    match message {
        Message::Exited { exit, .. } => Waited::Exited(exit),
        Message::Ready { .. } => Waited::Ready,
        Message::Fault { exit, .. } => Waited::Faulty(exit),
        Message::TryAgain { .. } | Message::NotReady { .. } | Message::ExtendStart { .. } => {
            unreachable!("never wanted by wait_for")
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
