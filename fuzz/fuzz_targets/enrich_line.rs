//! Fuzz target: see `domreg_fuzz::enrich_line`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| domreg_fuzz::enrich_line(data));
