//! Fuzz target: the proxy-wasm filter, the real `domreg_proxy_wasm.wasm`
//! in the wasmtime host of `wasm/harness` (the proxy-wasm ABI as Envoy
//! plays it). The input layout and the checks are
//! `domreg_wasm_harness::fuzz::proxy_input`'s (`wasm/harness/src/fuzz.rs`),
//! which `wasm/harness/tests/proxy_fuzz_inputs.rs` also runs on stable.
//! Build the module first:
//! `cargo build -p domreg-proxy-wasm --target wasm32-wasip1 --profile wasm`
//! (or point `DOMREG_PROXY_WASM` at it).
//!
//! libFuzzer sees the host's coverage, not the guest's (Cranelift's code is
//! not instrumented), so this target explores by mutation more than by
//! coverage; the native targets cover the core it calls.
#![no_main]

use std::sync::OnceLock;

use domreg_wasm_harness::fuzz::proxy_input;
use domreg_wasm_harness::proxy::ProxyHost;

fn host() -> &'static ProxyHost {
    static HOST: OnceLock<ProxyHost> = OnceLock::new();
    HOST.get_or_init(|| ProxyHost::load_default_optimized().unwrap_or_else(|e| panic!("{e:#}")))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = proxy_input(host(), data) {
        panic!("{e:#}");
    }
});
