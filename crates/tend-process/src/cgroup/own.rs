//! Where this process sits in each cgroup hierarchy: `/proc/self/cgroup`,
//! read and parsed in this one place.

use std::io;

/// One line of `/proc/self/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    /// The comma-separated controllers of a v1 hierarchy; empty for v2.
    pub(crate) controllers: String,
    /// This process's cgroup in that hierarchy, from its root.
    pub(crate) path: String,
}

impl Membership {
    /// Whether this is the v2 (unified) hierarchy (`0::/path`).
    pub(crate) fn is_v2(&self) -> bool {
        self.controllers.is_empty()
    }

    /// Whether this v1 hierarchy holds `controller`.
    pub(crate) fn holds(&self, controller: &str) -> bool {
        self.controllers.split(',').any(|c| c == controller)
    }
}

/// Every hierarchy this process belongs to.
pub(crate) fn memberships() -> io::Result<Vec<Membership>> {
    Ok(parse(&std::fs::read_to_string("/proc/self/cgroup")?))
}

pub(crate) fn parse(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            Some(Membership {
                controllers: controllers.to_string(),
                path: path.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hybrid_layout_lists_v1_controllers_and_the_v2_path() {
        let m = parse("12:pids:/user.slice\n4:cpu,cpuacct:/\n0::/user.slice/session-1.scope\n");
        assert_eq!(m.len(), 3);
        assert!(m[0].holds("pids") && !m[0].is_v2());
        assert!(m[1].holds("cpu") && m[1].holds("cpuacct") && !m[1].holds("cpuset"));
        assert!(m[2].is_v2());
        assert_eq!(m[2].path, "/user.slice/session-1.scope");
    }
}
