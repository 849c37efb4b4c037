//! The adapter's Rust layer on the host target (the JS class itself is
//! tested on Node by `web.rs`).
#![cfg(not(target_arch = "wasm32"))]
// Test helpers outside #[test] functions may unwrap and index too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use chrono::{DateTime, TimeZone, Utc};
use domreg_wasm::{Filter, Options};

const REGISTRATIONS: &str = include_str!("../../../examples/registrations.jsonl");
const VERISIGN: &str = include_str!("../../../tests/fixtures/rdap/verisign-google.com.json");
const MARKMONITOR: &str =
    include_str!("../../../tests/fixtures/rdap/markmonitor-registrar-google.com.json");
const ZEEK: &str = r#"{"_path":"dns","ts":"2018-03-24T17:15:23.011344Z","uid":"CCZj7X103pzX6N3RS8","query":"www.google.com","qtype_name":"A"}"#;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
}

fn domreg(out: &[u8]) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(out).unwrap();
    v["domreg"].clone()
}

#[test]
fn miss_then_pending_then_hit_with_registrar() {
    let mut f = Filter::new(&Options::default()).unwrap();
    let out = f.enrich(ZEEK.as_bytes(), now(), true).to_vec();
    assert!(!out.ends_with(b"\n"));
    assert_eq!(domreg(&out)["lookup"], "miss");
    assert_eq!(f.take_pending(), vec!["google.com"]);
    assert!(f.take_pending().is_empty());

    f.enrich(ZEEK.as_bytes(), now(), true);
    let referral = f
        .ingest_rdap("google.com", VERISIGN.as_bytes(), None, None, now())
        .unwrap();
    assert!(referral.unwrap().contains("markmonitor"));
    assert!(
        f.take_pending().is_empty(),
        "ingest clears the pending domain"
    );
    let out = f.enrich(ZEEK.as_bytes(), now(), true).to_vec();
    let d = domreg(&out);
    assert_eq!(d["lookup"], "hit");
    assert_eq!(d["registration"]["registrar_iana_id"], 292);

    f.ingest_rdap(
        "google.com",
        VERISIGN.as_bytes(),
        Some(MARKMONITOR.as_bytes()),
        Some("https://rdap.verisign.com/com/v1/"),
        now(),
    )
    .unwrap();
    let d = domreg(f.enrich(ZEEK.as_bytes(), now(), true));
    assert_eq!(d["registration"]["registrar"], "MarkMonitor Inc.");
    let export = f.export_registrations();
    assert!(
        export.contains(r#""server":"https://rdap.verisign.com/com/v1/""#),
        "{export}"
    );

    let stats: serde_json::Value = serde_json::from_str(&f.stats_json()).unwrap();
    assert_eq!(stats["enricher"]["lines_in"], 4);
    assert_eq!(stats["enricher"]["lookups"]["miss"], 2);
    assert_eq!(stats["cache"]["entries"], 1);
}

#[test]
fn uncounted_render_and_not_found_and_error() {
    let mut f = Filter::new(&Options::default()).unwrap();
    f.enrich(ZEEK.as_bytes(), now(), false);
    let stats: serde_json::Value = serde_json::from_str(&f.stats_json()).unwrap();
    assert_eq!(stats["enricher"]["lines_in"], 0);
    assert_eq!(stats["pending"], 1);

    let body = br#"{"rdapConformance":["rdap_level_0"],"errorCode":404,"title":"Not Found"}"#;
    assert_eq!(
        f.ingest_rdap("google.com", body, None, None, now()),
        Ok(None)
    );
    assert_eq!(
        domreg(f.enrich(ZEEK.as_bytes(), now(), true))["lookup"],
        "not_found"
    );

    let line = br#"{"ts":"2018-03-24T17:15:23Z","uid":"C1","query":"a.example.org"}"#;
    f.ingest_error("example.org", "timeout", now()).unwrap();
    let d = domreg(f.enrich(line, now(), true));
    assert_eq!(d["lookup"], "error");
    assert_eq!(d["error"], "timeout");
    assert!(f.ingest_error("example.org", "bad code!", now()).is_err());
    f.ingest_not_found("www.example.org", None, now()).unwrap();
    assert_eq!(domreg(f.enrich(line, now(), true))["lookup"], "not_found");

    assert!(
        f.ingest_rdap("google.com", b"<html>", None, None, now())
            .is_err()
    );
    assert!(
        f.ingest_rdap("localhost", VERISIGN.as_bytes(), None, None, now())
            .is_err()
    );
}

#[test]
fn load_export_round_trip() {
    let mut a = Filter::new(&Options::default()).unwrap();
    let loaded = a.load_registrations(REGISTRATIONS, now());
    assert_eq!(loaded.records, 6);
    assert!(loaded.errors.is_empty());
    let export = a.export_registrations();
    let mut b = Filter::new(&Options::default()).unwrap();
    assert_eq!(b.load_registrations(&export, now()).records, 6);
    assert_eq!(b.export_registrations(), export);

    let loaded = b.load_registrations(
        "{\"domain\":\"x.com\"}\nnot json\n{\"domain\":\"localhost\"}\n",
        now(),
    );
    assert_eq!(loaded.records, 1);
    assert_eq!(loaded.errors.len(), 2, "{:?}", loaded.errors);
    assert!(loaded.errors[0].contains("line 2"), "{:?}", loaded.errors);
}

#[test]
fn options() {
    let o = Options::from_json(
        r#"{"rules":{"newly_registered":{"days":7}},"input":{"fields":["a.b"]},
            "cache":{"max_entries":10,"ttl_found_secs":60},"format":"zeek",
            "now":"2026-11-24T12:00:00Z"}"#,
    )
    .unwrap();
    assert_eq!(o.config.rules.newly_registered.days, 7);
    assert_eq!(o.config.rules.newly_registered.weight, 60);
    assert_eq!(o.config.input.fields, vec!["a.b"]);
    assert_eq!(o.cache.max_entries, 10);
    assert_eq!(o.cache.ttl_found.num_seconds(), 60);
    assert_eq!(o.now, Some(now()));
    assert_eq!(Options::from_json("{}").unwrap(), Options::default());

    for (bad, says) in [
        ("[]", "not a JSON object"),
        ("{", "not JSON"),
        (r#"{"rulez":{}}"#, "unknown key \"rulez\""),
        (
            r#"{"rules":{"newly_registerd":{"days":7}}}"#,
            "newly_registerd",
        ),
        (r#"{"rules":{"privacy":{"weight":300}}}"#, "config"),
        (r#"{"input":{"max_line_bytes":10}}"#, "max_line_bytes"),
        (r#"{"cache":{"max_entrie":10}}"#, "max_entrie"),
        (r#"{"format":"zeak"}"#, "zeak"),
        (r#"{"now":"yesterday"}"#, "not a time"),
    ] {
        let e = Options::from_json(bad).unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
}
