//! `Plan::between`: what a reload changes, worked out from two configs.

use std::collections::BTreeSet;

use tend_config::{Config, Plan};

fn config(text: &str) -> Config {
    tend_config::parse_str("tend.toml", text).expect("a valid config")
}

const BASE: &str = r#"
[services.db]
command = ["db"]
[services.api]
command = ["api"]
[services.web]
command = ["web"]
[groups.front]
services = ["web"]
"#;

#[test]
fn nothing_changed_touches_nothing() {
    let plan = Plan::between(&config(BASE), &config(BASE));
    assert_eq!(plan.unchanged, ["db", "api", "web"]);
    assert!(plan.services_down.is_empty() && plan.services_up.is_empty());
    assert!(plan.groups_down.is_empty() && plan.groups_up.is_empty());
    assert!(plan.not_applied.is_empty());
}

#[test]
fn a_service_that_only_moved_in_the_file_is_unchanged() {
    let old = r#"
[services.db]
command = ["db"]
[services.api]
command = ["api"]
cwd = "/"
container = { image = "api:1" }
depends_on = { db = "started" }
"#;
    // Where each key is (what errors point at) moves; what runs does not.
    let new = format!("# the database first\n\n{old}");
    let plan = Plan::between(&config(old), &config(&new));
    assert_eq!(plan.unchanged, ["db", "api"]);
    assert!(plan.services_down.is_empty() && plan.services_up.is_empty());
}

#[test]
fn a_changed_service_is_replaced_and_only_it() {
    let new = BASE.replace(r#"command = ["api"]"#, r#"command = ["api", "--fast"]"#);
    let plan = Plan::between(&config(BASE), &config(&new));
    assert_eq!(plan.changed, ["api"]);
    assert_eq!(plan.services_down, ["api"]);
    assert_eq!(plan.services_up, ["api"]);
    assert_eq!(plan.unchanged, ["db", "web"]);
}

#[test]
fn a_changed_group_replaces_its_members_whole() {
    let new = BASE.replace(
        "services = [\"web\"]",
        "services = [\"web\"]\nstrategy = \"one_for_all\"",
    );
    let plan = Plan::between(&config(BASE), &config(&new));
    assert_eq!(plan.groups_down, BTreeSet::from(["front".to_owned()]));
    assert_eq!(plan.groups_up, BTreeSet::from(["front".to_owned()]));
    assert_eq!(plan.changed, ["web"], "moved with its group");
    let web = config(&new).service("web").cloned().unwrap();
    assert!(plan.moves_with_group(&web, true) && plan.moves_with_group(&web, false));
}

#[test]
fn added_and_removed_services_and_root_settings() {
    let new = BASE
        .replace("[services.db]\ncommand = [\"db\"]\n", "")
        .replace(
            "[groups.front]",
            "[services.cache]\ncommand = [\"cache\"]\n[supervisor]\nshutdown_timeout = \"1m\"\n[groups.front]",
        );
    let plan = Plan::between(&config(BASE), &config(&new));
    assert_eq!(plan.removed, ["db"]);
    assert_eq!(plan.added, ["cache"]);
    assert_eq!(plan.services_down, ["db"]);
    assert_eq!(plan.services_up, ["cache"]);
    assert_eq!(plan.not_applied.len(), 1, "{:?}", plan.not_applied);
}

#[test]
fn bound_to_follows_binds_to_through_the_chain_and_only_it() {
    let config = config(
        r#"
[services.db]
command = ["db"]

[services.app]
command = ["app"]
depends_on = { db = "ready" }
binds_to = true

[services.proxy]
command = ["proxy"]
depends_on = { app = "ready" }
binds_to = true

[services.loose]
command = ["loose"]
depends_on = { db = "ready" }
"#,
    );
    assert_eq!(config.bound_to("db"), [("app", "db"), ("proxy", "app")]);
    assert_eq!(config.bound_to("app"), [("proxy", "app")]);
    assert!(config.bound_to("loose").is_empty());
    assert!(config.bound_to("proxy").is_empty());
}
