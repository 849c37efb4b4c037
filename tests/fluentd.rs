//! The `command` of integrations/fluentd/fluent.conf, driven the way
//! Fluentd's exec_filter drives it: records as JSON Lines on a pipe, one
//! reply line read back per record, the pipe kept open (no EOF) between
//! records. Fluentd itself is not installable here (not in Debian 12, no
//! RubyGems access), so this checks domreg's side of the protocol only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const NOW: &str = "2026-11-24T00:00:00Z";

/// The exec_filter `command` of the shipped config, split into words as
/// Ruby's IO.popen does for a command without shell metacharacters.
fn shipped_command() -> Vec<String> {
    let conf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("integrations/fluentd/fluent.conf"),
    )
    .unwrap();
    let commands: Vec<&str> = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("command "))
        .collect();
    assert_eq!(commands.len(), 1, "one exec_filter command");
    let command = commands[0].trim();
    assert!(
        !command.contains(['|', ';', '&', '$', '`', '"', '\'']),
        "{command}"
    );
    command.split_whitespace().map(String::from).collect()
}

/// Run the shipped command (binary path replaced, data offline from the
/// example registrations, plus `extra`), send each record and wait for its
/// reply before sending the next; returns the replies.
fn exec_filter(records: &[String], extra: &[&str]) -> Vec<String> {
    let words = shipped_command();
    assert_eq!(&words[..2], ["/usr/local/bin/domreg", "enrich"]);
    let registrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/registrations.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_domreg"))
        .args(&words[1..])
        .args(["--offline", "--now", NOW, "--registrations"])
        .arg(&registrations)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let mut replies = Vec::new();
    for record in records {
        writeln!(stdin, "{record}").unwrap();
        stdin.flush().unwrap();
        // The pipe stays open: the reply must come without EOF.
        let reply = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no reply within 10 s for {record}"));
        replies.push(reply);
    }
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).is_err(),
        "no extra lines"
    );
    replies
}

/// A record as Fluentd's json formatter writes it, with the event time
/// injected as `fluentd_time` (the config's <inject>).
fn record(line: &str, time: f64) -> String {
    let body = line.trim_end().strip_suffix('}').unwrap();
    format!("{body},\"fluentd_time\":{time}}}")
}

#[test]
fn exec_filter_zeek_records_get_a_reply_each_at_once() {
    let demo = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/logs/rules-demo.ndjson"),
    )
    .unwrap();
    let mut records: Vec<String> = demo
        .lines()
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| record(l, 1_764_000_000.25 + i as f64))
        .collect();
    // A record without a domain comes back byte for byte.
    records.push(r#"{"uid":"Cnoname","note":"no domain here","fluentd_time":1764000100.5}"#.into());
    let replies = exec_filter(&records, &[]);
    assert_eq!(replies.len(), records.len());
    for (record, reply) in records.iter().zip(&replies) {
        let input: Value = serde_json::from_str(record).unwrap();
        let output: Value = serde_json::from_str(reply).unwrap();
        // Every field of the record, the injected time included, unchanged.
        for (k, v) in input.as_object().unwrap() {
            assert_eq!(&output[k], v, "{k}: {reply}");
        }
        // The original bytes first: domreg only appends members.
        let body = record.strip_suffix('}').unwrap();
        assert!(reply.starts_with(body), "{reply}");
    }
    let by_uid = |uid: &str| -> Value {
        replies
            .iter()
            .map(|r| serde_json::from_str::<Value>(r).unwrap())
            .find(|v| v["uid"] == uid)
            .unwrap()
    };
    let new = by_uid("CdemoNewlyReg01");
    assert_eq!(new["domreg"]["domain"], "nic.xyz");
    assert_eq!(new["domreg"]["lookup"], "hit");
    assert_eq!(new["domreg"]["registration"]["age_days"], 8);
    assert_eq!(
        new["threat"]["technique"]["subtechnique"]["id"][0],
        "T1583.001"
    );
    assert_eq!(by_uid("CdemoGoogle00001")["domreg"]["domain"], "google.com");
    assert_eq!(replies.last().unwrap(), records.last().unwrap());
}

#[test]
fn exec_filter_custom_record_with_field() {
    let records = vec![
        r#"{"client":"10.0.0.7","request":{"host":"www.wicar.org","path":"/"},"fluentd_time":1764000000.0}"#.to_string(),
        r#"{"client":"10.0.0.8","request":{"path":"/"},"fluentd_time":1764000001.0}"#.to_string(),
    ];
    let replies = exec_filter(&records, &["--field", "request.host"]);
    let first: Value = serde_json::from_str(&replies[0]).unwrap();
    assert_eq!(first["domreg"]["field"], "request.host");
    assert_eq!(first["domreg"]["domain"], "wicar.org");
    assert_eq!(first["domreg"]["lookup"], "hit");
    assert_eq!(first["fluentd_time"], 1_764_000_000.0);
    assert_eq!(replies[1], records[1]);
}
