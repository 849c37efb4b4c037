//! The per-request cost of the proxy-wasm filter on a cache hit, measured
//! in the wasmtime host against a no-op baseline through the same host in
//! the same run. A measurement, not a test: it asserts behaviour only.
//!
//! `cargo test -p domreg-wasm-harness --release --test proxy_cost -- --ignored --nocapture`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Instant;

use chrono::{TimeZone, Utc};
use domreg_wasm_harness::proxy::{ProxyHost, Vm};

const N: u32 = 20_000;
const ROUNDS: usize = 5;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../tests/fixtures/rdap/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Typical forward-proxy request headers.
fn headers(authority: &str) -> Vec<(&str, &str)> {
    vec![
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", authority),
        (":path", "/search?q=domreg"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0",
        ),
        ("accept", "text/html,application/xhtml+xml"),
        ("accept-language", "en-GB,en;q=0.5"),
        ("x-forwarded-for", "192.0.2.10"),
    ]
}

/// Nanoseconds per request over `N` requests (create, request headers,
/// done/log/delete).
fn run(vm: &mut Vm, authority: &str) -> f64 {
    let h = headers(authority);
    let start = Instant::now();
    for _ in 0..N {
        let id = vm.request(&h).unwrap();
        vm.finish_and_drop(id).unwrap();
    }
    start.elapsed().as_nanos() as f64 / f64::from(N)
}

#[test]
#[ignore = "a measurement; run with --release --ignored --nocapture"]
fn cache_hit_cost() {
    let host = ProxyHost::load_default_optimized().unwrap_or_else(|e| panic!("{e:#}"));
    host.set_time(
        Utc.with_ymd_and_hms(2021, 6, 10, 12, 0, 0)
            .unwrap()
            .timestamp(),
    );

    // The filter, warmed with google.com (registry + registrar answers).
    let mut filter = host.vm("{}").unwrap();
    assert!(filter.configured());
    let id = filter.request(&headers("www.google.com")).unwrap();
    let call = filter.calls()[0].clone();
    filter
        .respond(
            call.token,
            Some(200),
            &[],
            &fixture("verisign-google.com.json"),
        )
        .unwrap();
    let call = filter.calls()[0].clone();
    filter
        .respond(
            call.token,
            Some(200),
            &[],
            &fixture("markmonitor-registrar-google.com.json"),
        )
        .unwrap();
    assert!(filter.stream(id).unwrap().continued());
    let probe = filter.request(&headers("www.google.com")).unwrap();
    let s = filter.stream(probe).unwrap();
    assert_eq!(s.action, Some(0));
    assert_eq!(s.header("x-domreg-lookup").as_deref(), Some("hit"));
    let made = filter.calls_made();

    // The baseline: the same module whose configuration was refused, so
    // its HTTP contexts return Continue at once. Same host, same calls.
    let mut noop = host.vm(r#"{"mode":"refused"}"#).unwrap();
    assert!(!noop.configured());

    let (mut base, mut hit) = (f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        base = base.min(run(&mut noop, "www.google.com"));
        hit = hit.min(run(&mut filter, "www.google.com"));
    }
    assert_eq!(filter.calls_made(), made, "a hit makes no call");
    println!(
        "proxy-wasm cache hit: {hit:.0} ns/request; no-op baseline {base:.0} ns/request; \
         filter cost {:.0} ns/request ({:.1}x the baseline); best of {ROUNDS} rounds of {N}",
        hit - base,
        hit / base
    );
}
