//! Fuzz target: see `domreg_fuzz::rdap`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| domreg_fuzz::rdap(data));
