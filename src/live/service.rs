//! The lookup service: one lookup chain per registered domain, however many
//! events wait on it.
//!
//! A chain asks the registry named by the RDAP bootstrap, follows the
//! registrar referral (depth 1 by default), merges the answers with the
//! core's [`rdap::merge`], and stores the result in the shared
//! [`RegistrationCache`]. Requests pass the host's [`HostGate`]; 5xx answers
//! and transport failures are retried with exponential backoff and jitter,
//! 429s (and 200s carrying a quota notice) after their Retry-After.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::bootstrap::{self, Bootstrap};
use crate::cache::{CacheConfig, Cached, RegistrationCache};
use crate::live::gate::{self, GateConfig, HostGate};
use crate::live::http::{FetchError, HttpConfig, RdapHttp, Response};
use crate::{Registration, Source, rdap};

/// Settings of the lookup service.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveConfig {
    /// HTTP timeouts, caps and safety.
    pub http: HttpConfig,
    /// Politeness per host (the default for every host).
    pub gate: GateConfig,
    /// Per-host request rates (requests per second), overriding `gate.rate`.
    /// Keys are host names (`rdap.verisign.com`) or `host:port`.
    pub host_rates: BTreeMap<String, f64>,
    /// Registrar referrals followed after the registry's answer.
    pub referral_depth: u8,
    /// Retries after a 5xx, a timeout or a transport failure.
    pub max_retries: u32,
    /// First backoff; doubled each retry, plus up to 50% jitter.
    pub retry_base: Duration,
    /// Lookup chains in flight at once; beyond this, events are written
    /// with `skip_reason: overload`.
    pub max_inflight: usize,
    /// The cache's bounds and times to live.
    pub cache: CacheConfig,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            http: HttpConfig::default(),
            gate: GateConfig::default(),
            host_rates: BTreeMap::new(),
            referral_depth: 1,
            max_retries: 2,
            retry_base: Duration::from_millis(500),
            max_inflight: 10_000,
            cache: CacheConfig::default(),
        }
    }
}

/// Counters of one RDAP host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostStats {
    /// Requests sent.
    pub requests: u64,
    /// Answers by outcome: `ok`, `not_found`, `throttled` (429 or a quota
    /// notice), `http_NNN`, `timeout`, `connect`, `body_too_large`, ...
    pub outcomes: BTreeMap<String, u64>,
    /// Retries sent.
    pub retries: u64,
    /// Requests refused by the gate, by reason (`rate_limited`, `circuit_open`, `busy`).
    pub refused: BTreeMap<String, u64>,
    /// Times the circuit breaker opened.
    pub breaker_trips: u64,
}

/// Counters of the service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LiveStats {
    /// Lookup chains started.
    pub lookups: u64,
    /// Requests for a domain already being looked up (coalesced).
    pub coalesced: u64,
    /// Requests refused because `max_inflight` chains were running.
    pub overloaded: u64,
    /// Chain results: `found`, `not_found`, or the error code.
    pub results: BTreeMap<String, u64>,
    /// Registrar referrals followed.
    pub referrals: u64,
    /// Referrals that gave no usable answer (the registry's data is kept).
    pub referral_errors: u64,
    /// Per-host counters, keyed by `host` or `host:port`.
    pub hosts: BTreeMap<String, HostStats>,
}

/// What [`LookupService::ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensure {
    /// A new lookup chain started.
    Started,
    /// A chain for this domain was already running.
    Coalesced,
    /// Too many chains are running; nothing started.
    Overloaded,
    /// A fresh answer is already in the cache (a chain just finished).
    Ready,
}

/// One HTTP exchange, kept for `domreg lookup --raw`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawAnswer {
    /// The URL asked.
    pub url: String,
    /// The HTTP status, or 0 when there was no answer.
    pub status: u16,
    /// The body as text (lossy UTF-8), when there was one.
    pub body: Option<String>,
    /// The error code, when the exchange failed.
    pub error: Option<String>,
}

/// Live RDAP lookups behind the shared cache.
pub struct LookupService {
    http: RdapHttp,
    bootstrap: RwLock<Arc<Bootstrap>>,
    gates: Mutex<HashMap<String, Arc<HostGate>>>,
    cache: Mutex<RegistrationCache>,
    inflight: Mutex<HashMap<String, watch::Receiver<bool>>>,
    done: Mutex<Option<mpsc::UnboundedSender<String>>>,
    stats: Mutex<LiveStats>,
    config: LiveConfig,
}

/// What a fetch gave, after retries.
enum Answer {
    Body(Vec<u8>),
    NotFound,
}

impl LookupService {
    /// A service with `config` and `bootstrap`.
    pub fn new(config: LiveConfig, bootstrap: Bootstrap) -> Result<Arc<LookupService>, FetchError> {
        Ok(Arc::new(LookupService {
            http: RdapHttp::new(config.http.clone())?,
            bootstrap: RwLock::new(Arc::new(bootstrap)),
            gates: Mutex::new(HashMap::new()),
            cache: Mutex::new(RegistrationCache::new(config.cache.clone())),
            inflight: Mutex::new(HashMap::new()),
            done: Mutex::new(None),
            stats: Mutex::new(LiveStats::default()),
            config,
        }))
    }

    /// The shared cache.
    pub fn cache(&self) -> MutexGuard<'_, RegistrationCache> {
        lock(&self.cache)
    }

    /// Replace the bootstrap (after a refresh).
    pub fn set_bootstrap(&self, bootstrap: Bootstrap) {
        let mut slot = self.bootstrap.write().unwrap_or_else(|e| e.into_inner());
        *slot = Arc::new(bootstrap);
    }

    /// The bootstrap in force.
    pub fn bootstrap(&self) -> Arc<Bootstrap> {
        self.bootstrap
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Receive the domain of every finished lookup chain (one receiver; a
    /// second call replaces the first).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<String> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.done) = Some(tx);
        rx
    }

    /// Counters so far, with the gates' breaker trips.
    pub fn stats(&self) -> LiveStats {
        let mut stats = lock(&self.stats).clone();
        for (host, gate) in lock(&self.gates).iter() {
            stats.hosts.entry(host.clone()).or_default().breaker_trips = gate.trips();
        }
        stats
    }

    /// Lookup chains in flight.
    pub fn inflight(&self) -> usize {
        lock(&self.inflight).len()
    }

    /// Make sure a lookup chain for `domain` runs (or has just finished):
    /// start one unless one is running. Must be called within a tokio runtime.
    pub fn ensure(self: &Arc<Self>, domain: &str) -> Ensure {
        let mut inflight = lock(&self.inflight);
        if inflight.contains_key(domain) {
            lock(&self.stats).coalesced += 1;
            return Ensure::Coalesced;
        }
        // A chain stores its answer before it leaves `inflight`, so with the
        // `inflight` lock held a fresh entry means the answer just arrived:
        // no second chain.
        if matches!(
            self.cache().peek(domain, Utc::now()),
            crate::cache::CacheState::Fresh(_)
        ) {
            return Ensure::Ready;
        }
        if inflight.len() >= self.config.max_inflight {
            lock(&self.stats).overloaded += 1;
            return Ensure::Overloaded;
        }
        let (tx, rx) = watch::channel(false);
        inflight.insert(domain.to_string(), rx);
        drop(inflight);
        lock(&self.stats).lookups += 1;
        let this = Arc::clone(self);
        let domain = domain.to_string();
        tokio::spawn(async move {
            let value = this.resolve(&domain, None).await;
            this.finish(domain, value);
            let _ = tx.send(true);
        });
        Ensure::Started
    }

    /// Look `domain` up now (through the cache's coalescing) and return the
    /// cached answer.
    pub async fn lookup(self: &Arc<Self>, domain: &str) -> Cached {
        if let crate::cache::CacheState::Fresh(value) = self.cache().get(domain, Utc::now()) {
            return value.clone();
        }
        if self.ensure(domain) == Ensure::Overloaded {
            return Cached::Error("overload".to_string());
        }
        self.wait(domain).await;
        match self.cache().peek(domain, Utc::now()) {
            crate::cache::CacheState::Fresh(v) | crate::cache::CacheState::Stale(v) => v.clone(),
            crate::cache::CacheState::Missing => Cached::Error("evicted".to_string()),
        }
    }

    /// Look `domain` up without the cache, keeping every HTTP exchange.
    pub async fn lookup_raw(&self, domain: &str) -> (Cached, Vec<RawAnswer>) {
        let mut raw = Vec::new();
        let value = self.resolve(domain, Some(&mut raw)).await;
        (value, raw)
    }

    /// Wait until no chain for `domain` is running.
    pub async fn wait(&self, domain: &str) {
        let rx = lock(&self.inflight).get(domain).cloned();
        if let Some(mut rx) = rx {
            let _ = rx.wait_for(|done| *done).await;
        }
    }

    /// Wait until no chain is running at all, or `timeout` passes.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = lock(&self.inflight).values().next().cloned();
            let Some(mut rx) = next else { return true };
            if tokio::time::timeout_at(deadline, rx.wait_for(|d| *d))
                .await
                .is_err()
            {
                return false;
            }
            // Give the finishing task a moment to remove its entry.
            tokio::task::yield_now().await;
        }
    }

    fn finish(&self, domain: String, value: Cached) {
        let key = match &value {
            Cached::Registration(r) if r.registered => "found".to_string(),
            Cached::Registration(_) => "not_found".to_string(),
            Cached::Error(code) => code.clone(),
        };
        *lock(&self.stats).results.entry(key).or_insert(0) += 1;
        self.cache().insert(domain.clone(), value, Utc::now());
        lock(&self.inflight).remove(&domain);
        if let Some(tx) = lock(&self.done).as_ref() {
            let _ = tx.send(domain);
        }
    }

    /// The lookup chain: registry, then referrals.
    async fn resolve(&self, domain: &str, mut raw: Option<&mut Vec<RawAnswer>>) -> Cached {
        let bootstrap = self.bootstrap();
        let Some(base) = bootstrap.base_url(domain) else {
            return Cached::Error("no_rdap_server".to_string());
        };
        let url = bootstrap::domain_query_url(base, domain);
        let answer = match self.fetch(&url, raw.as_deref_mut()).await {
            Ok(answer) => answer,
            Err(code) => return Cached::Error(code),
        };
        let fetched = Utc::now();
        let body = match answer {
            Answer::NotFound => {
                let mut reg = Registration::not_registered(domain, Source::Rdap);
                reg.server = Some(base.into());
                reg.fetched = Some(fetched);
                return Cached::Registration(reg);
            }
            Answer::Body(body) => body,
        };
        let parsed = match rdap::parse_domain(&body, Some(base), Some(fetched)) {
            Ok(parsed) => parsed,
            Err(rdap::RdapError::ErrorResponse {
                code: Some(404), ..
            }) => {
                let mut reg = Registration::not_registered(domain, Source::Rdap);
                reg.server = Some(base.into());
                reg.fetched = Some(fetched);
                return Cached::Registration(reg);
            }
            Err(_) => return Cached::Error("bad_response".to_string()),
        };
        let mut registration = parsed.registration;
        // The cache key is the domain asked for, whatever the server echoed.
        registration.domain = domain.to_string();
        let mut referral = parsed.referral;
        for _ in 0..self.config.referral_depth {
            let Some(url) = referral.take() else { break };
            lock(&self.stats).referrals += 1;
            match self.fetch(&url, raw.as_deref_mut()).await {
                Ok(Answer::Body(body)) => {
                    match rdap::parse_domain(&body, Some(&url), Some(Utc::now())) {
                        Ok(next) => {
                            registration = rdap::merge(&registration, &next.registration);
                            referral = next.referral;
                        }
                        Err(_) => lock(&self.stats).referral_errors += 1,
                    }
                }
                Ok(Answer::NotFound) | Err(_) => lock(&self.stats).referral_errors += 1,
            }
        }
        Cached::Registration(registration)
    }

    /// One GET through the host's gate, with retries.
    async fn fetch(
        &self,
        url: &str,
        mut raw: Option<&mut Vec<RawAnswer>>,
    ) -> Result<Answer, String> {
        let Some(host) = host_key(url) else {
            return Err("refused_url".to_string());
        };
        let gate = self.gate(&host);
        let mut attempt = 0u32;
        loop {
            let pass = match gate.enter().await {
                Ok(pass) => pass,
                Err(e) => {
                    self.host_stats(&host, |h| {
                        *h.refused.entry(e.code().to_string()).or_insert(0) += 1
                    });
                    return Err(e.code().to_string());
                }
            };
            self.host_stats(&host, |h| {
                h.requests += 1;
                if attempt > 0 {
                    h.retries += 1;
                }
            });
            let result = self.http.get(url).await;
            if let Some(raw) = raw.as_deref_mut() {
                raw.push(raw_answer(url, &result));
            }
            let (outcome, retry) = match result {
                Ok(Response::Ok(body)) if rdap::is_quota_exceeded(&body) => {
                    gate.throttled(pass, None);
                    ("throttled".to_string(), true)
                }
                Ok(Response::Ok(body)) => {
                    gate.success(pass);
                    self.count(&host, "ok");
                    return Ok(Answer::Body(body));
                }
                Ok(Response::NotFound) => {
                    gate.success(pass);
                    self.count(&host, "not_found");
                    return Ok(Answer::NotFound);
                }
                Ok(Response::TooManyRequests(retry_after)) => {
                    let wait = retry_after.and_then(|v| gate::parse_retry_after(&v, Utc::now()));
                    gate.throttled(pass, wait);
                    ("throttled".to_string(), true)
                }
                Ok(Response::Status(status)) if status >= 500 => {
                    gate.failure(pass);
                    (format!("http_{status}"), true)
                }
                Ok(Response::Status(status)) => {
                    // The host is healthy; the request is not answerable.
                    gate.success(pass);
                    (format!("http_{status}"), false)
                }
                Err(e) => {
                    let transient = e.is_transient() || matches!(e, FetchError::BodyTooLarge(_));
                    if transient {
                        gate.failure(pass);
                    } else {
                        drop(pass);
                    }
                    (e.code().to_string(), e.is_transient())
                }
            };
            self.count(&host, &outcome);
            if !retry || attempt >= self.config.max_retries {
                return Err(if outcome == "throttled" {
                    "rate_limited".to_string()
                } else {
                    outcome
                });
            }
            attempt += 1;
            if outcome != "throttled" {
                // Throttled requests wait in the gate for their Retry-After.
                tokio::time::sleep(self.backoff(attempt)).await;
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.config.retry_base * 2u32.saturating_pow(attempt.saturating_sub(1));
        let jitter = RandomState::new().build_hasher().finish() % 1000;
        base + base.mul_f64(jitter as f64 / 2000.0)
    }

    fn gate(&self, host: &str) -> Arc<HostGate> {
        let mut gates = lock(&self.gates);
        if let Some(g) = gates.get(host) {
            return Arc::clone(g);
        }
        let name = host.split(':').next().unwrap_or(host);
        let mut config = self.config.gate.clone();
        if let Some(rate) = self
            .config
            .host_rates
            .get(host)
            .or_else(|| self.config.host_rates.get(name))
        {
            config.rate = *rate;
        }
        let gate = Arc::new(HostGate::new(config));
        gates.insert(host.to_string(), Arc::clone(&gate));
        gate
    }

    fn host_stats(&self, host: &str, f: impl FnOnce(&mut HostStats)) {
        f(lock(&self.stats).hosts.entry(host.to_string()).or_default());
    }

    fn count(&self, host: &str, outcome: &str) {
        self.host_stats(host, |h| {
            *h.outcomes.entry(outcome.to_string()).or_insert(0) += 1
        });
    }
}

fn raw_answer(url: &str, result: &Result<Response, FetchError>) -> RawAnswer {
    let (status, body, error) = match result {
        Ok(Response::Ok(body)) => (200, Some(String::from_utf8_lossy(body).into_owned()), None),
        Ok(Response::NotFound) => (404, None, None),
        Ok(Response::TooManyRequests(_)) => (429, None, None),
        Ok(Response::Status(s)) => (*s, None, None),
        Err(e) => (0, None, Some(e.code().to_string())),
    };
    RawAnswer {
        url: url.to_string(),
        status,
        body,
        error,
    }
}

/// `host` or `host:port` of a URL: the unit of politeness.
pub fn host_key(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    Some(match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a task panicked mid-update; the data is still
    // counters and maps, usable as they are.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys() {
        assert_eq!(
            host_key("https://RDAP.verisign.com/com/v1/domain/x.com").as_deref(),
            Some("rdap.verisign.com")
        );
        assert_eq!(
            host_key("http://127.0.0.1:8080/domain/x").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(host_key("not a url"), None);
    }

    #[tokio::test]
    async fn no_rdap_server_for_unknown_tld() {
        let service = LookupService::new(
            LiveConfig::default(),
            Bootstrap::parse(br#"{"services":[]}"#).unwrap(),
        )
        .unwrap();
        assert_eq!(
            service.lookup("example.com").await,
            Cached::Error("no_rdap_server".to_string())
        );
        let stats = service.stats();
        assert_eq!(stats.lookups, 1);
        assert_eq!(stats.results.get("no_rdap_server"), Some(&1));
    }

    #[test]
    fn backoff_grows_with_jitter() {
        let service = LookupService::new(LiveConfig::default(), Bootstrap::builtin()).unwrap();
        for attempt in 1..=3 {
            let base = Duration::from_millis(500) * 2u32.pow(attempt - 1);
            let b = service.backoff(attempt);
            assert!(b >= base && b <= base.mul_f64(1.5), "{attempt}: {b:?}");
        }
    }
}
