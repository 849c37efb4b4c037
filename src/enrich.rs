//! The enricher: one log line in, one line out.
//!
//! [`Enricher::enrich_line`] classifies the line ([`crate::format`]), finds
//! the registered domain ([`crate::domain`]), asks a [`Lookup`] for its
//! registration, assesses it ([`crate::risk`]) and writes the event with the
//! `domreg` and `threat` members spliced in ([`crate::output`]). A line it
//! cannot enrich is written back unchanged and counted. No I/O: the caller
//! owns reading, writing and the clock.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::domain::{self, Analysis, SkipReason};
use crate::format::{Detected, Detector, Format, FormatChoice, LineKind};
use crate::output::{self, DomregMember, LookupKind, RegistrationTemplate};
use crate::risk::{Days, Known, RiskEngine, RuleSet};
use crate::{Error, Registration};
use crate::{json, names};

/// A source of registration data, keyed by registered domain (A-labels).
///
/// The offline snapshot implements it; the live RDAP cache does too.
pub trait Lookup {
    /// The state of `domain`'s registration.
    fn lookup(&mut self, domain: &str) -> LookupResult<'_>;

    /// [`Lookup::lookup`], with the record's `registration` object already
    /// rendered when the source keeps one (the offline snapshot does); the
    /// enricher renders it itself otherwise.
    fn lookup_rendered(
        &mut self,
        domain: &str,
    ) -> (LookupResult<'_>, Option<&RegistrationTemplate>) {
        (self.lookup(domain), None)
    }

    /// [`Lookup::lookup`], with the answer's stamp when the source can
    /// name one: while a domain's answers carry the same `Some(s)`, they
    /// are the same answer (the same record or error), so the enricher may
    /// reuse what it made of an earlier one. Stamps are drawn from
    /// [`new_generation`], so no stamp equals another source's stamp or
    /// generation. `None` (the default): render the answer afresh.
    fn lookup_stamped(&mut self, domain: &str) -> (LookupResult<'_>, Option<u64>) {
        (self.lookup(domain), None)
    }

    /// The state of this source's answers, when it can name one: while it
    /// returns the same `Some(g)`, every answer for every domain stays the
    /// same and asking has no effect (no counting, no fetching), so the
    /// enricher may reuse what it made of an earlier answer without asking
    /// again. `None` (the default): ask for every event.
    fn generation(&self) -> Option<u64> {
        None
    }
}

/// A value for [`Lookup::generation`] that no other call returns.
pub fn new_generation() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What a [`Lookup`] knows about a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupResult<'a> {
    /// A record: registered, or `registered == false` for "not found".
    Found(&'a Registration),
    /// Nothing known.
    Miss,
    /// A lookup is under way.
    Pending,
    /// The lookup failed, with a short error code.
    Error(&'a str),
    /// No lookup could be started: the live lookup machinery is at
    /// capacity. The event is written with `lookup: skipped`,
    /// `skip_reason: overload`.
    Overloaded,
}

/// What a lookup's answer means at the event time `at`: the `domreg.lookup`
/// kind, the facts the risk rules see, and the error code, if any.
pub fn classify(
    result: LookupResult<'_>,
    at: DateTime<Utc>,
) -> (LookupKind, Known<'_>, Option<&str>) {
    match result {
        LookupResult::Found(reg) if reg.registered => (
            LookupKind::Hit,
            Known::Registered(reg, Days::at(reg, at)),
            None,
        ),
        LookupResult::Found(_) => (LookupKind::NotFound, Known::NotRegistered, None),
        LookupResult::Miss => (LookupKind::Miss, Known::Unknown, None),
        LookupResult::Pending => (LookupKind::Pending, Known::Unknown, None),
        LookupResult::Error(code) => (LookupKind::Error, Known::Unknown, Some(code)),
        LookupResult::Overloaded => (LookupKind::Skipped, Known::Unknown, None),
    }
}

/// A lookup that knows nothing (every domain is a miss).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLookup;

impl Lookup for NoLookup {
    fn lookup(&mut self, _domain: &str) -> LookupResult<'_> {
        LookupResult::Miss
    }
}

/// Why a line was written back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PassReason {
    /// A JSON object without a domain name.
    NoDomain,
    /// Text in no known format.
    Unrecognised,
    /// A line that starts like JSON but does not parse.
    InvalidJson,
    /// Not UTF-8.
    InvalidUtf8,
    /// Longer than `input.max_line_bytes`.
    Oversized,
    /// The event has a `threat` member that is not an object, so domreg's
    /// could not be merged into it.
    ThreatConflict,
}

impl PassReason {
    /// Every reason, in summary order.
    pub const ALL: [PassReason; 6] = [
        PassReason::NoDomain,
        PassReason::Unrecognised,
        PassReason::InvalidJson,
        PassReason::InvalidUtf8,
        PassReason::Oversized,
        PassReason::ThreatConflict,
    ];

    /// The name used in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            PassReason::NoDomain => "no_domain",
            PassReason::Unrecognised => "unrecognised",
            PassReason::InvalidJson => "invalid_json",
            PassReason::InvalidUtf8 => "invalid_utf8",
            PassReason::Oversized => "oversized",
            PassReason::ThreatConflict => "threat_conflict",
        }
    }

    /// True for reasons that mean bad input rather than input without a domain.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            PassReason::InvalidJson
                | PassReason::InvalidUtf8
                | PassReason::Oversized
                | PassReason::ThreatConflict
        )
    }
}

/// What happened to one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Written with `domreg` added.
    Enriched(Enriched),
    /// Written back unchanged.
    Passthrough(PassReason),
}

impl Outcome {
    /// The lookup outcome of an enriched line.
    pub fn lookup(&self) -> Option<LookupKind> {
        match self {
            Outcome::Enriched(e) => Some(e.lookup),
            Outcome::Passthrough(_) => None,
        }
    }
}

/// How a line was enriched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enriched {
    /// The line's format.
    pub format: Format,
    /// The lookup outcome.
    pub lookup: LookupKind,
    /// Why the name was skipped, for `lookup == Skipped`.
    pub skip_reason: Option<SkipReason>,
    /// The event already had a `domreg` member, now replaced.
    pub domreg_replaced: bool,
    /// domreg's techniques were merged into the event's own `threat` object.
    pub threat_merged: bool,
}

/// Counters over all lines seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Lines read.
    pub lines_in: u64,
    /// Lines written (always equal to `lines_in`).
    pub lines_out: u64,
    /// Enriched lines by format.
    pub formats: Counts,
    /// Enriched lines by lookup outcome.
    pub lookups: Counts,
    /// Skipped names by reason.
    pub skipped: Counts,
    /// Lines passed through unchanged, by reason.
    pub passed_through: Counts,
    /// Events that already had a `domreg` member, replaced.
    pub domreg_replaced: u64,
    /// Events whose existing `threat` object domreg merged into.
    pub threat_merged: u64,
}

/// Named counters, in the order of their names (serialised as a JSON
/// object). Kept in a short vector: a handful of names each, bumped for
/// every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(Vec<(&'static str, u64)>);

impl Counts {
    /// Add one to `key`.
    #[inline]
    pub fn bump(&mut self, key: &'static str) {
        // The names are constants, so mostly the very same `&str` each time:
        // found without comparing their text.
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| std::ptr::eq(*k, key)) {
            slot.1 += 1;
        } else {
            self.add_n(key, 1);
        }
    }

    fn add_n(&mut self, key: &'static str, n: u64) {
        match self.0.binary_search_by(|(k, _)| (*k).cmp(key)) {
            Ok(i) => {
                if let Some(slot) = self.0.get_mut(i) {
                    slot.1 += n;
                }
            }
            Err(i) => self.0.insert(i, (key, n)),
        }
    }

    /// The count for `key`.
    pub fn get(&self, key: &str) -> u64 {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |&(_, n)| n)
    }

    /// Sum of all counts.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|&(_, n)| n).sum()
    }

    /// Each name and its count, in the order of the names.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().copied()
    }

    /// Add every count of `other`.
    pub fn add(&mut self, other: &Counts) {
        for &(key, n) in &other.0 {
            self.add_n(key, n);
        }
    }
}

impl Serialize for Counts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl Stats {
    /// Add the counters of `other` (another enricher's, e.g. one worker
    /// thread's) to these.
    pub fn merge(&mut self, other: &Stats) {
        self.lines_in += other.lines_in;
        self.lines_out += other.lines_out;
        self.formats.add(&other.formats);
        self.lookups.add(&other.lookups);
        self.skipped.add(&other.skipped);
        self.passed_through.add(&other.passed_through);
        self.domreg_replaced += other.domreg_replaced;
        self.threat_merged += other.threat_merged;
    }

    /// Record one outcome.
    pub fn record(&mut self, outcome: Outcome) {
        self.lines_in += 1;
        self.lines_out += 1;
        match outcome {
            Outcome::Enriched(e) => {
                self.formats.bump(e.format.as_str());
                self.lookups.bump(e.lookup.as_str());
                if let Some(reason) = e.skip_reason {
                    self.skipped.bump(reason.as_str());
                }
                self.domreg_replaced += u64::from(e.domreg_replaced);
                self.threat_merged += u64::from(e.threat_merged);
            }
            Outcome::Passthrough(reason) => self.passed_through.bump(reason.as_str()),
        }
    }
}

/// Enriches lines.
pub struct Enricher {
    detector: Detector,
    risk: RiskEngine,
    max_line_bytes: usize,
    stats: Stats,
    scratch: Vec<u8>,
    /// Recent names and their analysis (registered domain or skip reason)
    /// with their `whois_recon` match, and the member last rendered for
    /// each (see [`Token`]).
    analyses: names::NameCache<NameEntry<ENTRY_BYTES>>,
    /// The `threat` JSON of each rule set seen (at most 2^9 of them).
    threats: HashMap<RuleSet, Option<Box<[u8]>>, foldhash::fast::RandomState>,
    /// The `registration` object, rendered but for the day counts, of
    /// recent records by their stamp ([`Lookup::lookup_stamped`]), for a
    /// source that keeps none rendered (the live cache).
    templates: lru::LruCache<u64, RegistrationTemplate>,
}

/// What is kept of a name seen recently, with room for `N` bytes in the
/// entry itself.
///
/// `repr(C)`, in the order a hit reads it: the memo and the lengths, then
/// the bytes, so that a hit reads one run of memory from the entry's
/// start. Plain data but for the bytes: an entry is remade in an evicted
/// entry's allocation, which nothing has read for a while, and remaking it
/// reads nothing of the old entry but the length at the start of its bytes.
#[repr(C)]
struct NameEntry<const N: usize> {
    /// The whole member last rendered for it, while valid.
    memo: Option<Memo>,
    key_len: usize,
    /// Its registered domain's length (in `bytes` after the name), or 0.
    domain_len: usize,
    head_len: usize,
    /// Why the name has no registered domain to look up.
    skip: Option<SkipReason>,
    /// The registered domain is a `whois_recon` service.
    whois: bool,
    /// Back to back, so that a hit reads one run of memory: the name (the
    /// cache key, `..key_len`); its registered domain (`domain_len`
    /// bytes); the start of its `domreg` member (`"domreg":{"name":...`
    /// with the Unicode form and the registered domain when there are;
    /// `head_len` bytes); and with a memo, the rest of the member (to
    /// `memo.member_end`), then the memo's field. Kept in the entry itself
    /// up to `N` bytes, so that a hit reads the entry and its bytes as one
    /// run instead of following a pointer.
    bytes: crate::bytes::Inline<N>,
}

/// What the `domreg` member rendered last for a name holds: reused for
/// later events with the same name and field, while the lookup source's
/// [`Token`] is `token` (the same generation, or an answer with the same
/// stamp), at an event time within `from..=to`
/// (seconds since the epoch; the span of equal day counts,
/// [`Days::same_within`]).
struct Memo {
    token: u64,
    from: i64,
    to: i64,
    lookup: LookupKind,
    skip_reason: Option<SkipReason>,
    rules: RuleSet,
    member_end: usize,
}

impl<const N: usize> NameEntry<N> {
    /// The entry for `name`, in the allocations of `old` (an evicted entry:
    /// its box and its bytes) when there is one; `scratch` is a buffer to
    /// render the member's head in.
    fn new(
        old: Option<Box<NameEntry<N>>>,
        name: &str,
        risk: &RiskEngine,
        scratch: &mut Vec<u8>,
    ) -> Box<NameEntry<N>> {
        let mut entry = old.unwrap_or_else(|| {
            Box::new(NameEntry {
                memo: None,
                key_len: 0,
                domain_len: 0,
                head_len: 0,
                skip: None,
                whois: false,
                bytes: crate::bytes::Inline::new(),
            })
        });
        scratch.clear();
        let domain = match domain::analyze(name) {
            Analysis::Lookup(t) => {
                output::write_domreg_head(scratch, &t.name, Some(t.domain()));
                entry.whois = risk.is_whois_service(&t.name);
                entry.skip = None;
                Some(t)
            }
            Analysis::Skip { name, reason } => {
                output::write_domreg_head(scratch, truncate(&name, domain::MAX_NAME_LEN), None);
                entry.whois = false;
                entry.skip = Some(reason);
                None
            }
        };
        let domain = domain.as_ref().map_or("", |t| t.domain());
        let bytes = &mut entry.bytes;
        bytes.clear();
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(domain.as_bytes());
        bytes.extend_from_slice(scratch);
        scratch.clear();
        entry.key_len = name.len();
        entry.domain_len = domain.len();
        entry.head_len = bytes.len() - name.len() - domain.len();
        entry.memo = None;
        entry
    }

    /// Where its member starts in `bytes`.
    fn member_start(&self) -> usize {
        self.key_len + self.domain_len
    }

    /// Its registered domain, or why it has none.
    fn target(&self) -> Result<&str, SkipReason> {
        match self.skip {
            Some(reason) => Err(reason),
            // Written by `new` from a `str` (A-labels, ASCII): always
            // there and UTF-8.
            None => Ok(self
                .bytes
                .as_slice()
                .get(self.key_len..self.member_start())
                .and_then(|d| std::str::from_utf8(d).ok())
                .unwrap_or("")),
        }
    }

    /// The start of the name's `domreg` member.
    fn head(&self) -> &[u8] {
        let start = self.member_start();
        self.bytes
            .as_slice()
            .get(start..start + self.head_len)
            .unwrap_or(&[])
    }

    /// The memo and its member, if it holds for `field` under `token` (a
    /// [`Token`]'s number) at `at`.
    fn memo(&self, token: u64, field: &str, at: i64) -> Option<(&Memo, &[u8])> {
        let m = self.memo.as_ref()?;
        let valid = m.token == token
            && (m.from..=m.to).contains(&at)
            && self
                .bytes
                .as_slice()
                .get(m.member_end..)
                .is_some_and(|f| crate::bytes::eq(f, field.as_bytes()));
        let member = self
            .bytes
            .as_slice()
            .get(self.member_start()..m.member_end)?;
        valid.then_some((m, member))
    }

    /// Keep `member` (which starts with [`NameEntry::head`]) as the memo
    /// for `field`.
    fn set_memo(&mut self, memo: Memo, member: &[u8], field: &str) {
        self.bytes.truncate(self.member_start());
        self.bytes.extend_from_slice(member);
        let member_end = self.bytes.len();
        self.bytes.extend_from_slice(field.as_bytes());
        self.memo = Some(Memo { member_end, ..memo });
    }
}

impl<const N: usize> names::Keyed for NameEntry<N> {
    fn key(&self) -> &[u8] {
        self.bytes.as_slice().get(..self.key_len).unwrap_or(&[])
    }
}

/// Names whose analysis (and last rendered member) is kept: 65,536 natively
/// (entries of about 770 bytes with [`ENTRY_BYTES`] in them: about 50 MB
/// when full); 8,192 in the WASM
/// filters, whose hosts give each filter instance little memory.
const NAME_CACHE: usize = if cfg!(target_arch = "wasm32") {
    8_192
} else {
    65_536
};

/// Bytes of a name entry (name, member, field: about 480 to 640 on the
/// benchmark's Zeek trace) kept in the entry itself, so that a hit reads
/// the entry and its member as one run; longer ones spill to the heap. In
/// the WASM filters, whose memory is scarcer than their time, none: the
/// bytes stay on the heap, where an entry takes only what its bytes need.
const ENTRY_BYTES: usize = if cfg!(target_arch = "wasm32") { 0 } else { 640 };

/// Records whose rendered `registration` object is kept, by stamp.
const ANALYSIS_CACHE: std::num::NonZeroUsize = match std::num::NonZeroUsize::new(8192) {
    Some(n) => n,
    None => std::num::NonZeroUsize::MIN,
};

impl Enricher {
    /// An enricher for `config`, reading `choice` formats; `fields` are
    /// extra JSON paths (`--field`) tried before the config's and the
    /// built-in ones.
    pub fn new(
        config: &Config,
        choice: FormatChoice,
        fields: &[String],
    ) -> Result<Enricher, Error> {
        config.validate()?;
        let mut all: Vec<String> = fields.to_vec();
        all.extend(config.input.fields.iter().cloned());
        let detector = Detector::new(choice, &all).map_err(|e| Error::Config(e.to_string()))?;
        Ok(Enricher {
            detector,
            risk: RiskEngine::new(config.rules.clone()),
            max_line_bytes: config.input.max_line_bytes,
            stats: Stats::default(),
            scratch: Vec::new(),
            analyses: names::NameCache::new(NAME_CACHE),
            threats: HashMap::default(),
            templates: lru::LruCache::new(ANALYSIS_CACHE),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The line-length cap in force.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Record a line the caller passed through itself (e.g. an oversized
    /// line it streamed without buffering).
    pub fn record_passthrough(&mut self, reason: PassReason) {
        self.stats.record(Outcome::Passthrough(reason));
    }

    /// Count one written line (see [`Enricher::render_line`]).
    pub fn record(&mut self, outcome: Outcome) {
        self.stats.record(outcome);
    }

    /// Enrich one line (without its terminator), append the result and a
    /// `\n` to `out`, and count it. `now` is the time for events whose
    /// format has none.
    pub fn enrich_line(
        &mut self,
        line: &[u8],
        lookup: &mut dyn Lookup,
        now: DateTime<Utc>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let outcome = self.render_line(line, lookup, now, out);
        self.stats.record(outcome);
        outcome
    }

    /// Like [`Enricher::enrich_line`], without counting: for a caller that
    /// may render a line again (a live lookup finished) and counts only the
    /// version it writes, with [`Enricher::record`].
    pub fn render_line(
        &mut self,
        line: &[u8],
        lookup: &mut dyn Lookup,
        now: DateTime<Utc>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let outcome = self.enrich_inner(line, lookup, now, out, false);
        if let Outcome::Passthrough(_) = outcome {
            out.extend_from_slice(line);
        }
        out.push(b'\n');
        outcome
    }

    /// The members domreg would add to `line`, without the event: append
    /// `"domreg":{...}` and, when a rule points to an ATT&CK technique,
    /// `,"threat":{...}` to `out` (no braces around them, no newline), the
    /// same bytes [`Enricher::render_line`] splices into the event. For
    /// hosts that keep the event themselves and take the enrichment as
    /// separate fields (rsyslog's `mmexternal` sets them as message
    /// variables, replacing the event's own). When the event carries a
    /// `threat` object, the `threat` given is that object with domreg's
    /// merged in, as the splice merges it; when it carries a `threat` that
    /// is not an object, the line passes through (`threat_conflict`).
    /// Appends nothing for a line it would pass through.
    /// Does not count: see [`Enricher::record`].
    pub fn render_members(
        &mut self,
        line: &[u8],
        lookup: &mut dyn Lookup,
        now: DateTime<Utc>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        self.enrich_inner(line, lookup, now, out, true)
    }

    /// Render `line`: the whole event, or with `members_only` just the
    /// members ([`Enricher::render_members`]).
    fn enrich_inner(
        &mut self,
        line: &[u8],
        lookup: &mut dyn Lookup,
        now: DateTime<Utc>,
        out: &mut Vec<u8>,
        members_only: bool,
    ) -> Outcome {
        if line.len() > self.max_line_bytes {
            return Outcome::Passthrough(PassReason::Oversized);
        }
        let Ok(whole) = std::str::from_utf8(line) else {
            return Outcome::Passthrough(PassReason::InvalidUtf8);
        };
        // A byte order mark (the first line of a file some Windows tools
        // write) is not part of the event: the event after it is read, and
        // the mark stays in front of it.
        let (bom, text) = match whole.strip_prefix('\u{feff}') {
            Some(rest) => (whole.get(..3).unwrap_or(""), rest),
            None => ("", whole),
        };
        let (detected, is_json) = match self.detector.detect(text) {
            LineKind::Json(d) => (d, true),
            LineKind::Text(d) => (d, false),
            LineKind::JsonWithoutName => return Outcome::Passthrough(PassReason::NoDomain),
            LineKind::InvalidJson => return Outcome::Passthrough(PassReason::InvalidJson),
            LineKind::Unrecognised => return Outcome::Passthrough(PassReason::Unrecognised),
        };
        let Detected {
            format,
            name,
            field,
            timestamp,
        } = detected;
        let at = timestamp.unwrap_or(now);

        // Build the `domreg` member in scratch, then splice; or splice the
        // member the name's entry kept from an earlier event, when it holds.
        let mut member = std::mem::take(&mut self.scratch);
        member.clear();
        let event = (name, field, at, lookup.generation());
        let (lookup_kind, skip_reason, rules, memo) = render_member(
            &mut self.analyses,
            &self.risk,
            &mut self.templates,
            &mut member,
            event,
            lookup,
        );
        let threat = rules.and_then(|rules| threat_json(&mut self.threats, rules));
        let rendered = memo.unwrap_or(&member);

        let result = if members_only && is_json {
            members_json(self.detector.scan(), text, rendered, threat, out)
        } else if members_only {
            push_members(out, rendered, threat);
            Ok(Splice::default())
        } else if is_json {
            let start = out.len();
            out.extend_from_slice(bom.as_bytes());
            let spliced = splice_json(self.detector.scan(), text, rendered, threat, out);
            if spliced.is_err() {
                out.truncate(start);
            }
            spliced
        } else {
            write_text_event(text, rendered, threat, out);
            Ok(Splice::default())
        };
        self.scratch = member;
        match result {
            Ok(splice) => Outcome::Enriched(Enriched {
                format,
                lookup: lookup_kind,
                skip_reason,
                domreg_replaced: splice.domreg_replaced,
                threat_merged: splice.threat_merged,
            }),
            Err(reason) => Outcome::Passthrough(reason),
        }
    }
}

/// What a name's memo (its member kept from an earlier event) holds for.
/// Both are drawn from [`new_generation`], so a memo compares the number
/// alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A [`Lookup::generation`]: every answer of the source stays the same
    /// while it does.
    Generation(u64),
    /// A stamp of [`Lookup::lookup_stamped`]: the answer for the name's
    /// domain stays the same while it does.
    Stamp(u64),
}

impl Token {
    fn number(self) -> u64 {
        match self {
            Token::Generation(n) | Token::Stamp(n) => n,
        }
    }
}

/// The `domreg` member of an event naming `name` in `field` at `at`, from a
/// lookup source in `generation` (or, with `None`, one asked for every
/// event, whose answers may carry stamps): its lookup, skip reason and rules, and
/// the member kept by the name's entry in `cache` (from an earlier event)
/// or, when none holds, `None` with the member rendered into `member`.
/// Entries with room for `N` bytes in them.
fn render_member<'c, const N: usize>(
    cache: &'c mut names::NameCache<NameEntry<N>>,
    risk: &RiskEngine,
    templates: &mut lru::LruCache<u64, RegistrationTemplate>,
    member: &mut Vec<u8>,
    (name, field, at, generation): (&str, &str, DateTime<Utc>, Option<u64>),
    lookup: &mut dyn Lookup,
) -> (
    LookupKind,
    Option<SkipReason>,
    Option<RuleSet>,
    Option<&'c [u8]>,
) {
    // Names repeat (Zipf): analyse each once, with its whois match and
    // the start of its `domreg` member (name and domain) rendered.
    let entry = cache.get_or_insert_mut(name, |old| NameEntry::new(old, name, risk, member));
    let seconds = at.timestamp();
    let domain = match entry.target() {
        Ok(domain) => domain,
        Err(reason) => {
            render_skipped(entry, member, field, reason);
            return (LookupKind::Skipped, Some(reason), None, None);
        }
    };
    // A source that names a generation is not asked while the name's memo
    // holds for it; another is asked, and the stamp of its answer tells
    // whether the memo holds.
    let (answer, token) = match generation {
        Some(g) => (None, Token::Generation(g)),
        None => {
            let (result, stamp) = lookup.lookup_stamped(domain);
            let Some(stamp) = stamp else {
                let event = (field, at, None);
                let (kind, skip_reason, rules, _) =
                    render_fresh(entry, risk, templates, member, event, (result, None));
                return (kind, skip_reason, rules, None);
            };
            (Some(result), Token::Stamp(stamp))
        }
    };
    if entry.memo(token.number(), field, seconds).is_none() {
        let answer = match answer {
            Some(result) => (result, None),
            None => lookup.lookup_rendered(domain),
        };
        let event = (field, at, Some(token));
        let (kind, skip_reason, rules, memo) =
            render_fresh(entry, risk, templates, member, event, answer);
        if let Some(memo) = memo {
            entry.set_memo(memo, member, field);
        }
        return (kind, skip_reason, rules, None);
    }
    // The same answer as for an earlier event: its member again, written
    // from where it is kept (not copied into `member` first).
    let entry: &'c NameEntry<N> = entry;
    match entry.memo(token.number(), field, seconds) {
        Some((m, bytes)) => (m.lookup, m.skip_reason, Some(m.rules), Some(bytes)),
        // Not reached (the memo held just above): rendered afresh, not kept.
        None => {
            let answer = match answer {
                Some(result) => (result, None),
                None => lookup.lookup_rendered(domain),
            };
            let event = (field, at, None);
            let (kind, skip_reason, rules, _) =
                render_fresh(entry, risk, templates, member, event, answer);
            (kind, skip_reason, rules, None)
        }
    }
}

/// Render the member of `entry`, a name with no registered domain to look
/// up for `reason`, into `member`.
fn render_skipped<const N: usize>(
    entry: &NameEntry<N>,
    member: &mut Vec<u8>,
    field: &str,
    reason: SkipReason,
) {
    member.extend_from_slice(entry.head());
    output::write_domreg_tail(
        member,
        &DomregMember {
            name: "",
            domain: None,
            field,
            lookup: LookupKind::Skipped,
            skip_reason: Some(reason),
            error: None,
            registration: None,
            risk: Default::default(),
        },
        None,
    );
}

/// Render the member of `entry` (a name with a registered domain) for an
/// event at `at` naming it in `field`, from the lookup's `answer` (with
/// the record's `registration` object when the source keeps it rendered),
/// into `member`: its lookup, skip reason and rules, and the memo to keep
/// it under when the answer has a `token`. The object of a record with a
/// stamp but not rendered is kept in `templates`.
fn render_fresh<const N: usize>(
    entry: &NameEntry<N>,
    risk: &RiskEngine,
    templates: &mut lru::LruCache<u64, RegistrationTemplate>,
    member: &mut Vec<u8>,
    (field, at, token): (&str, DateTime<Utc>, Option<Token>),
    (result, rendered): (LookupResult<'_>, Option<&RegistrationTemplate>),
) -> (
    LookupKind,
    Option<SkipReason>,
    Option<RuleSet>,
    Option<Memo>,
) {
    member.extend_from_slice(entry.head());
    let domain = entry.target().unwrap_or("");
    let (kind, known, error) = classify(result, at);
    let skip_reason = (kind == LookupKind::Skipped).then_some(SkipReason::Overload);
    let risk = risk.assess_with(entry.whois, known);
    let registration = match known {
        Known::Registered(reg, days) => Some((reg, days)),
        _ => None,
    };
    let template = match (rendered, token, registration) {
        (Some(t), _, _) => Some(t),
        (None, Some(Token::Stamp(stamp)), Some((reg, _))) => {
            Some(templates.get_or_insert(stamp, || RegistrationTemplate::new(reg)))
        }
        _ => None,
    };
    output::write_domreg_tail(
        member,
        &DomregMember {
            // The head, with the name and the domain, is in `member`.
            name: "",
            domain: Some(domain),
            field,
            lookup: kind,
            skip_reason,
            error,
            registration,
            risk,
        },
        template,
    );
    let memo = token.map(|token| {
        let (from, to) = match registration {
            Some((reg, _)) => Days::same_within(reg, at),
            None => (i64::MIN, i64::MAX),
        };
        Memo {
            token: token.number(),
            from,
            to,
            lookup: kind,
            skip_reason,
            rules: risk.rules,
            member_end: 0,
        }
    });
    (kind, skip_reason, Some(risk.rules), memo)
}

/// Write `line` (a JSON object, as `scan` found it) with `member` and
/// `threat` added.
fn splice_json(
    scan: &json::Scan,
    line: &str,
    member: &[u8],
    threat: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<Splice, PassReason> {
    let Some(brace) = json::closing_brace(line) else {
        return Err(PassReason::InvalidJson);
    };
    let (head, tail) = (
        line.get(..brace).unwrap_or(""),
        line.get(brace..).unwrap_or("}"),
    );
    let rewrite = scan.has_domreg || (scan.has_threat && threat.is_some());
    if !rewrite {
        // Fast path: the original bytes, then the new members.
        out.extend_from_slice(head.as_bytes());
        if scan.members > 0 {
            out.push(b',');
        }
        push_members(out, member, threat);
        out.extend_from_slice(tail.as_bytes());
        return Ok(Splice::default());
    }
    // Rare path: drop the old `domreg`, merge into the old `threat`.
    let Some(members) = json::members(line) else {
        return Err(PassReason::InvalidJson);
    };
    let mut splice = Splice {
        domreg_replaced: scan.has_domreg,
        threat_merged: false,
    };
    let merged_threat = match threat {
        Some(ours) => {
            let (merged, into_the_events) = merge_threat(line, &members, ours)?;
            splice.threat_merged = into_the_events;
            merged
        }
        None => None,
    };
    // Keep the original bytes between the kept members (the separators
    // and their whitespace), so that enriching domreg's own output gives
    // the same bytes again, whitespace included.
    let open = line.find('{').unwrap_or(0);
    out.extend_from_slice(line.get(..=open).unwrap_or("{").as_bytes());
    let mut first = true;
    let mut prev_end = open + 1;
    for m in &members {
        let drop =
            m.key == json::DOMREG_KEY || (merged_threat.is_some() && m.key == json::THREAT_KEY);
        // Whitespace, then (but before the first member) a comma and whitespace.
        let gap = line.get(prev_end..m.start).unwrap_or("");
        prev_end = m.end;
        let (before_comma, after_comma) = match gap.split_once(',') {
            Some((before, after)) => (before, Some(after)),
            None => (gap, None),
        };
        if drop {
            // Keep the whitespace that followed the previous member.
            if !first {
                out.extend_from_slice(before_comma.as_bytes());
            }
            continue;
        }
        let sep = if first {
            after_comma.unwrap_or(gap)
        } else {
            gap
        };
        out.extend_from_slice(sep.as_bytes());
        first = false;
        out.extend_from_slice(line.get(m.start..m.end).unwrap_or("").as_bytes());
    }
    out.extend_from_slice(line.get(prev_end..brace).unwrap_or("").as_bytes());
    if !first {
        out.push(b',');
    }
    let merged_threat = merged_threat.and_then(|v| serde_json::to_vec(&v).ok());
    push_members(out, member, merged_threat.as_deref());
    out.extend_from_slice(tail.as_bytes());
    Ok(splice)
}

/// domreg's `threat` (`ours`) merged into the event's own, the last
/// `threat` member of `members` (of `line`), and whether there was one to
/// merge into. An event `threat` that is not an object is a conflict.
fn merge_threat(
    line: &str,
    members: &[json::Member],
    ours: &[u8],
) -> Result<(Option<Value>, bool), PassReason> {
    let Ok(ours) = serde_json::from_slice::<Value>(ours) else {
        return Ok((None, false));
    };
    let Some(m) = members.iter().rev().find(|m| m.key == json::THREAT_KEY) else {
        return Ok((Some(ours), false));
    };
    let raw = line.get(m.value_start..m.end).unwrap_or("null");
    let Ok(Value::Object(mut existing)) = serde_json::from_str::<Value>(raw) else {
        return Err(PassReason::ThreatConflict);
    };
    if let Value::Object(ours) = ours {
        output::merge_threat(&mut existing, ours);
    }
    Ok((Some(Value::Object(existing)), true))
}

/// The members alone ([`Enricher::render_members`]): `member` and domreg's
/// `threat` merged into the event's own, as [`splice_json`] merges it, so
/// that a host replacing the event's `threat` with it loses nothing.
fn members_json(
    scan: &json::Scan,
    line: &str,
    member: &[u8],
    threat: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<Splice, PassReason> {
    let Some(ours) = threat.filter(|_| scan.has_threat) else {
        push_members(out, member, threat);
        return Ok(Splice::default());
    };
    let Some(members) = json::members(line) else {
        return Err(PassReason::InvalidJson);
    };
    let (merged, into_the_events) = merge_threat(line, &members, ours)?;
    let merged = merged.and_then(|v| serde_json::to_vec(&v).ok());
    push_members(out, member, merged.as_deref());
    Ok(Splice {
        domreg_replaced: false,
        threat_merged: into_the_events,
    })
}

/// What the splice did besides adding members.
#[derive(Debug, Default, Clone, Copy)]
struct Splice {
    domreg_replaced: bool,
    threat_merged: bool,
}

/// A text event: `{"message":"<line>","domreg":{...}[,"threat":{...}]}`.
fn write_text_event(line: &str, member: &[u8], threat: Option<&[u8]>, out: &mut Vec<u8>) {
    let message = line.strip_suffix('\r').unwrap_or(line);
    out.extend_from_slice(b"{\"message\":");
    output::push_str(out, message);
    out.push(b',');
    push_members(out, member, threat);
    out.push(b'}');
}

/// The `domreg` member (already written in `member`) and, if any, `threat`.
fn push_members(out: &mut Vec<u8>, member: &[u8], threat: Option<&[u8]>) {
    out.extend_from_slice(member);
    if let Some(threat) = threat {
        out.extend_from_slice(b",\"threat\":");
        out.extend_from_slice(threat);
    }
}

/// The ECS `threat` object of `rules` as JSON, made once per rule set.
fn threat_json(
    cache: &mut HashMap<RuleSet, Option<Box<[u8]>>, foldhash::fast::RandomState>,
    rules: RuleSet,
) -> Option<&[u8]> {
    cache
        .entry(rules)
        .or_insert_with(|| {
            output::threat_value(rules)
                .and_then(|v| serde_json::to_vec(&v).ok())
                .map(Vec::into_boxed_slice)
        })
        .as_deref()
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// Parse an ECS `threat` value (used by tests and tools).
pub fn parse_threat(v: &Value) -> Option<&Map<String, Value>> {
    v.get("threat").and_then(Value::as_object)
}

impl SkipReason {
    /// True for names that are not DNS names at all.
    pub fn is_not_a_name(self) -> bool {
        matches!(self, SkipReason::IpLiteral | SkipReason::InvalidName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;
    use crate::cache::{CacheLookup, Cached};
    use chrono::TimeZone;
    use std::collections::HashMap;

    struct Map1(HashMap<String, Registration>);
    impl Lookup for Map1 {
        fn lookup(&mut self, domain: &str) -> LookupResult<'_> {
            match self.0.get(domain) {
                Some(r) => LookupResult::Found(r),
                None => LookupResult::Miss,
            }
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()
    }

    fn source() -> Map1 {
        let mut young = Registration::new("young.com", Source::Snapshot);
        young.created = Some(Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap());
        young.registrar = Some("Reg \"Quoted\" Inc.".into());
        let gone = Registration::not_registered("gone.com", Source::Rdap);
        Map1(HashMap::from([
            ("young.com".to_string(), young),
            ("gone.com".to_string(), gone),
        ]))
    }

    fn run(line: &str) -> (String, Outcome) {
        let mut e = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
        let mut out = Vec::new();
        let o = e.enrich_line(line.as_bytes(), &mut source(), now(), &mut out);
        (String::from_utf8(out).unwrap(), o)
    }

    /// A snapshot that never names a generation, so the enricher asks it
    /// for every event and renders every member afresh.
    struct Fresh<'a>(&'a crate::snapshot::Snapshot);
    impl Lookup for Fresh<'_> {
        fn lookup(&mut self, domain: &str) -> LookupResult<'_> {
            match self.0.get(domain) {
                Some(r) => LookupResult::Found(r),
                None => LookupResult::Miss,
            }
        }
    }

    /// A name cache entry remade in an evicted entry's allocations is the
    /// entry made afresh: nothing of the old name (its registered domain or
    /// skip reason, bytes, whois match or memo) is left over, whatever the
    /// two names are.
    #[test]
    fn evicted_entries_are_remade_in_full() {
        let e = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
        // Up to a name whose entry outgrows the room kept in it (an IDN
        // of 245 bytes: with its Unicode form, about 750 bytes).
        let long_idn = format!("{}example", "xn--bcher-kva.".repeat(17));
        let names = [
            "www.young.com",
            "a-much-longer-name.under.several.labels.example.co.uk",
            "whois.verisign-grs.com",
            "10.0.0.1",
            "printer",
            "Bücher.example",
            "xn--bcher-kva.example",
            "Mail.Example.COM.",
            "",
            &long_idn,
        ];
        check::<ENTRY_BYTES>(&e.risk, &names);
        check::<160>(&e.risk, &names);

        fn check<const N: usize>(risk: &RiskEngine, names: &[&str]) {
            let view = |n: &NameEntry<N>| {
                (
                    n.target().map(str::to_owned),
                    n.whois,
                    n.bytes.as_slice().to_vec(),
                    n.key_len,
                    n.domain_len,
                    n.head_len,
                    n.memo.is_some(),
                )
            };
            for &first in names {
                for &second in names {
                    let mut old = NameEntry::<N>::new(None, first, risk, &mut Vec::new());
                    let member = [old.head(), b"\"lookup\":\"hit\"}"].concat();
                    let memo = Memo {
                        token: 7,
                        from: 0,
                        to: 10,
                        lookup: LookupKind::Hit,
                        skip_reason: None,
                        rules: RuleSet::default(),
                        member_end: 0,
                    };
                    old.set_memo(memo, &member, "query");
                    assert!(old.memo(7, "query", 5).is_some());
                    if first.len() > 200 {
                        assert!(old.bytes.spilled(), "{N}: {} bytes", old.bytes.len());
                    }
                    let reused = NameEntry::new(Some(old), second, risk, &mut Vec::new());
                    let fresh = NameEntry::<N>::new(None, second, risk, &mut Vec::new());
                    let analysed = match domain::analyze(second) {
                        Analysis::Lookup(t) => Ok(t.domain().to_owned()),
                        Analysis::Skip { reason, .. } => Err(reason),
                    };
                    assert_eq!(fresh.target().map(str::to_owned), analysed, "{second}");
                    assert_eq!(
                        view(&reused),
                        view(&fresh),
                        "{N}: {first:?} then {second:?}"
                    );
                    assert_eq!(names::Keyed::key(&*reused), second.as_bytes());
                }
            }
        }
    }

    #[test]
    fn reused_members_are_those_rendered_afresh() {
        // Events one second either side of every day boundary of the
        // record's dates: the memo must never outlive its day counts.
        let mut snapshot = crate::snapshot::Snapshot::new();
        let at = |d: i64, s: u32| Utc.timestamp_opt(d * 86_400 + i64::from(s), 0).unwrap();
        let mut reg = Registration::new("young.com", Source::Snapshot);
        reg.created = Some(at(20_000, 36_000));
        reg.updated = Some(at(20_400, 100));
        reg.expires = Some(at(20_420, 50_000));
        snapshot.insert(reg.clone()).unwrap();
        let mut lines = Vec::new();
        for day in 20_405..20_425 {
            for second in [
                0, 1, 99, 100, 101, 35_999, 36_000, 49_999, 50_000, 50_001, 86_399,
            ] {
                let ts = at(day, second).timestamp();
                // Names of one domain, one of them a whois service, and a
                // name seen in two formats (two fields).
                for name in [
                    "www.young.com",
                    "young.com",
                    "whois.young.com",
                    "www.young.com",
                ] {
                    lines.push(format!(r#"{{"ts":{ts},"uid":"C","query":"{name}"}}"#));
                }
                let iso = at(day, second).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                lines.push(format!(
                    r#"{{"@timestamp":"{iso}","dns":{{"question":{{"name":"www.young.com"}}}}}}"#
                ));
            }
        }
        let render = |lookup: &mut dyn Lookup, lines: &[String]| {
            let mut e = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
            let mut out = Vec::new();
            for l in lines {
                e.enrich_line(l.as_bytes(), lookup, now(), &mut out);
            }
            String::from_utf8(out).unwrap()
        };
        let reused = render(&mut snapshot.clone(), &lines);
        assert_eq!(reused, render(&mut Fresh(&snapshot), &lines));
        // The same from the live cache, whose answers carry stamps.
        let mut cache = crate::cache::RegistrationCache::default();
        cache.insert("young.com".into(), Cached::Registration(reg.clone()), now());
        let stamped = render(&mut CacheLookup::new(&mut cache, now()), &lines);
        assert_eq!(reused, stamped);
        assert!(reused.contains(r#""expires_in_days":0"#), "{reused}");
        assert!(reused.contains(r#""expires_in_days":-1"#), "{reused}");
        assert!(reused.contains(r#""whois_recon""#), "{reused}");
        assert!(
            reused.contains(r#""field":"dns.question.name""#),
            "{reused}"
        );

        // A change to the snapshot is seen by the next event.
        let mut e = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
        let line = br#"{"ts":1764000000,"uid":"C","query":"www.young.com"}"#;
        let mut first = Vec::new();
        e.enrich_line(line, &mut snapshot, now(), &mut first);
        reg.registrar = Some("Changed Registrar".into());
        snapshot.insert(reg).unwrap();
        let mut second = Vec::new();
        e.enrich_line(line, &mut snapshot, now(), &mut second);
        let (first, second) = (
            String::from_utf8(first).unwrap(),
            String::from_utf8(second).unwrap(),
        );
        assert!(!first.contains("Changed Registrar"), "{first}");
        assert!(second.contains("Changed Registrar"), "{second}");
    }

    /// From the live cache, an event sees the answer held when it comes:
    /// a member kept from an earlier event is not reused once the entry
    /// holds another answer, even one stored in the same second.
    #[test]
    fn stamped_answers_are_reused_only_while_they_stand() {
        let t = now();
        let line = br#"{"ts":1764000000,"uid":"C","query":"www.young.com"}"#;
        let mut e = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
        let mut cache = crate::cache::RegistrationCache::default();
        let mut enrich = |cache: &mut crate::cache::RegistrationCache| {
            let mut out = Vec::new();
            e.enrich_line(line, &mut CacheLookup::new(cache, t), t, &mut out);
            String::from_utf8(out).unwrap()
        };
        let error = |code: &str| Cached::Error(code.into());
        let mut reg = Registration::new("young.com", Source::Rdap);
        reg.registrar = Some("First Registrar".into());

        assert!(enrich(&mut cache).contains(r#""lookup":"miss""#));
        cache.insert("young.com".into(), error("timeout"), t);
        for _ in 0..2 {
            assert!(enrich(&mut cache).contains(r#""error":"timeout""#));
        }
        cache.insert("young.com".into(), error("http_429"), t);
        assert!(enrich(&mut cache).contains(r#""error":"http_429""#));
        cache.insert("young.com".into(), Cached::Registration(reg.clone()), t);
        for _ in 0..2 {
            assert!(enrich(&mut cache).contains("First Registrar"));
        }
        // A failed refresh keeps the record (and the member).
        cache.insert("young.com".into(), error("timeout"), t);
        assert!(enrich(&mut cache).contains("First Registrar"));
        reg.registrar = Some("Changed Registrar".into());
        cache.insert("young.com".into(), Cached::Registration(reg.clone()), t);
        assert!(enrich(&mut cache).contains("Changed Registrar"));
        // Evicted, then stored again with another registrar.
        let mut small = crate::cache::RegistrationCache::new(crate::cache::CacheConfig {
            max_entries: 1,
            ..Default::default()
        });
        small.insert("young.com".into(), Cached::Registration(reg.clone()), t);
        assert!(enrich(&mut small).contains("Changed Registrar"));
        let other = Registration::new("other.com", Source::Rdap);
        small.insert("other.com".into(), Cached::Registration(other), t);
        assert!(enrich(&mut small).contains(r#""lookup":"miss""#));
        reg.registrar = Some("Third Registrar".into());
        small.insert("young.com".into(), Cached::Registration(reg), t);
        assert!(enrich(&mut small).contains("Third Registrar"));
    }

    #[test]
    fn splices_without_touching_original_bytes() {
        let line = r#"{"ts":1.50,"uid":"C","query":"www.Young.com.","n":1e3 , "z":{"k":[]}}"#;
        let (out, o) = run(line);
        let Outcome::Enriched(e) = o else {
            panic!("{o:?}")
        };
        assert_eq!((e.format, e.lookup), (Format::Zeek, LookupKind::Hit));
        let prefix = &line[..line.len() - 1];
        assert!(out.starts_with(prefix), "{out}");
        assert!(out.ends_with("}\n"));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["domreg"]["name"], "www.young.com");
        assert_eq!(v["domreg"]["domain"], "young.com");
        assert_eq!(v["domreg"]["lookup"], "hit");
        assert_eq!(
            v["domreg"]["registration"]["registrar"],
            "Reg \"Quoted\" Inc."
        );
        // ts 1.5 is 1970: the domain did not exist yet (negative age).
        assert!(v["domreg"]["registration"]["age_days"].as_i64().unwrap() < 0);
        assert!(v.get("threat").is_none());
    }

    #[test]
    fn ages_at_event_time_and_threat() {
        let line =
            r#"{"@timestamp":"2026-11-22T00:00:00Z","dns":{"question":{"name":"a.young.com"}}}"#;
        let (out, _) = run(line);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["domreg"]["registration"]["age_days"], 2);
        assert_eq!(v["domreg"]["risk"]["reasons"][0], "newly_registered");
        assert_eq!(
            v["threat"]["technique"]["subtechnique"]["id"][0],
            "T1583.001"
        );
    }

    #[test]
    fn not_found_miss_and_skip() {
        let (out, o) = run(r#"{"uid":"C","query":"gone.com"}"#);
        assert_eq!(o.lookup(), Some(LookupKind::NotFound));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["domreg"]["risk"]["reasons"][0], "not_registered");
        let (out, _) = run(r#"{"uid":"C","query":"unknown.org"}"#);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["domreg"]["lookup"], "miss");
        assert_eq!(v["domreg"]["risk"]["score"], 0);
        let (out, _) = run(r#"{"uid":"C","query":"1.0.0.10.in-addr.arpa"}"#);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["domreg"]["lookup"], "skipped");
        assert_eq!(v["domreg"]["skip_reason"], "reverse_lookup");
        assert!(v["domreg"].get("domain").is_none());
    }

    #[test]
    fn overloaded_is_skipped_overload_and_render_does_not_count() {
        struct Full;
        impl Lookup for Full {
            fn lookup(&mut self, _: &str) -> LookupResult<'_> {
                LookupResult::Overloaded
            }
        }
        let mut e = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
        let mut out = Vec::new();
        let o = e.render_line(
            br#"{"uid":"C","query":"young.com"}"#,
            &mut Full,
            now(),
            &mut out,
        );
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["domreg"]["lookup"], "skipped");
        assert_eq!(v["domreg"]["skip_reason"], "overload");
        assert_eq!(v["domreg"]["domain"], "young.com");
        assert_eq!(e.stats().lines_in, 0);
        e.record(o);
        assert_eq!(e.stats().skipped.get("overload"), 1);
        assert_eq!(e.stats().lookups.get("skipped"), 1);
    }

    #[test]
    fn passthrough_is_byte_exact() {
        for (line, reason) in [
            (&b"{\"uid\":\"C\",\"query\":"[..], PassReason::InvalidJson),
            (b"{\"a\":1}", PassReason::NoDomain),
            (b"just text", PassReason::Unrecognised),
            (b"\xff\xfe{", PassReason::InvalidUtf8),
            (b"", PassReason::Unrecognised),
        ] {
            let mut e = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
            let mut out = Vec::new();
            let o = e.enrich_line(line, &mut NoLookup, now(), &mut out);
            assert_eq!(o, Outcome::Passthrough(reason));
            assert_eq!(&out[..out.len() - 1], line);
        }
    }

    #[test]
    fn oversized_passes_through() {
        let mut config = Config::default();
        config.input.max_line_bytes = 64;
        let mut e = Enricher::new(&config, FormatChoice::Auto, &[]).unwrap();
        let line = format!(
            r#"{{"uid":"C","query":"young.com","pad":"{}"}}"#,
            "x".repeat(100)
        );
        let mut out = Vec::new();
        assert_eq!(
            e.enrich_line(line.as_bytes(), &mut NoLookup, now(), &mut out),
            Outcome::Passthrough(PassReason::Oversized)
        );
        assert_eq!(out, format!("{line}\n").into_bytes());
    }

    #[test]
    fn enriching_twice_replaces_domreg_and_merges_threat() {
        let line = r#"{"@timestamp":"2026-11-22T00:00:00Z","threat":{"technique":{"id":["T1071"]}},"dns":{"question":{"name":"a.young.com"}}}"#;
        let (once, _) = run(line);
        let (twice, _) = run(once.trim_end());
        assert_eq!(once, twice);
        let v: Value = serde_json::from_str(&once).unwrap();
        assert_eq!(
            v["threat"]["technique"]["id"],
            serde_json::json!(["T1071", "T1583"])
        );
        assert_eq!(once.matches("\"domreg\"").count(), 1);
    }

    /// A line that starts with a byte order mark is enriched as the line
    /// without it, the mark kept in front; passed through, it is unchanged.
    #[test]
    fn byte_order_mark_is_kept_in_front() {
        let line =
            r#"{"@timestamp":"2026-11-22T00:00:00Z","dns":{"question":{"name":"a.young.com"}}}"#;
        let (plain, _) = run(line);
        let (marked, o) = run(&format!("\u{feff}{line}"));
        assert!(matches!(o, Outcome::Enriched(_)), "{o:?}");
        assert_eq!(marked, format!("\u{feff}{plain}"));
        let text =
            "07-Apr-2022 client 192.168.0.1#57398 UDP: query: a1.young.com IN A response: NOERROR";
        let (plain, _) = run(text);
        let (marked, _) = run(&format!("\u{feff}{text}"));
        assert_eq!(marked, plain);
        for bad in [
            "\u{feff}{\"a\":",
            "\u{feff}{\"a\":1}",
            "\u{feff}",
            "\u{feff}\u{feff}{}",
        ] {
            let (out, o) = run(bad);
            assert!(matches!(o, Outcome::Passthrough(_)), "{o:?}");
            assert_eq!(out, format!("{bad}\n"));
        }
    }

    #[test]
    fn threat_that_is_not_an_object_is_left_alone() {
        let line = r#"{"@timestamp":"2026-11-22T00:00:00Z","threat":"x","dns":{"question":{"name":"a.young.com"}}}"#;
        let (out, o) = run(line);
        assert_eq!(o, Outcome::Passthrough(PassReason::ThreatConflict));
        assert_eq!(out, format!("{line}\n"));
    }

    #[test]
    fn empty_object_and_whitespace() {
        let (out, _) = run(" { \"uid\" : \"C\" , \"query\" : \"young.com\" } \r");
        assert!(out.starts_with(" { \"uid\" : \"C\" , \"query\" : \"young.com\" ,\"domreg\":"));
        assert!(out.ends_with("} \r\n"));
        serde_json::from_str::<Value>(&out).unwrap();
    }

    #[test]
    fn text_event() {
        let (out, o) = run(
            "07-Apr-2022 client 192.168.0.1#57398 UDP: query: a1.young.com IN A response: NOERROR\r",
        );
        assert!(matches!(o, Outcome::Enriched(_)));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["message"],
            "07-Apr-2022 client 192.168.0.1#57398 UDP: query: a1.young.com IN A response: NOERROR"
        );
        assert_eq!(v["domreg"]["domain"], "young.com");
    }

    #[test]
    fn members_are_the_spliced_bytes() {
        for line in [
            r#"{"@timestamp":"2026-11-22T00:00:00Z","dns":{"question":{"name":"a.young.com"}}}"#,
            "07-Apr-2022 client 192.168.0.1#57398 UDP: query: a1.young.com IN A response: NOERROR",
            r#"{"uid":"C","query":"unknown.org"}"#,
            // The event's own `threat` comes back merged with domreg's.
            r#"{"@timestamp":"2026-11-22T00:00:00Z","threat":{"technique":{"id":["T1071"]}},"dns":{"question":{"name":"a.young.com"}}}"#,
        ] {
            let mut e = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
            let mut members = Vec::new();
            let o = e.render_members(line.as_bytes(), &mut source(), now(), &mut members);
            assert!(matches!(o, Outcome::Enriched(_)), "{o:?}");
            assert_eq!(e.stats().lines_in, 0);
            let (full, _) = run(line);
            let members = String::from_utf8(members).unwrap();
            assert!(members.starts_with("\"domreg\":{"), "{members}");
            assert!(full.ends_with(&format!("{members}}}\n")), "{full}");
            let v: Value = serde_json::from_str(&format!("{{{members}}}")).unwrap();
            let f: Value = serde_json::from_str(&full).unwrap();
            assert_eq!(v["domreg"], f["domreg"]);
            assert_eq!(v.get("threat"), f.get("threat"));
        }
        // Nothing for a line that passes through.
        let mut e = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
        let mut members = Vec::new();
        for line in [
            "{\"a\":1}",
            "just text",
            "{bad",
            r#"{"uid":"C","query":"young.com","threat":"x"}"#,
        ] {
            let o = e.render_members(line.as_bytes(), &mut source(), now(), &mut members);
            assert!(matches!(o, Outcome::Passthrough(_)), "{o:?}");
        }
        assert!(members.is_empty());
    }

    #[test]
    fn stats_count_everything() {
        let mut e = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
        let mut out = Vec::new();
        let mut src = source();
        for line in [
            r#"{"uid":"C","query":"young.com"}"#,
            r#"{"uid":"C","query":"wpad"}"#,
            "garbage",
            "{bad",
        ] {
            e.enrich_line(line.as_bytes(), &mut src, now(), &mut out);
        }
        let s = e.stats();
        assert_eq!((s.lines_in, s.lines_out), (4, 4));
        assert_eq!(s.formats.get("zeek"), 2);
        assert_eq!(s.lookups.get("hit"), 1);
        assert_eq!(s.skipped.get("single_label"), 1);
        assert_eq!(s.passed_through.get("unrecognised"), 1);
        assert_eq!(s.passed_through.get("invalid_json"), 1);
    }
}
