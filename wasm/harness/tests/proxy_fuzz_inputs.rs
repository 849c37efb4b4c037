//! The proxy_wasm fuzz target's input and checks
//! (`domreg_wasm_harness::fuzz::proxy_input`) on stable, in every test run:
//! every crash input the fuzzer ever found (`fuzz/regressions/proxy_wasm/`),
//! each real RDAP fixture as the registry's answer under every status and
//! mode, and generated inputs: arbitrary authorities, and fixtures cut short
//! and with bytes changed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use domreg_wasm_harness::fuzz::proxy_input;
use domreg_wasm_harness::proxy::ProxyHost;
use proptest::prelude::*;

fn host() -> &'static ProxyHost {
    static HOST: OnceLock<ProxyHost> = OnceLock::new();
    HOST.get_or_init(|| ProxyHost::load_default().unwrap_or_else(|e| panic!("{e:#}")))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> &'static [Vec<u8>] {
    static F: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    F.get_or_init(|| {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures/rdap"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
    })
}

fn input(flags: u8, authority: &[u8], bodies: &[&[u8]]) -> Vec<u8> {
    let mut data = vec![flags];
    data.extend_from_slice(authority);
    for body in bodies {
        data.push(0xff);
        data.extend_from_slice(body);
    }
    data
}

fn check(data: &[u8]) {
    if let Err(e) = proxy_input(host(), data) {
        panic!("{e:#}\ninput: {:?}", String::from_utf8_lossy(data));
    }
}

#[test]
fn crash_inputs_found_by_the_fuzzer_stay_fixed() {
    let dir = root().join("fuzz/regressions/proxy_wasm");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name().is_some_and(|f| f != ".gitkeep") {
            println!("{}", path.display());
            check(&std::fs::read(&path).unwrap());
        }
    }
}

#[test]
fn every_fixture_under_every_status_and_mode() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 7);
    for body in fixtures {
        for flags in 0..64u8 {
            // Clear bit 1: the fixed www.example.com, so the body is read.
            check(&input(flags & !2, b"", &[body, body]));
        }
    }
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        0..fixtures().len(),
        any::<prop::sample::Index>(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    )
        .prop_map(|(i, cut, flips)| {
            let mut body = fixtures()[i].clone();
            body.truncate(cut.index(body.len() + 1).max(1));
            for (at, byte) in flips {
                let n = body.len();
                body[at.index(n)] = byte;
            }
            body
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_authorities(flags in any::<u8>(), authority in prop::collection::vec(any::<u8>(), 0..300)) {
        let authority: Vec<u8> = authority.into_iter().filter(|&b| b != 0xff).collect();
        check(&input(flags | 2, &authority, &[]));
    }

    #[test]
    fn damaged_registry_answers(flags in any::<u8>(), registry in mutated(), registrar in mutated()) {
        check(&input(flags & !2, b"", &[&registry, &registrar]));
    }
}
