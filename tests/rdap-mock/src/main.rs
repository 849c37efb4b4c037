//! `rdap-mock`: a real HTTP/1.1 server on loopback addresses that answers RDAP domain queries
//! (RFC 9082/9083) from fixture files or synthetic records, and injects faults on request, so
//! that domreg's tests never reach a real registry. See README.md beside Cargo.toml.

mod config;
mod fixtures;
mod http;
mod ordered;
mod server;
mod time;

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;

use config::Config;
use fixtures::Index;
use server::Shared;

const USAGE: &str = "\
usage: rdap-mock [--listen ADDR]... [--fixtures DIR] [--config FILE] [--log FILE] [--no-stdin-exit]

  --listen ADDR     a loopback address to listen on, e.g. 127.0.0.1:0 (0 = any free port).
                    Repeat for more hosts: the first is the registry host (index 0), the second
                    the registrar host (index 1). Default: two addresses 127.0.0.1:0.
  --fixtures DIR    RDAP response files, indexed by their ldhName (default: the repository's
                    tests/fixtures/rdap)
  --config FILE     configuration JSON (options and faults; see README.md)
  --log FILE        also append each request's log record to FILE as a JSON line
  --no-stdin-exit   keep running when standard input is closed (default: exit on EOF)

On start, prints {\"listening\":[\"127.0.0.1:PORT\",...]} as one line on stdout.
Stops on EOF on standard input, on POST /_control/shutdown, or on a signal.
";

struct Args {
    listen: Vec<SocketAddr>,
    fixtures: PathBuf,
    config: Option<PathBuf>,
    log: Option<PathBuf>,
    stdin_exit: bool,
}

/// A loopback socket address; `localhost:PORT` means 127.0.0.1:PORT.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let addr = match text.strip_prefix("localhost:") {
        Some(port) => port
            .parse::<u16>()
            .map(|p| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p))
            .map_err(|_| format!("invalid port in --listen {text:?}"))?,
        None => text.parse::<SocketAddr>().map_err(|_| {
            format!("invalid --listen {text:?}: expected IP:PORT, e.g. 127.0.0.1:0")
        })?,
    };
    if !addr.ip().is_loopback() {
        return Err(format!(
            "refusing to listen on {addr}: only loopback addresses (127.0.0.0/8, ::1) are allowed"
        ));
    }
    Ok(addr)
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        listen: Vec::new(),
        fixtures: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/rdap")),
        config: None,
        log: None,
        stdin_exit: true,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => parsed.listen.push(parse_listen(&value()?)?),
            "--fixtures" => parsed.fixtures = PathBuf::from(value()?),
            "--config" => parsed.config = Some(PathBuf::from(value()?)),
            "--log" => parsed.log = Some(PathBuf::from(value()?)),
            "--no-stdin-exit" => parsed.stdin_exit = false,
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    if parsed.listen.is_empty() {
        let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        parsed.listen = vec![any, any];
    }
    Ok(Some(parsed))
}

fn run() -> Result<(), String> {
    let Some(args) = parse_args(std::env::args().skip(1))? else {
        print!("{USAGE}");
        return Ok(());
    };
    let index = Index::load(&args.fixtures)?;
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
            Config::parse(&text, &index, args.listen.len())
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Config::default(),
    };
    let log_file = match &args.log {
        Some(path) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open log {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let mut listeners = Vec::new();
    let mut addrs = Vec::new();
    for addr in &args.listen {
        let listener =
            TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("cannot read the address of {addr}: {e}"))?;
        listeners.push(listener);
        addrs.push(local);
    }
    let shared = Arc::new(Shared::new(addrs.clone(), index, config, log_file));
    for (host, listener) in listeners.into_iter().enumerate() {
        let sh = Arc::clone(&shared);
        thread::Builder::new()
            .name(format!("accept-{host}"))
            .spawn(move || server::accept_loop(sh, host, listener))
            .map_err(|e| format!("cannot start the accept thread: {e}"))?;
    }
    let listening: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
    let line = serde_json::json!({ "listening": listening });
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(stdout);

    if args.stdin_exit {
        // Returns at EOF (the test dropped its handle) or on a read error; either way, stop.
        let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
    } else {
        loop {
            thread::park();
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rdap-mock: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_must_be_loopback() {
        assert!(parse_listen("127.0.0.1:0").is_ok());
        assert!(parse_listen("127.0.0.2:8080").is_ok());
        assert!(parse_listen("[::1]:0").is_ok());
        assert_eq!(parse_listen("localhost:7").unwrap().port(), 7);
        assert!(parse_listen("0.0.0.0:0").unwrap_err().contains("loopback"));
        assert!(parse_listen("[::]:0").unwrap_err().contains("loopback"));
        assert!(
            parse_listen("192.0.2.1:80")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(parse_listen("example.com:80").is_err());
    }
}
