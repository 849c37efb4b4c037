//! The registration cache: RDAP answers kept for a while, with a time to
//! live by kind of answer, bounded by entry count and by approximate memory.
//!
//! This module owns:
//!
//! - [`RegistrationCache`]: values keyed by registered domain (A-labels), in
//!   least-recently-used order, each with the time it was stored and the
//!   time it expires. Past its expiry an entry is *stale*: still returned
//!   (the caller serves it while it fetches a fresh answer) until it is
//!   evicted or replaced.
//! - [`CacheConfig`]: the bounds and TTLs.
//! - [`CacheLookup`]: the [`Lookup`] the enricher uses over the cache, which
//!   collects the domains that need fetching.
//! - Persistence in the JSON Lines schema of `--registrations`
//!   (`docs/registrations.md`): [`RegistrationCache::export_jsonl`] and
//!   [`RegistrationCache::load_jsonl`]. Lines are validated by
//!   [`Snapshot`], so the rules are those of a registrations file.
//!
//! Used by the native live client and by the WASM filters. Pure: the caller
//! passes the time (`now`) into every call that needs it and owns all I/O.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use lru::LruCache;
use serde::{Deserialize, Serialize};

use crate::enrich::{Lookup, LookupResult};
use crate::shared::Shared;
use crate::snapshot::Snapshot;
use crate::{Error, Registration};

/// Bounds and times to live of a [`RegistrationCache`].
///
/// Its serde form (for a `[cache]` table in the configuration) has the TTLs
/// as whole seconds under `ttl_found_secs`, `ttl_not_found_secs` and
/// `ttl_error_secs`; every key is optional and unknown keys are errors.
/// Expiry times are kept to the second, so sub-second parts of a TTL are
/// dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Most entries held (default 100,000). 0 keeps nothing.
    pub max_entries: usize,
    /// Most bytes held, by the estimate of [`RegistrationCache::bytes`]
    /// (default 256 MiB).
    pub max_bytes: usize,
    /// Time to live of a registered domain's record (default 24 hours).
    #[serde(rename = "ttl_found_secs", with = "secs")]
    pub ttl_found: Duration,
    /// Time to live of a "not registered" record (default 1 hour).
    #[serde(rename = "ttl_not_found_secs", with = "secs")]
    pub ttl_not_found: Duration,
    /// Time to live of a lookup error, and how long a kept registration
    /// waits before the next refresh after a failed one (default 5 minutes).
    #[serde(rename = "ttl_error_secs", with = "secs")]
    pub ttl_error: Duration,
}

/// Default [`CacheConfig::max_entries`].
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// Default [`CacheConfig::max_bytes`] (256 MiB).
pub const DEFAULT_MAX_BYTES: usize = 256 << 20;

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MAX_BYTES,
            ttl_found: Duration::seconds(24 * 3600),
            ttl_not_found: Duration::seconds(3600),
            ttl_error: Duration::seconds(5 * 60),
        }
    }
}

/// Durations as whole non-negative seconds.
mod secs {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.num_seconds()).unwrap_or(0))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let n = u64::deserialize(d)?;
        i64::try_from(n)
            .ok()
            .and_then(Duration::try_seconds)
            .ok_or_else(|| de::Error::custom(format!("{n} seconds is too long")))
    }
}

/// A cached answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    /// A registration record: registered, or `registered == false` for a
    /// registry's "not found".
    Registration(Registration),
    /// The lookup failed; a short error code (`timeout`, `http_429`, ...).
    Error(String),
}

/// What the cache holds for a domain at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheState<'a> {
    /// Held and within its time to live.
    Fresh(&'a Cached),
    /// Held but past its time to live: usable while a refresh is fetched.
    Stale(&'a Cached),
    /// Not held.
    Missing,
}

/// When an entry was stored and when it expires, and its size estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryInfo {
    /// When the value was stored (for a loaded record: its `fetched` time).
    pub stored_at: DateTime<Utc>,
    /// From this time on the entry is stale.
    pub expires_at: DateTime<Utc>,
    /// The entry's size estimate in bytes (see [`RegistrationCache::bytes`]).
    pub bytes: usize,
}

/// Counters since the cache was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// [`RegistrationCache::get`] calls that found a fresh entry.
    pub hits: u64,
    /// `get` calls that found a stale entry.
    pub stale_hits: u64,
    /// `get` calls that found nothing.
    pub misses: u64,
    /// Entries dropped to keep within the bounds.
    pub evictions: u64,
    /// Values stored (new or replacing).
    pub inserts: u64,
    /// Errors that did not replace a held registration (its expiry was
    /// pushed back instead).
    pub refresh_errors: u64,
    /// Entries held now.
    pub entries: u64,
    /// Estimated bytes held now.
    pub bytes: u64,
}

/// One cache entry. Times are UTC seconds since the Unix epoch.
#[derive(Debug, Clone)]
struct Entry {
    value: Cached,
    stored_at: i64,
    expires_at: i64,
    bytes: usize,
}

/// Fixed part of an entry's size estimate: the key's and the entry's inline
/// sizes plus 64 bytes for the LRU list links, the hash table slot and
/// allocator overhead.
const ENTRY_OVERHEAD: usize = size_of::<String>() + size_of::<Entry>() + 64;

/// Registration answers by registered domain, least recently used first out.
///
/// Both bounds of the [`CacheConfig`] are enforced after every insert by
/// evicting least-recently-used entries until the entry count is at most
/// `max_entries` and the estimated size at most `max_bytes` (a single value
/// larger than `max_bytes` is therefore not kept).
pub struct RegistrationCache {
    config: CacheConfig,
    entries: LruCache<String, Entry>,
    bytes: usize,
    stats: CacheStats,
}

impl std::fmt::Debug for RegistrationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationCache")
            .field("config", &self.config)
            .field("len", &self.entries.len())
            .field("bytes", &self.bytes)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Default for RegistrationCache {
    fn default() -> Self {
        RegistrationCache::new(CacheConfig::default())
    }
}

impl RegistrationCache {
    /// An empty cache.
    pub fn new(config: CacheConfig) -> Self {
        RegistrationCache {
            config,
            entries: LruCache::unbounded(),
            bytes: 0,
            stats: CacheStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The estimated size of all entries, in bytes.
    ///
    /// Each entry counts the bytes of its key, plus for a registration the
    /// bytes of its `domain` and of each `nameservers` element plus that
    /// element's `String` header, and 16 bytes per `status` value (status
    /// values, `registrar` and `server` are [`Shared`] between records, so
    /// a record holds only pointers to them), or for an error the bytes of
    /// its code, plus a fixed overhead of
    /// `size_of::<String>() + size_of::<Entry>() + 64` for the inline
    /// structs, the LRU links, the hash table slot and the allocator. Spare
    /// capacity of strings and vectors is not counted.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The counters, with the current entry count and size.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len() as u64,
            bytes: self.bytes as u64,
            ..self.stats
        }
    }

    /// The state of `domain` at `now`, marking it recently used and counting
    /// a hit, stale hit or miss.
    pub fn get(&mut self, domain: &str, now: DateTime<Utc>) -> CacheState<'_> {
        let now = now.timestamp();
        match self.entries.get(domain) {
            Some(entry) if now < entry.expires_at => {
                self.stats.hits += 1;
                CacheState::Fresh(&entry.value)
            }
            Some(entry) => {
                self.stats.stale_hits += 1;
                CacheState::Stale(&entry.value)
            }
            None => {
                self.stats.misses += 1;
                CacheState::Missing
            }
        }
    }

    /// The state of `domain` at `now`, without touching its recency or the
    /// counters.
    pub fn peek(&self, domain: &str, now: DateTime<Utc>) -> CacheState<'_> {
        match self.entries.peek(domain) {
            Some(entry) if now.timestamp() < entry.expires_at => CacheState::Fresh(&entry.value),
            Some(entry) => CacheState::Stale(&entry.value),
            None => CacheState::Missing,
        }
    }

    /// When `domain`'s entry was stored and expires (without touching its
    /// recency).
    pub fn info(&self, domain: &str) -> Option<EntryInfo> {
        self.entries.peek(domain).map(|e| EntryInfo {
            stored_at: from_secs(e.stored_at),
            expires_at: from_secs(e.expires_at),
            bytes: e.bytes,
        })
    }

    /// Store an answer for `domain` (its registered domain in A-labels, the
    /// key [`get`](Self::get) is called with) received at `now`.
    ///
    /// It expires after [`CacheConfig::ttl_found`] for a registered record,
    /// [`CacheConfig::ttl_not_found`] for `registered == false`, and
    /// [`CacheConfig::ttl_error`] for an error.
    ///
    /// An error never replaces a held registration record, fresh or stale:
    /// the old record stays (and is still served), and its expiry becomes
    /// `now + ttl_error` (or stays later if it already was), so the refresh
    /// is retried after `ttl_error` instead of on every request. An error
    /// replaces a held error.
    pub fn insert(&mut self, domain: String, value: Cached, now: DateTime<Utc>) {
        let now = now.timestamp();
        if matches!(value, Cached::Error(_))
            && let Some(entry) = self.entries.peek_mut(domain.as_str())
            && matches!(entry.value, Cached::Registration(_))
        {
            entry.expires_at = entry.expires_at.max(add_secs(now, self.config.ttl_error));
            self.stats.refresh_errors += 1;
            return;
        }
        let expires_at = add_secs(now, self.ttl(&value));
        self.put(domain, value, now, expires_at);
    }

    /// Store a record whose fetch time is known (`stored_at`, e.g. its
    /// `fetched` member), keyed by its `domain`: it expires at `stored_at`
    /// plus the TTL of its kind. Replaces any entry for the domain.
    pub fn insert_with_time(&mut self, value: Registration, stored_at: DateTime<Utc>) {
        let key = value.domain.clone();
        let value = Cached::Registration(value);
        let stored_at = stored_at.timestamp();
        let expires_at = add_secs(stored_at, self.ttl(&value));
        self.put(key, value, stored_at, expires_at);
    }

    /// The held registration records as JSON Lines in the `--registrations`
    /// schema, sorted by domain. Errors are not written. A record without
    /// `fetched` gets its stored time, so that loading it again restores its
    /// expiry. Only that time is saved: an expiry pushed back by a failed
    /// refresh (see [`insert`](Self::insert)) is not, so such a record loads
    /// stale and is fetched again.
    pub fn export_jsonl(&self) -> String {
        let mut records: Vec<(&String, &Registration, i64)> = self
            .entries
            .iter()
            .filter_map(|(key, entry)| match &entry.value {
                Cached::Registration(reg) => Some((key, reg, entry.stored_at)),
                Cached::Error(_) => None,
            })
            .collect();
        records.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = String::new();
        for (_, reg, stored_at) in records {
            let line = if reg.fetched.is_some() {
                serde_json::to_string(reg)
            } else {
                let mut reg = reg.clone();
                reg.fetched = DateTime::from_timestamp(stored_at, 0);
                serde_json::to_string(&reg)
            };
            if let Ok(line) = line {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }

    /// Load JSON Lines in the `--registrations` schema (as written by
    /// [`export_jsonl`](Self::export_jsonl) or `domreg rdap`). Lines are
    /// read by [`Snapshot::add_jsonl`], so the same rules apply (blank and
    /// `#` lines ignored, unknown keys refused, domains normalised, the last
    /// record for a domain wins); the errors of unusable lines are returned
    /// with their line numbers and the other lines are loaded.
    ///
    /// See [`load_snapshot`](Self::load_snapshot) for the stored times.
    pub fn load_jsonl(&mut self, text: &str, now: DateTime<Utc>) -> Vec<Error> {
        let mut snapshot = Snapshot::new();
        let errors = snapshot.add_jsonl(text);
        self.load_snapshot(snapshot, now);
        errors
    }

    /// Load every record of `snapshot`. A record is stored at its `fetched`
    /// time, or at `now` when it has none or when `fetched` is later than
    /// `now`; so it expires at that time plus its TTL and may load stale.
    /// Records are inserted oldest first, so the least recently fetched are
    /// the first evicted.
    pub fn load_snapshot(&mut self, snapshot: Snapshot, now: DateTime<Utc>) {
        let stored = |reg: &Registration| reg.fetched.map_or(now, |fetched| fetched.min(now));
        snapshot.drain_sorted(
            |a, b| {
                stored(a)
                    .cmp(&stored(b))
                    .then_with(|| a.domain.cmp(&b.domain))
            },
            |reg| {
                let stored_at = stored(&reg);
                self.insert_with_time(reg, stored_at);
            },
        );
    }

    fn ttl(&self, value: &Cached) -> Duration {
        match value {
            Cached::Registration(reg) if reg.registered => self.config.ttl_found,
            Cached::Registration(_) => self.config.ttl_not_found,
            Cached::Error(_) => self.config.ttl_error,
        }
    }

    fn put(&mut self, key: String, value: Cached, stored_at: i64, expires_at: i64) {
        let bytes = estimate_bytes(&key, &value);
        let entry = Entry {
            value,
            stored_at,
            expires_at,
            bytes,
        };
        if let Some(old) = self.entries.put(key, entry) {
            self.bytes = self.bytes.saturating_sub(old.bytes);
        }
        self.bytes = self.bytes.saturating_add(bytes);
        self.stats.inserts += 1;
        self.evict();
    }

    fn evict(&mut self) {
        while self.entries.len() > self.config.max_entries || self.bytes > self.config.max_bytes {
            let Some((_, old)) = self.entries.pop_lru() else {
                self.bytes = 0;
                break;
            };
            self.bytes = self.bytes.saturating_sub(old.bytes);
            self.stats.evictions += 1;
        }
    }
}

/// The size estimate of one entry (see [`RegistrationCache::bytes`]).
fn estimate_bytes(key: &str, value: &Cached) -> usize {
    let listed =
        |v: &Vec<String>| -> usize { v.iter().map(|s| size_of::<String>() + s.len()).sum() };
    let value_bytes = match value {
        Cached::Error(code) => code.len(),
        Cached::Registration(r) => {
            // Status values, registrar and server are shared between
            // records (crate::shared): a record pays only for its pointers.
            r.domain.len() + r.status.len() * size_of::<Shared>() + listed(&r.nameservers)
        }
    };
    ENTRY_OVERHEAD + key.len() + value_bytes
}

fn add_secs(secs: i64, ttl: Duration) -> i64 {
    secs.saturating_add(ttl.num_seconds())
}

fn from_secs(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(if secs < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// The [`Lookup`] over a [`RegistrationCache`] at one time, which records
/// the domains to fetch.
///
/// A fresh entry answers `Found` (a record) or `Error` (its code). A stale
/// entry answers the same and its domain is wanted (needs a refresh). A
/// missing one answers `Miss` and is wanted. [`wanted`](Self::wanted) lists
/// each wanted domain once, in the order first asked for; the native
/// pipeline and the WASM filters fetch those.
#[derive(Debug)]
pub struct CacheLookup<'c> {
    cache: &'c mut RegistrationCache,
    now: DateTime<Utc>,
    wanted: Vec<String>,
    seen: HashSet<String>,
    pending_on_miss: bool,
}

impl<'c> CacheLookup<'c> {
    /// A lookup over `cache` at time `now`.
    pub fn new(cache: &'c mut RegistrationCache, now: DateTime<Utc>) -> Self {
        CacheLookup {
            cache,
            now,
            wanted: Vec::new(),
            seen: HashSet::new(),
            pending_on_miss: false,
        }
    }

    /// Answer `Pending` instead of `Miss` for a missing domain: for callers
    /// that fetch the wanted domains (the live pipeline).
    pub fn pending_on_miss(mut self) -> Self {
        self.pending_on_miss = true;
        self
    }

    /// Change the time freshness is judged at (wanted domains are kept).
    pub fn set_now(&mut self, now: DateTime<Utc>) {
        self.now = now;
    }

    /// The domains that need fetching so far, each once.
    pub fn wanted(&self) -> &[String] {
        &self.wanted
    }

    /// The domains that need fetching, each once.
    pub fn into_wanted(self) -> Vec<String> {
        self.wanted
    }

    fn want(wanted: &mut Vec<String>, seen: &mut HashSet<String>, domain: &str) {
        if !seen.contains(domain) {
            seen.insert(domain.to_owned());
            wanted.push(domain.to_owned());
        }
    }
}

impl Lookup for CacheLookup<'_> {
    fn lookup(&mut self, domain: &str) -> LookupResult<'_> {
        let state = self.cache.get(domain, self.now);
        let (value, stale) = match state {
            CacheState::Fresh(value) => (value, false),
            CacheState::Stale(value) => (value, true),
            CacheState::Missing => {
                Self::want(&mut self.wanted, &mut self.seen, domain);
                return if self.pending_on_miss {
                    LookupResult::Pending
                } else {
                    LookupResult::Miss
                };
            }
        };
        if stale {
            Self::want(&mut self.wanted, &mut self.seen, domain);
        }
        match value {
            Cached::Registration(reg) => LookupResult::Found(reg),
            Cached::Error(code) => LookupResult::Error(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::Source;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
    }

    fn secs(n: i64) -> Duration {
        Duration::seconds(n)
    }

    fn found(domain: &str) -> Cached {
        Cached::Registration(Registration::new(domain, Source::Rdap))
    }

    fn not_found(domain: &str) -> Cached {
        Cached::Registration(Registration::not_registered(domain, Source::Rdap))
    }

    fn is_fresh(c: &RegistrationCache, d: &str, at: DateTime<Utc>) -> bool {
        matches!(c.peek(d, at), CacheState::Fresh(_))
    }

    fn is_stale(c: &RegistrationCache, d: &str, at: DateTime<Utc>) -> bool {
        matches!(c.peek(d, at), CacheState::Stale(_))
    }

    #[test]
    fn defaults_and_serde_form() {
        let config = CacheConfig::default();
        assert_eq!(config.max_entries, 100_000);
        assert_eq!(config.max_bytes, 256 * 1024 * 1024);
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            json,
            r#"{"max_entries":100000,"max_bytes":268435456,"ttl_found_secs":86400,"ttl_not_found_secs":3600,"ttl_error_secs":300}"#
        );
        let partial: CacheConfig = serde_json::from_str(r#"{"ttl_error_secs":60}"#).unwrap();
        assert_eq!(partial.ttl_error, secs(60));
        assert_eq!(partial.ttl_found, secs(86_400));
        assert!(serde_json::from_str::<CacheConfig>(r#"{"ttl_found":1}"#).is_err());
        assert!(serde_json::from_str::<CacheConfig>(r#"{"ttl_found_secs":-1}"#).is_err());
        assert!(
            serde_json::from_str::<CacheConfig>(r#"{"ttl_found_secs":18446744073709551615}"#)
                .is_err()
        );
        let toml_text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<CacheConfig>(&toml_text).unwrap(), config);
    }

    #[test]
    fn ttl_by_kind_at_the_boundaries() {
        let mut c = RegistrationCache::default();
        c.insert("found.com".into(), found("found.com"), t0());
        c.insert("nx.com".into(), not_found("nx.com"), t0());
        c.insert("err.com".into(), Cached::Error("timeout".into()), t0());
        for (domain, ttl) in [
            ("found.com", secs(24 * 3600)),
            ("nx.com", secs(3600)),
            ("err.com", secs(300)),
        ] {
            let expires = t0() + ttl;
            assert_eq!(c.info(domain).unwrap().expires_at, expires, "{domain}");
            assert!(is_fresh(&c, domain, t0()), "{domain}");
            assert!(is_fresh(&c, domain, expires - secs(1)), "{domain}");
            assert!(is_stale(&c, domain, expires), "{domain}");
            assert!(
                is_stale(&c, domain, expires + secs(3600 * 24 * 365)),
                "{domain}"
            );
        }
        assert_eq!(c.peek("other.com", t0()), CacheState::Missing);

        // get counts what it finds.
        let expires = t0() + secs(3600);
        assert!(matches!(
            c.get("nx.com", expires - secs(1)),
            CacheState::Fresh(_)
        ));
        assert!(matches!(c.get("nx.com", expires), CacheState::Stale(_)));
        assert_eq!(c.get("other.com", t0()), CacheState::Missing);
        let stats = c.stats();
        assert_eq!(
            (stats.hits, stats.stale_hits, stats.misses, stats.inserts),
            (1, 1, 1, 3)
        );
        assert_eq!(stats.entries, 3);
    }

    #[test]
    fn get_updates_lru_order_and_peek_does_not() {
        let config = CacheConfig {
            max_entries: 3,
            ..CacheConfig::default()
        };
        let mut c = RegistrationCache::new(config);
        for d in ["a.com", "b.com", "c.com"] {
            c.insert(d.into(), found(d), t0());
        }
        // a.com is the oldest; using it makes b.com the least recently used.
        assert!(matches!(c.get("a.com", t0()), CacheState::Fresh(_)));
        // peek does not save b.com.
        assert!(is_fresh(&c, "b.com", t0()));
        c.insert("d.com".into(), found("d.com"), t0());
        assert_eq!(c.peek("b.com", t0()), CacheState::Missing);
        for d in ["a.com", "c.com", "d.com"] {
            assert!(is_fresh(&c, d, t0()), "{d}");
        }
        c.insert("e.com".into(), found("e.com"), t0());
        assert_eq!(c.peek("c.com", t0()), CacheState::Missing);
        assert_eq!(c.len(), 3);
        assert_eq!(c.stats().evictions, 2);
    }

    #[test]
    fn evicts_by_bytes() {
        let one = estimate_bytes("a.com", &found("a.com"));
        let config = CacheConfig {
            max_bytes: 3 * one,
            ..CacheConfig::default()
        };
        let mut c = RegistrationCache::new(config);
        for d in ["a.com", "b.com", "c.com"] {
            c.insert(d.into(), found(d), t0());
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.bytes(), 3 * one);
        // A bigger record pushes out as many old ones as it needs.
        let mut big = Registration::new("big.com", Source::Rdap);
        big.nameservers = vec!["n".repeat(one / 2)];
        let big = Cached::Registration(big);
        let big_bytes = estimate_bytes("big.com", &big);
        assert!(big_bytes > one && big_bytes < 2 * one);
        c.insert("big.com".into(), big, t0());
        assert_eq!(c.len(), 2, "a.com and b.com evicted");
        assert_eq!(c.peek("a.com", t0()), CacheState::Missing);
        assert_eq!(c.peek("b.com", t0()), CacheState::Missing);
        assert!(is_fresh(&c, "c.com", t0()));
        assert_eq!(c.bytes(), one + big_bytes);
        assert_eq!(c.stats().evictions, 2);
        // Replacing an entry re-counts its bytes.
        c.insert("big.com".into(), found("big.com"), t0());
        assert_eq!(
            c.bytes(),
            one + estimate_bytes("big.com", &found("big.com"))
        );
        // A value larger than the whole budget is not kept.
        let mut huge = Registration::new("huge.com", Source::Rdap);
        huge.nameservers = vec!["x".repeat(4 * one)];
        c.insert("huge.com".into(), Cached::Registration(huge), t0());
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn byte_estimate_counts_own_strings() {
        let mut reg = Registration::new("example.com", Source::Rdap);
        let base = estimate_bytes("example.com", &Cached::Registration(reg.clone()));
        assert_eq!(base, ENTRY_OVERHEAD + 11 + 11);
        reg.registrar = Some("Registrar".into());
        reg.server = Some("https://rdap.example/".into());
        reg.status = vec!["active".into()].into();
        reg.nameservers = vec!["ns1.example.net".into(), "ns2.example.net".into()];
        let with = estimate_bytes("example.com", &Cached::Registration(reg));
        // Registrar, server and status text are shared: only the status
        // value's pointer counts.
        let strings = size_of::<Shared>() + 2 * size_of::<String>() + 15 + 15;
        assert_eq!(with, base + strings);
        assert_eq!(
            estimate_bytes("example.com", &Cached::Error("timeout".into())),
            ENTRY_OVERHEAD + 11 + 7
        );
    }

    #[test]
    fn error_does_not_clobber_a_registration() {
        let mut c = RegistrationCache::default();
        c.insert("example.com".into(), found("example.com"), t0());
        let later = t0() + secs(24 * 3600 + 10);
        assert!(is_stale(&c, "example.com", later));
        c.insert("example.com".into(), Cached::Error("timeout".into()), later);
        // Still the record, fresh again until later + ttl_error.
        assert_eq!(
            c.peek("example.com", later),
            CacheState::Fresh(&found("example.com"))
        );
        assert!(is_fresh(&c, "example.com", later + secs(299)));
        assert!(is_stale(&c, "example.com", later + secs(300)));
        let info = c.info("example.com").unwrap();
        assert_eq!(info.stored_at, t0(), "stored time is the record's");
        assert_eq!(c.stats().refresh_errors, 1);
        assert_eq!(c.stats().inserts, 1);

        // An error on a fresh record never shortens its life.
        c.insert("fresh.com".into(), not_found("fresh.com"), t0());
        c.insert("fresh.com".into(), Cached::Error("http_500".into()), t0());
        assert_eq!(c.info("fresh.com").unwrap().expires_at, t0() + secs(3600));

        // An error replaces an error, and a record replaces an error.
        c.insert("e.com".into(), Cached::Error("timeout".into()), t0());
        c.insert(
            "e.com".into(),
            Cached::Error("http_429".into()),
            t0() + secs(10),
        );
        assert_eq!(
            c.peek("e.com", t0() + secs(10)),
            CacheState::Fresh(&Cached::Error("http_429".into()))
        );
        c.insert("e.com".into(), found("e.com"), t0() + secs(20));
        assert_eq!(
            c.peek("e.com", t0() + secs(20)),
            CacheState::Fresh(&found("e.com"))
        );
    }

    #[test]
    fn insert_with_time_uses_the_given_time() {
        let mut c = RegistrationCache::default();
        let fetched = t0() - secs(3600);
        c.insert_with_time(
            Registration::not_registered("nx.com", Source::Rdap),
            fetched,
        );
        assert!(is_stale(&c, "nx.com", t0()));
        assert!(is_fresh(&c, "nx.com", t0() - secs(1)));
        let info = c.info("nx.com").unwrap();
        assert_eq!((info.stored_at, info.expires_at), (fetched, t0()));
    }

    #[test]
    fn export_load_round_trip() {
        let mut c = RegistrationCache::default();
        let mut full = Registration::new("example.com", Source::Rdap);
        full.created = Some(Utc.with_ymd_and_hms(1995, 8, 14, 4, 0, 0).unwrap());
        full.status = vec!["clientTransferProhibited".into()].into();
        full.registrar = Some("RESERVED-Internet Assigned Numbers Authority".into());
        full.registrar_iana_id = Some(376);
        full.nameservers = vec!["a.iana-servers.net".into()];
        full.server = Some("https://rdap.verisign.com/com/v1/".into());
        let mut fetched_earlier = Registration::new("wicar.org", Source::Rdap);
        fetched_earlier.fetched = Some(t0() - secs(7200));
        c.insert(
            "example.com".into(),
            Cached::Registration(full.clone()),
            t0(),
        );
        c.insert(
            "nx-example.net".into(),
            not_found("nx-example.net"),
            t0() + secs(60),
        );
        c.insert_with_time(fetched_earlier.clone(), t0() - secs(7200));
        c.insert("err.com".into(), Cached::Error("timeout".into()), t0());

        let text = c.export_jsonl();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "errors are not exported: {text}");
        assert!(lines[0].starts_with(r#"{"domain":"example.com","#));
        assert!(lines[0].ends_with(r#""fetched":"2026-11-24T10:00:00Z"}"#));
        assert!(lines[1].starts_with(r#"{"domain":"nx-example.net","registered":false,"#));
        assert!(lines[2].starts_with(r#"{"domain":"wicar.org","#));

        let mut again = RegistrationCache::default();
        let now = t0() + secs(3 * 3600);
        assert!(again.load_jsonl(&text, now).is_empty());
        assert_eq!(again.len(), 3);
        let mut expected = full;
        expected.fetched = Some(t0());
        assert_eq!(
            again.peek("example.com", now),
            CacheState::Fresh(&Cached::Registration(expected))
        );
        assert_eq!(
            again.info("example.com").unwrap().expires_at,
            t0() + secs(24 * 3600)
        );
        // Not found an hour after its fetch: loaded stale.
        assert_eq!(
            again.info("nx-example.net").unwrap().expires_at,
            t0() + secs(60 + 3600)
        );
        assert!(is_stale(&again, "nx-example.net", now));
        assert_eq!(
            again.peek("wicar.org", now),
            CacheState::Fresh(&Cached::Registration(fetched_earlier))
        );
        assert_eq!(
            again.info("wicar.org").unwrap().expires_at,
            t0() - secs(7200) + secs(24 * 3600)
        );
        // And it exports the same text.
        assert_eq!(again.export_jsonl(), text);
    }

    #[test]
    fn load_reports_bad_lines_and_uses_now_without_fetched() {
        let now = t0();
        let text = "{\"domain\":\"Example.COM.\"}\n{bad\n# comment\n\n{\"domain\":\"www.ok.com\"}\n{\"domain\":\"a.com\",\"colour\":1}\n{\"domain\":\"future.com\",\"fetched\":\"2030-01-01T00:00:00Z\"}";
        let mut c = RegistrationCache::default();
        let errors: Vec<String> = c
            .load_jsonl(text, now)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("registrations line 2:"), "{errors:?}");
        assert!(errors[1].starts_with("registrations line 5:"), "{errors:?}");
        assert!(errors[2].starts_with("registrations line 6:"), "{errors:?}");
        assert_eq!(c.len(), 2);
        let info = c.info("example.com").unwrap();
        assert_eq!(info.stored_at, now);
        assert_eq!(info.expires_at, now + secs(24 * 3600));
        // A fetch time in the future counts as now.
        assert_eq!(c.info("future.com").unwrap().stored_at, now);
    }

    #[test]
    fn load_inserts_oldest_first() {
        let config = CacheConfig {
            max_entries: 2,
            ..CacheConfig::default()
        };
        let mut c = RegistrationCache::new(config);
        let text = r#"{"domain":"a.com","fetched":"2026-11-24T09:00:00Z"}
{"domain":"b.com","fetched":"2026-11-24T07:00:00Z"}
{"domain":"c.com","fetched":"2026-11-24T08:00:00Z"}"#;
        assert!(c.load_jsonl(text, t0()).is_empty());
        assert_eq!(c.peek("b.com", t0()), CacheState::Missing);
        assert!(is_fresh(&c, "a.com", t0()));
        assert!(is_fresh(&c, "c.com", t0()));
    }

    #[test]
    fn cache_lookup_collects_wanted_once() {
        let mut c = RegistrationCache::default();
        c.insert("fresh.com".into(), found("fresh.com"), t0());
        c.insert("err.com".into(), Cached::Error("timeout".into()), t0());
        c.insert_with_time(
            Registration::new("stale.com", Source::Rdap),
            t0() - secs(2 * 24 * 3600),
        );
        let mut lookup = CacheLookup::new(&mut c, t0());
        assert!(
            matches!(lookup.lookup("fresh.com"), LookupResult::Found(r) if r.domain == "fresh.com")
        );
        assert_eq!(lookup.lookup("err.com"), LookupResult::Error("timeout"));
        assert!(
            matches!(lookup.lookup("stale.com"), LookupResult::Found(r) if r.domain == "stale.com")
        );
        assert_eq!(lookup.lookup("missing.com"), LookupResult::Miss);
        assert_eq!(lookup.lookup("missing.com"), LookupResult::Miss);
        assert!(matches!(lookup.lookup("stale.com"), LookupResult::Found(_)));
        assert_eq!(lookup.lookup("other.org"), LookupResult::Miss);
        assert_eq!(lookup.wanted(), ["stale.com", "missing.com", "other.org"]);
        // Later, the error entry is stale too.
        lookup.set_now(t0() + secs(300));
        assert_eq!(lookup.lookup("err.com"), LookupResult::Error("timeout"));
        assert_eq!(
            lookup.into_wanted(),
            ["stale.com", "missing.com", "other.org", "err.com"]
        );
        let stats = c.stats();
        assert_eq!((stats.hits, stats.stale_hits, stats.misses), (2, 3, 3));
    }

    #[test]
    fn cache_lookup_drives_the_enricher() {
        use crate::config::Config;
        use crate::enrich::Enricher;
        use crate::format::FormatChoice;

        let mut c = RegistrationCache::default();
        let mut reg = Registration::new("example.com", Source::Rdap);
        reg.created = Some(t0() - secs(2 * 24 * 3600));
        c.insert("example.com".into(), Cached::Registration(reg), t0());
        let mut enricher = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
        let mut lookup = CacheLookup::new(&mut c, t0());
        let mut out = Vec::new();
        enricher.enrich_line(
            br#"{"ts":"2026-11-24T00:00:00Z","uid":"C1","query":"www.example.com"}"#,
            &mut lookup,
            t0(),
            &mut out,
        );
        enricher.enrich_line(
            br#"{"ts":"2026-11-24T00:00:00Z","uid":"C2","query":"new.example.org"}"#,
            &mut lookup,
            t0(),
            &mut out,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(r#""domain":"example.com","field":"query","lookup":"hit""#),
            "{text}"
        );
        assert!(
            text.contains(r#""domain":"example.org","field":"query","lookup":"miss""#),
            "{text}"
        );
        assert_eq!(lookup.into_wanted(), ["example.org"]);
    }
}
