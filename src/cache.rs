//! The registration cache: RDAP answers kept for a while, with a time to
//! live by kind of answer, bounded by entry count and by approximate memory.
//!
//! This module owns:
//!
//! - [`RegistrationCache`]: values keyed by registered domain (A-labels), in
//!   least-recently-used order, each with the time it was stored and the
//!   time it expires. Past its expiry an entry is *stale*: still returned
//!   (the caller serves it while it fetches a fresh answer) until it is
//!   evicted or replaced. Each entry also has a stamp, new whenever its
//!   value is stored ([`RegistrationCache::get_stamped`]), by which the
//!   enricher knows an answer it has already rendered.
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
//!
//! Laid out for size, as it may hold millions of entries: the entries sit in
//! one vector of slots linked into least-recently-used order by `u32`
//! indices, behind a hash index of those indices keyed by each record's own
//! `domain` (the private `Slab` type).

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use chrono::{DateTime, Duration, Utc};
use hashbrown::HashTable;
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

/// One cache entry.
#[derive(Debug, Clone)]
struct Entry {
    value: Cached,
    times: Times,
    /// The next more recently used entry's slot, or [`NIL`] at the head.
    newer: u32,
    /// The next less recently used entry's slot, or [`NIL`] at the tail;
    /// with [`SIDE_KEY`] set when the entry's key is held in [`Slab::keys`].
    older: u32,
}

/// When an entry was stored and when it expires (UTC seconds since the
/// Unix epoch, held to ±2^43, beyond the range of dates), and its stamp
/// (40 bits; see [`RegistrationCache::get_stamped`]), in 16 bytes: each
/// word holds a time in its low [`TIME_BITS`] bits and half the stamp
/// above them.
#[derive(Debug, Clone, Copy)]
struct Times {
    stored: u64,
    expires: u64,
}

/// Bits of a time in [`Times`].
const TIME_BITS: u32 = 44;
/// Bits of half a stamp in [`Times`].
const HALF_STAMP_BITS: u32 = 64 - TIME_BITS;

impl Times {
    fn new(stored_at: i64, expires_at: i64, stamp: u64) -> Times {
        let low = stamp & ((1 << HALF_STAMP_BITS) - 1);
        let high = (stamp >> HALF_STAMP_BITS) & ((1 << HALF_STAMP_BITS) - 1);
        Times {
            stored: pack_time(stored_at) | (low << TIME_BITS),
            expires: pack_time(expires_at) | (high << TIME_BITS),
        }
    }

    fn stored_at(self) -> i64 {
        unpack_time(self.stored)
    }

    fn expires_at(self) -> i64 {
        unpack_time(self.expires)
    }

    fn stamp(self) -> u64 {
        (self.stored >> TIME_BITS) | ((self.expires >> TIME_BITS) << HALF_STAMP_BITS)
    }

    fn set_expires_at(&mut self, expires_at: i64) {
        self.expires = (self.expires & !TIME_MASK) | pack_time(expires_at);
    }
}

/// The bits of a time in a word of [`Times`].
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;

/// `secs` held to what [`TIME_BITS`] bits hold, as those bits.
fn pack_time(secs: i64) -> u64 {
    let max = (1i64 << (TIME_BITS - 1)) - 1;
    secs.clamp(-max - 1, max).cast_unsigned() & TIME_MASK
}

/// The time in the low [`TIME_BITS`] bits of `word`.
fn unpack_time(word: u64) -> i64 {
    ((word << HALF_STAMP_BITS).cast_signed()) >> HALF_STAMP_BITS
}

/// A new stamp: a value of [`crate::enrich::new_generation`], cut to the
/// 40 bits [`Times`] holds (distinct from every other stamp and generation
/// for the first 2^40 of them).
fn new_stamp() -> u64 {
    crate::enrich::new_generation() & ((1 << (2 * HALF_STAMP_BITS)) - 1)
}

/// "No slot" in the LRU links.
const NIL: u32 = u32::MAX >> 1;
/// The bit of [`Entry::older`] telling that the key is in [`Slab::keys`].
const SIDE_KEY: u32 = 1 << 31;
/// Most slots: indices take 31 bits and [`NIL`] is none of them.
const MAX_SLOTS: usize = NIL as usize;

impl Entry {
    fn older(&self) -> u32 {
        self.older & !SIDE_KEY
    }

    fn set_older(&mut self, i: u32) {
        self.older = (self.older & SIDE_KEY) | i;
    }

    fn side_key(&self) -> bool {
        self.older & SIDE_KEY != 0
    }
}

/// The key a value is stored under when none is given apart: a record's
/// `domain`. Errors have none.
fn own_key(value: &Cached) -> Option<&str> {
    match value {
        Cached::Registration(reg) => Some(&reg.domain),
        Cached::Error(_) => None,
    }
}

/// Keys held apart from their values, by slot.
type SideKeys = HashMap<u32, Box<str>, foldhash::fast::RandomState>;

/// The entries: a vector of slots (an emptied slot is reused; [`Slab::free`]
/// lists them) linked into a doubly-linked list by recency, and a hash
/// index of slot numbers keyed by each entry's key.
///
/// An entry's key is its record's `domain` when the two are equal (nearly
/// always), so the name is stored once; otherwise (errors, and a record
/// stored under another name) the key is kept in [`Slab::keys`] and the
/// entry's [`SIDE_KEY`] bit is set.
#[derive(Debug, Default)]
struct Slab {
    slots: Vec<Option<Entry>>,
    /// Empty slots, reused last emptied first.
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    keys: SideKeys,
    /// The most recently used entry, or [`NIL`].
    head: u32,
    /// The least recently used entry, or [`NIL`].
    tail: u32,
    len: usize,
}

/// The key of `entry` in slot `i`.
fn key_of<'a>(keys: &'a SideKeys, i: u32, entry: &'a Entry) -> &'a str {
    if entry.side_key() {
        keys.get(&i).map_or("", |k| k)
    } else {
        own_key(&entry.value).unwrap_or("")
    }
}

impl Slab {
    fn new() -> Slab {
        Slab {
            head: NIL,
            tail: NIL,
            ..Slab::default()
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Room for `additional` more entries without growing.
    fn reserve(&mut self, additional: usize) {
        let additional = additional.saturating_sub(self.free.len());
        self.slots.reserve(additional);
        let (slots, keys, hasher) = (&self.slots, &self.keys, &self.hasher);
        self.index.reserve(additional, |&i| {
            Self::slot(slots, i).map_or(0, |e| hasher.hash_one(key_of(keys, i, e)))
        });
    }

    fn slot(slots: &[Option<Entry>], i: u32) -> Option<&Entry> {
        slots.get(i as usize).and_then(Option::as_ref)
    }

    fn get(&self, i: u32) -> Option<&Entry> {
        Self::slot(&self.slots, i)
    }

    fn get_mut(&mut self, i: u32) -> Option<&mut Entry> {
        self.slots.get_mut(i as usize).and_then(Option::as_mut)
    }

    /// The key of the entry in slot `i`.
    fn key(&self, i: u32) -> Option<&str> {
        self.get(i).map(|e| key_of(&self.keys, i, e))
    }

    /// The slot of `key`'s entry.
    fn find(&self, key: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        let (slots, keys) = (&self.slots, &self.keys);
        self.index
            .find(hash, |&i| {
                Self::slot(slots, i).is_some_and(|e| key_of(keys, i, e) == key)
            })
            .copied()
    }

    /// Take slot `i` out of the recency list.
    fn unlink(&mut self, i: u32) {
        let Some((newer, older)) = self.get(i).map(|e| (e.newer, e.older())) else {
            return;
        };
        match self.get_mut(newer) {
            Some(e) => e.set_older(older),
            None => self.head = older,
        }
        match self.get_mut(older) {
            Some(e) => e.newer = newer,
            None => self.tail = newer,
        }
    }

    /// Make slot `i` (not in the list) the most recently used.
    fn push_front(&mut self, i: u32) {
        let head = self.head;
        if let Some(e) = self.get_mut(i) {
            e.newer = NIL;
            e.set_older(head);
        }
        match self.get_mut(head) {
            Some(e) => e.newer = i,
            None => self.tail = i,
        }
        self.head = i;
    }

    /// Mark slot `i` the most recently used.
    fn touch(&mut self, i: u32) {
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
    }

    /// Store `value` as the most recently used entry, under `key` or, when
    /// `None`, under its own key (a record's `domain`); returns the size
    /// estimate of the value it replaces. Not stored when the slab holds
    /// [`MAX_SLOTS`] entries and the key is not one of them (the caller
    /// evicts first).
    fn insert(
        &mut self,
        key: Option<String>,
        value: Cached,
        stored_at: i64,
        expires_at: i64,
    ) -> Option<usize> {
        // A given key equal to the record's domain is not kept.
        let side = key.filter(|k| own_key(&value) != Some(k.as_str()));
        let key_str = side.as_deref().or(own_key(&value)).unwrap_or("");
        let hash = self.hasher.hash_one(key_str);
        if let Some(i) = self.find(key_str) {
            let old_bytes = self.get(i).map(|e| estimate_bytes(key_str, &e.value));
            let side_bit = if side.is_some() { SIDE_KEY } else { 0 };
            if let Some(e) = self.get_mut(i) {
                e.value = value;
                e.times = Times::new(stored_at, expires_at, new_stamp());
                e.older = e.older() | side_bit;
            }
            match side {
                Some(k) => self.keys.insert(i, k.into_boxed_str()),
                None => self.keys.remove(&i),
            };
            self.touch(i);
            return old_bytes;
        }
        let i = match self.free.pop() {
            Some(i) => i,
            None if self.slots.len() < MAX_SLOTS => {
                let Ok(i) = u32::try_from(self.slots.len()) else {
                    return None;
                };
                self.slots.push(None);
                i
            }
            None => return None,
        };
        let older = match side {
            Some(k) => {
                self.keys.insert(i, k.into_boxed_str());
                NIL | SIDE_KEY
            }
            None => NIL,
        };
        if let Some(slot) = self.slots.get_mut(i as usize) {
            *slot = Some(Entry {
                value,
                times: Times::new(stored_at, expires_at, new_stamp()),
                newer: NIL,
                older,
            });
        }
        let (slots, keys, hasher) = (&self.slots, &self.keys, &self.hasher);
        self.index.insert_unique(hash, i, |&j| {
            Self::slot(slots, j).map_or(0, |e| hasher.hash_one(key_of(keys, j, e)))
        });
        self.len += 1;
        self.push_front(i);
        None
    }

    /// Remove the least recently used entry; returns its key when held
    /// apart ([`Slab::keys`]) and the entry.
    fn pop_lru(&mut self) -> Option<(Option<Box<str>>, Entry)> {
        let i = self.tail;
        let hash = self.hasher.hash_one(self.key(i)?);
        if let Ok(found) = self.index.find_entry(hash, |&j| j == i) {
            found.remove();
        }
        self.unlink(i);
        let entry = self.slots.get_mut(i as usize)?.take()?;
        let key = if entry.side_key() {
            self.keys.remove(&i)
        } else {
            None
        };
        self.free.push(i);
        self.len -= 1;
        Some((key, entry))
    }

    /// The entries with their keys, in no particular order.
    fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        (0u32..)
            .zip(&self.slots)
            .filter_map(|(i, slot)| slot.as_ref().map(|e| (key_of(&self.keys, i, e), e)))
    }

    /// The keys from the most to the least recently used.
    #[cfg(test)]
    fn keys_by_recency(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut i = self.head;
        while let Some(key) = self.key(i) {
            out.push(key);
            i = self.get(i).map_or(NIL, Entry::older);
        }
        out
    }
}

/// Fixed part of an entry's size estimate: its slot's size, plus 16 bytes
/// for its share of the hash index (a `u32` and a control byte per bucket,
/// up to 16/7 buckets per entry) and of the free list, plus 16 for the
/// allocator's overhead on the record's heap blocks.
const ENTRY_OVERHEAD: usize = size_of::<Option<Entry>>() + 32;

/// Added to an entry's size estimate when its key is held apart from its
/// value (an error, or a record stored under another name than its
/// `domain`): the key's bytes plus this, for its `Box<str>`, the `u32` slot
/// number and their hash table slot.
const SIDE_KEY_OVERHEAD: usize = size_of::<(u32, Box<str>)>() + 16;

/// Registration answers by registered domain, least recently used first out.
///
/// Both bounds of the [`CacheConfig`] are enforced after every insert by
/// evicting least-recently-used entries until the entry count is at most
/// `max_entries` and the estimated size at most `max_bytes` (a single value
/// larger than `max_bytes` is therefore not kept).
pub struct RegistrationCache {
    config: CacheConfig,
    entries: Slab,
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
            entries: Slab::new(),
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
        self.entries.len() == 0
    }

    /// The estimated size of all entries, in bytes.
    ///
    /// Each entry counts, for a registration, the bytes of its `domain`
    /// (which is also its key) and of each `nameservers` element plus that
    /// element's `String` header, and 16 bytes per `status` value (status
    /// values, `registrar` and `server` are [`Shared`] between records, so
    /// a record holds only pointers to them), or for an error the bytes of
    /// its code; plus a fixed overhead for its slot (the record or error
    /// inline, its two times and two `u32` recency links: 192 bytes on
    /// 64-bit targets), its share of the hash index and the allocator's
    /// overhead (32 bytes). An entry whose key is not its record's `domain`
    /// (every error) also counts its key's bytes and 40 for holding it
    /// apart. Spare capacity of strings and vectors is not counted.
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
        self.get_stamped(domain, now).0
    }

    /// [`get`](Self::get), with the stamp of the entry found: a number
    /// that changes whenever the entry's value is stored (so two answers
    /// with the same stamp are the same value), and differs from every
    /// other entry's and from every [`Lookup::generation`] (see
    /// [`Lookup::lookup_stamped`]).
    pub fn get_stamped(
        &mut self,
        domain: &str,
        now: DateTime<Utc>,
    ) -> (CacheState<'_>, Option<u64>) {
        let now = now.timestamp();
        let found = self.entries.find(domain);
        if let Some(i) = found {
            self.entries.touch(i);
        }
        match found.and_then(|i| self.entries.get(i)) {
            Some(entry) if now < entry.times.expires_at() => {
                self.stats.hits += 1;
                (CacheState::Fresh(&entry.value), Some(entry.times.stamp()))
            }
            Some(entry) => {
                self.stats.stale_hits += 1;
                (CacheState::Stale(&entry.value), Some(entry.times.stamp()))
            }
            None => {
                self.stats.misses += 1;
                (CacheState::Missing, None)
            }
        }
    }

    /// The state of `domain` at `now`, without touching its recency or the
    /// counters.
    pub fn peek(&self, domain: &str, now: DateTime<Utc>) -> CacheState<'_> {
        match self.entries.find(domain).and_then(|i| self.entries.get(i)) {
            Some(entry) if now.timestamp() < entry.times.expires_at() => {
                CacheState::Fresh(&entry.value)
            }
            Some(entry) => CacheState::Stale(&entry.value),
            None => CacheState::Missing,
        }
    }

    /// When `domain`'s entry was stored and expires (without touching its
    /// recency).
    pub fn info(&self, domain: &str) -> Option<EntryInfo> {
        let i = self.entries.find(domain)?;
        self.entries.get(i).map(|e| EntryInfo {
            stored_at: from_secs(e.times.stored_at()),
            expires_at: from_secs(e.times.expires_at()),
            bytes: estimate_bytes(domain, &e.value),
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
            && let Some(i) = self.entries.find(&domain)
            && let Some(entry) = self.entries.get_mut(i)
            && matches!(entry.value, Cached::Registration(_))
        {
            let expires_at = entry.times.expires_at();
            entry
                .times
                .set_expires_at(expires_at.max(add_secs(now, self.config.ttl_error)));
            self.stats.refresh_errors += 1;
            return;
        }
        let expires_at = add_secs(now, self.ttl(&value));
        self.put(Some(domain), value, now, expires_at);
    }

    /// Store a record whose fetch time is known (`stored_at`, e.g. its
    /// `fetched` member), keyed by its `domain`: it expires at `stored_at`
    /// plus the TTL of its kind. Replaces any entry for the domain.
    pub fn insert_with_time(&mut self, value: Registration, stored_at: DateTime<Utc>) {
        let value = Cached::Registration(value);
        let stored_at = stored_at.timestamp();
        let expires_at = add_secs(stored_at, self.ttl(&value));
        self.put(None, value, stored_at, expires_at);
    }

    /// The held registration records as JSON Lines in the `--registrations`
    /// schema, sorted by domain. Errors are not written. A record without
    /// `fetched` gets its stored time, so that loading it again restores its
    /// expiry. Only that time is saved: an expiry pushed back by a failed
    /// refresh (see [`insert`](Self::insert)) is not, so such a record loads
    /// stale and is fetched again.
    pub fn export_jsonl(&self) -> String {
        let mut records: Vec<(&str, &Registration, i64)> = self
            .entries
            .iter()
            .filter_map(|(key, entry)| match &entry.value {
                Cached::Registration(reg) => Some((key, reg, entry.times.stored_at())),
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
        // Room for the records up front: no regrowth of the slots or index
        // (while the snapshot is still held) as they come in.
        self.entries
            .reserve(snapshot.len().min(self.config.max_entries));
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

    /// Store `value` under `key`, or under its own key (a record's
    /// `domain`) when `None`.
    fn put(&mut self, key: Option<String>, value: Cached, stored_at: i64, expires_at: i64) {
        let key_str = key.as_deref().or(own_key(&value)).unwrap_or("");
        let bytes = estimate_bytes(key_str, &value);
        if self.entries.len() >= MAX_SLOTS && self.entries.find(key_str).is_none() {
            // Every slot number taken (2^31 - 1 entries): make room.
            self.evict_lru();
        }
        let old = self.entries.insert(key, value, stored_at, expires_at);
        if let Some(old) = old {
            self.bytes = self.bytes.saturating_sub(old);
        }
        self.bytes = self.bytes.saturating_add(bytes);
        self.stats.inserts += 1;
        self.evict();
    }

    fn evict(&mut self) {
        while self.entries.len() > self.config.max_entries || self.bytes > self.config.max_bytes {
            if !self.evict_lru() {
                self.bytes = 0;
                break;
            }
        }
    }

    /// Drop the least recently used entry; false when empty.
    fn evict_lru(&mut self) -> bool {
        let Some((key, old)) = self.entries.pop_lru() else {
            return false;
        };
        let key = key.as_deref().or_else(|| own_key(&old.value)).unwrap_or("");
        self.bytes = self.bytes.saturating_sub(estimate_bytes(key, &old.value));
        self.stats.evictions += 1;
        true
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
    let key_bytes = if own_key(value) == Some(key) {
        0
    } else {
        SIDE_KEY_OVERHEAD + key.len()
    };
    ENTRY_OVERHEAD + key_bytes + value_bytes
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
        self.lookup_stamped(domain).0
    }

    fn lookup_stamped(&mut self, domain: &str) -> (LookupResult<'_>, Option<u64>) {
        let (state, stamp) = self.cache.get_stamped(domain, self.now);
        let (value, stale) = match state {
            CacheState::Fresh(value) => (value, false),
            CacheState::Stale(value) => (value, true),
            CacheState::Missing => {
                Self::want(&mut self.wanted, &mut self.seen, domain);
                return if self.pending_on_miss {
                    (LookupResult::Pending, None)
                } else {
                    (LookupResult::Miss, None)
                };
            }
        };
        if stale {
            Self::want(&mut self.wanted, &mut self.seen, domain);
        }
        let result = match value {
            Cached::Registration(reg) => LookupResult::Found(reg),
            Cached::Error(code) => LookupResult::Error(code),
        };
        (result, stamp)
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
        // The key is the record's domain: counted once.
        assert_eq!(base, ENTRY_OVERHEAD + 11);
        // Under another key, the key is held apart.
        assert_eq!(
            estimate_bytes("other.com", &Cached::Registration(reg.clone())),
            ENTRY_OVERHEAD + SIDE_KEY_OVERHEAD + 9 + 11
        );
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
            ENTRY_OVERHEAD + SIDE_KEY_OVERHEAD + 11 + 7
        );
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn slot_size() {
        // What the doc comment of `bytes` says: the record (168 bytes), two
        // times and two links; the empty slot costs nothing more.
        assert_eq!(size_of::<Cached>(), size_of::<Registration>());
        assert_eq!(size_of::<Option<Entry>>(), size_of::<Registration>() + 24);
        assert_eq!(size_of::<Option<Entry>>(), 192);
        assert_eq!(ENTRY_OVERHEAD, 192 + 32);
        assert_eq!(SIDE_KEY_OVERHEAD, 40);
    }

    #[test]
    fn times_hold_every_date_and_the_stamp() {
        let max_stamp = (1u64 << 40) - 1;
        let dates = [
            0,
            1,
            -1,
            t0().timestamp(),
            DateTime::<Utc>::MIN_UTC.timestamp(),
            DateTime::<Utc>::MAX_UTC.timestamp(),
        ];
        for stored in dates {
            for expires in dates {
                for stamp in [
                    0,
                    1,
                    0x8_0000,
                    0xf_ffff,
                    0x10_0000,
                    0x12_3456_789a,
                    max_stamp,
                ] {
                    let mut t = Times::new(stored, expires, stamp);
                    assert_eq!(
                        (t.stored_at(), t.expires_at(), t.stamp()),
                        (stored, expires, stamp)
                    );
                    t.set_expires_at(stored);
                    assert_eq!(
                        (t.stored_at(), t.expires_at(), t.stamp()),
                        (stored, stored, stamp)
                    );
                }
            }
        }
        // Beyond the dates: held at the ends, which are beyond them too.
        let t = Times::new(i64::MIN, i64::MAX, max_stamp);
        assert_eq!(from_secs(t.stored_at()), DateTime::<Utc>::MIN_UTC);
        assert_eq!(from_secs(t.expires_at()), DateTime::<Utc>::MAX_UTC);
        assert_eq!(t.stamp(), max_stamp);
        assert!(t.expires_at() > DateTime::<Utc>::MAX_UTC.timestamp());
    }

    #[test]
    fn stamps_change_with_the_answer_only() {
        let mut c = RegistrationCache::default();
        let stamp = |c: &mut RegistrationCache, at| c.get_stamped("example.com", at).1;
        assert_eq!(stamp(&mut c, t0()), None);
        c.insert("example.com".into(), found("example.com"), t0());
        let first = stamp(&mut c, t0()).unwrap();
        // Asked again, fresh or stale: the same answer.
        assert_eq!(stamp(&mut c, t0()), Some(first));
        assert_eq!(stamp(&mut c, t0() + secs(2 * 24 * 3600)), Some(first));
        // A failed refresh keeps the record: the same answer.
        c.insert("example.com".into(), Cached::Error("timeout".into()), t0());
        assert_eq!(stamp(&mut c, t0()), Some(first));
        // Stored again, even equal and in the same second: a new stamp.
        c.insert("example.com".into(), found("example.com"), t0());
        let second = stamp(&mut c, t0()).unwrap();
        assert_ne!(second, first);
        // Other entries' stamps differ.
        c.insert("other.com".into(), found("other.com"), t0());
        assert_ne!(c.get_stamped("other.com", t0()).1, Some(second));
        assert_eq!(stamp(&mut c, t0()), Some(second));
    }

    #[test]
    fn keys_apart_from_the_value() {
        let mut c = RegistrationCache::default();
        // A record stored under another name than its domain is found by
        // that name only; an error under its name.
        c.insert("alias.com".into(), found("real.com"), t0());
        c.insert("real.com".into(), Cached::Error("timeout".into()), t0());
        assert_eq!(
            c.peek("alias.com", t0()),
            CacheState::Fresh(&found("real.com"))
        );
        assert_eq!(
            c.peek("real.com", t0()),
            CacheState::Fresh(&Cached::Error("timeout".into()))
        );
        assert_eq!(c.entries.keys.len(), 2);
        // Replacing with a record keyed by its own domain drops the key kept
        // apart; and back.
        c.insert("real.com".into(), found("real.com"), t0());
        assert_eq!(c.entries.keys.len(), 1);
        assert_eq!(
            c.peek("real.com", t0()),
            CacheState::Fresh(&found("real.com"))
        );
        c.insert("alias.com".into(), found("alias.com"), t0());
        assert!(c.entries.keys.is_empty());
        c.insert("alias.com".into(), found("x.com"), t0());
        assert_eq!(c.entries.keys.len(), 1);
        assert_eq!(c.peek("x.com", t0()), CacheState::Missing);
        assert_eq!(
            c.bytes(),
            estimate_bytes("alias.com", &found("x.com"))
                + estimate_bytes("real.com", &found("real.com"))
        );
        // Exported under the record's own domain, sorted by key.
        let text = c.export_jsonl();
        assert!(text.starts_with(r#"{"domain":"x.com","#), "{text}");
    }

    #[test]
    fn slots_are_reused() {
        let config = CacheConfig {
            max_entries: 3,
            ..CacheConfig::default()
        };
        let mut c = RegistrationCache::new(config);
        for n in 0..1000 {
            let d = format!("d{n}.com");
            c.insert(d.clone(), found(&d), t0());
            if n % 7 == 0 {
                c.insert(format!("e{n}.com"), Cached::Error("timeout".into()), t0());
            }
        }
        assert_eq!(c.len(), 3);
        assert!(c.entries.slots.len() <= 4, "{}", c.entries.slots.len());
        assert!(c.entries.keys.is_empty(), "the errors' keys went with them");
        assert_eq!(
            c.entries.keys_by_recency(),
            ["d999.com", "d998.com", "d997.com"]
        );
    }

    /// A reference for the cache: entries in a vector from the most to the
    /// least recently used, found by scanning.
    struct Model {
        config: CacheConfig,
        /// (key, value, stored_at, expires_at)
        entries: Vec<(String, Cached, i64, i64)>,
        evictions: u64,
        refresh_errors: u64,
    }

    impl Model {
        fn pos(&self, key: &str) -> Option<usize> {
            self.entries.iter().position(|e| e.0 == key)
        }

        fn bytes(&self) -> usize {
            self.entries
                .iter()
                .map(|e| estimate_bytes(&e.0, &e.1))
                .sum()
        }

        fn ttl(&self, value: &Cached) -> i64 {
            match value {
                Cached::Registration(r) if r.registered => self.config.ttl_found,
                Cached::Registration(_) => self.config.ttl_not_found,
                Cached::Error(_) => self.config.ttl_error,
            }
            .num_seconds()
        }

        fn put(&mut self, key: String, value: Cached, stored_at: i64) {
            let expires_at = stored_at + self.ttl(&value);
            if let Some(p) = self.pos(&key) {
                self.entries.remove(p);
            }
            self.entries.insert(0, (key, value, stored_at, expires_at));
            while self.entries.len() > self.config.max_entries
                || self.bytes() > self.config.max_bytes
            {
                self.entries.pop();
                self.evictions += 1;
            }
        }

        fn insert(&mut self, key: String, value: Cached, now: i64) {
            if matches!(value, Cached::Error(_))
                && let Some(p) = self.pos(&key)
                && matches!(self.entries[p].1, Cached::Registration(_))
            {
                let ttl = self.config.ttl_error.num_seconds();
                let e = &mut self.entries[p];
                e.3 = e.3.max(now + ttl);
                self.refresh_errors += 1;
                return;
            }
            self.put(key, value, now);
        }

        /// (value, fresh) of `key` at `now`, marking it used when `touch`.
        fn get(&mut self, key: &str, now: i64, touch: bool) -> Option<(Cached, bool)> {
            let p = self.pos(key)?;
            if touch {
                let e = self.entries.remove(p);
                self.entries.insert(0, e);
            }
            let e = &self.entries[if touch { 0 } else { p }];
            Some((e.1.clone(), now < e.3))
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(usize, Cached, i64),
        InsertWithTime(Registration, i64),
        Get(usize, i64),
        Peek(usize, i64),
    }

    const NAMES: [&str; 6] = ["a.com", "b.com", "c.com", "d.com", "e.com", "f.com"];

    fn value_strategy() -> impl proptest::strategy::Strategy<Value = Cached> {
        use proptest::prelude::*;
        prop_oneof![
            (0..NAMES.len(), 0..3usize, any::<bool>()).prop_map(|(d, ns, registered)| {
                let mut reg = Registration::new(NAMES[d], Source::Rdap);
                reg.registered = registered;
                reg.nameservers = (0..ns).map(|i| format!("ns{i}.example.net")).collect();
                Cached::Registration(reg)
            }),
            prop_oneof![Just("timeout"), Just("http_429")].prop_map(|c| Cached::Error(c.into())),
        ]
    }

    fn op_strategy() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let key = 0..NAMES.len();
        let time = 0i64..200_000;
        prop_oneof![
            4 => (key.clone(), value_strategy(), time.clone())
                .prop_map(|(k, v, t)| Op::Insert(k, v, t)),
            1 => (value_strategy(), time.clone()).prop_filter_map("a record", |(v, t)| match v {
                Cached::Registration(r) => Some(Op::InsertWithTime(r, t)),
                Cached::Error(_) => None,
            }),
            3 => (key.clone(), time.clone()).prop_map(|(k, t)| Op::Get(k, t)),
            1 => (key, time).prop_map(|(k, t)| Op::Peek(k, t)),
        ]
    }

    proptest::proptest! {
        /// The slab behaves as a plain LRU list: same entries in the same
        /// recency order, same answers, times, sizes and counters.
        #[test]
        fn slab_matches_a_reference_lru(
            max_entries in 0usize..7,
            max_bytes_in in proptest::option::of(0usize..6),
            ops in proptest::collection::vec(op_strategy(), 0..120),
        ) {
            use proptest::prop_assert_eq;
            let one = estimate_bytes("a.com", &found("a.com"));
            let config = CacheConfig {
                max_entries,
                max_bytes: max_bytes_in.map_or(usize::MAX, |n| n * one + n * 40),
                ..CacheConfig::default()
            };
            let mut c = RegistrationCache::new(config.clone());
            let mut m = Model { config, entries: Vec::new(), evictions: 0, refresh_errors: 0 };
            let at = |t: i64| t0() + secs(t);
            for op in ops {
                match op {
                    Op::Insert(k, v, t) => {
                        c.insert(NAMES[k].to_string(), v.clone(), at(t));
                        m.insert(NAMES[k].to_string(), v, t0().timestamp() + t);
                    }
                    Op::InsertWithTime(r, t) => {
                        c.insert_with_time(r.clone(), at(t));
                        m.put(r.domain.clone(), Cached::Registration(r), t0().timestamp() + t);
                    }
                    Op::Get(k, t) | Op::Peek(k, t) => {
                        let touch = matches!(op, Op::Get(..));
                        let got = if touch { c.get(NAMES[k], at(t)) } else { c.peek(NAMES[k], at(t)) };
                        let got = match got {
                            CacheState::Fresh(v) => Some((v.clone(), true)),
                            CacheState::Stale(v) => Some((v.clone(), false)),
                            CacheState::Missing => None,
                        };
                        prop_assert_eq!(got, m.get(NAMES[k], t0().timestamp() + t, touch));
                    }
                }
                let keys: Vec<&str> = m.entries.iter().map(|e| e.0.as_str()).collect();
                prop_assert_eq!(c.entries.keys_by_recency(), keys);
                prop_assert_eq!(c.len(), m.entries.len());
                prop_assert_eq!(c.bytes(), m.bytes());
                for (key, value, stored_at, expires_at) in &m.entries {
                    let info = c.info(key).unwrap();
                    prop_assert_eq!(info.stored_at.timestamp(), *stored_at);
                    prop_assert_eq!(info.expires_at.timestamp(), *expires_at);
                    prop_assert_eq!(info.bytes, estimate_bytes(key, value));
                    let expected = if t0().timestamp() < *expires_at {
                        CacheState::Fresh(value)
                    } else {
                        CacheState::Stale(value)
                    };
                    prop_assert_eq!(c.peek(key, t0()), expected);
                }
                let stats = c.stats();
                prop_assert_eq!(stats.evictions, m.evictions);
                prop_assert_eq!(stats.refresh_errors, m.refresh_errors);
                // The links run both ways and the index holds every entry.
                prop_assert_eq!(c.entries.index.len(), c.len());
                prop_assert_eq!(
                    c.entries.slots.iter().filter(|s| s.is_some()).count() + c.entries.free.len(),
                    c.entries.slots.len()
                );
                let mut back = Vec::new();
                let mut i = c.entries.tail;
                while let Some(key) = c.entries.key(i) {
                    back.push(key);
                    i = c.entries.get(i).map_or(NIL, |e| e.newer);
                }
                back.reverse();
                prop_assert_eq!(back, c.entries.keys_by_recency());
            }
        }
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
