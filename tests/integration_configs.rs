//! The shipped Fluent Bit TCP-loop configurations agree with each other and
//! with the `domreg serve` command they document: the same ports, formats
//! and routes in the YAML and the classic file. (Fluent Bit is not
//! installable here; these are checks of the text, not a run.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// Sections of a classic config: (section name, lower-cased keys -> values).
fn classic(text: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push((name.to_string(), BTreeMap::new()));
            continue;
        }
        let (k, v) = line.split_once(char::is_whitespace).unwrap();
        out.last_mut()
            .unwrap()
            .1
            .insert(k.to_lowercase(), v.trim().to_string());
    }
    out
}

/// The plugin entries of the YAML `pipeline` (inputs, then outputs), each
/// as its keys -> values; a flat reading that suffices for these files.
fn yaml_plugins(text: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(name) = trimmed.strip_suffix(':')
            && !trimmed.starts_with('-')
        {
            section = name.to_string();
            continue;
        }
        if section != "inputs" && section != "outputs" {
            continue;
        }
        let (entry, new) = match trimmed.strip_prefix("- ") {
            Some(rest) => (rest, true),
            None => (trimmed, false),
        };
        let (k, v) = entry.split_once(": ").unwrap();
        if new {
            let kind = if section == "inputs" {
                "INPUT"
            } else {
                "OUTPUT"
            };
            out.push((kind.to_string(), BTreeMap::new()));
        }
        out.last_mut()
            .unwrap()
            .1
            .insert(k.to_lowercase(), v.trim().to_string());
    }
    out
}

/// The `domreg serve` command in a config's header comment.
fn serve_command(text: &str) -> String {
    let mut cmd = String::new();
    let mut on = false;
    for line in text.lines() {
        let body = line.trim_start_matches('#').trim();
        if body.starts_with("domreg serve --") && !body.contains("-->") {
            on = true;
        }
        if on {
            cmd.push_str(body.trim_end_matches('\\').trim());
            cmd.push(' ');
            if !body.ends_with('\\') {
                break;
            }
        }
    }
    cmd.trim().to_string()
}

#[test]
fn fluent_bit_tcp_loop_configs_agree() {
    let yaml = read("integrations/fluent-bit/tcp/fluent-bit.yaml");
    let conf = read("integrations/fluent-bit/tcp/fluent-bit.conf");
    let parsers = classic(&read("integrations/fluent-bit/tcp/parsers.conf"));
    let mut from_conf: Vec<(String, BTreeMap<String, String>)> = classic(&conf)
        .into_iter()
        .filter(|(s, _)| s == "INPUT" || s == "OUTPUT")
        .collect();
    // Same plugins, same settings (keys are case-insensitive in classic
    // files; values compared as written, `true`/`on` aside).
    let from_yaml = yaml_plugins(&yaml);
    from_conf.sort_by(|a, b| (&a.0, a.1.get("name")).cmp(&(&b.0, b.1.get("name"))));
    let mut sorted_yaml = from_yaml.clone();
    sorted_yaml.sort_by(|a, b| (&a.0, a.1.get("name")).cmp(&(&b.0, b.1.get("name"))));
    assert_eq!(from_conf, sorted_yaml);
    assert!(yaml.contains("  - name: zeek_json\n    format: json\n"));
    assert_eq!(parsers[0].1["name"], "zeek_json");
    assert_eq!(parsers[0].1["format"], "json");

    // The loop: tail -> tcp out (json_lines) to domreg's --listen; tcp in
    // (json) on domreg's --forward -> outputs matching its tag.
    let serve = serve_command(&yaml);
    assert_eq!(serve, serve_command(&conf));
    assert!(
        serve.starts_with(
            "domreg serve --listen tcp://127.0.0.1:9000 --forward tcp://127.0.0.1:9001"
        ),
        "{serve}"
    );
    let find = |kind: &str, name: &str| {
        from_yaml
            .iter()
            .find(|(k, m)| k == kind && m["name"] == name)
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    let tail = find("INPUT", "tail");
    let out = find("OUTPUT", "tcp");
    let back = find("INPUT", "tcp");
    assert_eq!(out["match"], tail["tag"]);
    assert_eq!(
        (out["host"].as_str(), out["port"].as_str()),
        ("127.0.0.1", "9000")
    );
    assert_eq!(out["format"], "json_lines");
    assert_eq!(
        (back["listen"].as_str(), back["port"].as_str()),
        ("127.0.0.1", "9001")
    );
    assert_eq!(back["format"], "json");
    for (kind, m) in &from_yaml {
        if kind == "OUTPUT" && m["name"] != "tcp" {
            assert_eq!(m["match"], back["tag"], "{m:?}");
        }
    }
}

#[test]
fn rsyslog_and_fluentd_configs_use_the_documented_modes() {
    let rsyslog = read("integrations/rsyslog/domreg.conf");
    assert!(rsyslog.contains("module(load=\"mmexternal\")"));
    assert!(rsyslog.contains("interface.input=\"fulljson\""));
    assert!(rsyslog.contains("binary=\"/usr/local/bin/domreg enrich --rsyslog "));
    let fluentd = read("integrations/fluentd/fluent.conf");
    for block in [
        "<format>\n    @type json\n  </format>",
        "<parse>\n    @type json\n  </parse>",
    ] {
        assert!(fluentd.contains(block), "{block}");
    }
    assert!(fluentd.contains("@type exec_filter"));
}
