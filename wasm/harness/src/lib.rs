//! A wasmtime host for domreg's WASM filters, used by their tests.
//!
//! There is no Envoy or Fluent Bit on the test machines, so this crate plays
//! the host side of each ABI the filters import: [`proxy`] for proxy-wasm
//! (Envoy, Istio) and [`fluent_bit`] for Fluent Bit's `filter_wasm`. Both
//! load the real compiled `.wasm` files. [`fuzz`] is one fuzz input through
//! the proxy-wasm filter, for the `proxy_wasm` fuzz target and its replay
//! test.

pub mod fluent_bit;
pub mod fuzz;
pub mod proxy;
