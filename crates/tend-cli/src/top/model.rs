//! What `tend top` knows: the picture the watch stream keeps current,
//! each instance's trends (restarts, CPU, memory over time), the
//! selection, the filter and what the keys are in the middle of. Pure
//! state: no terminal, no I/O, so it is tested as it is.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tend_wire::{DaemonInfo, Entry, Record, ServiceStatus, State, Watch};

/// Restart buckets a trend keeps (with 10 s buckets: five minutes).
pub const BUCKETS: usize = 30;
/// How long one restart bucket lasts.
pub const BUCKET: Duration = Duration::from_secs(10);
/// Samples of CPU and memory a trend keeps.
pub const SAMPLES: usize = 120;
/// Log lines the pane keeps.
pub const LOG_LINES: usize = 500;

/// An instance's history as `top` saw it.
#[derive(Debug, Clone)]
pub struct Trend {
    /// Restarts per bucket, oldest first; the last is the current one.
    pub restarts: VecDeque<u32>,
    bucket_start: Instant,
    /// CPU use per sample, in percent of one core.
    pub cpu: VecDeque<f64>,
    /// Memory per sample, in bytes.
    pub memory: VecDeque<u64>,
    /// The CPU time and the moment of the last sample.
    last_cpu: Option<(f64, Instant)>,
    /// When the instance's status was last received (its uptime counts on
    /// from there).
    pub received: Instant,
}

impl Trend {
    fn new(now: Instant) -> Trend {
        Trend {
            restarts: std::iter::repeat_n(0, BUCKETS).collect(),
            bucket_start: now,
            cpu: VecDeque::new(),
            memory: VecDeque::new(),
            last_cpu: None,
            received: now,
        }
    }

    /// Moves the restart buckets on to `now`.
    fn advance(&mut self, now: Instant) {
        while now.duration_since(self.bucket_start) >= BUCKET {
            self.restarts.pop_front();
            self.restarts.push_back(0);
            self.bucket_start += BUCKET;
        }
    }

    /// Counts `n` restarts at `at` (which may be in the past, from the
    /// journal: into the bucket it falls in, if still kept).
    fn add_restarts(&mut self, n: u32, at: Instant, now: Instant) {
        self.advance(now);
        let back = if at >= self.bucket_start {
            0
        } else {
            (self.bucket_start.duration_since(at).as_secs_f64() / BUCKET.as_secs_f64()).ceil()
                as usize
        };
        if back < BUCKETS {
            let index = BUCKETS - 1 - back;
            self.restarts[index] += n;
        }
    }

    /// The last CPU sample, in percent.
    pub fn cpu_now(&self) -> Option<f64> {
        self.cpu.back().copied()
    }
}

/// What the keys are in the middle of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Moving about.
    Normal,
    /// Typing a filter.
    Filter,
    /// Typing a signal for the target.
    Signal(String),
    /// Asking whether to do an action to the target.
    Confirm(Action, String),
}

/// What an operator can do to a service, instance or group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start it.
    Start,
    /// Stop it.
    Stop,
    /// Restart it.
    Restart,
    /// Kill it.
    Kill,
    /// Send it a signal.
    Signal(String),
}

impl Action {
    /// The verb, as the API's path and people say it.
    pub fn verb(&self) -> tend_wire::Action {
        match self {
            Action::Start => tend_wire::Action::Start,
            Action::Stop => tend_wire::Action::Stop,
            Action::Restart => tend_wire::Action::Restart,
            Action::Kill => tend_wire::Action::Kill,
            Action::Signal(_) => tend_wire::Action::Signal,
        }
    }
}

/// A row of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// A group: its name and its instances' indices.
    Group(String, Vec<usize>),
    /// An instance: its index in `services`.
    Instance(usize),
}

/// Everything `top` shows.
#[derive(Debug)]
pub struct Model {
    /// The daemon, once the stream said.
    pub daemon: Option<DaemonInfo>,
    /// Every instance, in config order.
    pub services: Vec<ServiceStatus>,
    /// Each instance's trend.
    pub trends: HashMap<String, Trend>,
    /// The rows shown (the filter applied).
    pub rows: Vec<Row>,
    /// The selected row.
    pub selected: usize,
    /// The filter: rows whose name, service, group or state contain it.
    pub filter: String,
    /// What the keys are in the middle of.
    pub mode: Mode,
    /// The selected row's log lines, oldest first, and whose they are.
    pub logs: VecDeque<String>,
    /// Whose logs the pane holds.
    pub logs_of: Option<String>,
    /// The last outcome, for the bottom line.
    pub message: Option<String>,
    /// The latest journal entry, for the line above it.
    pub last_event: Option<Entry>,
    /// Whether the stream is connected.
    pub connected: bool,
    /// When the snapshot came (the daemon's uptime counts on from there).
    snapshot_at: Option<Instant>,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            daemon: None,
            services: Vec::new(),
            trends: HashMap::new(),
            rows: Vec::new(),
            selected: 0,
            filter: String::new(),
            mode: Mode::Normal,
            logs: VecDeque::new(),
            logs_of: None,
            message: None,
            last_event: None,
            connected: false,
            snapshot_at: None,
        }
    }
}

impl Model {
    /// Takes in one message of the watch stream.
    pub fn apply(&mut self, message: Watch, now: Instant) {
        match message {
            Watch::Snapshot { daemon, services } => {
                self.daemon = Some(daemon);
                self.connected = true;
                self.snapshot_at = Some(now);
                let keep: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
                self.trends.retain(|name, _| keep.contains(name));
                for status in &services {
                    let trend = self
                        .trends
                        .entry(status.name.clone())
                        .or_insert_with(|| Trend::new(now));
                    trend.received = now;
                }
                self.services = services;
            }
            Watch::Changed {
                services,
                removed,
                order,
            } => {
                self.services.retain(|s| !removed.contains(&s.name));
                for name in &removed {
                    self.trends.remove(name);
                }
                for status in services {
                    let trend = self
                        .trends
                        .entry(status.name.clone())
                        .or_insert_with(|| Trend::new(now));
                    trend.received = now;
                    match self.services.iter_mut().find(|s| s.name == status.name) {
                        Some(known) => {
                            let more = status.restarts.saturating_sub(known.restarts);
                            if more > 0 {
                                trend.add_restarts(more as u32, now, now);
                            }
                            *known = status;
                        }
                        None => self.services.push(status),
                    }
                }
                if let Some(order) = order {
                    self.services.sort_by_key(|s| {
                        order
                            .iter()
                            .position(|n| *n == s.name)
                            .unwrap_or(usize::MAX)
                    });
                }
            }
            // Entries make the daemon look again sooner; the picture that
            // follows says what changed. The latest is shown as it is.
            Watch::Entry { entry } => {
                self.last_event = Some(entry);
                return;
            }
        }
        self.layout();
    }

    /// Counts the restarts the journal remembers (before `top` started)
    /// into the trends.
    pub fn backfill(&mut self, entries: &[Entry], now: Instant) {
        let wall = std::time::SystemTime::now();
        for entry in entries {
            if let Record::Restarting { service, .. } = &entry.record {
                if let Some(trend) = self.trends.get_mut(service) {
                    let ago = wall.duration_since(entry.at).unwrap_or_default();
                    trend.add_restarts(1, now.checked_sub(ago).unwrap_or(now), now);
                }
            }
        }
    }

    /// Takes a CPU and memory sample of every instance (once per
    /// interval, whether or not the stream said anything: an instance
    /// that sent nothing used no CPU).
    pub fn sample(&mut self, now: Instant) {
        for status in &self.services {
            let Some(trend) = self.trends.get_mut(&status.name) else {
                continue;
            };
            trend.advance(now);
            let cpu = match (status.cpu_s, trend.last_cpu) {
                (Some(cpu_s), Some((before, at))) if status.pid.is_some() => {
                    let wall = now.duration_since(at).as_secs_f64();
                    if wall > 0.0 {
                        ((cpu_s - before).max(0.0) / wall) * 100.0
                    } else {
                        0.0
                    }
                }
                _ => 0.0,
            };
            trend.last_cpu = status.cpu_s.map(|c| (c, now));
            if trend.cpu.len() == SAMPLES {
                trend.cpu.pop_front();
            }
            trend.cpu.push_back(cpu);
            if trend.memory.len() == SAMPLES {
                trend.memory.pop_front();
            }
            trend.memory.push_back(status.memory_bytes.unwrap_or(0));
        }
    }

    /// Rebuilds the rows: groups (in order of first appearance) with their
    /// instances under them, the filter applied.
    pub fn layout(&mut self) {
        let selected = self.target();
        let filter = self.filter.to_lowercase();
        let matches = |s: &ServiceStatus| {
            filter.is_empty()
                || s.name.to_lowercase().contains(&filter)
                || s.group
                    .as_ref()
                    .is_some_and(|g| g.to_lowercase().contains(&filter))
                || s.text().state.contains(&filter)
        };
        let mut rows = Vec::new();
        let mut grouped: Vec<(String, Vec<usize>)> = Vec::new();
        let mut order: Vec<Option<String>> = Vec::new();
        for (i, s) in self.services.iter().enumerate() {
            if !matches(s) {
                continue;
            }
            match &s.group {
                Some(g) => {
                    if let Some((_, members)) = grouped.iter_mut().find(|(name, _)| name == g) {
                        members.push(i);
                    } else {
                        grouped.push((g.clone(), vec![i]));
                        order.push(Some(g.clone()));
                    }
                }
                None => {
                    order.push(None);
                    grouped.push((String::new(), vec![i]));
                }
            }
        }
        for (name, members) in grouped {
            if name.is_empty() {
                rows.extend(members.into_iter().map(Row::Instance));
            } else {
                rows.push(Row::Group(name, members.clone()));
                rows.extend(members.into_iter().map(Row::Instance));
            }
        }
        self.rows = rows;
        // The selection stays on the same name when it can.
        if let Some(name) = selected {
            if let Some(at) = (0..self.rows.len()).find(|&i| self.name_of(i) == name) {
                self.selected = at;
            }
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    fn name_of(&self, row: usize) -> String {
        match &self.rows[row] {
            Row::Group(name, _) => name.clone(),
            Row::Instance(i) => self.services[*i].name.clone(),
        }
    }

    /// The selected row's name: an instance or a group, what actions act on.
    pub fn target(&self) -> Option<String> {
        (self.selected < self.rows.len()).then(|| self.name_of(self.selected))
    }

    /// The selected instance, when an instance is selected.
    pub fn selected_instance(&self) -> Option<&ServiceStatus> {
        match self.rows.get(self.selected)? {
            Row::Instance(i) => self.services.get(*i),
            Row::Group(_, members) => members.first().and_then(|i| self.services.get(*i)),
        }
    }

    /// Moves the selection by `by` rows.
    pub fn select(&mut self, by: isize) {
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() as isize - 1;
        self.selected = (self.selected as isize + by).clamp(0, last) as usize;
    }

    /// A running instance's uptime now.
    pub fn uptime(&self, status: &ServiceStatus, now: Instant) -> f64 {
        if status.state != State::Running {
            return 0.0;
        }
        let since = self
            .trends
            .get(&status.name)
            .map_or(0.0, |t| now.duration_since(t.received).as_secs_f64());
        status.uptime_s + since
    }

    /// The daemon's uptime now, in seconds.
    pub fn daemon_uptime(&self, now: Instant) -> f64 {
        let since = self
            .snapshot_at
            .map_or(0.0, |at| now.duration_since(at).as_secs_f64());
        self.daemon.as_ref().map_or(0.0, |d| d.uptime_s as f64) + since
    }

    /// Takes in a chunk of the followed log, its control characters
    /// escaped (a service's output must not drive the terminal).
    pub fn log_chunk(&mut self, chunk: &str) {
        for line in chunk.lines() {
            if self.logs.len() == LOG_LINES {
                self.logs.pop_front();
            }
            self.logs.push_back(tend_wire::escape(line).into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tend_wire::DaemonInfo;

    fn status(name: &str, group: Option<&str>, restarts: u64) -> ServiceStatus {
        ServiceStatus {
            state: State::Running,
            pid: Some(1),
            generation: 1,
            starts: 1,
            restarts,
            uptime_s: 10.0,
            memory_bytes: Some(1 << 20),
            cpu_s: Some(1.0),
            ready: true,
            ..ServiceStatus::pending(name, name, group)
        }
    }

    fn daemon() -> DaemonInfo {
        DaemonInfo {
            pid: 1,
            version: "0".into(),
            config: "tend.toml".into(),
            state_dir: ".tend".into(),
            uptime_s: 0,
            upgrades: 0,
            keeper: None,
        }
    }

    fn snapshot(services: Vec<ServiceStatus>) -> Watch {
        Watch::Snapshot {
            daemon: daemon(),
            services,
        }
    }

    #[test]
    fn groups_head_their_instances_and_the_filter_keeps_the_selection() {
        let mut model = Model::default();
        let now = Instant::now();
        model.apply(
            snapshot(vec![
                status("db", None, 0),
                status("api", Some("backend"), 0),
                status("worker.1", Some("backend"), 0),
                status("web", None, 0),
            ]),
            now,
        );
        let names: Vec<String> = (0..model.rows.len()).map(|i| model.name_of(i)).collect();
        assert_eq!(names, ["db", "backend", "api", "worker.1", "web"]);
        model.select(3);
        assert_eq!(model.target().as_deref(), Some("worker.1"));
        model.filter = "work".into();
        model.layout();
        let names: Vec<String> = (0..model.rows.len()).map(|i| model.name_of(i)).collect();
        assert_eq!(names, ["backend", "worker.1"]);
        assert_eq!(model.target().as_deref(), Some("worker.1"), "kept");
    }

    #[test]
    fn the_latest_entry_is_kept_for_its_line_and_a_failed_state_says_why() {
        let mut model = Model::default();
        let now = Instant::now();
        let mut failed = status("db", None, 0);
        failed.state = State::Failed;
        failed.failed_because = Some(tend_wire::FailReason::CircuitBreakerOpen);
        model.apply(snapshot(vec![failed, status("web", None, 0)]), now);
        let entry = Entry {
            id: 3,
            at: std::time::SystemTime::now(),
            supervisor: "tend".into(),
            record: Record::Terminated {
                service: "web".into(),
            },
        };
        model.apply(Watch::Entry { entry }, now);
        let shown = model.last_event.as_ref().map(|e| e.line().to_string());
        assert_eq!(shown.as_deref(), Some("web stopped"));
        model.filter = "breaker".into();
        model.layout();
        let names: Vec<String> = (0..model.rows.len()).map(|i| model.name_of(i)).collect();
        assert_eq!(names, ["db"], "the filter reads the state as it is shown");
    }

    #[test]
    fn restarts_fill_buckets_and_cpu_is_a_rate() {
        let mut model = Model::default();
        let t0 = Instant::now();
        model.apply(snapshot(vec![status("a", None, 0)]), t0);
        model.sample(t0);
        let mut later = status("a", None, 3);
        later.cpu_s = Some(1.5);
        model.apply(
            Watch::Changed {
                services: vec![later],
                removed: Vec::new(),
                order: None,
            },
            t0 + Duration::from_secs(1),
        );
        model.sample(t0 + Duration::from_secs(1));
        let trend = &model.trends["a"];
        assert_eq!(trend.restarts.iter().sum::<u32>(), 3);
        assert_eq!(*trend.restarts.back().unwrap(), 3);
        let cpu = trend.cpu_now().unwrap();
        assert!((cpu - 50.0).abs() < 0.01, "half a core: {cpu}");
        // Nothing more said: no CPU used.
        model.sample(t0 + Duration::from_secs(2));
        assert_eq!(model.trends["a"].cpu_now(), Some(0.0));
        // Buckets move on: after BUCKETS buckets, the restarts are gone.
        model.sample(t0 + BUCKET * (BUCKETS as u32 + 1));
        assert_eq!(model.trends["a"].restarts.iter().sum::<u32>(), 0);
    }

    #[test]
    fn a_removed_instance_goes_and_a_new_one_takes_its_place_in_order() {
        let mut model = Model::default();
        let now = Instant::now();
        model.apply(
            snapshot(vec![status("a", None, 0), status("b", None, 0)]),
            now,
        );
        model.apply(
            Watch::Changed {
                services: vec![status("c", None, 0)],
                removed: vec!["a".into()],
                order: Some(vec!["c".into(), "b".into()]),
            },
            now,
        );
        let names: Vec<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["c", "b"]);
        assert!(!model.trends.contains_key("a"));
    }
}
