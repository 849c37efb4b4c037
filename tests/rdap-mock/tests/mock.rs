//! Runs the real `rdap-mock` binary and talks to it over loopback with a plain `TcpStream`.
#![cfg(test)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/rdap");

fn fixture(file: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{file}")).unwrap()
}

struct Mock {
    child: Child,
    addrs: Vec<String>,
}

impl Mock {
    fn start(args: &[&str]) -> Mock {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rdap-mock"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        let addrs = v["listening"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        Mock { child, addrs }
    }

    fn addr(&self, host: usize) -> &str {
        &self.addrs[host]
    }

    fn get(&self, host: usize, path: &str) -> Resp {
        request(self.addr(host), "GET", path, None).unwrap()
    }

    fn post(&self, path: &str, body: &Value) -> Resp {
        let body = serde_json::to_vec(body).unwrap();
        request(self.addr(0), "POST", path, Some(&body)).unwrap()
    }

    fn config(&self, config: Value) {
        let resp = self.post("/_control/config", &config);
        assert_eq!(resp.status, 200, "{}", resp.text());
    }

    fn log(&self) -> Vec<Value> {
        self.get(0, "/_control/log")
            .json()
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits for the child to exit on its own.
    fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if self.wait_exit(Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn write_request(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    close: bool,
) {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: rdap.test\r\nUser-Agent: mock-test/1.0\r\nAccept: application/rdap+json\r\n"
    );
    if close {
        req.push_str("Connection: close\r\n");
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    stream.write_all(&bytes).unwrap();
}

/// Reads one response. With a Content-Length, reads at most that many bytes (fewer if the
/// server closes early); chunked bodies are decoded; otherwise reads to EOF.
fn read_response(r: &mut BufReader<TcpStream>) -> io::Result<Resp> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "no status line",
        ));
    }
    let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').unwrap();
        headers.push((n.to_owned(), v.trim().to_owned()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if let Some(len) = resp.header("content-length") {
        let len: u64 = len.parse().unwrap();
        r.by_ref().take(len).read_to_end(&mut resp.body)?;
    } else if resp.header("transfer-encoding") == Some("chunked") {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            chunk.truncate(size);
            resp.body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    } else {
        r.read_to_end(&mut resp.body)?;
    }
    Ok(resp)
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

fn request(addr: &str, method: &str, path: &str, body: Option<&[u8]>) -> io::Result<Resp> {
    let mut s = connect(addr);
    write_request(&mut s, method, path, body, true);
    read_response(&mut BufReader::new(s))
}

fn link<'a>(doc: &'a Value, rel: &str) -> Option<&'a str> {
    doc["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
}

#[test]
fn serves_fixtures_by_ldh_name_under_any_base_path() {
    let m = Mock::start(&[]);
    for path in [
        "/domain/example.cz",
        "/cz/v1/domain/EXAMPLE.CZ",
        "/rdap/domain/example.cz.",
    ] {
        let r = m.get(0, path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("application/rdap+json"));
        // Nothing to rewrite: the file's bytes exactly.
        assert_eq!(r.body, fixture("cznic-example.cz.json"), "{path}");
    }
    for (path, ldh) in [
        ("/uk/domain/bbc.co.uk", "bbc.co.uk"),
        ("/domain/NIC.xyz", "nic.xyz"),
        ("/domain/wicar.org", "wicar.org"),
        ("/domain/microsoft.click", "microsoft.click"),
    ] {
        let r = m.get(0, path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.json()["ldhName"].as_str().unwrap().to_lowercase(), ldh);
    }
    // HEAD: headers only.
    let mut s = connect(m.addr(0));
    write_request(&mut s, "HEAD", "/domain/example.cz", None, false);
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    assert!(head.starts_with("HTTP/1.1 200"));
    assert!(head.contains(&format!(
        "Content-Length: {}",
        fixture("cznic-example.cz.json").len()
    )));
    // The same connection still works: no body was sent.
    write_request(&mut s, "GET", "/domain/example.cz", None, true);
    assert_eq!(read_response(&mut reader).unwrap().status, 200);
}

#[test]
fn unknown_names_and_bad_requests() {
    let m = Mock::start(&[]);
    let r = m.get(0, "/com/v1/domain/no-such-domain.com");
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), Some("0"));

    m.config(json!({"not_found": "rdap_error"}));
    let r = m.get(0, "/domain/no-such-domain.com");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["errorCode"], 404);
    let r = m.get(0, "/help");
    assert_eq!(r.status, 404);

    assert_eq!(m.get(0, "/domain/a..b").status, 400);
    assert_eq!(m.get(0, "/domain/").status, 400);
    let r = request(m.addr(0), "DELETE", "/domain/example.cz", None).unwrap();
    assert_eq!(r.status, 405);

    // Garbage instead of HTTP: 400 and close.
    let mut s = connect(m.addr(0));
    s.write_all(b"hello there\r\n\r\n").unwrap();
    let r = read_response(&mut BufReader::new(s)).unwrap();
    assert_eq!(r.status, 400);
}

#[test]
fn registry_and_registrar_hosts_with_rewritten_referral() {
    let m = Mock::start(&[]);
    let registry = m.get(0, "/com/v1/domain/google.com").json();
    assert_eq!(registry["handle"], "2138514_DOMAIN_COM-VRSN");
    let related = link(&registry, "related").unwrap();
    assert_eq!(related, format!("http://{}/domain/GOOGLE.COM", m.addr(1)));
    // Only the href changed, and member order is the file's.
    let original: Value = serde_json::from_slice(&fixture("verisign-google.com.json")).unwrap();
    assert_eq!(link(&registry, "self"), link(&original, "self"));
    assert_eq!(registry["events"], original["events"]);
    assert!(
        m.get(0, "/domain/google.com")
            .text()
            .starts_with("{\"objectClassName\"")
    );

    // Follow the referral: the registrar host serves the MarkMonitor file, unchanged.
    let path = related
        .strip_prefix(&format!("http://{}", m.addr(1)))
        .unwrap();
    let registrar = m.get(1, path);
    assert_eq!(registrar.status, 200);
    assert_eq!(
        registrar.body,
        fixture("markmonitor-registrar-google.com.json")
    );

    let log = m.log();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0]["host"], 0);
    assert_eq!(log[0]["source"], "verisign-google.com.json");
    assert_eq!(log[2]["host"], 1);
    assert_eq!(log[2]["source"], "markmonitor-registrar-google.com.json");

    // Rewriting off: the real registrar URL.
    m.config(json!({"rewrite_referrals": false}));
    let doc = m.get(0, "/domain/google.com").json();
    assert_eq!(
        link(&doc, "related"),
        Some("https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM")
    );

    // serve: the config picks the file per host.
    m.config(json!({"serve": [{"domain": "GOOGLE.COM", "host": 0, "file": "markmonitor-registrar-google.com.json"}]}));
    assert_eq!(
        m.get(0, "/domain/google.com").body,
        fixture("markmonitor-registrar-google.com.json")
    );
    let bad = m.post(
        "/_control/config",
        &json!({"serve": [{"domain": "x.com", "file": "nope.json"}]}),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("nope.json"));
}

#[test]
fn status_faults_and_times() {
    let m = Mock::start(&[]);
    m.config(json!({"faults": [
        {"domain": "google.com", "kind": "status", "status": 429, "retry_after": "120", "times": 2},
        {"domain": "wicar.org", "kind": "status", "status": 503, "retry_after": "Wed, 21 Oct 2026 07:28:00 GMT", "body": "busy", "content_type": "text/plain"},
        {"domain": "bbc.co.uk", "kind": "status", "status": 400, "body": {"errorCode": 400, "title": "subdomain"}, "headers": {"X-Test": "yes"}},
        {"domain": "nic.xyz", "host": 1, "kind": "status", "status": 500}
    ]}));
    for _ in 0..2 {
        let r = m.get(0, "/domain/google.com");
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("120"));
        assert_eq!(r.json()["errorCode"], 429);
    }
    let r = m.get(0, "/domain/google.com");
    assert_eq!(r.status, 200, "times: 2 is used up");
    assert_eq!(r.header("retry-after"), None);

    let r = m.get(0, "/domain/wicar.org");
    assert_eq!(r.status, 503);
    assert_eq!(
        r.header("retry-after"),
        Some("Wed, 21 Oct 2026 07:28:00 GMT")
    );
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.text(), "busy");
    assert_eq!(
        m.get(0, "/domain/wicar.org").status,
        503,
        "no times: always"
    );

    let r = m.get(0, "/domain/bbc.co.uk");
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-test"), Some("yes"));
    assert_eq!(r.json()["title"], "subdomain");

    assert_eq!(
        m.get(0, "/domain/nic.xyz").status,
        200,
        "fault is for host 1 only"
    );
    assert_eq!(m.get(1, "/domain/nic.xyz").status, 500);

    let state = m.get(0, "/_control/config").json();
    assert_eq!(
        state["fault_state"][0],
        json!({"applied": 2, "remaining": 0})
    );
    assert_eq!(
        state["fault_state"][1],
        json!({"applied": 2, "remaining": null})
    );

    let log = m.log();
    assert_eq!(log.len(), 8);
    assert_eq!(log[0]["fault"], "status");
    assert_eq!(log[0]["fault_index"], 0);
    assert_eq!(log[2]["fault"], Value::Null);

    // Reset clears the faults and the log.
    assert_eq!(m.post("/_control/reset", &json!({})).status, 200);
    assert!(m.log().is_empty());
    assert_eq!(m.get(0, "/domain/wicar.org").status, 200);
    assert_eq!(m.log().len(), 1);
}

#[test]
fn fault_chain_wildcard_and_invalid_configs() {
    let m = Mock::start(&[]);
    m.config(json!({"faults": [
        {"kind": "status", "status": 429, "retry_after": "1", "times": 1},
        {"kind": "status", "status": 500, "times": 1},
    ]}));
    assert_eq!(m.get(0, "/domain/example.cz").status, 429);
    assert_eq!(m.get(1, "/domain/anything.example").status, 500);
    assert_eq!(m.get(0, "/domain/example.cz").status, 200);

    for (bad, needle) in [
        (
            json!({"faults": [{"kind": "drip", "status": 500}]}),
            "status",
        ),
        (json!({"faults": [{"kind": "status"}]}), "needs `status`"),
        (json!({"faults": [{"kind": "nonsense"}]}), "unknown variant"),
        (json!({"faults": [{"kind": "redirect_to"}]}), "needs `url`"),
        (
            json!({"faults": [{"kind": "delay", "delay_ms": 1, "host": 7}]}),
            "host 7",
        ),
        (
            json!({"faults": [{"kind": "status", "status": 503, "retry_after": "1\r\nX: y"}]}),
            "CR",
        ),
        (json!({"rewrite_referral": true}), "unknown field"),
    ] {
        let r = m.post("/_control/config", &bad);
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.text().contains(needle), "{bad}: {}", r.text());
    }
}

#[test]
fn quota_notice_and_malformed_json() {
    let m = Mock::start(&[]);
    m.config(json!({"faults": [
        {"domain": "google.com", "kind": "quota_notice"},
        {"domain": "wicar.org", "kind": "malformed_json"},
        {"domain": "bbc.co.uk", "kind": "malformed_json", "body": "<html>oops</html>"},
    ]}));
    let r = m.get(0, "/domain/google.com");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["notices"][0]["title"], "Quota exceeded");
    assert!(doc.get("ldhName").is_none());

    let r = m.get(0, "/domain/wicar.org");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/rdap+json"));
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    assert_eq!(m.get(0, "/domain/bbc.co.uk").text(), "<html>oops</html>");
}

#[test]
fn truncated_reset_and_delay() {
    let m = Mock::start(&[]);
    m.config(json!({"faults": [
        {"domain": "example.cz", "kind": "truncated"},
        {"domain": "wicar.org", "kind": "truncated", "bytes": 10},
        {"domain": "google.com", "kind": "reset"},
        {"domain": "bbc.co.uk", "kind": "delay", "delay_ms": 300},
        {"domain": "nic.xyz", "kind": "status", "status": 503, "delay_ms": 200},
    ]}));
    let full = fixture("cznic-example.cz.json").len();
    let r = m.get(0, "/domain/example.cz");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(full.to_string().as_str()));
    assert_eq!(r.body.len(), full / 2);
    let r = m.get(0, "/domain/wicar.org");
    assert_eq!(r.body.len(), 10);

    // reset: the connection closes without a response.
    let err = request(m.addr(0), "GET", "/domain/google.com", None).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);

    let t = Instant::now();
    assert_eq!(m.get(0, "/domain/bbc.co.uk").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(m.get(0, "/domain/nic.xyz").status, 503);
    assert!(t.elapsed() >= Duration::from_millis(200));

    let log = m.log();
    assert_eq!(log.len(), 5);
    assert_eq!(log[0]["fault"], "truncated");
    assert_eq!(log[0]["body_bytes"], full / 2);
    assert_eq!(log[2]["fault"], "reset");
    assert_eq!(log[2]["status"], Value::Null);
    let delay = &log[3];
    assert!(delay["end_ms"].as_f64().unwrap() - delay["t_ms"].as_f64().unwrap() >= 300.0);
}

#[test]
fn oversized_bodies() {
    let m = Mock::start(&[]);
    m.config(json!({"faults": [
        {"domain": "a.example", "kind": "oversized"},
        {"domain": "b.example", "kind": "oversized", "size": 100000, "framing": "chunked"},
        {"domain": "c.example", "kind": "oversized", "size": 50000, "framing": "close"},
    ]}));
    let r = m.get(0, "/domain/a.example");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("2097152"));
    assert_eq!(r.body.len(), 2 * 1024 * 1024);
    assert_eq!(r.json()["ldhName"], "a.example");

    let r = m.get(0, "/domain/b.example");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.body.len(), 100_000);
    r.json();

    let r = m.get(0, "/domain/c.example");
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.body.len(), 50_000);
    r.json();

    // A client that gives up early: the server notes the write error and carries on.
    let mut s = connect(m.addr(0));
    write_request(&mut s, "GET", "/domain/a.example", None, true);
    let mut first = [0u8; 1024];
    s.read_exact(&mut first).unwrap();
    drop(s);
    let log = m.get(0, "/_control/log?wait_for=4").json();
    assert_eq!(log.as_array().unwrap().len(), 4);
    assert_eq!(m.get(0, "/domain/example.cz").status, 200);
}

#[test]
fn drip_sends_slowly() {
    let m = Mock::start(&[]);
    m.config(json!({"faults": [
        {"domain": "a.example", "kind": "drip", "interval_ms": 30, "body": "{\"ok\":true}"},
        {"domain": "example.cz", "kind": "drip", "interval_ms": 0},
    ]}));
    let t = Instant::now();
    let r = m.get(0, "/domain/a.example");
    let elapsed = t.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "{\"ok\":true}");
    assert!(elapsed >= Duration::from_millis(30 * 11), "{elapsed:?}");

    // Without a body, the fixture is dripped.
    assert_eq!(
        m.get(0, "/domain/example.cz").body,
        fixture("cznic-example.cz.json")
    );

    // The head arrives at once; the body does not.
    m.config(json!({"faults": [{"kind": "drip", "interval_ms": 1000}]}));
    let mut s = connect(m.addr(0));
    write_request(&mut s, "GET", "/domain/example.cz", None, true);
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut status = String::new();
    let t = Instant::now();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"));
    assert!(t.elapsed() < Duration::from_millis(700));
}

#[test]
fn redirects_and_referrals() {
    let m = Mock::start(&[]);
    m.config(json!({"faults": [
        {"domain": "loop.example", "kind": "redirect_loop"},
        {"domain": "alt.example", "kind": "redirect_loop", "alternate": true, "status": 307},
        {"domain": "away.example", "kind": "redirect_to", "url": "http://192.168.1.1/domain/away.example"},
        {"domain": "google.com", "kind": "referral_to", "url": "https://10.0.0.1/domain/google.com"},
        {"domain": "example.cz", "kind": "referral_to", "url": "http://192.168.1.1/rdap/domain/example.cz"},
    ]}));
    let base = format!("http://{}", m.addr(0));
    let r = m.get(0, "/v1/domain/loop.example");
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("{base}/v1/domain/loop.example").as_str())
    );
    let r = m.get(0, "/v1/domain/loop.example");
    assert_eq!(r.status, 302, "forever");

    let r = m.get(0, "/domain/alt.example");
    assert_eq!(r.status, 307);
    let next = r.header("location").unwrap().to_owned();
    assert_eq!(next, format!("{base}/domain/alt.example?_loop=1"));
    let r = m.get(0, next.strip_prefix(&base).unwrap());
    assert_eq!(
        r.header("location"),
        Some(format!("{base}/domain/alt.example").as_str())
    );

    let r = m.get(0, "/domain/away.example");
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("http://192.168.1.1/domain/away.example")
    );

    let doc = m.get(0, "/domain/google.com").json();
    assert_eq!(
        link(&doc, "related"),
        Some("https://10.0.0.1/domain/google.com")
    );
    assert_eq!(doc["handle"], "2138514_DOMAIN_COM-VRSN");
    // A fixture without a related link gets one.
    let doc = m.get(0, "/domain/example.cz").json();
    assert_eq!(
        link(&doc, "related"),
        Some("http://192.168.1.1/rdap/domain/example.cz")
    );
    assert_eq!(
        link(&doc, "self"),
        Some("https://rdap.nic.cz/domain/example.cz")
    );
}

#[test]
fn synthetic_domains_are_deterministic() {
    let m = Mock::start(&[]);
    assert_eq!(m.get(0, "/domain/host-1.test-registry.example").status, 404);
    m.config(json!({"synthesize": true, "synthesize_suffixes": ["test-registry.example"], "synthesize_referral": true}));
    let a = m.get(0, "/domain/Host-1.test-registry.example");
    assert_eq!(a.status, 200);
    let b = m.get(0, "/domain/host-1.test-registry.example");
    assert_eq!(a.body, b.body);
    let doc = a.json();
    assert_eq!(doc["objectClassName"], "domain");
    assert_eq!(doc["ldhName"], "host-1.test-registry.example");
    assert_eq!(doc["status"], json!(["client transfer prohibited"]));
    assert_eq!(doc["nameservers"].as_array().unwrap().len(), 2);
    let registrar = &doc["entities"][0];
    assert_eq!(registrar["roles"], json!(["registrar"]));
    assert_eq!(registrar["publicIds"][0]["type"], "IANA Registrar ID");
    let actions: Vec<&str> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventAction"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["registration", "expiration", "last changed"]);
    assert_eq!(
        link(&doc, "related"),
        Some(format!("http://{}/domain/host-1.test-registry.example", m.addr(1)).as_str())
    );
    // The registrar host's copy has the same facts and no referral.
    let on_registrar = m.get(1, "/domain/host-1.test-registry.example").json();
    assert_eq!(on_registrar["events"], doc["events"]);
    assert_eq!(link(&on_registrar, "related"), None);

    // Other names differ; names outside the suffixes are not synthesized; fixtures still win.
    let other = m.get(0, "/domain/host-2.test-registry.example").json();
    assert_ne!(other["handle"], doc["handle"]);
    assert_eq!(m.get(0, "/domain/host-1.other.example").status, 404);
    assert_eq!(
        m.get(0, "/domain/example.cz").body,
        fixture("cznic-example.cz.json")
    );

    // Many distinct names over one keep-alive connection.
    let mut s = connect(m.addr(0));
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut handles = std::collections::HashSet::new();
    for i in 0..300 {
        write_request(
            &mut s,
            "GET",
            &format!("/domain/d{i}.test-registry.example"),
            None,
            false,
        );
        let r = read_response(&mut reader).unwrap();
        assert_eq!(r.status, 200);
        handles.insert(r.json()["handle"].as_str().unwrap().to_owned());
    }
    assert_eq!(handles.len(), 300);
}

#[test]
fn keep_alive_two_requests_on_one_connection() {
    let m = Mock::start(&[]);
    let mut s = connect(m.addr(0));
    let mut reader = BufReader::new(s.try_clone().unwrap());
    write_request(&mut s, "GET", "/domain/example.cz", None, false);
    let first = read_response(&mut reader).unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("connection"), None);
    write_request(&mut s, "GET", "/domain/nope.example", None, false);
    assert_eq!(read_response(&mut reader).unwrap().status, 404);
    // Control requests share the connection too, and a POST body is read exactly.
    let body = serde_json::to_vec(&json!({"faults": []})).unwrap();
    write_request(&mut s, "POST", "/_control/config", Some(&body), false);
    assert_eq!(read_response(&mut reader).unwrap().status, 200);
    write_request(&mut s, "GET", "/domain/wicar.org", None, true);
    let last = read_response(&mut reader).unwrap();
    assert_eq!(last.status, 200);
    assert_eq!(last.header("connection"), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(
        reader.read_to_end(&mut rest).unwrap(),
        0,
        "closed after Connection: close"
    );

    let log = m.log();
    assert_eq!(log.len(), 3, "control requests are not logged");
    assert!(log.iter().all(|r| r["connection"] == log[0]["connection"]));
    let positions: Vec<u64> = log
        .iter()
        .map(|r| r["connection_request"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [0, 1, 3]);

    // Pipelined: two requests in one write.
    let mut s = connect(m.addr(0));
    s.write_all(b"GET /domain/example.cz HTTP/1.1\r\nHost: x\r\n\r\nGET /domain/bbc.co.uk HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(s);
    assert_eq!(
        read_response(&mut reader).unwrap().json()["ldhName"],
        "example.cz"
    );
    assert_eq!(
        read_response(&mut reader).unwrap().json()["ldhName"],
        "bbc.co.uk"
    );
}

#[test]
fn request_log_records_everything() {
    let m = Mock::start(&[]);
    m.config(json!({"faults": [{"domain": "bbc.co.uk", "kind": "delay", "delay_ms": 900}]}));
    // Three concurrent requests on host 0 overlap; one on host 1 does not count there.
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let addr = m.addr(0).to_owned();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(i * 50));
                request(&addr, "GET", "/domain/bbc.co.uk", None)
                    .unwrap()
                    .status
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(450));
    let stats = m.get(0, "/_control/stats").json();
    assert_eq!(stats["in_flight"], json!([3, 0]));
    assert_eq!(m.get(1, "/domain/example.cz").status, 200);
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    let log = m.get(0, "/_control/log?wait_for=4&timeout_ms=3000").json();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 4);
    let ids: Vec<u64> = log.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [0, 1, 2, 3], "arrival order");
    let mut flights: Vec<u64> = log
        .iter()
        .filter(|r| r["host"] == 0)
        .map(|r| r["in_flight"].as_u64().unwrap())
        .collect();
    flights.sort_unstable();
    assert_eq!(flights, [1, 2, 3]);
    let on_registrar = log.iter().find(|r| r["host"] == 1).unwrap();
    assert_eq!(on_registrar["in_flight"], 1);
    assert_eq!(on_registrar["listen"], m.addr(1));

    let r = &log[0];
    for key in [
        "id",
        "connection",
        "connection_request",
        "host",
        "listen",
        "t_ms",
        "end_ms",
        "wall",
        "method",
        "path",
        "domain",
        "status",
        "fault",
        "fault_index",
        "source",
        "body_bytes",
        "in_flight",
        "user_agent",
        "accept",
        "error",
    ] {
        assert!(r.get(key).is_some(), "missing {key}");
    }
    assert_eq!(r["method"], "GET");
    assert_eq!(r["path"], "/domain/bbc.co.uk");
    assert_eq!(r["domain"], "bbc.co.uk");
    assert_eq!(r["status"], 200);
    assert_eq!(r["fault"], "delay");
    assert_eq!(r["source"], "nominet-bbc.co.uk.json");
    assert_eq!(r["user_agent"], "mock-test/1.0");
    assert_eq!(r["accept"], "application/rdap+json");
    assert_eq!(r["body_bytes"], fixture("nominet-bbc.co.uk.json").len());
    let wall = r["wall"].as_str().unwrap();
    assert_eq!(wall.len(), "2026-01-01T00:00:00.000Z".len());
    assert!(wall.ends_with('Z') && wall.as_bytes()[10] == b'T');
    assert!(r["end_ms"].as_f64().unwrap() - r["t_ms"].as_f64().unwrap() >= 900.0);
    assert_eq!(
        m.get(0, "/_control/stats").json()["in_flight"],
        json!([0, 0])
    );
}

#[test]
fn config_file_and_log_file() {
    let dir = std::env::temp_dir().join(format!("rdap-mock-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.json");
    let log = dir.join("log.jsonl");
    let _ = std::fs::remove_file(&log);
    std::fs::write(
        &config,
        serde_json::to_vec(&json!({
            "not_found": "rdap_error",
            "faults": [{"domain": "example.cz", "kind": "status", "status": 429, "retry_after": "7", "times": 1}]
        }))
        .unwrap(),
    )
    .unwrap();
    let m = Mock::start(&[
        "--listen",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
    ]);
    assert_eq!(m.addrs.len(), 1);
    let r = m.get(0, "/domain/example.cz");
    assert_eq!((r.status, r.header("retry-after")), (429, Some("7")));
    assert_eq!(m.get(0, "/domain/example.cz").status, 200);
    assert_eq!(m.get(0, "/domain/unknown.cz").json()["errorCode"], 404);
    // With one host, referrals point at it.
    let doc = m.get(0, "/domain/google.com").json();
    assert_eq!(
        link(&doc, "related"),
        Some(format!("http://{}/domain/GOOGLE.COM", m.addr(0)).as_str())
    );
    m.get(0, "/_control/log?wait_for=4");
    let mut lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Records are appended as responses finish, which need not be arrival
    // order: sort by arrival.
    lines.sort_by_key(|r| r["id"].as_u64());
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["status"], 429);
    drop(m);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refuses_non_loopback_and_bad_arguments() {
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.10:8080"] {
        let out = Command::new(env!("CARGO_BIN_EXE_rdap-mock"))
            .args(["--listen", addr])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{addr}");
        assert!(out.stdout.is_empty());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("loopback"),
            "{addr}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rdap-mock"))
        .args(["--bogus"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_rdap-mock"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--config",
            "/nonexistent/config.json",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn stops_on_stdin_eof_and_on_shutdown() {
    let mut m = Mock::start(&["--listen", "127.0.0.1:0"]);
    drop(m.child.stdin.take());
    assert!(m.wait_exit(Duration::from_secs(5)).unwrap().success());

    let mut m = Mock::start(&["--listen", "127.0.0.1:0"]);
    let r = m.post("/_control/shutdown", &json!({}));
    assert_eq!(r.status, 200);
    assert!(m.wait_exit(Duration::from_secs(5)).unwrap().success());
}

#[test]
fn bootstrap_and_fixture_index() {
    let m = Mock::start(&[]);
    let index = m.get(0, "/_control/fixtures").json();
    assert_eq!(
        index["google.com"],
        json!([
            "verisign-google.com.json",
            "markmonitor-registrar-google.com.json"
        ])
    );
    let boot = m.get(0, "/_control/bootstrap").json();
    assert_eq!(boot["version"], "1.0");
    let service = &boot["services"][0];
    assert!(service[0].as_array().unwrap().contains(&json!("com")));
    assert_eq!(service[1][0], format!("http://{}/", m.addr(0)));
    assert_eq!(m.get(0, "/_control/nothing").status, 404);
    assert_eq!(m.get(0, "/_control/reset").status, 405);
}
