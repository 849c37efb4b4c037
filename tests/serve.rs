//! `domreg serve` end to end: the built binary on 127.0.0.1 (ephemeral
//! ports), real upstream connections, a real downstream TCP server in the
//! test that can be stopped and restarted, the HTTP endpoints, SIGTERM, live
//! lookups against `rdap-mock`, and `enrich --follow` with rotation.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "common/mock.rs"]
#[allow(dead_code)]
mod mock;
use mock::Mock;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

const TIMEOUT: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn registrations() -> String {
    root()
        .join("examples/registrations.jsonl")
        .display()
        .to_string()
}

// ------------------------------------------------------------ downstream ----

/// A downstream TCP server (what Vector's `socket` source is): collects the
/// lines of every connection it accepts, until stopped.
struct Downstream {
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    /// Stop reading (the receive buffers fill) while set.
    paused: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Downstream {
    fn start(addr: &str) -> Downstream {
        Downstream::start_with(addr, Arc::new(Mutex::new(Vec::new())))
    }

    fn start_with(addr: &str, lines: Arc<Mutex<Vec<String>>>) -> Downstream {
        let listener = TcpListener::bind(addr).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let thread = {
            let (lines, stop, paused) = (lines.clone(), stop.clone(), paused.clone());
            std::thread::spawn(move || {
                let mut conns: Vec<(TcpStream, Vec<u8>)> = Vec::new();
                let mut buf = vec![0u8; 65536];
                while !stop.load(Ordering::SeqCst) {
                    if let Ok((s, _)) = listener.accept() {
                        s.set_nonblocking(true).unwrap();
                        conns.push((s, Vec::new()));
                    }
                    let mut idle = true;
                    if !paused.load(Ordering::SeqCst) {
                        conns.retain_mut(|(s, pending)| match s.read(&mut buf) {
                            Ok(0) => {
                                // The sender ended its stream: close ours.
                                let _ = s.shutdown(Shutdown::Both);
                                false
                            }
                            Ok(n) => {
                                idle = false;
                                pending.extend_from_slice(&buf[..n]);
                                let mut got = Vec::new();
                                let mut start = 0;
                                while let Some(i) =
                                    pending[start..].iter().position(|b| *b == b'\n')
                                {
                                    got.push(
                                        String::from_utf8_lossy(&pending[start..start + i])
                                            .into_owned(),
                                    );
                                    start += i + 1;
                                }
                                pending.drain(..start);
                                lines.lock().unwrap().extend(got);
                                true
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
                            Err(_) => false,
                        });
                    }
                    if idle {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
                // Dropped with whatever is unread in the receive buffers:
                // the kernel resets those connections (data lost, as when a
                // process is killed).
            })
        };
        Downstream {
            addr,
            lines,
            stop,
            paused,
            thread: Some(thread),
        }
    }

    fn count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    fn wait_for(&self, n: usize) {
        let start = Instant::now();
        while self.count() < n {
            assert!(
                start.elapsed() < TIMEOUT,
                "downstream has {} lines, waited for {n}",
                self.count()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop abruptly: unread bytes are lost.
    fn kill(mut self) -> Arc<Mutex<Vec<String>>> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.lines.clone()
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ----------------------------------------------------------------- serve ----

struct Serve {
    child: Child,
    listen: Vec<String>,
    http: Option<String>,
    stderr: Option<BufReader<ChildStderr>>,
}

impl Serve {
    /// Start `domreg serve ARGS`; reads the "listening on" line.
    fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_domreg"))
            .arg("serve")
            .args(args)
            .env("DOMREG_LOG", "warn")
            .env(
                "XDG_CACHE_HOME",
                std::env::temp_dir().join("domreg-serve-tests-xdg"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn domreg serve");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "serve exited");
            if line.starts_with("domreg serve: listening on ") {
                break;
            }
        }
        let rest = line
            .trim_end()
            .strip_prefix("domreg serve: listening on ")
            .unwrap();
        let (addrs, _) = rest.split_once("; forwarding to ").unwrap();
        let (addrs, http) = match addrs.split_once("; http ") {
            Some((a, h)) => (a, Some(h.to_string())),
            None => (addrs, None),
        };
        let listen = addrs
            .split(", ")
            .map(|a| a.strip_prefix("tcp://").unwrap_or(a).to_string())
            .collect();
        Serve {
            child,
            listen,
            http,
            stderr: Some(stderr),
        }
    }

    fn http(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        http(self.http.as_deref().unwrap(), method, path, body)
    }

    fn metrics(&self) -> BTreeMap<String, f64> {
        let (status, text) = self.http("GET", "/metrics", b"");
        assert_eq!(status, 200);
        parse_exposition(&text)
    }

    fn sigterm(&mut self) -> (i32, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.wait()
    }

    fn wait(&mut self) -> (i32, String) {
        let mut rest = String::new();
        self.stderr
            .take()
            .unwrap()
            .read_to_string(&mut rest)
            .unwrap();
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return (s.code().unwrap_or(-1), rest);
            }
            assert!(start.elapsed() < TIMEOUT, "serve did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut text = Vec::new();
    s.read_to_end(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, body.to_string())
}

/// Parse the Prometheus text format strictly: every line is a comment
/// (`# HELP`/`# TYPE` before the family's samples) or `name{labels} value`;
/// histogram buckets are cumulative and end with `+Inf` = `_count`.
/// Returns `name{labels}` → value.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap();
            let name = parts.next().unwrap();
            assert!(name_ok(name), "{line}");
            if kind == "TYPE" {
                let t = parts.next().unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&t), "{line}");
                assert!(
                    types.insert(name.into(), t.into()).is_none(),
                    "twice: {line}"
                );
            } else {
                assert_eq!(kind, "HELP", "{line}");
            }
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let name = key.split('{').next().unwrap();
        assert!(name_ok(name), "{line}");
        if let Some(labels) = key.strip_prefix(name)
            && !labels.is_empty()
        {
            let inner = labels.strip_prefix('{').unwrap().strip_suffix('}').unwrap();
            for pair in inner.split("\",") {
                let (k, v) = pair.split_once("=\"").unwrap();
                assert!(name_ok(k), "{line}");
                assert!(!v.trim_end_matches('"').contains('"'), "{line}");
            }
        }
        let family = [
            name,
            name.trim_end_matches("_bucket"),
            name.trim_end_matches("_sum"),
            name.trim_end_matches("_count"),
        ]
        .into_iter()
        .find(|f| types.contains_key(*f))
        .unwrap_or_else(|| panic!("sample before its TYPE: {line}"));
        if types[family] == "counter" {
            assert!(value >= 0.0, "{line}");
        }
        assert!(
            out.insert(key.to_string(), value).is_none(),
            "twice: {line}"
        );
    }
    // Histograms: cumulative, +Inf == _count.
    for (name, t) in &types {
        if t != "histogram" {
            continue;
        }
        let buckets: Vec<f64> = out
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{name}_bucket{{")))
            .map(|(_, v)| *v)
            .collect();
        let inf = out[&format!("{name}_bucket{{le=\"+Inf\"}}")];
        assert_eq!(inf, out[&format!("{name}_count")], "{name}");
        assert!(buckets.iter().all(|b| *b <= inf), "{name}");
    }
    out
}

/// `domreg serve` listening on TCP (first) and HTTP, forwarding to `down`,
/// with `extra` arguments.
fn serve_to(down: &Downstream, extra: &[&str]) -> Serve {
    let forward = format!("tcp://{}", down.addr);
    let mut args = vec![
        "--listen",
        "tcp://127.0.0.1:0",
        "--forward",
        &forward,
        "--http",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Serve::start(&args)
}

/// [`serve_to`] `--offline` with the example records.
fn serve_offline(down: &Downstream, extra: &[&str]) -> Serve {
    let regs = registrations();
    serve_to(
        down,
        &[&["--offline", "--registrations", &regs], extra].concat(),
    )
}

/// A sender on one upstream connection: events `{"c":C,"i":I,...}`.
fn event(c: usize, i: usize) -> String {
    format!(
        r#"{{"ts":"2026-11-20T10:00:00Z","uid":"C{c}-{i}","id.orig_h":"10.0.0.{c}","c":{c},"i":{i},"query":"www.nic.xyz"}}"#
    )
}

fn send_events(addr: &str, c: usize, n: usize) {
    let mut s = std::io::BufWriter::new(TcpStream::connect(addr).unwrap());
    for i in 0..n {
        writeln!(s, "{}", event(c, i)).unwrap();
    }
    s.flush().unwrap();
}

/// (connection, index) of each line, in arrival order.
fn ids(lines: &[String]) -> Vec<(u64, u64)> {
    lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (v["c"].as_u64().unwrap(), v["i"].as_u64().unwrap())
        })
        .collect()
}

// ----------------------------------------------------------------- tests ----

/// Several TCP connections and a Unix socket: every event forwarded once,
/// enriched, in each connection's order; /metrics agrees; POST /enrich
/// gives what `domreg enrich` gives; /healthz.
#[test]
fn many_connections_forwarded_in_order_and_http() {
    let dir = TempDir::new().unwrap();
    let down = Downstream::start("127.0.0.1:0");
    let sock = dir.path().join("in.sock");
    let unix = format!("unix:{}", sock.display());
    let serve = serve_offline(&down, &["--listen", &unix]);
    let (conns, per) = (6, 5000);
    let senders: Vec<_> = (0..conns)
        .map(|c| {
            let addr = serve.listen[0].clone();
            std::thread::spawn(move || send_events(&addr, c, per))
        })
        .collect();
    // And one over the Unix socket.
    {
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        for i in 0..per {
            writeln!(s, "{}", event(conns, i)).unwrap();
        }
    }
    for s in senders {
        s.join().unwrap();
    }
    let total = (conns + 1) * per;
    down.wait_for(total);
    std::thread::sleep(Duration::from_millis(300));
    let lines = down.lines.lock().unwrap().clone();
    assert_eq!(lines.len(), total, "one output line per input line");
    let mut next = vec![0u64; conns + 1];
    for (c, i) in ids(&lines) {
        assert_eq!(i, next[c as usize], "connection {c} out of order");
        next[c as usize] += 1;
    }
    let first: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["domreg"]["domain"], "nic.xyz", "{first}");
    assert_eq!(first["domreg"]["lookup"], "hit");

    // /metrics: parses, and the numbers are the ones above.
    let m = serve.metrics();
    assert_eq!(
        m["domreg_events_received_total{listener=\"tcp\"}"],
        (conns * per) as f64
    );
    assert_eq!(
        m["domreg_events_received_total{listener=\"unix\"}"],
        per as f64
    );
    assert_eq!(m["domreg_events_forwarded_total"], total as f64);
    assert_eq!(m["domreg_events_resent_total"], 0.0);
    assert_eq!(
        m["domreg_events_lookup_total{lookup=\"hit\"}"],
        total as f64
    );
    assert_eq!(
        m["domreg_events_format_total{format=\"zeek\"}"],
        total as f64
    );
    assert_eq!(m["domreg_connections_accepted_total"], (conns + 1) as f64);
    assert_eq!(m["domreg_connections_open"], 0.0);
    assert_eq!(m["domreg_output_queue_events"], 0.0);
    assert_eq!(m["domreg_forward_connected"], 1.0);
    assert_eq!(m["domreg_event_latency_seconds_count"], total as f64);

    // POST /enrich: the same bytes as `domreg enrich --offline`, line for line.
    let body = format!(
        "{}\nnot json\n{}\n{{\"query\":\"wicar.org\"}}",
        event(9, 0),
        event(9, 1)
    );
    let (status, got) = serve.http("POST", "/enrich", body.as_bytes());
    assert_eq!(status, 200);
    let want = Command::new(env!("CARGO_BIN_EXE_domreg"))
        .args([
            "enrich",
            "--offline",
            "--quiet",
            "--registrations",
            &registrations(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(body.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(got.lines().count(), 4);
    assert_eq!(got, String::from_utf8(want.stdout).unwrap());
    let m = serve.metrics();
    assert_eq!(m["domreg_events_received_total{listener=\"http\"}"], 4.0);
    assert_eq!(m["domreg_events_processed_total"], (total + 4) as f64);
    assert_eq!(
        m["domreg_events_passed_through_total{reason=\"unrecognised\"}"],
        1.0
    );
    assert!(m["domreg_http_request_duration_seconds_count"] >= 2.0);

    assert_eq!(
        serve.http("GET", "/healthz", b""),
        (200, "ok\n".to_string())
    );
    assert_eq!(serve.http("GET", "/nope", b"").0, 404);
    assert_eq!(serve.http("GET", "/enrich", b"").0, 405);
}

/// Lines over `--max-line-bytes` on a connection are forwarded unchanged,
/// in their place among the enriched ones, and counted as `oversized`.
#[test]
fn long_lines_pass_through_in_place() {
    let down = Downstream::start("127.0.0.1:0");
    let serve = serve_offline(&down, &["--max-line-bytes", "4096"]);
    // A long line every 50 events, the longest far past the reader's buffer.
    let mut input = Vec::new();
    let mut sent = Vec::new();
    for i in 0..300usize {
        let line = if i % 50 == 7 {
            format!(
                "{{\"long\":{i},\"pad\":\"{}\"}}",
                "x".repeat(5000 + i * 1000)
            )
        } else {
            event(0, i)
        };
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
        sent.push(line);
    }
    let mut s = TcpStream::connect(&serve.listen[0]).unwrap();
    s.write_all(&input).unwrap();
    drop(s);
    down.wait_for(sent.len());
    let lines = down.lines.lock().unwrap().clone();
    assert_eq!(lines.len(), sent.len(), "one output line per input line");
    for (i, (out, line)) in lines.iter().zip(&sent).enumerate() {
        if i % 50 == 7 {
            assert!(out == line, "line {i}: long line changed");
        } else {
            let v: Value = serde_json::from_str(out).unwrap();
            assert_eq!(v["i"], i as u64, "line {i} out of place");
            assert_eq!(v["domreg"]["lookup"], "hit", "{out}");
        }
    }
    let m = serve.metrics();
    assert_eq!(
        m["domreg_events_passed_through_total{reason=\"oversized\"}"],
        6.0
    );
}

/// The most bytes this host's TCP buffers can hold on one loopback
/// connection: the send buffer's and the receive buffer's largest sizes
/// (the third numbers of net.ipv4.tcp_wmem and tcp_rmem).
fn host_tcp_buffers() -> u64 {
    let max = |name: &str| -> u64 {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
            .ok()
            .and_then(|s| s.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
            .unwrap_or(8 << 20)
    };
    max("tcp_wmem") + max("tcp_rmem")
}

/// The resend window must exceed what a dead peer can have left unread
/// (docs/serve.md, "Delivery"): the host's buffers plus a margin.
fn resend_window() -> u64 {
    host_tcp_buffers().max(32 << 20) + (1 << 20)
}

/// The downstream dies (unread bytes lost) and comes back: reading pauses
/// while the buffer is full, and every event arrives; duplicates only from
/// the resend buffer, and no more than domreg counts as resent.
#[test]
fn downstream_restart_loses_nothing() {
    let down = Downstream::start("127.0.0.1:0");
    let addr = down.addr;
    let resend = resend_window().to_string();
    let serve = serve_offline(
        &down,
        &[
            "--buffer-events",
            "2000",
            "--max-backoff",
            "200",
            "--resend-bytes",
            &resend,
        ],
    );
    // More input than the sockets between the sender and domreg can hold,
    // so that backpressure must reach the sender (on a quiet machine the
    // kernel grows those buffers to their maximum).
    let line = event(0, 0).len() as u64 + 1;
    let n = usize::try_from(host_tcp_buffers() * 3 / 2 / line)
        .unwrap()
        .max(100_000);
    let sent = Arc::new(AtomicU64::new(0));
    let sender = {
        let (addr, sent) = (serve.listen[0].clone(), sent.clone());
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let mut buf = Vec::new();
            for i in 0..n {
                buf.extend_from_slice(event(0, i).as_bytes());
                buf.push(b'\n');
                if buf.len() > 16 * 1024 || i + 1 == n {
                    s.write_all(&buf).unwrap();
                    buf.clear();
                    sent.store(i as u64 + 1, Ordering::SeqCst);
                }
            }
        })
    };
    down.wait_for(20_000);
    // The downstream stops reading, then dies with bytes unread.
    down.paused.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    let lines = down.kill();
    let before = lines.lock().unwrap().len();
    // While it is away: the buffer fills and reading pauses.
    let start = Instant::now();
    loop {
        let m = serve.metrics();
        if m["domreg_output_queue_full_total"] > 0.0 && m["domreg_forward_connected"] == 0.0 {
            break;
        }
        assert!(start.elapsed() < TIMEOUT, "{m:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let a = sent.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(700));
    let b = sent.load(Ordering::SeqCst);
    assert_eq!(a, b, "the sender was not held back");
    assert!(b < n as u64, "everything was sent: no backpressure seen");
    let m = serve.metrics();
    assert!(m["domreg_output_queue_events"] <= 2000.0, "{m:?}");
    // Back on the same port: everything arrives.
    let down = Downstream::start_with(&addr.to_string(), lines);
    sender.join().unwrap();
    let start = Instant::now();
    let mut distinct;
    loop {
        if down.count() < n {
            assert!(
                start.elapsed() < TIMEOUT,
                "{} of {n} arrived: {:?}",
                down.count(),
                serve.metrics()
            );
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let lines = down.lines.lock().unwrap().clone();
        let all = ids(&lines);
        distinct = all
            .iter()
            .map(|x| x.1)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if distinct == n {
            break;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{distinct} of {n} arrived: {:?}",
            serve.metrics()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let lines = down.lines.lock().unwrap().clone();
    let all = ids(&lines);
    let m = serve.metrics();
    let duplicates = all.len() - n;
    let resent = m["domreg_events_resent_total"] as usize;
    assert!(
        duplicates <= resent,
        "{duplicates} duplicates, {resent} resent"
    );
    assert_eq!(m["domreg_events_forwarded_total"], n as f64);
    assert!(m["domreg_forward_connects_total"] >= 2.0);
    // Order: first arrivals are in input order.
    let mut seen = std::collections::BTreeSet::new();
    let mut last = None;
    for (_, i) in &all {
        if seen.insert(*i) {
            assert!(last.is_none_or(|l| *i == l + 1), "gap before {i}");
            last = Some(*i);
        }
    }
    eprintln!(
        "restart: {before} lines before, {} after, {duplicates} duplicates, {resent} resent",
        all.len() - before
    );
}

/// Live lookups against rdap-mock, then SIGTERM while events are still
/// coming, some of them over `--max-line-bytes`: every event domreg read is
/// forwarded (no gap, no duplicate, no partial line; the long ones whole),
/// the cache is saved, exit 0.
#[test]
fn live_lookups_and_sigterm_under_load() {
    let dir = TempDir::new().unwrap();
    let mock = Mock::start(serde_json::json!({}));
    let boot = mock.bootstrap(dir.path());
    let down = Downstream::start("127.0.0.1:0");
    let cache = dir.path().join("cache.jsonl");
    let mut serve = serve_to(
        &down,
        &[
            "--bootstrap",
            boot.to_str().unwrap(),
            "--allow-insecure-rdap",
            "--cache",
            cache.to_str().unwrap(),
            "--max-wait",
            "5000",
            "--rdap-rate",
            "50",
            "--max-line-bytes",
            "1024",
        ],
    );
    // Live: the first events wait for their lookups and come out `hit`.
    {
        let mut s = TcpStream::connect(&serve.listen[0]).unwrap();
        for (i, name) in ["www.google.com", "wicar.org", "no-such-domain-here.com"]
            .iter()
            .enumerate()
        {
            writeln!(
                s,
                r#"{{"ts":"2026-11-20T10:00:00Z","uid":"L{i}","c":99,"i":{i},"query":"{name}"}}"#
            )
            .unwrap();
        }
    }
    down.wait_for(3);
    let first: Vec<Value> = down.lines.lock().unwrap()[..3]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lookups: Vec<&str> = first
        .iter()
        .map(|v| v["domreg"]["lookup"].as_str().unwrap())
        .collect();
    assert_eq!(lookups, ["hit", "hit", "not_found"]);
    assert_eq!(
        first[0]["domreg"]["registration"]["registrar"],
        "MarkMonitor Inc."
    );
    let m = serve.metrics();
    assert!(m["domreg_lookups_total"] >= 3.0, "{m:?}");
    assert_eq!(m["domreg_cache_entries"], 3.0);
    assert_eq!(m["domreg_events_lookup_total{lookup=\"hit\"}"], 2.0);

    // Load on four connections, then SIGTERM in the middle of it.
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..4)
        .map(|c| {
            let (addr, stop) = (serve.listen[0].clone(), stop.clone());
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let mut buf = String::new();
                    for _ in 0..100 {
                        buf.push_str(&event(c, i));
                        if i % 10 == 5 {
                            // Over --max-line-bytes: passed through whole.
                            buf.pop();
                            buf.push_str(&format!(r#","pad":"{}"}}"#, "x".repeat(1500)));
                        }
                        buf.push('\n');
                        i += 1;
                    }
                    if s.write_all(buf.as_bytes()).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    let (code, stderr) = serve.sigterm();
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.join().unwrap();
    }
    assert_eq!(code, 0, "{stderr}");
    let read: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("domreg serve: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    std::thread::sleep(Duration::from_millis(200));
    let lines = down.lines.lock().unwrap().clone();
    assert_eq!(lines.len() as u64, read, "{stderr}");
    assert!(read > 1000, "{stderr}");
    let mut next: HashMap<u64, u64> = HashMap::new();
    for (c, i) in ids(&lines).into_iter().filter(|x| x.0 != 99) {
        let n = next.entry(c).or_insert(0);
        assert_eq!(i, *n, "connection {c}: gap or duplicate");
        *n += 1;
    }
    // The cache was saved.
    let saved = std::fs::read_to_string(&cache).unwrap();
    assert!(saved.contains("google.com"), "{saved}");
    drop(mock);
}

/// `enrich --follow`: lines appended after the start, through a
/// rename-and-create rotation and a copytruncate.
#[test]
fn follow_survives_rotation() {
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("dns.log");
    std::fs::write(&log, format!("{}\n", event(0, 999))).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_domreg"))
        .args([
            "enrich",
            "--follow",
            "--offline",
            "--quiet",
            "--registrations",
        ])
        .arg(registrations())
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let append = |path: &Path, from: usize, to: usize| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        for i in from..to {
            writeln!(f, "{}", event(0, i)).unwrap();
        }
    };
    let expect = |range: std::ops::Range<usize>| {
        for i in range {
            let line = rx
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no line {i}"));
            let v: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("line {i}: {e}: {line}"));
            assert_eq!(v["i"], json!(i), "{line}");
            assert_eq!(v["domreg"]["lookup"], "hit");
        }
    };
    std::thread::sleep(Duration::from_millis(500));
    // Starts at the end: line 999 is not read.
    append(&log, 0, 10);
    expect(0..10);
    // A last line without its `\n`, at the end of a file that is then
    // rotated: the complete lines before it come out at once, and it ends
    // with its file (a line of its own, enriched).
    let unfinished = |path: &Path, i: usize| {
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        write!(f, "{}", event(0, i)).unwrap();
    };
    // Rename and create (logrotate's default); lines written to the old
    // file after the rename are read too.
    let old = dir.path().join("dns.log.1");
    std::fs::rename(&log, &old).unwrap();
    append(&old, 10, 12);
    unfinished(&old, 12);
    expect(10..12);
    append(&log, 13, 20);
    expect(12..20);
    // copytruncate: copied away, truncated in place, written again.
    unfinished(&log, 20);
    std::thread::sleep(Duration::from_millis(400));
    std::fs::copy(&log, dir.path().join("dns.log.2")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    append(&log, 21, 25);
    expect(20..25);
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "extra output"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// `enrich --follow --offline` on SIGTERM: every line written to the file
/// before the signal is enriched and written, then the summary, exit 0.
#[test]
fn follow_drains_the_file_on_sigterm() {
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("dns.log");
    std::fs::write(&log, "").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_domreg"))
        .args(["enrich", "--follow", "--offline", "--registrations"])
        .arg(registrations())
        .arg(&log)
        .env_remove("DOMREG_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        BufReader::new(stdout).read_to_string(&mut out).unwrap();
        out
    });
    // Time to install the signal handler and reach the file's end.
    std::thread::sleep(Duration::from_millis(500));
    let n = 20_000;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&event(0, i));
        text.push('\n');
    }
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    let out = reader.join().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), n, "{stderr}");
    for (i, line) in lines.iter().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["i"], json!(i), "{line}");
        assert_eq!(v["domreg"]["lookup"], "hit", "{line}");
    }
    let totals = format!("domreg: {n} lines in, {n} lines out;");
    assert!(stderr.starts_with(&totals), "{stderr}");
}
