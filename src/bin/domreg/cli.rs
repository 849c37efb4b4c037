//! Command-line flags. Each flag's long help is the reference; README.md and
//! the pages of docs/ repeat it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use domreg::format::Format;

/// Enrich DNS and proxy logs with domain registration data and MITRE ATT&CK fields.
#[derive(Debug, Parser)]
#[command(name = "domreg", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read log lines, add `domreg` and `threat` members, write them out.
    ///
    /// Every input line gives exactly one output line, in input order. JSON
    /// events keep their original bytes, with the new members added before
    /// the closing brace; text events become {"message": "<line>", ...}.
    /// Lines that cannot be enriched are written back unchanged and counted.
    Enrich(Box<EnrichArgs>),
    /// Run as a network service: read events from --listen, enrich them,
    /// forward them to --forward (see docs/serve.md).
    ///
    /// Reads newline-delimited events (JSON, or the text formats enrich
    /// reads) from any number of TCP or Unix-socket connections, and
    /// writes one enriched line per event to --forward, reconnecting with
    /// backoff and holding events in a bounded buffer while it is away
    /// (reading pauses when the buffer is full). Delivery is at least once:
    /// after a broken connection the last --resend-bytes are sent again.
    /// SIGTERM or SIGINT: stop accepting, forward what was read, save the
    /// cache, exit 0.
    Serve(Box<ServeArgs>),
    /// Look domains up over RDAP now and print their registration records.
    ///
    /// One JSON line per DOMAIN (any name: its registered domain is looked
    /// up), in the --registrations schema; `{"domain":..,"error":..}` when
    /// the lookup failed. Does not read or write the cache file.
    Lookup(LookupArgs),
    /// Print the ATT&CK techniques domreg can tag, with the rule behind each.
    Attack {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Convert saved RDAP domain responses to registration records (JSON Lines).
    ///
    /// Each FILE holds one RDAP response body. Files for the same domain are
    /// merged in the order given: put the registry's answer first and the
    /// registrar's after it. The output is the --registrations format.
    Rdap {
        /// RDAP response files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Record this RDAP base URL as the records' `server`.
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// Record this time (RFC 3339) as the records' `fetched`.
        #[arg(long, value_name = "TIME")]
        fetched: Option<String>,
    },
    /// Print the default configuration (TOML) to start a --config file from.
    Config,
}

#[derive(Debug, Args)]
pub struct EnrichArgs {
    /// Input files; stdin when none is given or for `-`.
    pub files: Vec<PathBuf>,

    /// Write to this file instead of stdout (replaced if it exists).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,

    /// Follow the one FILE as `tail -F` does: start at its end, keep
    /// reading lines appended to it, and reopen it when it is rotated
    /// (renamed and recreated, or truncated in place). Output is flushed
    /// after each batch. Runs until stopped (SIGTERM, SIGINT).
    #[arg(long, requires = "files")]
    pub follow: bool,

    /// With --follow: start at the beginning of FILE instead of its end.
    #[arg(long, requires = "follow")]
    pub from_start: bool,

    /// Speak rsyslog's mmexternal protocol (`interface.input="fulljson"`):
    /// read one rsyslog message as JSON per line on stdin, enrich its `msg`
    /// (a text log line, or a JSON event), and answer each message at once
    /// with one line: `{"$!":{"domreg":{...},"threat":{...}}}` (the members
    /// `enrich` would add, as message variables), or `{}` when there is
    /// nothing to add. Replies keep input order and are flushed one by one;
    /// a live lookup delays a reply by at most --max-wait. Implies --quiet
    /// and no log messages (rsyslog reads domreg's stderr as replies too).
    /// See integrations/README.md.
    #[arg(long, conflicts_with_all = ["files", "output", "unordered", "follow", "threads"])]
    pub rsyslog: bool,

    /// Threads that enrich (with --offline only), the main thread included:
    /// the input is cut into batches of lines, enriched in parallel against
    /// the shared registration records, and written in input order (flushed
    /// when no input has come for 1 ms).
    #[arg(long, value_name = "N", default_value_t = 1, conflicts_with = "follow",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,

    #[command(flatten)]
    pub common: CommonArgs,
}

impl std::ops::Deref for EnrichArgs {
    type Target = CommonArgs;
    fn deref(&self) -> &CommonArgs {
        &self.common
    }
}

/// The enrichment options `enrich` and `serve` share.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Read only this format instead of detecting it per line.
    ///
    /// JSON: zeek, suricata, sysmon, ecs, route53, json (only the --field
    /// paths). Text: squid, bind, dnsmasq, coredns. Lines of other formats
    /// pass through unchanged.
    #[arg(long, value_name = "FMT", value_parser = parse_format)]
    pub format: Option<Format>,

    /// A JSON field path holding a domain name (repeatable), tried before
    /// the built-in fields. Dotted paths reach into objects (`a.b.c`) and
    /// also match literal keys that contain dots (`id.orig_h`); the segment
    /// `[]` steps into the first element of an array (`dns.queries.[].rrname`).
    #[arg(long = "field", value_name = "PATH")]
    pub fields: Vec<String>,

    /// Registration records (JSON Lines, see docs/registrations.md), e.g.
    /// the output of `domreg rdap` or a saved cache. Repeatable; later files
    /// win for the same domain. With --offline they are the only data
    /// source; live, they are loaded into the cache first.
    #[arg(long, value_name = "FILE")]
    pub registrations: Vec<PathBuf>,

    /// No network: enrich only from --registrations (every other domain is
    /// a `miss`).
    #[arg(long)]
    pub offline: bool,

    /// Longest an event waits for its lookup, in milliseconds; then it is
    /// written with `lookup: pending` and the lookup finishes in the
    /// background for later events. 0 never waits.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub max_wait: u64,

    /// Write each event as soon as it is ready instead of in input order.
    #[arg(long)]
    pub unordered: bool,

    /// Events held at most in the reorder window (waiting for a lookup, or
    /// ready behind one that is); reading pauses while it is full.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub window: usize,

    #[command(flatten)]
    pub live: LiveArgs,

    #[command(flatten)]
    pub cache: CacheArgs,

    /// Configuration file (TOML): rule thresholds and weights, input
    /// options. `domreg config` prints the defaults; see docs/config.md.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Lines longer than this many bytes pass through unchanged
    /// (overrides `input.max_line_bytes`; default 1 MiB).
    #[arg(long, value_name = "BYTES")]
    pub max_line_bytes: Option<usize>,

    /// The time (RFC 3339) to measure ages at for events whose format
    /// carries no timestamp; default: the time each line is processed.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,

    /// Do not print the summary (or the progress bar) on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `domreg serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to accept events: `tcp://HOST:PORT` or `unix:PATH`
    /// (repeatable).
    #[arg(long, value_name = "ADDR", required = true, value_parser = parse_endpoint)]
    pub listen: Vec<Endpoint>,

    /// Where to send enriched events: `tcp://HOST:PORT` or `unix:PATH`.
    /// Without it, enriched events go to stdout.
    #[arg(long, value_name = "ADDR", value_parser = parse_endpoint)]
    pub forward: Option<Endpoint>,

    /// Serve HTTP on this address (an IP address and port, e.g.
    /// `127.0.0.1:9612`; not a host name): POST /enrich, GET /metrics,
    /// GET /healthz.
    #[arg(long, value_name = "IP:PORT")]
    pub http: Option<std::net::SocketAddr>,

    /// Enriched events held at most while --forward is slow or away;
    /// reading from the connections pauses while it is full.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub buffer_events: usize,

    /// Bytes of the last events written to --forward kept to send again
    /// after the connection breaks (those the peer may not have read): keep
    /// it above this host's TCP send buffer plus the receiving host's
    /// receive buffer (`sysctl net.ipv4.tcp_wmem net.ipv4.tcp_rmem`).
    #[arg(long, value_name = "BYTES", default_value_t = 32 << 20)]
    pub resend_bytes: usize,

    /// Longest wait between attempts to reconnect to --forward, in
    /// milliseconds (the wait starts at 100 ms and doubles; values under
    /// 100 count as 100).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub max_backoff: u64,

    /// At shutdown, how long to keep trying to forward the events already
    /// read, in seconds; after that domreg exits 1, saying how many were
    /// not forwarded.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub drain_timeout: u64,

    /// Largest POST /enrich body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub http_max_body: usize,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// A socket address: TCP or a Unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `tcp://HOST:PORT`.
    Tcp(String),
    /// `unix:PATH` (or `unix://PATH`).
    Unix(PathBuf),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "tcp://{a}"),
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

fn parse_endpoint(s: &str) -> Result<Endpoint, String> {
    if let Some(rest) = s.strip_prefix("tcp://") {
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("expected tcp://HOST:PORT, got {s:?}"))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(format!("expected tcp://HOST:PORT, got {s:?}"));
        }
        return Ok(Endpoint::Tcp(rest.to_string()));
    }
    if let Some(rest) = s.strip_prefix("unix:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err(format!("expected unix:PATH, got {s:?}"));
        }
        return Ok(Endpoint::Unix(PathBuf::from(path)));
    }
    Err(format!("expected tcp://HOST:PORT or unix:PATH, got {s:?}"))
}

/// `domreg lookup`.
#[derive(Debug, Args)]
pub struct LookupArgs {
    /// Domain names (any name under a registered domain).
    #[arg(required = true)]
    pub domains: Vec<String>,
    /// Print every HTTP exchange (URL, status, body) instead of the record.
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub live: LiveArgs,
}

/// Options of live RDAP lookups.
#[derive(Debug, Args, Clone)]
pub struct LiveArgs {
    /// An RFC 9224 bootstrap file (dns.json) to use instead of the built-in
    /// IANA copy and its daily refresh.
    #[arg(long, value_name = "FILE")]
    pub bootstrap: Option<PathBuf>,

    /// Where to refresh the IANA bootstrap from.
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://data.iana.org/rdap/dns.json"
    )]
    pub bootstrap_url: String,

    /// Allow http:// RDAP URLs and servers on loopback addresses, for tests
    /// against a local server only; never in production. Private,
    /// link-local and unspecified addresses stay refused.
    #[arg(long)]
    pub allow_insecure_rdap: bool,

    /// Requests per second to each RDAP host.
    #[arg(long, value_name = "N", default_value_t = 2.0)]
    pub rdap_rate: f64,

    /// Requests per second to one host, overriding --rdap-rate
    /// (repeatable), e.g. `rdap.verisign.com=10`.
    #[arg(long = "host-rate", value_name = "HOST=N", value_parser = parse_host_rate)]
    pub host_rates: Vec<(String, f64)>,

    /// Requests in flight at once to each RDAP host.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub rdap_concurrency: usize,

    /// Registrar referrals to follow after the registry's answer.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub referral_depth: u8,

    /// Lookups in flight at once; beyond this, events are written with
    /// `skip_reason: overload`.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_inflight: usize,

    /// Longest Retry-After honoured, in seconds (longer ones are cut).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub max_retry_after: u64,

    /// Failures in a row (5xx, timeouts, broken answers) after which a host
    /// gets no requests for --breaker-cooldown seconds.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub breaker_failures: u32,

    /// Seconds an open circuit breaker waits before one probe request
    /// (doubled after a failed probe, up to 16 times).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub breaker_cooldown: u64,
}

/// Options of the lookup cache.
#[derive(Debug, Args, Clone)]
pub struct CacheArgs {
    /// The cache file: loaded at start, saved every --cache-save-interval
    /// seconds and at exit (JSON Lines, the --registrations schema).
    /// Default: $XDG_CACHE_HOME/domreg/cache.jsonl (or ~/.cache/domreg/cache.jsonl).
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,

    /// Keep the cache in memory only.
    #[arg(long, conflicts_with = "cache")]
    pub no_cache: bool,

    /// Seconds between cache saves.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub cache_save_interval: u64,

    /// Most domains held in the cache.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub cache_entries: usize,

    /// Most memory the cache may use, in MiB (estimated).
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub cache_memory: usize,

    /// Seconds a registered domain's record stays fresh.
    #[arg(long, value_name = "SECS", default_value_t = 86_400)]
    pub ttl_found: i64,

    /// Seconds a "not registered" answer stays fresh.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub ttl_not_found: i64,

    /// Seconds a lookup error is kept before the domain is asked again.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub ttl_error: i64,
}

fn parse_host_rate(s: &str) -> Result<(String, f64), String> {
    let (host, rate) = s
        .split_once('=')
        .ok_or_else(|| format!("expected HOST=N, got {s:?}"))?;
    let rate: f64 = rate
        .parse()
        .map_err(|_| format!("not a number of requests per second: {rate:?}"))?;
    if host.is_empty() || !(rate > 0.0 && rate.is_finite()) {
        return Err(format!("expected HOST=N with N > 0, got {s:?}"));
    }
    Ok((host.to_ascii_lowercase(), rate))
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn enrich_flags() {
        let cli = Cli::try_parse_from([
            "domreg",
            "enrich",
            "a.log",
            "-",
            "-o",
            "out",
            "--format",
            "zeek",
            "--field",
            "a.b",
            "--field",
            "c",
            "--registrations",
            "r.jsonl",
            "--quiet",
        ])
        .unwrap();
        let Command::Enrich(a) = cli.command else {
            panic!()
        };
        assert_eq!(a.files.len(), 2);
        assert_eq!(a.format, Some(Format::Zeek));
        assert_eq!(a.fields, ["a.b", "c"]);
        assert!(a.quiet);
        assert!(Cli::try_parse_from(["domreg", "enrich", "--format", "nope"]).is_err());
        assert!(Cli::try_parse_from(["domreg", "enrich", "--follow"]).is_err());
    }

    #[test]
    fn serve_flags() {
        let cli = Cli::try_parse_from([
            "domreg",
            "serve",
            "--listen",
            "tcp://127.0.0.1:9000",
            "--listen",
            "unix:/run/domreg.sock",
            "--forward",
            "tcp://[::1]:9001",
            "--http",
            "127.0.0.1:8080",
            "--offline",
            "--registrations",
            "r.jsonl",
        ])
        .unwrap();
        let Command::Serve(a) = cli.command else {
            panic!()
        };
        assert_eq!(
            a.listen,
            [
                Endpoint::Tcp("127.0.0.1:9000".into()),
                Endpoint::Unix("/run/domreg.sock".into())
            ]
        );
        assert_eq!(a.forward, Some(Endpoint::Tcp("[::1]:9001".into())));
        assert!(a.common.offline);
        for bad in [
            "127.0.0.1:9000",
            "tcp://127.0.0.1",
            "tcp://:9",
            "unix:",
            "udp://a:1",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
        assert!(Cli::try_parse_from(["domreg", "serve"]).is_err());
    }
}
