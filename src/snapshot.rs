//! The offline registration source: a set of [`Registration`] records keyed
//! by registered domain, read from and written to JSON Lines (the schema in
//! `docs/registrations.md`, which the live cache also exports).
//!
//! Pure: the caller reads the file and hands over lines.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use hashbrown::HashTable;

use crate::domain::{self, Analysis};
use crate::enrich::{Lookup, LookupResult};
use crate::output::RegistrationTemplate;
use crate::{Error, Registration};

/// Registration records by registered domain.
///
/// Each record keeps its `registration` object rendered once, on first use
/// ([`Snapshot::get_rendered`]), so an event whose domain is in the
/// snapshot costs no rendering of it.
///
/// Laid out for size, since a snapshot may hold millions of records: the
/// records sit in one vector, and the hash table holds only their indices
/// (keyed by each record's own `domain`, so the name is stored once), each
/// with 32 bits of its domain's hash. Those bits give the table the whole
/// hash when it grows, and let a look-up pass over another domain's slot,
/// without reading the record.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    records: Vec<Record>,
    /// (record index, [`Snapshot::hash`] of its domain).
    index: HashTable<(u32, u32)>,
    hasher: foldhash::fast::RandomState,
    /// [`Lookup::generation`]: a new value on every change.
    generation: u64,
}

#[derive(Debug, Clone)]
struct Record {
    reg: Registration,
    rendered: OnceLock<RegistrationTemplate>,
}

impl PartialEq for Snapshot {
    fn eq(&self, other: &Snapshot) -> bool {
        self.len() == other.len()
            && self
                .records()
                .all(|r| other.get(&r.domain).is_some_and(|o| o == r))
    }
}

impl Snapshot {
    /// An empty snapshot.
    pub fn new() -> Self {
        Snapshot::default()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// [`Lookup::generation`] of the snapshot, for a [`Lookup`] that
    /// shares it: a new value after every change.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// 32 bits of `domain`'s hash.
    fn hash(&self, domain: &str) -> u32 {
        // The high half: foldhash mixes it best.
        (self.hasher.hash_one(domain) >> 32) as u32
    }

    /// The table's hash for 32 bits `h` of a domain's hash: `h` in both
    /// halves, so that the table's bucket (its low bits) and its tag (its
    /// top seven) both come from `h`, from bits that do not overlap below
    /// 2^25 buckets.
    fn table_hash(h: u32) -> u64 {
        u64::from(h) << 32 | u64::from(h)
    }

    /// The index of `domain`'s record, and [`Snapshot::hash`] of `domain`.
    fn find(&self, domain: &str) -> (Option<usize>, u32) {
        let h = self.hash(domain);
        let records = &self.records;
        let found = self
            .index
            .find(Self::table_hash(h), |&(i, hi)| {
                hi == h
                    && records.get(i as usize).is_some_and(|r| {
                        crate::bytes::eq(r.reg.domain.as_bytes(), domain.as_bytes())
                    })
            })
            .map(|&(i, _)| i as usize);
        (found, h)
    }

    fn record(&self, domain: &str) -> Option<&Record> {
        self.find(domain).0.and_then(|i| self.records.get(i))
    }

    /// The record for `domain` (a registered domain in A-labels).
    pub fn get(&self, domain: &str) -> Option<&Registration> {
        self.record(domain).map(|r| &r.reg)
    }

    /// The record for `domain` and its `registration` object rendered but
    /// for the day counts (made on the first call for the record; safe to
    /// call from several threads sharing the snapshot).
    pub fn get_rendered(&self, domain: &str) -> Option<(&Registration, &RegistrationTemplate)> {
        self.record(domain).map(|r| {
            let t = r.rendered.get_or_init(|| RegistrationTemplate::new(&r.reg));
            (&r.reg, t)
        })
    }

    /// Add or replace a record. Its domain is normalised first; a name that
    /// is not itself a registered domain (`www.example.com`, `co.uk`) is
    /// refused, as is a record beyond the 4,294,967,295th.
    pub fn insert(&mut self, mut reg: Registration) -> Result<(), String> {
        reg.domain = registered_key(&reg.domain)?;
        reg.shrink_to_fit();
        self.generation = crate::enrich::new_generation();
        let record = Record {
            reg,
            rendered: OnceLock::new(),
        };
        let (found, h) = self.find(&record.reg.domain);
        if let Some(i) = found {
            if let Some(slot) = self.records.get_mut(i) {
                *slot = record;
            }
            return Ok(());
        }
        let Ok(i) = u32::try_from(self.records.len()) else {
            return Err("too many registration records".to_string());
        };
        self.records.push(record);
        self.index
            .insert_unique(Self::table_hash(h), (i, h), |&(_, h)| Self::table_hash(h));
        Ok(())
    }

    /// Parse one JSON Lines line (1-based `line_no` for messages) and add it.
    /// Blank lines and lines starting with `#` are ignored.
    pub fn add_line(&mut self, line: &str, line_no: usize) -> Result<(), Error> {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(());
        }
        let reg: Registration = serde_json::from_str(trimmed).map_err(|e| Error::Snapshot {
            line: line_no,
            message: e.to_string(),
        })?;
        self.insert(reg).map_err(|message| Error::Snapshot {
            line: line_no,
            message,
        })
    }

    /// Parse a whole JSON Lines document; returns the errors of the lines
    /// that could not be used (the others are loaded).
    pub fn add_jsonl(&mut self, text: &str) -> Vec<Error> {
        text.lines()
            .enumerate()
            .filter_map(|(i, line)| self.add_line(line, i + 1).err())
            .collect()
    }

    /// The records, in the order they were first added.
    pub fn records(&self) -> impl Iterator<Item = &Registration> {
        self.records.iter().map(|r| &r.reg)
    }

    /// The records, consumed, in the order they were first added.
    pub fn into_records(self) -> impl Iterator<Item = Registration> {
        self.records.into_iter().map(|r| r.reg)
    }

    /// Hand every record to `f`, in the order of `cmp`, freeing the
    /// snapshot's memory as it goes: the vector is shrunk whenever a
    /// sixteenth of it is spare, so that a caller moving the records
    /// elsewhere holds little more than one copy of them at any time.
    pub fn drain_sorted(
        self,
        mut cmp: impl FnMut(&Registration, &Registration) -> std::cmp::Ordering,
        mut f: impl FnMut(Registration),
    ) {
        let mut records = self.records;
        drop(self.index);
        // Last first: popping from the end then gives `cmp`'s order.
        records.sort_unstable_by(|a, b| cmp(&b.reg, &a.reg));
        while let Some(r) = records.pop() {
            f(r.reg);
            let spare = records.capacity() - records.len();
            if records.capacity() > 4096 && spare >= records.capacity() / 16 {
                records.shrink_to_fit();
            }
        }
    }

    /// All records as JSON Lines, sorted by domain.
    pub fn to_jsonl(&self) -> String {
        let mut regs: Vec<&Registration> = self.records().collect();
        regs.sort_by(|a, b| a.domain.cmp(&b.domain));
        let mut out = String::new();
        for r in regs {
            if let Ok(line) = serde_json::to_string(r) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

impl Lookup for Snapshot {
    fn lookup(&mut self, domain: &str) -> LookupResult<'_> {
        found(self, domain)
    }

    fn lookup_rendered(
        &mut self,
        domain: &str,
    ) -> (LookupResult<'_>, Option<&RegistrationTemplate>) {
        rendered(self, domain)
    }

    fn generation(&self) -> Option<u64> {
        Some(self.generation)
    }
}

/// A snapshot shared read-only, by several enrichers on several threads
/// (`domreg enrich --threads N`).
impl Lookup for &Snapshot {
    fn lookup(&mut self, domain: &str) -> LookupResult<'_> {
        found(self, domain)
    }

    fn lookup_rendered(
        &mut self,
        domain: &str,
    ) -> (LookupResult<'_>, Option<&RegistrationTemplate>) {
        rendered(self, domain)
    }

    fn generation(&self) -> Option<u64> {
        Some(self.generation)
    }
}

/// [`Lookup::lookup`] on a snapshot.
fn found<'s>(snapshot: &'s Snapshot, domain: &str) -> LookupResult<'s> {
    match snapshot.get(domain) {
        Some(reg) => LookupResult::Found(reg),
        None => LookupResult::Miss,
    }
}

/// [`Lookup::lookup_rendered`] on a snapshot.
fn rendered<'s>(
    snapshot: &'s Snapshot,
    domain: &str,
) -> (LookupResult<'s>, Option<&'s RegistrationTemplate>) {
    match snapshot.get_rendered(domain) {
        Some((reg, t)) => (LookupResult::Found(reg), Some(t)),
        None => (LookupResult::Miss, None),
    }
}

/// The key for a record's domain: its registered domain in A-labels, which
/// must be the name itself.
fn registered_key(name: &str) -> Result<String, String> {
    match domain::analyze(name) {
        Analysis::Lookup(t) if t.domain() == t.name => Ok(t.name.into_owned()),
        Analysis::Lookup(t) => Err(format!(
            "domain {name:?} is not a registered domain (its registered domain is {:?})",
            t.domain()
        )),
        Analysis::Skip { reason, .. } => Err(format!(
            "domain {name:?} has no registration ({})",
            reason.as_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;

    #[test]
    fn round_trip() {
        let text = r#"{"domain":"Example.COM.","created":"1995-08-14T04:00:00Z","status":["clientTransferProhibited"],"registrar":"RESERVED-Internet Assigned Numbers Authority","registrar_iana_id":376,"nameservers":["a.iana-servers.net"],"privacy":false,"source":"rdap"}
{"domain":"nx-domain-for-test.org","registered":false,"source":"rdap"}
# a comment

{"domain":"bücher.de","source":"snapshot"}"#;
        let mut s = Snapshot::new();
        assert!(s.add_jsonl(text).is_empty());
        assert_eq!(s.len(), 3);
        let reg = s.get("example.com").unwrap();
        assert_eq!(reg.registrar_iana_id, Some(376));
        assert!(reg.registered);
        assert!(!s.get("nx-domain-for-test.org").unwrap().registered);
        assert_eq!(s.get("xn--bcher-kva.de").unwrap().source, Source::Snapshot);
        let mut again = Snapshot::new();
        assert!(again.add_jsonl(&s.to_jsonl()).is_empty());
        assert_eq!(again, s);
    }

    /// Statuses written in RDAP's spelling load in the EPP form the rules
    /// match on, as from an RDAP response; unknown ones stay as written.
    #[test]
    fn rdap_spelled_statuses_load_as_epp() {
        let mut s = Snapshot::new();
        let errors = s.add_jsonl(
            r#"{"domain":"held.com","status":["client hold"," Pending Delete","redemption_period","serverHold","validated"]}"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let reg = s.get("held.com").unwrap();
        let got: Vec<&str> = reg.status.iter().map(|v| v.as_str()).collect();
        assert_eq!(
            got,
            [
                "clientHold",
                "pendingDelete",
                "redemptionPeriod",
                "serverHold",
                "validated"
            ]
        );
        assert!(reg.has_status("clientHold") && reg.has_status("pendingDelete"));
    }

    #[test]
    fn bad_lines_are_reported_with_numbers() {
        let mut s = Snapshot::new();
        let errors = s.add_jsonl(
            "{\"domain\":\"ok.com\"}\n{bad\n{\"domain\":\"www.ok.com\"}\n{\"domain\":\"a.com\",\"colour\":1}\n{\"domain\":\"10.0.0.1\"}",
        );
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].starts_with("registrations line 2:"));
        assert!(lines[1].contains("its registered domain is \"ok.com\""));
        assert!(lines[2].contains("colour"));
        assert!(lines[3].contains("ip_literal"));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn agrees_with_a_map_as_it_grows() {
        // Enough records for the table to grow many times over (it keeps
        // 32 bits of each hash to grow by); a fifth are replacements.
        let mut s = Snapshot::new();
        let mut model = std::collections::HashMap::new();
        for i in 0..20_000u32 {
            let name = format!("d{}.com", (i * 7919) % 16_000);
            let mut reg = Registration::new(&name, Source::Snapshot);
            reg.registrar_iana_id = Some(i);
            s.insert(reg).unwrap();
            model.insert(name, i);
        }
        assert_eq!(s.len(), model.len());
        for (name, id) in &model {
            assert_eq!(
                s.get(name).and_then(|r| r.registrar_iana_id),
                Some(*id),
                "{name}"
            );
        }
        for absent in ["d16000.com", "x.com", "d1.net"] {
            assert!(s.get(absent).is_none(), "{absent}");
        }
    }
}
