//! `docs/supervision-principles.md` names APIs and the tests that pin each
//! rule; every name it gives must exist, so the page cannot go stale
//! silently: each `Type::member` must be defined in the engine or the data
//! model, and each test file (`strategies.rs`, testkit `stop.rs`) must be
//! there.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`, read.
fn sources(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            text.push_str(&sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    text
}

#[test]
fn every_api_and_test_the_page_names_exists() {
    let root = root();
    let page = std::fs::read_to_string(root.join("docs/supervision-principles.md")).unwrap();
    let code = sources(&root.join("crates/tend-engine/src"))
        + &sources(&root.join("crates/tend-spec/src"));
    let mut missing = Vec::new();
    let mut checked = 0;
    for span in page.split('`').skip(1).step_by(2) {
        // `Type::member`, `Type::member(..)`, `Type::member(args).more(..)`:
        // the type and its member must be defined.
        if let Some((ty, rest)) = span.split_once("::") {
            let is_type = ty.chars().next().is_some_and(char::is_uppercase)
                && ty.chars().all(char::is_alphanumeric);
            if !is_type {
                continue;
            }
            let member: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            checked += 1;
            let defines_type = [
                format!("pub struct {ty}"),
                format!("pub enum {ty}"),
                format!("pub trait {ty}"),
            ]
            .iter()
            .any(|d| code.contains(d.as_str()));
            let defines_member = code.contains(&format!("fn {member}"))
                || code.contains(&format!("    {member}"))
                || code.contains(&format!("const {member}"));
            if !defines_type || !defines_member {
                missing.push(span.to_owned());
            }
        }
    }
    // Test files: `name.rs` in a table's test column or a section title;
    // "testkit `x.rs`" names the process tests.
    let parts: Vec<&str> = page.split('`').collect();
    for i in (1..parts.len()).step_by(2) {
        let name = parts[i];
        if !name.ends_with(".rs") || name.contains(['/', ' ']) {
            continue;
        }
        let dirs: &[&str] = if parts[i - 1].ends_with("testkit ") {
            &["crates/tend-testkit/tests"]
        } else if parts[i - 1].ends_with("tend-spec ") {
            &["crates/tend-spec/tests"]
        } else {
            &["crates/tend-engine/tests", "crates/tend-engine/src"]
        };
        checked += 1;
        if !dirs.iter().any(|d| root.join(d).join(name).exists()) {
            missing.push(name.to_owned());
        }
    }
    assert!(
        checked > 50,
        "the page names APIs and tests: {checked} found"
    );
    assert!(
        missing.is_empty(),
        "docs/supervision-principles.md names what does not exist: {missing:?}"
    );
}
