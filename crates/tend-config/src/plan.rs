//! What a reload does, worked out from the old and the new config before
//! anything is touched: which units (services, groups) go, come, change or
//! stay. Pure, so it is tested without a running tree.

use std::collections::BTreeSet;

use crate::model::{Config, Service};

/// What changes from one config to the next.
///
/// # Examples
///
/// ```
/// # fn config(text: &str) -> tend_config::Config {
/// #     tend_config::parse_str("tend.toml", text).unwrap()
/// # }
/// use tend_config::Plan;
///
/// let old = config("[services.a]\ncommand = [\"a\"]\n[services.b]\ncommand = [\"b\"]\n");
/// let new = config("[services.a]\ncommand = [\"a\", \"-v\"]\n[services.c]\ncommand = [\"c\"]\n");
/// let plan = Plan::between(&old, &new);
/// assert_eq!(plan.changed, ["a"]);
/// assert_eq!((plan.added.as_slice(), plan.removed.as_slice()), (&["c".to_owned()][..], &["b".to_owned()][..]));
/// assert_eq!(plan.services_down, ["a", "b"]);
/// assert_eq!(plan.services_up, ["a", "c"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Groups to stop and remove: gone, or changed (then brought up anew).
    pub groups_down: BTreeSet<String>,
    /// Groups to add: new, or changed.
    pub groups_up: BTreeSet<String>,
    /// Services to stop and remove (in the old config's order): gone,
    /// changed, or in a group that goes down.
    pub services_down: Vec<String>,
    /// Services to add (in the new config's order): new, changed, or in a
    /// group that comes up.
    pub services_up: Vec<String>,
    /// Services in the new config only.
    pub added: Vec<String>,
    /// Services in the old config only.
    pub removed: Vec<String>,
    /// Services in both whose settings changed (or whose group did).
    pub changed: Vec<String>,
    /// Services left as they run.
    pub unchanged: Vec<String>,
    /// Changes a reload does not apply (the root's settings): each a
    /// sentence.
    pub not_applied: Vec<String>,
}

impl Plan {
    /// What a reload from `old` to `new` does.
    #[must_use]
    pub fn between(old: &Config, new: &Config) -> Plan {
        let mut plan = Plan::default();
        if old.supervisor != new.supervisor {
            plan.not_applied.push(
                "[supervisor] settings changed: they apply when tend is restarted".to_owned(),
            );
        }
        if old.api != new.api {
            plan.not_applied
                .push("[api] settings changed: they apply when tend is restarted".to_owned());
        }
        for group in &old.groups {
            if new.groups.iter().find(|g| g.name == group.name) != Some(group) {
                plan.groups_down.insert(group.name.clone());
            }
        }
        for group in &new.groups {
            if old.groups.iter().find(|g| g.name == group.name) != Some(group) {
                plan.groups_up.insert(group.name.clone());
            }
        }
        let regrouped = |s: &Service, groups: &BTreeSet<String>| {
            s.group.as_ref().is_some_and(|g| groups.contains(g))
        };
        for service in &old.services {
            match new.service(&service.name) {
                None => {
                    plan.services_down.push(service.name.clone());
                    plan.removed.push(service.name.clone());
                }
                Some(now) if now != service || regrouped(service, &plan.groups_down) => {
                    plan.services_down.push(service.name.clone());
                }
                Some(_) => plan.unchanged.push(service.name.clone()),
            }
        }
        for service in &new.services {
            match old.service(&service.name) {
                None => {
                    plan.services_up.push(service.name.clone());
                    plan.added.push(service.name.clone());
                }
                Some(before) if before != service || regrouped(service, &plan.groups_up) => {
                    plan.services_up.push(service.name.clone());
                    plan.changed.push(service.name.clone());
                }
                Some(_) => {}
            }
        }
        plan
    }

    /// Whether the service is brought down or up as part of its group (the
    /// group is replaced whole).
    #[must_use]
    pub fn moves_with_group(&self, service: &Service, up: bool) -> bool {
        let groups = if up {
            &self.groups_up
        } else {
            &self.groups_down
        };
        service.group.as_ref().is_some_and(|g| groups.contains(g))
    }
}
