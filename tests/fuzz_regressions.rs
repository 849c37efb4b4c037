//! The fuzz targets' checks (fuzz/src/lib.rs) run on stable in the normal
//! test suite: over every crash input the fuzzers ever found
//! (fuzz/regressions/<target>/), over the minimised corpora of earlier
//! campaigns (fuzz/corpus-kept/<target>/), and over the real inputs the
//! corpora are seeded from (example logs, samples, RDAP fixtures,
//! registration files).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fuzz;

use std::fs;
use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 5] = [
    ("enrich_line", fuzz::enrich_line),
    ("detect", fuzz::detect),
    ("domain", fuzz::domain),
    ("rdap", fuzz::rdap),
    ("registrations", fuzz::registrations),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

#[test]
fn crash_inputs_found_by_the_fuzzers_stay_fixed() {
    let mut n = 0;
    for (name, target) in TARGETS {
        for path in files(&root().join("fuzz/regressions").join(name)) {
            if path.file_name().is_some_and(|f| f == ".gitkeep") {
                continue;
            }
            let data = fs::read(&path).unwrap();
            println!("{name}: {}", path.display());
            target(&data);
            n += 1;
        }
    }
    println!("{n} regression inputs");
}

/// The minimised corpora earlier fuzz campaigns left (fuzz/keep.sh): every
/// input that reached new code keeps the targets' promises on stable too.
#[test]
fn kept_fuzz_corpora_keep_the_promises() {
    let mut n = 0;
    for (name, target) in TARGETS {
        for path in files(&root().join("fuzz/corpus-kept").join(name)) {
            target(&fs::read(&path).unwrap());
            n += 1;
        }
    }
    println!("{n} kept corpus inputs");
    assert!(n > 0, "no kept corpus inputs under fuzz/corpus-kept");
}

fn lines_of(dir: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for path in files(&root().join(dir)) {
        let data = fs::read(&path).unwrap();
        out.extend(data.split(|&b| b == b'\n').map(<[u8]>::to_vec));
    }
    out
}

#[test]
fn every_example_and_sample_line_keeps_the_output_promises() {
    let mut lines = lines_of("examples/logs");
    lines.extend(lines_of("tests/fixtures/samples"));
    assert!(lines.len() > 1000, "only {} lines", lines.len());
    for line in &lines {
        fuzz::enrich_line(line);
        let mut with_fields = b"query,dns.rrname,url.full\n".to_vec();
        with_fields.extend_from_slice(line);
        fuzz::detect(&with_fields);
    }
}

#[test]
fn every_rdap_fixture_parses_into_an_event_safely() {
    let fixtures = files(&root().join("tests/fixtures/rdap"));
    let bodies: Vec<Vec<u8>> = fixtures
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| fs::read(p).unwrap())
        .collect();
    assert!(bodies.len() >= 5);
    for a in &bodies {
        fuzz::rdap(a);
        // Every registry body paired with every registrar body.
        for b in &bodies {
            let mut both = a.clone();
            both.push(0xff);
            both.extend_from_slice(b);
            fuzz::rdap(&both);
        }
    }
}

#[test]
fn registration_files_round_trip_through_the_cache() {
    let text = fs::read(root().join("examples/registrations.jsonl")).unwrap();
    fuzz::registrations(&text);
    for line in text.split(|&b| b == b'\n') {
        fuzz::registrations(line);
    }
}

#[test]
fn every_name_in_the_examples_analyses_consistently() {
    for line in lines_of("examples/logs") {
        let text = String::from_utf8_lossy(&line);
        for part in text.split('"') {
            fuzz::domain(part.as_bytes());
        }
    }
}
