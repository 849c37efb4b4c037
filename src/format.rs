//! Input formats: which field of which log format holds the domain name,
//! and format detection per line.
//!
//! JSON formats are recognised by the fields they carry, scanned in one pass
//! ([`crate::json`]); text formats by their line layout ([`crate::text`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::json::{Captured, FieldSet, PathError, Scan, Scanner};
use crate::rdap::LastSecond;
use crate::text::{self, TextFormat};

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Format {
    /// Zeek dns.log, http.log, ssl.log in JSON.
    Zeek,
    /// Suricata eve.json: dns (v1, v2, v3), http, tls.
    Suricata,
    /// Sysmon Event ID 22 as shipped by Winlogbeat / Elastic Agent.
    Sysmon,
    /// Elastic Common Schema.
    Ecs,
    /// AWS Route 53 Resolver query logs.
    Route53,
    /// Any JSON, with the paths given by `--field`.
    Json,
    /// Squid native access.log.
    Squid,
    /// BIND query log.
    Bind,
    /// dnsmasq `log-queries`.
    Dnsmasq,
    /// CoreDNS `log` plugin.
    Coredns,
}

impl Format {
    /// Every format, in summary order.
    pub const ALL: [Format; 10] = [
        Format::Zeek,
        Format::Suricata,
        Format::Sysmon,
        Format::Ecs,
        Format::Route53,
        Format::Json,
        Format::Squid,
        Format::Bind,
        Format::Dnsmasq,
        Format::Coredns,
    ];

    /// The name used on the command line and in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Zeek => "zeek",
            Format::Suricata => "suricata",
            Format::Sysmon => "sysmon",
            Format::Ecs => "ecs",
            Format::Route53 => "route53",
            Format::Json => "json",
            Format::Squid => "squid",
            Format::Bind => "bind",
            Format::Dnsmasq => "dnsmasq",
            Format::Coredns => "coredns",
        }
    }

    /// The text format behind this one, if it is a text format.
    pub fn text(self) -> Option<TextFormat> {
        match self {
            Format::Squid => Some(TextFormat::Squid),
            Format::Bind => Some(TextFormat::Bind),
            Format::Dnsmasq => Some(TextFormat::Dnsmasq),
            Format::Coredns => Some(TextFormat::Coredns),
            _ => None,
        }
    }

    fn from_text(format: TextFormat) -> Format {
        match format {
            TextFormat::Squid => Format::Squid,
            TextFormat::Bind => Format::Bind,
            TextFormat::Dnsmasq => Format::Dnsmasq,
            TextFormat::Coredns => Format::Coredns,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown format {s:?}"))
    }
}

/// A built-in JSON field that holds a domain name.
struct Builtin {
    format: Format,
    /// Path as scanned.
    path: &'static str,
    /// Path as shown in `domreg.field`.
    label: &'static str,
    /// A member that must also be present for this format to match.
    marker: Option<&'static str>,
}

/// Built-in name fields, most specific first.
const BUILTINS: &[Builtin] = &[
    Builtin {
        format: Format::Sysmon,
        path: "winlog.event_data.QueryName",
        label: "winlog.event_data.QueryName",
        marker: None,
    },
    Builtin {
        format: Format::Ecs,
        path: "dns.question.name",
        label: "dns.question.name",
        marker: None,
    },
    Builtin {
        format: Format::Suricata,
        path: "dns.queries.[].rrname",
        label: "dns.queries[0].rrname",
        marker: Some("event_type"),
    },
    Builtin {
        format: Format::Suricata,
        path: "dns.rrname",
        label: "dns.rrname",
        marker: Some("event_type"),
    },
    Builtin {
        format: Format::Zeek,
        path: "query",
        label: "query",
        marker: Some("uid"),
    },
    Builtin {
        format: Format::Route53,
        path: "query_name",
        label: "query_name",
        marker: None,
    },
    Builtin {
        format: Format::Ecs,
        path: "tls.client.server_name",
        label: "tls.client.server_name",
        marker: None,
    },
    Builtin {
        format: Format::Suricata,
        path: "tls.sni",
        label: "tls.sni",
        marker: Some("event_type"),
    },
    Builtin {
        format: Format::Zeek,
        path: "server_name",
        label: "server_name",
        marker: Some("uid"),
    },
    Builtin {
        format: Format::Suricata,
        path: "http.hostname",
        label: "http.hostname",
        marker: Some("event_type"),
    },
    Builtin {
        format: Format::Zeek,
        path: "host",
        label: "host",
        marker: Some("uid"),
    },
    Builtin {
        format: Format::Ecs,
        path: "url.domain",
        label: "url.domain",
        marker: None,
    },
    Builtin {
        format: Format::Ecs,
        path: "destination.domain",
        label: "destination.domain",
        marker: None,
    },
];

/// The timestamp field of each JSON format.
fn timestamp_path(format: Format) -> &'static [&'static str] {
    match format {
        Format::Zeek => &["ts"],
        Format::Suricata => &["timestamp"],
        Format::Sysmon | Format::Ecs => &["@timestamp"],
        Format::Route53 => &["query_timestamp"],
        Format::Json => &["@timestamp", "timestamp", "ts", "query_timestamp"],
        _ => &[],
    }
}

/// Which formats to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatChoice {
    /// Detect per line.
    #[default]
    Auto,
    /// Only this one.
    Only(Format),
}

/// Why a detector could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectorError {
    /// A `--field` path is unusable.
    #[error(transparent)]
    Path(#[from] PathError),
    /// `--format json` without any `--field`.
    #[error("--format json needs at least one --field path")]
    JsonWithoutFields,
}

struct NameField {
    index: usize,
    format: Format,
    label: Box<str>,
    marker: Option<usize>,
    timestamps: Vec<usize>,
}

/// Where a line's domain name was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Detected<'a> {
    /// The format.
    pub format: Format,
    /// The raw name, as it appears in the event.
    pub name: &'a str,
    /// Where it was found: a JSON path, or for text formats a word such as `query`.
    pub field: &'a str,
    /// The event's own time, when its format has one.
    pub timestamp: Option<DateTime<Utc>>,
}

/// What a line turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum LineKind<'a> {
    /// A JSON object with a domain name.
    Json(Detected<'a>),
    /// A text line with a domain name.
    Text(Detected<'a>),
    /// Valid JSON, but no domain name in it (or not an object).
    JsonWithoutName,
    /// A JSON-looking line that does not parse.
    InvalidJson,
    /// Text in no known format.
    Unrecognised,
}

/// Finds the format and domain name of each line.
pub struct Detector {
    scanner: Scanner,
    names: Vec<NameField>,
    text: Option<TextFormat>,
    json: bool,
    all_text: bool,
    scan: Scan,
    /// The last event time's whole second, read again for the next event
    /// in the same second.
    last_second: LastSecond,
}

impl Detector {
    /// A detector for `choice`, with extra `fields` (tried first).
    pub fn new(choice: FormatChoice, fields: &[String]) -> Result<Detector, DetectorError> {
        let mut set = FieldSet::new();
        let mut names = Vec::new();
        let want =
            |f: Format| matches!(choice, FormatChoice::Auto) || choice == FormatChoice::Only(f);
        if want(Format::Json) {
            if choice == FormatChoice::Only(Format::Json) && fields.is_empty() {
                return Err(DetectorError::JsonWithoutFields);
            }
            for field in fields {
                let index = set.add(field)?;
                names.push(NameField {
                    index,
                    format: Format::Json,
                    label: field.as_str().into(),
                    marker: None,
                    timestamps: Vec::new(),
                });
            }
        }
        for b in BUILTINS.iter().filter(|b| want(b.format)) {
            let index = set.add(b.path)?;
            let marker = b.marker.map(|m| set.add(m)).transpose()?;
            names.push(NameField {
                index,
                format: b.format,
                label: b.label.into(),
                marker,
                timestamps: Vec::new(),
            });
        }
        for n in &mut names {
            for p in timestamp_path(n.format) {
                n.timestamps.push(set.add(p)?);
            }
        }
        let (text, all_text) = match choice {
            FormatChoice::Auto => (None, true),
            FormatChoice::Only(f) => (f.text(), false),
        };
        Ok(Detector {
            json: !names.is_empty(),
            scanner: Scanner::new(set),
            names,
            text,
            all_text,
            scan: Scan::default(),
            last_second: LastSecond::default(),
        })
    }

    /// Classify one line (no line terminator).
    pub fn detect<'a>(&'a mut self, line: &'a str) -> LineKind<'a> {
        let first = line.bytes().find(|b| !b.is_ascii_whitespace());
        if first == Some(b'{') && self.json {
            return self.detect_json(line);
        }
        let found = if self.all_text {
            text::detect(line)
        } else {
            self.text.and_then(|f| text::parse(f, line))
        };
        match found {
            Some(m) => LineKind::Text(Detected {
                format: Format::from_text(m.format),
                name: m.name,
                field: m.field,
                timestamp: m.timestamp,
            }),
            None => LineKind::Unrecognised,
        }
    }

    /// The last JSON scan (valid after [`Detector::detect`] returned a JSON kind).
    pub fn scan(&self) -> &Scan {
        &self.scan
    }

    fn detect_json<'a>(&'a mut self, line: &'a str) -> LineKind<'a> {
        if !self.json {
            return LineKind::Unrecognised;
        }
        if self.scanner.scan(line, &mut self.scan).is_err() {
            return LineKind::InvalidJson;
        }
        if !self.scan.is_object {
            return LineKind::JsonWithoutName;
        }
        let scan = &self.scan;
        let last_second = &mut self.last_second;
        for n in &self.names {
            if n.marker.is_some_and(|m| scan.get(m).is_none()) {
                continue;
            }
            let Some(name) = scan.str_at(n.index, line) else {
                continue;
            };
            if name.trim().is_empty() {
                continue;
            }
            let timestamp = n
                .timestamps
                .iter()
                .find_map(|&i| scan.get(i).and_then(|c| event_time(c, line, last_second)));
            return LineKind::Json(Detected {
                format: n.format,
                name,
                field: &n.label,
                timestamp,
            });
        }
        LineKind::JsonWithoutName
    }
}

/// An event time from a captured timestamp: RFC 3339-like text or UNIX
/// epoch seconds (with fraction).
fn event_time(c: &Captured, line: &str, last: &mut LastSecond) -> Option<DateTime<Utc>> {
    match c {
        Captured::Number(n) => epoch(*n),
        Captured::Span(start, end) => parse_time_text(line.get(*start..*end)?, last),
        Captured::Owned(s) => parse_time_text(s, last),
        Captured::Other => None,
    }
}

fn parse_time_text(s: &str, last: &mut LastSecond) -> Option<DateTime<Utc>> {
    crate::rdap::parse_date_with(s, last).or_else(|| s.parse::<f64>().ok().and_then(epoch))
}

/// UNIX epoch seconds to a time (microsecond precision); None when out of
/// range (before 1970 or after 3000) or not finite.
pub fn epoch(seconds: f64) -> Option<DateTime<Utc>> {
    if !seconds.is_finite() || !(0.0..=32_503_680_000.0).contains(&seconds) {
        return None;
    }
    let whole = seconds.floor();
    // f64 holds epoch times to about a microsecond: round to that.
    let micros = ((seconds - whole) * 1e6).round().clamp(0.0, 999_999.0);
    DateTime::from_timestamp(whole as i64, (micros as u32) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(
        choice: FormatChoice,
        fields: &[&str],
        line: &str,
    ) -> Option<(Format, String, String, Option<String>)> {
        let fields: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        let mut d = Detector::new(choice, &fields).unwrap();
        match d.detect(line) {
            LineKind::Json(x) | LineKind::Text(x) => Some((
                x.format,
                x.name.to_string(),
                x.field.to_string(),
                x.timestamp.map(|t| t.to_rfc3339()),
            )),
            _ => None,
        }
    }

    fn auto(line: &str) -> Option<(Format, String, String, Option<String>)> {
        detect(FormatChoice::Auto, &[], line)
    }

    #[test]
    fn zeek() {
        let (f, n, field, ts) = auto(r#"{"ts":1547687130.172944,"uid":"C1","id.orig_h":"10.0.0.1","query":"www.example.com"}"#).unwrap();
        assert_eq!(
            (f, n.as_str(), field.as_str()),
            (Format::Zeek, "www.example.com", "query")
        );
        assert_eq!(ts.unwrap(), "2019-01-17T01:05:30.172944+00:00");
        let (f, n, field, _) =
            auto(r#"{"ts":"2018-03-24T17:15:20.865716Z","uid":"C","host":"httpbin.org:8080"}"#)
                .unwrap();
        assert_eq!(
            (f, n.as_str(), field.as_str()),
            (Format::Zeek, "httpbin.org:8080", "host")
        );
        // A `host` string without Zeek's uid is not Zeek.
        assert_eq!(
            auto(r#"{"host":"server01.corp.example.com","msg":"x"}"#),
            None
        );
    }

    #[test]
    fn suricata_dns_versions() {
        let v1 = r#"{"timestamp":"2018-07-05T15:01:09.820360-0400","event_type":"dns","dns":{"type":"answer","id":1,"rrname":"a.example.com","rrtype":"A","rdata":"1.2.3.4"}}"#;
        let v2 = r#"{"timestamp":"2018-07-05T15:01:09Z","event_type":"dns","dns":{"version":2,"type":"answer","rrname":"b.example.com","answers":[]}}"#;
        let v3 = r#"{"timestamp":"2025-01-01T00:00:00.000000+0000","event_type":"dns","dns":{"version":3,"type":"request","queries":[{"rrname":"c.example.com","rrtype":"A"}]}}"#;
        assert_eq!(auto(v1).unwrap().1, "a.example.com");
        assert_eq!(auto(v2).unwrap().1, "b.example.com");
        let (f, n, field, _) = auto(v3).unwrap();
        assert_eq!(
            (f, n.as_str(), field.as_str()),
            (Format::Suricata, "c.example.com", "dns.queries[0].rrname")
        );
        let tls = r#"{"timestamp":"2018-07-05T15:07:20.910626-0400","event_type":"tls","tls":{"sni":"l2.io"}}"#;
        assert_eq!(auto(tls).unwrap().2, "tls.sni");
    }

    #[test]
    fn ecs_sysmon_route53() {
        let ecs = r#"{"@timestamp":"2019-07-18T03:34:01.239Z","dns":{"question":{"name":"go.microsoft.com"}}}"#;
        let (f, _, field, ts) = auto(ecs).unwrap();
        assert_eq!((f, field.as_str()), (Format::Ecs, "dns.question.name"));
        assert_eq!(ts.unwrap(), "2019-07-18T03:34:01.239+00:00");
        let sysmon = r#"{"@timestamp":"2019-07-18T03:34:02.0252239Z","winlog":{"event_data":{"QueryName":"go.microsoft.com"},"event_id":"22"}}"#;
        assert_eq!(auto(sysmon).unwrap().0, Format::Sysmon);
        let r53 = r#"{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-1","query_timestamp":"2021-02-04T17:51:55Z","query_name":"example.com.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[],"srcaddr":"10.0.0.1","srcport":"5555","transport":"UDP","srcids":{"instance":"i-1"}}"#;
        let (f, n, _, ts) = auto(r53).unwrap();
        assert_eq!((f, n.as_str()), (Format::Route53, "example.com."));
        assert_eq!(ts.unwrap(), "2021-02-04T17:51:55+00:00");
    }

    #[test]
    fn custom_fields_come_first_and_force() {
        let line =
            r#"{"uid":"x","query":"zeek.example.com","req":{"host.name":"custom.example.com"}}"#;
        assert_eq!(
            detect(FormatChoice::Auto, &["req.host.name"], line)
                .unwrap()
                .1,
            "custom.example.com"
        );
        assert_eq!(
            detect(FormatChoice::Only(Format::Json), &["req.host.name"], line)
                .unwrap()
                .0,
            Format::Json
        );
        assert_eq!(detect(FormatChoice::Only(Format::Ecs), &[], line), None);
        assert!(matches!(
            Detector::new(FormatChoice::Only(Format::Json), &[]),
            Err(DetectorError::JsonWithoutFields)
        ));
    }

    #[test]
    fn kinds() {
        let mut d = Detector::new(FormatChoice::Auto, &[]).unwrap();
        assert_eq!(d.detect("{\"a\":"), LineKind::InvalidJson);
        assert_eq!(d.detect("{\"a\":1}"), LineKind::JsonWithoutName);
        assert_eq!(d.detect("hello world"), LineKind::Unrecognised);
        assert_eq!(d.detect("[1,2]"), LineKind::Unrecognised);
        // An empty name is no name.
        assert_eq!(
            d.detect(r#"{"uid":"C","query":""}"#),
            LineKind::JsonWithoutName
        );
    }

    #[test]
    fn epochs() {
        assert_eq!(epoch(0.5).unwrap().timestamp_subsec_millis(), 500);
        assert_eq!(epoch(f64::NAN), None);
        assert_eq!(epoch(-1.0), None);
        assert_eq!(epoch(1e300), None);
    }

    /// A time beyond f64's range is valid JSON: the event is found, and its
    /// time counts as absent, as any other time that cannot be read.
    #[test]
    fn times_beyond_range_count_as_absent() {
        for ts in ["1e400", "-1E+400", "\"1e400\"", "\"soon\"", "true"] {
            let line = format!(r#"{{"ts":{ts},"uid":"C1","query":"www.example.com"}}"#);
            let (f, n, _, time) = auto(&line).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(
                (f, n.as_str(), time),
                (Format::Zeek, "www.example.com", None)
            );
        }
        let (_, _, _, time) =
            auto(r#"{"@timestamp":1e999,"dns":{"question":{"name":"a.example.com"}}}"#).unwrap();
        assert_eq!(time, None);
    }
}
