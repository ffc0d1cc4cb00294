//! From a [`Config`] to child specs, and where each instance sits.
//!
//! The root supervisor (`tend`) has, in start order, the services outside
//! any group, then the groups, each a child supervisor over its services.
//! A service with `replicas > 1` is a one-for-one supervisor of its own
//! (named after the service) over `name.1` … `name.N`. Every supervisor
//! starts concurrently: by the services' `depends_on` (siblings only), as
//! the graph allows, and a failed start is handled like any exit. Every
//! supervisor stops the same way in reverse: a service after those that
//! depend on it, and services the graph does not order side by side.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Arc;

use tend_config::{defaults, Config, Group, Member, Service};
use tend_engine::{ChildSpec, ChildState, Supervisor, SupervisorHandle};
use tend_process::ProcessExt;

use crate::logs::Sinks;

/// The root supervisor's name (the first part of every event's path).
pub const ROOT: &str = "tend";

/// Where an instance is: the chain of supervisor ids from the root down to
/// the supervisor whose child it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Its name (the child id).
    pub name: String,
    /// Its service.
    pub service: String,
    /// Its group.
    pub group: Option<String>,
    /// Supervisor ids from the root's child down to its own supervisor.
    pub parents: Vec<String>,
}

/// Every instance of a config, in config order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// The instances.
    pub instances: Vec<Instance>,
    by_name: BTreeMap<String, usize>,
}

impl Layout {
    /// The layout of `config`.
    #[must_use]
    pub fn of(config: &Config) -> Layout {
        let mut instances = Vec::new();
        for service in &config.services {
            let mut parents: Vec<String> = service.group.iter().cloned().collect();
            if service.replicas > 1 {
                parents.push(service.name.clone());
            }
            for name in service.instances() {
                instances.push(Instance {
                    name,
                    service: service.name.clone(),
                    group: service.group.clone(),
                    parents: parents.clone(),
                });
            }
        }
        let by_name = instances
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        Layout { instances, by_name }
    }

    /// The instance called `name`.
    #[must_use]
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.by_name.get(name).map(|&i| &self.instances[i])
    }

    /// The instances `name` means: that instance, or every instance of the
    /// service or group of that name.
    #[must_use]
    pub fn resolve(&self, name: &str) -> Vec<&Instance> {
        if let Some(instance) = self.instance(name) {
            return vec![instance];
        }
        self.instances
            .iter()
            .filter(|i| i.service == name || i.group.as_deref() == Some(name))
            .collect()
    }

    /// The instances `names` mean, each once, in the order named (every
    /// instance when `names` is empty): the one place a name is resolved,
    /// for every command and every reader.
    ///
    /// # Errors
    /// The first name that means nothing.
    pub fn find(&self, names: &[String]) -> Result<Vec<&Instance>, Unknown> {
        if names.is_empty() {
            return Ok(self.instances.iter().collect());
        }
        let mut found: Vec<&Instance> = Vec::new();
        for name in names {
            let matched = self.resolve(name);
            if matched.is_empty() {
                return Err(Unknown {
                    name: name.clone(),
                    known: self.instances.iter().map(|i| i.name.clone()).collect(),
                });
            }
            for instance in matched {
                if !found.iter().any(|f| f.name == instance.name) {
                    found.push(instance);
                }
            }
        }
        Ok(found)
    }

    /// The widest instance name (for aligned output).
    #[must_use]
    pub fn width(&self) -> usize {
        self.instances
            .iter()
            .map(|i| i.name.len())
            .max()
            .unwrap_or(0)
    }

    /// The position of `instance` in config order (its colour).
    #[must_use]
    pub fn position(&self, instance: &str) -> usize {
        self.by_name.get(instance).copied().unwrap_or(0)
    }
}

/// A name that is no instance, service or group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no service called {name:?} (services: {})", .known.join(", "))]
pub struct Unknown {
    /// The name.
    pub name: String,
    /// The instances there are.
    pub known: Vec<String>,
}

/// Where a previous image of the daemon left its instances (`tend
/// upgrade`); empty for a fresh start or a reload.
#[derive(Debug, Clone, Default)]
pub struct Handed {
    /// Instances at rest, added so instead of started.
    pub resting: BTreeMap<String, ChildState>,
    /// Instances whose running process is taken over.
    pub kept: BTreeSet<String>,
}

impl Handed {
    /// Whether `dependency` rests where no condition on it can hold: a unit
    /// that kept running while it did must not be failed for it now.
    fn is_dead(&self, dependency: &str) -> bool {
        matches!(
            self.resting.get(dependency),
            Some(ChildState::Shutdown | ChildState::Failed(_) | ChildState::Isolated)
        )
    }
}

/// The supervisor `parents` leads to, from `root`.
///
/// # Errors
/// If a supervisor on the way is gone.
pub async fn supervisor_at(
    root: &SupervisorHandle,
    parents: &[String],
) -> Result<SupervisorHandle, tend_engine::ControlError> {
    let mut handle = root.clone();
    for id in parents {
        handle = handle.supervisor(id.as_str()).await?;
    }
    Ok(handle)
}

/// The root's children.
///
/// # Errors
/// If a log file cannot be opened.
pub fn root_children(
    config: &Config,
    layout: &Layout,
    sinks: &Sinks,
    handed: &Handed,
) -> io::Result<Vec<ChildSpec>> {
    config
        .root_members()
        .into_iter()
        .map(|member| match member {
            Member::Service(service) => service_unit(service, layout, sinks, handed),
            Member::Group(group) => group_unit(config, group, layout, sinks, handed),
        })
        .collect()
}

/// A group: a supervisor over its services.
///
/// # Errors
/// If a log file cannot be opened.
pub fn group_unit(
    config: &Config,
    group: &Group,
    layout: &Layout,
    sinks: &Sinks,
    handed: &Handed,
) -> io::Result<ChildSpec> {
    let members = config
        .members_of(group)
        .map(|service| service_unit(service, layout, sinks, handed))
        .collect::<io::Result<Vec<_>>>()?;
    Ok(ChildSpec::supervisor(
        Supervisor::builder(group.name.clone())
            .concurrent_start(true)
            .concurrent_stop(true)
            .strategy(group.strategy)
            .intensity(group.intensity)
            .children(members),
    ))
}

/// A service: its one process, or a supervisor over its replicas.
///
/// # Errors
/// If a log file cannot be opened.
pub fn service_unit(
    service: &Service,
    layout: &Layout,
    sinks: &Sinks,
    handed: &Handed,
) -> io::Result<ChildSpec> {
    let instances = service.instances();
    let unit = if service.replicas == 1 {
        instance_spec(service, &instances[0], layout, sinks, handed)?
    } else {
        let replicas = instances
            .iter()
            .map(|name| instance_spec(service, name, layout, sinks, handed))
            .collect::<io::Result<Vec<_>>>()?;
        // Given up on (its replicas failing faster than its intensity
        // allows, say out of descriptors), it is restarted after the
        // service's backoff: at once would reset every replica's backoff
        // and spin.
        with_dependencies(
            ChildSpec::supervisor(
                Supervisor::builder(service.name.clone())
                    .concurrent_start(true)
                    // Replicas are independent: asked to stop all at once.
                    .concurrent_stop(true)
                    .intensity(defaults::intensity())
                    .children(replicas),
            )
            .backoff(service.backoff.unwrap_or_else(defaults::backoff)),
            service,
            handed,
        )
    };
    Ok(unit)
}

/// A service's unit with its dependencies (its siblings': the unit's,
/// whether it is one process or a supervisor of replicas).
///
/// A unit whose process is taken over from a previous image started under
/// its dependencies then; one of them resting where it can no longer meet
/// a condition (stopped meanwhile) is left out, or the unit would be failed
/// for a start it does not make.
fn with_dependencies(unit: ChildSpec, service: &Service, handed: &Handed) -> ChildSpec {
    let kept = service
        .instances()
        .iter()
        .any(|name| handed.kept.contains(name));
    service
        .depends_on
        .iter()
        .filter(|dep| !(kept && handed.is_dead(&dep.name)))
        .fold(unit, |unit, dep| {
            unit.depends_on(dep.name.as_str(), dep.condition)
        })
        .binds_to(service.binds_to)
}

/// One instance of a service: a process child with the service's restart
/// settings and a log sink of its own (and the service's dependencies, when
/// it is the only instance).
///
/// # Errors
/// If its log file cannot be opened.
pub fn instance_spec(
    service: &Service,
    name: &str,
    layout: &Layout,
    sinks: &Sinks,
    handed: &Handed,
) -> io::Result<ChildSpec> {
    let sink = sinks.open(name, &service.process.logs, layout.position(name))?;
    let mut spec = ChildSpec::process_with_sink(name, Arc::clone(&service.process), sink)
        .restart(service.restart)
        .on_crash(service.on_crash)
        // A service that may end for good ends with its state shown; it
        // does not take the tree down (no auto-shutdown). A `never` one is
        // kept listed once it ended, to show and to start again.
        .significant(false)
        .keep_spec(true);
    if let Some(backoff) = service.backoff {
        spec = spec.backoff(backoff);
    }
    if let Some(budget) = service.budget {
        spec = spec.budget(budget);
    }
    if let Some(limit) = service.start_limit {
        spec = spec.start_limit(limit);
    }
    if let Some(state) = handed.resting.get(name) {
        spec = spec.resting(*state);
    }
    if service.replicas == 1 {
        spec = with_dependencies(spec, service, handed);
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        let config = tend_config::parse_str(
            "tend.toml",
            r#"
[services.db]
command = ["db"]
[services.web]
command = ["web"]
replicas = 2
[services.proxy]
command = ["proxy"]
[groups.front]
services = ["web", "proxy"]
"#,
        )
        .unwrap();
        Layout::of(&config)
    }

    fn names(found: &[&Instance]) -> Vec<String> {
        found.iter().map(|i| i.name.clone()).collect()
    }

    #[test]
    fn instances_share_their_services_process_spec() {
        // A thousand services held each spec twice, the config's and the
        // child's (1.2 KB a copy, issue 26): the child holds the config's.
        let config = tend_config::parse_str(
            "tend.toml",
            "[services.web]\ncommand = [\"web\"]\nreplicas = 3\n",
        )
        .unwrap();
        let layout = Layout::of(&config);
        let root = std::env::temp_dir().join(format!("tend-tree-share-{}", std::process::id()));
        let dir =
            crate::paths::StateDir::for_config(std::path::Path::new("tend.toml"), Some(&root));
        dir.create().unwrap();
        let sinks = Sinks::new(dir, crate::logs::Echo::Off, layout.width());
        let service = &config.services[0];
        let alone = Arc::strong_count(&service.process);
        let instances: Vec<ChildSpec> = ["web.1", "web.2", "web.3"]
            .iter()
            .map(|name| instance_spec(service, name, &layout, &sinks, &Handed::default()).unwrap())
            .collect();
        assert!(
            Arc::strong_count(&service.process) >= alone + instances.len(),
            "each instance holds the service's spec, not a copy"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_name_means_an_instance_a_service_or_a_group() {
        let layout = layout();
        assert_eq!(names(&layout.find(&["web.2".into()]).unwrap()), ["web.2"]);
        assert_eq!(
            names(&layout.find(&["web".into()]).unwrap()),
            ["web.1", "web.2"]
        );
        assert_eq!(
            names(&layout.find(&["front".into()]).unwrap()),
            ["web.1", "web.2", "proxy"]
        );
        assert_eq!(layout.find(&[]).unwrap().len(), 4, "none: every instance");
        let web = &layout.find(&["web.1".into()]).unwrap()[0];
        assert_eq!(
            web.parents,
            ["front", "web"],
            "under its group, then its replica set"
        );
    }

    #[test]
    fn each_instance_once_in_the_order_named() {
        let layout = layout();
        assert_eq!(
            names(
                &layout
                    .find(&["proxy".into(), "front".into(), "db".into()])
                    .unwrap()
            ),
            ["proxy", "web.1", "web.2", "db"]
        );
    }

    #[test]
    fn an_unknown_name_says_which_and_what_there_is() {
        let layout = layout();
        let unknown = layout.find(&["db".into(), "web.3".into()]).unwrap_err();
        assert_eq!(unknown.name, "web.3");
        assert_eq!(
            unknown.to_string(),
            r#"no service called "web.3" (services: db, web.1, web.2, proxy)"#
        );
        assert!(layout.find(&["we".into()]).is_err(), "no prefix matching");
    }
}
