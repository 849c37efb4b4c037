//! Writing the members domreg adds to an event: `domreg` and ECS `threat`.
//!
//! Everything is written straight into the output buffer; strings from
//! events and registries are JSON-escaped here, so nothing they contain can
//! break the event's JSON or add members.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::Registration;
use crate::attack::FRAMEWORK;
use crate::domain::SkipReason;
use crate::risk::{Days, Risk, RuleSet};

/// What the lookup of an event's registered domain gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum LookupKind {
    /// Registration data found, whatever its source.
    Hit,
    /// No data for the domain (offline, not in the snapshot).
    Miss,
    /// The registry says the domain is not registered.
    NotFound,
    /// Not looked up: see `skip_reason`.
    Skipped,
    /// The lookup failed.
    Error,
    /// The lookup had not finished when the event had to go.
    Pending,
}

impl LookupKind {
    /// Every kind, in summary order.
    pub const ALL: [LookupKind; 6] = [
        LookupKind::Hit,
        LookupKind::Miss,
        LookupKind::NotFound,
        LookupKind::Skipped,
        LookupKind::Error,
        LookupKind::Pending,
    ];

    /// The value of `domreg.lookup`.
    pub fn as_str(self) -> &'static str {
        match self {
            LookupKind::Hit => "hit",
            LookupKind::Miss => "miss",
            LookupKind::NotFound => "not_found",
            LookupKind::Skipped => "skipped",
            LookupKind::Error => "error",
            LookupKind::Pending => "pending",
        }
    }
}

/// Everything that goes into one `domreg` member.
#[derive(Debug, Clone)]
pub struct DomregMember<'a> {
    /// The normalised name (A-labels).
    pub name: &'a str,
    /// The registered domain, when there is one.
    pub domain: Option<&'a str>,
    /// Where the name was found.
    pub field: &'a str,
    /// The lookup outcome.
    pub lookup: LookupKind,
    /// Why it was skipped.
    pub skip_reason: Option<SkipReason>,
    /// An error code, for `lookup: error`.
    pub error: Option<&'a str>,
    /// The registration and its day counts, for `lookup: hit`.
    pub registration: Option<(&'a Registration, Days)>,
    /// The assessment.
    pub risk: Risk,
}

/// Append `"domreg":{...}` to `out`.
pub fn write_domreg(out: &mut Vec<u8>, m: &DomregMember<'_>) {
    write_domreg_with(out, m, None);
}

/// [`write_domreg`], with the `registration` object from `template` (made
/// for `m.registration`'s record) instead of rendered afresh.
pub(crate) fn write_domreg_with(
    out: &mut Vec<u8>,
    m: &DomregMember<'_>,
    template: Option<&RegistrationTemplate>,
) {
    write_domreg_head(out, m.name, m.domain);
    write_domreg_tail(out, m, template);
}

/// `key` and the Unicode form of `name` when it has A-labels that decode
/// (an `xn--` label that does not is left without one, not given U+FFFD).
fn push_unicode(out: &mut Vec<u8>, key: &[u8], name: &str) {
    if !has_a_label(name) {
        return;
    }
    if let (unicode, Ok(())) = idna::domain_to_unicode(name) {
        out.extend_from_slice(key);
        push_str(out, &unicode);
    }
}

/// The start of the `domreg` member, which depends on the name only:
/// `"domreg":{"name":...` and the Unicode form and registered domain.
pub(crate) fn write_domreg_head(out: &mut Vec<u8>, name: &str, domain: Option<&str>) {
    out.extend_from_slice(b"\"domreg\":{\"name\":");
    push_str(out, name);
    push_unicode(out, b",\"name_unicode\":", name);
    if let Some(domain) = domain {
        out.extend_from_slice(b",\"domain\":");
        push_str(out, domain);
        push_unicode(out, b",\"domain_unicode\":", domain);
    }
}

/// The rest of the `domreg` member after [`write_domreg_head`] (`m.name`
/// and `m.domain` are not used).
pub(crate) fn write_domreg_tail(
    out: &mut Vec<u8>,
    m: &DomregMember<'_>,
    template: Option<&RegistrationTemplate>,
) {
    out.extend_from_slice(b",\"field\":");
    push_str(out, m.field);
    out.extend_from_slice(b",\"lookup\":");
    push_name(out, m.lookup.as_str());
    if let Some(reason) = m.skip_reason {
        out.extend_from_slice(b",\"skip_reason\":");
        push_name(out, reason.as_str());
    }
    if let Some(error) = m.error {
        out.extend_from_slice(b",\"error\":");
        push_str(out, error);
    }
    if let Some((reg, days)) = m.registration {
        out.extend_from_slice(b",\"registration\":");
        match template {
            Some(t) => t.write(out, &days),
            None => write_registration(out, reg, &mut |out, _, n| push_int(out, n), &days),
        }
    }
    out.extend_from_slice(b",\"risk\":{\"score\":");
    push_int(out, i64::from(m.risk.score));
    out.extend_from_slice(b",\"reasons\":[");
    for (i, rule) in m.risk.rules.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_name(out, rule.as_str());
    }
    out.extend_from_slice(b"]}}");
}

/// Which day count goes into a hole of a [`RegistrationTemplate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayField {
    Age,
    ExpiresIn,
    UpdatedAgo,
    TransferredAgo,
}

impl DayField {
    fn of(self, days: &Days) -> Option<i64> {
        match self {
            DayField::Age => days.age,
            DayField::ExpiresIn => days.expires_in,
            DayField::UpdatedAgo => days.updated_ago,
            DayField::TransferredAgo => days.transferred_ago,
        }
    }

    /// Its byte in a template's header.
    fn code(self) -> u8 {
        self as u8
    }

    fn from_code(code: u8) -> Option<DayField> {
        [
            DayField::Age,
            DayField::ExpiresIn,
            DayField::UpdatedAgo,
            DayField::TransferredAgo,
        ]
        .into_iter()
        .find(|f| f.code() == code)
    }
}

/// Bytes of a hole in a [`RegistrationTemplate`]'s header: its offset in
/// the object (a `usize`'s bytes) and its [`DayField::code`].
const HOLE: usize = size_of::<usize>() + 1;

/// The `registration` object of one record, rendered once: everything but
/// the day counts, which depend on the event's time and are written into
/// the holes per event. Made per registered domain and reused while the
/// record is unchanged.
///
/// One allocation, which a record holds directly: the number of holes, the
/// holes (`HOLE` bytes each), then the object. A name seen for the first
/// time reads the template from cold memory, and each pointer followed
/// would be one more wait on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationTemplate {
    buf: Box<[u8]>,
}

impl RegistrationTemplate {
    /// The template of `reg`'s object.
    pub(crate) fn new(reg: &Registration) -> RegistrationTemplate {
        let mut bytes = Vec::with_capacity(256);
        // At most four holes, one per date.
        let mut holes: Vec<(usize, DayField)> = Vec::with_capacity(4);
        // Every dated member gets its count (Days::at gives one per date).
        let all = Days {
            age: Some(0),
            expires_in: Some(0),
            updated_ago: Some(0),
            transferred_ago: Some(0),
        };
        write_registration(
            &mut bytes,
            reg,
            &mut |out, which, _| holes.push((out.len(), which)),
            &all,
        );
        let mut buf = Vec::with_capacity(1 + HOLE * holes.len() + bytes.len());
        buf.push(u8::try_from(holes.len()).unwrap_or(0));
        for (at, which) in holes {
            buf.extend_from_slice(&at.to_ne_bytes());
            buf.push(which.code());
        }
        buf.extend_from_slice(&bytes);
        RegistrationTemplate {
            buf: buf.into_boxed_slice(),
        }
    }

    /// Its holes (the header) and the object with nothing in each hole.
    fn parts(&self) -> (&[u8], &[u8]) {
        let (&n, rest) = self.buf.split_first().unwrap_or((&0, &[]));
        rest.split_at_checked(HOLE * usize::from(n))
            .unwrap_or((&[], rest))
    }

    /// Append the object with the counts of `days`.
    fn write(&self, out: &mut Vec<u8>, days: &Days) {
        let (holes, bytes) = self.parts();
        let mut from = 0;
        for hole in holes.chunks_exact(HOLE) {
            let Some((&code, at)) = hole.split_last() else {
                continue;
            };
            let at = <[u8; size_of::<usize>()]>::try_from(at).map_or(0, usize::from_ne_bytes);
            out.extend_from_slice(bytes.get(from..at).unwrap_or(&[]));
            // A count is missing only for a date the record lacks, and
            // then the template has no hole for it; write 0 rather than
            // break the JSON should a caller pass other counts.
            let count = DayField::from_code(code).and_then(|f| f.of(days));
            push_int(out, count.unwrap_or(0));
            from = at;
        }
        out.extend_from_slice(bytes.get(from..).unwrap_or(&[]));
    }
}

/// True when `name` may hold an IDNA A-label (`xn--`).
fn has_a_label(name: &str) -> bool {
    // Most names have no `-` at all.
    memchr::memchr(b'-', name.as_bytes()).is_some()
        && name.as_bytes().windows(4).any(|w| w == b"xn--")
}

/// The `registration` object of `reg`; `count` writes the day count of a
/// dated member (`days` says which dates have one).
fn write_registration(
    out: &mut Vec<u8>,
    reg: &Registration,
    count: &mut dyn FnMut(&mut Vec<u8>, DayField, i64),
    days: &Days,
) {
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, k: &'static str| {
        if !first {
            out.push(b',');
        }
        first = false;
        push_name(out, k);
        out.push(b':');
    };
    out.push(b'{');
    let dated = [
        ("created", reg.created, "age_days", DayField::Age),
        (
            "expires",
            reg.expires,
            "expires_in_days",
            DayField::ExpiresIn,
        ),
        (
            "updated",
            reg.updated,
            "updated_days_ago",
            DayField::UpdatedAgo,
        ),
        (
            "transferred",
            reg.transferred,
            "transferred_days_ago",
            DayField::TransferredAgo,
        ),
    ];
    for (name, when, days_name, which) in dated {
        if let Some(when) = when {
            key(out, name);
            push_time(out, when);
            if let Some(n) = which.of(days) {
                key(out, days_name);
                count(out, which, n);
            }
        }
    }
    if !reg.status.is_empty() {
        key(out, "status");
        push_str_array(out, &reg.status);
    }
    if let Some(registrar) = &reg.registrar {
        key(out, "registrar");
        push_str(out, registrar);
    }
    if let Some(id) = reg.registrar_iana_id {
        key(out, "registrar_iana_id");
        push_int(out, i64::from(id));
    }
    if !reg.nameservers.is_empty() {
        key(out, "nameservers");
        push_str_array(out, &reg.nameservers);
    }
    key(out, "privacy");
    out.extend_from_slice(if reg.privacy { b"true" } else { b"false" });
    key(out, "source");
    push_name(out, reg.source.as_str());
    out.push(b'}');
}

/// The ECS `threat` object for the techniques of `rules`, or None when no
/// rule points to a technique.
pub fn threat_value(rules: RuleSet) -> Option<Value> {
    let techniques = rules.techniques();
    if techniques.is_empty() {
        return None;
    }
    let mut tactic_ids: Vec<&str> = Vec::new();
    let mut tactic = Lists::default();
    let mut technique = Lists::default();
    let mut sub = Lists::default();
    for t in &techniques {
        if !tactic_ids.contains(&t.tactic.id) {
            tactic_ids.push(t.tactic.id);
            tactic.push(t.tactic.id, t.tactic.name, t.tactic.reference);
        }
        if !technique.ids.contains(&Value::from(t.id)) {
            technique.push(t.id, t.name, t.reference);
        }
        if let Some(s) = t.subtechnique {
            sub.push(s.id, s.name, s.reference);
        }
    }
    let mut technique = technique.into_map();
    if !sub.ids.is_empty() {
        technique.insert("subtechnique".into(), Value::Object(sub.into_map()));
    }
    let mut threat = Map::new();
    threat.insert("framework".into(), Value::from(FRAMEWORK));
    threat.insert("tactic".into(), Value::Object(tactic.into_map()));
    threat.insert("technique".into(), Value::Object(technique));
    Some(Value::Object(threat))
}

#[derive(Default)]
struct Lists {
    ids: Vec<Value>,
    names: Vec<Value>,
    references: Vec<Value>,
}

impl Lists {
    fn push(&mut self, id: &str, name: &str, reference: &str) {
        self.ids.push(id.into());
        self.names.push(name.into());
        self.references.push(reference.into());
    }

    fn into_map(self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), Value::Array(self.ids));
        m.insert("name".into(), Value::Array(self.names));
        m.insert("reference".into(), Value::Array(self.references));
        m
    }
}

/// Merge domreg's `threat` object into an event's existing one.
///
/// ECS keeps `id`, `name` and `reference` of a tactic, technique or
/// sub-technique in parallel lists, so entries are merged by `id`: each of
/// ours whose id the event lacks is appended to `id`, and its name and
/// reference to `name` and `reference` when those lists line up with `id`
/// (same length; a list the event does not have counts as lined up only
/// while `id` is empty). A scalar becomes a list holding it. Other members
/// merge key by key; scalars the event already has (its `framework`) are
/// kept. Merging twice changes nothing.
pub fn merge_threat(existing: &mut Map<String, Value>, ours: Map<String, Value>) {
    for (key, value) in ours {
        match (existing.get_mut(&key), value) {
            (None, value) => {
                existing.insert(key, value);
            }
            (Some(Value::Object(e)), Value::Object(o)) => merge_object(e, o),
            // A value the event already has, of another shape, is kept.
            (Some(_), _) => {}
        }
    }
}

fn merge_object(existing: &mut Map<String, Value>, mut ours: Map<String, Value>) {
    if let Some(Value::Array(our_ids)) = ours.remove("id") {
        let our_names = take_list(&mut ours, "name");
        let our_refs = take_list(&mut ours, "reference");
        let n = as_list(existing, "id").map_or(0, |ids| ids.len());
        let aligned = |m: &Map<String, Value>, k: &str| match m.get(k) {
            None => n == 0,
            Some(Value::Array(a)) => a.len() == n,
            Some(_) => n == 1,
        };
        let names_aligned = aligned(existing, "name");
        let refs_aligned = aligned(existing, "reference");
        for (i, id) in our_ids.into_iter().enumerate() {
            let Some(ids) = as_list(existing, "id") else {
                continue;
            };
            if ids.contains(&id) {
                continue;
            }
            ids.push(id);
            for (aligned, key, ours) in [
                (names_aligned, "name", &our_names),
                (refs_aligned, "reference", &our_refs),
            ] {
                if aligned
                    && let Some(value) = ours.get(i)
                    && let Some(list) = as_list(existing, key)
                {
                    list.push(value.clone());
                }
            }
        }
    }
    merge_threat(existing, ours);
}

fn take_list(m: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match m.remove(key) {
        Some(Value::Array(a)) => a,
        Some(v) => vec![v],
        None => Vec::new(),
    }
}

/// The list at `key`, made a list first if it is missing or a scalar.
fn as_list<'m>(m: &'m mut Map<String, Value>, key: &str) -> Option<&'m mut Vec<Value>> {
    let slot = m.entry(key).or_insert(Value::Null);
    let list = match slot.take() {
        Value::Array(list) => list,
        Value::Null => Vec::new(),
        scalar => vec![scalar],
    };
    *slot = Value::Array(list);
    slot.as_array_mut()
}

/// Append one of domreg's own names (a member name, a lookup kind, a
/// rule): a constant that needs no escapes (`names_need_no_escapes`), so it
/// is copied between quotes without looking at its bytes.
fn push_name(out: &mut Vec<u8>, name: &'static str) {
    out.reserve(name.len() + 2);
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
}

/// Append `s` as a JSON string.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    // `"`, `\\` and control characters need escapes (serde_json's rules);
    // anything else is copied as it is.
    if crate::json::find_special(s.as_bytes(), 0) == s.len() {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

fn push_str_array<S: AsRef<str>>(out: &mut Vec<u8>, items: &[S]) {
    out.push(b'[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, s.as_ref());
    }
    out.push(b']');
}

fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        at -= 1;
        if let Some(slot) = buf.get_mut(at) {
            // `v % 10 < 10`, so the cast cannot truncate.
            *slot = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || at == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(buf.get(at..).unwrap_or(&[]));
}

fn push_time(out: &mut Vec<u8>, t: DateTime<Utc>) {
    if !push_time_fast(out, t) {
        push_str(out, &t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    }
}

/// `"YYYY-MM-DDTHH:MM:SSZ"` for a whole-second time in years 0 to 9999
/// (what chrono's RFC 3339 form with `AutoSi` gives for it), without
/// chrono's formatter; false, writing nothing, for any other time.
fn push_time_fast(out: &mut Vec<u8>, t: DateTime<Utc>) -> bool {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if t.nanosecond() != 0 || !(0..=9999).contains(&year) {
        return false;
    }
    // `0 <= year <= 9999`: the cast cannot wrap.
    let year = year as u32;
    let digits = |n: u32| b'0' + (n % 10) as u8;
    let two = |n: u32| [digits(n / 10), digits(n)];
    let [m0, m1] = two(t.month());
    let [d0, d1] = two(t.day());
    let [h0, h1] = two(t.hour());
    let [i0, i1] = two(t.minute());
    let [s0, s1] = two(t.second());
    out.extend_from_slice(&[
        b'"',
        digits(year / 1000),
        digits(year / 100),
        digits(year / 10),
        digits(year),
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        i0,
        i1,
        b':',
        s0,
        s1,
        b'Z',
        b'"',
    ]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;
    use crate::risk::Rule;
    use serde_json::json;

    /// The Unicode forms are given for A-labels that decode, and left out
    /// for an `xn--` label that does not (not given U+FFFD).
    #[test]
    fn unicode_forms_only_where_they_decode() {
        let head = |name: &str, domain: Option<&str>| {
            let mut out = b"{".to_vec();
            write_domreg_head(&mut out, name, domain);
            out.extend_from_slice(b"}}");
            serde_json::from_slice::<serde_json::Value>(&out).unwrap()["domreg"].clone()
        };
        let ok = head("www.xn--bcher-kva.de", Some("xn--bcher-kva.de"));
        assert_eq!(ok["name_unicode"], "www.bücher.de");
        assert_eq!(ok["domain_unicode"], "bücher.de");
        let bad = head("xn--zz.com", None);
        assert_eq!(bad, json!({"name": "xn--zz.com"}));
        let plain = head("www.example.com", Some("example.com"));
        assert_eq!(
            plain,
            json!({"name": "www.example.com", "domain": "example.com"})
        );
    }

    #[test]
    fn names_need_no_escapes() {
        // The variants' names push_name writes. (The registration object's
        // member names, the other names it writes, are literals in
        // write_registration: letters and underscores.)
        let mut names: Vec<&'static str> = Vec::new();
        names.extend(LookupKind::ALL.map(LookupKind::as_str));
        names.extend(SkipReason::ALL.map(SkipReason::as_str));
        names.extend(Rule::ALL.map(Rule::as_str));
        names.extend([Source::Rdap, Source::Snapshot, Source::Whois].map(Source::as_str));
        for name in names {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            push_name(&mut ours, name);
            push_str(&mut theirs, name);
            assert_eq!(ours, theirs, "{name}");
        }
    }

    #[test]
    fn push_time_matches_chrono() {
        use chrono::TimeZone;
        let mut times = vec![
            Utc.with_ymd_and_hms(1995, 8, 14, 4, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 24, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2000, 2, 29, 12, 30, 7).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ];
        assert!(push_time_fast(&mut Vec::new(), times[0]));
        times.push(times[0] + chrono::Duration::milliseconds(5));
        times.push(times[0] + chrono::Duration::nanoseconds(1));
        for t in times {
            let mut ours = Vec::new();
            push_time(&mut ours, t);
            let mut theirs = Vec::new();
            push_str(&mut theirs, &t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        push_str(&mut out, "a\"b\\c\n\u{1}\u{7f}é");
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\"b\\c\n\u{1}\u{7f}é");
    }

    /// The template path writes the same bytes as rendering afresh, for
    /// records with and without each date and for any day counts.
    #[test]
    fn template_matches_fresh_rendering() {
        use crate::Source;
        use chrono::TimeZone;
        let t = |d| Utc.with_ymd_and_hms(2020, 1, d, 12, 30, 0).unwrap();
        let mut full = Registration::new("ex\"ample.com", Source::Rdap);
        full.created = Some(t(1));
        full.expires = Some(t(2));
        full.updated = Some(t(3));
        full.transferred = Some(t(4));
        full.status = vec!["clientHold".into(), "x\ny".into()].into();
        full.registrar = Some("Reg, Inc.".into());
        full.registrar_iana_id = Some(292);
        full.nameservers = vec!["ns1.example.com".into()];
        full.privacy = true;
        let mut sparse = Registration::new("example.org", Source::Snapshot);
        sparse.expires = Some(t(5));
        let empty = Registration::new("example.net", Source::Whois);
        for reg in [&full, &sparse, &empty] {
            let template = RegistrationTemplate::new(reg);
            for at in [
                t(1),
                t(9),
                Utc.with_ymd_and_hms(1999, 5, 5, 0, 0, 0).unwrap(),
            ] {
                let days = Days::at(reg, at);
                let m = DomregMember {
                    name: "www.example.com",
                    domain: Some("example.com"),
                    field: "query",
                    lookup: LookupKind::Hit,
                    skip_reason: None,
                    error: None,
                    registration: Some((reg, days)),
                    risk: Risk::default(),
                };
                let (mut fresh, mut templated) = (Vec::new(), Vec::new());
                write_domreg(&mut fresh, &m);
                write_domreg_with(&mut templated, &m, Some(&template));
                assert_eq!(
                    String::from_utf8(fresh).unwrap(),
                    String::from_utf8(templated).unwrap()
                );
            }
        }
    }

    #[test]
    fn integers_and_clean_strings() {
        for n in [0, 7, -7, 10, 1234567, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_int(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
        let mut out = Vec::new();
        push_str(&mut out, "a\u{7f}é");
        assert_eq!(out, serde_json::to_vec("a\u{7f}é").unwrap());
    }

    #[test]
    fn threat_object() {
        let mut rules = RuleSet::default();
        rules.insert(Rule::NewlyRegistered);
        rules.insert(Rule::OnHold);
        rules.insert(Rule::Privacy);
        rules.insert(Rule::WhoisRecon);
        let v = threat_value(rules).unwrap();
        assert_eq!(v["framework"], "MITRE ATT&CK");
        assert_eq!(v["tactic"]["id"], json!(["TA0042", "TA0011", "TA0043"]));
        assert_eq!(
            v["technique"]["id"],
            json!(["T1583", "T1665", "T1590", "T1596"])
        );
        assert_eq!(
            v["technique"]["subtechnique"]["id"],
            json!(["T1583.001", "T1590.001", "T1596.002"])
        );
        assert_eq!(
            v["technique"]["subtechnique"]["name"],
            json!(["Domains", "Domain Properties", "WHOIS"])
        );
        let mut none = RuleSet::default();
        none.insert(Rule::Expired);
        assert_eq!(threat_value(none), None);
    }

    #[test]
    fn threat_merge_keeps_lists_aligned() {
        // Two sub-techniques share the name "Domains": merge by id, not by value.
        let mut existing = json!({"technique":{"subtechnique":{"id":["T1583.001"],"name":["Domains"],"reference":["r1"]}}});
        let mut rules = RuleSet::default();
        rules.insert(Rule::RecentlyChanged);
        let Value::Object(ours) = threat_value(rules).unwrap() else {
            panic!()
        };
        let Value::Object(e) = &mut existing else {
            panic!()
        };
        merge_threat(e, ours);
        let sub = &existing["technique"]["subtechnique"];
        assert_eq!(sub["id"], json!(["T1583.001", "T1584.001"]));
        assert_eq!(sub["name"], json!(["Domains", "Domains"]));
        assert_eq!(sub["reference"].as_array().unwrap().len(), 2);
        // An event whose lists do not line up gets ids only.
        let mut existing =
            json!({"technique":{"id":["T1071"],"name":["Application Layer Protocol"]}});
        let Value::Object(ours) = threat_value(rules).unwrap() else {
            panic!()
        };
        let Value::Object(e) = &mut existing else {
            panic!()
        };
        merge_threat(e, ours);
        assert_eq!(existing["technique"]["id"], json!(["T1071", "T1584"]));
        assert_eq!(
            existing["technique"]["name"],
            json!(["Application Layer Protocol", "Compromise Infrastructure"])
        );
        assert!(existing["technique"].get("reference").is_none());
    }

    #[test]
    fn threat_merge() {
        let mut existing = json!({"framework":"MITRE ATT&CK","technique":{"id":"T1071","name":["Application Layer Protocol"]},"indicator":{"type":"domain-name"}});
        let mut rules = RuleSet::default();
        rules.insert(Rule::NewlyRegistered);
        let Value::Object(ours) = threat_value(rules).unwrap() else {
            panic!()
        };
        let Value::Object(e) = &mut existing else {
            panic!()
        };
        merge_threat(e, ours.clone());
        assert_eq!(existing["technique"]["id"], json!(["T1071", "T1583"]));
        assert_eq!(
            existing["technique"]["subtechnique"]["id"],
            json!(["T1583.001"])
        );
        assert_eq!(existing["indicator"]["type"], "domain-name");
        // Merging again changes nothing.
        let before = existing.clone();
        let Value::Object(e) = &mut existing else {
            panic!()
        };
        merge_threat(e, ours);
        assert_eq!(existing, before);
    }
}
