//! Fuzz target: see `domreg_fuzz::domain`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| domreg_fuzz::domain(data));
