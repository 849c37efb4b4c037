//! The offline registration source: a set of [`Registration`] records keyed
//! by registered domain, read from and written to JSON Lines (the schema in
//! `docs/registrations.md`, which the live cache also exports).
//!
//! Pure: the caller reads the file and hands over lines.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::domain::{self, Analysis};
use crate::enrich::{Lookup, LookupResult};
use crate::output::RegistrationTemplate;
use crate::{Error, Registration};

/// Registration records by registered domain.
///
/// Each record keeps its `registration` object rendered once, on first use
/// ([`Snapshot::get_rendered`]), so an event whose domain is in the
/// snapshot costs no rendering of it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    records: HashMap<String, Record, foldhash::fast::RandomState>,
}

#[derive(Debug, Clone)]
struct Record {
    reg: Registration,
    rendered: OnceLock<RegistrationTemplate>,
}

impl PartialEq for Snapshot {
    fn eq(&self, other: &Snapshot) -> bool {
        self.records.len() == other.records.len()
            && self
                .records
                .iter()
                .all(|(k, r)| other.records.get(k).is_some_and(|o| o.reg == r.reg))
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

    /// The record for `domain` (a registered domain in A-labels).
    pub fn get(&self, domain: &str) -> Option<&Registration> {
        self.records.get(domain).map(|r| &r.reg)
    }

    /// The record for `domain` and its `registration` object rendered but
    /// for the day counts (made on the first call for the record; safe to
    /// call from several threads sharing the snapshot).
    pub fn get_rendered(&self, domain: &str) -> Option<(&Registration, &RegistrationTemplate)> {
        self.records.get(domain).map(|r| {
            let t = r.rendered.get_or_init(|| RegistrationTemplate::new(&r.reg));
            (&r.reg, t)
        })
    }

    /// Add or replace a record. Its domain is normalised first; a name that
    /// is not itself a registered domain (`www.example.com`, `co.uk`) is
    /// refused.
    pub fn insert(&mut self, mut reg: Registration) -> Result<(), String> {
        let key = registered_key(&reg.domain)?;
        reg.domain.clone_from(&key);
        self.records.insert(
            key,
            Record {
                reg,
                rendered: OnceLock::new(),
            },
        );
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

    /// The records, in no particular order.
    pub fn records(&self) -> impl Iterator<Item = &Registration> {
        self.records.values().map(|r| &r.reg)
    }

    /// The records, consumed, in no particular order.
    pub fn into_records(self) -> impl Iterator<Item = Registration> {
        self.records.into_values().map(|r| r.reg)
    }

    /// All records as JSON Lines, sorted by domain.
    pub fn to_jsonl(&self) -> String {
        let mut domains: Vec<&String> = self.records.keys().collect();
        domains.sort();
        let mut out = String::new();
        for d in domains {
            if let Some(r) = self.records.get(d)
                && let Ok(line) = serde_json::to_string(&r.reg)
            {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

impl Lookup for Snapshot {
    fn lookup(&mut self, domain: &str) -> LookupResult<'_> {
        match self.get(domain) {
            Some(reg) => LookupResult::Found(reg),
            None => LookupResult::Miss,
        }
    }

    fn lookup_rendered(
        &mut self,
        domain: &str,
    ) -> (LookupResult<'_>, Option<&RegistrationTemplate>) {
        rendered(self, domain)
    }
}

/// [`Lookup::lookup_rendered`] on a shared snapshot.
pub fn rendered<'s>(
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
}
