//! Property tests over generated input: the promises every line gets.
//!
//! - exactly one output line per input line, in order (the real binary);
//! - JSON in → valid JSON out, every original member and value unchanged;
//! - text in → the line kept whole in `message`;
//! - enriching an enriched event replaces `domreg` and merges `threat`:
//!   a second pass changes nothing;
//! - a name under a domain in the registrations is a `hit` for that domain,
//!   whatever its case, trailing dot or JSON escaping.
//!
//! The per-line checks are the fuzz targets' (fuzz/src/lib.rs), so the
//! fuzzers and these tests hold the code to the same contract.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[allow(dead_code)]
mod common;

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fuzz;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Registered domains present in examples/registrations.jsonl.
const KNOWN: [&str; 6] = [
    "google.com",
    "nic.xyz",
    "microsoft.click",
    "example.cz",
    "bbc.co.uk",
    "wicar.org",
];

fn label() -> impl Strategy<Value = String> {
    // Not `xn--`: such a label must be valid Punycode, and a name with an
    // invalid one is rightly skipped (`invalid_name`), not a hit.
    "[a-z0-9]([a-z0-9-]{0,12}[a-z0-9])?".prop_filter("not an A-label", |l| !l.starts_with("xn--"))
}

/// A name under a known domain, with the variations logs really carry.
fn known_name() -> impl Strategy<Value = (String, &'static str)> {
    (
        prop::sample::select(KNOWN.to_vec()),
        vec(label(), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(domain, subs, upper, dot)| {
            let mut name = subs.join(".");
            if !name.is_empty() {
                name.push('.');
            }
            name.push_str(domain);
            if upper {
                name = name.to_uppercase();
            }
            if dot {
                name.push('.');
            }
            (name, domain)
        })
}

/// Any name-ish string: known, random, IPs, special-use, junk.
fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        known_name().prop_map(|(n, _)| n),
        (
            vec(label(), 1..4),
            prop::sample::select(vec!["com", "org", "xyz", "co.uk", "local", "arpa", "zz"])
        )
            .prop_map(|(l, t)| format!("{}.{t}", l.join("."))),
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        "\\PC{0,40}",
        Just(String::new()),
    ]
}

/// Arbitrary JSON values, nested a little, with awkward strings.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
        "[\"\\\\\\x00-\\x1f\u{2028}\u{fffd}]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(("[a-z_.]{1,8}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON event of one of the built-in shapes carrying `name`, plus
/// arbitrary other members (possibly a stale `domreg` or a `threat`).
fn json_event() -> impl Strategy<Value = String> {
    (
        0..6u8,
        any_name(),
        vec(("[a-z_]{1,10}", json_value()), 0..5),
        any::<bool>(),
    )
        .prop_map(|(shape, name, extra, escape)| {
            let mut event = match shape {
                0 => json!({"ts": 1732406400.25, "uid": "Cx", "query": name}),
                1 => json!({"timestamp": "2024-11-24T00:00:00.000000+0000", "event_type": "dns", "dns": {"type": "query", "rrname": name}}),
                2 => json!({"timestamp": "2024-11-24T00:00:00.000000+0000", "event_type": "tls", "tls": {"sni": name}}),
                3 => json!({"@timestamp": "2024-11-24T00:00:00Z", "dns": {"question": {"name": name}}}),
                4 => json!({"winlog": {"event_id": 22, "event_data": {"QueryName": name}}}),
                _ => json!({"ts": "2024-11-24T00:00:00Z", "host": name}),
            };
            if let Value::Object(map) = &mut event {
                for (k, v) in extra {
                    map.entry(k).or_insert(v);
                }
            }
            let text = serde_json::to_string(&event).unwrap();
            if escape {
                // The same string, with its letters `a` written as \u0061.
                text.replacen('a', "\\u0061", 3)
            } else {
                text
            }
        })
}

/// A text line of a supported format, or arbitrary text.
fn text_line() -> impl Strategy<Value = String> {
    prop_oneof![
        any_name().prop_map(|n| format!(
            "24-Nov-2026 10:00:00.000 client @0x7f 10.0.0.5#53211 ({n}): query: {n} IN A +E(0)K (10.0.0.1)"
        )),
        any_name().prop_map(|n| format!(
            "Nov 24 10:00:00 dnsmasq[812]: query[A] {n} from 192.168.1.20"
        )),
        any_name().prop_map(|n| format!(
            "1732406400.123    120 10.0.0.5 TCP_MISS/200 5120 CONNECT {n}:443 - HIER_DIRECT/1.2.3.4 -"
        )),
        "[^\n\r]{0,80}",
    ]
}

/// Any line: JSON events, text, or raw bytes (no newline).
fn any_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json_event().prop_map(String::into_bytes),
        2 => text_line().prop_map(String::into_bytes),
        // The first line of a file written with a byte order mark.
        1 => prop_oneof![json_event(), text_line()].prop_map(|l| format!("\u{feff}{l}").into_bytes()),
        1 => vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..120),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Every generated line keeps the output promises and is idempotent.
    #[test]
    fn each_line_keeps_its_promises(line in any_line()) {
        fuzz::enrich_line(&line);
    }

    /// A name under a known domain is a hit for that domain.
    #[test]
    fn known_names_are_hits((name, domain) in known_name(), escape in any::<bool>()) {
        let mut line = serde_json::to_string(&json!({"ts": 1732406400.0, "uid": "C1", "query": name})).unwrap();
        if escape {
            line = line.replacen('o', "\\u006f", 2);
        }
        let mut enricher = fuzz::enricher(&[]).unwrap();
        let mut snapshot = fuzz::snapshot();
        let mut out = Vec::new();
        enricher.enrich_line(line.as_bytes(), &mut snapshot, fuzz::now(), &mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(v["domreg"]["lookup"].as_str(), Some("hit"), "{}", line);
        prop_assert_eq!(v["domreg"]["domain"].as_str(), Some(domain));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Through the real binary: one line out per line in, in order, each
    /// one either unchanged or the same event enriched.
    #[test]
    fn the_binary_writes_one_line_per_line_in_order(lines in vec(any_line(), 1..60), crlf in any::<bool>()) {
        let mut input = Vec::new();
        for line in &lines {
            input.extend_from_slice(line);
            input.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        let out = common::domreg(
            ["enrich", "-q", "--now", common::NOW, "--registrations", "examples/registrations.jsonl"],
            &input,
        );
        prop_assert_eq!(out.code, 0, "{}", out.stderr);
        let got: Vec<&[u8]> = out.stdout.split(|&b| b == b'\n').collect();
        prop_assert_eq!(got.last().copied(), Some(&b""[..]), "output does not end in a newline");
        prop_assert_eq!(got.len() - 1, lines.len(), "lines in and out differ");
        for (line, out_line) in lines.iter().zip(&got) {
            let line = if crlf { [line.as_slice(), b"\r"].concat() } else { line.clone() };
            same_event(&line, out_line);
        }
    }
}

/// `out` is `line` unchanged, or `line` with `domreg` (and `threat`) added.
fn same_event(line: &[u8], out: &[u8]) {
    if line == out {
        return;
    }
    // A byte order mark stays in front of an enriched JSON event, and is
    // not part of a text event's message.
    let bom = "\u{feff}".as_bytes();
    let line = line.strip_prefix(bom).unwrap_or(line);
    let out = out.strip_prefix(bom).unwrap_or(out);
    let parsed: Value = serde_json::from_slice(out).unwrap_or_else(|e| {
        panic!(
            "changed line is not JSON ({e}): {}",
            String::from_utf8_lossy(out)
        )
    });
    assert!(
        parsed.get("domreg").is_some(),
        "changed without domreg: {parsed}"
    );
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(orig)) => {
            for (k, v) in orig
                .iter()
                .filter(|(k, _)| *k != "domreg" && *k != "threat")
            {
                assert_eq!(parsed.get(k), Some(v), "member {k} changed");
            }
        }
        _ => {
            let text = String::from_utf8_lossy(line);
            let text = text.strip_suffix('\r').unwrap_or(&text);
            assert_eq!(
                parsed["message"].as_str(),
                Some(text),
                "text not kept in message"
            );
        }
    }
}
