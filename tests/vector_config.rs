//! The Vector configurations in vector-config/ agree with domreg: the YAML
//! parses (Python's yaml module, as `python3 -c`), the component graph is
//! wired, the socket options are the ones `domreg serve` speaks, and the
//! domreg command lines in them run: `domreg serve` on the configuration's
//! own addresses (127.0.0.1), with this test playing Vector's socket sink
//! and socket source; `domreg enrich --follow` as the exec source runs it.
//! Vector itself cannot be installed here.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(name: &str) -> (Value, String) {
    let path = root().join("vector-config").join(name);
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(&path)
        .output()
        .expect("python3 (with its yaml module: Debian python3-yaml)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        std::fs::read_to_string(&path).unwrap(),
    )
}

/// Every `inputs` entry names a source or transform (or a route output).
fn check_graph(cfg: &Value) {
    let mut outputs: Vec<String> = Vec::new();
    for kind in ["sources", "transforms"] {
        for (id, c) in cfg[kind].as_object().into_iter().flatten() {
            outputs.push(id.clone());
            if c["type"] == "route" {
                for route in c["route"].as_object().unwrap().keys() {
                    outputs.push(format!("{id}.{route}"));
                }
                outputs.push(format!("{id}._unmatched"));
            }
        }
    }
    for kind in ["transforms", "sinks"] {
        for (id, c) in cfg[kind].as_object().unwrap() {
            let inputs = c["inputs"]
                .as_array()
                .unwrap_or_else(|| panic!("{id}: inputs"));
            assert!(!inputs.is_empty(), "{id}");
            for i in inputs {
                assert!(
                    outputs.contains(&i.as_str().unwrap().to_string()),
                    "{id}: unknown input {i}"
                );
            }
        }
    }
}

/// The threshold in a condition `(to_int(.domreg.risk.score) ?? 0) >= N`.
fn threshold(condition: &str) -> u64 {
    assert!(condition.contains(".domreg.risk.score"), "{condition}");
    condition
        .rsplit_once(">=")
        .unwrap()
        .1
        .trim()
        .parse()
        .unwrap()
}

fn zeek(uid: &str, ts: &str, query: &str) -> String {
    format!(r#"{{"ts":"{ts}","uid":"{uid}","id.orig_h":"10.0.0.5","query":"{query}"}}"#)
}

#[test]
fn serve_loop_agrees_with_domreg_serve() {
    let (cfg, text) = yaml("serve-loop.yaml");
    check_graph(&cfg);
    let sink = &cfg["sinks"]["to_domreg"];
    assert_eq!(sink["type"], "socket");
    assert_eq!(sink["mode"], "tcp");
    assert_eq!(sink["encoding"]["codec"], "json");
    assert_eq!(sink["framing"]["method"], "newline_delimited");
    let source = &cfg["sources"]["enriched"];
    assert_eq!(source["type"], "socket");
    assert_eq!(source["mode"], "tcp");
    assert_eq!(source["decoding"]["codec"], "json");
    assert_eq!(source["framing"]["method"], "newline_delimited");
    let route = cfg["transforms"]["risk_route"]["route"]["risky"]
        .as_str()
        .unwrap();
    let limit = threshold(route);

    // The command line in the file's comment.
    let command = text
        .lines()
        .find_map(|l| {
            l.trim_start_matches('#')
                .trim()
                .strip_prefix("domreg serve ")
        })
        .unwrap();
    let args: Vec<&str> = command.split_whitespace().collect();
    let flag = |name: &str| {
        let i = args.iter().position(|a| *a == name).unwrap();
        args[i + 1]
    };
    let sink_addr = sink["address"].as_str().unwrap();
    let source_addr = source["address"].as_str().unwrap();
    assert_eq!(flag("--listen"), format!("tcp://{sink_addr}"));
    assert_eq!(flag("--forward"), format!("tcp://{source_addr}"));
    let http_addr = flag("--http");

    // This test is Vector's socket source...
    let downstream = TcpListener::bind(source_addr).unwrap();
    // ... and runs domreg serve exactly so (offline: no internet here).
    let regs = root().join("examples/registrations.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_domreg"))
        .arg("serve")
        .args(&args)
        .args(["--offline", "--registrations"])
        .arg(&regs)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains(&format!("tcp://{sink_addr}")), "{line}");
    // ... and its socket sink: the events as the `parse` remap leaves them.
    let mut up = TcpStream::connect(sink_addr).unwrap();
    writeln!(up, "{}", zeek("C1", "2013-09-20T10:04:11Z", "www.nic.xyz")).unwrap();
    writeln!(
        up,
        "{}",
        zeek("C2", "2025-01-01T00:00:00Z", "www.google.com")
    )
    .unwrap();
    drop(up);
    let (conn, _) = downstream.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut lines = BufReader::new(conn).lines();
    let mut score = |uid: &str| {
        let v: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(v["uid"], uid);
        v["domreg"]["risk"]["score"].as_u64().unwrap()
    };
    // The route sends the first to `risky`, the second to `_unmatched`.
    assert!(score("C1") >= limit);
    assert!(score("C2") < limit);

    let mut s = TcpStream::connect(http_addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    // As Vector's socket source: read to the end of domreg's stream, then close.
    assert!(lines.next().is_none());
    drop(lines);
    assert!(child.wait().unwrap().success());
}

#[test]
fn exec_follow_runs_as_configured() {
    let (cfg, _) = yaml("exec-follow.yaml");
    check_graph(&cfg);
    let src = &cfg["sources"]["domreg"];
    assert_eq!(src["type"], "exec");
    assert_eq!(src["mode"], "streaming");
    assert_eq!(src["include_stderr"], false);
    assert_eq!(src["decoding"]["codec"], "json");
    assert_eq!(src["framing"]["method"], "newline_delimited");
    let limit = threshold(cfg["transforms"]["risky"]["condition"].as_str().unwrap());
    let command: Vec<String> = src["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(command[0], "domreg");
    assert_eq!(command[1], "enrich");
    // The same command, with its paths moved into a temporary directory
    // and offline (no internet here).
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("dns.log");
    std::fs::write(&log, "").unwrap();
    let mut args = command[1..].to_vec();
    for (flag, path) in [
        ("--follow", &log),
        ("--cache", &dir.path().join("cache.jsonl")),
    ] {
        let i = args.iter().position(|a| a == flag).unwrap();
        args[i + 1] = path.display().to_string();
    }
    let regs = root().join("examples/registrations.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_domreg"))
        .args(&args)
        .args(["--offline", "--registrations"])
        .arg(&regs)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(f, "{}", zeek("C1", "2013-09-20T10:04:11Z", "www.nic.xyz")).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["domreg"]["domain"], "nic.xyz");
    assert!(v["domreg"]["risk"]["score"].as_u64().unwrap() >= limit);
    let _ = child.kill();
    let _ = child.wait();
}
