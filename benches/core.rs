//! Micro-benchmarks of the core library, through its public API only:
//! domain extraction per format, name analysis, RDAP parsing, the cache, the
//! whole per-event enrich on a warm lookup, and the JSON splice (fast path
//! vs the rewrite path of an event that already has `domreg`).
//!
//! Inputs are real: lines from `tests/fixtures/samples/` and
//! `examples/logs/`, RDAP responses from `tests/fixtures/rdap/`.
//!
//! `cargo bench --bench core` (about two minutes); `cargo test --benches`
//! runs each once. The end-to-end figures are `benches/run.sh`'s.

// Benchmark code, like test code, may panic on a broken fixture: a bench
// that cannot set itself up has nothing to measure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use domreg::cache::{CacheConfig, CacheLookup, CacheState, RegistrationCache};
use domreg::config::Config;
use domreg::domain::{self, Analysis};
use domreg::enrich::{Enricher, Outcome};
use domreg::format::{Detector, FormatChoice, LineKind};
use domreg::snapshot::Snapshot;

/// Real log lines, one per format: (bench name, file, a substring that picks
/// the line).
const SAMPLES: &[(&str, &str, &str)] = &[
    (
        "zeek_dns",
        "tests/fixtures/samples/zeek-dns.ndjson",
        "\"query\"",
    ),
    (
        "suricata_tls",
        "tests/fixtures/samples/suricata-eve-http-tls.ndjson",
        "\"event_type\":\"tls\"",
    ),
    (
        "suricata_dns_v3",
        "examples/logs/suricata-dns-v3.ndjson",
        "\"event_type\":\"dns\"",
    ),
    (
        "ecs_dns",
        "tests/fixtures/samples/ecs-dns.ndjson",
        "\"question\"",
    ),
    (
        "sysmon_eid22",
        "tests/fixtures/samples/sysmon-eid22.ndjson",
        "QueryName",
    ),
    ("squid", "examples/logs/squid-access.log", " GET http"),
    ("bind", "tests/fixtures/samples/bind-query.log", "query: "),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first line of `file` containing `needle`.
fn sample_line(file: &str, needle: &str) -> String {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in {file}"))
        .to_string()
}

fn samples() -> Vec<(&'static str, String)> {
    SAMPLES
        .iter()
        .map(|(name, file, needle)| (*name, sample_line(file, needle)))
        .collect()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
}

/// A registration record for `domain` in the `--registrations` schema, with
/// every field filled (privacy on, so a `threat` member is written too).
fn record(domain: &str, i: usize) -> String {
    format!(
        r#"{{"domain":"{domain}","created":"2015-03-01T10:00:00Z","expires":"2027-03-01T10:00:00Z","updated":"2024-05-01T00:00:00Z","status":["clientTransferProhibited","clientDeleteProhibited"],"registrar":"Example Registrar, Inc.","registrar_iana_id":{},"nameservers":["ns1.{domain}","ns2.{domain}"],"privacy":true,"source":"rdap","fetched":"2026-11-24T00:00:00Z"}}"#,
        1000 + i % 500
    )
}

/// The registered domain of each sample line, as the enricher finds it.
fn sample_domains(lines: &[(&'static str, String)]) -> Vec<String> {
    let mut detector = Detector::new(FormatChoice::Auto, &[]).unwrap();
    lines
        .iter()
        .map(|(name, line)| {
            let raw = match detector.detect(line) {
                LineKind::Json(d) | LineKind::Text(d) => d.name.to_string(),
                other => panic!("{name}: no name detected: {other:?}"),
            };
            match domain::analyze(&raw) {
                Analysis::Lookup(t) => t.domain().to_string(),
                Analysis::Skip { reason, .. } => panic!("{name}: {raw} skipped: {reason:?}"),
            }
        })
        .collect()
}

/// A snapshot holding every sample's registered domain.
fn warm_snapshot(domains: &[String]) -> Snapshot {
    let mut snapshot = Snapshot::new();
    for (i, d) in domains.iter().enumerate() {
        snapshot.add_line(&record(d, i), i + 1).unwrap();
    }
    snapshot
}

fn configure() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

/// Format detection and name extraction (`Detector::detect`), per format.
fn detect(c: &mut Criterion) {
    let lines = samples();
    let mut group = c.benchmark_group("detect");
    let mut detector = Detector::new(FormatChoice::Auto, &[]).unwrap();
    for (name, line) in &lines {
        group.throughput(Throughput::Bytes(line.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), line, |b, line| {
            b.iter(|| {
                let kind = detector.detect(black_box(line));
                assert!(matches!(kind, LineKind::Json(_) | LineKind::Text(_)));
                black_box(kind);
            });
        });
    }
    group.finish();
}

/// Normalisation and registered-domain lookup (`domain::analyze`).
fn analyze(c: &mut Criterion) {
    let names: &[(&str, &str)] = &[
        ("plain", "www.example.com"),
        ("mixed_case_dot", "WWW.Example.COM."),
        ("with_port", "login.microsoftonline.com:443"),
        ("multi_label_suffix", "www.bbc.co.uk"),
        ("private_suffix", "user.github.io"),
        ("long", "a1.b2.c3.d4.e5.cdn.edgesuite.akamaiedge.net"),
        ("idn_unicode", "www.münchen.de"),
        ("idn_a_label", "www.xn--mnchen-3ya.de"),
        ("reverse", "15.1.20.10.in-addr.arpa"),
        ("special_use", "printer.local"),
        ("ip_literal", "10.1.2.3"),
        ("unknown_tld", "host.corp"),
    ];
    let mut group = c.benchmark_group("analyze");
    for (label, name) in names {
        group.bench_with_input(BenchmarkId::from_parameter(label), name, |b, name| {
            b.iter(|| black_box(domain::analyze(black_box(name))));
        });
    }
    // The whole mix in one iteration, for a single "per name" figure.
    group.throughput(Throughput::Elements(names.len() as u64));
    group.bench_function("mix", |b| {
        b.iter(|| {
            for (_, name) in names {
                black_box(domain::analyze(black_box(name)));
            }
        });
    });
    group.finish();
}

/// RDAP parse (`rdap::parse_domain`) of each real response.
fn rdap_parse(c: &mut Criterion) {
    let dir = root().join("tests/fixtures/rdap");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no RDAP fixtures in {}", dir.display());
    let mut group = c.benchmark_group("rdap_parse");
    for path in &files {
        let body = std::fs::read(path).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        domreg::rdap::parse_domain(&body, None, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(&name), &body, |b, body| {
            b.iter(|| black_box(domreg::rdap::parse_domain(black_box(body), None, None)));
        });
    }
    group.finish();
}

/// `RegistrationCache::get` hits, in a cache of 100,000 domains: one hot
/// key, and keys cycling over the whole cache (cold CPU caches).
fn cache_get(c: &mut Criterion) {
    const N: usize = 100_000;
    let mut snapshot = Snapshot::new();
    let domains: Vec<String> = (0..N).map(|i| format!("cached-{i}.com")).collect();
    for (i, d) in domains.iter().enumerate() {
        snapshot.add_line(&record(d, i), i + 1).unwrap();
    }
    let mut cache = RegistrationCache::new(CacheConfig {
        max_entries: N,
        max_bytes: usize::MAX,
        ..CacheConfig::default()
    });
    cache.load_snapshot(snapshot, now());
    assert_eq!(cache.len(), N);
    let at = now();
    let mut group = c.benchmark_group("cache_get");
    group.bench_function("hit_hot", |b| {
        b.iter(|| {
            let state = cache.get(black_box("cached-4242.com"), at);
            assert!(matches!(state, CacheState::Fresh(_)));
        });
    });
    // A fixed pseudo-random walk over all keys.
    let order: Vec<usize> = (0..N).map(|i| (i * 7919 + 13) % N).collect();
    let mut k = 0usize;
    group.bench_function("hit_100k_spread", |b| {
        b.iter(|| {
            k = (k + 1) % N;
            let state = cache.get(black_box(&domains[order[k]]), at);
            assert!(matches!(state, CacheState::Fresh(_)));
        });
    });
    group.bench_function("miss", |b| {
        b.iter(|| {
            let state = cache.get(black_box("not-cached.com"), at);
            assert!(matches!(state, CacheState::Missing));
        });
    });
    group.finish();
}

/// The whole per-event path (`Enricher::enrich_line`) on a warm lookup that
/// holds the event's domain: per format with a `Snapshot`, and Zeek dns
/// through the live client's `CacheLookup` too.
fn enrich(c: &mut Criterion) {
    let lines = samples();
    let domains = sample_domains(&lines);
    let mut snapshot = warm_snapshot(&domains);
    let mut enricher = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
    let at = now();
    let mut out = Vec::with_capacity(1 << 16);
    let mut group = c.benchmark_group("enrich_warm");
    for (name, line) in &lines {
        out.clear();
        let outcome = enricher.enrich_line(line.as_bytes(), &mut snapshot, at, &mut out);
        assert!(
            matches!(outcome, Outcome::Enriched(e) if e.lookup.as_str() == "hit"),
            "{name}: {outcome:?}"
        );
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::from_parameter(name), line, |b, line| {
            b.iter(|| {
                out.clear();
                black_box(enricher.enrich_line(
                    black_box(line.as_bytes()),
                    &mut snapshot,
                    at,
                    &mut out,
                ));
            });
        });
    }
    // Zeek dns through the cache the live client uses.
    let mut cache = RegistrationCache::default();
    cache.load_snapshot(warm_snapshot(&domains), at);
    let zeek = &lines[0].1;
    group.bench_function("zeek_dns_cache_lookup", |b| {
        b.iter(|| {
            out.clear();
            let mut lookup = CacheLookup::new(&mut cache, at);
            black_box(enricher.enrich_line(black_box(zeek.as_bytes()), &mut lookup, at, &mut out));
        });
    });
    group.finish();
}

/// The JSON splice: a plain Zeek dns event (fast path: original bytes, then
/// the members) vs the same event already enriched, carrying `domreg` and
/// `threat` (rewrite path: members re-scanned, old `domreg` dropped, `threat`
/// merged).
fn splice(c: &mut Criterion) {
    let line = sample_line("tests/fixtures/samples/zeek-dns.ndjson", "\"query\"");
    let lines = vec![("zeek_dns", line.clone())];
    let mut snapshot = warm_snapshot(&sample_domains(&lines));
    let mut enricher = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
    let at = now();
    let mut out = Vec::new();
    enricher.enrich_line(line.as_bytes(), &mut snapshot, at, &mut out);
    let enriched = String::from_utf8(out.clone())
        .unwrap()
        .trim_end()
        .to_string();
    out.clear();
    let outcome = enricher.enrich_line(enriched.as_bytes(), &mut snapshot, at, &mut out);
    assert!(
        matches!(outcome, Outcome::Enriched(e) if e.domreg_replaced && e.threat_merged),
        "rewrite path not taken: {outcome:?}"
    );
    let mut group = c.benchmark_group("splice");
    group.throughput(Throughput::Elements(1));
    for (label, input) in [("fast_path", &line), ("rewrite_path", &enriched)] {
        group.bench_with_input(BenchmarkId::from_parameter(label), input, |b, input| {
            b.iter(|| {
                out.clear();
                black_box(enricher.enrich_line(
                    black_box(input.as_bytes()),
                    &mut snapshot,
                    at,
                    &mut out,
                ));
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = configure();
    targets = detect, analyze, rdap_parse, cache_get, enrich, splice
}
criterion_main!(benches);
