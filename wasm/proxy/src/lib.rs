/*!
domreg as a proxy-wasm HTTP filter (Envoy, Istio and other proxy-wasm
hosts): a thin adapter over the core library. See `wasm/README.md`
("proxy-wasm (Envoy, Istio)") for the configuration, headers and deployment.

On request headers the filter takes `:authority`, finds its registered
domain ([`domreg::domain::analyze`]) and looks it up: first in the VM's
[`RegistrationCache`], then in the host's shared data (keys
`domreg.reg.<domain>`, shared by all workers, written with CAS), and on a
miss with `dispatch_http_call` to the RDAP server the compiled-in IANA
bootstrap names ([`Bootstrap`]), following the registrar referral once. The
request waits (`Action::Pause`) until the answer comes; requests for a domain
whose call is in flight wait on the same call. The answer is parsed by
[`domreg::rdap`], assessed by [`Summary`] and written as `x-domreg-*`
request headers and `domreg_*` properties (Envoy filter state
`wasm.domreg_*`); in `block` mode flagged domains get a local 403.

No enrichment logic lives here: names, RDAP bodies, TTLs and rules are the
core's.
*/

mod settings;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use domreg::bootstrap::{self, Bootstrap};
use domreg::cache::{CacheState, Cached, RegistrationCache};
use domreg::domain::{self, Analysis};
use domreg::enrich::LookupResult;
use domreg::output::LookupKind;
use domreg::rdap::{self, RdapError};
use domreg::risk::RiskEngine;
use domreg::summary::Summary;
use domreg::{Registration, Source};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, Status};
use serde::{Deserialize, Serialize};

use settings::{Mode, Settings};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { state: None }) });
}}

/// Request headers the filter owns; client-sent ones are removed.
const HEADER_PREFIX: &str = "x-domreg-";
/// Shared-data keys: this prefix, then the registered domain.
const SHARED_PREFIX: &str = "domreg.reg.";
/// How often the root context looks for calls the host never answered.
const TICK: Duration = Duration::from_secs(1);
/// Attempts at a CAS write of shared data before giving up.
const CAS_ATTEMPTS: usize = 4;

/// The values the filter writes: header name and property name.
const FIELDS: [(&str, &str); 8] = [
    ("x-domreg-lookup", "domreg_lookup"),
    ("x-domreg-domain", "domreg_domain"),
    ("x-domreg-age-days", "domreg_age_days"),
    ("x-domreg-status", "domreg_status"),
    ("x-domreg-risk", "domreg_risk"),
    ("x-domreg-reasons", "domreg_reasons"),
    ("x-domreg-attack", "domreg_attack"),
    ("x-domreg-error", "domreg_error"),
];

fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

fn now() -> DateTime<Utc> {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| DateTime::from_timestamp(i64::try_from(d.as_secs()).ok()?, d.subsec_nanos()))
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// The VM's state, shared by the root context and every HTTP context.
struct State {
    settings: Settings,
    engine: RiskEngine,
    bootstrap: Bootstrap,
    cache: RegistrationCache,
    /// Lookups in flight, by registered domain.
    flights: HashMap<String, Flight>,
    /// The domain each outstanding call token is for.
    tokens: HashMap<u32, String>,
}

/// One lookup in flight and the requests waiting for it.
struct Flight {
    started: DateTime<Utc>,
    /// HTTP context id and the name (`:authority` host) it asked for.
    waiters: Vec<(u32, String)>,
    stage: Stage,
}

enum Stage {
    /// Waiting for the registry, at this base URL.
    Registry { server: String },
    /// The registry answered; waiting for the registrar at `url`.
    Referral {
        registration: Registration,
        url: String,
    },
}

/// What to do with one request.
#[derive(Debug)]
struct Outcome {
    domain: Option<String>,
    summary: Summary,
    /// The reason for a local 403, when the request is blocked.
    block: Option<String>,
}

/// The outcome of a request's lookup, or "wait for the call".
enum Step {
    Done(Outcome),
    Wait(String),
}

/// A shared-data value: an answer and when it was received.
#[derive(Debug, Serialize, Deserialize)]
struct SharedEntry {
    /// Seconds since the Unix epoch.
    stored: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registration: Option<Registration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl State {
    fn new(settings: Settings) -> State {
        State {
            engine: RiskEngine::new(settings.rules.clone()),
            cache: RegistrationCache::new(settings.cache.clone()),
            bootstrap: Bootstrap::builtin(),
            settings,
            flights: HashMap::new(),
            tokens: HashMap::new(),
        }
    }

    /// Start the lookup for request `id` with `authority`.
    fn begin(&mut self, id: u32, authority: &str, now: DateTime<Utc>) -> Step {
        let (name, domain) = match domain::analyze(authority) {
            Analysis::Skip { name, .. } => {
                let summary = Summary::skipped(&self.engine, &name);
                return Step::Done(decide(&self.settings, None, summary));
            }
            Analysis::Lookup(target) => (target.name.to_string(), target.domain().to_owned()),
        };
        if let Some(outcome) = self.answer(&name, &domain, now) {
            return Step::Done(outcome);
        }
        if let Some(flight) = self.flights.get_mut(&domain) {
            flight.waiters.push((id, name));
            return Step::Wait(domain);
        }
        let started = self
            .bootstrap
            .base_url(&domain)
            .map(str::to_owned)
            .ok_or_else(|| "no_rdap_server".to_string())
            .and_then(|server| {
                let url = bootstrap::domain_query_url(&server, &domain);
                self.dispatch(&url).map(|token| (token, server))
            });
        match started {
            Ok((token, server)) => {
                self.tokens.insert(token, domain.clone());
                self.flights.insert(
                    domain.clone(),
                    Flight {
                        started: now,
                        waiters: vec![(id, name)],
                        stage: Stage::Registry { server },
                    },
                );
                Step::Wait(domain)
            }
            Err(code) => {
                let mut outcomes = self.finish(domain, vec![(id, name)], Cached::Error(code), now);
                match outcomes.pop() {
                    Some((_, outcome)) => Step::Done(outcome),
                    None => Step::Done(decide(
                        &self.settings,
                        None,
                        Summary::skipped(&self.engine, authority),
                    )),
                }
            }
        }
    }

    /// A fresh answer from the VM's cache or the shared data.
    fn answer(&mut self, name: &str, domain: &str, now: DateTime<Utc>) -> Option<Outcome> {
        if let CacheState::Fresh(cached) = self.cache.get(domain, now) {
            return Some(outcome_for(
                &self.settings,
                &self.engine,
                name,
                domain,
                cached,
                now,
            ));
        }
        if !self.settings.shared_data {
            return None;
        }
        let (entry, _) = read_shared(domain)?;
        let (value, stored) = entry.into_cached()?;
        let newer = self
            .cache
            .info(domain)
            .is_none_or(|info| stored > info.stored_at);
        if !newer {
            return None;
        }
        self.cache.insert(domain.to_owned(), value, stored);
        match self.cache.peek(domain, now) {
            CacheState::Fresh(cached) => Some(outcome_for(
                &self.settings,
                &self.engine,
                name,
                domain,
                cached,
                now,
            )),
            CacheState::Stale(_) | CacheState::Missing => None,
        }
    }

    /// Send a GET for `url` to its cluster; the call's token.
    fn dispatch(&self, url: &str) -> Result<u32, String> {
        let refused = || "refused_url".to_string();
        let parsed = url::Url::parse(url).map_err(|_| refused())?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(refused());
        }
        let host = parsed.host_str().ok_or_else(refused)?;
        let authority = match (&self.settings.rdap.authority, parsed.port()) {
            (Some(fixed), _) => fixed.clone(),
            (None, Some(port)) => format!("{host}:{port}"),
            (None, None) => host.to_owned(),
        };
        let mut path = parsed.path().to_owned();
        if let Some(query) = parsed.query() {
            path.push('?');
            path.push_str(query);
        }
        let headers = vec![
            (":method", "GET"),
            (":path", path.as_str()),
            (":authority", authority.as_str()),
            (":scheme", parsed.scheme()),
            ("accept", "application/rdap+json"),
            ("user-agent", self.settings.rdap.user_agent.as_str()),
        ];
        hostcalls::dispatch_http_call(
            self.settings.cluster_for(host),
            headers,
            None,
            vec![],
            Duration::from_millis(self.settings.rdap.timeout_ms),
        )
        .map_err(|status| {
            log(
                LogLevel::Warn,
                &format!("domreg: dispatch_http_call to {url} failed: {status:?}"),
            );
            "dispatch_failed".to_string()
        })
    }

    /// An answer to call `token` arrived. Returns the waiting requests and
    /// their outcomes when the lookup is over.
    fn on_answer(
        &mut self,
        token: u32,
        reply: &Reply,
        now: DateTime<Utc>,
    ) -> Option<Vec<(u32, Outcome)>> {
        let domain = self.tokens.remove(&token)?;
        let mut flight = self.flights.remove(&domain)?;
        let timeout = chrono::Duration::milliseconds(
            i64::try_from(self.settings.rdap.timeout_ms).unwrap_or(i64::MAX),
        );
        let timed_out = now - flight.started >= timeout;
        let value = match flight.stage {
            Stage::Registry { server } => {
                match registry_answer(reply, &server, &domain, now, timed_out) {
                    Ok((registration, Some(url))) if self.settings.rdap.follow_referral => {
                        match self.dispatch(&url) {
                            Ok(token) => {
                                self.tokens.insert(token, domain.clone());
                                flight.stage = Stage::Referral { registration, url };
                                self.flights.insert(domain, flight);
                                return None;
                            }
                            Err(_) => Cached::Registration(registration),
                        }
                    }
                    Ok((registration, _)) => Cached::Registration(registration),
                    Err(code) => Cached::Error(code),
                }
            }
            Stage::Referral { registration, url } => {
                let merged = match (reply.status, &reply.body) {
                    (Some(200), Some(body)) => {
                        match rdap::parse_domain(body, Some(&url), Some(now)) {
                            Ok(next) => rdap::merge(&registration, &next.registration),
                            Err(_) => registration,
                        }
                    }
                    _ => registration,
                };
                Cached::Registration(merged)
            }
        };
        Some(self.finish(domain, flight.waiters, value, now))
    }

    /// Lookups the host never answered (the owning request went away, or
    /// the host lost the call): end them so their waiters go on.
    fn expire(&mut self, now: DateTime<Utc>) -> Vec<(u32, Outcome)> {
        let limit = chrono::Duration::milliseconds(
            i64::try_from(self.settings.rdap.timeout_ms.saturating_mul(2)).unwrap_or(i64::MAX),
        ) + chrono::Duration::seconds(1);
        let expired: Vec<String> = self
            .flights
            .iter()
            .filter(|(_, f)| now - f.started > limit)
            .map(|(d, _)| d.clone())
            .collect();
        let mut out = Vec::new();
        for domain in expired {
            let Some(flight) = self.flights.remove(&domain) else {
                continue;
            };
            self.tokens.retain(|_, d| *d != domain);
            let value = match flight.stage {
                Stage::Registry { .. } => Cached::Error("timeout".to_string()),
                Stage::Referral { registration, .. } => Cached::Registration(registration),
            };
            out.extend(self.finish(domain, flight.waiters, value, now));
        }
        out
    }

    /// Store `value` (locally and in shared data) and say what each waiter
    /// gets: what the cache now holds (a failed refresh keeps a held record).
    fn finish(
        &mut self,
        domain: String,
        waiters: Vec<(u32, String)>,
        value: Cached,
        now: DateTime<Utc>,
    ) -> Vec<(u32, Outcome)> {
        self.cache.insert(domain.clone(), value.clone(), now);
        let held = match self.cache.peek(&domain, now) {
            CacheState::Fresh(v) | CacheState::Stale(v) => v.clone(),
            CacheState::Missing => value.clone(),
        };
        if self.settings.shared_data && held == value {
            write_shared(&domain, &value, now);
        }
        waiters
            .into_iter()
            .map(|(id, name)| {
                let o = outcome_for(&self.settings, &self.engine, &name, &domain, &held, now);
                (id, o)
            })
            .collect()
    }

    fn forget_waiter(&mut self, id: u32, domain: &str) {
        if let Some(flight) = self.flights.get_mut(domain) {
            flight.waiters.retain(|(w, _)| *w != id);
        }
    }
}

/// The parts of a call's answer the filter reads.
struct Reply {
    /// `:status`; `None` when the call failed (reset, timeout).
    status: Option<u16>,
    body: Option<Vec<u8>>,
    body_too_large: bool,
}

/// The registry's answer: a record and the referral, or an error code.
fn registry_answer(
    reply: &Reply,
    server: &str,
    domain: &str,
    now: DateTime<Utc>,
    timed_out: bool,
) -> Result<(Registration, Option<String>), String> {
    let not_registered = || {
        let mut reg = Registration::not_registered(domain, Source::Rdap);
        reg.server = Some(server.into());
        reg.fetched = Some(now);
        Ok((reg, None))
    };
    match reply.status {
        None if timed_out => Err("timeout".to_string()),
        None => Err("call_failed".to_string()),
        Some(404) => not_registered(),
        Some(429) => Err("throttled".to_string()),
        Some(200) if reply.body_too_large => Err("body_too_large".to_string()),
        Some(200) => {
            let body = reply.body.as_deref().unwrap_or_default();
            if rdap::is_quota_exceeded(body) {
                return Err("throttled".to_string());
            }
            match rdap::parse_domain(body, Some(server), Some(now)) {
                Ok(parsed) => {
                    let mut registration = parsed.registration;
                    // The key is the domain asked for, whatever the server echoed.
                    registration.domain = domain.to_owned();
                    Ok((registration, parsed.referral))
                }
                Err(RdapError::ErrorResponse {
                    code: Some(404), ..
                }) => not_registered(),
                Err(_) => Err("bad_response".to_string()),
            }
        }
        Some(status) => Err(format!("http_{status}")),
    }
}

fn outcome_for(
    settings: &Settings,
    engine: &RiskEngine,
    name: &str,
    domain: &str,
    cached: &Cached,
    now: DateTime<Utc>,
) -> Outcome {
    let result = match cached {
        Cached::Registration(reg) => LookupResult::Found(reg),
        Cached::Error(code) => LookupResult::Error(code),
    };
    let summary = Summary::new(engine, name, result, now);
    decide(settings, Some(domain.to_owned()), summary)
}

/// Apply `mode`, `block` and `fail_open`.
fn decide(settings: &Settings, domain: Option<String>, summary: Summary) -> Outcome {
    let block = if summary.lookup == LookupKind::Error {
        (!settings.fail_open).then(|| {
            format!(
                "lookup_error:{}",
                summary.error.as_deref().unwrap_or("unknown")
            )
        })
    } else if settings.mode == Mode::Block {
        let by_rule: Vec<&str> = settings
            .block
            .rules
            .iter()
            .filter(|r| summary.risk.rules.contains(**r))
            .map(|r| r.as_str())
            .collect();
        if !by_rule.is_empty() {
            Some(by_rule.join(","))
        } else if settings
            .block
            .min_risk
            .is_some_and(|min| summary.risk.score >= min)
        {
            Some(format!("risk:{}", summary.risk.score))
        } else {
            None
        }
    } else {
        None
    };
    Outcome {
        domain,
        summary,
        block,
    }
}

/// Write `outcome` on the current (effective) HTTP context: headers and
/// properties, and the local 403 when blocked.
fn apply(outcome: &Outcome) {
    let s = &outcome.summary;
    let values: [Option<String>; 8] = [
        Some(s.lookup.as_str().to_owned()),
        outcome.domain.clone(),
        s.age_days.map(|d| d.to_string()),
        Some(s.status.clone()).filter(|v| !v.is_empty()),
        Some(s.risk.score.to_string()),
        Some(s.reasons.clone()).filter(|v| !v.is_empty()),
        Some(s.attack.clone()).filter(|v| !v.is_empty()),
        s.error.clone(),
    ];
    for ((header, property), value) in FIELDS.iter().zip(values.iter()) {
        if let Some(value) = value {
            let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, header, Some(value));
            let _ = hostcalls::set_property(vec![property], Some(value.as_bytes()));
        }
    }
    if let Some(reason) = &outcome.block {
        let body = format!(
            "blocked by domreg: {} ({reason})\n",
            outcome.domain.as_deref().unwrap_or("-")
        );
        let _ = hostcalls::set_property(vec!["domreg_block"], Some(reason.as_bytes()));
        let _ = hostcalls::send_http_response(
            403,
            vec![
                ("content-type", "text/plain"),
                ("x-domreg-block", reason.as_str()),
            ],
            Some(body.as_bytes()),
        );
    }
}

/// Apply each outcome on its request and let it go on.
fn resume_all(outcomes: Vec<(u32, Outcome)>) {
    for (id, outcome) in outcomes {
        if hostcalls::set_effective_context(id).is_err() {
            continue;
        }
        apply(&outcome);
        if outcome.block.is_none() {
            let _ = hostcalls::resume_http_request();
        }
    }
}

/// Remove every client-sent `x-domreg-*` request header.
fn strip_client_headers() {
    let Ok(headers) = hostcalls::get_map_bytes(MapType::HttpRequestHeaders) else {
        return;
    };
    for (name, _) in headers {
        let ours = name
            .get(..HEADER_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(HEADER_PREFIX));
        if ours {
            let _ = hostcalls::remove_map_value(MapType::HttpRequestHeaders, &name);
        }
    }
}

impl SharedEntry {
    fn into_cached(self) -> Option<(Cached, DateTime<Utc>)> {
        let stored = DateTime::from_timestamp(self.stored, 0)?;
        match (self.registration, self.error) {
            (Some(reg), _) => Some((Cached::Registration(reg), stored)),
            (None, Some(code)) => Some((Cached::Error(code), stored)),
            (None, None) => None,
        }
    }
}

fn shared_key(domain: &str) -> String {
    let mut key = String::with_capacity(SHARED_PREFIX.len() + domain.len());
    key.push_str(SHARED_PREFIX);
    key.push_str(domain);
    key
}

/// The shared entry for `domain` and its CAS, when there is a readable one.
fn read_shared(domain: &str) -> Option<(SharedEntry, Option<u32>)> {
    let (bytes, cas) = hostcalls::get_shared_data(&shared_key(domain)).ok()?;
    let entry = serde_json::from_slice(&bytes?).ok()?;
    Some((entry, cas))
}

/// Publish an answer to the other workers, unless a newer one is there.
/// Written with CAS: when another worker wrote in between, read again and
/// decide again.
fn write_shared(domain: &str, value: &Cached, now: DateTime<Utc>) {
    let entry = SharedEntry {
        stored: now.timestamp(),
        registration: match value {
            Cached::Registration(reg) => Some(reg.clone()),
            Cached::Error(_) => None,
        },
        error: match value {
            Cached::Registration(_) => None,
            Cached::Error(code) => Some(code.clone()),
        },
    };
    let Ok(bytes) = serde_json::to_vec(&entry) else {
        return;
    };
    let key = shared_key(domain);
    for _ in 0..CAS_ATTEMPTS {
        let Ok((current, cas)) = hostcalls::get_shared_data(&key) else {
            return;
        };
        let theirs = current
            .as_deref()
            .and_then(|b| serde_json::from_slice::<SharedEntry>(b).ok());
        if theirs.is_some_and(|t| t.stored >= entry.stored) {
            return;
        }
        match hostcalls::set_shared_data(&key, Some(&bytes), cas) {
            Ok(()) => return,
            Err(Status::CasMismatch) => {
                log(
                    LogLevel::Debug,
                    &format!("domreg: shared data {key}: CAS mismatch, reading again"),
                );
            }
            Err(_) => return,
        }
    }
    log(
        LogLevel::Warn,
        &format!("domreg: shared data {key}: gave up after {CAS_ATTEMPTS} CAS mismatches"),
    );
}

/// The root context: the configuration, the state and the tick.
struct Root {
    state: Option<Rc<RefCell<State>>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, size: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        match Settings::parse(&bytes) {
            Ok(settings) => {
                self.state = Some(Rc::new(RefCell::new(State::new(settings))));
                let _ = hostcalls::set_tick_period(TICK);
                true
            }
            Err(e) => {
                log(LogLevel::Error, &format!("domreg: {e}"));
                false
            }
        }
    }

    fn on_tick(&mut self) {
        let Some(state) = &self.state else { return };
        let outcomes = match state.try_borrow_mut() {
            Ok(mut state) => state.expire(now()),
            Err(_) => return,
        };
        resume_all(outcomes);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Filter {
            id: context_id,
            state: self.state.clone(),
            waiting: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request.
struct Filter {
    id: u32,
    state: Option<Rc<RefCell<State>>>,
    /// The domain whose lookup this request waits for.
    waiting: Option<String>,
}

impl Context for Filter {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let Some(state) = self.state.clone() else {
            return;
        };
        let status = if num_headers == 0 {
            None
        } else {
            hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, ":status")
                .ok()
                .flatten()
                .and_then(|v| std::str::from_utf8(&v).ok()?.trim().parse::<u16>().ok())
        };
        let body_too_large = body_size > rdap::MAX_BODY;
        let body = if body_size == 0 || body_too_large {
            None
        } else {
            hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
                .ok()
                .flatten()
        };
        let reply = Reply {
            status,
            body,
            body_too_large,
        };
        let outcomes = match state.try_borrow_mut() {
            Ok(mut state) => state.on_answer(token, &reply, now()),
            Err(_) => None,
        };
        if let Some(outcomes) = outcomes {
            resume_all(outcomes);
        }
    }

    fn on_done(&mut self) -> bool {
        if let (Some(state), Some(domain)) = (&self.state, self.waiting.take())
            && let Ok(mut state) = state.try_borrow_mut()
        {
            state.forget_waiter(self.id, &domain);
        }
        true
    }
}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(state) = self.state.clone() else {
            return Action::Continue;
        };
        strip_client_headers();
        let authority = hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, ":authority")
            .ok()
            .flatten()
            .unwrap_or_default();
        let authority = std::str::from_utf8(&authority).unwrap_or("");
        let step = match state.try_borrow_mut() {
            Ok(mut state) => state.begin(self.id, authority, now()),
            Err(_) => return Action::Continue,
        };
        match step {
            Step::Done(outcome) => {
                apply(&outcome);
                if outcome.block.is_some() {
                    Action::Pause
                } else {
                    Action::Continue
                }
            }
            Step::Wait(domain) => {
                self.waiting = Some(domain);
                Action::Pause
            }
        }
    }

    fn on_http_request_body(&mut self, _body_size: usize, _end_of_stream: bool) -> Action {
        self.hold()
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.hold()
    }
}

impl Filter {
    /// `Pause` while the request waits for its lookup, so that a body or
    /// trailers arriving meanwhile do not let it through before its headers
    /// are written.
    fn hold(&self) -> Action {
        let waiting = match (&self.state, &self.waiting) {
            (Some(state), Some(domain)) => state.try_borrow().is_ok_and(|state| {
                state
                    .flights
                    .get(domain)
                    .is_some_and(|f| f.waiters.iter().any(|(id, _)| *id == self.id))
            }),
            _ => false,
        };
        if waiting {
            Action::Pause
        } else {
            Action::Continue
        }
    }
}
