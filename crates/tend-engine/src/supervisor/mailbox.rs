//! The supervisor's inbox, with Erlang's selective receive.
//!
//! While the supervisor waits inline for one incarnation to end after a stop
//! (the only wait it does inline: starts never block it), messages about
//! other children arrive too. They are set aside in `deferred` and handed out
//! before newer ones, in arrival order, once the wait is over: nothing is
//! lost and nothing is reordered.

use std::collections::VecDeque;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::exit::Exit;
use crate::tree::{ChildKey, Message};

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
    Exited(Exit),
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

    /// The next message: one set aside during an earlier wait (oldest
    /// first), else a new one. Cancel-safe. Never ends: the mailbox holds a
    /// sender itself.
    pub(crate) async fn next(&mut self) -> Message {
        if let Some(message) = self.deferred.pop_front() {
            return message;
        }
        self.rx
            .recv()
            .await
            .expect("the mailbox holds a sender of its own")
    }

    /// Waits for the end of incarnation `generation` of child `key`,
    /// setting every other message aside; ends early at `deadline` (if
    /// any) or when `hurry` says so.
    pub(crate) async fn wait_for_exit(
        &mut self,
        key: ChildKey,
        generation: u64,
        deadline: Option<Instant>,
        hurry: Hurry<'_>,
    ) -> Waited {
        let wanted = |message: &Message| matches!(*message, Message::Exited { key: k, generation: g, .. } if k == key && g == generation);
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
            self.deferred.push_back(message);
        }
    }
}

fn waited(message: Message) -> Waited {
    match message {
        Message::Exited { exit, .. } => Waited::Exited(exit),
        _ => unreachable!("only an exit is waited for"),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
