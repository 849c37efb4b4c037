//! Fuzz target: see `domreg_fuzz::detect`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| domreg_fuzz::detect(data));
