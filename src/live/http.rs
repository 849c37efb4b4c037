//! The HTTP side of RDAP: one GET with timeouts, a body cap, a redirect cap,
//! https only, and no connection to a non-public address.
//!
//! Addresses are checked where the connection is made: a DNS resolver that
//! drops loopback, private, link-local, unspecified (and other non-global)
//! addresses, and a check of IP-literal URLs, including every redirect.
//! `allow_insecure` allows `http://` and loopback addresses, for tests
//! against a server on 127.0.0.1; private, link-local and unspecified
//! addresses stay refused even then.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{StatusCode, Url, redirect};

/// HTTP settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (connect, send, read the body).
    pub timeout: Duration,
    /// Largest body read; a longer one is an error.
    pub max_body: usize,
    /// Redirects followed.
    pub max_redirects: usize,
    /// Allow `http://` and loopback addresses (tests only).
    pub allow_insecure: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_body: 1 << 20,
            max_redirects: 3,
            allow_insecure: false,
        }
    }
}

/// What a GET gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// HTTP 200 with its body.
    Ok(Vec<u8>),
    /// HTTP 404.
    NotFound,
    /// HTTP 429, with the Retry-After header if any.
    TooManyRequests(Option<String>),
    /// Any other status.
    Status(u16),
}

/// Why a GET failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL is not https (and insecure use is not allowed), or not a URL.
    #[error("refused URL: {0}")]
    RefusedUrl(String),
    /// The host is, or resolves only to, a non-public address.
    #[error("refused address: {0}")]
    RefusedAddress(String),
    /// Connect or whole-request timeout.
    #[error("timeout")]
    Timeout,
    /// Could not connect (refused, reset, DNS failure).
    #[error("connect: {0}")]
    Connect(String),
    /// The body is larger than the cap.
    #[error("body over {0} bytes")]
    BodyTooLarge(usize),
    /// Too many redirects, or a redirect to a refused URL.
    #[error("redirect: {0}")]
    Redirect(String),
    /// Anything else on the wire (a truncated body, a protocol error).
    #[error("http: {0}")]
    Other(String),
}

impl FetchError {
    /// The short error code for output and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::RefusedUrl(_) => "refused_url",
            FetchError::RefusedAddress(_) => "refused_address",
            FetchError::Timeout => "timeout",
            FetchError::Connect(_) => "connect",
            FetchError::BodyTooLarge(_) => "body_too_large",
            FetchError::Redirect(_) => "redirect",
            FetchError::Other(_) => "http",
        }
    }

    /// True for failures worth a retry (the host may answer next time).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            FetchError::Timeout | FetchError::Connect(_) | FetchError::Other(_)
        )
    }
}

/// An RDAP HTTP client.
#[derive(Debug, Clone)]
pub struct RdapHttp {
    client: reqwest::Client,
    config: HttpConfig,
}

impl RdapHttp {
    /// A client with `config`.
    pub fn new(config: HttpConfig) -> Result<RdapHttp, FetchError> {
        // Pick the ring provider for rustls; a second call is a no-op error.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let allow_insecure = config.allow_insecure;
        let max_redirects = config.max_redirects;
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                return attempt.error(format!("more than {max_redirects} redirects"));
            }
            match check_url(attempt.url(), allow_insecure) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e.to_string()),
            }
        });
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(policy)
            .user_agent(concat!("domreg/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(30))
            .https_only(!allow_insecure);
        builder = builder.dns_resolver(Arc::new(PublicOnly {
            allow_loopback: allow_insecure,
        }));
        let client = builder
            .build()
            .map_err(|e| FetchError::Other(e.to_string()))?;
        Ok(RdapHttp { client, config })
    }

    /// The settings in force.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// GET `url`, accepting RDAP JSON.
    pub async fn get(&self, url: &str) -> Result<Response, FetchError> {
        self.get_with_max_age(url)
            .await
            .map(|(response, _)| response)
    }

    /// GET `url`, also returning the `max-age` of its Cache-Control header
    /// (None with `no-store`/`no-cache` or without the header).
    pub async fn get_with_max_age(
        &self,
        url: &str,
    ) -> Result<(Response, Option<Duration>), FetchError> {
        let parsed = Url::parse(url).map_err(|e| FetchError::RefusedUrl(format!("{url}: {e}")))?;
        check_url(&parsed, self.config.allow_insecure)?;
        let response = self
            .client
            .get(parsed)
            .header(
                reqwest::header::ACCEPT,
                "application/rdap+json, application/json;q=0.9",
            )
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        if status == StatusCode::NOT_FOUND {
            return Ok((Response::NotFound, max_age));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            return Ok((Response::TooManyRequests(retry_after), max_age));
        }
        if status != StatusCode::OK {
            return Ok((Response::Status(status.as_u16()), max_age));
        }
        let max = self.config.max_body;
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(FetchError::BodyTooLarge(max));
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > max {
                return Err(FetchError::BodyTooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((Response::Ok(body), max_age))
    }
}

/// The `max-age` of a Cache-Control value; None when caching is refused
/// (`no-store`, `no-cache`) or no max-age is given.
pub fn parse_max_age(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return None;
        }
        if let Some(secs) = directive.strip_prefix("max-age=") {
            max_age = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    max_age
}

fn classify(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    if e.is_redirect() {
        return FetchError::Redirect(error_chain(&e));
    }
    let chain = error_chain(&e);
    if chain.contains("refused address") {
        return FetchError::RefusedAddress(chain);
    }
    if e.is_connect() {
        return FetchError::Connect(chain);
    }
    FetchError::Other(chain)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// Scheme and IP-literal checks for a URL we are about to fetch.
pub fn check_url(url: &Url, allow_insecure: bool) -> Result<(), FetchError> {
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        _ => {
            return Err(FetchError::RefusedUrl(format!(
                "{url}: only https is allowed"
            )));
        }
    }
    let Some(host) = url.host_str() else {
        return Err(FetchError::RefusedUrl(format!("{url}: no host")));
    };
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) if !allowed(ip, allow_insecure) => {
            Err(FetchError::RefusedAddress(format!("refused address {ip}")))
        }
        _ => Ok(()),
    }
}

/// Public addresses, and loopback ones when `allow_loopback`.
fn allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    is_public(ip) || (allow_loopback && ip.is_loopback())
}

/// True for globally routable unicast addresses.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (b & 0xc0) == 64) // 100.64.0.0/10 shared
                || (a == 198 && (b & 0xfe) == 18) // 198.18.0.0/15 benchmarking
                || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let [s0, s1, ..] = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s0 & 0xfe00) == 0xfc00 // unique local
                || (s0 & 0xffc0) == 0xfe80 // link-local
                || (s0 == 0x2001 && s1 == 0x0db8) // documentation
                || (s0 == 0x0064 && s1 == 0xff9b)) // NAT64
        }
    }
}

/// A resolver that keeps only public addresses.
#[derive(Debug)]
struct PublicOnly {
    allow_loopback: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allowed(a.ip(), allow_loopback))
                .collect();
            if addrs.is_empty() {
                return Err(format!("refused address: {host} has no public address").into());
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses() {
        for ip in ["8.8.8.8", "2606:4700::1111", "192.0.2.300"] {
            if let Ok(ip) = ip.parse::<IpAddr>() {
                assert!(is_public(ip), "{ip}");
            }
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn cache_control() {
        assert_eq!(
            parse_max_age("public, max-age=86400"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            parse_max_age("max-age=\"60\""),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_max_age("no-store, max-age=60"), None);
        assert_eq!(parse_max_age("private"), None);
    }

    #[test]
    fn url_checks() {
        let ok = |u: &str, insecure| check_url(&Url::parse(u).unwrap(), insecure);
        assert!(ok("https://rdap.verisign.com/com/v1/domain/x.com", false).is_ok());
        assert!(matches!(
            ok("http://rdap.verisign.com/", false),
            Err(FetchError::RefusedUrl(_))
        ));
        assert!(matches!(
            ok("https://10.0.0.1/domain/x", false),
            Err(FetchError::RefusedAddress(_))
        ));
        assert!(matches!(
            ok("https://[::1]/domain/x", false),
            Err(FetchError::RefusedAddress(_))
        ));
        assert!(ok("http://127.0.0.1:8080/domain/x", true).is_ok());
        assert!(ok("ftp://127.0.0.1/", true).is_err());
        // Even for tests, private and link-local addresses stay refused.
        for u in [
            "http://10.0.0.1/domain/x",
            "https://192.168.1.1/",
            "http://169.254.169.254/",
            "http://0.0.0.0/",
        ] {
            assert!(
                matches!(ok(u, true), Err(FetchError::RefusedAddress(_))),
                "{u}"
            );
        }
    }

    #[tokio::test]
    async fn resolver_refuses_localhost() {
        let strict = PublicOnly {
            allow_loopback: false,
        };
        assert!(strict.resolve("localhost".parse().unwrap()).await.is_err());
        let tests = PublicOnly {
            allow_loopback: true,
        };
        assert!(tests.resolve("localhost".parse().unwrap()).await.is_ok());
    }

    #[tokio::test]
    async fn refuses_before_connecting() {
        let http = RdapHttp::new(HttpConfig::default()).unwrap();
        let e = http
            .get("https://127.0.0.1:9/domain/x.com")
            .await
            .unwrap_err();
        assert_eq!(e.code(), "refused_address");
        let e = http
            .get("http://example.com/domain/x.com")
            .await
            .unwrap_err();
        assert_eq!(e.code(), "refused_url");
    }
}
