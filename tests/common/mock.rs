//! rdap-mock (tests/rdap-mock) for the integration tests that need a
//! loopback RDAP server: started with a configuration, driven through its
//! control API, stopped when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The built rdap-mock binary (built now if `cargo test --test X` alone
/// did not build the other package).
fn mock_binary() -> PathBuf {
    let domreg = PathBuf::from(env!("CARGO_BIN_EXE_domreg"));
    let path = domreg.with_file_name(format!("rdap-mock{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        // `cargo test --test live` alone does not build the other package.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .args(["build", "-p", "rdap-mock", "--locked"])
            .status()
            .expect("cargo build -p rdap-mock");
        assert!(status.success());
    }
    path
}

/// A running rdap-mock.
pub struct Mock {
    child: Child,
    /// Its listening addresses (index 0: the registry host).
    pub hosts: Vec<String>,
}

impl Mock {
    pub fn start(config: Value) -> Mock {
        let mut child = Command::new(mock_binary())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rdap-mock");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ports line");
        let v: Value = serde_json::from_str(&line).expect("ports JSON");
        let hosts = v["listening"]
            .as_array()
            .expect("listening")
            .iter()
            .map(|h| h.as_str().expect("host").to_string())
            .collect();
        let mock = Mock { child, hosts };
        mock.post("/_control/config", &config);
        mock
    }

    pub fn request(&self, method: &str, path: &str, body: &str) -> Value {
        let mut s = TcpStream::connect(&self.hosts[0]).expect("connect to mock");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        let (head, body) = text.split_once("\r\n\r\n").expect("http answer");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
        serde_json::from_str(body).expect("JSON body")
    }

    pub fn post(&self, path: &str, body: &Value) -> Value {
        self.request("POST", path, &body.to_string())
    }

    /// The request log (waits until no request is in flight).
    pub fn log(&self) -> Vec<Value> {
        let v = self.request("GET", "/_control/log?timeout_ms=5000", "");
        v.as_array().expect("log array").clone()
    }

    pub fn reset(&self) {
        self.post("/_control/reset", &json!({}));
    }

    pub fn bootstrap(&self, dir: &Path) -> PathBuf {
        let v = self.request("GET", "/_control/bootstrap", "");
        let path = dir.join("bootstrap.json");
        std::fs::write(&path, v.to_string()).expect("write bootstrap");
        path
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
