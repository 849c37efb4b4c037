//! The fixture index (files by `ldhName`), referral rewriting, and synthetic domain records.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::ordered::J;
use crate::time::{civil_from_days, days_from_civil, rfc3339_secs};

/// One RDAP response file.
#[derive(Debug)]
pub struct Fixture {
    /// The file name (no directory).
    pub file: String,
    /// `ldhName` as written in the file.
    pub ldh_name: String,
    /// The file's bytes, served unchanged when nothing is rewritten.
    pub raw: Vec<u8>,
    /// The parsed file, member order kept, for rewriting.
    pub doc: J,
    /// Whether the top-level `links` has a rel "related" link (a referral to a registrar).
    pub has_related: bool,
}

/// Fixtures by file name and by lower-cased `ldhName`.
#[derive(Debug, Default)]
pub struct Index {
    by_file: BTreeMap<String, Arc<Fixture>>,
    /// For each name: registry-like fixtures (with a referral) first, then by file name.
    by_name: HashMap<String, Vec<Arc<Fixture>>>,
}

fn has_rel(link: &J, rel: &str) -> bool {
    link.get("rel")
        .and_then(J::as_str)
        .is_some_and(|r| r.eq_ignore_ascii_case(rel))
}

impl Index {
    /// Reads every `*.json` file in `dir` that has a string `ldhName`; warns about the rest.
    pub fn load(dir: &Path) -> Result<Index, String> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read fixtures directory {}: {e}", dir.display()))?;
        let mut index = Index::default();
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
            .collect();
        paths.sort();
        for path in paths {
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let raw = std::fs::read(&path)
                .map_err(|e| format!("cannot read fixture {}: {e}", path.display()))?;
            let doc: J = match serde_json::from_slice(&raw) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("rdap-mock: skipping {}: not JSON ({e})", path.display());
                    continue;
                }
            };
            let Some(ldh_name) = doc.get("ldhName").and_then(J::as_str) else {
                eprintln!("rdap-mock: skipping {}: no string ldhName", path.display());
                continue;
            };
            let has_related = match doc.get("links") {
                Some(J::Arr(links)) => links.iter().any(|l| has_rel(l, "related")),
                _ => false,
            };
            let ldh_name = ldh_name.to_owned();
            let fixture = Arc::new(Fixture {
                file: file.clone(),
                ldh_name: ldh_name.clone(),
                raw,
                doc,
                has_related,
            });
            index
                .by_name
                .entry(crate::config::normalize_domain(&ldh_name))
                .or_default()
                .push(Arc::clone(&fixture));
            index.by_file.insert(file, fixture);
        }
        for list in index.by_name.values_mut() {
            list.sort_by(|a, b| {
                b.has_related
                    .cmp(&a.has_related)
                    .then_with(|| a.file.cmp(&b.file))
            });
        }
        Ok(index)
    }

    pub fn file(&self, file: &str) -> Option<&Arc<Fixture>> {
        self.by_file.get(file)
    }

    pub fn file_names(&self) -> Vec<&str> {
        self.by_file.keys().map(String::as_str).collect()
    }

    /// The fixture a host serves by default for a name: the host's position in the name's
    /// list, or the last one.
    pub fn default_for(&self, name: &str, host: usize) -> Option<&Arc<Fixture>> {
        let list = self.by_name.get(name)?;
        list.get(host).or_else(|| list.last())
    }

    /// `{"google.com": ["verisign-google.com.json", "markmonitor-…"], …}` in host order.
    pub fn summary(&self) -> Value {
        let map: BTreeMap<&String, Vec<&str>> = self
            .by_name
            .iter()
            .map(|(name, list)| (name, list.iter().map(|f| f.file.as_str()).collect()))
            .collect();
        json!(map)
    }

    /// The top-level labels of all fixture names.
    pub fn tlds(&self) -> BTreeSet<String> {
        self.by_name
            .keys()
            .filter_map(|n| n.rsplit('.').next())
            .map(str::to_owned)
            .collect()
    }
}

/// A copy of `doc` whose top-level rel "related" links point at `href`; with `add`, a related
/// link is added when there is none. Member order is kept.
pub fn with_related(doc: &J, href: &str, add: bool) -> J {
    let mut doc = doc.clone();
    let self_href = match doc.get("links") {
        Some(J::Arr(links)) => links
            .iter()
            .find(|l| has_rel(l, "self"))
            .and_then(|l| l.get("href"))
            .cloned(),
        _ => None,
    }
    .unwrap_or_else(|| J::str(href));
    let J::Obj(members) = &mut doc else {
        return doc;
    };
    if add && !members.iter().any(|(k, _)| k == "links") {
        members.push(("links".to_owned(), J::Arr(Vec::new())));
    }
    let Some((_, J::Arr(links))) = members.iter_mut().find(|(k, _)| k == "links") else {
        return doc;
    };
    let mut found = false;
    for link in links.iter_mut().filter(|l| has_rel(l, "related")) {
        if let J::Obj(fields) = link {
            match fields.iter_mut().find(|(k, _)| k == "href") {
                Some((_, v)) => *v = J::str(href),
                None => fields.push(("href".to_owned(), J::str(href))),
            }
            found = true;
        }
    }
    if !found && add {
        links.push(J::Obj(vec![
            ("value".to_owned(), self_href),
            ("rel".to_owned(), J::str("related")),
            ("href".to_owned(), J::str(href)),
            ("type".to_owned(), J::str("application/rdap+json")),
        ]));
    }
    doc
}

/// FNV-1a, 64 bits: a stable hash (std's hasher is randomly keyed).
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const REGISTRARS: [(&str, u32); 5] = [
    ("MarkMonitor Inc.", 292),
    ("GoDaddy.com, LLC", 146),
    ("NameCheap, Inc.", 1068),
    ("Tucows Domains Inc.", 69),
    ("eNom, LLC", 48),
];

/// The dates of a synthetic record: (registration, expiration, last changed), RFC 3339.
pub fn synthetic_dates(name: &str) -> (String, String, String) {
    let h = fnv1a(name);
    let epoch_1995 = days_from_civil(1995, 1, 1);
    let epoch_2020 = days_from_civil(2020, 1, 1);
    // Registration: 1995-01-01 .. 2019-12-31.
    let reg_days = epoch_1995 + (h % 9131) as i64;
    let reg_secs = (h >> 14) % 86_400;
    // Last changed: 2020-01-01 .. 2024-12-31.
    let changed_days = epoch_2020 + ((h >> 31) % 1827) as i64;
    let changed_secs = (h >> 42) % 86_400;
    // Expiration: the registration's day and time in 2027 .. 2031.
    let (_, month, day) = civil_from_days(reg_days);
    let exp_year = 2027 + ((h >> 59) % 5) as i64;
    let exp_day = if month == 2 && day == 29 { 28 } else { day };
    let exp_days = days_from_civil(exp_year, month, exp_day);
    (
        rfc3339_secs(reg_days, reg_secs),
        rfc3339_secs(exp_days, reg_secs),
        rfc3339_secs(changed_days, changed_secs),
    )
}

/// A valid RDAP domain record for `name`, derived only from the name.
pub fn synthesize(name: &str, self_href: &str, related_href: Option<&str>) -> Value {
    let h = fnv1a(name);
    let (registered, expires, changed) = synthetic_dates(name);
    let (registrar, iana) = REGISTRARS
        .get((h >> 8) as usize % REGISTRARS.len())
        .copied()
        .unwrap_or(("MarkMonitor Inc.", 292));
    let dns = (h >> 20) % 20;
    let mut links = vec![json!({
        "value": self_href, "rel": "self", "href": self_href, "type": "application/rdap+json",
    })];
    if let Some(related) = related_href {
        links.push(json!({
            "value": self_href, "rel": "related", "href": related, "type": "application/rdap+json",
        }));
    }
    json!({
        "rdapConformance": ["rdap_level_0", "icann_rdap_response_profile_1", "icann_rdap_technical_implementation_guide_1"],
        "objectClassName": "domain",
        "handle": format!("{h:016X}_DOMAIN-MOCK"),
        "ldhName": name,
        "links": links,
        "status": ["client transfer prohibited"],
        "entities": [{
            "objectClassName": "entity",
            "handle": iana.to_string(),
            "roles": ["registrar"],
            "publicIds": [{"type": "IANA Registrar ID", "identifier": iana.to_string()}],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", registrar]]],
        }],
        "events": [
            {"eventAction": "registration", "eventDate": registered},
            {"eventAction": "expiration", "eventDate": expires},
            {"eventAction": "last changed", "eventDate": changed},
        ],
        "secureDNS": {"delegationSigned": false},
        "nameservers": [
            {"objectClassName": "nameserver", "ldhName": format!("NS1.MOCK-DNS{dns}.EXAMPLE")},
            {"objectClassName": "nameserver", "ldhName": format!("NS2.MOCK-DNS{dns}.EXAMPLE")},
        ],
        "notices": [{
            "title": "Terms of Use",
            "description": ["Synthetic record generated by rdap-mock for tests; not real data."],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_is_deterministic_and_ordered() {
        let a = synthesize("a.example", "http://x/domain/a.example", None);
        let b = synthesize("a.example", "http://x/domain/a.example", None);
        assert_eq!(a, b);
        for name in ["a.example", "b.example", "zzz.test", "x"] {
            let (r, e, c) = synthetic_dates(name);
            assert!(r < c && c < e, "{name}: {r} {c} {e}");
        }
    }

    #[test]
    fn related_is_rewritten_or_added() {
        let parse = |t: &str| serde_json::from_str::<J>(t).unwrap();
        let show = |j: &J| serde_json::to_string(j).unwrap();
        let v = parse(
            r#"{"z":1,"links":[{"rel":"self","href":"s"},{"rel":"related","href":"r","type":"t"}]}"#,
        );
        assert_eq!(
            show(&with_related(&v, "http://new", false)),
            r#"{"z":1,"links":[{"rel":"self","href":"s"},{"rel":"related","href":"http://new","type":"t"}]}"#
        );
        let v = parse(r#"{"ldhName":"x"}"#);
        assert_eq!(with_related(&v, "h", false), v);
        assert_eq!(
            show(&with_related(&v, "h", true)),
            r#"{"ldhName":"x","links":[{"value":"h","rel":"related","href":"h","type":"application/rdap+json"}]}"#
        );
    }
}
