//! RDAP bootstrap for domain names (RFC 9224): which RDAP server answers for
//! which top-level domain.
//!
//! This module owns:
//!
//! - parsing an RFC 9224 DNS bootstrap file (IANA publishes it at
//!   `https://data.iana.org/rdap/dns.json`) into a [`Bootstrap`];
//! - the compiled-in copy of that file (`src/data/iana-dns-bootstrap.json`,
//!   publication 2026-03-23T19:00:02Z, 1,198 TLDs), used by
//!   [`Bootstrap::builtin`];
//! - the [`OVERRIDES`] table for registries that run RDAP but are missing
//!   from the IANA file;
//! - the lookup from a domain name to its RDAP base URLs (longest label-wise
//!   suffix match, RFC 9224 section 4) and the RFC 9082 query URL
//!   ([`domain_query_url`]).
//!
//! Pure: no I/O. The native shell may fetch a fresh IANA file, hand the bytes
//! to [`Bootstrap::parse`] and call [`Bootstrap::with_overrides`] on the
//! result.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;
use thiserror::Error;

/// The compiled-in IANA DNS bootstrap file (a byte-for-byte copy of
/// `tests/fixtures/bootstrap/dns.json`; origin in
/// `tests/fixtures/SOURCES-rdap.md`).
const BUILTIN_JSON: &[u8] = include_bytes!("data/iana-dns-bootstrap.json");

/// An RDAP server for a TLD that the IANA bootstrap file does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Override {
    /// The TLD, lower-case A-label, no dots (`de`).
    pub tld: &'static str,
    /// The RDAP base URL, ending in `/`.
    pub base_url: &'static str,
    /// The public documentation that gives the endpoint.
    pub source: &'static str,
}

/// Permalink to the `whoisit` client library's override table (version
/// dated 2024-04-30), which lists the Identity Digital server with the
/// `/rdap/` base path for `.ac`, `.io`, `.me` and `.sh`. Corroborated by
/// <https://github.com/meeb/whoisit/pull/29> (the `/rdap/` path, tested with
/// `agar.io` and `proton.me`) and
/// <https://github.com/caarlos0/domain_exporter/pull/409> (Identity Digital
/// moved `.io`, `.sh`, `.ac` and `.me` to RDAP only); the IANA file itself
/// lists `https://rdap.identitydigital.services/rdap/` for Identity
/// Digital's other TLDs (`.ai`, `.info`, ...).
const IDENTITY_DIGITAL_SOURCE: &str = "https://github.com/meeb/whoisit/blob/03f22e5577e9ef19d0b47ffc7778beffd448c665/whoisit/overrides.py";

/// The Identity Digital RDAP base URL (the same one the IANA file gives for
/// the TLDs it does list for Identity Digital).
const IDENTITY_DIGITAL_RDAP: &str = "https://rdap.identitydigital.services/rdap/";

/// Registries that run RDAP but are missing from the IANA bootstrap file
/// (checked against the compiled-in copy, publication 2026-03-23).
///
/// They are applied by [`Bootstrap::with_overrides`] only to TLDs the parsed
/// file does not list, so a newer IANA file that adds a TLD wins.
///
/// - `.de`: DENIC documents `https://rdap.denic.de` (a pilot service without
///   service levels).
/// - `.ac`, `.io`, `.me`, `.sh`: run by Identity Digital. No registry page
///   giving the endpoint was found; the source is a public client library's
///   override table, corroborated by reports in other projects (see the
///   entries).
pub const OVERRIDES: &[Override] = &[
    Override {
        tld: "ac",
        base_url: IDENTITY_DIGITAL_RDAP,
        source: IDENTITY_DIGITAL_SOURCE,
    },
    Override {
        tld: "de",
        base_url: "https://rdap.denic.de/",
        source: "https://www.denic.de/en/rdap-master",
    },
    Override {
        tld: "io",
        base_url: IDENTITY_DIGITAL_RDAP,
        source: IDENTITY_DIGITAL_SOURCE,
    },
    Override {
        tld: "me",
        base_url: IDENTITY_DIGITAL_RDAP,
        source: IDENTITY_DIGITAL_SOURCE,
    },
    Override {
        tld: "sh",
        base_url: IDENTITY_DIGITAL_RDAP,
        source: IDENTITY_DIGITAL_SOURCE,
    },
];

/// Why a bootstrap file could not be used at all.
///
/// Malformed service entries are not errors: they are skipped and counted
/// ([`Bootstrap::skipped`]).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// The bytes are not JSON.
    #[error("RDAP bootstrap file is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON value is not an object.
    #[error("RDAP bootstrap file is not a JSON object")]
    NotObject,
    /// The object has no `services` array.
    #[error("RDAP bootstrap file has no \"services\" array")]
    MissingServices,
}

/// RDAP base URLs by domain suffix (usually a TLD), from an RFC 9224 file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bootstrap {
    publication: Option<String>,
    /// Suffix (lower-case A-labels, no leading or trailing dot) → base URLs
    /// in the file's order.
    services: HashMap<String, Vec<String>>,
    skipped: usize,
}

impl Bootstrap {
    /// Parse an RFC 9224 DNS bootstrap file:
    /// `{"version", "publication", "description", "services": [[[suffix, ...], [url, ...]], ...]}`.
    ///
    /// Unknown members are ignored. A service entry that is not a pair of
    /// arrays, or that has no usable suffix or no `http(s)://` URL, is
    /// skipped and counted in [`Bootstrap::skipped`]; within an entry,
    /// unusable suffixes and URLs are dropped. Suffixes are stored
    /// lower-case in A-label form (a Unicode entry is converted). When a
    /// suffix appears in more than one service, the first wins.
    ///
    /// Fails only when the bytes are not a JSON object with a `services`
    /// array.
    pub fn parse(json: &[u8]) -> Result<Bootstrap, BootstrapError> {
        let doc: Value = serde_json::from_slice(json)?;
        let Value::Object(members) = doc else {
            return Err(BootstrapError::NotObject);
        };
        let Some(Value::Array(services)) = members.get("services") else {
            return Err(BootstrapError::MissingServices);
        };
        let mut bootstrap = Bootstrap {
            publication: members
                .get("publication")
                .and_then(Value::as_str)
                .map(str::to_owned),
            ..Bootstrap::default()
        };
        for service in services {
            match parse_service(service) {
                Some((suffixes, urls)) => {
                    for suffix in suffixes {
                        bootstrap
                            .services
                            .entry(suffix)
                            .or_insert_with(|| urls.clone());
                    }
                }
                None => bootstrap.skipped += 1,
            }
        }
        Ok(bootstrap)
    }

    /// The compiled-in IANA file (publication 2026-03-23) with
    /// [`OVERRIDES`] applied.
    ///
    /// Never panics: were the built-in file unreadable, the result would hold
    /// the overrides only. Parses about 100 KB of JSON on each call, so
    /// build it once and keep it.
    pub fn builtin() -> Bootstrap {
        Bootstrap::parse(BUILTIN_JSON)
            .unwrap_or_default()
            .with_overrides()
    }

    /// Add [`OVERRIDES`] for the TLDs this bootstrap does not list; TLDs it
    /// lists keep their published URLs.
    #[must_use]
    pub fn with_overrides(mut self) -> Self {
        for o in OVERRIDES {
            self.services
                .entry(o.tld.to_owned())
                .or_insert_with(|| vec![o.base_url.to_owned()]);
        }
        self
    }

    /// The file's `publication` member (an RFC 3339 time), when present.
    pub fn publication(&self) -> Option<&str> {
        self.publication.as_deref()
    }

    /// Number of suffix (TLD) entries, overrides included.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// True when no suffix is known.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// Number of malformed service entries skipped by [`Bootstrap::parse`].
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The base URLs for `domain`: those of the longest entry that matches
    /// whole labels from the right (RFC 9224 section 4), so `bbc.co.uk`
    /// would match a `co.uk` entry before `uk`, and `xuk` never matches
    /// `uk`.
    ///
    /// `domain` should be in A-label form (as [`crate::domain::analyze`]
    /// gives it); ASCII case, surrounding spaces and one trailing dot are
    /// tolerated.
    pub fn base_urls(&self, domain: &str) -> Option<&[String]> {
        let trimmed = domain.trim();
        let name = trimmed.strip_suffix('.').unwrap_or(trimmed);
        let name: Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        };
        let mut suffix: &str = &name;
        loop {
            if let Some(urls) = self.services.get(suffix) {
                return Some(urls.as_slice());
            }
            suffix = suffix.split_once('.')?.1;
        }
    }

    /// The base URL to use for `domain`: the first `https` URL of the
    /// matching entry, else its first URL.
    pub fn base_url(&self, domain: &str) -> Option<&str> {
        let urls = self.base_urls(domain)?;
        urls.iter()
            .find(|u| is_https(u))
            .or_else(|| urls.first())
            .map(String::as_str)
    }

    /// The RDAP domain query URL for `domain` ([`Bootstrap::base_url`]
    /// joined by [`domain_query_url`]).
    pub fn query_url(&self, domain: &str) -> Option<String> {
        self.base_url(domain)
            .map(|base| domain_query_url(base, domain))
    }
}

/// The RFC 9082 domain lookup URL: `base` with exactly one `/`, then
/// `domain/<domain>`. `domain` is used as given, so pass the A-label form
/// (which needs no escaping).
///
/// `domain_query_url("https://rdap.verisign.com/com/v1/", "google.com")` is
/// `https://rdap.verisign.com/com/v1/domain/google.com`, and the same without
/// the trailing slash on the base.
pub fn domain_query_url(base: &str, domain: &str) -> String {
    let base = base.trim_end_matches('/');
    let mut url = String::with_capacity(base.len() + 8 + domain.len());
    url.push_str(base);
    url.push_str("/domain/");
    url.push_str(domain);
    url
}

/// One `[[suffix, ...], [url, ...]]` service entry, or `None` when it is
/// unusable.
fn parse_service(service: &Value) -> Option<(Vec<String>, Vec<String>)> {
    let Value::Array(parts) = service else {
        return None;
    };
    let [Value::Array(suffixes), Value::Array(urls)] = parts.as_slice() else {
        return None;
    };
    let suffixes: Vec<String> = suffixes
        .iter()
        .filter_map(Value::as_str)
        .filter_map(normalise_suffix)
        .collect();
    let urls: Vec<String> = urls
        .iter()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|u| is_http_url(u))
        .map(str::to_owned)
        .collect();
    if suffixes.is_empty() || urls.is_empty() {
        None
    } else {
        Some((suffixes, urls))
    }
}

/// A bootstrap entry as lower-case A-labels without a leading or trailing
/// dot, or `None` when it is not a valid suffix.
fn normalise_suffix(entry: &str) -> Option<String> {
    let entry = entry.trim().trim_matches('.');
    let ascii = if entry.is_ascii() {
        entry.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(entry).ok()?
    };
    let valid = !ascii.is_empty()
        && ascii.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= crate::domain::MAX_LABEL_LEN
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    valid.then_some(ascii)
}

fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// An absolute `http://` or `https://` URL with a non-empty host part.
fn is_http_url(url: &str) -> bool {
    let rest = if is_https(url) {
        url.get(8..)
    } else if url
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
    {
        url.get(7..)
    } else {
        None
    };
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &[u8] = include_bytes!("../tests/fixtures/bootstrap/dns.json");

    fn fixture() -> Bootstrap {
        Bootstrap::parse(FIXTURE).unwrap()
    }

    #[test]
    fn builtin_is_the_fixture_and_parses() {
        assert_eq!(
            BUILTIN_JSON, FIXTURE,
            "src/data copy differs from the fixture"
        );
        let b = Bootstrap::builtin();
        assert!(b.len() >= 1_100, "only {} TLDs", b.len());
        assert_eq!(b.publication(), Some("2026-03-23T19:00:02Z"));
        assert_eq!(b.skipped(), 0);
    }

    #[test]
    fn parses_the_fixture() {
        let b = fixture();
        assert_eq!(b.len(), 1_198);
        assert_eq!(b.skipped(), 0);
        assert_eq!(
            b.base_url("google.com"),
            Some("https://rdap.verisign.com/com/v1/")
        );
        assert_eq!(
            b.base_url("www.Google.COM."),
            Some("https://rdap.verisign.com/com/v1/")
        );
        assert_eq!(b.base_url("bbc.co.uk"), Some("https://rdap.nominet.uk/uk/"));
        // Already an A-label in the file.
        assert_eq!(
            b.base_url("example.xn--kpry57d"),
            Some("https://ccrdap.twnic.tw/taiwan/")
        );
        // http-only entries are kept.
        assert_eq!(b.base_url("example.kg"), Some("http://rdap.cctld.kg/"));
    }

    #[test]
    fn missing_tld_is_none() {
        let b = fixture();
        assert_eq!(b.base_urls("example.invalid"), None);
        assert_eq!(
            b.base_url("example.de"),
            None,
            "no overrides on a parsed file"
        );
        assert_eq!(b.base_url(""), None);
        assert_eq!(b.base_url("."), None);
    }

    #[test]
    fn matches_whole_labels_only() {
        let json = br#"{"services":[
            [["uk"],["https://uk.example/"]],
            [["co.uk"],["https://co-uk.example/"]]
        ]}"#;
        let b = Bootstrap::parse(json).unwrap();
        assert_eq!(b.base_url("bbc.co.uk"), Some("https://co-uk.example/"));
        assert_eq!(b.base_url("co.uk"), Some("https://co-uk.example/"));
        assert_eq!(b.base_url("bbc.org.uk"), Some("https://uk.example/"));
        assert_eq!(b.base_url("bbc.xco.uk"), Some("https://uk.example/"));
        assert_eq!(b.base_url("example.xuk"), None);
        assert_eq!(b.base_url("xuk"), None);
        assert_eq!(b.base_url("uk"), Some("https://uk.example/"));
    }

    #[test]
    fn prefers_https() {
        let json = br#"{"services":[
            [["a"],["http://a.example/","https://a.example/"]],
            [["b"],["http://b.example/"]]
        ]}"#;
        let b = Bootstrap::parse(json).unwrap();
        assert_eq!(b.base_urls("x.a").map(<[String]>::len), Some(2));
        assert_eq!(b.base_url("x.a"), Some("https://a.example/"));
        assert_eq!(b.base_url("x.b"), Some("http://b.example/"));
    }

    #[test]
    fn overrides_fill_gaps_only() {
        let b = Bootstrap::builtin();
        assert_eq!(b.base_url("denic.de"), Some("https://rdap.denic.de/"));
        for tld in ["io", "me", "sh", "ac"] {
            assert_eq!(
                b.base_url(&format!("example.{tld}")),
                Some("https://rdap.identitydigital.services/rdap/"),
                "{tld}"
            );
        }
        assert_eq!(b.len(), fixture().len() + OVERRIDES.len());

        // A file that lists the TLD wins.
        let json = br#"{"services":[[["de"],["https://rdap.example.de/"]]]}"#;
        let b = Bootstrap::parse(json).unwrap().with_overrides();
        assert_eq!(b.base_url("denic.de"), Some("https://rdap.example.de/"));
        assert_eq!(
            b.base_url("nic.io"),
            Some("https://rdap.identitydigital.services/rdap/")
        );
    }

    #[test]
    fn overrides_are_needed_and_documented() {
        let iana = fixture();
        for o in OVERRIDES {
            assert_eq!(
                iana.base_urls(o.tld),
                None,
                "the IANA file now lists .{}: drop its override",
                o.tld
            );
            assert!(o.base_url.starts_with("https://") && o.base_url.ends_with('/'));
            assert!(o.source.starts_with("https://"));
            assert_eq!(normalise_suffix(o.tld).as_deref(), Some(o.tld));
        }
    }

    #[test]
    fn malformed_services_are_skipped() {
        let json = br#"{"version":"1.0","extra":{"x":1},"services":[
            "not an array",
            [["only-tlds"]],
            [["a"],["https://a.example/"],["third"]],
            [[1, 2],["https://n.example/"]],
            [["ok", 7, "bad label!", "B\u00fccher"],["ftp://x.example/", "https://ok.example/", 3]],
            [["nourl"],["mailto:x@example.com", "https:///nohost"]],
            [["ok"],["https://second.example/"]],
            [[],[]]
        ]}"#;
        let b = Bootstrap::parse(json).unwrap();
        assert_eq!(b.skipped(), 6);
        assert_eq!(b.len(), 2);
        assert_eq!(
            b.base_urls("x.ok"),
            Some(&["https://ok.example/".to_string()][..])
        );
        assert_eq!(
            b.base_url("x.xn--bcher-kva"),
            Some("https://ok.example/"),
            "a Unicode entry is stored as A-labels"
        );
        assert_eq!(b.publication(), None);
    }

    #[test]
    fn unusable_files_fail() {
        assert!(matches!(
            Bootstrap::parse(b"not json"),
            Err(BootstrapError::Json(_))
        ));
        assert!(matches!(
            Bootstrap::parse(b"[1,2]"),
            Err(BootstrapError::NotObject)
        ));
        assert!(matches!(
            Bootstrap::parse(br#"{"version":"1.0"}"#),
            Err(BootstrapError::MissingServices)
        ));
        assert!(matches!(
            Bootstrap::parse(br#"{"services":{}}"#),
            Err(BootstrapError::MissingServices)
        ));
        let empty = Bootstrap::parse(br#"{"services":[]}"#).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn query_url_joining() {
        assert_eq!(
            domain_query_url("https://rdap.verisign.com/com/v1/", "google.com"),
            "https://rdap.verisign.com/com/v1/domain/google.com"
        );
        assert_eq!(
            domain_query_url("https://rdap.verisign.com/com/v1", "google.com"),
            "https://rdap.verisign.com/com/v1/domain/google.com"
        );
        assert_eq!(
            domain_query_url("https://rdap.denic.de//", "denic.de"),
            "https://rdap.denic.de/domain/denic.de"
        );
        assert_eq!(
            fixture().query_url("google.com").as_deref(),
            Some("https://rdap.verisign.com/com/v1/domain/google.com")
        );
    }
}
