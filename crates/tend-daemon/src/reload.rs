//! A reload carried out: the new config read (a bad one changes nothing),
//! then its [`Plan`] applied to the running tree: what goes or changed is
//! stopped and removed (groups first), what comes or changed is started,
//! what stays is not touched (same pid).

use std::path::Path;

use tend_config::{Config, ConfigError, Plan};
use tend_engine::{ChildId, ChildState, SupervisorHandle};
use tend_wire::{Bound, ErrorCode, ReloadReport};

use crate::failure::Failure;
use crate::logs::Sinks;
use crate::tree::{self, Handed, Layout};

/// The config file as it is now, or why it cannot be run. Read off the
/// async workers: asking a container runtime whether it works (`podman
/// info`) takes half a second.
///
/// # Errors
/// [`ErrorCode::InvalidConfig`] with each problem, or an internal error.
pub async fn read_config(file: &Path) -> Result<Config, Failure> {
    let path = file.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || {
        tend_config::load_here(&path, tend_process::find_runtime)
    })
    .await
    .map_err(|e| Failure::new(ErrorCode::Internal, format!("reading the config: {e}")))?;
    loaded.map_err(|error| {
        let details: Vec<String> = match &error {
            ConfigError::Invalid(list) => list.iter().map(ToString::to_string).collect(),
            _ => vec![error.to_string()],
        };
        Failure {
            code: ErrorCode::InvalidConfig,
            message: format!(
                "the new config is invalid; nothing changed:\n{}",
                details.join("\n")
            ),
            details,
        }
    })
}

/// What the API reports of a plan.
#[must_use]
pub fn report(plan: &Plan, old: &Config) -> ReloadReport {
    // What binds to a service that goes down with the reload goes down
    // with it, and starts again after it: said, with why.
    let mut restarted: Vec<Bound> = Vec::new();
    for service in plan.changed.iter().chain(&plan.removed) {
        for (dependent, binds_to) in old.bound_to(service) {
            let unchanged = plan.unchanged.iter().any(|u| u == dependent);
            if unchanged && !restarted.iter().any(|b| b.service == dependent) {
                restarted.push(Bound {
                    service: dependent.to_owned(),
                    binds_to: binds_to.to_owned(),
                });
            }
        }
    }
    ReloadReport {
        added: plan.added.clone(),
        removed: plan.removed.clone(),
        changed: plan.changed.clone(),
        unchanged: plan.unchanged.clone(),
        not_applied: plan.not_applied.clone(),
        restarted,
    }
}

/// Applies `plan` (from `old` to `new`) to the tree under `root`. Returns
/// what could not be done, one sentence each.
pub async fn apply(
    root: &SupervisorHandle,
    plan: &Plan,
    old: &Config,
    new: &Config,
    sinks: &Sinks,
) -> Vec<String> {
    let new_layout = Layout::of(new);
    // Take down what goes or changes, groups first. Siblings a strategy
    // stopped and that wait to start with a unit taken down are called
    // off with it (OTP's terminate_child): they are started again below.
    let mut called_off = Vec::new();
    for group in &plan.groups_down {
        called_off.extend(remove_unit(root, &[], group).await);
    }
    for service in old
        .services
        .iter()
        .filter(|s| plan.services_down.contains(&s.name))
    {
        if plan.moves_with_group(service, false) {
            continue;
        }
        let parents: Vec<String> = service.group.iter().cloned().collect();
        called_off.extend(remove_unit(root, &parents, &service.name).await);
    }
    for service in old
        .services
        .iter()
        .filter(|s| plan.removed.contains(&s.name))
    {
        for instance in service.instances() {
            sinks.remove(&instance);
        }
    }
    // Bring up what comes or changed.
    let mut failures = Vec::new();
    for group in new
        .groups
        .iter()
        .filter(|g| plan.groups_up.contains(&g.name))
    {
        let started = match tree::group_unit(new, group, &new_layout, sinks, &Handed::default()) {
            Ok(spec) => root.start_child(spec).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = started {
            failures.push(format!("group {}: {e}", group.name));
        }
    }
    for service in new
        .services
        .iter()
        .filter(|s| plan.services_up.contains(&s.name))
    {
        if plan.moves_with_group(service, true) {
            continue;
        }
        let parents: Vec<String> = service.group.iter().cloned().collect();
        let started = match tree::supervisor_at(root, &parents).await {
            Ok(supervisor) => {
                match tree::service_unit(service, &new_layout, sinks, &Handed::default()) {
                    Ok(spec) => supervisor
                        .start_child(spec)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = started {
            failures.push(format!("{}: {e}", service.name));
        }
    }
    for (supervisor, id) in called_off {
        let down = supervisor
            .child_info(id.as_str())
            .await
            .is_ok_and(|info| info.state == ChildState::Shutdown);
        if down {
            if let Err(e) = supervisor.restart_child(id.as_str()).await {
                failures.push(format!("{id}: {e}"));
            }
        }
    }
    failures
}

/// Stops and removes a unit (a service or a group) from its supervisor.
/// Returns the siblings that were due to start and are stopped now: those a
/// strategy's restart had stopped to start with it, called off with it.
async fn remove_unit(
    root: &SupervisorHandle,
    parents: &[String],
    id: &str,
) -> Vec<(SupervisorHandle, ChildId)> {
    let Ok(supervisor) = tree::supervisor_at(root, parents).await else {
        return Vec::new();
    };
    let due: Vec<ChildId> = supervisor
        .which_children_unmeasured()
        .await
        .into_iter()
        .filter(|info| info.state == ChildState::Pending)
        .map(|info| info.id)
        .collect();
    let _ = supervisor.terminate_child(id).await;
    let _ = supervisor.delete_child(id).await;
    due.into_iter()
        .filter(|sibling| sibling.as_str() != id)
        .map(|sibling| (supervisor.clone(), sibling))
        .collect()
}
