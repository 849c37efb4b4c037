//! The real proxy-wasm filter (`wasm/proxy`, compiled to wasm32-wasip1) in
//! the wasmtime host of `src/proxy.rs`, answered with the real RDAP
//! fixtures of `tests/fixtures/rdap/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::OnceLock;

use chrono::{NaiveDate, TimeZone, Utc};
use domreg_wasm_harness::proxy::{ProxyHost, Vm};

/// The ATT&CK id of the privacy rule (Hide Infrastructure).
const PRIVACY_ATTACK: &str = "T1665";

/// Clusters the tests configure: Verisign has its own, anything else goes
/// to the default.
const CONFIG: &str =
    r#"{"rdap":{"cluster":"rdap_default","clusters":{"rdap.verisign.com":"rdap_verisign"}}}"#;

fn host() -> ProxyHost {
    static BASE: OnceLock<ProxyHost> = OnceLock::new();
    BASE.get_or_init(|| ProxyHost::load_default().unwrap_or_else(|e| panic!("{e:#}")))
        .fork()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/fixtures/rdap/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn unix(y: i32, m: u32, d: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap().timestamp()
}

fn days_between(a: (i32, u32, u32), b: (i32, u32, u32)) -> i64 {
    let a = NaiveDate::from_ymd_opt(a.0, a.1, a.2).unwrap();
    let b = NaiveDate::from_ymd_opt(b.0, b.1, b.2).unwrap();
    (b - a).num_days()
}

fn vm(host: &ProxyHost, config: &str) -> Vm {
    let vm = host.vm(config).unwrap();
    assert!(vm.configured(), "configuration refused: {:?}", vm.logs());
    vm
}

/// Answer the single pending call with the registry's google.com record,
/// then the registrar's (the referral).
fn answer_google(vm: &mut Vm) {
    assert_eq!(vm.calls().len(), 1, "{:?}", vm.calls());
    let call = vm.calls()[0].clone();
    vm.respond(
        call.token,
        Some(200),
        &[("content-type", "application/rdap+json")],
        &fixture("verisign-google.com.json"),
    )
    .unwrap();
    assert_eq!(vm.calls().len(), 1, "referral not followed");
    let referral = vm.calls()[0].clone();
    vm.respond(
        referral.token,
        Some(200),
        &[],
        &fixture("markmonitor-registrar-google.com.json"),
    )
    .unwrap();
    assert!(vm.calls().is_empty());
}

#[test]
fn miss_calls_the_registry_follows_the_referral_and_resumes() {
    let host = host();
    host.set_time(unix(2021, 6, 10));
    let mut vm = vm(&host, CONFIG);
    assert_eq!(vm.tick_period_ms(), 1000);

    let id = vm
        .request(&[
            (":method", "GET"),
            (":authority", "www.Google.com:443"),
            (":path", "/"),
        ])
        .unwrap();
    let s = vm.stream(id).unwrap();
    assert_eq!(s.action, Some(1), "the request waits for the lookup");
    assert_eq!(s.resumed, 0);

    // The registry call: the bootstrap's Verisign base, its own cluster.
    let call = vm.calls()[0].clone();
    assert_eq!(call.cluster, "rdap_verisign");
    assert_eq!(call.header(":method"), Some("GET"));
    assert_eq!(call.header(":authority"), Some("rdap.verisign.com"));
    assert_eq!(call.header(":path"), Some("/com/v1/domain/google.com"));
    assert_eq!(call.header(":scheme"), Some("https"));
    assert_eq!(call.header("accept"), Some("application/rdap+json"));
    assert_eq!(call.timeout_ms, 2000);
    vm.respond(
        call.token,
        Some(200),
        &[],
        &fixture("verisign-google.com.json"),
    )
    .unwrap();
    assert_eq!(
        vm.stream(id).unwrap().resumed,
        0,
        "resumed before the referral"
    );

    // The referral: the registrar's URL, to the default cluster.
    let referral = vm.calls()[0].clone();
    assert_eq!(referral.cluster, "rdap_default");
    assert_eq!(referral.header(":authority"), Some("rdap.markmonitor.com"));
    assert_eq!(referral.header(":path"), Some("/rdap/domain/GOOGLE.COM"));
    vm.respond(
        referral.token,
        Some(200),
        &[],
        &fixture("markmonitor-registrar-google.com.json"),
    )
    .unwrap();

    let s = vm.stream(id).unwrap();
    assert_eq!(s.resumed, 1);
    assert!(s.local_response.is_none());
    let age = days_between((1997, 9, 15), (2021, 6, 10)).to_string();
    assert_eq!(s.header("x-domreg-lookup").as_deref(), Some("hit"));
    assert_eq!(s.header("x-domreg-domain").as_deref(), Some("google.com"));
    assert_eq!(s.header("x-domreg-age-days"), Some(age.clone()));
    assert_eq!(
        s.header("x-domreg-status").as_deref(),
        Some(
            "clientDeleteProhibited,clientTransferProhibited,clientUpdateProhibited,\
             serverDeleteProhibited,serverTransferProhibited,serverUpdateProhibited"
        )
    );
    // The registrar's record hides the registrant (the registry's has no
    // registrant at all): privacy, weight 5.
    assert_eq!(s.header("x-domreg-reasons").as_deref(), Some("privacy"));
    assert_eq!(s.header("x-domreg-risk").as_deref(), Some("5"));
    assert_eq!(s.header("x-domreg-attack").as_deref(), Some(PRIVACY_ATTACK));
    assert_eq!(s.header("x-domreg-error"), None);
    // The same values as properties (Envoy filter state wasm.domreg_*).
    assert_eq!(s.property("domreg_age_days"), Some(age));
    assert_eq!(s.property("domreg_lookup").as_deref(), Some("hit"));
    assert_eq!(s.property("domreg_risk").as_deref(), Some("5"));
    let status = s.header("x-domreg-status");

    // Cache hit: no call, no pause, the same headers.
    let made = vm.calls_made();
    let id2 = vm.request(&[(":authority", "mail.google.com")]).unwrap();
    let s2 = vm.stream(id2).unwrap();
    assert_eq!(s2.action, Some(0));
    assert_eq!(vm.calls_made(), made);
    assert_eq!(s2.header("x-domreg-lookup").as_deref(), Some("hit"));
    assert_eq!(s2.header("x-domreg-status"), status);
}

#[test]
fn the_registrars_answer_is_merged() {
    // The registrar's record has "last update" 2019-09-09; the registry's
    // has none. Six days later recently_changed fires only with the
    // referral followed.
    let host = host();
    host.set_time(unix(2019, 9, 15));
    let mut vm1 = vm(&host, CONFIG);
    let id = vm1.request(&[(":authority", "google.com")]).unwrap();
    answer_google(&mut vm1);
    let s = vm1.stream(id).unwrap();
    assert_eq!(
        s.header("x-domreg-reasons").as_deref(),
        Some("recently_changed,privacy")
    );
    assert_eq!(s.header("x-domreg-risk").as_deref(), Some("35"));
    assert_eq!(
        s.header("x-domreg-attack"),
        Some(format!("T1584.001,{PRIVACY_ATTACK}"))
    );

    let host = host.fork();
    host.set_time(unix(2019, 9, 15));
    let mut vm2 = vm(
        &host,
        r#"{"rdap":{"cluster":"rdap_default","follow_referral":false}}"#,
    );
    let id = vm2.request(&[(":authority", "google.com")]).unwrap();
    let call = vm2.calls()[0].clone();
    assert_eq!(call.cluster, "rdap_default");
    vm2.respond(
        call.token,
        Some(200),
        &[],
        &fixture("verisign-google.com.json"),
    )
    .unwrap();
    assert!(vm2.calls().is_empty());
    let s = vm2.stream(id).unwrap();
    assert_eq!(s.resumed, 1);
    assert_eq!(s.header("x-domreg-reasons"), None);
    assert_eq!(s.header("x-domreg-risk").as_deref(), Some("0"));
}

#[test]
fn concurrent_requests_wait_on_one_call() {
    let host = host();
    host.set_time(unix(2021, 6, 10));
    let mut vm = vm(&host, CONFIG);
    let ids: Vec<u32> = ["google.com", "www.google.com:443", "MAIL.google.com"]
        .iter()
        .map(|a| vm.request(&[(":authority", a)]).unwrap())
        .collect();
    assert_eq!(vm.calls_made(), 1, "one call for three requests");
    // A body arriving while the lookup runs is held too.
    assert_eq!(vm.request_body(ids[0], 512, true).unwrap(), 1);
    // One of them goes away before the answer.
    vm.finish(ids[1]).unwrap();
    answer_google(&mut vm);
    for (i, id) in ids.iter().enumerate() {
        let s = vm.stream(*id).unwrap();
        if i == 1 {
            assert_eq!(s.resumed, 0, "a finished request is not resumed");
            continue;
        }
        assert_eq!(s.resumed, 1, "request {i}");
        assert_eq!(s.header("x-domreg-domain").as_deref(), Some("google.com"));
    }
    assert_eq!(
        vm.request_body(ids[0], 512, true).unwrap(),
        0,
        "not held once resumed"
    );
}

#[test]
fn block_mode_answers_403_for_flagged_domains() {
    // Five days after google.com was registered: newly_registered.
    let host = host();
    host.set_time(unix(1997, 9, 20));
    let mut blocker = vm(
        &host,
        r#"{"mode":"block","rdap":{"cluster":"rdap_default"}}"#,
    );
    let id = blocker
        .request(&[(":authority", "www.google.com")])
        .unwrap();
    answer_google(&mut blocker);
    let s = blocker.stream(id).unwrap();
    assert_eq!(s.resumed, 0, "a blocked request is not resumed");
    let r = s.local_response.as_ref().expect("a local response");
    assert_eq!(r.status, 403);
    assert!(
        r.headers
            .contains(&("x-domreg-block".to_string(), "newly_registered".to_string())),
        "{:?}",
        r.headers
    );
    let body = String::from_utf8_lossy(&r.body);
    assert!(
        body.contains("google.com") && body.contains("newly_registered"),
        "{body}"
    );
    assert_eq!(
        s.property("domreg_block").as_deref(),
        Some("newly_registered")
    );
    // Cached now: blocked at once, without a call.
    let id = blocker.request(&[(":authority", "google.com")]).unwrap();
    let s = blocker.stream(id).unwrap();
    assert_eq!(s.action, Some(1));
    assert_eq!(s.local_response.as_ref().map(|r| r.status), Some(403));

    // Tag mode only tags.
    let host = host.fork();
    host.set_time(unix(1997, 9, 20));
    let mut tagger = vm(&host, r#"{"rdap":{"cluster":"rdap_default"}}"#);
    let id = tagger.request(&[(":authority", "www.google.com")]).unwrap();
    answer_google(&mut tagger);
    let s = tagger.stream(id).unwrap();
    assert!(s.continued());
    assert_eq!(s.header("x-domreg-age-days").as_deref(), Some("5"));
    assert_eq!(
        s.header("x-domreg-reasons").as_deref(),
        Some("newly_registered,privacy")
    );
    assert_eq!(
        s.header("x-domreg-attack"),
        Some(format!("T1583.001,{PRIVACY_ATTACK}"))
    );

    // A block policy by score only (60 + 5): 65 blocks, 66 lets it through.
    for (min, blocked) in [(65, true), (66, false)] {
        let host = host.fork();
        host.set_time(unix(1997, 9, 20));
        let config = format!(
            r#"{{"mode":"block","block":{{"rules":[],"min_risk":{min}}},"rdap":{{"cluster":"c"}}}}"#
        );
        let mut v = vm(&host, &config);
        let id = v.request(&[(":authority", "google.com")]).unwrap();
        answer_google(&mut v);
        let s = v.stream(id).unwrap();
        assert_eq!(s.local_response.is_some(), blocked, "min_risk {min}");
        if blocked {
            assert_eq!(s.local_response.as_ref().unwrap().headers[1].1, "risk:65");
        }
    }
}

#[test]
fn lookup_failures_fail_open_and_say_so() {
    let host = host();
    host.set_time(unix(2021, 6, 10));
    let mut vm = vm(&host, CONFIG);

    // The host reports the call failed after its timeout (no headers).
    let id = vm.request(&[(":authority", "example.com")]).unwrap();
    let call = vm.calls()[0].clone();
    host.advance_ms(2_000);
    vm.respond(call.token, None, &[], b"").unwrap();
    let s = vm.stream(id).unwrap();
    assert!(s.continued());
    assert_eq!(s.header("x-domreg-lookup").as_deref(), Some("error"));
    assert_eq!(s.header("x-domreg-error").as_deref(), Some("timeout"));
    assert_eq!(s.property("domreg_error").as_deref(), Some("timeout"));
    assert_eq!(s.header("x-domreg-risk").as_deref(), Some("0"));
    // The error is kept for ttl_error: no call storm while the registry is down.
    let made = vm.calls_made();
    let id = vm.request(&[(":authority", "www.example.com")]).unwrap();
    assert_eq!(vm.calls_made(), made);
    assert_eq!(
        vm.stream(id).unwrap().header("x-domreg-error").as_deref(),
        Some("timeout")
    );

    // A server error.
    let id = vm.request(&[(":authority", "example.net")]).unwrap();
    let call = vm.calls()[0].clone();
    vm.respond(call.token, Some(503), &[], b"busy").unwrap();
    let s = vm.stream(id).unwrap();
    assert!(s.continued());
    assert_eq!(s.header("x-domreg-error").as_deref(), Some("http_503"));

    // A call the host never answers: the tick ends it after 2 x timeout + 1 s.
    let id = vm.request(&[(":authority", "example.org")]).unwrap();
    assert_eq!(vm.calls().len(), 1);
    host.advance_ms(4_000);
    vm.tick().unwrap();
    assert_eq!(vm.stream(id).unwrap().resumed, 0, "too early");
    host.advance_ms(1_500);
    vm.tick().unwrap();
    let s = vm.stream(id).unwrap();
    assert!(s.continued());
    assert_eq!(s.header("x-domreg-error").as_deref(), Some("timeout"));
    // A late answer to the expired call is ignored, without a trap.
    let late = vm.calls()[0].clone();
    vm.respond(late.token, Some(200), &[], &fixture("pir-wicar.org.json"))
        .unwrap();

    // A registry 404: not registered.
    let id = vm
        .request(&[(":authority", "no-such-name-here.com")])
        .unwrap();
    let call = vm.calls()[0].clone();
    vm.respond(call.token, Some(404), &[], b"").unwrap();
    let s = vm.stream(id).unwrap();
    assert!(s.continued());
    assert_eq!(s.header("x-domreg-lookup").as_deref(), Some("not_found"));
    assert_eq!(
        s.header("x-domreg-reasons").as_deref(),
        Some("not_registered")
    );
}

#[test]
fn fail_open_false_blocks_on_lookup_errors() {
    let host = host();
    host.set_time(unix(2021, 6, 10));
    let mut vm = vm(
        &host,
        r#"{"fail_open":false,"rdap":{"cluster":"rdap_default","timeout_ms":500}}"#,
    );
    let id = vm.request(&[(":authority", "example.com")]).unwrap();
    let call = vm.calls()[0].clone();
    assert_eq!(call.timeout_ms, 500);
    vm.respond(call.token, Some(503), &[], b"").unwrap();
    let s = vm.stream(id).unwrap();
    assert_eq!(s.resumed, 0);
    let r = s.local_response.as_ref().expect("blocked");
    assert_eq!(r.status, 403);
    assert_eq!(
        r.headers[1],
        (
            "x-domreg-block".to_string(),
            "lookup_error:http_503".to_string()
        )
    );
    // A good answer is not blocked in tag mode.
    let id = vm.request(&[(":authority", "wicar.org")]).unwrap();
    let call = vm.calls()[0].clone();
    assert_eq!(
        call.header(":authority"),
        Some("rdap.publicinterestregistry.org")
    );
    vm.respond(call.token, Some(200), &[], &fixture("pir-wicar.org.json"))
        .unwrap();
    // PIR refers to the registrar; that call fails: the registry's record stands.
    let referral = vm.calls()[0].clone();
    assert_eq!(referral.header(":authority"), Some("rdapserver.net"));
    vm.respond(referral.token, None, &[], b"").unwrap();
    let s = vm.stream(id).unwrap();
    assert!(s.continued());
    assert_eq!(s.header("x-domreg-lookup").as_deref(), Some("hit"));
}

fn shared_entry(host: &ProxyHost, key: &str) -> serde_json::Value {
    let v = host.shared().get(key).expect("a shared entry");
    serde_json::from_slice(&v.value).unwrap()
}

#[test]
fn workers_share_answers_through_shared_data() {
    let host = host();
    let now = unix(2021, 6, 10);
    host.set_time(now);
    let mut a = vm(&host, CONFIG);
    let mut b = vm(&host, CONFIG);
    let id = a.request(&[(":authority", "google.com")]).unwrap();
    answer_google(&mut a);
    assert!(a.stream(id).unwrap().continued());
    let entry = shared_entry(&host, "domreg.reg.google.com");
    assert_eq!(entry["stored"], now);
    assert_eq!(entry["registration"]["domain"], "google.com");
    // Another worker: no call, the same answer.
    let id = b.request(&[(":authority", "www.google.com")]).unwrap();
    assert_eq!(b.calls_made(), 0);
    let s = b.stream(id).unwrap();
    assert_eq!(s.action, Some(0));
    assert_eq!(s.header("x-domreg-lookup").as_deref(), Some("hit"));
    assert_eq!(
        s.header("x-domreg-age-days"),
        Some(days_between((1997, 9, 15), (2021, 6, 10)).to_string())
    );
}

#[test]
fn shared_data_cas_conflicts_are_retried() {
    let host = host();
    let now = unix(2021, 6, 10);
    host.set_time(now);
    let key = "domreg.reg.google.com";
    // A stale entry from two days ago: read, but not used.
    let stale =
        serde_json::json!({"stored": now - 2 * 86_400, "registration": {"domain": "google.com"}});
    host.shared().put(key, stale.to_string().as_bytes());

    // Another worker writes an older answer between our read and our
    // write: our CAS write fails, we read again, ours is newer: written.
    let mut v = vm(&host, CONFIG);
    let id = v.request(&[(":authority", "google.com")]).unwrap();
    assert_eq!(v.calls_made(), 1, "a stale shared entry is refreshed");
    let older = serde_json::json!({"stored": now - 10, "error": "timeout"});
    host.shared().interpose(key, older.to_string().as_bytes());
    answer_google(&mut v);
    assert!(v.stream(id).unwrap().continued());
    let (_, _, mismatches) = host.shared().counters();
    assert_eq!(mismatches, 1);
    let entry = shared_entry(&host, key);
    assert_eq!(entry["stored"], now);
    assert_eq!(entry["registration"]["domain"], "google.com");
    assert!(
        v.logs().iter().any(|(_, m)| m.contains("CAS mismatch")),
        "{:?}",
        v.logs()
    );

    // This time the other worker's answer is newer: it is kept.
    let host = host.fork();
    host.set_time(now);
    host.shared().put(key, stale.to_string().as_bytes());
    let mut w = vm(&host, CONFIG);
    let id = w.request(&[(":authority", "google.com")]).unwrap();
    let newer = serde_json::json!({"stored": now + 5, "registration": {"domain": "google.com", "status": ["serverHold"]}});
    host.shared().interpose(key, newer.to_string().as_bytes());
    answer_google(&mut w);
    assert!(w.stream(id).unwrap().continued());
    assert_eq!(host.shared().counters().2, 1);
    assert_eq!(shared_entry(&host, key), newer);
}

#[test]
fn client_sent_domreg_headers_are_removed() {
    let host = host();
    host.set_time(unix(2021, 6, 10));
    let mut vm = vm(&host, CONFIG);
    let id = vm
        .request(&[
            (":authority", "[::1]:8080"),
            ("X-Domreg-Risk", "0"),
            ("x-domreg-lookup", "hit"),
            ("x-domreg-block", "no"),
            ("x-domreg-anything", "spoof"),
            ("x-other", "kept"),
        ])
        .unwrap();
    let s = vm.stream(id).unwrap();
    assert!(s.continued());
    assert_eq!(vm.calls_made(), 0, "IP literals are not looked up");
    let ours = s.headers_with_prefix("x-domreg-");
    assert_eq!(
        ours,
        vec![
            ("x-domreg-lookup".to_string(), "skipped".to_string()),
            ("x-domreg-risk".to_string(), "0".to_string()),
        ]
    );
    assert_eq!(s.header("x-other").as_deref(), Some("kept"));

    // On a hit too: the client's values never survive.
    let id = vm.request(&[(":authority", "google.com")]).unwrap();
    answer_google(&mut vm);
    assert!(vm.stream(id).unwrap().continued());
    let id = vm
        .request(&[(":authority", "google.com"), ("x-domreg-age-days", "9999")])
        .unwrap();
    let s = vm.stream(id).unwrap();
    let ages: Vec<_> = s
        .headers_with_prefix("x-domreg-age-days")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        ages,
        vec![days_between((1997, 9, 15), (2021, 6, 10)).to_string()]
    );
}

#[test]
fn bad_input_never_traps_and_requests_go_on() {
    let host = host();
    host.set_time(unix(2021, 6, 10));
    let mut vm = vm(&host, CONFIG);
    let long = "a".repeat(100_000) + ".com";
    let huge = "x".repeat(1 << 20);
    let cases: Vec<Vec<(String, Vec<u8>)>> = vec![
        vec![(":authority".into(), b"exa mple..com".to_vec())],
        vec![(":authority".into(), long.into_bytes())],
        vec![(
            ":authority".into(),
            vec![0xff, 0xfe, b'.', b'c', b'o', b'm'],
        )],
        vec![(":authority".into(), b"host:99999999".to_vec())],
        vec![(":authority".into(), b"[not-v6]:80".to_vec())],
        vec![(":authority".into(), b"".to_vec())],
        vec![(":path".into(), b"/no-authority".to_vec())],
        vec![
            (":authority".into(), b"127.0.0.1".to_vec()),
            ("x-big".into(), huge.clone().into_bytes()),
        ],
        vec![(":authority".into(), b"com".to_vec())],
    ];
    for (i, headers) in cases.into_iter().enumerate() {
        let id = vm.request_bytes(headers).unwrap();
        let s = vm.stream(id).unwrap();
        assert!(s.continued(), "case {i}: {s:?}");
        assert_eq!(
            s.header("x-domreg-lookup").as_deref(),
            Some("skipped"),
            "case {i}"
        );
    }
    assert_eq!(vm.calls_made(), 0);

    // Garbage RDAP bodies: an error, and the request goes on.
    let bodies: [&[u8]; 5] = [
        b"not json{",
        b"<html>rate limited</html>",
        br#"{"objectClassName":"entity","handle":"X"}"#,
        br#"{"objectClassName":"domain","ldhName":"#,
        &[0xff; 64],
    ];
    for (i, body) in bodies.iter().enumerate() {
        let name = format!("garbage{i}.com");
        let id = vm.request(&[(":authority", &name)]).unwrap();
        let call = vm.calls()[0].clone();
        vm.respond(call.token, Some(200), &[], body).unwrap();
        let s = vm.stream(id).unwrap();
        assert!(s.continued(), "body {i}");
        assert_eq!(
            s.header("x-domreg-error").as_deref(),
            Some("bad_response"),
            "body {i}"
        );
    }
    // A huge header value with a real lookup.
    let id = vm
        .request(&[(":authority", "google.com"), ("x-big", &huge)])
        .unwrap();
    answer_google(&mut vm);
    assert!(vm.stream(id).unwrap().continued());
}

#[test]
fn bad_configuration_is_refused() {
    let host = host();
    for config in [
        r#"{"mode":"drop"}"#,
        r#"{"colour":1}"#,
        r#"{"rules":{"newly_registerd":{"days":7}}}"#,
        r#"{"block":{"rules":["no_such_rule"]}}"#,
        r#"{"rdap":{"timeout_ms":0}}"#,
        "not json",
    ] {
        let vm = host.vm(config).unwrap();
        assert!(!vm.configured(), "{config} accepted");
        assert!(
            vm.logs()
                .iter()
                .any(|(level, m)| *level >= 4 && m.contains("configuration")),
            "{config}: {:?}",
            vm.logs()
        );
    }
    // Empty and partial configurations are fine; rules keep their other
    // defaults key by key.
    for config in ["", "{}", r#"{"rules":{"newly_registered":{"days":7}}}"#] {
        assert!(host.vm(config).unwrap().configured(), "{config}");
    }
}

#[test]
fn rule_thresholds_come_from_the_configuration() {
    // 5 days old, but newly_registered.days = 3: not flagged.
    let host = host();
    host.set_time(unix(1997, 9, 20));
    let mut v = vm(
        &host,
        r#"{"mode":"block","rules":{"newly_registered":{"days":3}},"rdap":{"cluster":"c"}}"#,
    );
    let id = v.request(&[(":authority", "google.com")]).unwrap();
    answer_google(&mut v);
    let s = v.stream(id).unwrap();
    assert!(s.continued());
    assert_eq!(s.header("x-domreg-reasons").as_deref(), Some("privacy"));
}

/// The plugin configuration embedded in `wasm/proxy/envoy.yaml` (the
/// `value: |` block of its `google.protobuf.StringValue`).
fn envoy_yaml_configuration() -> (String, String) {
    let path = format!("{}/../proxy/envoy.yaml", env!("CARGO_MANIFEST_DIR"));
    let yaml = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = yaml.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("type.googleapis.com/google.protobuf.StringValue"))
        .expect("a StringValue configuration");
    let value = lines[at + 1];
    assert_eq!(value.trim(), "value: |");
    let indent = value.len() - value.trim_start().len();
    let block: Vec<&str> = lines[at + 2..]
        .iter()
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .copied()
        .collect();
    (block.join("\n"), yaml)
}

#[test]
fn the_shipped_envoy_yaml_configuration_loads_and_names_its_clusters() {
    let (config, yaml) = envoy_yaml_configuration();
    let host = host();
    host.set_time(unix(2021, 6, 10));
    let mut v = vm(&host, &config);
    let json: serde_json::Value = serde_json::from_str(&config).unwrap();
    let mut clusters = vec![json["rdap"]["cluster"].as_str().unwrap().to_string()];
    for c in json["rdap"]["clusters"].as_object().unwrap().values() {
        clusters.push(c.as_str().unwrap().to_string());
    }
    for c in &clusters {
        assert!(
            yaml.contains(&format!("- name: {c}\n")),
            "cluster {c} is not defined in envoy.yaml"
        );
    }
    // .com goes to the Verisign cluster, the referral to the catch-all.
    let id = v.request(&[(":authority", "www.google.com")]).unwrap();
    assert_eq!(v.calls()[0].cluster, "rdap_verisign");
    let call = v.calls()[0].clone();
    v.respond(
        call.token,
        Some(200),
        &[],
        &fixture("verisign-google.com.json"),
    )
    .unwrap();
    assert_eq!(v.calls()[0].cluster, "rdap_any");
    let call = v.calls()[0].clone();
    v.respond(
        call.token,
        Some(200),
        &[],
        &fixture("markmonitor-registrar-google.com.json"),
    )
    .unwrap();
    assert!(v.stream(id).unwrap().continued());
    // .org to PIR's.
    v.request(&[(":authority", "wicar.org")]).unwrap();
    assert_eq!(v.calls()[0].cluster, "rdap_pir");
}
