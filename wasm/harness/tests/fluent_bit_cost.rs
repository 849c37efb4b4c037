//! The per-record cost of the Fluent Bit filter on a registrations hit,
//! measured in the wasmtime host against a baseline through the same host
//! and module in the same run. A measurement, not a test: it asserts
//! behaviour only.
//!
//! The baseline is the same record with its first byte changed from `{` to
//! `[`: the module takes it for a non-object and copies it back unchanged,
//! so the baseline pays for everything but the enrichment (the host's two
//! copies in and one copy out, `malloc`/`free`, the call itself).
//!
//! `cargo test -p domreg-wasm-harness --release --test fluent_bit_cost -- --ignored --nocapture`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::time::Instant;

use domreg_wasm_harness::fluent_bit::{Compiled, FluentBitHost, Options, module_path};

const N: u32 = 20_000;
const ROUNDS: usize = 5;
/// 2024-06-01T00:00:00Z, the record time.
const T: u32 = 1_717_200_000;

/// Nanoseconds per record over `N` calls.
fn run(host: &mut FluentBitHost, record: &[u8]) -> f64 {
    let start = Instant::now();
    for _ in 0..N {
        let out = host.call("zeek.dns", T, 0, record).unwrap();
        assert!(!out.is_empty());
    }
    start.elapsed().as_nanos() as f64 / f64::from(N)
}

#[test]
#[ignore = "a measurement; run with --release --ignored --nocapture"]
fn registrations_hit_cost() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root.join("examples/registrations.jsonl"),
        dir.path().join("registrations.jsonl"),
    )
    .unwrap();
    // A real Zeek dns record (examples/logs/zeek-dns.ndjson) whose domain
    // is in the registrations file.
    let logs = std::fs::read_to_string(root.join("examples/logs/zeek-dns.ndjson")).unwrap();
    let record = logs
        .lines()
        .find(|l| l.contains(r#""query":"www.google.com""#))
        .unwrap()
        .as_bytes()
        .to_vec();
    let mut baseline = record.clone();
    baseline[0] = b'[';

    let compiled = Compiled::load(&module_path().unwrap(), None).unwrap();
    let options = Options {
        accessible_paths: vec![dir.path().canonicalize().unwrap()],
        ..Options::default()
    };
    let mut host = FluentBitHost::new(&compiled, &options).unwrap();

    let out = host.call("zeek.dns", T, 0, &record).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(r#""lookup":"hit""#), "{text}");
    assert_eq!(host.call("zeek.dns", T, 0, &baseline).unwrap(), baseline);

    let (mut base, mut hit) = (f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        base = base.min(run(&mut host, &baseline));
        hit = hit.min(run(&mut host, &record));
    }
    println!(
        "fluent-bit registrations hit: {hit:.0} ns/record ({} B in, {} B out); \
         pass-through baseline {base:.0} ns/record; enrichment {:.0} ns/record \
         ({:.1}x the baseline); best of {ROUNDS} rounds of {N}",
        record.len(),
        text.len(),
        hit - base,
        hit / base
    );
}
