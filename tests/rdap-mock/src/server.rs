//! Connections, routing, faults, the control endpoints and the request log.

use std::fs::File;
use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{Config, Fault, Framing, Kind, NotFound, normalize_domain};
use crate::fixtures::{Index, synthesize, with_related};
use crate::http::{self, Head, ReadError, Request};
use crate::time::rfc3339_millis;

pub const RDAP_JSON: &str = "application/rdap+json";
const CONTROL_JSON: &str = "application/json";
/// An idle keep-alive connection is closed after this long (longer than reqwest's 90 s pool).
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_OVERSIZE: u64 = 2 * 1024 * 1024;
const DEFAULT_DRIP_MS: u64 = 100;

/// One line of the request log.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Arrival order, from 0, over the server's life.
    pub id: u64,
    /// The connection (from 0, over all hosts) and the request's position on it (from 0).
    pub connection: u64,
    pub connection_request: u64,
    /// Listen-address index (0 = registry host, 1 = registrar host) and that address.
    pub host: usize,
    pub listen: String,
    /// Milliseconds since server start when the request head had been read…
    pub t_ms: f64,
    /// …and when the response was finished (or abandoned).
    pub end_ms: f64,
    /// Wall-clock arrival time, RFC 3339 UTC with milliseconds.
    pub wall: String,
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// The queried name, lower-cased, trailing dot removed; null when the path has no /domain/.
    pub domain: Option<String>,
    /// The status sent; null when none was ("reset").
    pub status: Option<u16>,
    /// The fault kind applied, and its index in the config's faults.
    pub fault: Option<String>,
    pub fault_index: Option<usize>,
    /// The fixture file served, "synthetic", or null.
    pub source: Option<String>,
    /// Body bytes written.
    pub body_bytes: u64,
    /// Requests in flight on this host when this one arrived, itself included (1 = alone).
    pub in_flight: usize,
    pub user_agent: Option<String>,
    pub accept: Option<String>,
    /// A write error (e.g. the client hung up during a drip).
    pub error: Option<String>,
}

struct FaultState {
    fault: Fault,
    applied: u64,
}

struct Runtime {
    config: Arc<Config>,
    faults: Vec<FaultState>,
}

impl Runtime {
    fn new(config: Config) -> Self {
        let faults = config
            .faults
            .iter()
            .cloned()
            .map(|fault| FaultState { fault, applied: 0 })
            .collect();
        Self {
            config: Arc::new(config),
            faults,
        }
    }
}

/// Everything the connection threads share.
pub struct Shared {
    start: Instant,
    addrs: Vec<SocketAddr>,
    index: Index,
    runtime: Mutex<Runtime>,
    log: Mutex<Vec<Record>>,
    log_file: Option<Mutex<File>>,
    in_flight: Vec<AtomicUsize>,
    next_conn: AtomicU64,
    next_req: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn to_json_bytes(v: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn rdap_error(status: u16, description: &str) -> Vec<u8> {
    to_json_bytes(&json!({
        "rdapConformance": ["rdap_level_0"],
        "errorCode": status,
        "title": http::reason(status),
        "description": [description],
    }))
}

impl Shared {
    pub fn new(
        addrs: Vec<SocketAddr>,
        index: Index,
        config: Config,
        log_file: Option<File>,
    ) -> Self {
        let in_flight = addrs.iter().map(|_| AtomicUsize::new(0)).collect();
        Self {
            start: Instant::now(),
            addrs,
            index,
            runtime: Mutex::new(Runtime::new(config)),
            log: Mutex::new(Vec::new()),
            log_file: log_file.map(Mutex::new),
            in_flight,
            next_conn: AtomicU64::new(0),
            next_req: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    fn config(&self) -> Arc<Config> {
        Arc::clone(&lock(&self.runtime).config)
    }

    fn addr(&self, host: usize) -> String {
        self.addrs
            .get(host)
            .map_or_else(|| "127.0.0.1".to_owned(), SocketAddr::to_string)
    }

    fn registrar_url(&self, config: &Config, name: &str) -> String {
        let host = config.registrar_index(self.addrs.len());
        format!("http://{}/domain/{name}", self.addr(host))
    }

    /// The first matching fault that is not used up, counted as applied.
    fn take_fault(&self, name: &str, host: usize) -> Option<(usize, Fault)> {
        let mut rt = lock(&self.runtime);
        let (i, state) = rt.faults.iter_mut().enumerate().find(|(_, s)| {
            s.fault.matches(name, host) && s.fault.times.is_none_or(|t| s.applied < t)
        })?;
        state.applied += 1;
        Some((i, state.fault.clone()))
    }

    fn set_config(&self, body: &[u8]) -> Result<(), String> {
        let config = Config::parse(body, &self.index, self.addrs.len())?;
        *lock(&self.runtime) = Runtime::new(config);
        Ok(())
    }

    fn reset(&self) {
        let mut rt = lock(&self.runtime);
        let mut config = (*rt.config).clone();
        config.faults.clear();
        *rt = Runtime::new(config);
        drop(rt);
        lock(&self.log).clear();
    }

    fn config_json(&self) -> Value {
        let rt = lock(&self.runtime);
        let mut v = serde_json::to_value(&*rt.config).unwrap_or(Value::Null);
        let state: Vec<Value> = rt
            .faults
            .iter()
            .map(|s| {
                json!({
                    "applied": s.applied,
                    "remaining": s.fault.times.map(|t| t.saturating_sub(s.applied)),
                })
            })
            .collect();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("fault_state".to_owned(), Value::Array(state));
        }
        v
    }

    fn push_record(&self, rec: Record) {
        if let Some(file) = &self.log_file {
            let mut line = to_json_bytes(&rec);
            line.push(b'\n');
            if let Err(e) = lock(file).write_all(&line) {
                eprintln!("rdap-mock: cannot write the log file: {e}");
            }
        }
        lock(&self.log).push(rec);
    }

    fn idle(&self) -> bool {
        self.in_flight.iter().all(|c| c.load(Ordering::SeqCst) == 0)
    }

    /// The log in arrival order. Waits, up to `timeout`, until it has at least `wait_for`
    /// records and (with `idle`) no RDAP request is in flight on any host.
    fn records(&self, wait_for: usize, idle: bool, timeout: Duration) -> Vec<Record> {
        let deadline = Instant::now() + timeout;
        loop {
            let ready = (!idle || self.idle()) && lock(&self.log).len() >= wait_for;
            if ready || Instant::now() >= deadline {
                let mut records = lock(&self.log).clone();
                records.sort_by_key(|r| r.id);
                return records;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    fn bootstrap(&self) -> Value {
        let config = self.config();
        let mut tlds = self.index.tlds();
        if config.synthesize {
            tlds.extend(
                config
                    .synthesize_suffixes
                    .iter()
                    .filter_map(|s| s.rsplit('.').next())
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            );
        }
        json!({
            "version": "1.0",
            "publication": rfc3339_millis(SystemTime::now()),
            "description": "RDAP bootstrap (RFC 9224) for rdap-mock: every TLD it serves, at the registry host",
            "services": [[tlds, [format!("http://{}/", self.addr(0))]]],
        })
    }

    fn stats(&self) -> Value {
        let in_flight: Vec<usize> = self
            .in_flight
            .iter()
            .map(|c| c.load(Ordering::SeqCst))
            .collect();
        json!({
            "in_flight": in_flight,
            "requests": self.next_req.load(Ordering::SeqCst),
            "connections": self.next_conn.load(Ordering::SeqCst),
            "logged": lock(&self.log).len(),
            "uptime_ms": self.now_ms(),
        })
    }
}

/// Accepts connections on one listen address forever, a thread per connection.
pub fn accept_loop(shared: Arc<Shared>, host: usize, listener: TcpListener) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let conn = shared.next_conn.fetch_add(1, Ordering::SeqCst);
                let sh = Arc::clone(&shared);
                let spawned = thread::Builder::new()
                    .name(format!("conn-{conn}"))
                    .spawn(move || serve_connection(&sh, host, conn, stream));
                if let Err(e) = spawned {
                    eprintln!("rdap-mock: cannot start a connection thread: {e}");
                }
            }
            Err(e) => {
                eprintln!("rdap-mock: accept failed: {e}");
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn serve_connection(sh: &Shared, host: usize, conn: u64, stream: TcpStream) {
    // Best effort: a failure only changes timing.
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = stream;
    let mut n = 0u64;
    loop {
        let req = match http::read_request(&mut reader, &mut out) {
            Ok(req) => req,
            Err(ReadError::Closed | ReadError::Io(_)) => break,
            Err(ReadError::Bad(status, msg)) => {
                let body = rdap_error(status, &msg);
                let head = Head::new(status)
                    .with("Content-Type", RDAP_JSON)
                    .with("Content-Length", body.len().to_string())
                    .with("Connection", "close");
                let mut bytes = head.to_bytes();
                bytes.extend_from_slice(&body);
                let _ = out.write_all(&bytes);
                break;
            }
        };
        let path = req.path();
        let keep = if path == "/_control" || path.starts_with("/_control/") {
            control(sh, &req, &mut out)
        } else {
            rdap(sh, host, conn, n, &req, &mut out)
        };
        n += 1;
        if !keep || req.wants_close() {
            break;
        }
    }
    let _ = out.flush();
    let _ = out.shutdown(Shutdown::Both);
}

/// Writes a complete response with a Content-Length. Returns whether to keep the connection.
fn write_response(
    out: &mut TcpStream,
    req: &Request,
    mut head: Head,
    body: &[u8],
    close: bool,
) -> std::io::Result<bool> {
    let close = close || req.wants_close();
    head.add("Content-Length", body.len().to_string());
    if close {
        head.add("Connection", "close");
    } else if req.http10 {
        head.add("Connection", "keep-alive");
    }
    let mut bytes = head.to_bytes();
    if !req.is_head() {
        bytes.extend_from_slice(body);
    }
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(!close)
}

// ---------------------------------------------------------------------------------------------
// Control endpoints

const ENDPOINTS: [&str; 7] = [
    "/_control/log",
    "/_control/reset",
    "/_control/config",
    "/_control/fixtures",
    "/_control/bootstrap",
    "/_control/stats",
    "/_control/shutdown",
];

fn query_param<'a>(target: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn control(sh: &Shared, req: &Request, out: &mut TcpStream) -> bool {
    let ok = || json!({"ok": true});
    let (status, body) = match (req.method.as_str(), req.path()) {
        ("GET", "/_control/log") => {
            let wait_for = query_param(&req.target, "wait_for")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let idle = query_param(&req.target, "idle") != Some("false");
            let timeout = query_param(&req.target, "timeout_ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(2000);
            let records = sh.records(wait_for, idle, Duration::from_millis(timeout));
            (200, serde_json::to_value(records).unwrap_or(Value::Null))
        }
        ("POST", "/_control/reset") => {
            sh.reset();
            (200, ok())
        }
        ("POST", "/_control/config") => match sh.set_config(&req.body) {
            Ok(()) => (200, ok()),
            Err(e) => (400, json!({"error": e})),
        },
        ("GET", "/_control/config") => (200, sh.config_json()),
        ("GET", "/_control/fixtures") => (200, sh.index.summary()),
        ("GET", "/_control/bootstrap") => (200, sh.bootstrap()),
        ("GET", "/_control/stats") => (200, sh.stats()),
        ("POST", "/_control/shutdown") => {
            let head = Head::new(200).with("Content-Type", CONTROL_JSON);
            let _ = write_response(out, req, head, &to_json_bytes(&ok()), true);
            let _ = out.shutdown(Shutdown::Both);
            std::process::exit(0);
        }
        (_, path) if ENDPOINTS.contains(&path) => (
            405,
            json!({"error": format!("{} not allowed on {path}", req.method)}),
        ),
        (_, path) => (
            404,
            json!({"error": format!("no control endpoint {path}"), "endpoints": ENDPOINTS}),
        ),
    };
    let head = Head::new(status).with("Content-Type", CONTROL_JSON);
    write_response(out, req, head, &to_json_bytes(&body), false).unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// RDAP requests

enum Query {
    Domain(String),
    BadName(String),
    Other,
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
}

fn parse_query(path: &str) -> Query {
    const SEGMENT: &str = "/domain/";
    let Some(pos) = path.rfind(SEGMENT) else {
        return Query::Other;
    };
    let raw = path.get(pos + SEGMENT.len()..).unwrap_or("");
    match percent_decode(raw) {
        Some(decoded) => {
            let name = normalize_domain(&decoded);
            if valid_name(&name) {
                Query::Domain(name)
            } else {
                Query::BadName(decoded)
            }
        }
        None => Query::BadName(raw.to_owned()),
    }
}

/// Counts a request in flight on its host until dropped.
struct Flight<'a>(Option<&'a AtomicUsize>);

impl<'a> Flight<'a> {
    fn enter(sh: &'a Shared, host: usize) -> (Self, usize) {
        let counter = sh.in_flight.get(host);
        let n = counter.map_or(1, |c| c.fetch_add(1, Ordering::SeqCst) + 1);
        (Self(counter), n)
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0 {
            c.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn rdap(
    sh: &Shared,
    host: usize,
    conn: u64,
    conn_request: u64,
    req: &Request,
    out: &mut TcpStream,
) -> bool {
    let id = sh.next_req.fetch_add(1, Ordering::SeqCst);
    let t_ms = sh.now_ms();
    let wall = rfc3339_millis(SystemTime::now());
    let (flight, in_flight) = Flight::enter(sh, host);
    let config = sh.config();
    let mut x = Exchange {
        sh,
        host,
        req,
        out,
        extra: Vec::new(),
        rec: Record {
            id,
            connection: conn,
            connection_request: conn_request,
            host,
            listen: sh.addr(host),
            t_ms,
            end_ms: t_ms,
            wall,
            method: req.method.clone(),
            path: req.target.clone(),
            domain: None,
            status: None,
            fault: None,
            fault_index: None,
            source: None,
            body_bytes: 0,
            in_flight,
            user_agent: req.header("user-agent").map(str::to_owned),
            accept: req.header("accept").map(str::to_owned),
            error: None,
        },
    };
    let keep = if req.method != "GET" && req.method != "HEAD" {
        let head = Head::new(405)
            .with("Allow", "GET, HEAD")
            .with("Content-Type", RDAP_JSON);
        x.send(
            head,
            &rdap_error(405, "RDAP queries use GET or HEAD"),
            false,
        )
    } else {
        match parse_query(req.path()) {
            Query::Domain(name) => {
                x.rec.domain = Some(name.clone());
                let fault = sh.take_fault(&name, host);
                x.answer_domain(&config, &name, fault)
            }
            Query::BadName(raw) => {
                x.rec.domain = Some(raw);
                let head = Head::new(400).with("Content-Type", RDAP_JSON);
                x.send(head, &rdap_error(400, "malformed domain name"), false)
            }
            Query::Other => x.not_found(&config),
        }
    };
    let Exchange { mut rec, .. } = x;
    rec.end_ms = sh.now_ms();
    // Logged before leaving "in flight", so a log read that waits for idle sees it.
    sh.push_record(rec);
    drop(flight);
    keep
}

/// One RDAP request being answered.
struct Exchange<'a> {
    sh: &'a Shared,
    host: usize,
    req: &'a Request,
    out: &'a mut TcpStream,
    /// Extra header fields from the fault.
    extra: Vec<(String, String)>,
    rec: Record,
}

impl Exchange<'_> {
    fn head(&self, status: u16, content_type: Option<&str>) -> Head {
        let mut head = Head::new(status);
        if let Some(ct) = content_type {
            head.add("Content-Type", ct);
        }
        head.add("Access-Control-Allow-Origin", "*");
        head
    }

    /// Adds the fault's extra header fields.
    fn finish(&self, mut head: Head) -> Head {
        for (k, v) in &self.extra {
            head.add(k, v.clone());
        }
        head
    }

    fn fail(&mut self, e: &std::io::Error) -> bool {
        self.rec.error = Some(e.to_string());
        false
    }

    /// Sends a complete response; records status and size.
    fn send(&mut self, head: Head, body: &[u8], close: bool) -> bool {
        let head = self.finish(head);
        self.rec.status = Some(head.status);
        match write_response(self.out, self.req, head, body, close) {
            Ok(keep) => {
                if !self.req.is_head() {
                    self.rec.body_bytes = body.len() as u64;
                }
                keep
            }
            Err(e) => self.fail(&e),
        }
    }

    /// Writes raw bytes, counting the body part.
    fn write_raw(&mut self, bytes: &[u8], body_part: usize) -> Result<(), std::io::Error> {
        self.out.write_all(bytes)?;
        self.rec.body_bytes += body_part as u64;
        Ok(())
    }

    fn not_found(&mut self, config: &Config) -> bool {
        match config.not_found {
            NotFound::Empty => self.send(Head::new(404), b"", false),
            NotFound::RdapError => {
                let head = Head::new(404).with("Content-Type", RDAP_JSON);
                self.send(head, &rdap_error(404, "The object does not exist."), false)
            }
        }
    }

    fn synthetic(&self, config: &Config, name: &str, referral: Option<&str>) -> (Vec<u8>, String) {
        let self_href = format!("http://{}/domain/{name}", self.sh.addr(self.host));
        // The registrar host's own synthetic records refer nowhere (no self-referral).
        let registrar = config.registrar_index(self.sh.addrs.len());
        let related = referral.map(str::to_owned).or_else(|| {
            (config.synthesize_referral && self.host != registrar)
                .then(|| self.sh.registrar_url(config, name))
        });
        let value = synthesize(name, &self_href, related.as_deref());
        (to_json_bytes(&value), "synthetic".to_owned())
    }

    /// The record body for a name on this host: a fixture (referral rewritten as configured),
    /// a synthetic record, or none.
    fn record_body(
        &self,
        config: &Config,
        name: &str,
        referral: Option<&str>,
    ) -> Option<(Vec<u8>, String)> {
        let fixture = match config.served_file(name, self.host) {
            Some(file) => self.sh.index.file(file),
            None => self.sh.index.default_for(name, self.host),
        };
        if let Some(f) = fixture {
            let href = referral.map(str::to_owned).or_else(|| {
                (config.rewrite_referrals && f.has_related)
                    .then(|| self.sh.registrar_url(config, &f.ldh_name))
            });
            let body = match href {
                Some(h) => to_json_bytes(&with_related(&f.doc, &h, referral.is_some())),
                None => f.raw.clone(),
            };
            return Some((body, f.file.clone()));
        }
        config
            .synthesizes(name)
            .then(|| self.synthetic(config, name, referral))
    }

    /// Like `record_body`, but synthesizes when there is nothing to serve.
    fn record_or_synthetic(
        &self,
        config: &Config,
        name: &str,
        referral: Option<&str>,
    ) -> (Vec<u8>, String) {
        self.record_body(config, name, referral)
            .unwrap_or_else(|| self.synthetic(config, name, referral))
    }

    fn normal(&mut self, config: &Config, name: &str) -> bool {
        match self.record_body(config, name, None) {
            Some((body, source)) => {
                self.rec.source = Some(source);
                let head = self.head(200, Some(RDAP_JSON));
                self.send(head, &body, false)
            }
            None => self.not_found(config),
        }
    }

    fn answer_domain(
        &mut self,
        config: &Config,
        name: &str,
        fault: Option<(usize, Fault)>,
    ) -> bool {
        let Some((index, fault)) = fault else {
            return self.normal(config, name);
        };
        self.rec.fault = Some(fault.kind.name().to_owned());
        self.rec.fault_index = Some(index);
        self.extra = fault
            .headers
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        if let Some(ms) = fault.delay_ms {
            thread::sleep(Duration::from_millis(ms));
        }
        match fault.kind {
            Kind::Delay => self.normal(config, name),
            Kind::Status => {
                let status = fault.status.unwrap_or(500);
                let body = fault.body_bytes().unwrap_or_else(|| {
                    if status >= 400 {
                        rdap_error(status, "Injected by rdap-mock.")
                    } else {
                        Vec::new()
                    }
                });
                let ct = (!body.is_empty() || fault.content_type.is_some())
                    .then(|| fault.content_type.as_deref().unwrap_or(RDAP_JSON));
                let mut head = self.head(status, ct);
                if let Some(ra) = &fault.retry_after {
                    head.add("Retry-After", ra.clone());
                }
                self.send(head, &body, false)
            }
            Kind::QuotaNotice => {
                let body = to_json_bytes(&json!({
                    "rdapConformance": ["rdap_level_0"],
                    "title": "Quota exceeded",
                    "description": ["The query quota for your address has been exceeded."],
                    "notices": [{
                        "title": "Quota exceeded",
                        "description": ["You have exceeded your query quota. Please try again later."],
                    }],
                }));
                let mut head = self.head(200, Some(RDAP_JSON));
                if let Some(ra) = &fault.retry_after {
                    head.add("Retry-After", ra.clone());
                }
                self.send(head, &body, false)
            }
            Kind::MalformedJson => {
                let body = fault.body_bytes().unwrap_or_else(|| {
                    format!(
                        "{{\"objectClassName\":\"domain\",\"ldhName\":\"{name}\",\"status\":[\"active\"],\
                         <html><body><h1>502 Bad Gateway</h1></body></html>"
                    )
                    .into_bytes()
                });
                let head = self.head(200, Some(RDAP_JSON));
                self.send(head, &body, false)
            }
            Kind::Truncated => {
                let (body, source) = self.record_or_synthetic(config, name, None);
                self.rec.source = Some(source);
                let sent = fault
                    .bytes
                    .unwrap_or(body.len() / 2)
                    .min(body.len().saturating_sub(1));
                let head = self
                    .head(200, Some(RDAP_JSON))
                    .with("Content-Length", body.len().to_string())
                    .with("Connection", "close");
                self.rec.status = Some(200);
                let mut bytes = self.finish(head).to_bytes();
                let part = if self.req.is_head() {
                    &[][..]
                } else {
                    body.get(..sent).unwrap_or_default()
                };
                bytes.extend_from_slice(part);
                if let Err(e) = self.write_raw(&bytes, part.len()) {
                    return self.fail(&e);
                }
                let _ = self.out.flush();
                false
            }
            Kind::Oversized => self.oversized(name, &fault),
            Kind::Drip => self.drip(config, name, &fault),
            Kind::Reset => false,
            Kind::RedirectLoop => {
                let target = if fault.alternate == Some(true) {
                    toggle_loop_param(&self.req.target)
                } else {
                    self.req.target.clone()
                };
                let location = format!("http://{}{target}", self.sh.addr(self.host));
                let head = self
                    .head(fault.status.unwrap_or(302), None)
                    .with("Location", location);
                self.send(head, b"", false)
            }
            Kind::RedirectTo => {
                let location = fault.url.clone().unwrap_or_default();
                let head = self
                    .head(fault.status.unwrap_or(302), None)
                    .with("Location", location);
                self.send(head, b"", false)
            }
            Kind::ReferralTo => {
                let url = fault.url.clone().unwrap_or_default();
                let (body, source) = self.record_or_synthetic(config, name, Some(&url));
                self.rec.source = Some(source);
                let head = self.head(200, Some(RDAP_JSON));
                self.send(head, &body, false)
            }
        }
    }

    fn oversized(&mut self, name: &str, fault: &Fault) -> bool {
        let framing = fault.framing.unwrap_or(Framing::ContentLength);
        let prefix = format!(
            "{{\"rdapConformance\":[\"rdap_level_0\"],\"objectClassName\":\"domain\",\"ldhName\":{},\
             \"remarks\":[{{\"title\":\"padding\",\"description\":[\"",
            serde_json::to_string(name).unwrap_or_default()
        );
        let suffix = "\"]}]}";
        let fixed = (prefix.len() + suffix.len()) as u64;
        let size = fault.size.unwrap_or(DEFAULT_OVERSIZE);
        let mut padding = size.saturating_sub(fixed);
        let total = fixed + padding;
        let mut head = self.head(200, Some(RDAP_JSON));
        let close = match framing {
            Framing::ContentLength => {
                head.add("Content-Length", total.to_string());
                self.req.wants_close()
            }
            Framing::Chunked => {
                head.add("Transfer-Encoding", "chunked");
                self.req.wants_close()
            }
            Framing::Close => true,
        };
        if close {
            head.add("Connection", "close");
        }
        self.rec.status = Some(200);
        let head = self.finish(head).to_bytes();
        if let Err(e) = self.write_raw(&head, 0) {
            return self.fail(&e);
        }
        if self.req.is_head() {
            return !close;
        }
        let chunked = framing == Framing::Chunked;
        let piece = |x: &mut Self, data: &[u8]| -> Result<(), std::io::Error> {
            if chunked {
                let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
                framed.extend_from_slice(data);
                framed.extend_from_slice(b"\r\n");
                x.out.write_all(&framed)?;
                x.rec.body_bytes += data.len() as u64;
                Ok(())
            } else {
                x.write_raw(data, data.len())
            }
        };
        let block = vec![b'x'; 64 * 1024];
        let mut result = piece(self, prefix.as_bytes());
        while result.is_ok() && padding > 0 {
            let n = usize::try_from(padding.min(block.len() as u64)).unwrap_or(0);
            result = piece(self, block.get(..n).unwrap_or_default());
            padding -= n as u64;
        }
        if result.is_ok() {
            result = piece(self, suffix.as_bytes());
        }
        if result.is_ok() && chunked {
            result = self.out.write_all(b"0\r\n\r\n");
        }
        match result.and_then(|()| self.out.flush()) {
            Ok(()) => !close,
            Err(e) => self.fail(&e),
        }
    }

    fn drip(&mut self, config: &Config, name: &str, fault: &Fault) -> bool {
        let body = match fault.body_bytes() {
            Some(b) => {
                self.rec.source = Some("config".to_owned());
                b
            }
            None => {
                let (b, source) = self.record_or_synthetic(config, name, None);
                self.rec.source = Some(source);
                b
            }
        };
        let interval = Duration::from_millis(fault.interval_ms.unwrap_or(DEFAULT_DRIP_MS));
        let close = self.req.wants_close();
        let mut head = self
            .head(200, Some(RDAP_JSON))
            .with("Content-Length", body.len().to_string());
        if close {
            head.add("Connection", "close");
        }
        self.rec.status = Some(200);
        let head = self.finish(head).to_bytes();
        if let Err(e) = self.write_raw(&head, 0) {
            return self.fail(&e);
        }
        if self.req.is_head() {
            return !close;
        }
        for byte in body {
            thread::sleep(interval);
            if let Err(e) = self.write_raw(&[byte], 1) {
                return self.fail(&e);
            }
        }
        !close
    }
}

/// Adds `_loop=1` to a target's query, or removes it: two URLs that redirect to each other.
fn toggle_loop_param(target: &str) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    if params.contains(&"_loop=1") {
        let rest: Vec<&str> = params.into_iter().filter(|p| *p != "_loop=1").collect();
        if rest.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", rest.join("&"))
        }
    } else if params.is_empty() {
        format!("{path}?_loop=1")
    } else {
        format!("{path}?{}&_loop=1", params.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_paths() {
        assert!(
            matches!(parse_query("/com/v1/domain/GOOGLE.COM"), Query::Domain(n) if n == "google.com")
        );
        assert!(
            matches!(parse_query("/domain/example.cz."), Query::Domain(n) if n == "example.cz")
        );
        assert!(
            matches!(parse_query("/domain/b%C3%BCcher.de"), Query::Domain(n) if n == "bücher.de")
        );
        assert!(matches!(parse_query("/domain/a..b"), Query::BadName(_)));
        assert!(matches!(parse_query("/domain/"), Query::BadName(_)));
        assert!(matches!(parse_query("/domain/a/b"), Query::BadName(_)));
        assert!(matches!(parse_query("/domain/%zz"), Query::BadName(_)));
        assert!(matches!(parse_query("/help"), Query::Other));
    }

    #[test]
    fn loop_param_toggles() {
        assert_eq!(toggle_loop_param("/domain/x"), "/domain/x?_loop=1");
        assert_eq!(toggle_loop_param("/domain/x?_loop=1"), "/domain/x");
        assert_eq!(toggle_loop_param("/d?a=1"), "/d?a=1&_loop=1");
        assert_eq!(toggle_loop_param("/d?a=1&_loop=1"), "/d?a=1");
    }
}
