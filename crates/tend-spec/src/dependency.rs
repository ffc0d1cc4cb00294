//! What a child waits for before it starts: a sibling's condition
//! (docker compose's `service_started` / `service_healthy` /
//! `service_completed_successfully`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SpecError;

/// The condition a dependency must reach before its dependent starts.
///
/// # Examples
///
/// ```
/// use tend_spec::Condition;
///
/// assert_eq!("ready".parse::<Condition>(), Ok(Condition::Ready));
/// assert_eq!(Condition::Completed.to_string(), "completed");
/// assert!("healthy".parse::<Condition>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// It was spawned and runs (or ran and completed).
    Started,
    /// It said it is ready (a child with no readiness signal is ready once
    /// started).
    Ready,
    /// Its last run ended normally: a one-shot set-up job that finished.
    Completed,
}

impl Condition {
    /// Every condition, in the order of the names a config accepts.
    pub const ALL: [Condition; 3] = [Condition::Started, Condition::Ready, Condition::Completed];

    /// The name a config uses.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Ready => "ready",
            Condition::Completed => "completed",
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Condition {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        Condition::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| format!("{name:?} is not a condition (started, ready or completed)"))
    }
}

/// Orders children so that each comes after the siblings it depends on,
/// keeping the given order wherever the graph leaves a choice (Kahn's
/// algorithm, lowest position first). `nodes` are (name, dependencies).
///
/// # Errors
/// Every unknown dependency ([`SpecError::UnknownDependency`]) and every
/// cycle ([`SpecError::DependencyCycle`], its members in order, the first
/// repeated at the end).
///
/// # Examples
///
/// ```
/// use tend_spec::{dependency_order, SpecError};
///
/// let order = dependency_order(&[("web", vec!["db"]), ("db", vec![]), ("log", vec![])]).unwrap();
/// assert_eq!(order, [1, 0, 2]); // db, web, log
///
/// let errors = dependency_order(&[("a", vec!["b"]), ("b", vec!["a"]), ("c", vec!["x"])]).unwrap_err();
/// assert!(errors.contains(&SpecError::DependencyCycle(vec!["a".into(), "b".into(), "a".into()])));
/// assert!(errors.contains(&SpecError::UnknownDependency { child: "c".into(), name: "x".into() }));
/// ```
pub fn dependency_order(nodes: &[(&str, Vec<&str>)]) -> Result<Vec<usize>, Vec<SpecError>> {
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashMap};

    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.0, i)).collect();
    let mut errors = Vec::new();
    // Edges dependency → dependents, and how many dependencies each waits on.
    let mut dependents = vec![Vec::new(); nodes.len()];
    let mut waits_on = vec![0usize; nodes.len()];
    for (i, (name, deps)) in nodes.iter().enumerate() {
        for dep in deps {
            match index.get(dep) {
                Some(&d) => {
                    dependents[d].push(i);
                    waits_on[i] += 1;
                }
                None => errors.push(SpecError::UnknownDependency {
                    child: (*name).to_owned(),
                    name: (*dep).to_owned(),
                }),
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..nodes.len())
        .filter(|&i| waits_on[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &next in &dependents[i] {
            waits_on[next] -= 1;
            if waits_on[next] == 0 {
                ready.push(Reverse(next));
            }
        }
    }
    // What is left lies on a cycle or behind one: walk each unreported node's
    // dependencies among the left until one repeats.
    let mut reported = vec![false; nodes.len()];
    for start in (0..nodes.len()).filter(|&i| waits_on[i] > 0) {
        let mut path: Vec<usize> = Vec::new();
        let mut at = start;
        while !reported[at] && !path.contains(&at) {
            path.push(at);
            let next = nodes[at]
                .1
                .iter()
                .filter_map(|dep| index.get(dep).copied())
                .find(|&d| waits_on[d] > 0);
            match next {
                Some(next) => at = next,
                None => break,
            }
        }
        if let Some(from) = path.iter().position(|&p| p == at) {
            let cycle = &path[from..];
            let mut names: Vec<String> = cycle.iter().map(|&i| nodes[i].0.to_owned()).collect();
            names.push(nodes[at].0.to_owned());
            errors.push(SpecError::DependencyCycle(names));
        }
        for i in path {
            reported[i] = true;
        }
    }
    if errors.is_empty() {
        Ok(order)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_dependency_is_a_cycle_of_one() {
        let errors = dependency_order(&[("a", vec!["a"])]).unwrap_err();
        assert_eq!(
            errors,
            [SpecError::DependencyCycle(vec!["a".into(), "a".into()])]
        );
    }

    #[test]
    fn a_node_behind_a_cycle_is_not_reported_as_one() {
        let errors =
            dependency_order(&[("x", vec!["a"]), ("a", vec!["b"]), ("b", vec!["a"])]).unwrap_err();
        assert_eq!(
            errors,
            [SpecError::DependencyCycle(vec![
                "a".into(),
                "b".into(),
                "a".into()
            ])]
        );
    }

    #[test]
    fn levels_keep_their_given_order() {
        let nodes = [
            ("c2", vec!["b"]),
            ("c1", vec!["b"]),
            ("b", vec!["a"]),
            ("a", vec![]),
        ];
        assert_eq!(dependency_order(&nodes).unwrap(), [3, 2, 0, 1]);
    }
}
