//! The Public Suffix List as data (`src/data/public_suffix_icann.dat`)
//! against the `psl` crate it is generated from.
//!
//! domreg used the `psl` crate's compiled matcher until it cost the WASM
//! filters about 1 MB; the core now matches the ICANN section of the same
//! list as data. These tests hold the two to the same answers: for every
//! rule of the `psl` crate's list (read from its source in cargo's registry),
//! the rule itself, names under it and under its wildcard, the public suffix
//! the data gives must be the one `psl` gives (with the same reduction of a
//! private suffix to the ICANN suffix inside it that domreg always used).
//!
//! Regenerate the data after bumping `psl` (pinned in Cargo.toml):
//! `cargo test --test public_suffix -- --ignored regenerate`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};

use domreg::domain::public_suffix_len;
use psl::{List, Psl, Type};

const DATA: &str = "src/data/public_suffix_icann.dat";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The `psl` version in Cargo.lock.
fn psl_version() -> String {
    let lock = std::fs::read_to_string(repo("Cargo.lock")).unwrap();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"psl\"" {
            let version = lines.next().unwrap();
            return version
                .trim_start_matches("version = \"")
                .trim_end_matches('"')
                .to_string();
        }
    }
    panic!("psl is not in Cargo.lock");
}

/// `data/rules.txt` of the `psl` crate's source, as cargo unpacked it.
fn psl_rules() -> String {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let dir = format!("psl-{}", psl_version());
    let src = home.join("registry").join("src");
    for index in std::fs::read_dir(&src).unwrap() {
        let path = index.unwrap().path().join(&dir).join("data/rules.txt");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return text;
        }
    }
    panic!("{dir}/data/rules.txt not under {}", src.display());
}

/// A rule in A-label form (`*` and a leading `!` kept).
fn a_label(rule: &str) -> String {
    let (bang, body) = match rule.strip_prefix('!') {
        Some(body) => ("!", body),
        None => ("", rule),
    };
    let labels: Vec<String> = body
        .split('.')
        .map(|label| {
            if label == "*" || label.is_ascii() {
                label.to_ascii_lowercase()
            } else {
                idna::domain_to_ascii(label).unwrap()
            }
        })
        .collect();
    format!("{bang}{}", labels.join("."))
}

/// The public suffix length domreg took from `psl`: the longest match, and
/// for a private one the longest ICANN rule inside it.
fn reference(name: &str) -> Option<usize> {
    let info = List.find(name.rsplit('.').map(str::as_bytes));
    match info.typ? {
        Type::Icann => Some(info.len),
        Type::Private => {
            let start = name.len().saturating_sub(info.len);
            let mut candidate = &name[start..];
            while let Some((_, rest)) = candidate.split_once('.') {
                let inner = List.find(rest.rsplit('.').map(str::as_bytes));
                if inner.typ == Some(Type::Icann) && inner.len == rest.len() {
                    return Some(rest.len());
                }
                candidate = rest;
            }
            Some(candidate.len())
        }
    }
}

/// Whether `psl` has `rule` (A-label form) as an ICANN rule.
fn is_icann_rule(rule: &str) -> bool {
    let is = |probe: &str, len: usize| {
        let info = List.find(probe.rsplit('.').map(str::as_bytes));
        info.typ == Some(Type::Icann) && info.len == len
    };
    if let Some(exception) = rule.strip_prefix('!') {
        let parent = exception.split_once('.').map_or("", |(_, p)| p);
        is(exception, parent.len())
    } else if let Some(under) = rule.strip_prefix("*.") {
        let probe = format!("zz-probe.{under}");
        is(&probe, probe.len())
    } else {
        is(rule, rule.len())
    }
}

/// Names to ask about for one rule: the rule's own name, one and two labels
/// under it, and, for an exception, its parent.
fn probes(rule: &str) -> Vec<String> {
    let base = rule.trim_start_matches('!').trim_start_matches("*.");
    let mut names = vec![
        base.to_string(),
        format!("example.{base}"),
        format!("www.example.{base}"),
        format!("a.b.c.{base}"),
    ];
    if let Some((_, parent)) = base.split_once('.') {
        names.push(format!("example.{parent}"));
    }
    names
}

#[test]
fn the_data_gives_the_same_public_suffix_as_psl_for_every_rule() {
    let rules = psl_rules();
    let mut checked = 0usize;
    let mut differ = Vec::new();
    for rule in rules.lines().map(str::trim).filter(|l| !l.is_empty()) {
        for name in probes(&a_label(rule)) {
            checked += 1;
            let (ours, theirs) = (public_suffix_len(&name), reference(&name));
            if ours != theirs {
                differ.push(format!("{name}: data {ours:?}, psl {theirs:?}"));
            }
        }
    }
    assert!(checked > 40_000, "{checked} names");
    assert!(
        differ.is_empty(),
        "{} of {checked} names differ:\n{}",
        differ.len(),
        differ[..differ.len().min(40)].join("\n")
    );
}

#[test]
fn the_shipped_data_is_what_regenerate_writes() {
    let shipped = std::fs::read_to_string(repo(DATA)).unwrap();
    assert!(
        shipped == generate(),
        "{DATA} is stale: cargo test --test public_suffix -- --ignored regenerate"
    );
}

#[test]
fn names_outside_the_rules() {
    for (name, suffix) in [
        ("www.google.com", Some("com")),
        ("news.bbc.co.uk", Some("co.uk")),
        ("x.blogspot.co.uk", Some("co.uk")),
        ("foo.github.io", Some("io")),
        ("www.xn--fiqs8s", Some("xn--fiqs8s")),
        ("a.b.kawasaki.jp", Some("b.kawasaki.jp")),
        ("city.kawasaki.jp", Some("kawasaki.jp")),
        ("asdf.coma", None),
        ("version.bind", None),
    ] {
        let ours = public_suffix_len(name).map(|len| &name[name.len() - len..]);
        assert_eq!(ours, suffix, "{name}");
        assert_eq!(public_suffix_len(name), reference(name), "{name}");
    }
}

/// The data file: a header, then psl's ICANN rules in A-label form, in the
/// list's order, each once.
fn generate() -> String {
    let version = psl_version();
    let mut out = format!(
        "// The ICANN section of the Public Suffix List (https://publicsuffix.org/list/)\n\
         // as the psl crate {version} carries it, every rule in A-label form: the\n\
         // registered-domain data of domreg's core (src/domain.rs).\n\
         //\n\
         // This Source Code Form is subject to the terms of the Mozilla Public\n\
         // License, v. 2.0. If a copy of the MPL was not distributed with this\n\
         // file, You can obtain one at https://mozilla.org/MPL/2.0/.\n\
         //\n\
         // Generated: cargo test --test public_suffix -- --ignored regenerate\n\
         // ===BEGIN ICANN DOMAINS===\n"
    );
    let mut seen = std::collections::HashSet::new();
    for rule in psl_rules().lines().map(str::trim).filter(|l| !l.is_empty()) {
        let rule = a_label(rule);
        if is_icann_rule(&rule) && seen.insert(rule.clone()) {
            out.push_str(&rule);
            out.push('\n');
        }
    }
    out.push_str("// ===END ICANN DOMAINS===\n");
    out
}

#[test]
#[ignore = "writes src/data/public_suffix_icann.dat"]
fn regenerate() {
    std::fs::write(repo(DATA), generate()).unwrap();
}
