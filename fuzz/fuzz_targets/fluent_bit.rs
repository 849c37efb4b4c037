//! Fuzz target: the Fluent Bit filter_wasm module's filter
//! (`domreg_fluent_bit::Filter::filter`, the code behind the exported
//! `domreg_filter`), compiled natively so that libFuzzer sees its coverage.
//! The ABI edge itself (pointers, NUL, malloc/free) is exercised in the
//! real module by `wasm/harness/tests/fluent_bit.rs`.
//!
//! Checks on every record: the answer ends in exactly one NUL and is never
//! empty before it (an empty answer would drop the record in Fluent Bit); a
//! record that is not a JSON object comes back unchanged; a JSON object
//! comes back a JSON object with every original member and value unchanged
//! (bar `domreg`, replaced, and `threat`, merged), or, when it was not valid
//! JSON, unchanged or with its own bytes kept.
#![no_main]

use std::path::PathBuf;

use domreg_fluent_bit::Filter;
use serde_json::Value;

thread_local! {
    static FILTER: std::cell::RefCell<Option<Filter>> = std::cell::RefCell::new(filter());
}

/// A filter over a directory holding the example registrations.
fn filter() -> Option<Filter> {
    let dir = std::env::temp_dir().join(format!("domreg-fuzz-fluent-bit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(dir.join("registrations.jsonl"), domreg_fuzz::REGISTRATIONS).ok()?;
    Filter::new(vec![PathBuf::from(dir)]).ok()
}

fn check(record: &[u8], answer: &[u8]) {
    let Some((&0, body)) = answer.split_last() else {
        panic!("the answer does not end in NUL");
    };
    assert!(!body.is_empty(), "an empty answer drops the record");
    if record.is_empty() {
        assert_eq!(body, b"{}");
        return;
    }
    if record.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        assert_eq!(body, record, "a non-object record changed");
        return;
    }
    let Ok(Value::Object(input)) = serde_json::from_slice::<Value>(record) else {
        return;
    };
    let Ok(Value::Object(output)) = serde_json::from_slice::<Value>(body) else {
        panic!(
            "a JSON object in, no JSON object out: {:?}",
            String::from_utf8_lossy(body)
        );
    };
    for (k, v) in &input {
        if k != "domreg" && k != "threat" {
            assert_eq!(output.get(k), Some(v), "member {k:?} changed");
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    FILTER.with_borrow_mut(|filter| {
        let Some(filter) = filter else {
            panic!("the filter could not be set up");
        };
        let answer = filter.filter(data, domreg_fuzz::now()).to_vec();
        check(data, &answer);
    });
});
