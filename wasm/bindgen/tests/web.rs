//! The JS class on Node: `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
//! cargo test -p domreg-wasm --target wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]
// Test helpers outside #[test] functions may unwrap and index too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use domreg_wasm::Enricher;
use wasm_bindgen_test::wasm_bindgen_test;

const REGISTRATIONS: &str = include_str!("../../../examples/registrations.jsonl");
const VERISIGN: &str = include_str!("../../../tests/fixtures/rdap/verisign-google.com.json");
const MARKMONITOR: &str =
    include_str!("../../../tests/fixtures/rdap/markmonitor-registrar-google.com.json");
/// A line of `examples/logs/zeek-dns.ndjson` (real Zeek 6.2 output).
const ZEEK: &str = r#"{"_path":"dns","_write_ts":"2018-03-24T17:15:23.012335Z","ts":"2018-03-24T17:15:23.011344Z","uid":"CCZj7X103pzX6N3RS8","id.orig_h":"10.10.16.2","id.orig_p":46651,"id.resp_h":"10.0.0.100","id.resp_p":53,"proto":"udp","trans_id":36729,"rtt":0.0009911060333251953,"query":"www.google.com","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["172.217.11.68"],"TTLs":[21.0],"rejected":false}"#;

fn domreg(line: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["domreg"].clone()
}

#[wasm_bindgen_test]
fn enrich_with_registrations_loaded() {
    let mut e = Enricher::new(None).unwrap();
    assert_eq!(e.load_registrations(REGISTRATIONS), 6);
    assert!(e.load_errors().is_empty());
    let out = e.enrich(ZEEK);
    assert!(
        out.starts_with(ZEEK.trim_end_matches('}')),
        "original bytes first"
    );
    assert!(!out.ends_with('\n'));
    let d = domreg(&out);
    assert_eq!(d["lookup"], "hit");
    assert_eq!(d["domain"], "google.com");
    assert_eq!(d["field"], "query");
    // Measured at the event's own time, not Date.now().
    assert_eq!(d["registration"]["age_days"], 7495);
    assert_eq!(d["registration"]["registrar"], "MarkMonitor Inc.");
    assert!(e.pending().is_empty(), "{:?}", e.pending());
}

#[wasm_bindgen_test]
fn miss_then_pending_then_ingest_then_hit() {
    let mut e = Enricher::new(Some(r#"{"now":"2026-11-24T12:00:00Z"}"#.to_string())).unwrap();
    assert_eq!(domreg(&e.enrich(ZEEK))["lookup"], "miss");
    assert_eq!(domreg(&e.render(ZEEK))["lookup"], "miss");
    assert_eq!(e.pending(), vec!["google.com".to_string()]);
    assert!(e.pending().is_empty());

    let referral = e.ingest_rdap("google.com", VERISIGN, None, None).unwrap();
    assert!(referral.unwrap().contains("markmonitor"));
    let d = domreg(&e.enrich(ZEEK));
    assert_eq!(d["lookup"], "hit");
    assert_eq!(d["registration"]["registrar_iana_id"], 292);

    e.ingest_rdap("google.com", VERISIGN, Some(MARKMONITOR.to_string()), None)
        .unwrap();
    let d = domreg(&e.enrich(ZEEK));
    assert_eq!(d["lookup"], "hit");
    assert_eq!(d["registration"]["registrar"], "MarkMonitor Inc.");
    assert_eq!(d["registration"]["created"], "1997-09-15T04:00:00Z");
    // The fetch time is the fixed `now`.
    assert!(
        e.export_registrations()
            .contains(r#""fetched":"2026-11-24T12:00:00Z""#)
    );

    let stats = e.stats().unwrap();
    let stats: serde_json::Value =
        serde_json::from_str(&String::from(js_sys::JSON::stringify(&stats).unwrap())).unwrap();
    assert_eq!(stats["enricher"]["lines_in"], 3, "render is not counted");
    assert_eq!(stats["enricher"]["lookups"]["hit"], 2);
    assert_eq!(stats["cache"]["entries"], 1);
}

#[wasm_bindgen_test]
fn not_found_and_garbage() {
    let mut e = Enricher::new(None).unwrap();
    let body = r#"{"rdapConformance":["rdap_level_0"],"errorCode":404,"title":"Not Found"}"#;
    assert_eq!(
        e.ingest_rdap("google.com", body, None, None).ok(),
        Some(None)
    );
    assert_eq!(domreg(&e.enrich(ZEEK))["lookup"], "not_found");
    assert!(
        e.ingest_rdap("google.com", "<html>oops</html>", None, None)
            .is_err()
    );
    assert!(
        e.ingest_rdap("google.com", VERISIGN, Some("{".to_string()), None)
            .is_err()
    );
    e.ingest_not_found("nic.xyz", None).unwrap();
    assert!(
        e.export_registrations()
            .contains(r#""domain":"nic.xyz","registered":false"#)
    );
}

#[wasm_bindgen_test]
fn export_load_round_trip() {
    let mut a = Enricher::new(None).unwrap();
    a.load_registrations(REGISTRATIONS);
    a.ingest_rdap("google.com", VERISIGN, Some(MARKMONITOR.to_string()), None)
        .unwrap();
    let export = a.export_registrations();
    assert_eq!(export.lines().count(), 6);
    let mut b = Enricher::new(None).unwrap();
    assert_eq!(b.load_registrations(&export), 6);
    assert_eq!(b.export_registrations(), export);
    assert_eq!(b.enrich(ZEEK), a.enrich(ZEEK));
    assert_eq!(b.load_registrations("garbage\n"), 0);
    assert_eq!(b.load_errors().len(), 1);
}

#[wasm_bindgen_test]
fn bad_config_throws() {
    for bad in [
        "{",
        r#"{"rules":{"newly_registerd":{"days":7}}}"#,
        r#"{"cache":{"ttl_found":60}}"#,
        r#"{"now":"soon"}"#,
    ] {
        assert!(Enricher::new(Some(bad.to_string())).is_err(), "{bad}");
    }
    let mut e = Enricher::new(Some(r#"{"rules":{"newly_registered":{"days":7}}}"#.into())).unwrap();
    assert!(e.set_now(Some("not a time".into())).is_err());
    assert!(e.set_now(None).is_ok());
}

#[wasm_bindgen_test]
fn bootstrap() {
    let b = domreg_wasm::RdapBootstrap::new(None).unwrap();
    let url = b.query_url("google.com").unwrap();
    assert!(
        url.starts_with("https://") && url.ends_with("/domain/google.com"),
        "{url}"
    );
    let own = r#"{"services":[[["com"],["http://127.0.0.1:9/"]]]}"#;
    let b = domreg_wasm::RdapBootstrap::new(Some(own.to_string())).unwrap();
    assert_eq!(
        b.query_url("google.com").as_deref(),
        Some("http://127.0.0.1:9/domain/google.com")
    );
    assert_eq!(b.query_url("nic.xyz"), None);
    assert!(domreg_wasm::RdapBootstrap::new(Some("[]".to_string())).is_err());
}
