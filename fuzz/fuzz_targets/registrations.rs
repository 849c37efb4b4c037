//! Fuzz target: see `domreg_fuzz::registrations`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| domreg_fuzz::registrations(data));
