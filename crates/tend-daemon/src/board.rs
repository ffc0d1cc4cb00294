//! The status board: one task folds the tree's event stream into a picture
//! of every child, published through a `watch` channel (as vector
//! publishes its components' state). `tend status`, `/readyz`, `/healthz`,
//! `/metrics`, `tend ps`, the start-up progress and `/v1/watch` read it and
//! never wait: not on an operator's command (a stop waiting out its
//! timeout, a reload of a thousand services), nor on the engine.
//!
//! The engine tells every state change (`ChildState`), each incarnation's
//! spawn with a live view of it (its pid, readiness, status text and usage,
//! read without asking its supervisor), what a queued child waits for, and
//! the counts. Should the board fall behind the stream, it asks each
//! supervisor once for the whole picture and goes on from there.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use tend_config::Config;
use tend_engine::{
    ChildId, ChildKind, ChildState, Condition, Event, EventKind, Exit, IncarnationView,
    SupervisorHandle,
};
use tend_wire::{NodeKind, Readiness, ServiceStatus, State, TreeNode, Waiting};
use tokio::sync::{broadcast, watch};

use crate::tree::{Instance, Layout, Unknown, ROOT};

/// What the board knows of one child (an instance, or the supervisor of a
/// group or of a service's replicas).
#[derive(Debug, Clone)]
struct Row {
    /// The order it was first seen in (start order, roughly).
    seen: u64,
    state: ChildState,
    generation: u64,
    starts: u64,
    /// The generation of the last `ChildStarted`.
    started: u64,
    /// Incarnations whose process ran but that ended before they were
    /// started (stopped while starting): the journal has a `started` row
    /// for each, so `starts` counts them too.
    ended_unstarted: u64,
    restarts: u64,
    failures: u64,
    ready: bool,
    last_exit: Option<Exit>,
    running_since: Option<SystemTime>,
    /// The running incarnation, read live.
    view: Option<IncarnationView>,
    waiting_for: Vec<(ChildId, Condition)>,
}

impl Row {
    fn new(seen: u64) -> Row {
        Row {
            seen,
            state: ChildState::Pending,
            generation: 0,
            starts: 0,
            started: 0,
            ended_unstarted: 0,
            restarts: 0,
            failures: 0,
            ready: false,
            last_exit: None,
            running_since: None,
            view: None,
            waiting_for: Vec::new(),
        }
    }
}

/// The picture the board publishes.
#[derive(Debug)]
struct Picture {
    /// By path: `tend/group/web.1`.
    /// Boxed: the table is sized in powers of two, so an inline row
    /// (about 250 bytes) would cost up to twice that a child.
    rows: HashMap<String, Box<Row>>,
    /// Rows seen so far (the next one's `seen`).
    count: u64,
    /// The config's instances, in its order.
    layout: Arc<Layout>,
    /// The services with a readiness condition (what `/readyz` checks).
    conditioned: Arc<BTreeSet<String>>,
    /// The config being run.
    config: Arc<Config>,
}

/// Changes to the board, for a reader that follows them.
#[derive(Debug)]
pub struct Changes(watch::Receiver<Picture>);

impl Changes {
    /// Returns once the picture changed; `false` once the board is gone.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

/// The status board's readers' end: cheap to clone, never waits.
#[derive(Debug, Clone)]
pub struct Board {
    picture: Arc<watch::Sender<Picture>>,
}

impl Board {
    /// A board for `config`, folding `events` (subscribed before the tree
    /// started, so nothing is missed) on a task of its own; `root`, to ask
    /// for the whole picture should the board fall behind.
    #[must_use]
    pub fn start(
        config: &Arc<Config>,
        events: broadcast::Receiver<Event>,
        root: SupervisorHandle,
    ) -> Board {
        let board = Board {
            picture: Arc::new(watch::Sender::new(Picture {
                rows: HashMap::new(),
                count: 0,
                layout: Arc::default(),
                conditioned: Arc::default(),
                config: config.clone(),
            })),
        };
        board.set_config(config);
        tokio::spawn(board.clone().fold(events, root));
        board
    }

    /// Follows a new config (after a reload): its instances and which of
    /// them have a readiness condition. The config is the daemon's own,
    /// shared: a copy would cost every service its spec twice.
    pub fn set_config(&self, config: &Arc<Config>) {
        let layout = Arc::new(Layout::of(config));
        let conditioned: BTreeSet<String> = config
            .services
            .iter()
            .filter(|s| s.process.ready.is_signalled() || s.process.readiness.is_some())
            .map(|s| s.name.clone())
            .collect();
        let config = config.clone();
        self.picture.send_modify(|picture| {
            picture.layout = layout;
            picture.conditioned = Arc::new(conditioned);
            picture.config = config;
        });
    }

    /// The config being run (the new one from the start of a reload).
    #[must_use]
    pub fn config(&self) -> Arc<Config> {
        self.picture.borrow().config.clone()
    }

    /// The instances `names` mean (every instance when empty).
    ///
    /// # Errors
    /// The first name that means nothing.
    pub fn find(&self, names: &[String]) -> Result<Vec<String>, Unknown> {
        let layout = self.layout();
        let found = layout.find(names)?;
        Ok(found.into_iter().map(|i| i.name.clone()).collect())
    }

    /// Returns once incarnation `generation` of `instance` (or any before
    /// it) no longer runs: a later one started, or the instance has none
    /// running, or it left the tree.
    pub async fn ended(&self, instance: &str, generation: u64) {
        let Some(path) = self.layout().instance(instance).map(path_of) else {
            return;
        };
        let mut changes = self.picture.subscribe();
        let _ = changes
            .wait_for(|picture| {
                picture
                    .rows
                    .get(&path)
                    .is_none_or(|row| row.generation > generation || row.running_since.is_none())
            })
            .await;
    }

    /// Returns once an incarnation of `instance` later than `newer_than`
    /// is up: running, and ready where its service has a readiness
    /// condition (`Ok`); or, as `Err`, the state it reached that no longer
    /// leads there without another command (failed, completed, stopped,
    /// isolated), or that it left the tree.
    pub async fn up(&self, instance: &str, newer_than: u64) -> Result<(), String> {
        let Some(found) = self.layout().instance(instance).cloned() else {
            return Err(format!("{instance} is no longer in the config"));
        };
        let path = path_of(&found);
        let mut changes = self.picture.subscribe();
        let mut outcome = Ok(());
        let _ = changes
            .wait_for(|picture| {
                let Some(row) = picture.rows.get(&path) else {
                    return false;
                };
                let needs_ready = picture.conditioned.contains(&found.service);
                if row.generation <= newer_than && row.state != ChildState::Completed {
                    return false;
                }
                match row.state {
                    ChildState::Running => row.ready || !needs_ready,
                    ChildState::Failed(_)
                    | ChildState::Completed
                    | ChildState::Shutdown
                    | ChildState::Isolated => {
                        outcome = Err(State::from(row.state).to_string());
                        true
                    }
                    _ => false,
                }
            })
            .await;
        outcome
    }

    /// Asks every supervisor for the whole picture now (after events were
    /// missed, or where a caller must see the effect of a command the
    /// engine has answered, whose events the board may not have folded
    /// yet).
    pub async fn refresh(&self, root: &SupervisorHandle) {
        self.resync(root).await;
    }

    /// The config's instances, as the board follows them.
    #[must_use]
    pub fn layout(&self) -> Arc<Layout> {
        self.picture.borrow().layout.clone()
    }

    /// Told of every change to the picture.
    #[must_use]
    pub fn changes(&self) -> Changes {
        Changes(self.picture.subscribe())
    }

    async fn fold(self, mut events: broadcast::Receiver<Event>, root: SupervisorHandle) {
        loop {
            match events.recv().await {
                Ok(event) => self.picture.send_modify(|picture| picture.fold(&event)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the status board fell behind: asking the tree");
                    self.resync(&root).await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Asks every supervisor for its children once, after events were
    /// missed (the board's own task waits; its readers do not).
    async fn resync(&self, root: &SupervisorHandle) {
        let mut rows = Vec::new();
        let mut supervisors = vec![root.clone()];
        while let Some(supervisor) = supervisors.pop() {
            for info in supervisor.which_children_unmeasured().await {
                if info.kind == ChildKind::Supervisor {
                    if let Ok(nested) = supervisor.supervisor(info.id.clone()).await {
                        supervisors.push(nested);
                    }
                }
                rows.push((format!("{}/{}", supervisor.name(), info.id), info));
            }
        }
        self.picture.send_modify(|picture| {
            // What the tree no longer has is gone from the picture too.
            let present: BTreeSet<&str> = rows.iter().map(|(path, _)| path.as_str()).collect();
            picture
                .rows
                .retain(|path, _| present.contains(path.as_str()));
            for (path, info) in rows {
                let row = picture.row_at(path);
                row.state = info.state;
                row.generation = info.generation;
                row.starts = info.starts + row.ended_unstarted;
                row.restarts = info.restarts;
                row.failures = info.failures;
                row.ready = info.ready;
                row.last_exit = info.last_exit.map(|record| record.exit);
                row.running_since = info.running_since;
                row.waiting_for = info.waiting_for;
                // A running incarnation's view comes with its next spawn;
                // until then its pid and status are not shown.
                if row.running_since.is_none() {
                    row.view = None;
                }
            }
        });
    }

    /// Every instance, in config order; with `usage`, each running one's
    /// memory and CPU too (measured now, by this caller: a few file reads
    /// per instance).
    #[must_use]
    pub fn status(&self, usage: bool) -> Vec<ServiceStatus> {
        let picture = self.picture.borrow();
        picture
            .layout
            .instances
            .iter()
            .map(|instance| picture.status_of(instance, usage))
            .collect()
    }

    /// The instances named, in config order.
    #[must_use]
    pub fn statuses(&self, instances: &[String], usage: bool) -> Vec<ServiceStatus> {
        let picture = self.picture.borrow();
        picture
            .layout
            .instances
            .iter()
            .filter(|i| instances.contains(&i.name))
            .map(|instance| picture.status_of(instance, usage))
            .collect()
    }

    /// Whether every instance of a service with a readiness condition is
    /// ready (`/readyz`): running and ready, or completed; and which are
    /// not (a caller on TCP leaves them out).
    #[must_use]
    pub fn readiness(&self) -> Readiness {
        let picture = self.picture.borrow();
        let mut checked = 0;
        let mut not_ready = Vec::new();
        for instance in &picture.layout.instances {
            if !picture.conditioned.contains(&instance.service) {
                continue;
            }
            checked += 1;
            let row = picture.rows.get(&path_of(instance));
            let ready = row.is_some_and(|row| {
                (row.state == ChildState::Running && row.ready)
                    || row.state == ChildState::Completed
            });
            if !ready {
                not_ready.push(instance.name.clone());
            }
        }
        Readiness {
            ready: not_ready.is_empty(),
            checked,
            not_ready: not_ready.len(),
            not_ready_names: Some(not_ready),
        }
    }

    /// The whole tree, as supervisors and their children, with OS pids and
    /// resource use (measured now, by this caller).
    #[must_use]
    pub fn tree(&self, root_running: bool, uptime_s: f64) -> TreeNode {
        let picture = self.picture.borrow();
        TreeNode {
            name: ROOT.to_owned(),
            kind: NodeKind::Supervisor,
            state: if root_running {
                State::Running
            } else {
                State::Shutdown
            },
            pid: Some(std::process::id()),
            pids: None,
            memory_bytes: None,
            cpu_s: None,
            uptime_s,
            children: Picture::children_of(&picture.by_parent(), ROOT),
        }
    }
}

impl Picture {
    fn row(&mut self, event: &Event, id: &ChildId) -> &mut Row {
        self.row_at(format!("{}/{id}", event.supervisor))
    }

    /// The row at `path`, new if it was not seen yet.
    fn row_at(&mut self, path: String) -> &mut Row {
        let seen = self.count;
        let row = self
            .rows
            .entry(path)
            .or_insert_with(|| Box::new(Row::new(seen)));
        if row.seen == seen {
            self.count += 1;
        }
        row
    }

    /// Folds one event into the picture.
    fn fold(&mut self, event: &Event) {
        match &event.kind {
            EventKind::ChildState { id, state } => {
                let row = self.row(event, id);
                row.state = *state;
                if !matches!(
                    state,
                    ChildState::Pending
                        | ChildState::Restarting
                        | ChildState::BackingOff
                        | ChildState::CrashLoopBackOff
                ) {
                    row.waiting_for.clear();
                }
            }
            EventKind::ChildSpawned {
                id,
                generation,
                view,
                ..
            } => {
                let started = SystemTime::now()
                    .checked_sub(event.at.elapsed())
                    .unwrap_or_else(SystemTime::now);
                let row = self.row(event, id);
                row.generation = *generation;
                row.view = Some(view.clone());
                row.running_since = Some(started);
                row.ready = false;
                row.waiting_for.clear();
            }
            EventKind::ChildStarted { id, starts, .. } => {
                let row = self.row(event, id);
                row.started = row.generation;
                row.starts = *starts + row.ended_unstarted;
            }
            EventKind::ChildReady { id, generation } => {
                let row = self.row(event, id);
                if row.generation == *generation {
                    row.ready = true;
                }
            }
            EventKind::ChildNotReady { id, generation, .. } => {
                let row = self.row(event, id);
                if row.generation == *generation {
                    row.ready = false;
                }
            }
            EventKind::ChildExited {
                id,
                exit,
                failures,
                generation,
                pid,
                ..
            } => {
                let row = self.row(event, id);
                if pid.is_some() && *generation > row.started {
                    row.ended_unstarted += 1;
                    row.starts += 1;
                    row.started = *generation;
                }
                row.last_exit = Some(exit.clone());
                row.failures = *failures;
                row.view = None;
                row.running_since = None;
                row.ready = false;
            }
            EventKind::ChildStartFailed { id, failures, .. } => {
                self.row(event, id).failures = *failures;
            }
            EventKind::ChildRestarting { id, restarts, .. } => {
                self.row(event, id).restarts = *restarts;
            }
            EventKind::ChildWaiting { id, waiting_for } => {
                self.row(event, id).waiting_for.clone_from(waiting_for);
            }
            EventKind::ChildRemoved { id } => {
                // A supervisor's children went with it (a service's
                // replicas, a group's services): a service added again
                // later starts from nothing.
                let path = format!("{}/{id}", event.supervisor);
                let under = format!("{path}/");
                self.rows
                    .retain(|p, _| p != &path && !p.starts_with(&under));
            }
            _ => {}
        }
    }

    /// The status of one instance: its row, or its unit's wait while the
    /// supervisor of its replicas has not started it yet.
    fn status_of(&self, instance: &Instance, usage: bool) -> ServiceStatus {
        let mut status =
            ServiceStatus::pending(&instance.name, &instance.service, instance.group.as_deref());
        status.has_readiness = self.conditioned.contains(&instance.service);
        let row = self.rows.get(&path_of(instance));
        if let Some(row) = row {
            status.state = row.state.into();
            if let ChildState::Failed(reason) = row.state {
                status.failed_because = Some(reason.into());
            }
            status.generation = row.generation;
            status.starts = row.starts;
            status.restarts = row.restarts;
            status.failures = row.failures;
            status.last_exit = row.last_exit.as_ref().map(tend_wire::Exit::from);
            status.uptime_s = row
                .running_since
                .and_then(|since| SystemTime::now().duration_since(since).ok())
                .map_or(0.0, |d| d.as_secs_f64());
            if let Some(view) = row.view.as_ref().filter(|v| v.is_live()) {
                status.pid = view.pid();
                // Ready while its incarnation lives.
                status.ready = row.ready;
                status.status_text = view.status();
                if usage {
                    if let Some(used) = view.usage() {
                        status.memory_bytes = used.memory;
                        status.cpu_s = used.cpu_time.map(|d| d.as_secs_f64());
                    }
                }
            }
        }
        // A replica waits with its whole service (its supervisor).
        let waits = match row {
            Some(row) if !row.waiting_for.is_empty() => &row.waiting_for,
            _ => match instance.parents.split_last() {
                Some((unit, above)) if row.is_none_or(|r| r.state == ChildState::Pending) => {
                    let unit_path = chain_path(above, unit);
                    self.rows
                        .get(&unit_path)
                        .map_or(&[][..], |u| &u.waiting_for)
                }
                _ => &[][..],
            },
        };
        status.waiting_for = waits
            .iter()
            .map(|(service, condition)| Waiting {
                service: service.to_string(),
                condition: *condition,
            })
            .collect();
        status
    }

    /// The rows under each supervisor path, in the order first seen: one
    /// pass over the rows, however deep the tree.
    fn by_parent(&self) -> HashMap<&str, Vec<(&str, &Row)>> {
        let mut under: HashMap<&str, Vec<(&str, &Row)>> = HashMap::new();
        for (path, row) in &self.rows {
            if let Some((parent, _)) = path.rsplit_once('/') {
                under.entry(parent).or_default().push((path.as_str(), row));
            }
        }
        for rows in under.values_mut() {
            rows.sort_by_key(|(_, row)| row.seen);
        }
        under
    }

    /// The rows under supervisor `path`, each with its own.
    fn children_of(under: &HashMap<&str, Vec<(&str, &Row)>>, path: &str) -> Vec<TreeNode> {
        let Some(rows) = under.get(path) else {
            return Vec::new();
        };
        rows.iter()
            .map(|&(child_path, row)| {
                let children = Picture::children_of(under, child_path);
                let live = row.view.as_ref().filter(|v| v.is_live());
                let used = live.and_then(IncarnationView::usage);
                TreeNode {
                    name: child_path[path.len() + 1..].to_owned(),
                    kind: if children.is_empty() {
                        NodeKind::Service
                    } else {
                        NodeKind::Supervisor
                    },
                    state: row.state.into(),
                    pid: live.and_then(IncarnationView::pid),
                    pids: used.as_ref().and_then(|u| u.pids),
                    memory_bytes: used.as_ref().and_then(|u| u.memory),
                    cpu_s: used.and_then(|u| u.cpu_time).map(|d| d.as_secs_f64()),
                    uptime_s: row
                        .running_since
                        .and_then(|since| SystemTime::now().duration_since(since).ok())
                        .map_or(0.0, |d| d.as_secs_f64()),
                    children,
                }
            })
            .collect()
    }
}

/// Where an instance's row is: `tend/parents…/name`.
fn path_of(instance: &Instance) -> String {
    chain_path(&instance.parents, &instance.name)
}

/// `tend/chain…/id`.
fn chain_path(chain: &[String], id: &str) -> String {
    let mut path = ROOT.to_owned();
    for link in chain {
        path.push('/');
        path.push_str(link);
    }
    path.push('/');
    path.push_str(id);
    path
}

#[cfg(test)]
mod tests {
    //! The board against a real engine tree of tasks named as a config's
    //! instances, on a paused clock.

    use std::time::Duration;

    use tend_engine::{ChildSpec, Context, Restart, Supervisor};

    use super::*;

    const CONFIG: &str = r#"
[services.db]
command = ["db"]
ready = { log = "up", timeout = "30s" }
[services.api]
command = ["api"]
depends_on = { db = "ready" }
[services.job]
command = ["job"]
restart = "never"
[services.web]
command = ["web"]
replicas = 2
"#;

    fn config() -> Config {
        tend_config::parse_str("tend.toml", CONFIG).unwrap()
    }

    /// A task that runs until cancelled, ready when `ready` says so.
    fn server(id: &str, ready: tokio::sync::watch::Receiver<bool>) -> ChildSpec {
        ChildSpec::task(id, move |ctx: Context| {
            let mut ready = ready.clone();
            async move {
                let _ = ready.wait_for(|r| *r).await;
                ctx.ready();
                ctx.cancelled().await;
            }
        })
    }

    fn forever(id: &str) -> ChildSpec {
        ChildSpec::task(id, |ctx: Context| async move { ctx.cancelled().await })
    }

    fn state_of(board: &Board, name: &str) -> State {
        board.statuses(&[name.to_owned()], false)[0].state
    }

    /// Lets the tree and the board's task run until nothing moves.
    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    async fn tree() -> (SupervisorHandle, Board, tokio::sync::watch::Sender<bool>) {
        let (db_ready, ready) = tokio::sync::watch::channel(false);
        let mut builder = Supervisor::builder(ROOT)
            .concurrent_start(true)
            .child(server("db", ready).await_ready(Duration::from_secs(30)))
            .child(forever("api").depends_on("db", Condition::Ready))
            .child(
                ChildSpec::task("job", |_ctx: Context| async move {})
                    .restart(Restart::Temporary)
                    .keep_spec(true),
            )
            .child(ChildSpec::supervisor(
                Supervisor::builder("web")
                    .concurrent_start(true)
                    .child(forever("web.1"))
                    .child(forever("web.2")),
            ));
        let events = builder.subscribe();
        let root = builder.start().await.unwrap();
        let board = Board::start(&Arc::new(config()), events, root.clone());
        (root, board, db_ready)
    }

    #[tokio::test(start_paused = true)]
    async fn the_board_folds_starts_waits_readiness_and_completion() {
        let (root, board, db_ready) = tree().await;
        settle().await;
        assert_eq!(state_of(&board, "db"), State::Starting, "not ready yet");
        let api = &board.statuses(&["api".to_owned()], false)[0];
        assert_eq!(api.state, State::Pending);
        assert_eq!(
            api.text().status.as_deref(),
            Some("waiting for db (ready)"),
            "what it waits for, from the engine's own event"
        );
        assert_eq!(state_of(&board, "job"), State::Completed);
        assert_eq!(
            state_of(&board, "web.2"),
            State::Running,
            "a replica, under its set"
        );
        let readiness = board.readiness();
        assert_eq!(
            (readiness.ready, readiness.checked, readiness.not_ready),
            (false, 1, 1)
        );
        assert_eq!(readiness.not_ready_names, Some(vec!["db".to_owned()]));
        assert!(board.statuses(&["db".to_owned()], false)[0].has_readiness);
        assert!(!api.has_readiness, "no condition of its own");

        db_ready.send_replace(true);
        settle().await;
        let db = &board.statuses(&["db".to_owned()], false)[0];
        assert_eq!((db.state, db.ready, db.starts), (State::Running, true, 1));
        assert_eq!(state_of(&board, "api"), State::Running);
        assert!(board.readiness().ready);
        assert_eq!(board.readiness().not_ready_names, Some(Vec::new()));
        root.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_and_a_stop_show_as_the_tree_has_them() {
        let (root, board, db_ready) = tree().await;
        db_ready.send_replace(true);
        settle().await;
        let web = crate::tree::supervisor_at(&root, &["web".to_owned()])
            .await
            .unwrap();
        web.restart_child_now("web.1").await.unwrap();
        settle().await;
        let restarted = &board.statuses(&["web.1".to_owned()], false)[0];
        assert_eq!((restarted.state, restarted.generation), (State::Running, 2));
        web.terminate_child("web.2").await.unwrap();
        settle().await;
        assert_eq!(state_of(&board, "web.2"), State::Shutdown);
        assert_eq!(
            board
                .status(false)
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            ["db", "api", "job", "web.1", "web.2"],
            "config order"
        );
        let ps = board.tree(true, 0.0);
        let names: Vec<&str> = ps.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["db", "api", "job", "web"]);
        assert_eq!(
            ps.children[3].children.len(),
            2,
            "the replicas under their set"
        );
        root.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_board_that_fell_behind_asks_the_tree() {
        let (root, board, db_ready) = tree().await;
        db_ready.send_replace(true);
        settle().await;
        // Forget what was folded, as if the stream had been missed.
        board.picture.send_modify(|picture| picture.rows.clear());
        assert_eq!(state_of(&board, "db"), State::Pending);
        board.refresh(&root).await;
        assert_eq!(state_of(&board, "db"), State::Running);
        assert_eq!(state_of(&board, "web.1"), State::Running);
        assert_eq!(state_of(&board, "job"), State::Completed);
        root.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn ended_returns_once_the_incarnation_is_gone() {
        let (root, board, db_ready) = tree().await;
        db_ready.send_replace(true);
        settle().await;
        let ended = board.ended("api", 1);
        tokio::pin!(ended);
        assert!(
            tokio::time::timeout(Duration::from_millis(10), &mut ended)
                .await
                .is_err(),
            "api runs"
        );
        root.terminate_child("api").await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), ended)
            .await
            .expect("told once api stopped");
        root.shutdown().await;
    }
}
