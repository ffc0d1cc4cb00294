//! The nearest equivalents in ractor and kameo, for the same-run ratios.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Shared counter: incarnations so far, the target, and a wake-up.
#[derive(Clone)]
pub struct Target {
    count: Arc<AtomicU64>,
    target: u64,
    done: Arc<Notify>,
}

impl Target {
    fn new(target: u64) -> Self {
        Target {
            count: Arc::new(AtomicU64::new(0)),
            target,
            done: Arc::new(Notify::new()),
        }
    }

    /// Counts one incarnation; true once the target is reached.
    fn hit(&self) -> bool {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        if n == self.target {
            self.done.notify_one();
        }
        n >= self.target
    }
}

mod ractor_peer {
    use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

    use super::Target;

    pub struct Child;

    impl Actor for Child {
        type Msg = ();
        type State = ();
        type Arguments = Target;

        async fn pre_start(
            &self,
            _me: ActorRef<()>,
            target: Target,
        ) -> Result<(), ActorProcessingErr> {
            target.hit();
            Ok(())
        }

        async fn post_start(
            &self,
            _me: ActorRef<()>,
            _state: &mut (),
        ) -> Result<(), ActorProcessingErr> {
            Err("fails right after start".into())
        }
    }

    pub struct Parent;

    impl Actor for Parent {
        type Msg = ();
        type State = Target;
        type Arguments = Target;

        async fn pre_start(
            &self,
            me: ActorRef<()>,
            target: Target,
        ) -> Result<Target, ActorProcessingErr> {
            Actor::spawn_linked(None, Child, target.clone(), me.get_cell()).await?;
            Ok(target)
        }

        async fn handle_supervisor_evt(
            &self,
            me: ActorRef<()>,
            event: SupervisionEvent,
            target: &mut Target,
        ) -> Result<(), ActorProcessingErr> {
            if let SupervisionEvent::ActorFailed(..) = event {
                if target.count.load(std::sync::atomic::Ordering::Relaxed) < target.target {
                    Actor::spawn_linked(None, Child, target.clone(), me.get_cell()).await?;
                }
            }
            Ok(())
        }
    }
}

/// ractor: a parent that respawns a child failing right after its start.
pub async fn ractor_restarts(iters: u64) -> Duration {
    let target = Target::new(iters + 1);
    let start = Instant::now();
    let (parent, handle) = ractor::Actor::spawn(None, ractor_peer::Parent, target.clone())
        .await
        .expect("spawn parent");
    target.done.notified().await;
    let elapsed = start.elapsed();
    parent.stop(None);
    let _ = handle.await;
    elapsed
}

mod kameo_peer {
    use kameo::actor::{Actor, ActorRef, Spawn};
    use kameo::supervision::RestartPolicy;

    use super::Target;

    #[derive(Clone)]
    pub struct Child(pub Target);

    impl Actor for Child {
        type Args = Self;
        type Error = String;

        async fn on_start(state: Self, _me: ActorRef<Self>) -> Result<Self, String> {
            if state.0.hit() {
                // Stay up once the target is reached, so restarts stop.
                return Ok(state);
            }
            Err("fails at start".into())
        }
    }

    pub struct Parent;

    impl Actor for Parent {
        type Args = Target;
        type Error = String;

        async fn on_start(target: Target, me: ActorRef<Self>) -> Result<Self, String> {
            Child::supervise(&me, Child(target))
                .restart_policy(RestartPolicy::Permanent)
                .restart_limit(u32::MAX, std::time::Duration::from_secs(1))
                .spawn()
                .await;
            Ok(Parent)
        }
    }
}

/// kameo: a supervised child that fails at start, restarted by policy.
pub async fn kameo_restarts(iters: u64) -> Duration {
    use kameo::actor::Spawn;
    let target = Target::new(iters + 1);
    let start = Instant::now();
    let parent = kameo_peer::Parent::spawn(target.clone());
    target.done.notified().await;
    let elapsed = start.elapsed();
    let _ = parent.stop_gracefully().await;
    parent.wait_for_shutdown().await;
    elapsed
}
