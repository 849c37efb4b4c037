//! How much memory (and wasm stack) the Fluent Bit module needs, with the
//! example registrations and with 100,000 of them, including a reload
//! (old and new data are both held while the new file is parsed).
//!
//! The normal tests check that the documented sizes are enough; the ignored
//! ones search for the smallest sizes (the figures in `wasm/README.md`):
//! `cargo test -p domreg-wasm-harness --test fluent_bit_sizes -- --ignored --nocapture`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use domreg_wasm_harness::fluent_bit::{Compiled, FluentBitHost, Options, module_path};

const T: u32 = 1_717_200_000;
const MIB: usize = 1 << 20;

/// The linear memory the docs say a 100k-record file needs.
const DOCUMENTED_100K: usize = 160 * MIB;
/// ... and the example file.
const DOCUMENTED_EXAMPLE: usize = 8 * MIB;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| Compiled::load(&module_path().unwrap(), None).unwrap())
}

/// `n` registration records in the cache's schema, realistic in size.
fn registrations(n: usize) -> String {
    let mut s = String::with_capacity(n * 420);
    for i in 0..n {
        writeln!(
            s,
            r#"{{"domain":"domain-{i}.com","registered":true,"created":"2019-03-{:02}T10:11:12Z","expires":"2027-03-{:02}T10:11:12Z","updated":"2024-01-02T03:04:05Z","status":["clientDeleteProhibited","clientTransferProhibited","clientUpdateProhibited"],"registrar":"Example Registrar, LLC","registrar_iana_id":{},"nameservers":["ns1.domain-{i}.com","ns2.domain-{i}.com"],"privacy":true,"source":"rdap","server":"https://rdap.verisign.com/com/v1/","fetched":"2024-05-01T00:00:00Z"}}"#,
            i % 28 + 1,
            i % 28 + 1,
            1000 + i % 500
        )
        .unwrap();
    }
    s
}

fn zeek(name: &str) -> Vec<u8> {
    format!(r#"{{"uid":"CfbSize","id.orig_h":"10.0.0.1","query":"{name}","qtype_name":"A"}}"#)
        .into_bytes()
}

/// Load `data` under a memory limit, enrich records, reload a changed copy,
/// enrich again; the peak memory, or `None` when the module failed (a trap,
/// which is what running out of memory is for a panic=abort module).
fn scenario(
    compiled: &Compiled,
    data: &str,
    queries: &[Vec<u8>],
    memory_limit: Option<usize>,
) -> Option<usize> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registrations.jsonl");
    std::fs::write(&file, data).unwrap();
    let options = Options {
        accessible_paths: vec![dir.path().canonicalize().unwrap()],
        memory_limit,
        ..Options::default()
    };
    let mut h = FluentBitHost::new(compiled, &options).ok()?;
    let run = |h: &mut FluentBitHost, at: u32| -> Option<()> {
        for record in queries {
            let out = h.call("t", at, 0, record).ok()?;
            if !out.windows(10).any(|w| w == b"\"lookup\":\"") {
                return None;
            }
        }
        Some(())
    };
    run(&mut h, T)?;
    // A changed file (one more record): reloaded at the next check.
    std::fs::write(
        &file,
        format!("{data}{{\"domain\":\"extra.org\",\"source\":\"snapshot\"}}\n"),
    )
    .unwrap();
    run(&mut h, T + 10)?;
    let stats: serde_json::Value = serde_json::from_str(&h.stats().ok()?).ok()?;
    (stats["filter"]["loads"] == 2).then(|| h.memory_size())
}

/// 2000 queries for the generated registrations.
fn generated_queries() -> Vec<Vec<u8>> {
    (0..2000)
        .map(|i| zeek(&format!("www.domain-{i}.com")))
        .collect()
}

/// The Zeek DNS example log.
fn example_queries() -> Vec<Vec<u8>> {
    std::fs::read(root().join("examples/logs/zeek-dns.ndjson"))
        .unwrap()
        .split(|&b| b == b'\n')
        .filter(|l| l.first() == Some(&b'{'))
        .map(<[u8]>::to_vec)
        .collect()
}

/// The smallest memory limit (in 64 KiB steps) that passes `scenario`.
fn smallest_memory(data: &str, queries: &[Vec<u8>]) -> usize {
    let (mut lo, mut hi) = (64 * 1024, 1024 * MIB);
    while hi - lo > 64 * 1024 {
        let mid = (lo + hi) / 2 / 65536 * 65536;
        if scenario(compiled(), data, queries, Some(mid)).is_some() {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[test]
fn documented_memory_is_enough_for_the_example_registrations() {
    let data = std::fs::read_to_string(root().join("examples/registrations.jsonl")).unwrap();
    let peak = scenario(
        compiled(),
        &data,
        &example_queries(),
        Some(DOCUMENTED_EXAMPLE),
    );
    assert!(peak.is_some());
    // And a limit far below what it needs does fail: the limit is real.
    let big = registrations(100_000);
    assert!(
        scenario(
            compiled(),
            &big,
            &generated_queries(),
            Some(DOCUMENTED_EXAMPLE)
        )
        .is_none()
    );
}

#[test]
fn documented_memory_is_enough_for_100k_registrations() {
    let data = registrations(100_000);
    let peak = scenario(
        compiled(),
        &data,
        &generated_queries(),
        Some(DOCUMENTED_100K),
    )
    .unwrap();
    eprintln!(
        "100k registrations: linear memory {:.1} MiB",
        peak as f64 / MIB as f64
    );
}

#[test]
#[ignore = "a measurement (minutes): run with --ignored --nocapture"]
fn measure_smallest_memory_and_stack() {
    let example = std::fs::read_to_string(root().join("examples/registrations.jsonl")).unwrap();
    let big = registrations(100_000);
    let unlimited = scenario(compiled(), &big, &generated_queries(), None).unwrap();
    eprintln!(
        "file {:.1} MiB; 100k registrations, no limit: memory grew to {:.1} MiB",
        big.len() as f64 / MIB as f64,
        unlimited as f64 / MIB as f64
    );
    let small = smallest_memory(&example, &example_queries());
    eprintln!(
        "example registrations: smallest memory limit {:.2} MiB",
        small as f64 / MIB as f64
    );
    let large = smallest_memory(&big, &generated_queries());
    eprintln!(
        "100k registrations: smallest memory limit {:.1} MiB",
        large as f64 / MIB as f64
    );

    // The native stack wasmtime lets compiled wasm use (max_wasm_stack):
    // one compile per try.
    let path = module_path().unwrap();
    let (mut lo, mut hi) = (4 * 1024, 512 * 1024);
    while hi - lo > 4 * 1024 {
        let mid = (lo + hi) / 2;
        let c = Compiled::load(&path, Some(mid)).unwrap();
        if scenario(&c, &example, &example_queries(), None).is_some() {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    eprintln!("smallest max_wasm_stack: {} KiB", hi / 1024);
}
