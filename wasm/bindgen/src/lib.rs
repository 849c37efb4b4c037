/*!
domreg for JavaScript hosts (Node, Deno, browsers, edge workers): a thin
wasm-bindgen adapter over the core library. See `wasm/README.md`.

Two layers:

- [`Filter`]: plain Rust, the state the JS class holds (an
  [`domreg::enrich::Enricher`], a [`RegistrationCache`] and the list of
  domains the host should fetch). Every method takes the time it runs at, so
  it is testable on any target.
- [`Enricher`] (exported to JS as `Enricher`): the wasm-bindgen class. It
  reads the clock from `Date.now()` (or the fixed `now` of its options) and
  turns errors into JS `Error`s.

No enrichment logic lives here: lines go to [`domreg::enrich::Enricher`],
lookups to [`CacheLookup`], RDAP bodies to [`domreg::rdap`], registration
files to [`RegistrationCache::load_snapshot`] and
[`RegistrationCache::export_jsonl`].
*/

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use domreg::cache::{CacheConfig, CacheLookup, Cached, RegistrationCache};
use domreg::config::Config;
use domreg::domain::{self, Analysis};
use domreg::enrich;
use domreg::format::{Format, FormatChoice};
use domreg::rdap::{self, RdapError};
use domreg::snapshot::Snapshot;
use domreg::{Registration, Source};
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

/// The top-level keys of the options JSON.
const OPTION_KEYS: [&str; 5] = ["input", "rules", "cache", "format", "now"];

/// The constructor's options, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `input` and `rules`: the model of the CLI's TOML configuration.
    pub config: Config,
    /// `cache`: the [`CacheConfig`] serde form.
    pub cache: CacheConfig,
    /// `format`: read only this format (the CLI's `--format`).
    pub format: FormatChoice,
    /// `now`: a fixed time (RFC 3339) for events without their own
    /// timestamp, for freshness and for fetch times (the CLI's `--now`).
    pub now: Option<DateTime<Utc>>,
}

impl Options {
    /// Parse the options JSON: an object with the optional keys `input`,
    /// `rules` (as in the TOML configuration; keys left out keep their
    /// defaults, key by key), `cache`, `format` and `now`. Unknown keys are
    /// errors.
    pub fn from_json(text: &str) -> Result<Options, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("config: not JSON: {e}"))?;
        let Value::Object(mut user) = value else {
            return Err("config: not a JSON object".to_string());
        };
        if let Some(key) = user.keys().find(|k| !OPTION_KEYS.contains(&k.as_str())) {
            return Err(format!(
                "config: unknown key {key:?} (expected one of {})",
                OPTION_KEYS.join(", ")
            ));
        }
        let cache = match user.remove("cache") {
            Some(v) => serde_json::from_value(v).map_err(|e| format!("config: cache: {e}"))?,
            None => CacheConfig::default(),
        };
        let format = match user.remove("format") {
            None | Some(Value::Null) => FormatChoice::Auto,
            Some(Value::String(s)) if s == "auto" => FormatChoice::Auto,
            Some(Value::String(s)) => {
                FormatChoice::Only(s.parse::<Format>().map_err(|e| format!("config: {e}"))?)
            }
            Some(_) => return Err("config: format: not a string".to_string()),
        };
        let now = match user.remove("now") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_time(&s).map_err(|e| format!("config: {e}"))?),
            Some(_) => return Err("config: now: not a string".to_string()),
        };
        // Overlay the user's `input` and `rules` on the defaults, as
        // `Config::from_toml` does, so partial rule tables keep the rest.
        let mut merged = serde_json::to_value(Config::default())
            .map_err(|e| format!("config: {e}"))?
            .as_object()
            .cloned()
            .unwrap_or_default();
        merge_objects(&mut merged, user);
        let config: Config =
            serde_json::from_value(Value::Object(merged)).map_err(|e| format!("config: {e}"))?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(Options {
            config,
            cache,
            format,
            now,
        })
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: Config::default(),
            cache: CacheConfig::default(),
            format: FormatChoice::Auto,
            now: None,
        }
    }
}

/// Overlay `user` on `base`: objects merge key by key, other values replace.
fn merge_objects(base: &mut Map<String, Value>, user: Map<String, Value>) {
    for (key, value) in user {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(b)), Value::Object(u)) => merge_objects(b, u),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// A time as the CLI's `--now` reads it.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    rdap::parse_date(s).ok_or_else(|| format!("now: not a time: {s:?}"))
}

/// The registered domain (A-labels) of `name`, the cache key.
fn registered_domain(name: &str) -> Result<String, String> {
    match domain::analyze(name) {
        Analysis::Lookup(target) => Ok(target.domain().to_owned()),
        Analysis::Skip { reason, .. } => Err(format!(
            "{name:?} has no registered domain ({})",
            reason.as_str()
        )),
    }
}

/// What [`Filter::load_registrations`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Records loaded (after the last record for a domain won).
    pub records: usize,
    /// One message per unusable line, with its line number.
    pub errors: Vec<String>,
}

/// The adapter's state: enricher, cache, and the domains to fetch.
pub struct Filter {
    enricher: enrich::Enricher,
    cache: RegistrationCache,
    pending: Vec<String>,
    pending_seen: HashSet<String>,
    out: Vec<u8>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("cache", &self.cache)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl Filter {
    /// A filter for `options`.
    pub fn new(options: &Options) -> Result<Filter, String> {
        let enricher = enrich::Enricher::new(&options.config, options.format, &[])
            .map_err(|e| e.to_string())?;
        Ok(Filter {
            enricher,
            cache: RegistrationCache::new(options.cache.clone()),
            pending: Vec::new(),
            pending_seen: HashSet::new(),
            out: Vec::new(),
        })
    }

    /// Enrich one line (without its terminator) at `now`; the result has no
    /// trailing newline. Counted in the enricher's stats when `count`.
    /// Registered domains missing from the cache, or stale, join the
    /// pending list.
    pub fn enrich(&mut self, line: &[u8], now: DateTime<Utc>, count: bool) -> &[u8] {
        self.out.clear();
        let mut lookup = CacheLookup::new(&mut self.cache, now);
        if count {
            self.enricher
                .enrich_line(line, &mut lookup, now, &mut self.out);
        } else {
            self.enricher
                .render_line(line, &mut lookup, now, &mut self.out);
        }
        for domain in lookup.into_wanted() {
            if !self.pending_seen.contains(&domain) {
                self.pending_seen.insert(domain.clone());
                self.pending.push(domain);
            }
        }
        if self.out.last() == Some(&b'\n') {
            self.out.pop();
        }
        &self.out
    }

    /// The domains that were missing or stale since the last call, each
    /// once, in the order first met; the list starts again empty.
    pub fn take_pending(&mut self) -> Vec<String> {
        self.pending_seen.clear();
        std::mem::take(&mut self.pending)
    }

    fn forget_pending(&mut self, domain: &str) {
        if self.pending_seen.remove(domain) {
            self.pending.retain(|d| d != domain);
        }
    }

    fn store(&mut self, key: String, value: Cached, now: DateTime<Utc>) {
        self.forget_pending(&key);
        self.cache.insert(key, value, now);
    }

    /// Store the RDAP answer for `domain` (any name under it; the record is
    /// kept under its registered domain, whatever the server echoed),
    /// fetched at `now` from `server`. `registry` is the registry's body;
    /// `registrar`, when given, the registrar's, merged in with
    /// [`rdap::merge`]. A registry body that is an RDAP 404 error stores a
    /// "not registered" record. Returns the referral (the `related` link) of
    /// the last body parsed: where the registrar's answer is.
    pub fn ingest_rdap(
        &mut self,
        domain: &str,
        registry: &[u8],
        registrar: Option<&[u8]>,
        server: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, String> {
        let key = registered_domain(domain)?;
        let parsed = match rdap::parse_domain(registry, server, Some(now)) {
            Ok(parsed) => parsed,
            Err(RdapError::ErrorResponse {
                code: Some(404), ..
            }) => {
                self.ingest_not_found(&key, server, now)?;
                return Ok(None);
            }
            Err(e) => return Err(format!("registry response for {key}: {e}")),
        };
        let mut registration = parsed.registration;
        registration.domain.clone_from(&key);
        let mut referral = parsed.referral;
        if let Some(body) = registrar {
            let next = rdap::parse_domain(body, referral.as_deref(), Some(now))
                .map_err(|e| format!("registrar response for {key}: {e}"))?;
            registration = rdap::merge(&registration, &next.registration);
            referral = next.referral;
        }
        self.store(key, Cached::Registration(registration), now);
        Ok(referral)
    }

    /// Store "not registered" for `domain` (an HTTP 404 from its registry).
    pub fn ingest_not_found(
        &mut self,
        domain: &str,
        server: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let key = registered_domain(domain)?;
        let mut reg = Registration::not_registered(key.as_str(), Source::Rdap);
        reg.server = server.map(domreg::registration::Shared::new);
        reg.fetched = Some(now);
        self.store(key, Cached::Registration(reg), now);
        Ok(())
    }

    /// Store a failed lookup for `domain` with a short error code
    /// (`timeout`, `http_429`, ...; letters, digits and `_`, at most 64),
    /// written as `domreg.error`. It never replaces a held registration
    /// (see [`RegistrationCache::insert`]).
    pub fn ingest_error(
        &mut self,
        domain: &str,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let key = registered_domain(domain)?;
        let ok = !code.is_empty()
            && code.len() <= 64
            && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(format!(
                "error code {code:?}: use 1 to 64 letters, digits or _"
            ));
        }
        self.store(key, Cached::Error(code.to_owned()), now);
        Ok(())
    }

    /// Load registration records (JSON Lines, the `--registrations`
    /// schema); unusable lines are reported and the others loaded.
    pub fn load_registrations(&mut self, jsonl: &str, now: DateTime<Utc>) -> Loaded {
        let mut snapshot = Snapshot::new();
        let errors = snapshot.add_jsonl(jsonl);
        let records = snapshot.len();
        let keys: Vec<String> = snapshot.records().map(|r| r.domain.clone()).collect();
        for key in keys {
            self.forget_pending(&key);
        }
        self.cache.load_snapshot(snapshot, now);
        Loaded {
            records,
            errors: errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// The cached registration records as JSON Lines.
    pub fn export_registrations(&self) -> String {
        self.cache.export_jsonl()
    }

    /// The counters as JSON: `{"enricher": ..., "cache": ..., "pending": n}`.
    pub fn stats_json(&self) -> String {
        serde_json::json!({
            "enricher": self.enricher.stats(),
            "cache": self.cache.stats(),
            "pending": self.pending.len(),
        })
        .to_string()
    }
}

/// The current time: the fixed one, or `Date.now()`.
fn clock(fixed: Option<DateTime<Utc>>) -> DateTime<Utc> {
    fixed.unwrap_or_else(|| {
        // Whole milliseconds since the epoch; f64 holds them exactly.
        #[allow(clippy::cast_possible_truncation)]
        let ms = js_sys::Date::now() as i64;
        DateTime::from_timestamp_millis(ms).unwrap_or_default()
    })
}

fn js_error(message: String) -> JsError {
    JsError::new(&message)
}

/// The JS class `Enricher`.
#[wasm_bindgen]
pub struct Enricher {
    filter: Filter,
    now: Option<DateTime<Utc>>,
    load_errors: Vec<String>,
}

#[wasm_bindgen]
impl Enricher {
    /// `new Enricher(configJson?)`: see [`Options::from_json`]. Throws on a
    /// bad configuration.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: Option<String>) -> Result<Enricher, JsError> {
        let options = match config_json.as_deref() {
            Some(text) if !text.trim().is_empty() => Options::from_json(text).map_err(js_error)?,
            _ => Options::default(),
        };
        Ok(Enricher {
            filter: Filter::new(&options).map_err(js_error)?,
            now: options.now,
            load_errors: Vec::new(),
        })
    }

    /// Fix the time (RFC 3339) used for events without a timestamp, for
    /// freshness and for fetch times; `undefined` goes back to `Date.now()`.
    #[wasm_bindgen(js_name = setNow)]
    pub fn set_now(&mut self, now: Option<String>) -> Result<(), JsError> {
        self.now = now
            .as_deref()
            .map(parse_time)
            .transpose()
            .map_err(js_error)?;
        Ok(())
    }

    /// Enrich one line (without its terminator); no trailing newline.
    pub fn enrich(&mut self, line: &str) -> String {
        let now = clock(self.now);
        String::from_utf8_lossy(self.filter.enrich(line.as_bytes(), now, true)).into_owned()
    }

    /// Like `enrich`, for bytes (lines that may not be UTF-8).
    #[wasm_bindgen(js_name = enrichBytes)]
    pub fn enrich_bytes(&mut self, line: &[u8]) -> Vec<u8> {
        let now = clock(self.now);
        self.filter.enrich(line, now, true).to_vec()
    }

    /// Like `enrich`, but not counted in `stats().enricher`: for a line
    /// that will be enriched again once its domain is fetched.
    pub fn render(&mut self, line: &str) -> String {
        let now = clock(self.now);
        String::from_utf8_lossy(self.filter.enrich(line.as_bytes(), now, false)).into_owned()
    }

    /// The registered domains that were missing or stale since the last
    /// call, each once: what the host should fetch.
    pub fn pending(&mut self) -> Vec<String> {
        self.filter.take_pending()
    }

    /// Store an RDAP answer; returns the registrar referral URL found (of
    /// the last body parsed), or `undefined`. Throws on an unusable body.
    #[wasm_bindgen(js_name = ingestRdap)]
    pub fn ingest_rdap(
        &mut self,
        domain: &str,
        registry_json: &str,
        registrar_json: Option<String>,
        server: Option<String>,
    ) -> Result<Option<String>, JsError> {
        let now = clock(self.now);
        self.filter
            .ingest_rdap(
                domain,
                registry_json.as_bytes(),
                registrar_json.as_deref().map(str::as_bytes),
                server.as_deref(),
                now,
            )
            .map_err(js_error)
    }

    /// Store "not registered" (HTTP 404 with an empty body).
    #[wasm_bindgen(js_name = ingestNotFound)]
    pub fn ingest_not_found(
        &mut self,
        domain: &str,
        server: Option<String>,
    ) -> Result<(), JsError> {
        let now = clock(self.now);
        self.filter
            .ingest_not_found(domain, server.as_deref(), now)
            .map_err(js_error)
    }

    /// Store a failed lookup with a short error code.
    #[wasm_bindgen(js_name = ingestError)]
    pub fn ingest_error(&mut self, domain: &str, code: &str) -> Result<(), JsError> {
        let now = clock(self.now);
        self.filter
            .ingest_error(domain, code, now)
            .map_err(js_error)
    }

    /// Load registration records (JSON Lines); returns how many were
    /// loaded. Unusable lines are skipped: `loadErrors()` lists them.
    #[wasm_bindgen(js_name = loadRegistrations)]
    pub fn load_registrations(&mut self, jsonl: &str) -> usize {
        let now = clock(self.now);
        let loaded = self.filter.load_registrations(jsonl, now);
        self.load_errors = loaded.errors;
        loaded.records
    }

    /// The unusable lines of the last `loadRegistrations` call.
    #[wasm_bindgen(js_name = loadErrors)]
    pub fn load_errors(&self) -> Vec<String> {
        self.load_errors.clone()
    }

    /// The cached registration records as JSON Lines.
    #[wasm_bindgen(js_name = exportRegistrations)]
    pub fn export_registrations(&self) -> String {
        self.filter.export_registrations()
    }

    /// The counters: `{enricher, cache, pending}`.
    pub fn stats(&self) -> Result<JsValue, JsError> {
        js_sys::JSON::parse(&self.filter.stats_json()).map_err(|_| JsError::new("stats: not JSON"))
    }
}

/// The JS class `RdapBootstrap`: where to ask about a domain, from an RFC
/// 9224 DNS bootstrap file ([`domreg::bootstrap::Bootstrap`]).
#[wasm_bindgen]
pub struct RdapBootstrap {
    inner: domreg::bootstrap::Bootstrap,
}

#[wasm_bindgen]
impl RdapBootstrap {
    /// `new RdapBootstrap(dnsJson?)`: the given `dns.json` as it is, or the
    /// compiled-in IANA file (with domreg's overrides) when left out.
    /// Throws when the text is not a bootstrap file.
    #[wasm_bindgen(constructor)]
    pub fn new(dns_json: Option<String>) -> Result<RdapBootstrap, JsError> {
        let inner = match dns_json {
            Some(text) => domreg::bootstrap::Bootstrap::parse(text.as_bytes())
                .map_err(|e| JsError::new(&format!("bootstrap: {e}")))?,
            None => domreg::bootstrap::Bootstrap::builtin(),
        };
        Ok(RdapBootstrap { inner })
    }

    /// The RDAP domain query URL for `domain` (a registered domain from
    /// `pending()`), or `undefined` when no server is known.
    #[wasm_bindgen(js_name = queryUrl)]
    pub fn query_url(&self, domain: &str) -> Option<String> {
        self.inner.query_url(domain)
    }

    /// The base URL used for `domain` (the `server` to pass to
    /// `ingestRdap`), or `undefined`.
    #[wasm_bindgen(js_name = baseUrl)]
    pub fn base_url(&self, domain: &str) -> Option<String> {
        self.inner.base_url(domain).map(str::to_owned)
    }
}
