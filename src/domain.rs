//! Domain names: normalisation, skip rules and the registered domain.
//!
//! [`analyze`] takes a host or query name as it appears in a log (any case,
//! maybe a trailing dot, a port, Unicode or A-labels) and returns either the
//! [`Target`] to look up (normalised A-label name and its registered domain) or
//! the [`SkipReason`] why the name has no registration to look up.
//!
//! The registered domain is eTLD+1 under the ICANN section of the Public
//! Suffix List. A name under a private suffix (`x.github.io`) maps to its ICANN
//! registered domain (`github.io`), which is what a registry knows.
//!
//! The list is data, not code: `src/data/public_suffix_icann.dat` (the ICANN
//! section in A-label form, regenerated from the `psl` crate's list by
//! `tests/public_suffix.rs`), matched by the `publicsuffix` crate. A compiled
//! matcher would cost the WASM filters ~1 MB; the data costs ~100 KB.
//!
//! Pure: no I/O, no allocation for names that are already lower-case ASCII.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use std::sync::LazyLock;

use publicsuffix::{List, Psl};

/// The ICANN section of the Public Suffix List, parsed on first use.
static ICANN_SUFFIXES: LazyLock<List> = LazyLock::new(|| {
    // The shipped list parses (tests/public_suffix.rs); were it not to, every
    // name would be `unknown_tld`, never a panic.
    include_str!("data/public_suffix_icann.dat")
        .parse()
        .unwrap_or_default()
});

/// Longest DNS name in presentation form, without the trailing dot.
pub const MAX_NAME_LEN: usize = 253;
/// Longest DNS label.
pub const MAX_LABEL_LEN: usize = 63;

/// TLDs reserved for special use (RFC 6761, RFC 6762, RFC 7686, RFC 9476,
/// ICANN's `.internal`): names under them are never registered.
const SPECIAL_USE_TLDS: &[&str] = &[
    "local",
    "localhost",
    "internal",
    "test",
    "example",
    "invalid",
    "onion",
    "alt",
];

/// Why a name is not looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SkipReason {
    /// An IPv4 or IPv6 address, not a name.
    IpLiteral,
    /// A name with one label (`wpad`, `printer`).
    SingleLabel,
    /// The bare wildcard `*`.
    Wildcard,
    /// A reverse lookup under `in-addr.arpa` or `ip6.arpa`.
    ReverseLookup,
    /// A special-use name (`.local`, `.home.arpa`, `.onion`, ...).
    SpecialUse,
    /// The TLD does not exist.
    UnknownTld,
    /// The name is itself a public suffix (`co.uk`).
    PublicSuffix,
    /// Not a valid host name (bad characters, empty or over-long labels).
    InvalidName,
    /// The lookup machinery was at capacity (live lookups only).
    Overload,
}

impl SkipReason {
    /// Every reason, in a stable order (for summaries and docs).
    pub const ALL: [SkipReason; 9] = [
        SkipReason::IpLiteral,
        SkipReason::SingleLabel,
        SkipReason::Wildcard,
        SkipReason::ReverseLookup,
        SkipReason::SpecialUse,
        SkipReason::UnknownTld,
        SkipReason::PublicSuffix,
        SkipReason::InvalidName,
        SkipReason::Overload,
    ];

    /// The name used in output (`domreg.skip_reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::IpLiteral => "ip_literal",
            SkipReason::SingleLabel => "single_label",
            SkipReason::Wildcard => "wildcard",
            SkipReason::ReverseLookup => "reverse_lookup",
            SkipReason::SpecialUse => "special_use",
            SkipReason::UnknownTld => "unknown_tld",
            SkipReason::PublicSuffix => "public_suffix",
            SkipReason::InvalidName => "invalid_name",
            SkipReason::Overload => "overload",
        }
    }
}

/// A name with a registered domain to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    /// The normalised name: A-labels, lower-case, no trailing dot, no port.
    pub name: Cow<'a, str>,
    /// Byte offset in `name` where the registered domain starts.
    domain_start: usize,
}

impl Target<'_> {
    /// The registered domain (eTLD+1 under the ICANN section), A-labels.
    pub fn domain(&self) -> &str {
        self.name.get(self.domain_start..).unwrap_or(&self.name)
    }

    /// True when the name contains IDNA A-labels (`xn--`), so that a
    /// Unicode display form differs from the A-label form.
    pub fn is_idn(&self) -> bool {
        has_a_label(&self.name)
    }
}

/// The result of [`analyze`]: a name to look up, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Analysis<'a> {
    /// Look up `domain()`.
    Lookup(Target<'a>),
    /// Not looked up; `name` is the normalised name when normalisation got
    /// that far, else the input trimmed.
    Skip {
        /// The name for display.
        name: Cow<'a, str>,
        /// Why it is skipped.
        reason: SkipReason,
    },
}

impl Analysis<'_> {
    /// The same analysis, owning its strings.
    pub fn into_owned(self) -> Analysis<'static> {
        match self {
            Analysis::Lookup(t) => Analysis::Lookup(Target {
                name: Cow::Owned(t.name.into_owned()),
                domain_start: t.domain_start,
            }),
            Analysis::Skip { name, reason } => Analysis::Skip {
                name: Cow::Owned(name.into_owned()),
                reason,
            },
        }
    }
}

/// Normalise `raw` and find its registered domain.
pub fn analyze(raw: &str) -> Analysis<'_> {
    let trimmed = raw.trim();
    let host = match strip_port(trimmed) {
        Ok(host) => host,
        Err(reason) => {
            return Analysis::Skip {
                name: Cow::Borrowed(trimmed),
                reason,
            };
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host == "*" {
        return skip(host, SkipReason::Wildcard);
    }
    // An IPv4 address starts with a digit.
    if host.as_bytes().first().is_some_and(u8::is_ascii_digit) && host.parse::<Ipv4Addr>().is_ok() {
        return skip(host, SkipReason::IpLiteral);
    }
    let name = match to_ascii(host) {
        Some(name) => name,
        None => return skip(host, SkipReason::InvalidName),
    };
    if !valid_host_name(&name) {
        return Analysis::Skip {
            name,
            reason: SkipReason::InvalidName,
        };
    }
    match registered_domain_start(&name) {
        Ok(domain_start) => Analysis::Lookup(Target { name, domain_start }),
        Err(reason) => Analysis::Skip { name, reason },
    }
}

fn skip(name: &str, reason: SkipReason) -> Analysis<'_> {
    Analysis::Skip {
        name: Cow::Borrowed(name),
        reason,
    }
}

/// Strip a `:port` suffix. Bracketed or bare IPv6 literals are IP literals.
fn strip_port(s: &str) -> Result<&str, SkipReason> {
    if let Some(rest) = s.strip_prefix('[') {
        // "[v6]" or "[v6]:port"
        let Some((inside, _)) = rest.split_once(']') else {
            return Err(SkipReason::InvalidName);
        };
        return Err(if inside.parse::<Ipv6Addr>().is_ok() {
            SkipReason::IpLiteral
        } else {
            SkipReason::InvalidName
        });
    }
    // Byte loops, not `str` searches: names are a few dozen bytes, and a
    // name is analysed for every event whose name is not in the name cache.
    let Some(colon) = s.bytes().rposition(|b| b == b':') else {
        return Ok(s);
    };
    let (host, port) = (
        s.get(..colon).unwrap_or(""),
        s.get(colon + 1..).unwrap_or(""),
    );
    if !host.bytes().any(|b| b == b':') {
        if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) {
            Ok(host)
        } else {
            Err(SkipReason::InvalidName)
        }
    } else if s.parse::<Ipv6Addr>().is_ok() {
        Err(SkipReason::IpLiteral)
    } else {
        Err(SkipReason::InvalidName)
    }
}

/// Lower-case ASCII, or IDNA (UTS 46) to A-labels for anything else.
fn to_ascii(host: &str) -> Option<Cow<'_, str>> {
    let bytes = host.as_bytes();
    if bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._*".contains(&b))
    {
        if has_a_label(host) {
            // Check that A-labels decode; the result is the same ASCII.
            return idna::domain_to_ascii_cow(bytes, idna::AsciiDenyList::EMPTY).ok();
        }
        return Some(Cow::Borrowed(host));
    }
    if host.is_ascii() && !has_a_label(host) {
        let lower = host.to_ascii_lowercase();
        return Some(Cow::Owned(lower));
    }
    match idna::domain_to_ascii_cow(bytes, idna::AsciiDenyList::EMPTY) {
        Ok(Cow::Borrowed(s)) => Some(Cow::Borrowed(s)),
        Ok(Cow::Owned(s)) => Some(Cow::Owned(s)),
        Err(_) => None,
    }
}

/// True when a label starts with the ACE prefix, in any case (`Xn--` is
/// an A-label too, and must be checked like one).
fn has_a_label(name: &str) -> bool {
    // Most names have no `-` at all, so no `xn--`.
    if memchr::memchr(b'-', name.as_bytes()).is_none() {
        return false;
    }
    labels(name).any(|label| {
        label
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
    })
}

/// Length and character rules for a host name in A-label form. Underscores
/// are accepted (SRV and other service labels), and so is a leading `*`
/// label (a wildcard query); the registered domain is checked separately.
fn valid_host_name(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return false;
    }
    labels(name).enumerate().all(|(i, label)| {
        (i == 0 && label == b"*")
            || !label.is_empty()
                && label.len() <= MAX_LABEL_LEN
                && label.iter().all(|&b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                })
    })
}

/// The labels of `name`, split at every `.` (a byte loop: cheaper than a
/// `str` split on names this short).
fn labels(name: &str) -> std::slice::Split<'_, u8, impl FnMut(&u8) -> bool> {
    name.as_bytes().split(|&b| b == b'.')
}

/// LDH rule for the labels of a registered domain.
fn valid_ldh_label(label: &[u8]) -> bool {
    label.first() != Some(&b'-')
        && label.last() != Some(&b'-')
        && label
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Find where the registered domain starts in a normalised name.
fn registered_domain_start(name: &str) -> Result<usize, SkipReason> {
    let last_dot = name.bytes().rposition(|b| b == b'.');
    let tld = last_dot.and_then(|d| name.get(d + 1..)).unwrap_or(name);
    if tld == "arpa" {
        return Err(
            if name.ends_with(".in-addr.arpa") || name.ends_with(".ip6.arpa") {
                SkipReason::ReverseLookup
            } else {
                SkipReason::SpecialUse
            },
        );
    }
    if SPECIAL_USE_TLDS.contains(&tld) {
        return Err(SkipReason::SpecialUse);
    }
    if last_dot.is_none() {
        return Err(SkipReason::SingleLabel);
    }
    let Some(suffix_len) = public_suffix_len(name) else {
        return Err(SkipReason::UnknownTld);
    };
    if suffix_len >= name.len() {
        return Err(SkipReason::PublicSuffix);
    }
    // The label before the suffix starts after the previous dot.
    let before = name.len() - suffix_len - 1;
    let head = name.get(..before).ok_or(SkipReason::InvalidName)?;
    let start = head
        .bytes()
        .rposition(|b| b == b'.')
        .map_or(0, |dot| dot + 1);
    let domain = name.get(start..).ok_or(SkipReason::InvalidName)?;
    if !labels(domain).all(valid_ldh_label) {
        return Err(SkipReason::InvalidName);
    }
    Ok(start)
}

/// Length of the ICANN public suffix of `name` (a normalised A-label name):
/// its longest match in the list, wildcards and exceptions applied; `None`
/// when its TLD is not in the list.
pub fn public_suffix_len(name: &str) -> Option<usize> {
    let info = ICANN_SUFFIXES.find(labels(name).rev());
    info.typ.map(|_| info.len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain_of(raw: &str) -> String {
        match analyze(raw) {
            Analysis::Lookup(t) => t.domain().to_string(),
            Analysis::Skip { reason, .. } => format!("skip:{}", reason.as_str()),
        }
    }

    fn name_of(raw: &str) -> String {
        match analyze(raw) {
            Analysis::Lookup(t) => t.name.into_owned(),
            Analysis::Skip { name, .. } => name.into_owned(),
        }
    }

    #[test]
    fn registered_domains() {
        assert_eq!(domain_of("www.google.com"), "google.com");
        assert_eq!(domain_of("google.com"), "google.com");
        assert_eq!(domain_of("WWW.Example.ORG."), "example.org");
        assert_eq!(domain_of("news.bbc.co.uk"), "bbc.co.uk");
        assert_eq!(domain_of("ise.wrccdc.org"), "wrccdc.org");
        assert_eq!(domain_of("www.google.com:443"), "google.com");
        assert_eq!(domain_of("_ldap._tcp.dc.corp.example.com"), "example.com");
        assert_eq!(domain_of("*.example.com"), "example.com");
    }

    #[test]
    fn private_suffixes_map_to_icann_registered_domain() {
        assert_eq!(domain_of("foo.github.io"), "github.io");
        assert_eq!(domain_of("y.duckdns.org"), "duckdns.org");
        assert_eq!(domain_of("github.io"), "github.io");
        assert_eq!(
            domain_of("dd625ffb4fc54735b281862aa1cd6cd4.us-west1.gcp.cloud.es.io"),
            "es.io"
        );
        assert_eq!(domain_of("x.blogspot.co.uk"), "blogspot.co.uk");
    }

    #[test]
    fn skips() {
        assert_eq!(domain_of("192.168.86.28"), "skip:ip_literal");
        assert_eq!(domain_of("[2001:db8::1]:443"), "skip:ip_literal");
        assert_eq!(domain_of("2001:db8::1"), "skip:ip_literal");
        assert_eq!(domain_of("81.2.69.195."), "skip:ip_literal");
        assert_eq!(domain_of("wpad"), "skip:single_label");
        assert_eq!(domain_of("com"), "skip:single_label");
        assert_eq!(domain_of("*"), "skip:wildcard");
        assert_eq!(domain_of("1.0.168.192.in-addr.arpa"), "skip:reverse_lookup");
        assert_eq!(
            domain_of("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa"),
            "skip:reverse_lookup"
        );
        assert_eq!(domain_of("printer.home.arpa"), "skip:special_use");
        for name in [
            "mac.local",
            "localhost",
            "foo.localhost",
            "db.internal",
            "a.test",
            "www.example",
            "x.invalid",
            "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion",
            "a.alt",
        ] {
            assert_eq!(domain_of(name), "skip:special_use", "{name}");
        }
        assert_eq!(domain_of("asdf.coma"), "skip:unknown_tld");
        assert_eq!(domain_of("httpbin.org.cluster.local"), "skip:special_use");
        assert_eq!(domain_of("version.bind"), "skip:unknown_tld");
        assert_eq!(domain_of("co.uk"), "skip:public_suffix");
        assert_eq!(domain_of(""), "skip:invalid_name");
        assert_eq!(domain_of("a..b.com"), "skip:invalid_name");
        assert_eq!(domain_of("bad name.com"), "skip:invalid_name");
        assert_eq!(domain_of("-bad.com"), "skip:invalid_name");
        assert_eq!(domain_of("_srv.com"), "skip:invalid_name");
        assert_eq!(
            domain_of(&format!("{}.com", "a".repeat(64))),
            "skip:invalid_name"
        );
        assert_eq!(
            domain_of(&format!("{}.com", vec!["a".repeat(60); 5].join("."))),
            "skip:invalid_name"
        );
        assert_eq!(domain_of("host:port"), "skip:invalid_name");
    }

    #[test]
    fn idna() {
        assert_eq!(domain_of("bücher.de"), "xn--bcher-kva.de");
        assert_eq!(name_of("WWW.Bücher.DE"), "www.xn--bcher-kva.de");
        assert_eq!(domain_of("xn--bcher-kva.de"), "xn--bcher-kva.de");
        assert_eq!(domain_of("xn--zz-.com"), "skip:invalid_name");
        // An upper-case ACE prefix is an A-label too: checked, not just
        // lower-cased (found by the `domain` fuzz target).
        assert_eq!(domain_of("Xn--fk.it"), "skip:invalid_name");
        assert_eq!(domain_of("www.XN--BCHER-KVA.de"), "xn--bcher-kva.de");
        match analyze("www.xn--bcher-kva.de") {
            Analysis::Lookup(t) => assert!(t.is_idn()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_allocation_for_lower_case_ascii() {
        match analyze("www.google.com.") {
            Analysis::Lookup(t) => assert!(matches!(t.name, Cow::Borrowed(_))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_prefix_is_safe() {
        let name = "WWW.Bücher.co.uk.:443";
        for (i, _) in name.char_indices() {
            let _ = analyze(&name[..i]);
        }
    }
}
