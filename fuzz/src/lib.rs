//! Shared set-up and invariants for the fuzz targets.
//!
//! Every target ends in [`check_output`], the promise domreg makes about
//! each line: exactly one output line; a line passed through is unchanged;
//! a JSON object in gives a JSON object out with every original member and
//! value unchanged (bar `domreg`, which is replaced, and `threat`, which is
//! merged); a text line comes back whole in `message`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, TimeZone, Utc};
use domreg::cache::{CacheConfig, CacheLookup, RegistrationCache};
use domreg::config::Config;
use domreg::domain::{Analysis, MAX_NAME_LEN, analyze};
use domreg::enrich::{Enricher, Lookup, LookupResult, Outcome};
use domreg::format::FormatChoice;
use domreg::rdap::{LastSecond, merge, parse_date, parse_date_with, parse_domain};
use domreg::snapshot::Snapshot;
use serde_json::Value;

/// The registrations shipped with the examples (built from real RDAP responses).
pub const REGISTRATIONS: &str = include_str!("../../examples/registrations.jsonl");

/// The fixed clock of every target, so that a crash input reproduces.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The example registrations as an offline source.
pub fn snapshot() -> Snapshot {
    let mut s = Snapshot::new();
    let errors = s.add_jsonl(REGISTRATIONS);
    assert!(errors.is_empty(), "example registrations: {errors:?}");
    s
}

/// An enricher with the default configuration and extra `--field` paths,
/// or `None` when a path is invalid (a clean error, not a crash).
pub fn enricher(fields: &[String]) -> Option<Enricher> {
    Enricher::new(&Config::default(), FormatChoice::Auto, fields).ok()
}

/// The part of a fuzz input used as one line: up to the first newline, as
/// the line reader splits.
pub fn first_line(data: &[u8]) -> &[u8] {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => data.get(..i).unwrap_or_default(),
        None => data,
    }
}

/// Enrich `line`, check the output's invariants, then enrich the output
/// again and check that a second pass changes nothing (idempotence).
/// Returns the first output.
pub fn enrich_and_check(enricher: &mut Enricher, line: &[u8], lookup: &mut dyn Lookup) -> Vec<u8> {
    let mut out = Vec::new();
    let outcome = enricher.enrich_line(line, lookup, now(), &mut out);
    let body = check_output(line, &out, outcome);

    if let Outcome::Enriched(_) = outcome {
        let mut again = Vec::new();
        let second = enricher.enrich_line(body, lookup, now(), &mut again);
        let body2 = check_output(body, &again, second);
        if let (Ok(a), Ok(b)) = (
            serde_json::from_slice::<Value>(body),
            serde_json::from_slice::<Value>(body2),
        ) {
            assert_eq!(a, b, "enriching twice changed the event");
        }
    }
    out
}

/// Check one line's output against its input; returns the output line
/// without its `\n`.
pub fn check_output<'o>(line: &[u8], out: &'o [u8], outcome: Outcome) -> &'o [u8] {
    let Some((&b'\n', body)) = out.split_last() else {
        panic!("output does not end in a newline");
    };
    assert!(
        !body.contains(&b'\n'),
        "one line in, several out: {:?}",
        String::from_utf8_lossy(out)
    );
    match outcome {
        Outcome::Passthrough(_) => assert_eq!(body, line, "passed-through line changed"),
        Outcome::Enriched(e) => {
            let parsed: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(err) => {
                    // Only a line that was not valid JSON may give invalid
                    // JSON (its bytes are kept as they came).
                    assert!(
                        e.format.text().is_none() && serde_json::from_slice::<Value>(line).is_err(),
                        "valid input, invalid output ({err}): {:?}",
                        String::from_utf8_lossy(body)
                    );
                    return body;
                }
            };
            let Value::Object(out_map) = parsed else {
                panic!("output is not a JSON object");
            };
            assert!(
                out_map.contains_key("domreg"),
                "enriched line without domreg"
            );
            if e.format.text().is_some() {
                // A CR before the newline is the line terminator's (CRLF
                // files), not the message's; nor is a byte order mark.
                let text = std::str::from_utf8(line).unwrap_or_default();
                let text = text.strip_suffix('\r').unwrap_or(text);
                let text = text.strip_prefix('\u{feff}').unwrap_or(text);
                assert_eq!(
                    out_map.get("message").and_then(Value::as_str),
                    Some(text),
                    "text line not kept in message"
                );
            } else if let Ok(Value::Object(in_map)) = serde_json::from_slice::<Value>(line) {
                for (k, v) in &in_map {
                    if k == "domreg" || k == "threat" {
                        continue;
                    }
                    assert_eq!(out_map.get(k), Some(v), "member {k:?} changed");
                }
            }
        }
    }
    body
}

/// A log line through format detection, the JSON scan, name analysis, the
/// lookup and the splice.
///
/// The enrichers and the registrations are built once per thread: the
/// enricher's caches are meant to be invisible, and a fuzzer that keeps
/// them between inputs checks that too. A second enricher asks a source
/// that names no generation and no stamps ([`Fresh`]), so it renders every
/// member afresh; a third asks the live cache holding the same records,
/// whose answers carry stamps. The first one's output and the third's,
/// which reuse what they rendered for earlier events of the same name,
/// must be the same bytes as the second's.
pub fn enrich_line(data: &[u8]) {
    type State = ([Enricher; 3], Snapshot, RegistrationCache);
    thread_local! {
        static STATE: RefCell<Option<State>> = RefCell::new(
            (|| {
                let snapshot = snapshot();
                let mut cache = RegistrationCache::new(CacheConfig::default());
                cache.load_snapshot(snapshot.clone(), now());
                Some(([enricher(&[])?, enricher(&[])?, enricher(&[])?], snapshot, cache))
            })(),
        );
    }
    STATE.with_borrow_mut(|state| {
        if let Some(([kept, fresh, stamped], snapshot, cache)) = state {
            let line = first_line(data);
            let out = enrich_and_check(kept, line, snapshot);
            let mut again = Vec::new();
            fresh.enrich_line(line, &mut Fresh(snapshot), now(), &mut again);
            let mut live = Vec::new();
            let mut lookup = CacheLookup::new(cache, now());
            stamped.enrich_line(line, &mut lookup, now(), &mut live);
            // Compared as bytes; shown as text when they differ.
            for (what, other) in [("the snapshot", &out), ("the live cache", &live)] {
                if *other != again {
                    panic!(
                        "a member reused from {what} differs from one rendered afresh:\n{}\n{}",
                        String::from_utf8_lossy(other),
                        String::from_utf8_lossy(&again)
                    );
                }
            }
        }
    });
}

/// A snapshot that names no [`Lookup::generation`] and no stamps
/// ([`Lookup::lookup_stamped`]): an enricher asks it for every event and
/// keeps nothing it rendered.
pub struct Fresh<'a>(pub &'a Snapshot);

impl Lookup for Fresh<'_> {
    fn lookup(&mut self, domain: &str) -> LookupResult<'_> {
        match self.0.get(domain) {
            Some(reg) => LookupResult::Found(reg),
            None => LookupResult::Miss,
        }
    }
}

/// Custom `--field` paths (the input's first line, comma-separated) and a
/// log line (its second line).
///
/// As in [`enrich_line`], the registrations and the enrichers are kept
/// between inputs: one enricher per set of paths, for the last
/// [`DETECT_ENRICHERS`] sets. (Building an enricher per input, with its
/// name cache, held the target to about 100 inputs a second.)
pub fn detect(data: &[u8]) {
    type State = (HashMap<Vec<String>, Enricher>, Snapshot);
    thread_local! {
        static STATE: RefCell<State> = RefCell::new((HashMap::new(), snapshot()));
    }
    let head = first_line(data);
    let rest = data.get(head.len() + 1..).unwrap_or_default();
    let fields: Vec<String> = String::from_utf8_lossy(head)
        .split(',')
        .take(8)
        .map(str::to_owned)
        .collect();
    STATE.with_borrow_mut(|(enrichers, snapshot)| {
        if enrichers.len() >= DETECT_ENRICHERS && !enrichers.contains_key(&fields) {
            enrichers.clear();
        }
        let enricher = match enrichers.entry(fields) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => match enricher(v.key()) {
                Some(e) => v.insert(e),
                None => return,
            },
        };
        enrich_and_check(enricher, first_line(rest), snapshot);
    });
    check_kept_second(first_line(rest));
}

/// The event-time parse that keeps the last whole second between events
/// (`rdap::parse_date_with`, as the detector calls it) reads every
/// quoted piece of `line` as the parse without it does, whatever it read
/// before (the kept second lives across inputs).
fn check_kept_second(line: &[u8]) {
    thread_local! {
        static KEPT: RefCell<LastSecond> = RefCell::new(LastSecond::default());
    }
    let text = String::from_utf8_lossy(line);
    KEPT.with_borrow_mut(|kept| {
        for piece in text.split('"').filter(|p| p.len() <= 64) {
            assert_eq!(parse_date_with(piece, kept), parse_date(piece), "{piece:?}");
        }
    });
}

/// Enrichers [`detect`] keeps, at most (each with a name cache of up to
/// 65,536 names: tens of MB when full).
const DETECT_ENRICHERS: usize = 16;

/// Name normalisation and registered-domain extraction.
pub fn domain(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Analysis::Lookup(target) = analyze(raw) {
        let domain = target.domain();
        assert!(!domain.is_empty(), "empty registered domain for {raw:?}");
        assert!(
            domain.contains('.'),
            "registered domain without a dot: {domain:?}"
        );
        assert!(
            target.name.len() <= MAX_NAME_LEN,
            "name too long: {:?}",
            target.name
        );
        assert!(
            target.name.ends_with(domain),
            "{domain:?} is not a suffix of {:?}",
            target.name
        );
        assert!(
            domain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'),
            "registered domain not in lower-case LDH form: {domain:?}"
        );
        // The registered domain of a registered domain is itself.
        match analyze(domain) {
            Analysis::Lookup(again) => assert_eq!(again.domain(), domain, "not stable for {raw:?}"),
            other => panic!("{domain:?} (from {raw:?}) is not looked up again: {other:?}"),
        }
    }
}

/// The event the `rdap` target enriches with the fuzzed registration.
const RDAP_LINE: &[u8] =
    br#"{"ts":1700000000.5,"uid":"C1","query":"www.example.com","qtype_name":"A"}"#;

/// RDAP response parsing, registry + registrar merge, and the registration
/// written into an event: nothing a registry sends can break the event's
/// JSON, add lines or change its members.
pub fn rdap(data: &[u8]) {
    // Two bodies: registry, then registrar, split at the first 0xff byte
    // (never in valid UTF-8 JSON).
    let (registry, registrar) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (data.get(..i).unwrap_or_default(), data.get(i + 1..)),
        None => (data, None),
    };
    let Ok(parsed) = parse_domain(registry, Some("https://rdap.example/"), Some(now())) else {
        return;
    };
    let mut reg = parsed.registration;
    if let Some(Ok(other)) = registrar.map(|b| parse_domain(b, None, None)) {
        reg = merge(&reg, &other.registration);
    }
    reg.domain = "example.com".to_owned();
    let mut snapshot = Snapshot::new();
    if snapshot.insert(reg).is_err() {
        return;
    }
    thread_local! {
        static ENRICHER: RefCell<Option<Enricher>> =
            RefCell::new(enricher(&[]));
    }
    ENRICHER.with_borrow_mut(|enricher| {
        if let Some(enricher) = enricher {
            enrich_and_check(enricher, RDAP_LINE, &mut snapshot);
        }
    });
}

/// The registrations / cache file loader: any text loads without a crash,
/// and what the cache exports loads back to the same export.
pub fn registrations(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut snapshot = Snapshot::new();
    let _ = snapshot.add_jsonl(&text);

    let mut cache = RegistrationCache::new(CacheConfig::default());
    let _ = cache.load_jsonl(&text, now());
    let exported = cache.export_jsonl();

    let mut again = RegistrationCache::new(CacheConfig::default());
    let errors = again.load_jsonl(&exported, now());
    assert!(
        errors.is_empty(),
        "the cache's own export does not load: {errors:?}"
    );
    assert_eq!(
        again.len(),
        cache.len(),
        "entries lost in a save/load round trip"
    );
    assert_eq!(
        again.export_jsonl(),
        exported,
        "save/load round trip changed the cache"
    );
}
