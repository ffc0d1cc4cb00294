//! Links, as Erlang has them, beside monitors: two parties bound so that
//! when one ends, the other hears of it.
//!
//! A party is one incarnation of a child, or an outside task holding a
//! [`Link`]. Each has a [`Port`]; linking joins two ports. When a party
//! ends, its port *fires*: every linked party receives a [`LinkExit`] and
//! the link is gone (a restarted child starts with no links, as a new
//! Erlang process does).
//!
//! What a party does with a `LinkExit` follows Erlang:
//!
//! - a normal exit does not propagate;
//! - any other exit stops a child that does not trap exits: its supervisor
//!   stops it by its shutdown spec and records [`ExitKind::Linked`], with
//!   the class of the exit that came (a shutdown stays a shutdown, so a
//!   transient child is then not restarted);
//! - a child that traps exits (`ChildSpec::trap_exits`) is told instead,
//!   every exit normal ones included, through `Context::linked_exit`;
//! - an outside task is told every exit ([`Link::exited`]), and its
//!   [`Link::token`] is cancelled by any exit that is not normal.
//!
//! Lock order: a port's state lock is taken alone, except when linking two
//! ports, which takes both in address order.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::exit::{Exit, ExitClass, ExitKind};
use crate::id::{ChildId, IncarnationId};
use crate::tree::{ChildKey, Message};

/// Who a [`LinkExit`] comes from.
///
/// # Examples
///
/// ```
/// use tend_engine::LinkPeer;
///
/// // A child's end names its supervisor, id and incarnation; an outside
/// // task's, no one.
/// assert_eq!(LinkPeer::Outside.to_string(), "a linked outside task");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkPeer {
    /// An incarnation of a supervised child.
    Child {
        /// The path of its supervisor.
        supervisor: Arc<str>,
        /// The child.
        id: ChildId,
        /// The incarnation.
        incarnation: IncarnationId,
    },
    /// An outside task holding a [`Link`].
    Outside,
}

impl fmt::Display for LinkPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkPeer::Child {
                supervisor,
                id,
                incarnation,
            } => write!(f, "{supervisor}/{id} (incarnation {incarnation})"),
            LinkPeer::Outside => f.write_str("a linked outside task"),
        }
    }
}

/// A linked party ended: who, and how (Erlang's `{'EXIT', Pid, Reason}`).
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, ExitClass, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("w", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// let mut link = sup.link_to("w").await.unwrap();
/// sup.kill_child("w").await.unwrap();
/// let ended = link.exited().await;
/// assert_eq!(ended.exit.class(), ExitClass::Abnormal);
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkExit {
    /// Who ended.
    pub from: LinkPeer,
    /// How.
    pub exit: Exit,
}

/// How a port's owner hears of a linked party's end.
enum Owner {
    /// A child's incarnation that does not trap exits: a fault, through its
    /// supervisor's inbox.
    Stopped {
        inbox: mpsc::UnboundedSender<Message>,
        key: ChildKey,
        generation: u64,
    },
    /// A child's incarnation that traps exits: a message it reads.
    Trapping {
        queue: mpsc::UnboundedSender<LinkExit>,
        received: tokio::sync::Mutex<mpsc::UnboundedReceiver<LinkExit>>,
    },
    /// An outside task.
    Outside {
        queue: mpsc::UnboundedSender<LinkExit>,
        stop: CancellationToken,
    },
}

#[derive(Default)]
struct Peers {
    linked: Vec<Arc<Port>>,
    ended: bool,
}

/// One party's end of its links.
pub(crate) struct Port {
    me: LinkPeer,
    owner: Owner,
    peers: Mutex<Peers>,
}

impl Port {
    /// The port of a child's incarnation.
    pub(crate) fn for_incarnation(
        me: LinkPeer,
        inbox: mpsc::UnboundedSender<Message>,
        key: ChildKey,
        generation: u64,
        traps_exits: bool,
    ) -> Arc<Port> {
        let owner = if traps_exits {
            let (queue, received) = mpsc::unbounded_channel();
            Owner::Trapping {
                queue,
                received: tokio::sync::Mutex::new(received),
            }
        } else {
            Owner::Stopped {
                inbox,
                key,
                generation,
            }
        };
        Arc::new(Port {
            me,
            owner,
            peers: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Peers> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Links two ports.
    ///
    /// # Errors
    /// If either party has already ended.
    pub(crate) fn link(a: &Arc<Port>, b: &Arc<Port>) -> Result<(), Ended> {
        if Arc::ptr_eq(a, b) {
            return Ok(());
        }
        let (first, second) = if Arc::as_ptr(a) < Arc::as_ptr(b) {
            (a, b)
        } else {
            (b, a)
        };
        let mut first_peers = first.lock();
        let mut second_peers = second.lock();
        if first_peers.ended || second_peers.ended {
            return Err(Ended);
        }
        first_peers.linked.push(second.clone());
        second_peers.linked.push(first.clone());
        Ok(())
    }

    /// This party ended with `exit`: every linked party hears of it, and
    /// the links are gone. Only the first call counts.
    pub(crate) fn fire(self: &Arc<Self>, exit: &Exit) {
        let linked = {
            let mut peers = self.lock();
            if peers.ended {
                return;
            }
            peers.ended = true;
            std::mem::take(&mut peers.linked)
        };
        for peer in linked {
            peer.lock().linked.retain(|p| !Arc::ptr_eq(p, self));
            peer.hear(LinkExit {
                from: self.me.clone(),
                exit: exit.clone(),
            });
        }
    }

    /// A linked party ended.
    fn hear(&self, signal: LinkExit) {
        match &self.owner {
            Owner::Stopped {
                inbox,
                key,
                generation,
            } => {
                if signal.exit.is_normal() {
                    return;
                }
                let class = match signal.exit.class() {
                    ExitClass::Shutdown => ExitClass::Shutdown,
                    _ => ExitClass::Abnormal,
                };
                let exit = Exit::new(
                    ExitKind::Linked,
                    format_args!("{} ended: {}", signal.from, signal.exit),
                )
                .with_class(class);
                // The supervisor may be gone: then so is this incarnation.
                let _ = inbox.send(Message::Fault {
                    key: *key,
                    generation: *generation,
                    exit,
                });
            }
            Owner::Trapping { queue, .. } => {
                let _ = queue.send(signal);
            }
            Owner::Outside { queue, stop } => {
                if !signal.exit.is_normal() {
                    stop.cancel();
                }
                let _ = queue.send(signal);
            }
        }
    }

    /// The next linked party's end told to a trapping incarnation; never,
    /// for one that does not trap exits.
    pub(crate) async fn next_trapped(&self) -> LinkExit {
        match &self.owner {
            Owner::Trapping { received, .. } => {
                let mut received = received.lock().await;
                match received.recv().await {
                    Some(signal) => signal,
                    None => std::future::pending().await,
                }
            }
            Owner::Stopped { .. } | Owner::Outside { .. } => std::future::pending().await,
        }
    }
}

/// Linking to a party that has already ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ended;

/// An outside task's end of a link to a child, from
/// [`SupervisorHandle::link_to`](crate::SupervisorHandle::link_to).
///
/// When the child's incarnation ends, [`exited`](Self::exited) tells how;
/// when it ends any way but normally, [`token`](Self::token) is cancelled
/// (Erlang would stop the linked process; here the task decides). When this
/// side ends, the child hears of it: [`exit`](Self::exit) says how, and
/// dropping the link is a normal end, or an abnormal one if the task is
/// panicking. A normal end does not stop the child.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, ChildState, Context, Exit, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("worker", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// let link = sup.link_to("worker").await.unwrap();
/// // The outside task fails: the worker is stopped (and, being permanent,
/// // restarted).
/// link.exit(Exit::failed("lost the database"));
/// # for _ in 0..10 { tokio::task::yield_now().await; }
/// let info = sup.child_info("worker").await.unwrap();
/// assert_eq!(info.generation, 2);
/// assert_eq!(info.last_exit.unwrap().exit.kind(), tend_engine::ExitKind::Linked);
/// # sup.shutdown().await;
/// # }
/// ```
pub struct Link {
    port: Arc<Port>,
    told: mpsc::UnboundedReceiver<LinkExit>,
    heard: Option<LinkExit>,
    stop: CancellationToken,
    fired: bool,
}

impl Link {
    /// An outside port linked to `peer`.
    pub(crate) fn to(peer: &Arc<Port>) -> Result<Link, Ended> {
        let (queue, told) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let port = Arc::new(Port {
            me: LinkPeer::Outside,
            owner: Owner::Outside {
                queue,
                stop: stop.clone(),
            },
            peers: Mutex::default(),
        });
        Port::link(&port, peer)?;
        Ok(Link {
            port,
            told,
            heard: None,
            stop,
            fired: false,
        })
    }

    /// Resolves once the linked child's incarnation has ended, with how it
    /// ended (normal exits too). Cancel-safe; later calls return the same.
    pub async fn exited(&mut self) -> LinkExit {
        if let Some(heard) = &self.heard {
            return heard.clone();
        }
        let heard = match self.told.recv().await {
            Some(heard) => heard,
            // The port holds the sender for as long as this link lives.
            None => std::future::pending().await,
        };
        self.heard = Some(heard.clone());
        heard
    }

    /// Cancelled when the linked child ends any way but normally: what
    /// would stop this task, were it an Erlang process that does not trap
    /// exits.
    #[must_use]
    pub fn token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Ends this side with `exit`: the child is stopped with a linked exit
    /// unless `exit` is normal (or told, if it traps exits).
    pub fn exit(mut self, exit: Exit) {
        self.fired = true;
        self.port.fire(&exit);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if self.fired {
            return;
        }
        let exit = if std::thread::panicking() {
            Exit::new(ExitKind::Panic, "the linked task panicked")
        } else {
            Exit::normal()
        };
        self.port.fire(&exit);
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("heard", &self.heard)
            .field("stopped", &self.stop.is_cancelled())
            .finish_non_exhaustive()
    }
}
