//! The crates outside the workspace, `fuzz/` and `benches/scanners/`, build
//! domreg from this checkout with `--locked` (`fuzz/campaign.sh`,
//! `benches/scanners.sh`). Each has its own `Cargo.lock`, which must list
//! every dependency domreg has without its optional features; when a new
//! one is missing there, their builds fail from a fresh clone. This checks
//! their locks against `Cargo.toml` on every test run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeSet;
use std::path::Path;

fn read_toml(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The names of domreg's dependencies that are not optional: those a crate
/// depending on it with `default-features = false` gets.
fn required_dependencies(manifest: &toml::Table) -> BTreeSet<String> {
    let deps = manifest["dependencies"].as_table().expect("[dependencies]");
    deps.iter()
        .filter(|(_, spec)| {
            !spec
                .get("optional")
                .and_then(toml::Value::as_bool)
                .unwrap_or(false)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The dependencies the lock file records for the `domreg` package (names
/// only: an entry is `name` or `name version`).
fn locked_dependencies(lock: &toml::Table) -> BTreeSet<String> {
    let packages = lock["package"].as_array().expect("[[package]]");
    let domreg = packages
        .iter()
        .find(|p| p.get("name").and_then(toml::Value::as_str) == Some("domreg"))
        .expect("the lock has no domreg package");
    domreg
        .get("dependencies")
        .and_then(toml::Value::as_array)
        .map(|deps| {
            deps.iter()
                .filter_map(toml::Value::as_str)
                .filter_map(|d| d.split_whitespace().next())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn crates_outside_the_workspace_lock_domregs_dependencies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wanted = required_dependencies(&read_toml(&root.join("Cargo.toml")));
    assert!(wanted.contains("serde_json"), "{wanted:?}");
    for lock in ["fuzz/Cargo.lock", "benches/scanners/Cargo.lock"] {
        let locked = locked_dependencies(&read_toml(&root.join(lock)));
        assert_eq!(
            locked,
            wanted,
            "{lock} is out of date: update it (`cargo update -p domreg --manifest-path {}`)",
            lock.replace("Cargo.lock", "Cargo.toml")
        );
    }
}
