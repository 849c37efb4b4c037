//! Text log formats: find the domain name in one line of a text log.
//!
//! Every function here runs once per log line, so the parsers are written for
//! the hot path: they never allocate, never use regular expressions, borrow the
//! name from the input line, and reject lines of another shape as early and as
//! cheaply as they can. They only ever cut the line at ASCII delimiters, so any
//! UTF-8 around the fields is safe.
//!
//! The line layouts, and where they are documented:
//!
//! * **Squid** native `access.log` (`logformat squid`, built in:
//!   `%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`; see the
//!   `logformat` directive at <https://www.squid-cache.org/Doc/config/logformat/>).
//!   Fields are separated by runs of spaces. The name is the host of the
//!   request URL `%ru`: `scheme://[user[:pass]@]host[:port][/path]`, or the
//!   authority form `host:port` / `[v6]:port` that CONNECT requests log. The
//!   first field (epoch seconds with milliseconds) is the event time.
//! * **BIND 9** query log (`category queries`), usually inside a syslog
//!   wrapper. `named` prints `query: NAME CLASS TYPE FLAGS (DEST)` after a
//!   `client [@0x…] ADDR#PORT [(NAME)]:` prefix and an optional `view V:`
//!   (`ns_client_log(…, "query: %s %s %s %s…", namebuf, classname, typename, …)`
//!   in `query.c`; the BIND ARM, "logging categories", `queries`). Infoblox
//!   NIOS logs `client ADDR#PORT: UDP: query: NAME CLASS TYPE response: …`.
//!   No event time: syslog and `named` times carry no year or zone.
//! * **dnsmasq** `--log-queries`: `query[TYPE] NAME from CLIENT`, where TYPE is
//!   the mnemonic or `type=N`; with `--log-queries=extra` the message starts
//!   with a serial number and `ADDR/PORT` of the requestor
//!   (`log_query()` in dnsmasq's `cache.c`; the `-q, --log-queries` entry of
//!   dnsmasq(8)). Other log lines of the same query (`forwarded`, `reply`,
//!   `cached`, `config`, `dnssec-query`) are not query lines. No event time.
//! * **CoreDNS** `log` plugin, default "common" format
//!   `{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" {rcode} {>rflags} {rsize} {duration}`
//!   (<https://coredns.io/plugins/log/>), printed at level `[INFO] ` and
//!   optionally preceded by an RFC 3339 timestamp, which is the event time.

use chrono::{DateTime, Utc};

/// A text log format domreg understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextFormat {
    /// Squid native `access.log` (`logformat squid`).
    Squid,
    /// BIND 9 `named` query log (also Infoblox NIOS), possibly in syslog.
    Bind,
    /// dnsmasq `--log-queries` (`query[TYPE] NAME from CLIENT`).
    Dnsmasq,
    /// CoreDNS `log` plugin, common log format.
    Coredns,
}

impl TextFormat {
    /// Every format, in declaration order.
    pub const ALL: [TextFormat; 4] = [
        TextFormat::Squid,
        TextFormat::Bind,
        TextFormat::Dnsmasq,
        TextFormat::Coredns,
    ];

    /// The name used in output and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            TextFormat::Squid => "squid",
            TextFormat::Bind => "bind",
            TextFormat::Dnsmasq => "dnsmasq",
            TextFormat::Coredns => "coredns",
        }
    }
}

/// The domain name found in a text line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch<'a> {
    /// The format the line was parsed as.
    pub format: TextFormat,
    /// The host/query name exactly as it appears in the line (a sub-slice of the line): may carry a trailing dot, may be an IP literal; for Squid it is the URL's host, without scheme, userinfo, path, and WITHOUT the port (IPv6 literals keep their brackets, e.g. `"[2001:db8::1]"`).
    pub name: &'a str,
    /// Where it was found, for the output: "url" (Squid, normal request), "connect" (Squid CONNECT), "query" (BIND, dnsmasq, CoreDNS).
    pub field: &'static str,
    /// The event's own time when the format carries an unambiguous one: Squid's first field (UNIX epoch seconds with milliseconds, e.g. "1286536308.779"); CoreDNS's optional leading RFC 3339 timestamp (`2019-03-06T08:55:28.903Z [INFO] ...` or with `-07:00`). None otherwise (BIND and dnsmasq syslog times have no year/zone: None).
    pub timestamp: Option<DateTime<Utc>>,
}

const FIELD_URL: &str = "url";
const FIELD_CONNECT: &str = "connect";
const FIELD_QUERY: &str = "query";

/// Try each format (cheapest rejection first) and return the first match.
///
/// Squid and CoreDNS are decided by the first bytes of the line; dnsmasq and
/// BIND need one substring search each.
pub fn detect(line: &str) -> Option<TextMatch<'_>> {
    let line = trim_cr(line);
    squid(line)
        .or_else(|| coredns(line))
        .or_else(|| dnsmasq(line))
        .or_else(|| bind(line))
}

/// Parse the line as one given format only.
pub fn parse(format: TextFormat, line: &str) -> Option<TextMatch<'_>> {
    let line = trim_cr(line);
    match format {
        TextFormat::Squid => squid(line),
        TextFormat::Bind => bind(line),
        TextFormat::Dnsmasq => dnsmasq(line),
        TextFormat::Coredns => coredns(line),
    }
}

fn trim_cr(line: &str) -> &str {
    line.strip_suffix('\r').unwrap_or(line)
}

// ---------------------------------------------------------------- Squid ----

/// `%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`
fn squid(line: &str) -> Option<TextMatch<'_>> {
    // Cheapest rejection: the line starts with the epoch seconds.
    if !line.as_bytes().first()?.is_ascii_digit() {
        return None;
    }
    let mut fields = Fields(line);
    let timestamp = epoch_time(fields.next()?)?; // %ts.%03tu
    let elapsed = fields.next()?; // %6tr
    if !is_digits(elapsed.strip_prefix('-').unwrap_or(elapsed)) {
        return None;
    }
    fields.next()?; // %>a
    if !is_squid_status(fields.next()?) {
        return None; // %Ss/%03>Hs
    }
    if !is_digits(fields.next()?) {
        return None; // %<st
    }
    fields.next()?; // %rm: GET, CONNECT, NONE, NONE_NONE, ...
    let url = fields.next()?; // %ru
    // %[un and %Sh/%<a must follow: the URL field is then known to be whole.
    fields.next()?;
    if !fields.next()?.contains('/') {
        return None;
    }
    let (name, field) = squid_host(url)?;
    Some(TextMatch {
        format: TextFormat::Squid,
        name,
        field,
        timestamp: Some(timestamp),
    })
}

/// The fields of a line: the runs of bytes between spaces and tabs (which
/// are ASCII, so every field is whole UTF-8).
struct Fields<'a>(&'a str);

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.0.as_bytes();
        let start = bytes.iter().position(|&b| b != b' ' && b != b'\t')?;
        let len = bytes
            .get(start..)
            .and_then(|rest| rest.iter().position(|&b| b == b' ' || b == b'\t'))
            .unwrap_or(bytes.len() - start);
        let field = self.0.get(start..start + len)?;
        self.0 = self.0.get(start + len..).unwrap_or("");
        Some(field)
    }
}

/// `TCP_MISS/200`, `NONE_NONE/000`: an upper-case status tag and three digits.
fn is_squid_status(s: &str) -> bool {
    let Some((tag, code)) = s.split_once('/') else {
        return false;
    };
    !tag.is_empty()
        && tag
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && code.len() == 3
        && is_digits(code)
}

/// The host of a Squid `%ru`, and the output field it goes to.
fn squid_host(url: &str) -> Option<(&str, &'static str)> {
    // `url.split_once("://")`, found by the first `:` (a scheme has none;
    // when that `:` does not start `://`, a later `://` would leave a `:` in
    // the scheme, and the authority form's port check fails on it).
    let scheme_end = memchr::memchr(b':', url.as_bytes())
        .filter(|&i| url.as_bytes().get(i + 1..i + 3) == Some(b"//"));
    if let Some(i) = scheme_end {
        let scheme = url.get(..i).unwrap_or("");
        let rest = url.get(i + 3..).unwrap_or("");
        if !is_scheme(scheme) {
            return None;
        }
        let end = rest
            .bytes()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        let authority = rest.get(..end).unwrap_or(rest);
        let host_port = authority
            .rsplit_once('@')
            .map_or(authority, |(_userinfo, host_port)| host_port);
        Some((host_of(host_port, false)?, FIELD_URL))
    } else {
        // CONNECT's authority form `host:port`; `-` and `error:…` fail here.
        Some((host_of(url, true)?, FIELD_CONNECT))
    }
}

/// RFC 3986: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `host[:port]` or `[v6][:port]` → host (IPv6 literals keep their brackets).
fn host_of(host_port: &str, port_required: bool) -> Option<&str> {
    let (host, port) = if host_port.starts_with('[') {
        let close = host_port.find(']')?;
        let host = host_port.get(..=close)?;
        if !host.contains(':') {
            return None;
        }
        let after = host_port.get(close + 1..)?;
        let port = if after.is_empty() {
            None
        } else {
            Some(after.strip_prefix(':')?)
        };
        (host, port)
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port_ok = match port {
        Some(port) if !port.is_empty() => is_digits(port),
        // `http://host:/` is a valid URI; CONNECT always names the port.
        _ => !port_required,
    };
    (port_ok && !host.is_empty()).then_some(host)
}

/// `1286536308.779`: epoch seconds, a dot, and a fraction of a second.
fn epoch_time(s: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = s.split_once('.')?;
    if secs.len() > 12 || frac.len() > 9 || !is_digits(secs) || !is_digits(frac) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: u32 = frac.parse().ok()?;
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    DateTime::from_timestamp(secs, nanos)
}

// ----------------------------------------------------------------- BIND ----

/// `… client [@0x…] ADDR#PORT [(NAME)]: [view V: ][UDP: ]query: NAME CLASS TYPE …`
fn bind(line: &str) -> Option<TextMatch<'_>> {
    const NEEDLE: &str = "query: ";
    for at in memchr::memmem::find_iter(line.as_bytes(), NEEDLE) {
        if !at_token_start(line, at) {
            continue;
        }
        let Some(question) = line.get(at + NEEDLE.len()..) else {
            continue;
        };
        if let Some(name) = bind_question(question) {
            return Some(TextMatch {
                format: TextFormat::Bind,
                name,
                field: FIELD_QUERY,
                timestamp: None,
            });
        }
    }
    None
}

/// `NAME CLASS TYPE …` → NAME, if CLASS is a class and TYPE a type mnemonic.
fn bind_question(s: &str) -> Option<&str> {
    let (name, rest) = s.split_once(' ')?;
    let (class, rest) = rest.split_once(' ')?;
    let rtype = rest.split(' ').next()?;
    (!name.is_empty() && is_dns_class(class) && is_dns_type(rtype)).then_some(name)
}

// -------------------------------------------------------------- dnsmasq ----

/// `… dnsmasq[PID]: [SERIAL ADDR/PORT ]query[TYPE] NAME from CLIENT`
fn dnsmasq(line: &str) -> Option<TextMatch<'_>> {
    const NEEDLE: &str = "query[";
    for at in memchr::memmem::find_iter(line.as_bytes(), NEEDLE) {
        // Not `dnssec-query[DS] … to …`.
        if !at_token_start(line, at) {
            continue;
        }
        let Some(after) = line.get(at + NEEDLE.len()..) else {
            continue;
        };
        if let Some(name) = dnsmasq_query(after) {
            return Some(TextMatch {
                format: TextFormat::Dnsmasq,
                name,
                field: FIELD_QUERY,
                timestamp: None,
            });
        }
    }
    None
}

/// `TYPE] NAME from CLIENT` → NAME.
fn dnsmasq_query(s: &str) -> Option<&str> {
    let (rtype, rest) = s.split_once(']')?;
    let is_type = match rtype.strip_prefix("type=") {
        Some(number) => is_digits(number),
        None => {
            !rtype.is_empty()
                && rtype
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        }
    };
    if !is_type {
        return None;
    }
    let (name, rest) = rest.strip_prefix(' ')?.split_once(' ')?;
    let client = rest.strip_prefix("from ")?.split(' ').next()?;
    (!name.is_empty() && !client.is_empty()).then_some(name)
}

// -------------------------------------------------------------- CoreDNS ----

/// `[RFC3339 ][INFO] REMOTE:PORT - ID "TYPE CLASS NAME PROTO SIZE DO BUFSIZE" RCODE …`
fn coredns(line: &str) -> Option<TextMatch<'_>> {
    const LEVEL: &str = "[INFO] ";
    // Cheapest rejection: the level, or a timestamp then the level.
    let (stamp, rest) = match line.as_bytes().first()? {
        b'[' => (None, line.strip_prefix(LEVEL)?),
        b if b.is_ascii_digit() => {
            let (stamp, rest) = line.split_once(' ')?;
            (Some(stamp), rest.strip_prefix(LEVEL)?)
        }
        _ => return None,
    };
    let (remote, rest) = rest.split_once(' ')?;
    let (addr, port) = remote.rsplit_once(':')?;
    if addr.is_empty() || !is_digits(port) {
        return None;
    }
    let (id, rest) = rest.strip_prefix("- ")?.split_once(' ')?;
    if !is_digits(id) {
        return None;
    }
    let request = rest.strip_prefix('"')?;
    let (rtype, request) = request.split_once(' ')?;
    let (class, request) = request.split_once(' ')?;
    // The name must be followed by the protocol: then it is whole.
    let (name, request) = request.split_once(' ')?;
    let proto = request.split([' ', '"']).next()?;
    if !is_dns_type(rtype) || !is_dns_class(class) || name.is_empty() || proto.is_empty() {
        return None;
    }
    let timestamp = match stamp {
        Some(stamp) => Some(
            DateTime::parse_from_rfc3339(stamp)
                .ok()?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    Some(TextMatch {
        format: TextFormat::Coredns,
        name,
        field: FIELD_QUERY,
        timestamp,
    })
}

// --------------------------------------------------------------- shared ----

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether byte offset `at` starts the line or follows a space.
fn at_token_start(line: &str, at: usize) -> bool {
    match at.checked_sub(1) {
        None => true,
        Some(before) => line.as_bytes().get(before) == Some(&b' '),
    }
}

/// DNS class mnemonics as BIND and CoreDNS print them (RFC 3597 `CLASSnnn`).
fn is_dns_class(s: &str) -> bool {
    matches!(s, "IN" | "CH" | "HS" | "ANY") || s.strip_prefix("CLASS").is_some_and(is_digits)
}

/// A type mnemonic (`A`, `NSEC3PARAM`, `NSAP-PTR`) or RFC 3597 `TYPEnnn`.
fn is_dns_type(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIND_SAMPLES: &str = include_str!("../tests/fixtures/samples/bind-query.log");
    const COREDNS_SAMPLES: &str = include_str!("../tests/fixtures/samples/coredns.log");
    const JSON_SAMPLES: [&str; 6] = [
        include_str!("../tests/fixtures/samples/ecs-dns.ndjson"),
        include_str!("../tests/fixtures/samples/suricata-eve-http-tls.ndjson"),
        include_str!("../tests/fixtures/samples/sysmon-eid22.ndjson"),
        include_str!("../tests/fixtures/samples/zeek-dns.ndjson"),
        include_str!("../tests/fixtures/samples/zeek-http.ndjson"),
        include_str!("../tests/fixtures/samples/zeek-ssl.ndjson"),
    ];

    fn ts(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    // Squid: the two lines of the brief, the `logformat squid` layout.
    const SQUID_GET: &str = "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET http://www.google.com/ - DIRECT/74.125.39.104 text/html";
    const SQUID_CONNECT: &str = "1286536309.123  20011 192.168.0.224 TCP_TUNNEL/200 4567 CONNECT www.example.com:443 - HIER_DIRECT/93.184.216.34 -";
    const SQUID_USERINFO: &str = "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET http://alice:s3cr%40t@www.example.org:8080/a/b?c=d#e alice DIRECT/93.184.216.34 text/html";
    const SQUID_V6_URL: &str = "1286536308.779     12 2001:db8::2 TCP_MISS/200 411 GET http://[2001:db8::1]:8080/index.html - HIER_DIRECT/2001:db8::1 text/html";
    const SQUID_V6_CONNECT: &str = "1286536308.779     12 2001:db8::2 TCP_TUNNEL/200 411 CONNECT [2001:db8::1]:443 - HIER_DIRECT/2001:db8::1 -";
    const SQUID_NO_PATH: &str = "1286536308.779     12 192.168.0.224 TCP_MISS/301 411 GET http://example.com - HIER_DIRECT/93.184.216.34 text/html";
    const SQUID_NONE_NONE: &str = "1286536310.500      5 192.168.0.224 NONE_NONE/200 0 NONE_NONE www.example.net:443 - HIER_NONE/- -";

    // BIND: `query: %s %s %s %s…` (query.c, ARM `queries` category).
    const BIND_CLASSIC: &str = "client @0x7f1dd4114af0 192.168.0.1#59735 (config.nos-avg.cz): query: config.nos-avg.cz IN TXT + (192.168.0.1)";
    const BIND_OLDER: &str =
        "client 10.0.0.1#53 (www.example.net): query: www.example.net IN A +E(0)K (10.0.0.2)";
    const BIND_VIEW: &str = "client 192.168.117.234#53311: view authoritative: query: example.org IN NS -EDC (192.168.36.217)";
    const BIND_INFOBLOX: &str = "client 192.168.0.1#57398 UDP: query: a1.foo.com IN A response: NOERROR +ED a1.foo.com 28800 IN A 0.0.0.0;";
    const BIND_SYSLOG: &str = "<30>Mar  9 23:59:59 ns1 named[17742]: queries: client @0x7f97e40eb500 192.168.1.90#64727 (ocsp.digicert.com): query: ocsp.digicert.com IN A + (192.168.1.10)";

    // dnsmasq: `log_query()` output, with and without `log-queries=extra`.
    const DNSMASQ_A: &str = "Jan  1 00:00:00 dnsmasq[123]: query[A] example.com from 192.168.1.10";
    const DNSMASQ_AAAA: &str = "Jul  7 19:39:41 dnsmasq[536]: query[AAAA] video-edge-b1fd44.muc01.abs.hls.ttvnw.net from 192.168.1.185";
    const DNSMASQ_PTR: &str =
        "Jan  1 00:00:00 dnsmasq[123]: query[PTR] 10.1.168.192.in-addr.arpa from 192.168.1.10";
    const DNSMASQ_TYPE: &str =
        "Jan  1 00:00:00 dnsmasq[123]: query[type=65] example.com from 192.168.1.10";
    const DNSMASQ_EXTRA: &str =
        "Jan  1 00:00:00 dnsmasq[1234]: 123 192.168.1.10/53 query[A] example.com from 192.168.1.10";
    const DNSMASQ_OPENWRT: &str = "Thu May  5 11:07:38 2016 daemon.info dnsmasq[5413]: query[AAAA] yourhost.example.com from 127.0.0.1";

    // CoreDNS: the common log format, as in the brief and coredns.io.
    const COREDNS_V4: &str = "[INFO] 172.17.0.1:42114 - 64820 \"A IN host.example.com. udp 57 false 1232\" NOERROR qr,aa,rd 66 0.000150566s \"0\"";
    const COREDNS_V6: &str = "[INFO] [::1]:55527 - 18434 \"PTR IN 81.2.69.195. udp 48 false 1232\" NXDOMAIN qr,rd,ra 111 0.097184417s";
    const COREDNS_TS: &str = "2019-03-06T08:55:28.903Z [INFO] 172.17.0.4:36413 - 21583 \"A IN httpbin.org.cluster.local. udp 43 false 512\" NXDOMAIN qr,rd,ra 136 0.000102078s";
    const COREDNS_TS_OFFSET: &str = "2019-03-18T22:13:36.289-07:00 [INFO] [::1]:57413 - 14639 \"A IN www.yahoo.com. udp 42 true 4096\" NOERROR qr,rd,ra 188 0.020948545s";

    /// Every valid example: format, line, name, field.
    fn examples() -> Vec<(TextFormat, &'static str, &'static str, &'static str)> {
        use TextFormat::*;
        vec![
            (Squid, SQUID_GET, "www.google.com", "url"),
            (Squid, SQUID_CONNECT, "www.example.com", "connect"),
            (Squid, SQUID_USERINFO, "www.example.org", "url"),
            (Squid, SQUID_V6_URL, "[2001:db8::1]", "url"),
            (Squid, SQUID_V6_CONNECT, "[2001:db8::1]", "connect"),
            (Squid, SQUID_NO_PATH, "example.com", "url"),
            (Squid, SQUID_NONE_NONE, "www.example.net", "connect"),
            (Bind, BIND_CLASSIC, "config.nos-avg.cz", "query"),
            (Bind, BIND_OLDER, "www.example.net", "query"),
            (Bind, BIND_VIEW, "example.org", "query"),
            (Bind, BIND_INFOBLOX, "a1.foo.com", "query"),
            (Bind, BIND_SYSLOG, "ocsp.digicert.com", "query"),
            (Dnsmasq, DNSMASQ_A, "example.com", "query"),
            (
                Dnsmasq,
                DNSMASQ_AAAA,
                "video-edge-b1fd44.muc01.abs.hls.ttvnw.net",
                "query",
            ),
            (Dnsmasq, DNSMASQ_PTR, "10.1.168.192.in-addr.arpa", "query"),
            (Dnsmasq, DNSMASQ_TYPE, "example.com", "query"),
            (Dnsmasq, DNSMASQ_EXTRA, "example.com", "query"),
            (Dnsmasq, DNSMASQ_OPENWRT, "yourhost.example.com", "query"),
            (Coredns, COREDNS_V4, "host.example.com.", "query"),
            (Coredns, COREDNS_V6, "81.2.69.195.", "query"),
            (Coredns, COREDNS_TS, "httpbin.org.cluster.local.", "query"),
            (Coredns, COREDNS_TS_OFFSET, "www.yahoo.com.", "query"),
        ]
    }

    /// Byte offset of `part` inside `whole` (`part` must be a sub-slice).
    fn offset_in(whole: &str, part: &str) -> usize {
        let offset = part.as_ptr() as usize - whole.as_ptr() as usize;
        assert!(offset + part.len() <= whole.len());
        offset
    }

    fn name(format: TextFormat, line: &str) -> Option<&str> {
        parse(format, line).map(|m| m.name)
    }

    #[test]
    fn format_names() {
        let names: Vec<_> = TextFormat::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(names, ["squid", "bind", "dnsmasq", "coredns"]);
    }

    #[test]
    fn examples_parse_and_detect() {
        for (format, line, expected, field) in examples() {
            let m = parse(format, line).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(m.format, format, "{line}");
            assert_eq!(m.name, expected, "{line}");
            assert_eq!(m.field, field, "{line}");
            // The name is borrowed from the line itself.
            let at = offset_in(line, m.name);
            assert_eq!(line.get(at..at + m.name.len()), Some(expected));
            assert_eq!(detect(line), Some(m), "{line}");
        }
    }

    #[test]
    fn no_format_claims_another_formats_line() {
        for (format, line, _, _) in examples() {
            for other in TextFormat::ALL {
                if other != format {
                    assert_eq!(parse(other, line), None, "{} took {line}", other.as_str());
                }
            }
        }
    }

    /// `Fields` splits as `split([' ', '\t'])` without the empty pieces.
    #[test]
    fn fields_are_the_runs_between_spaces_and_tabs() {
        for line in [
            "",
            " ",
            "\t\t",
            "a",
            "  a  b\t\tc ",
            "1795478400.000    215 10.0.0.1 TCP_MISS/200",
            "é\tü ß  日本\t",
            "x\u{a0}y z",
        ] {
            let want: Vec<&str> = line.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
            assert_eq!(Fields(line).collect::<Vec<_>>(), want, "{line:?}");
        }
    }

    #[test]
    fn squid_documented_lines() {
        let get = parse(TextFormat::Squid, SQUID_GET).unwrap();
        assert_eq!(
            get,
            TextMatch {
                format: TextFormat::Squid,
                name: "www.google.com",
                field: "url",
                timestamp: Some(ts("2010-10-08T11:11:48.779Z")),
            }
        );
        let connect = parse(TextFormat::Squid, SQUID_CONNECT).unwrap();
        assert_eq!(
            connect,
            TextMatch {
                format: TextFormat::Squid,
                name: "www.example.com",
                field: "connect",
                timestamp: Some(ts("2010-10-08T11:11:49.123Z")),
            }
        );
    }

    #[test]
    fn squid_url_shapes() {
        let make = |url: &str| {
            format!(
                "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET {url} - DIRECT/93.184.216.34 text/html"
            )
        };
        let cases = [
            ("https://www.example.com:8443/", Some("www.example.com")),
            ("http://user@www.example.com/", Some("www.example.com")),
            ("http://user:pw@www.example.com:81", Some("www.example.com")),
            ("http://www.example.com?q=1", Some("www.example.com")),
            ("http://www.example.com#frag", Some("www.example.com")),
            ("http://www.example.com./", Some("www.example.com.")),
            ("http://www.example.com:/", Some("www.example.com")),
            ("ftp://ftp.example.org/pub/file", Some("ftp.example.org")),
            ("HTTP://WWW.EXAMPLE.COM/", Some("WWW.EXAMPLE.COM")),
            ("http://93.184.216.34/", Some("93.184.216.34")),
            ("http://[::1]/", Some("[::1]")),
            ("http://a/b@c.example/", Some("a")),
            ("-", None),
            ("error:invalid-request", None),
            ("error:transaction-end-before-headers", None),
            ("http://", None),
            ("http:///path", None),
            ("http://user@/path", None),
            ("http://:80/", None),
            ("http://host:8x/", None),
            ("http://[]/", None),
            ("http://[2001:db8::1/", None),
            ("http://[2001:db8::1]x/", None),
            ("1http://host/", None),
            ("://host/", None),
            ("/just/a/path", None),
            ("www.example.com", None),
            ("www.example.com:", None),
            ("www.example.com:https", None),
            ("2001:db8::1:443", None),
            // A `://` after another `:` puts a `:` in the scheme.
            ("a:b://host/", None),
            ("host:1://x/", None),
            ("host:443", Some("host")),
            ("http:/host/", None),
        ];
        for (url, expected) in cases {
            let line = make(url);
            assert_eq!(name(TextFormat::Squid, &line), expected, "{url}");
        }
    }

    #[test]
    fn squid_error_and_none_requests() {
        let invalid = "1286536310.000      0 192.168.0.224 NONE/400 3885 NONE error:invalid-request - HIER_NONE/- text/html";
        let dash = "1286536310.000      0 192.168.0.224 NONE_NONE/000 0 - - - HIER_NONE/- -";
        let none_connect = "1286536310.000      0 192.168.0.224 NONE/200 0 CONNECT 93.184.216.34:443 - HIER_NONE/- -";
        assert_eq!(parse(TextFormat::Squid, invalid), None);
        assert_eq!(detect(invalid), None);
        assert_eq!(parse(TextFormat::Squid, dash), None);
        assert_eq!(name(TextFormat::Squid, none_connect), Some("93.184.216.34"));
    }

    #[test]
    fn squid_near_misses() {
        let lines = [
            // first field not an epoch time
            "1286536308    180 192.168.0.224 TCP_MISS/200 411 GET http://www.google.com/ - DIRECT/74.125.39.104 text/html",
            "1286536308.    180 192.168.0.224 TCP_MISS/200 411 GET http://www.google.com/ - DIRECT/74.125.39.104 text/html",
            "12865x6308.779    180 192.168.0.224 TCP_MISS/200 411 GET http://www.google.com/ - DIRECT/74.125.39.104 text/html",
            "1286536308.7790000000    180 192.168.0.224 TCP_MISS/200 411 GET http://www.google.com/ - DIRECT/74.125.39.104 text/html",
            // status field not CODE/NNN
            "1286536308.779    180 192.168.0.224 TCP_MISS 411 GET http://www.google.com/ - DIRECT/74.125.39.104 text/html",
            "1286536308.779    180 192.168.0.224 TCP_MISS/20 411 GET http://www.google.com/ - DIRECT/74.125.39.104 text/html",
            "1286536308.779    180 192.168.0.224 tcp_miss/200 411 GET http://www.google.com/ - DIRECT/74.125.39.104 text/html",
            "1286536308.779    180 192.168.0.224 /200 411 GET http://www.google.com/ - DIRECT/74.125.39.104 text/html",
            // elapsed or size not a number
            "1286536308.779    1x0 192.168.0.224 TCP_MISS/200 411 GET http://www.google.com/ - DIRECT/74.125.39.104 text/html",
            "1286536308.779    180 192.168.0.224 TCP_MISS/200 - GET http://www.google.com/ - DIRECT/74.125.39.104 text/html",
            // hierarchy field missing or malformed
            "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET http://www.google.com/",
            "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET http://www.google.com/ -",
            "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET http://www.google.com/ - DIRECT",
            // Squid's `common` format, Apache CLF
            "192.168.0.224 - - [08/Oct/2010:11:11:48 +0000] \"GET http://www.google.com/ HTTP/1.1\" 200 411 TCP_MISS:DIRECT",
            "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326",
        ];
        for line in lines {
            assert_eq!(parse(TextFormat::Squid, line), None, "{line}");
            assert_eq!(detect(line), None, "{line}");
        }
    }

    #[test]
    fn squid_tabs_and_fraction_precision() {
        let line = "1286536308.5\t180\t192.168.0.224\tTCP_HIT/200\t411\tGET\thttp://www.example.com/\t-\tNONE/-\ttext/html";
        let m = parse(TextFormat::Squid, line).unwrap();
        assert_eq!(m.name, "www.example.com");
        assert_eq!(m.timestamp, Some(ts("2010-10-08T11:11:48.5Z")));
        let nanos = "1286536308.123456789 180 192.168.0.224 TCP_HIT/200 411 GET http://www.example.com/ - NONE/- text/html";
        assert_eq!(
            parse(TextFormat::Squid, nanos).unwrap().timestamp,
            Some(ts("2010-10-08T11:11:48.123456789Z"))
        );
    }

    #[test]
    fn bind_documented_lines() {
        let m = parse(TextFormat::Bind, BIND_CLASSIC).unwrap();
        assert_eq!(
            m,
            TextMatch {
                format: TextFormat::Bind,
                name: "config.nos-avg.cz",
                field: "query",
                timestamp: None,
            }
        );
        // `view internal: query: query: …` as quoted by jpmens.net: the
        // first `query: ` is not followed by NAME CLASS TYPE, the second is.
        let doubled = "client @0x7fa0d607f200 192.168.1.130#63565 (example.org): view internal: query: query: example.org IN NS +E(0)K (192.168.1.130)";
        assert_eq!(name(TextFormat::Bind, doubled), Some("example.org"));
        // RFC 3597 class and type, root name, ECS suffix.
        let generic = "client @0x1 10.0.0.1#5353 (.): query: . CLASS42 TYPE65534 -E(0)DC (10.0.0.2) [ECS 10.0.0.0/24/0]";
        assert_eq!(name(TextFormat::Bind, generic), Some("."));
        for class in ["IN", "CH", "HS", "ANY", "CLASS1"] {
            let line = format!("client 10.0.0.1#5: query: x.example {class} A + (10.0.0.2)");
            assert_eq!(name(TextFormat::Bind, &line), Some("x.example"), "{class}");
        }
    }

    #[test]
    fn bind_near_misses() {
        let lines = [
            "client @0x7f1dd4114af0 192.168.0.1#59735 (config.nos-avg.cz): query failed (REFUSED) for config.nos-avg.cz/IN/TXT at query.c:10288",
            "client @0x7ff42c168b50 192.168.0.1#50460 (test.com): rewriting query name 'test.com' to 'query123-10-120-20-93.test.com', type A",
            "resolver priming query complete",
            "client 10.0.0.1#5: query: x.example",
            "client 10.0.0.1#5: query: x.example IN",
            "client 10.0.0.1#5: query: x.example IN ",
            "client 10.0.0.1#5: query: x.example in A + (10.0.0.2)",
            "client 10.0.0.1#5: query: x.example CHAOS TXT + (10.0.0.2)",
            "client 10.0.0.1#5: query: x.example CLASS A + (10.0.0.2)",
            "client 10.0.0.1#5: query: x.example IN a + (10.0.0.2)",
            "client 10.0.0.1#5: query:  IN A + (10.0.0.2)",
            "client 10.0.0.1#5: subquery: x.example IN A + (10.0.0.2)",
            "client 10.0.0.1#5: query:x.example IN A + (10.0.0.2)",
            "query: ",
        ];
        for line in lines {
            assert_eq!(parse(TextFormat::Bind, line), None, "{line}");
            assert_eq!(detect(line), None, "{line}");
        }
    }

    /// bind-query.log: 28 named lines, 12 of them query lines.
    #[test]
    fn bind_sample_file() {
        let lines: Vec<&str> = BIND_SAMPLES.lines().collect();
        assert_eq!(lines.len(), 28);
        let expected: [(usize, &str); 12] = [
            (0, "a1.foo.com"),
            (1, "test.com"),
            (2, "a2.foo.com"),
            (3, "non-exist.foo.com"),
            (4, "a1.foo.com"),
            (6, "config.nos-avg.cz"),
            (21, "settings-win.data.microsoft.com"),
            (22, "ocsp.digicert.com"),
            (24, "89.160.20.128.a1.foo.com"),
            (25, "settings-win.data.microsoft.com"),
            (26, "abugtera.tun.p2.42"),
            (27, "version.bind"),
        ];
        for (i, line) in lines.iter().enumerate() {
            let want = expected
                .iter()
                .find(|(n, _)| *n == i)
                .map(|(_, name)| *name);
            let got = detect(line);
            assert_eq!(got.as_ref().map(|m| m.name), want, "line {}: {line}", i + 1);
            if let Some(m) = got {
                assert_eq!(m.format, TextFormat::Bind);
                assert_eq!(m.field, "query");
                assert_eq!(m.timestamp, None);
            }
            assert_eq!(parse(TextFormat::Bind, line).map(|m| m.name), want);
        }
    }

    #[test]
    fn dnsmasq_documented_lines() {
        let m = parse(TextFormat::Dnsmasq, DNSMASQ_A).unwrap();
        assert_eq!(
            m,
            TextMatch {
                format: TextFormat::Dnsmasq,
                name: "example.com",
                field: "query",
                timestamp: None,
            }
        );
        // dnsmasq logs the root as `.`; names may carry other characters.
        let root = "Jan  1 00:00:00 dnsmasq[123]: query[NS] . from 127.0.0.1";
        assert_eq!(name(TextFormat::Dnsmasq, root), Some("."));
        let srv = "dnsmasq[9]: query[SRV] _ldap._tcp.dc._msdcs.corp.example from 10.0.0.5";
        assert_eq!(
            name(TextFormat::Dnsmasq, srv),
            Some("_ldap._tcp.dc._msdcs.corp.example")
        );
        let v6 = "dnsmasq[9]: query[A] example.com from fe80::1%eth0";
        assert_eq!(name(TextFormat::Dnsmasq, v6), Some("example.com"));
        let at_start = "query[A] example.com from 10.0.0.5";
        assert_eq!(name(TextFormat::Dnsmasq, at_start), Some("example.com"));
    }

    #[test]
    fn dnsmasq_near_misses() {
        let lines = [
            "Jul  7 19:39:44 dnsmasq[536]: forwarded video-edge-8b17e9.pdx01.abs.hls.ttvnw.net to 208.67.222.222",
            "Jul  7 19:39:44 dnsmasq[536]: dnssec-query[DS] ttvnw.net to 208.67.222.222",
            "Jul  7 19:39:44 dnsmasq[536]: reply science-edge-external-prod-73889260.us-west-2.elb.amazonaws.com is 35.162.12.228",
            "Jun 12 04:48:44 dnsmasq[58493]: reply www.qq.com is <CNAME>",
            "Jan  1 00:00:00 dnsmasq[123]: cached example.com is 93.184.216.34",
            "Jan  1 00:00:00 dnsmasq[123]: config router.lan is 192.168.1.1",
            "Jan  1 00:00:00 dnsmasq[123]: /etc/hosts localhost is 127.0.0.1",
            "Jul  7 20:19:36 dnsmasq[536]: gravity blocked tags.tiqcdn.com is 0.0.0.0",
            "Jan  1 00:00:00 dnsmasq[123]: 123 192.168.1.10/53 forwarded example.com to 8.8.8.8",
            "Jan  1 00:00:00 dnsmasq[123]: query[A] example.com",
            "Jan  1 00:00:00 dnsmasq[123]: query[A] example.com from",
            "Jan  1 00:00:00 dnsmasq[123]: query[A] example.com from ",
            "Jan  1 00:00:00 dnsmasq[123]: query[A] example.com to 8.8.8.8",
            "Jan  1 00:00:00 dnsmasq[123]: query[A]  from 192.168.1.10",
            "Jan  1 00:00:00 dnsmasq[123]: query[] example.com from 192.168.1.10",
            "Jan  1 00:00:00 dnsmasq[123]: query[type=] example.com from 192.168.1.10",
            "Jan  1 00:00:00 dnsmasq[123]: query[a] example.com from 192.168.1.10",
            "Jan  1 00:00:00 dnsmasq[123]: query[A]example.com from 192.168.1.10",
            "Jan  1 00:00:00 dnsmasq[123]: query[A B] example.com from 192.168.1.10",
            "Jan  1 00:00:00 dnsmasq[123]: xquery[A] example.com from 192.168.1.10",
            "Jan  1 00:00:00 dnsmasq-dhcp[123]: DHCPACK(br-lan) 192.168.1.100 aa:bb:cc:dd:ee:ff smartphone",
        ];
        for line in lines {
            assert_eq!(parse(TextFormat::Dnsmasq, line), None, "{line}");
            assert_eq!(detect(line), None, "{line}");
        }
    }

    #[test]
    fn coredns_documented_lines() {
        let m = parse(TextFormat::Coredns, COREDNS_V4).unwrap();
        assert_eq!(
            m,
            TextMatch {
                format: TextFormat::Coredns,
                name: "host.example.com.",
                field: "query",
                timestamp: None,
            }
        );
        let m = parse(TextFormat::Coredns, COREDNS_TS_OFFSET).unwrap();
        assert_eq!(m.name, "www.yahoo.com.");
        assert_eq!(m.timestamp, Some(ts("2019-03-19T05:13:36.289Z")));
        // `{combined}` appends the opcode; an unknown type prints as TYPEnnn.
        let combined = "[INFO] 10.0.0.1:53 - 1 \"TYPE65 IN svc.example. tcp 40 true 65535\" NOERROR qr,rd 90 0.01s 0";
        assert_eq!(name(TextFormat::Coredns, combined), Some("svc.example."));
    }

    #[test]
    fn coredns_near_misses() {
        let lines = [
            "[INFO] plugin/reload: Running configuration SHA512 = 591cf328cccc12bc490481273e738df59329c62c0b729d94e8b61db9961c2fa5f046dd37f1cf888b953814040d180f52594972691cd6ff41be96639138a43908",
            "[INFO] Reloading complete",
            "[ERROR] plugin/errors: 2 example.org. A: read udp 10.0.0.1:54432->8.8.8.8:53: i/o timeout",
            "CoreDNS-1.8.0",
            ".:53",
            "[WARNING] 172.17.0.1:42114 - 64820 \"A IN host.example.com. udp 57 false 1232\" NOERROR qr,aa,rd 66 0.000150566s",
            "[INFO] 172.17.0.1:42114 - 64820 \"A BOGUS host.example.com. udp 57 false 1232\" NOERROR",
            "[INFO] 172.17.0.1:42114 - 64820 \"a IN host.example.com. udp 57 false 1232\" NOERROR",
            "[INFO] 172.17.0.1:42114 - 64820 \"A IN  udp 57 false 1232\" NOERROR",
            "[INFO] 172.17.0.1:42114 - 64820 A IN host.example.com. udp 57 false 1232 NOERROR",
            "[INFO] 172.17.0.1 - 64820 \"A IN host.example.com. udp 57 false 1232\" NOERROR",
            "[INFO] 172.17.0.1:x - 64820 \"A IN host.example.com. udp 57 false 1232\" NOERROR",
            "[INFO] 172.17.0.1:42114 - abc \"A IN host.example.com. udp 57 false 1232\" NOERROR",
            "[INFO] 172.17.0.1:42114 64820 \"A IN host.example.com. udp 57 false 1232\" NOERROR",
            "[INFO] :42114 - 64820 \"A IN host.example.com. udp 57 false 1232\" NOERROR",
            "2019-13-06T08:55:28.903Z [INFO] 172.17.0.4:36413 - 21583 \"A IN httpbin.org. udp 43 false 512\" NXDOMAIN",
            "2019-03-06 08:55:28.903Z [INFO] 172.17.0.4:36413 - 21583 \"A IN httpbin.org. udp 43 false 512\" NXDOMAIN",
            "2019-03-06T08:55:28.903Z  [INFO] 172.17.0.4:36413 - 21583 \"A IN httpbin.org. udp 43 false 512\" NXDOMAIN",
        ];
        for line in lines {
            assert_eq!(parse(TextFormat::Coredns, line), None, "{line}");
            assert_eq!(detect(line), None, "{line}");
        }
    }

    /// coredns.log: 9 lines, no trailing newline, 2 with a timestamp.
    #[test]
    fn coredns_sample_file() {
        assert!(!COREDNS_SAMPLES.ends_with('\n'));
        let expected: [(&str, Option<&str>); 9] = [
            ("host.example.com.", None),
            ("abc.xyz.", None),
            ("asdf.coma.", None),
            ("abc-xyz.com.", None),
            ("vpn.example.com.", None),
            ("google.com.", None),
            ("81.2.69.195.", None),
            (
                "httpbin.org.cluster.local.",
                Some("2019-03-06T08:55:28.903Z"),
            ),
            ("www.yahoo.com.", Some("2019-03-19T05:13:36.289Z")),
        ];
        let lines: Vec<&str> = COREDNS_SAMPLES.lines().collect();
        assert_eq!(lines.len(), expected.len());
        for (line, (want, stamp)) in lines.iter().zip(expected) {
            let m = detect(line).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(m.format, TextFormat::Coredns, "{line}");
            assert_eq!(m.name, want, "{line}");
            assert_eq!(m.field, "query");
            assert_eq!(m.timestamp, stamp.map(ts), "{line}");
        }
    }

    #[test]
    fn json_samples_are_not_text_lines() {
        for file in JSON_SAMPLES {
            for line in file.lines() {
                assert_eq!(detect(line), None, "{line}");
            }
        }
    }

    #[test]
    fn garbage() {
        let lines = [
            "",
            " ",
            "\r",
            "\r\r",
            "-",
            "[",
            "[INFO]",
            "[INFO] ",
            "0",
            "1.5",
            "1286536308.779",
            "1286536308.779 ",
            "query: ",
            "query[",
            "query[A]",
            "query[A] ",
            "client query: IN",
            "client query: x.example IN",
            "\u{0}\u{1}\u{7f}",
            "ünïcødé ✓ ☃ 🦀",
            "GET http://www.example.com/ HTTP/1.1",
            "{\"query\": \"example.com\", \"qtype\": \"A\"}",
        ];
        for line in lines {
            assert_eq!(detect(line), None, "{line:?}");
            for format in TextFormat::ALL {
                assert_eq!(parse(format, line), None, "{line:?}");
            }
        }
    }

    #[test]
    fn trailing_carriage_return() {
        for (format, line, expected, field) in examples() {
            let crlf = format!("{line}\r");
            let m = detect(&crlf).unwrap_or_else(|| panic!("{line}"));
            assert_eq!((m.format, m.name, m.field), (format, expected, field));
            assert_eq!(parse(format, &crlf).map(|m| m.name), Some(expected));
        }
        // The client token of dnsmasq, the last field, must not keep the '\r'.
        let m = detect("dnsmasq[1]: query[A] example.com from 10.0.0.1\r").unwrap();
        assert_eq!(m.name, "example.com");
        // Only one '\r' is a line ending.
        assert_eq!(name(TextFormat::Dnsmasq, "query[A] x from \r\r"), Some("x"));
        assert_eq!(name(TextFormat::Dnsmasq, "query[A] x from\r"), None);
    }

    #[test]
    fn multibyte_utf8_around_fields() {
        let cases = [
            (
                TextFormat::Squid,
                "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET http://bücher.example/straße?q=ü jürgen DIRECT/74.125.39.104 text/html",
                "bücher.example",
            ),
            (
                TextFormat::Squid,
                "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET http://ü:ö@例え.テスト:8080/ü - DIRECT/74.125.39.104 text/html",
                "例え.テスト",
            ),
            (
                TextFormat::Squid,
                "1286536308.779    180 192.168.0.224 TCP_TUNNEL/200 411 CONNECT пример.рф:443 - HIER_DIRECT/1.2.3.4 -",
                "пример.рф",
            ),
            (
                TextFormat::Bind,
                "<30>Mär  9 23:59:59 höst named[1]: client @0x7f 192.168.0.1#5 (ä.example): query: ä.example IN A + (192.168.0.1) «ü»",
                "ä.example",
            ),
            (
                TextFormat::Dnsmasq,
                "Jän  1 00:00:00 rüter dnsmasq[123]: query[A] ñandú.example from 192.168.1.10 ✓",
                "ñandú.example",
            ),
            (
                TextFormat::Coredns,
                "[INFO] 172.17.0.1:42114 - 64820 \"A IN ü.example. udp 57 false 1232\" NOERROR qr,aa,rd 66 0.000150566s \"…\"",
                "ü.example.",
            ),
        ];
        for (format, line, expected) in cases {
            let m = detect(line).unwrap_or_else(|| panic!("{line}"));
            assert_eq!((m.format, m.name), (format, expected), "{line}");
            check_prefixes_and_suffixes(format, line, expected);
        }
        // Multibyte characters right against the delimiters.
        let near = [
            "é1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET http://www.google.com/ - DIRECT/74.125.39.104 text/html",
            "client 10.0.0.1#5: équery: x.example IN A + (10.0.0.2)",
            "client 10.0.0.1#5: query:\u{a0}x.example IN A + (10.0.0.2)",
            "client 10.0.0.1#5: query: x.example\u{a0}IN A + (10.0.0.2)",
            "dnsmasq[1]: €query[A] x.example from 10.0.0.1",
            "dnsmasq[1]: query[A]\u{2003}x.example from 10.0.0.1",
            "dnsmasq[1]: query[A] x.example\u{2003}from 10.0.0.1",
            "[INFO]\u{a0}172.17.0.1:42114 - 64820 \"A IN x.example. udp 57 false 1232\" NOERROR",
            "[INFO] 172.17.0.1:42114 – 64820 \"A IN x.example. udp 57 false 1232\" NOERROR",
            "[INFO] 172.17.0.1:42114 - 64820 “A IN x.example. udp 57 false 1232” NOERROR",
        ];
        for line in near {
            assert_eq!(detect(line), None, "{line}");
        }
    }

    /// Every prefix and suffix of a valid line, cut at each char boundary:
    /// no panic; a prefix that ends before the name is complete gives None;
    /// a longer prefix gives None or the same name in the same format.
    fn check_prefixes_and_suffixes(format: TextFormat, line: &str, expected: &str) {
        let full = parse(format, line).unwrap();
        let name_end = offset_in(line, full.name) + full.name.len();
        for cut in 0..=line.len() {
            let (Some(prefix), Some(suffix)) = (line.get(..cut), line.get(cut..)) else {
                continue; // not a char boundary
            };
            let got = detect(prefix);
            if cut < name_end {
                assert_eq!(got, None, "prefix {prefix:?}");
            } else if let Some(m) = got {
                assert_eq!((m.format, m.name), (format, expected), "prefix {prefix:?}");
            }
            for other in TextFormat::ALL {
                if let Some(m) = parse(other, prefix) {
                    assert_eq!((m.format, m.name), (format, expected), "prefix {prefix:?}");
                }
                let _ = parse(other, suffix);
            }
            let _ = detect(suffix);
        }
    }

    #[test]
    fn truncated_lines() {
        for (format, line, expected, _) in examples() {
            check_prefixes_and_suffixes(format, line, expected);
        }
        for line in BIND_SAMPLES.lines().chain(COREDNS_SAMPLES.lines()) {
            if let Some(m) = detect(line) {
                check_prefixes_and_suffixes(m.format, line, m.name);
            } else {
                for cut in 0..=line.len() {
                    if let Some(prefix) = line.get(..cut) {
                        assert_eq!(detect(prefix), None, "{prefix:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn squid_timestamp_is_parsed_without_a_clock() {
        let m = parse(
            TextFormat::Squid,
            "0.000 0 - TCP_MISS/200 0 GET http://epoch.example/ - HIER_NONE/- -",
        )
        .unwrap();
        assert_eq!(m.timestamp, Some(ts("1970-01-01T00:00:00Z")));
    }
}
