//! The configuration JSON (`--config FILE` and `POST /_control/config`): options and faults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fixtures::Index;

/// The whole configuration document. Every field is optional.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Rewrite the top-level `links[]` with rel "related" to point at the registrar host.
    #[serde(default = "yes")]
    pub rewrite_referrals: bool,
    /// How an unknown domain is answered: 404 with an empty body, or with an RFC 9083 error.
    #[serde(default)]
    pub not_found: NotFound,
    /// Generate a record for a name that has no fixture.
    #[serde(default)]
    pub synthesize: bool,
    /// If not empty, only names equal to or ending in one of these suffixes are synthesized.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub synthesize_suffixes: Vec<String>,
    /// Give synthetic records a rel "related" link to the registrar host.
    #[serde(default)]
    pub synthesize_referral: bool,
    /// Which listen address (0-based) is the registrar host; default 1 (0 with one address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registrar_host: Option<usize>,
    /// Which fixture file answers a domain on a host, overriding the automatic choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serve: Vec<Serve>,
    /// Faults, tried in order; the first that matches (and is not used up) applies.
    #[serde(default)]
    pub faults: Vec<Fault>,
}

fn yes() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rewrite_referrals: true,
            not_found: NotFound::Empty,
            synthesize: false,
            synthesize_suffixes: Vec::new(),
            synthesize_referral: false,
            registrar_host: None,
            serve: Vec::new(),
            faults: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotFound {
    /// HTTP 404 with an empty body (as .com and .net do).
    #[default]
    Empty,
    /// HTTP 404 with an RFC 9083 error object.
    RdapError,
}

/// `{"domain": "google.com", "host": 1, "file": "markmonitor-registrar-google.com.json"}`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Serve {
    pub domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<usize>,
    pub file: String,
}

/// One fault. `kind` says what happens; the other fields are its parameters.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// A domain name (case-insensitive) or "*" for every domain query.
    #[serde(default = "star")]
    pub domain: String,
    /// A listen-address index; absent for every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<usize>,
    /// Apply to the first N matching requests only; absent for always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    pub kind: Kind,
    /// Wait this long before answering (any kind; required for "delay").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Extra response header fields (any kind that answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// "status": the status code; redirects: 301/302/303/307/308 (default 302).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// "status", "quota_notice": the Retry-After value, sent verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// "status", "malformed_json", "drip": the body; a JSON string is sent verbatim, anything
    /// else is serialized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// "status": the Content-Type (default application/rdap+json).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// "oversized": body size in bytes (default 2 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// "oversized": how the body is delimited (default content_length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framing: Option<Framing>,
    /// "truncated": how many body bytes are sent before the close (default half).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
    /// "drip": pause before each byte (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
    /// "redirect_to": the Location; "referral_to": the related link's href.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// "redirect_loop": alternate between two URLs instead of redirecting to the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate: Option<bool>,
}

fn star() -> String {
    "*".to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[serde(alias = "delay_ms")]
    Delay,
    Status,
    QuotaNotice,
    MalformedJson,
    Truncated,
    Oversized,
    Drip,
    Reset,
    RedirectLoop,
    RedirectTo,
    ReferralTo,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Delay => "delay",
            Kind::Status => "status",
            Kind::QuotaNotice => "quota_notice",
            Kind::MalformedJson => "malformed_json",
            Kind::Truncated => "truncated",
            Kind::Oversized => "oversized",
            Kind::Drip => "drip",
            Kind::Reset => "reset",
            Kind::RedirectLoop => "redirect_loop",
            Kind::RedirectTo => "redirect_to",
            Kind::ReferralTo => "referral_to",
        }
    }

    /// The parameter fields this kind uses, besides domain, host, times, kind and delay_ms.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Delay => &["headers"],
            Kind::Status => &["headers", "status", "retry_after", "body", "content_type"],
            Kind::QuotaNotice => &["headers", "retry_after"],
            Kind::MalformedJson => &["headers", "body"],
            Kind::Truncated => &["headers", "bytes"],
            Kind::Oversized => &["headers", "size", "framing"],
            Kind::Drip => &["headers", "interval_ms", "body"],
            Kind::Reset => &[],
            Kind::RedirectLoop => &["headers", "status", "alternate"],
            Kind::RedirectTo => &["headers", "status", "url"],
            Kind::ReferralTo => &["headers", "url"],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// A Content-Length header with the exact size.
    ContentLength,
    /// Transfer-Encoding: chunked.
    Chunked,
    /// No length; the end of the body is the end of the connection.
    Close,
}

/// A lower-cased domain name without a trailing dot (or "*").
pub fn normalize_domain(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.to_lowercase()
}

fn header_safe(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

impl Config {
    /// Parses and checks a configuration against the fixtures and the number of hosts.
    pub fn parse(json: &[u8], index: &Index, hosts: usize) -> Result<Config, String> {
        let mut config: Config =
            serde_json::from_slice(json).map_err(|e| format!("invalid config: {e}"))?;
        config.check(index, hosts)?;
        Ok(config)
    }

    fn check(&mut self, index: &Index, hosts: usize) -> Result<(), String> {
        if let Some(h) = self.registrar_host
            && h >= hosts
        {
            return Err(format!(
                "registrar_host {h} is not a listen address index (there are {hosts})"
            ));
        }
        for s in &mut self.synthesize_suffixes {
            *s = normalize_domain(s);
        }
        for (i, s) in self.serve.iter_mut().enumerate() {
            s.domain = normalize_domain(&s.domain);
            if index.file(&s.file).is_none() {
                return Err(format!(
                    "serve[{i}]: no fixture file {:?} (known: {})",
                    s.file,
                    index.file_names().join(", ")
                ));
            }
            if let Some(h) = s.host
                && h >= hosts
            {
                return Err(format!("serve[{i}]: host {h} does not exist"));
            }
        }
        for (i, f) in self.faults.iter_mut().enumerate() {
            f.check(hosts)
                .map_err(|e| format!("faults[{i}] ({}): {e}", f.kind.name()))?;
        }
        Ok(())
    }

    /// The registrar host index for `hosts` listen addresses.
    pub fn registrar_index(&self, hosts: usize) -> usize {
        self.registrar_host
            .unwrap_or(1)
            .min(hosts.saturating_sub(1))
    }

    /// Whether a name without a fixture gets a synthetic record.
    pub fn synthesizes(&self, name: &str) -> bool {
        self.synthesize
            && (self.synthesize_suffixes.is_empty()
                || self.synthesize_suffixes.iter().any(|s| {
                    name == s
                        || name
                            .strip_suffix(s.as_str())
                            .is_some_and(|rest| rest.ends_with('.') || s.starts_with('.'))
                }))
    }

    /// The fixture file configured for a domain on a host, if any.
    pub fn served_file(&self, name: &str, host: usize) -> Option<&str> {
        self.serve
            .iter()
            .find(|s| s.domain == name && s.host.is_none_or(|h| h == host))
            .map(|s| s.file.as_str())
    }
}

impl Fault {
    fn check(&mut self, hosts: usize) -> Result<(), String> {
        self.domain = if self.domain == "*" {
            self.domain.clone()
        } else {
            normalize_domain(&self.domain)
        };
        if self.domain.is_empty() {
            return Err("empty domain".to_owned());
        }
        if let Some(h) = self.host
            && h >= hosts
        {
            return Err(format!("host {h} does not exist (there are {hosts})"));
        }
        let set: [(&str, bool); 10] = [
            ("headers", self.headers.is_some()),
            ("status", self.status.is_some()),
            ("retry_after", self.retry_after.is_some()),
            ("body", self.body.is_some()),
            ("content_type", self.content_type.is_some()),
            ("size", self.size.is_some()),
            ("framing", self.framing.is_some()),
            ("bytes", self.bytes.is_some()),
            ("interval_ms", self.interval_ms.is_some()),
            ("url", self.url.is_some()),
        ];
        let allowed = self.kind.fields();
        for (name, present) in set
            .into_iter()
            .chain([("alternate", self.alternate.is_some())])
        {
            if present && !allowed.contains(&name) {
                return Err(format!(
                    "field `{name}` does not apply to this kind (it takes: {})",
                    allowed.join(", ")
                ));
            }
        }
        if self.kind == Kind::Delay && self.delay_ms.is_none() {
            return Err("needs `delay_ms`".to_owned());
        }
        match (self.kind, self.status) {
            (Kind::Status, None) => return Err("needs `status`".to_owned()),
            (Kind::Status, Some(s)) if !(200..=599).contains(&s) => {
                return Err(format!("status {s} is not in 200..=599"));
            }
            (Kind::RedirectLoop | Kind::RedirectTo, Some(s)) if !(300..=399).contains(&s) => {
                return Err(format!("redirect status {s} is not in 300..=399"));
            }
            _ => {}
        }
        if matches!(self.kind, Kind::RedirectTo | Kind::ReferralTo) && self.url.is_none() {
            return Err("needs `url`".to_owned());
        }
        if self.kind == Kind::MalformedJson && self.body.as_ref().is_some_and(|b| !b.is_string()) {
            return Err("`body` must be a string".to_owned());
        }
        let texts = [
            self.retry_after.as_deref(),
            self.content_type.as_deref(),
            self.url.as_deref(),
        ];
        if texts.into_iter().flatten().any(|t| !header_safe(t))
            || self
                .headers
                .iter()
                .flatten()
                .any(|(k, v)| !header_safe(k) || !header_safe(v) || k.contains(':'))
        {
            return Err("header values must not contain CR, LF or NUL".to_owned());
        }
        Ok(())
    }

    /// The body given in the config, as bytes.
    pub fn body_bytes(&self) -> Option<Vec<u8>> {
        self.body.as_ref().map(|b| match b {
            Value::String(s) => s.clone().into_bytes(),
            other => serde_json::to_vec(other).unwrap_or_default(),
        })
    }

    pub fn matches(&self, name: &str, host: usize) -> bool {
        (self.domain == "*" || self.domain == name) && self.host.is_none_or(|h| h == host)
    }
}
