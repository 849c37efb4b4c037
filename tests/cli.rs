//! End-to-end tests of the `domreg` binary: real sample logs, real RDAP
//! registrations, robustness, idempotence and the command-line interface.
//!
//! Every `enrich` run passes `--now 2026-11-24T00:00:00Z`. The expected
//! values were checked by hand against the fixtures: day counts by separate
//! date arithmetic on the RDAP dates, counts per reason by reading the
//! sample lines (see the comments at each sample).

#[cfg(test)]
mod common;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::Exp::{Field, Full, Pass};
use common::{
    Env, NOW, added_members, check_sample, domreg, domreg_env, errors_line, input_lines, json,
    output_lines, sample, threat, totals_line,
};
use serde_json::{Value, json};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

// ------------------------------------------------------------ samples ----

/// Counted from the 500 queries: 46 names under google.com (www 6,
/// www-google-analytics.l 8, plus.l 6, www-googletagmanager.l 4, clients4 4,
/// 0.docs 4, cello.client-channel 4, www3.l 2, adservice 2, id.l 2,
/// gstaticadssl.l 2, 2.client-channel 2), the only domain of the capture
/// with a record in the registrations file; 4 `_sane-port._tcp.local` (special use); 10 under
/// `.localdomain` (8 mirror.cogentco.com, 2 mirror.atlantic.net: no such
/// TLD); the other 440 are misses.
#[test]
fn sample_zeek_dns() {
    let env = Env::new();
    let expected = vec![Field("query"); 500];
    let summary = totals_line(500, 500, 0)
        + "  by format: zeek 500\n"
        + "  lookups: hit 46, miss 440, skipped 14\n"
        + "  skipped: special_use 4, unknown_tld 10\n"
        + &errors_line(0, 0, 0, 6);
    check_sample(&env, "zeek-dns.ndjson", &expected, &summary);
}

/// The edge cases in the real Zeek dns.log sample, by line number. The
/// sample (the first 500 lines of the capture) holds no `*`, no reverse
/// lookup and no single-label name: those are checked on Zeek lines of the
/// same shape in `zeek_skip_reasons_not_in_the_sample`.
#[test]
fn zeek_dns_sample_skip_cases() {
    let env = Env::new();
    let path = sample("zeek-dns.ndjson");
    let input = std::fs::read(&path).expect("sample");
    let out = env.enrich(&[os("-q"), path.as_os_str()], b"");
    assert_eq!(out.code, 0);
    let outs = output_lines(&out.stdout);
    let ins = input_lines(&input);
    let domreg = |n: usize| json(outs[n - 1])["domreg"].clone();

    // mDNS service discovery: underscore labels under .local.
    for n in 369..=372 {
        let d = domreg(n);
        assert_eq!(d["name"], "_sane-port._tcp.local", "line {n}");
        assert_eq!(d["lookup"], "skipped");
        assert_eq!(d["skip_reason"], "special_use");
        assert!(d.get("domain").is_none());
    }
    // `.localdomain` is no TLD.
    for n in (323..=330).chain(447..=448) {
        let d = domreg(n);
        assert_eq!(d["skip_reason"], "unknown_tld", "line {n}");
        assert!(
            d["name"] == "mirror.cogentco.com.localdomain"
                || d["name"] == "mirror.atlantic.net.localdomain"
        );
    }
    // Names under private Public Suffix List entries map to the ICANN
    // registered domain, which is what a registry knows.
    for n in [127, 128, 203, 204, 375, 376] {
        let d = domreg(n);
        assert_eq!(d["domain"], "cloudfront.net", "line {n}");
        assert_eq!(d["lookup"], "miss");
    }
    assert_eq!(domreg(127)["name"], "dcky6u1m8u6el.cloudfront.net");
    for n in [367, 368] {
        let d = domreg(n);
        assert_eq!(
            d["name"],
            "shield-normandy-elb-prod-2099053585.us-west-2.elb.amazonaws.com"
        );
        assert_eq!(d["domain"], "amazonaws.com");
    }
    assert_eq!(domreg(125)["domain"], "mozilla.net");
    assert_eq!(domreg(1)["domain"], "wrccdc.org");
    assert_eq!(domreg(500)["domain"], "cpp.edu");

    // Exactly those 14 lines are skipped; every name is the query as logged
    // (all lower-case already); the hits are exactly the google.com names.
    let mut skipped = Vec::new();
    let mut hits = 0;
    for (i, (inp, outp)) in ins.iter().zip(&outs).enumerate() {
        let event = json(inp);
        let d = &json(outp)["domreg"];
        assert_eq!(d["name"], event["query"], "line {}", i + 1);
        if d["lookup"] == "skipped" {
            skipped.push(i + 1);
        }
        let query = event["query"].as_str().expect("query");
        let google = query == "google.com" || query.ends_with(".google.com");
        assert_eq!(d["lookup"] == "hit", google, "line {}", i + 1);
        hits += usize::from(google);
    }
    let mut expected: Vec<usize> = (323..=330).chain(369..=372).chain(447..=448).collect();
    expected.sort_unstable();
    assert_eq!(skipped, expected);
    assert_eq!(hits, 46);

    // A hit, aged at the event's own `ts` (an ISO string in this capture).
    let line63 = json(outs[62]);
    assert_eq!(line63["ts"], "2018-03-24T17:15:23.011344Z");
    let d = &line63["domreg"];
    assert_eq!(d["name"], "www.google.com");
    assert_eq!(d["registration"]["age_days"], 7495);
    assert_eq!(d["registration"]["expires_in_days"], 3826);
    // Updated after the event: a negative count.
    assert_eq!(d["registration"]["updated_days_ago"], -534);
    assert_eq!(d["risk"], json!({"score": 5, "reasons": ["privacy"]}));
    assert_eq!(
        line63["threat"],
        threat(
            &[("TA0011", "Command and Control")],
            &[("T1665", "Hide Infrastructure")],
            &[]
        )
    );
}

#[test]
fn zeek_skip_reasons_not_in_the_sample() {
    let env = Env::new();
    for (query, name, reason) in [
        ("*", "*", "wildcard"),
        (
            "1.0.168.192.in-addr.arpa",
            "1.0.168.192.in-addr.arpa",
            "reverse_lookup",
        ),
        (
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa",
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa",
            "reverse_lookup",
        ),
        ("WPAD", "wpad", "single_label"),
        ("MacBook.local.", "macbook.local", "special_use"),
        ("printer.home.arpa", "printer.home.arpa", "special_use"),
        ("asdf.coma", "asdf.coma", "unknown_tld"),
        ("co.uk", "co.uk", "public_suffix"),
        ("10.47.1.100", "10.47.1.100", "ip_literal"),
        ("bad name.com", "bad name.com", "invalid_name"),
    ] {
        let line = format!(
            r#"{{"ts":"2018-03-24T17:15:20.865716Z","uid":"C1","query":{}}}"#,
            json!(query)
        );
        let v = env.enrich_one(&line);
        let d = &v["domreg"];
        assert_eq!(d["name"], name, "{query}");
        assert_eq!(d["lookup"], "skipped", "{query}");
        assert_eq!(d["skip_reason"], reason, "{query}");
        assert_eq!(d["risk"], json!({"score": 0, "reasons": []}));
        assert!(d.get("domain").is_none() && v.get("threat").is_none());
    }
    // Underscore service labels under a real domain are looked up.
    let v = env.enrich_one(r#"{"uid":"C1","query":"_ldap._tcp.dc.google.com"}"#);
    assert_eq!(v["domreg"]["domain"], "google.com");
    assert_eq!(v["domreg"]["lookup"], "hit");
}

#[test]
fn sample_zeek_http() {
    let env = Env::new();
    let expected = [
        Full("host", "ocsp.apple.com", "miss apple.com"),
        Full("host", "httpbin.org", "miss httpbin.org"),
        Pass,
        Pass,
        Pass,
        Pass,
        Pass,
    ];
    let summary = totals_line(7, 2, 5)
        + "  by format: zeek 2\n"
        + "  lookups: miss 2\n"
        + "  passed through: no_domain 5\n"
        + &errors_line(0, 0, 0, 6);
    check_sample(&env, "zeek-http.ndjson", &expected, &summary);
}

#[test]
fn sample_zeek_ssl() {
    let env = Env::new();
    const ES: &str = "dd625ffb4fc54735b281862aa1cd6cd4.us-west1.gcp.cloud.es.io";
    let expected = [
        Full("server_name", ES, "miss es.io"),
        Full("server_name", ES, "miss es.io"),
        Full("server_name", ES, "miss es.io"),
        Pass,
        Pass,
        Full(
            "server_name",
            "splunk-api.swiftcrypto.com",
            "miss swiftcrypto.com",
        ),
        Full(
            "server_name",
            "tickets.swiftcrypto.com",
            "miss swiftcrypto.com",
        ),
        Full(
            "server_name",
            "rundeck.swiftcrypto.com",
            "miss swiftcrypto.com",
        ),
        Pass,
        Full(
            "server_name",
            "splunk-api.swiftcrypto.com",
            "miss swiftcrypto.com",
        ),
    ];
    let summary = totals_line(10, 7, 3)
        + "  by format: zeek 7\n"
        + "  lookups: miss 7\n"
        + "  passed through: no_domain 3\n"
        + &errors_line(0, 0, 0, 6);
    check_sample(&env, "zeek-ssl.ndjson", &expected, &summary);
}

#[test]
fn sample_suricata_eve_http_tls() {
    let env = Env::new();
    let expected = [
        Pass,                                   // ssh
        Full("tls.sni", "l2.io", "miss l2.io"), // alert with tls
        Full("http.hostname", "192.168.86.28", "skipped ip_literal"),
        Full("http.hostname", "192.168.86.28", "skipped ip_literal"), // fileinfo
        Full("dns.rrname", "clients.l.google.com", "hit google.com"), // dns v1
        Pass,                                                         // stats
        // The SNI ends with a dot in the log.
        Full("tls.sni", "p33-btmmdns.icloud.com", "miss icloud.com"),
        Pass, // flow
        Full(
            "http.hostname",
            "ctldl.windowsupdate.com",
            "miss windowsupdate.com",
        ),
        Pass, // tls without sni
        Full("http.hostname", "192.168.50.1", "skipped ip_literal"),
        Full("tls.sni", "www.example.com", "miss example.com"),
    ];
    let summary = totals_line(12, 8, 4)
        + "  by format: suricata 8\n"
        + "  lookups: hit 1, miss 4, skipped 3\n"
        + "  skipped: ip_literal 3\n"
        + "  passed through: no_domain 4\n"
        + &errors_line(0, 0, 0, 6);
    let out = check_sample(&env, "suricata-eve-http-tls.ndjson", &expected, &summary);
    // The dns event's timestamp carries a -0400 offset.
    let dns = json(output_lines(&out)[4]);
    assert_eq!(dns["timestamp"], "2018-07-05T15:51:20.213418-0400");
    let reg = &dns["domreg"]["registration"];
    assert_eq!(reg["age_days"], 7598);
    assert_eq!(reg["expires_in_days"], 3723);
    assert_eq!(reg["updated_days_ago"], -431);
}

#[test]
fn sample_sysmon_eid22() {
    let env = Env::new();
    const F: &str = "winlog.event_data.QueryName";
    let expected = [
        Full(F, "go.microsoft.com", "miss microsoft.com"),
        Full(F, "www.msn.com", "miss msn.com"),
        Full(
            F,
            "static-global-s-msn-com.akamaized.net",
            "miss akamaized.net",
        ),
        Full(F, "www.bing.com", "miss bing.com"),
        Full(F, "linkmaker.itunes.apple.com", "miss apple.com"),
        Full(
            F,
            "confiant-integrations.global.ssl.fastly.net",
            "miss fastly.net",
        ),
        Full(F, "c.msn.com", "miss msn.com"),
        Full(F, "c.bing.com", "miss bing.com"),
        Full(F, "contextual.media.net", "miss media.net"),
    ];
    let summary = totals_line(9, 9, 0)
        + "  by format: sysmon 9\n"
        + "  lookups: miss 9\n"
        + &errors_line(0, 0, 0, 6);
    check_sample(&env, "sysmon-eid22.ndjson", &expected, &summary);
}

#[test]
fn sample_ecs_dns() {
    let env = Env::new();
    const F: &str = "dns.question.name";
    let expected = [
        Full(F, "go.microsoft.com", "miss microsoft.com"),
        Full(F, "www.msn.com", "miss msn.com"),
        Full(
            F,
            "static-global-s-msn-com.akamaized.net",
            "miss akamaized.net",
        ),
        Full(F, "www.bing.com", "miss bing.com"),
        Full(F, "linkmaker.itunes.apple.com", "miss apple.com"),
    ];
    let summary = totals_line(5, 5, 0)
        + "  by format: ecs 5\n"
        + "  lookups: miss 5\n"
        + &errors_line(0, 0, 0, 6);
    check_sample(&env, "ecs-dns.ndjson", &expected, &summary);
}

#[test]
fn sample_bind_query_log() {
    let env = Env::new();
    const Q: &str = "query";
    let mut expected = vec![Pass; 28];
    for (n, exp) in [
        (1, Full(Q, "a1.foo.com", "miss foo.com")),
        (2, Full(Q, "test.com", "miss test.com")),
        (3, Full(Q, "a2.foo.com", "miss foo.com")),
        (4, Full(Q, "non-exist.foo.com", "miss foo.com")),
        (5, Full(Q, "a1.foo.com", "miss foo.com")),
        // Line 6 is "query failed (REFUSED)": not a query line.
        (7, Full(Q, "config.nos-avg.cz", "miss nos-avg.cz")),
        (
            22,
            Full(Q, "settings-win.data.microsoft.com", "miss microsoft.com"),
        ),
        (23, Full(Q, "ocsp.digicert.com", "miss digicert.com")),
        (25, Full(Q, "89.160.20.128.a1.foo.com", "miss foo.com")),
        (
            26,
            Full(Q, "settings-win.data.microsoft.com", "miss microsoft.com"),
        ),
        (27, Full(Q, "abugtera.tun.p2.42", "skipped unknown_tld")),
        // `version.bind CH TXT`.
        (28, Full(Q, "version.bind", "skipped unknown_tld")),
    ] {
        expected[n - 1] = exp;
    }
    let summary = totals_line(28, 12, 16)
        + "  by format: bind 12\n"
        + "  lookups: miss 10, skipped 2\n"
        + "  skipped: unknown_tld 2\n"
        + "  passed through: unrecognised 16\n"
        + &errors_line(0, 0, 0, 6);
    check_sample(&env, "bind-query.log", &expected, &summary);
}

#[test]
fn sample_coredns_log_without_trailing_newline() {
    let env = Env::new();
    let input = std::fs::read(sample("coredns.log")).expect("sample");
    assert!(
        !input.ends_with(b"\n"),
        "the sample has no trailing newline"
    );
    assert_eq!(input.iter().filter(|&&b| b == b'\n').count(), 8);
    const Q: &str = "query";
    let expected = [
        Full(Q, "host.example.com", "miss example.com"),
        Full(Q, "abc.xyz", "miss abc.xyz"),
        Full(Q, "asdf.coma", "skipped unknown_tld"),
        Full(Q, "abc-xyz.com", "miss abc-xyz.com"),
        Full(Q, "vpn.example.com", "miss example.com"),
        Full(Q, "google.com", "hit google.com"),
        // `PTR IN 81.2.69.195.`: an address, not an arpa name.
        Full(Q, "81.2.69.195", "skipped ip_literal"),
        Full(Q, "httpbin.org.cluster.local", "skipped special_use"),
        Full(Q, "www.yahoo.com", "miss yahoo.com"),
    ];
    let summary = totals_line(9, 9, 0)
        + "  by format: coredns 9\n"
        + "  lookups: hit 1, miss 5, skipped 3\n"
        + "  skipped: ip_literal 1, special_use 1, unknown_tld 1\n"
        + &errors_line(0, 0, 0, 6);
    let out = check_sample(&env, "coredns.log", &expected, &summary);
    // The google.com line has no timestamp: aged at --now.
    let google = json(output_lines(&out)[5]);
    assert_eq!(google["domreg"]["registration"]["age_days"], 10661);
    assert_eq!(google["domreg"]["risk"]["reasons"], json!(["privacy"]));
}

// --------------------------------------------------------------- hits ----

/// The merged google.com record, with day counts.
fn google_registration(age: i64, expires_in: i64, updated_ago: i64) -> Value {
    json!({
        "created": "1997-09-15T04:00:00Z",
        "age_days": age,
        "expires": "2028-09-14T04:00:00Z",
        "expires_in_days": expires_in,
        "updated": "2019-09-09T15:39:04Z",
        "updated_days_ago": updated_ago,
        "status": [
            "clientDeleteProhibited",
            "clientTransferProhibited",
            "clientUpdateProhibited",
            "serverDeleteProhibited",
            "serverTransferProhibited",
            "serverUpdateProhibited"
        ],
        "registrar": "MarkMonitor Inc.",
        "registrar_iana_id": 292,
        "nameservers": ["ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"],
        "privacy": true,
        "source": "rdap"
    })
}

fn privacy_threat() -> Value {
    threat(
        &[("TA0011", "Command and Control")],
        &[("T1665", "Hide Infrastructure")],
        &[],
    )
}

#[test]
fn hit_zeek_dns_aged_at_epoch_ts() {
    let env = Env::new();
    // ts 1700000000.5 is 2023-11-14T22:13:20.5Z.
    let line =
        r#"{"ts":1700000000.5,"uid":"CZ1","id.orig_h":"10.0.0.1","query":"WWW.Google.com."}"#;
    let out = env.enrich(&["-q"], format!("{line}\n").as_bytes());
    let lines = output_lines(&out.stdout);
    let added = added_members(line.as_bytes(), lines[0]);
    assert_eq!(
        added["domreg"],
        json!({
            "name": "www.google.com",
            "domain": "google.com",
            "field": "query",
            "lookup": "hit",
            "registration": google_registration(9556, 1765, 1527),
            "risk": {"score": 5, "reasons": ["privacy"]}
        })
    );
    assert_eq!(added["threat"], privacy_threat());
}

#[test]
fn hit_ecs_bbc_co_uk() {
    let env = Env::new();
    let v = env.enrich_one(
        r#"{"@timestamp":"2026-11-20T10:00:00Z","dns":{"question":{"name":"news.bbc.co.uk"}}}"#,
    );
    assert_eq!(
        v["domreg"],
        json!({
            "name": "news.bbc.co.uk",
            "domain": "bbc.co.uk",
            "field": "dns.question.name",
            "lookup": "hit",
            "registration": {
                "created": "1994-12-13T03:49:48Z",
                "age_days": 11665,
                "expires": "2034-12-13T03:49:48Z",
                "expires_in_days": 2944,
                "updated": "2025-10-29T03:51:11.009091Z",
                "updated_days_ago": 387,
                "status": ["serverDeleteProhibited", "serverTransferProhibited", "serverUpdateProhibited"],
                "registrar": "British Broadcasting Corporation",
                "nameservers": [
                    "ddns0.bbc.co.uk", "ddns0.bbc.com", "ddns1.bbc.co.uk", "ddns1.bbc.com",
                    "dns0.bbc.co.uk", "dns0.bbc.com", "dns1.bbc.co.uk", "dns1.bbc.com"
                ],
                "privacy": true,
                "source": "rdap"
            },
            "risk": {"score": 5, "reasons": ["privacy"]}
        })
    );
    assert_eq!(v["threat"], privacy_threat());
}

/// nic.xyz three days after its registration, from a Suricata 8 (dns v3)
/// event whose time has a -0400 offset: 09:00-04:00 is 13:00Z, 3 days and
/// 1 hour after 2013-09-11T11:58:06Z (2 days if the offset were ignored).
/// The whole output line is checked byte for byte, so the layout of the
/// `domreg` member and the `threat` object are fixed too.
#[test]
fn hit_suricata_v3_nic_xyz_newly_registered() {
    let env = Env::new();
    let line = r#"{"timestamp":"2013-09-14T09:00:00.000000-0400","event_type":"dns","dns":{"version":3,"type":"request","queries":[{"rrname":"nic.xyz","rrtype":"A"}]}}"#;
    let out = env.enrich(&["-q"], format!("{line}\n").as_bytes());
    assert_eq!(out.code, 0);
    let expected = concat!(
        r#"{"timestamp":"2013-09-14T09:00:00.000000-0400","event_type":"dns","dns":{"version":3,"type":"request","queries":[{"rrname":"nic.xyz","rrtype":"A"}]}"#,
        r#","domreg":{"name":"nic.xyz","domain":"nic.xyz","field":"dns.queries[0].rrname","lookup":"hit","#,
        r#""registration":{"created":"2013-09-11T11:58:06Z","age_days":3,"expires":"2024-09-11T23:59:59Z","expires_in_days":4015,"#,
        r#""updated":"2023-09-05T00:05:10Z","updated_days_ago":-3643,"#,
        r#""status":["serverTransferProhibited","serverUpdateProhibited","serverDeleteProhibited","serverRenewProhibited"],"#,
        r#""registrar":"CentralNic Ltd","registrar_iana_id":9999,"#,
        r#""nameservers":["x.nic.xyz","y.nic.xyz","z.nic.xyz","generationxyz.nic.xyz"],"privacy":true,"source":"rdap"},"#,
        r#""risk":{"score":65,"reasons":["newly_registered","privacy"]}}"#,
        r#","threat":{"framework":"MITRE ATT&CK","#,
        r#""tactic":{"id":["TA0042","TA0011"],"name":["Resource Development","Command and Control"],"#,
        r#""reference":["https://attack.mitre.org/tactics/TA0042/","https://attack.mitre.org/tactics/TA0011/"]},"#,
        r#""technique":{"id":["T1583","T1665"],"name":["Acquire Infrastructure","Hide Infrastructure"],"#,
        r#""reference":["https://attack.mitre.org/techniques/T1583/","https://attack.mitre.org/techniques/T1665/"],"#,
        r#""subtechnique":{"id":["T1583.001"],"name":["Domains"],"reference":["https://attack.mitre.org/techniques/T1583/001/"]}}}"#,
        "}\n"
    );
    assert_eq!(out.text(), expected);
}

#[test]
fn hit_route53_wicar_recently_changed() {
    let env = Env::new();
    // A week after the `last changed` event (2026-09-18T03:40:49.034Z), on
    // a domain registered in 2012; the name is upper-case with a trailing dot.
    let v = env.enrich_one(
        r#"{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-1","query_timestamp":"2026-09-25T12:00:00Z","query_name":"WICAR.org.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[],"srcaddr":"10.0.0.1","srcport":"5555","transport":"UDP","srcids":{"instance":"i-1"}}"#,
    );
    assert_eq!(
        v["domreg"],
        json!({
            "name": "wicar.org",
            "domain": "wicar.org",
            "field": "query_name",
            "lookup": "hit",
            "registration": {
                "created": "2012-11-07T04:14:52.296Z",
                "age_days": 5070,
                "expires": "2027-11-07T04:14:52.296Z",
                "expires_in_days": 407,
                "updated": "2026-09-18T03:40:49.034Z",
                "updated_days_ago": 7,
                "transferred": "2013-11-08T03:42:43.296Z",
                "transferred_days_ago": 4704,
                "status": ["clientTransferProhibited"],
                "registrar": "PDR Ltd. d/b/a PublicDomainRegistry.com",
                "registrar_iana_id": 303,
                "nameservers": ["ns.phx4.nearlyfreespeech.net", "ns.phx5.nearlyfreespeech.net"],
                "privacy": false,
                "source": "rdap"
            },
            "risk": {"score": 30, "reasons": ["recently_changed"]}
        })
    );
    assert_eq!(
        v["threat"],
        threat(
            &[("TA0042", "Resource Development")],
            &[("T1584", "Compromise Infrastructure")],
            &[("T1584.001", "Domains")]
        )
    );
}

#[test]
fn hit_squid_microsoft_click_expired() {
    let env = Env::new();
    // 1733011200.123 is 2024-12-01T00:00:00.123Z, 18 days and 4:44 after
    // the expiry on 2024-11-12T19:15:55Z: -19 whole days (rounded down).
    let line = "1733011200.123     45 10.0.0.1 TCP_MISS/200 1234 GET http://www.microsoft.click/path?q=1 - HIER_DIRECT/1.2.3.4 text/html";
    let v = env.enrich_one(line);
    assert_eq!(v["message"], line);
    assert_eq!(
        v["domreg"],
        json!({
            "name": "www.microsoft.click",
            "domain": "microsoft.click",
            "field": "url",
            "lookup": "hit",
            "registration": {
                "created": "2014-11-12T19:15:55.283Z",
                "age_days": 3671,
                "expires": "2024-11-12T19:15:55.283Z",
                "expires_in_days": -19,
                "updated": "2023-10-17T10:47:21.733Z",
                "updated_days_ago": 410,
                "status": ["clientUpdateProhibited", "clientTransferProhibited", "clientDeleteProhibited"],
                "registrar": "MarkMonitor Inc.",
                "nameservers": [
                    "ns4-08.azure-dns.info", "ns2-08.azure-dns.net",
                    "ns3-08.azure-dns.org", "ns1-08.azure-dns.com"
                ],
                "privacy": true,
                "source": "rdap"
            },
            "risk": {"score": 35, "reasons": ["privacy", "expired"]}
        })
    );
    // `expired` points to no technique: only privacy's.
    assert_eq!(v["threat"], privacy_threat());
}

#[test]
fn hit_coredns_example_cz_expiring() {
    let env = Env::new();
    // Ten days before the expiry on 2019-08-30T12:00:00Z.
    let line = r#"2019-08-20T12:00:00Z [INFO] 172.17.0.1:42114 - 64820 "A IN example.cz. udp 57 false 1232" NOERROR qr,aa,rd 66 0.000150566s "0""#;
    let v = env.enrich_one(line);
    assert_eq!(v["message"], line);
    assert_eq!(
        v["domreg"],
        json!({
            "name": "example.cz",
            "domain": "example.cz",
            "field": "query",
            "lookup": "hit",
            "registration": {
                "created": "2004-08-30T22:55:00Z",
                "age_days": 5467,
                "expires": "2019-08-30T12:00:00Z",
                "expires_in_days": 10,
                "transferred": "2007-01-25T02:05:00Z",
                "transferred_days_ago": 4590,
                "status": ["ok"],
                "nameservers": ["ns2.pipni.cz", "ns3.pipni.cz", "ns.pipni.cz"],
                "privacy": false,
                "source": "rdap"
            },
            "risk": {"score": 10, "reasons": ["expiring"]}
        })
    );
    assert!(v.get("threat").is_none());
}

#[test]
fn hit_text_formats_without_time_use_now() {
    let env = Env::new();
    // dnsmasq and BIND lines carry no usable time: aged at --now.
    let v = env.enrich_one("Nov 24 00:00:00 dnsmasq[123]: query[A] www.google.com from 10.0.0.2");
    assert_eq!(v["domreg"]["field"], "query");
    assert_eq!(
        v["domreg"]["registration"],
        google_registration(10661, 660, 2632)
    );
    assert_eq!(v["threat"], privacy_threat());

    let v = env.enrich_one(
        "client @0x7f1dd4114af0 192.168.0.1#59735 (wicar.org): query: wicar.org IN A + (192.168.0.1)",
    );
    let reg = &v["domreg"]["registration"];
    assert_eq!(reg["age_days"], 5129);
    assert_eq!(reg["expires_in_days"], 348);
    // 66 days after the change: no longer recent.
    assert_eq!(reg["updated_days_ago"], 66);
    assert_eq!(reg["transferred_days_ago"], 4763);
    assert_eq!(v["domreg"]["risk"], json!({"score": 0, "reasons": []}));
    assert!(v.get("threat").is_none());
}

/// The day thresholds at their edges (defaults: newly registered under 30
/// days, changed within 14 days, expiring within 30 days). Day counts are
/// whole days rounded down, so one second decides.
#[test]
fn rule_thresholds_at_their_edges() {
    let env = Env::new();
    let ecs = |time: &str, name: &str| {
        env.enrich_one(&format!(
            r#"{{"@timestamp":"{time}","dns":{{"question":{{"name":"{name}"}}}}}}"#
        ))
    };
    let reasons = |v: &Value| v["domreg"]["risk"]["reasons"].clone();
    // nic.xyz: created 2013-09-11T11:58:06Z (and privacy, always).
    let v = ecs("2013-10-11T11:58:05Z", "nic.xyz");
    assert_eq!(v["domreg"]["registration"]["age_days"], 29);
    assert_eq!(reasons(&v), json!(["newly_registered", "privacy"]));
    let v = ecs("2013-10-11T11:58:06Z", "nic.xyz");
    assert_eq!(v["domreg"]["registration"]["age_days"], 30);
    assert_eq!(reasons(&v), json!(["privacy"]));
    // Before its creation: a negative age, not new.
    let v = ecs("2013-09-10T00:00:00Z", "nic.xyz");
    assert_eq!(v["domreg"]["registration"]["age_days"], -2);
    assert_eq!(reasons(&v), json!(["privacy"]));
    // wicar.org: last changed 2026-09-18T03:40:49Z.
    let v = ecs("2026-10-02T12:00:00Z", "wicar.org");
    assert_eq!(v["domreg"]["registration"]["updated_days_ago"], 14);
    assert_eq!(reasons(&v), json!(["recently_changed"]));
    let v = ecs("2026-10-03T12:00:00Z", "wicar.org");
    assert_eq!(v["domreg"]["registration"]["updated_days_ago"], 15);
    assert_eq!(reasons(&v), json!([]));
    // example.cz: expires 2019-08-30T12:00:00Z.
    for (time, days, expected) in [
        ("2019-07-31T12:00:00Z", 30, json!([])),
        ("2019-07-31T12:00:01Z", 29, json!(["expiring"])),
        ("2019-08-30T12:00:00Z", 0, json!(["expiring"])),
        ("2019-08-30T12:00:01Z", -1, json!(["expired"])),
    ] {
        let v = ecs(time, "example.cz");
        assert_eq!(
            v["domreg"]["registration"]["expires_in_days"], days,
            "{time}"
        );
        assert_eq!(reasons(&v), expected, "{time}");
    }
}

#[test]
fn whois_recon_names() {
    let env = Env::new();
    let v = env.enrich_one(
        r#"{"@timestamp":"2026-11-20T10:00:00Z","dns":{"question":{"name":"rdap.verisign.com"}}}"#,
    );
    assert_eq!(
        v["domreg"],
        json!({
            "name": "rdap.verisign.com",
            "domain": "verisign.com",
            "field": "dns.question.name",
            "lookup": "miss",
            "risk": {"score": 20, "reasons": ["whois_recon"]}
        })
    );
    assert_eq!(
        v["threat"],
        json!({
            "framework": "MITRE ATT&CK",
            "tactic": {
                "id": ["TA0043"],
                "name": ["Reconnaissance"],
                "reference": ["https://attack.mitre.org/tactics/TA0043/"]
            },
            "technique": {
                "id": ["T1590", "T1596"],
                "name": ["Gather Victim Network Information", "Search Open Technical Databases"],
                "reference": [
                    "https://attack.mitre.org/techniques/T1590/",
                    "https://attack.mitre.org/techniques/T1596/"
                ],
                "subtechnique": {
                    "id": ["T1590.001", "T1596.002"],
                    "name": ["Domain Properties", "WHOIS"],
                    "reference": [
                        "https://attack.mitre.org/techniques/T1590/001/",
                        "https://attack.mitre.org/techniques/T1596/002/"
                    ]
                }
            }
        })
    );
    // On a hit the rule adds to the others: nic.xyz is long expired by now.
    let v = env.enrich_one(r#"{"uid":"C","query":"rdap.nic.xyz"}"#);
    assert_eq!(v["domreg"]["lookup"], "hit");
    assert_eq!(
        v["domreg"]["risk"],
        json!({"score": 55, "reasons": ["privacy", "whois_recon", "expired"]})
    );
    assert_eq!(
        v["threat"]["technique"]["id"],
        json!(["T1665", "T1590", "T1596"])
    );
    // Not a lookup service: the pattern `rdap.*` needs the dot.
    let v = env.enrich_one(r#"{"uid":"C","query":"rdapx.verisign.com"}"#);
    assert_eq!(v["domreg"]["risk"]["reasons"], json!([]));
}

#[test]
fn not_registered_and_miss() {
    let env = Env::new();
    let extra = env.file(
        "more.jsonl",
        "{\"domain\":\"nx-domreg-test.com\",\"registered\":false,\"source\":\"rdap\"}\n",
    );
    let input = concat!(
        r#"{"uid":"C","query":"www.nx-domreg-test.com"}"#,
        "\n",
        r#"{"uid":"C","query":"absent-domain.net"}"#,
        "\n"
    );
    let out = env.enrich(
        &[os("--registrations"), extra.as_os_str()],
        input.as_bytes(),
    );
    assert_eq!(out.code, 0);
    let lines = output_lines(&out.stdout);
    let v = json(lines[0]);
    assert_eq!(
        v["domreg"],
        json!({
            "name": "www.nx-domreg-test.com",
            "domain": "nx-domreg-test.com",
            "field": "query",
            "lookup": "not_found",
            "risk": {"score": 40, "reasons": ["not_registered"]}
        })
    );
    assert!(v.get("threat").is_none());
    let v = json(lines[1]);
    assert_eq!(
        v["domreg"],
        json!({
            "name": "absent-domain.net",
            "domain": "absent-domain.net",
            "field": "query",
            "lookup": "miss",
            "risk": {"score": 0, "reasons": []}
        })
    );
    assert!(v.get("threat").is_none());
    assert_eq!(
        out.stderr,
        totals_line(2, 2, 0)
            + "  by format: zeek 2\n"
            + "  lookups: miss 1, not_found 1\n"
            + &errors_line(0, 0, 0, 7)
    );
}

#[test]
fn later_registrations_file_wins() {
    let env = Env::new();
    let newer = env.file(
        "newer.jsonl",
        "{\"domain\":\"GOOGLE.com\",\"created\":\"2026-11-20T00:00:00Z\",\"source\":\"snapshot\"}\n",
    );
    let out = env.enrich(
        &[os("-q"), os("--registrations"), newer.as_os_str()],
        b"{\"uid\":\"C\",\"query\":\"www.google.com\"}\n",
    );
    let v = json(output_lines(&out.stdout)[0]);
    assert_eq!(
        v["domreg"]["registration"],
        json!({"created": "2026-11-20T00:00:00Z", "age_days": 4, "privacy": false, "source": "snapshot"})
    );
    assert_eq!(
        v["domreg"]["risk"],
        json!({"score": 60, "reasons": ["newly_registered"]})
    );
    assert_eq!(
        v["threat"],
        threat(
            &[("TA0042", "Resource Development")],
            &[("T1583", "Acquire Infrastructure")],
            &[("T1583.001", "Domains")]
        )
    );
}

// --------------------------------------------------------- robustness ----

/// Each bad line alone: written back unchanged, counted under its reason,
/// exit code 0.
#[test]
fn bad_lines_pass_through_and_are_counted() {
    let env = Env::new();
    let long = format!(
        r#"{{"uid":"C","query":"www.google.com","pad":"{}"}}"#,
        "x".repeat(100)
    );
    let cases: Vec<(&str, Vec<u8>, &str, u64)> = vec![
        (
            "invalid UTF-8",
            b"{\"uid\":\"C\",\"query\":\"www.goo\xffgle.com\"}".to_vec(),
            "invalid_utf8",
            1,
        ),
        (
            "invalid JSON",
            br#"{"uid":"C","query":"www.google.com""#.to_vec(),
            "invalid_json",
            1,
        ),
        ("lone brace", b"{".to_vec(), "invalid_json", 1),
        (
            "trailing garbage",
            br#"{"uid":"C","query":"www.google.com"} x"#.to_vec(),
            "invalid_json",
            1,
        ),
        (
            "JSON array",
            br#"[{"uid":"C","query":"www.google.com"}]"#.to_vec(),
            "unrecognised",
            0,
        ),
        ("empty line", b"".to_vec(), "unrecognised", 0),
        ("CRLF text", b"just some text\r".to_vec(), "unrecognised", 0),
        ("oversized", long.clone().into_bytes(), "oversized", 1),
        (
            "JSON without a name",
            br#"{"a":1}"#.to_vec(),
            "no_domain",
            0,
        ),
        (
            "threat that is not an object",
            br#"{"uid":"C","query":"www.google.com","threat":"x"}"#.to_vec(),
            "threat_conflict",
            1,
        ),
    ];
    for (what, line, reason, errors) in cases {
        let mut input = line.clone();
        input.push(b'\n');
        let out = env.enrich(&["--max-line-bytes", "100"], &input);
        assert_eq!(out.code, 0, "{what}");
        assert_eq!(out.stdout, input, "{what}: passed through unchanged");
        assert_eq!(
            out.stderr,
            totals_line(1, 0, 1)
                + &format!("  passed through: {reason} 1\n")
                + &errors_line(errors, 0, 0, 6),
            "{what}"
        );
    }
    // The same long line is enriched under the default cap.
    let v = env.enrich_one(&long);
    assert_eq!(v["domreg"]["lookup"], "hit");
}

/// All the bad lines in one file, between good ones: order kept.
#[test]
fn mixed_file_keeps_order() {
    let env = Env::new();
    let pad = "y".repeat(200);
    let lines: Vec<Vec<u8>> = vec![
        br#"{"uid":"C","query":"www.google.com"}"#.to_vec(),
        b"\xff\xfe not UTF-8".to_vec(),
        br#"{"uid":"C","query":"#.to_vec(),
        b"".to_vec(),
        b"{\"uid\":\"C\",\"query\":\"wicar.org\"}\r".to_vec(),
        b"[1,2,3]".to_vec(),
        b"{".to_vec(),
        format!(r#"{{"uid":"C","query":"nic.xyz","pad":"{pad}"}}"#).into_bytes(),
        b"plain text\r".to_vec(),
        b"client 10.0.0.1#53 (bbc.co.uk): query: bbc.co.uk IN A +E(0)K (10.0.0.2)\r".to_vec(),
        br#"{"uid":"C","query":"nic.xyz"}"#.to_vec(),
    ];
    let mut input = lines.join(&b'\n');
    input.push(b'\n');
    let path = env.file("mixed.log", &input);
    let out = env.enrich(&[os("--max-line-bytes"), os("128"), path.as_os_str()], b"");
    assert_eq!(out.code, 0);
    let outs = output_lines(&out.stdout);
    assert_eq!(outs.len(), lines.len());
    let enriched = [
        (0, "www.google.com"),
        (4, "wicar.org"),
        (9, "bbc.co.uk"),
        (10, "nic.xyz"),
    ];
    for (i, (inp, outp)) in lines.iter().zip(&outs).enumerate() {
        match enriched.iter().find(|(n, _)| *n == i) {
            Some((_, name)) => assert_eq!(json(outp)["domreg"]["name"], *name, "line {}", i + 1),
            None => assert_eq!(inp.as_slice(), *outp, "line {}", i + 1),
        }
    }
    // A CRLF JSON event keeps its \r after the closing brace.
    assert!(outs[4].ends_with(b"}}\r"));
    added_members(&lines[4], outs[4]);
    // A CRLF text event's message has no \r.
    assert_eq!(
        json(outs[9])["message"],
        "client 10.0.0.1#53 (bbc.co.uk): query: bbc.co.uk IN A +E(0)K (10.0.0.2)"
    );
    assert_eq!(
        out.stderr,
        totals_line(11, 4, 7)
            + "  by format: bind 1, zeek 3\n"
            + "  lookups: hit 4\n"
            + "  passed through: invalid_json 2, invalid_utf8 1, oversized 1, unrecognised 3\n"
            + &errors_line(4, 0, 0, 6)
    );
}

/// A 3 MiB line under the default 1 MiB cap is streamed through unchanged.
#[test]
fn three_mib_line_streams_through() {
    let env = Env::new();
    let big = format!(
        r#"{{"uid":"C","query":"www.google.com","pad":"{}"}}"#,
        "z".repeat(3 << 20)
    );
    let input = format!(
        "{}\n{big}\n{}",
        r#"{"uid":"C","query":"wicar.org"}"#, r#"{"uid":"C","query":"nic.xyz"}"#
    );
    let path = env.file("big.log", &input);
    let out = env.enrich(&[path.as_os_str()], b"");
    assert_eq!(out.code, 0);
    let outs = output_lines(&out.stdout);
    assert_eq!(outs.len(), 3);
    assert_eq!(outs[1], big.as_bytes());
    assert_eq!(json(outs[0])["domreg"]["name"], "wicar.org");
    assert_eq!(json(outs[2])["domreg"]["name"], "nic.xyz");
    assert_eq!(
        out.stderr,
        totals_line(3, 2, 1)
            + "  by format: zeek 2\n"
            + "  lookups: hit 2\n"
            + "  passed through: oversized 1\n"
            + &errors_line(1, 0, 0, 6)
    );
}

// -------------------------------------------------------- idempotence ----

#[test]
fn enriching_the_output_again_changes_nothing() {
    let env = Env::new();
    for (name, enriched_json) in [
        ("zeek-dns.ndjson", 500),
        ("zeek-http.ndjson", 2),
        ("zeek-ssl.ndjson", 7),
        ("suricata-eve-http-tls.ndjson", 8),
        ("sysmon-eid22.ndjson", 9),
        ("ecs-dns.ndjson", 5),
        ("bind-query.log", 0),
        ("coredns.log", 0),
    ] {
        let first = env.enrich(&[os("-q"), sample(name).as_os_str()], b"");
        let again = env.enrich(&["-"], &first.stdout);
        assert_eq!(again.code, 0);
        assert_eq!(again.stdout, first.stdout, "{name}");
        // Every enriched JSON event had its domreg replaced, not duplicated.
        assert!(
            again
                .stderr
                .contains(&format!("existing domreg replaced: {enriched_json};")),
            "{name}: {}",
            again.stderr
        );
        for line in output_lines(&again.stdout) {
            let text = String::from_utf8_lossy(line);
            assert!(text.matches("\"domreg\":").count() <= 1, "{name}");
            assert!(text.matches("\"threat\":").count() <= 1, "{name}");
        }
    }
}

/// Text events come out as JSON without a known name field: fed back, they
/// pass through unchanged (as `no_domain`).
#[test]
fn text_events_fed_back_pass_through() {
    let env = Env::new();
    let first = env.enrich(&[os("-q"), sample("coredns.log").as_os_str()], b"");
    let again = env.enrich(&["-"], &first.stdout);
    assert_eq!(again.stdout, first.stdout);
    assert_eq!(
        again.stderr,
        totals_line(9, 0, 9) + "  passed through: no_domain 9\n" + &errors_line(0, 0, 0, 6)
    );
}

/// JSON written with spaces (Python's `json.dumps` default), with and
/// without an existing `threat` and `domreg`: the second pass gives the
/// bytes of the first.
#[test]
fn idempotent_with_whitespace_in_events() {
    let env = Env::new();
    let input = concat!(
        "{ \"uid\": \"C\", \"query\": \"wicar.org\" }\n",
        "{\"a\": 1, \"threat\": {\"indicator\": {\"type\": \"domain-name\"}}, \"@timestamp\": \"2013-09-14T12:00:00Z\", \"dns\": {\"question\": {\"name\": \"nic.xyz\"}} }\n",
        "{ \"domreg\": {\"old\": 1} , \"uid\": \"C\", \"query\": \"www.google.com\" }\n",
    );
    let first = env.enrich(&["-q"], input.as_bytes());
    let outs = output_lines(&first.stdout);
    // Fast path: the original bytes up to the closing brace.
    assert!(outs[0].starts_with(b"{ \"uid\": \"C\", \"query\": \"wicar.org\" ,\"domreg\":{"));
    // Rewritten (old threat merged, old domreg dropped): separators kept.
    assert!(outs[1].starts_with(
        b"{\"a\": 1, \"@timestamp\": \"2013-09-14T12:00:00Z\", \"dns\": {\"question\": {\"name\": \"nic.xyz\"}} ,\"domreg\":{"
    ));
    assert!(outs[2].starts_with(b"{ \"uid\": \"C\", \"query\": \"www.google.com\" ,\"domreg\":{"));
    let v = json(outs[1]);
    assert_eq!(v["threat"]["indicator"], json!({"type": "domain-name"}));
    assert_eq!(v["threat"]["technique"]["id"], json!(["T1583", "T1665"]));
    let again = env.enrich(&["-"], &first.stdout);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&first.stdout)
    );
    assert!(
        again.stderr.ends_with(&errors_line(0, 3, 2, 6)),
        "{}",
        again.stderr
    );
}

#[test]
fn existing_threat_object_is_merged() {
    let env = Env::new();
    let line = r#"{"@timestamp":"2013-09-14T12:00:00Z","threat":{"framework":"MITRE ATT&CK","tactic":{"id":["TA0011"],"name":["Command and Control"],"reference":["https://attack.mitre.org/tactics/TA0011/"]},"technique":{"id":["T1071"],"name":["Application Layer Protocol"],"reference":["https://attack.mitre.org/techniques/T1071/"]}},"dns":{"question":{"name":"nic.xyz"}}}"#;
    let first = env.enrich(&[] as &[&str], format!("{line}\n").as_bytes());
    assert_eq!(first.code, 0);
    assert!(
        first.stderr.ends_with(&errors_line(0, 0, 1, 6)),
        "{}",
        first.stderr
    );
    let out = output_lines(&first.stdout)[0];
    // The members other than `threat` keep their bytes and order.
    assert!(out.starts_with(
        br#"{"@timestamp":"2013-09-14T12:00:00Z","dns":{"question":{"name":"nic.xyz"}},"domreg":{"name":"nic.xyz""#
    ));
    let text = String::from_utf8_lossy(out);
    assert_eq!(text.matches("\"threat\":").count(), 1);
    let v = json(out);
    assert_eq!(v["domreg"]["risk"]["score"], 65);
    // Ours (TA0042/T1583.001 and TA0011/T1665) added to theirs, no duplicates.
    assert_eq!(
        v["threat"],
        json!({
            "framework": "MITRE ATT&CK",
            "tactic": {
                "id": ["TA0011", "TA0042"],
                "name": ["Command and Control", "Resource Development"],
                "reference": [
                    "https://attack.mitre.org/tactics/TA0011/",
                    "https://attack.mitre.org/tactics/TA0042/"
                ]
            },
            "technique": {
                "id": ["T1071", "T1583", "T1665"],
                "name": ["Application Layer Protocol", "Acquire Infrastructure", "Hide Infrastructure"],
                "reference": [
                    "https://attack.mitre.org/techniques/T1071/",
                    "https://attack.mitre.org/techniques/T1583/",
                    "https://attack.mitre.org/techniques/T1665/"
                ],
                "subtechnique": {
                    "id": ["T1583.001"],
                    "name": ["Domains"],
                    "reference": ["https://attack.mitre.org/techniques/T1583/001/"]
                }
            }
        })
    );
    let again = env.enrich(&["-"], &first.stdout);
    assert_eq!(again.stdout, first.stdout);
    assert!(
        again.stderr.ends_with(&errors_line(0, 1, 1, 6)),
        "{}",
        again.stderr
    );
}

// ---------------------------------------------------------------- CLI ----

#[test]
fn format_forcing() {
    let env = Env::new();
    // Zeek lines read as BIND only: all pass through.
    let zeek = sample("zeek-dns.ndjson");
    let out = env.enrich(&[os("--format"), os("bind"), zeek.as_os_str()], b"");
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, std::fs::read(&zeek).expect("sample"));
    assert_eq!(
        out.stderr,
        totals_line(500, 0, 500)
            + "  passed through: unrecognised 500\n"
            + &errors_line(0, 0, 0, 6)
    );
    // BIND lines read as Zeek only: all pass through.
    let bind = sample("bind-query.log");
    let out = env.enrich(
        &[os("-q"), os("--format"), os("zeek"), bind.as_os_str()],
        b"",
    );
    assert_eq!(out.stdout, std::fs::read(&bind).expect("sample"));
    // ECS only: the Sysmon events also carry no dns.question.name.
    let sysmon = sample("sysmon-eid22.ndjson");
    let out = env.enrich(
        &[os("-q"), os("--format"), os("ecs"), sysmon.as_os_str()],
        b"",
    );
    assert_eq!(out.stdout, std::fs::read(&sysmon).expect("sample"));
    // The detected format is the forced one.
    let out = env.enrich(
        &["--format", "route53"],
        b"{\"query_timestamp\":\"2026-11-20T00:00:00Z\",\"query_name\":\"wicar.org.\",\"uid\":\"C\",\"query\":\"nic.xyz\"}\n",
    );
    assert_eq!(
        json(output_lines(&out.stdout)[0])["domreg"]["field"],
        "query_name"
    );
    assert!(
        out.stderr.contains("  by format: route53 1\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn custom_fields() {
    let env = Env::new();
    // A nested path, tried before the built-in fields.
    let line = r#"{"a":{"b":"www.google.com"},"uid":"C","query":"wicar.org"}"#;
    let out = env.enrich(&["--field", "a.b"], format!("{line}\n").as_bytes());
    let added = added_members(line.as_bytes(), output_lines(&out.stdout)[0]);
    assert_eq!(added["domreg"]["field"], "a.b");
    assert_eq!(added["domreg"]["domain"], "google.com");
    assert!(
        out.stderr.contains("  by format: json 1\n"),
        "{}",
        out.stderr
    );
    // A literal key with a dot in it (Zeek's id.orig_h): an address.
    let zeek = sample("zeek-dns.ndjson");
    let out = env.enrich(
        &[os("-q"), os("--field"), os("id.orig_h"), zeek.as_os_str()],
        b"",
    );
    let first = json(output_lines(&out.stdout)[0]);
    assert_eq!(
        first["domreg"],
        json!({
            "name": "10.47.1.100",
            "field": "id.orig_h",
            "lookup": "skipped",
            "skip_reason": "ip_literal",
            "risk": {"score": 0, "reasons": []}
        })
    );
    // `[]` steps into the first element of an array.
    let out = env.enrich(
        &["--format", "json", "--field", "req.hosts.[].name"],
        b"{\"req\":{\"hosts\":[{\"name\":\"news.bbc.co.uk\"},{\"name\":\"x.org\"}]}}\n",
    );
    let v = json(output_lines(&out.stdout)[0]);
    assert_eq!(v["domreg"]["field"], "req.hosts.[].name");
    assert_eq!(v["domreg"]["domain"], "bbc.co.uk");
}

#[test]
fn format_json_without_field_is_a_usage_error() {
    let env = Env::new();
    let out = env.enrich(
        &["--format", "json"],
        b"{\"uid\":\"C\",\"query\":\"x.com\"}\n",
    );
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
    assert_eq!(
        out.stderr,
        "domreg: config: --format json needs at least one --field path\n"
    );
    let out = env.enrich(&["--format", "nope"], b"");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown format \"nope\""),
        "{}",
        out.stderr
    );
}

#[test]
fn output_file() {
    let env = Env::new();
    let target = env.file("out.jsonl", "x".repeat(100_000));
    let input = sample("ecs-dns.ndjson");
    let out = env.enrich(&[os("-o"), target.as_os_str(), input.as_os_str()], b"");
    assert_eq!(out.code, 0);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.starts_with(&totals_line(5, 5, 0)));
    let to_stdout = env.enrich(&[os("-q"), input.as_os_str()], b"");
    // Replaced, not appended to.
    assert_eq!(std::fs::read(&target).expect("output"), to_stdout.stdout);
}

/// `-o` naming a file domreg reads (here an input, the same input under a
/// second name, or the registrations) is refused before anything is
/// written: creating it would empty the file before it was read.
#[test]
fn output_over_a_file_read_is_refused() {
    let env = Env::new();
    let line = "{\"uid\":\"A\",\"query\":\"a.example.com\"}\n";
    let input = env.file("in.log", line);
    let link = env.dir.path().join("link.log");
    std::fs::hard_link(&input, &link).expect("hard link");
    let regs = std::fs::read(&env.regs).expect("regs");
    for (target, reads) in [(&input, &input), (&link, &input), (&env.regs, &env.regs)] {
        let out = env.enrich(&[os("-o"), target.as_os_str(), input.as_os_str()], b"");
        assert_eq!(out.code, 2, "{}", out.stderr);
        let message = format!("is {}, which domreg reads", reads.display());
        assert!(out.stderr.contains(&message), "{}", out.stderr);
    }
    assert_eq!(std::fs::read_to_string(&input).expect("input"), line);
    assert_eq!(std::fs::read(&env.regs).expect("regs"), regs);
    // Another file, existing or not, is written as before.
    let other = env.dir.path().join("other.jsonl");
    let out = env.enrich(
        &[os("-q"), os("-o"), other.as_os_str(), input.as_os_str()],
        b"",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(output_lines(&std::fs::read(&other).expect("out")).len(), 1);
}

#[test]
fn several_inputs_and_stdin_in_order() {
    let env = Env::new();
    let a = env.file("a.log", "{\"uid\":\"A\",\"query\":\"a.example.com\"}\n");
    let b = env.file("b.log", "{\"uid\":\"B\",\"query\":\"b.example.com\"}");
    let stdin = b"{\"uid\":\"S\",\"query\":\"s.example.com\"}\n";
    let out = env.enrich(
        &[a.as_os_str(), os("-"), b.as_os_str(), a.as_os_str()],
        stdin,
    );
    assert_eq!(out.code, 0);
    let names: Vec<Value> = output_lines(&out.stdout)
        .iter()
        .map(|l| json(l)["domreg"]["name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            "a.example.com",
            "s.example.com",
            "b.example.com",
            "a.example.com"
        ]
    );
    // No files: stdin.
    let out = env.enrich(&["-q"], stdin);
    assert_eq!(
        json(output_lines(&out.stdout)[0])["domreg"]["name"],
        "s.example.com"
    );
}

#[test]
fn missing_input_file() {
    let env = Env::new();
    let a = env.file("a.log", "{\"uid\":\"A\",\"query\":\"a.example.com\"}\n");
    let b = env.file("b.log", "{\"uid\":\"B\",\"query\":\"b.example.com\"}\n");
    let missing = env.dir.path().join("missing.log");
    let out = env.enrich(&[a.as_os_str(), missing.as_os_str(), b.as_os_str()], b"");
    assert_eq!(out.code, 1);
    assert_eq!(output_lines(&out.stdout).len(), 2);
    assert!(out.stdout.starts_with(b"{\"uid\":\"A\""));
    let first_err = out.stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first_err,
        format!(
            "domreg: {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    assert!(out.stderr.contains(&totals_line(2, 2, 0)), "{}", out.stderr);
}

#[test]
fn config_threshold() {
    let env = Env::new();
    // 4490 days after google.com's registration.
    let line = b"{\"ts\":\"2010-01-01T00:00:00Z\",\"uid\":\"C\",\"query\":\"www.google.com\"}\n";
    let out = env.enrich(&["-q"], line);
    let v = json(output_lines(&out.stdout)[0]);
    assert_eq!(v["domreg"]["registration"]["age_days"], 4490);
    assert_eq!(v["domreg"]["risk"]["reasons"], json!(["privacy"]));

    let config = env.file("c.toml", "[rules.newly_registered]\ndays = 5000\n");
    let out = env.enrich(&[os("-q"), os("--config"), config.as_os_str()], line);
    assert_eq!(out.code, 0);
    let v = json(output_lines(&out.stdout)[0]);
    // The default weight (60) is kept.
    assert_eq!(
        v["domreg"]["risk"],
        json!({"score": 65, "reasons": ["newly_registered", "privacy"]})
    );
    assert_eq!(
        v["threat"]["technique"]["subtechnique"]["id"],
        json!(["T1583.001"])
    );
}

#[test]
fn config_unknown_key_is_an_error() {
    let env = Env::new();
    let config = env.file("bad.toml", "[rules.newly_registerd]\ndays = 5\n");
    let out = env.enrich(&[os("--config"), config.as_os_str()], b"{}\n");
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .starts_with(&format!("domreg: in {}: ", config.display())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("unknown field `newly_registerd`"),
        "{}",
        out.stderr
    );
    let config = env.file("bad2.toml", "[rules.privacy]\nweight = 5\ncolour = 1\n");
    let out = env.enrich(&[os("--config"), config.as_os_str()], b"{}\n");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("colour"), "{}", out.stderr);
}

#[test]
fn config_command_output_is_a_valid_config() {
    let env = Env::new();
    let out = domreg(["config"], b"");
    assert_eq!(out.code, 0);
    let text = out.text();
    for key in [
        "[input]",
        "max_line_bytes = 1048576",
        "[rules.newly_registered]",
        "[rules.whois_recon]",
    ] {
        assert!(text.contains(key), "{key}: {text}");
    }
    let config = env.file("default.toml", &out.stdout);
    let input = sample("zeek-dns.ndjson");
    let with = env.enrich(
        &[
            os("-q"),
            os("--config"),
            config.as_os_str(),
            input.as_os_str(),
        ],
        b"",
    );
    let without = env.enrich(&[os("-q"), input.as_os_str()], b"");
    assert_eq!(with.code, 0, "{}", with.stderr);
    assert_eq!(with.stdout, without.stdout);
}

#[test]
fn quiet_and_stdout_only_data() {
    let env = Env::new();
    let input = sample("suricata-eve-http-tls.ndjson");
    let out = env.enrich(&[os("--quiet"), input.as_os_str()], b"");
    assert_eq!(out.code, 0);
    assert_eq!(out.stderr, "");
    // With debug logging and a registrations file that warns, stdout still
    // holds only the events; the log goes to stderr, without colour codes.
    let bad = env.file("bad.jsonl", "{bad\n");
    let out = domreg_env(
        [
            os("enrich"),
            os("--now"),
            os(NOW),
            os("--registrations"),
            bad.as_os_str(),
            input.as_os_str(),
        ],
        b"",
        &[("DOMREG_LOG", "debug")],
    );
    assert_eq!(out.code, 0);
    let outs = output_lines(&out.stdout);
    assert_eq!(outs.len(), 12);
    for line in outs {
        json(line);
    }
    assert!(out.stderr.contains("WARN"), "{}", out.stderr);
    assert!(
        !out.stderr.contains('\u{1b}'),
        "escape codes: {:?}",
        out.stderr
    );
}

#[test]
fn attack_command() {
    let out = domreg(["attack"], b"");
    assert_eq!(out.code, 0);
    let text = out.text();
    for (id, name, tactic, rule) in [
        (
            "T1583.001",
            "Acquire Infrastructure: Domains",
            "TA0042 Resource Development",
            "newly_registered",
        ),
        (
            "T1583.001",
            "Acquire Infrastructure: Domains",
            "TA0042 Resource Development",
            "on_hold",
        ),
        (
            "T1584.001",
            "Compromise Infrastructure: Domains",
            "TA0042 Resource Development",
            "recently_changed",
        ),
        (
            "T1665",
            "Hide Infrastructure",
            "TA0011 Command and Control",
            "privacy",
        ),
        (
            "T1590.001",
            "Gather Victim Network Information: Domain Properties",
            "TA0043 Reconnaissance",
            "whois_recon",
        ),
        (
            "T1596.002",
            "Search Open Technical Databases: WHOIS",
            "TA0043 Reconnaissance",
            "whois_recon",
        ),
    ] {
        let row = text
            .lines()
            .find(|l| l.starts_with(id) && l.ends_with(rule))
            .unwrap_or_else(|| panic!("no row for {id} {rule}:\n{text}"));
        assert!(row.contains(name) && row.contains(tactic), "{row}");
    }
    for rule in ["expiring", "expired", "pending_delete", "not_registered"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(rule)),
            "{rule}"
        );
    }

    let out = domreg(["attack", "--json"], b"");
    assert_eq!(out.code, 0);
    let list: Value = serde_json::from_slice(&out.stdout).expect("attack --json is JSON");
    let rows: Vec<(String, String, String)> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default().to_string(),
                t["rule"].as_str().unwrap_or_default().to_string(),
                t["tactic"]["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected = [
        ("T1583.001", "newly_registered", "TA0042"),
        ("T1583.001", "on_hold", "TA0042"),
        ("T1584.001", "recently_changed", "TA0042"),
        ("T1665", "privacy", "TA0011"),
        ("T1590.001", "whois_recon", "TA0043"),
        ("T1596.002", "whois_recon", "TA0043"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(rows, expected);
    let first = &list[0];
    assert_eq!(first["name"], "Acquire Infrastructure: Domains");
    assert_eq!(
        first["subtechnique"],
        json!({"id": "T1583.001", "name": "Domains", "reference": "https://attack.mitre.org/techniques/T1583/001/"})
    );
    assert!(list[3]["subtechnique"].is_null());
}

#[test]
fn rdap_command_merges_registry_and_registrar() {
    let verisign = common::fixture("rdap/verisign-google.com.json");
    let markmonitor = common::fixture("rdap/markmonitor-registrar-google.com.json");
    let out = domreg(
        [os("rdap"), verisign.as_os_str(), markmonitor.as_os_str()],
        b"",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines = output_lines(&out.stdout);
    assert_eq!(lines.len(), 1);
    // The registry's dates win (the registrar's are 3 hours off and one day
    // off for the expiry); `updated` and privacy come from the registrar.
    assert_eq!(
        json(lines[0]),
        json!({
            "domain": "google.com",
            "registered": true,
            "created": "1997-09-15T04:00:00Z",
            "expires": "2028-09-14T04:00:00Z",
            "updated": "2019-09-09T15:39:04Z",
            "status": [
                "clientDeleteProhibited",
                "clientTransferProhibited",
                "clientUpdateProhibited",
                "serverDeleteProhibited",
                "serverTransferProhibited",
                "serverUpdateProhibited"
            ],
            "registrar": "MarkMonitor Inc.",
            "registrar_iana_id": 292,
            "nameservers": ["ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"],
            "privacy": true,
            "source": "rdap"
        })
    );
    // The registry's answer alone: no `updated`, no privacy.
    let out = domreg(
        [
            os("rdap"),
            os("--server"),
            os("https://rdap.verisign.com/com/v1/"),
            os("--fetched"),
            os("2021-06-09T09:34:01Z"),
            verisign.as_os_str(),
        ],
        b"",
    );
    let v = json(output_lines(&out.stdout)[0]);
    assert!(v.get("updated").is_none());
    assert_eq!(v["privacy"], false);
    assert_eq!(v["server"], "https://rdap.verisign.com/com/v1/");
    assert_eq!(v["fetched"], "2021-06-09T09:34:01Z");
    // All seven files give six records, one per domain.
    let env = Env::new();
    let regs = std::fs::read_to_string(&env.regs).expect("regs");
    let domains: Vec<Value> = regs
        .lines()
        .map(|l| json(l.as_bytes())["domain"].clone())
        .collect();
    assert_eq!(
        domains,
        [
            "google.com",
            "wicar.org",
            "bbc.co.uk",
            "nic.xyz",
            "microsoft.click",
            "example.cz"
        ]
    );
    // A file that does not exist: exit 2.
    let out = domreg(["rdap", "/nonexistent/domreg-test.json"], b"");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("domreg: reading /nonexistent/domreg-test.json"),
        "{}",
        out.stderr
    );
}

#[test]
fn registrations_file_with_bad_lines() {
    let env = Env::new();
    let regs = env.file(
        "partly-bad.jsonl",
        concat!(
            "{\"domain\":\"google.com\",\"created\":\"1997-09-15T04:00:00Z\"}\n",
            "{bad json\n",
            "{\"domain\":\"www.wicar.org\"}\n",
            "\n",
            "{\"domain\":\"wicar.org\",\"created\":\"2026-11-20T00:00:00Z\"}\n",
        ),
    );
    let out = domreg(
        [
            os("enrich"),
            os("--now"),
            os(NOW),
            os("--registrations"),
            regs.as_os_str(),
        ],
        b"{\"uid\":\"C\",\"query\":\"wicar.org\"}\n{\"uid\":\"C\",\"query\":\"www.google.com\"}\n",
    );
    assert_eq!(out.code, 0);
    let shown = regs.display().to_string();
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 3, "{}", out.stderr);
    assert!(
        warnings[0].contains(&format!("{shown}:2: ")),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[1].contains(&format!("{shown}:3: ")),
        "{}",
        warnings[1]
    );
    assert!(warnings[1].contains("its registered domain is \"wicar.org\""));
    assert!(
        warnings[2].contains("2 of 5 lines could not be used"),
        "{}",
        warnings[2]
    );
    // The good lines are used.
    let outs = output_lines(&out.stdout);
    let wicar = json(outs[0]);
    assert_eq!(wicar["domreg"]["registration"]["age_days"], 4);
    assert_eq!(
        wicar["domreg"]["risk"]["reasons"],
        json!(["newly_registered"])
    );
    assert_eq!(json(outs[1])["domreg"]["registration"]["age_days"], 10661);
    assert!(
        out.stderr.ends_with(&errors_line(0, 0, 0, 2)),
        "{}",
        out.stderr
    );
    // A registrations file that does not exist is a usage error.
    let out = env.enrich(&["--registrations", "/nonexistent/regs.jsonl"], b"");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("opening /nonexistent/regs.jsonl"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_now_and_cap_are_usage_errors() {
    let env = Env::new();
    let out = domreg(["enrich", "--now", "yesterday"], b"");
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "domreg: --now: not a time: \"yesterday\"\n")
    );
    let out = env.enrich(&["--max-line-bytes", "10"], b"");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("--max-line-bytes must be at least 64, not 10"),
        "{}",
        out.stderr
    );
}

// -------------------------------------------------------- broken pipe ----

// ------------------------------------------------------------ threads ----

/// `--threads 3` writes the same bytes and the same summary as one thread:
/// every sample log, repeated past several 256 KiB batches, with bad
/// lines, an over-long line in the middle (streamed through) and a last
/// line without `\n`.
#[test]
fn threads_give_the_same_output_in_order() {
    let env = Env::new();
    let mut input = Vec::new();
    for round in 0..6 {
        for file in [
            "zeek-dns.ndjson",
            "suricata-eve-http-tls.ndjson",
            "ecs-dns.ndjson",
            "sysmon-eid22.ndjson",
            "bind-query.log",
        ] {
            input.extend(std::fs::read(sample(file)).expect("sample"));
            if !input.ends_with(b"\n") {
                input.push(b'\n');
            }
            input.extend_from_slice(b"{\"uid\":\"C\",\"query\":\n\xff\xfe\nplain text\n");
        }
        if round == 3 {
            let big = format!(
                r#"{{"uid":"C","query":"www.google.com","pad":"{}"}}"#,
                "z".repeat(2 << 20)
            );
            input.extend_from_slice(big.as_bytes());
            input.push(b'\n');
        }
    }
    input.extend_from_slice(br#"{"uid":"C","query":"nic.xyz"}"#);
    assert!(input.len() > 3 << 20);
    let path = env.file("many.log", &input);
    let one = env.enrich(&[path.as_os_str()], b"");
    let three = env.enrich(&[os("--threads"), os("3"), path.as_os_str()], b"");
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert_eq!(three.code, 0, "{}", three.stderr);
    assert_eq!(output_lines(&one.stdout).len(), input_lines(&input).len());
    assert!(one.stdout == three.stdout, "outputs differ");
    assert_eq!(one.stderr, three.stderr);
    assert!(one.stderr.contains("oversized 1"), "{}", one.stderr);
    // From stdin too.
    let piped = env.enrich(&["--threads", "2"], &input);
    assert!(piped.stdout == one.stdout, "stdin output differs");

    let live = Command::new(env!("CARGO_BIN_EXE_domreg"))
        .args(["enrich", "--threads", "2", "-q"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(live.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&live.stderr);
    assert!(stderr.contains("--threads needs --offline"), "{stderr}");
}

/// Reading a pipe that stays open, on one thread and with `--threads 2`:
/// each event comes out while the next has not been written yet, not when
/// a whole batch has arrived or the input ends (as for Fluentd's
/// exec_filter, which waits for each reply). Each write also brings the
/// first bytes of the next event, which must not hold back the complete
/// one before it.
#[test]
fn each_event_of_a_quiet_pipe_comes_out_at_once() {
    use std::io::Write;
    use std::time::Duration;

    let env = Env::new();
    let names = ["www.google.com", "plus.l.google.com", "nic.xyz"];
    let events: Vec<String> = names
        .iter()
        .map(|name| format!(r#"{{"uid":"C","query":"{name}"}}"#))
        .collect();
    for args in [&["-q"][..], &["--threads", "2", "-q"]] {
        let mut child = env
            .enrich_command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn domreg");
        let mut stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.expect("read stdout")).is_err() {
                    break;
                }
            }
        });
        let head = 7;
        for (i, (name, event)) in names.iter().zip(&events).enumerate() {
            // The rest of this event, then the start of the next.
            let mut write = event.as_bytes()[if i == 0 { 0 } else { head }..].to_vec();
            write.push(b'\n');
            if let Some(next) = events.get(i + 1) {
                write.extend_from_slice(&next.as_bytes()[..head]);
            }
            stdin.write_all(&write).expect("write stdin");
            stdin.flush().expect("flush stdin");
            let line = rx
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("{args:?}: no output for {name} while stdin is open"));
            let event = json(line.as_bytes());
            assert_eq!(event["query"], *name, "{args:?}: {line}");
            assert!(event.get("domreg").is_some(), "{args:?}: {line}");
        }
        drop(stdin);
        assert!(
            rx.recv_timeout(Duration::from_secs(20)).is_err(),
            "{args:?}: extra output"
        );
        assert_eq!(child.wait().expect("wait").code(), Some(0), "{args:?}");
        reader.join().expect("reader");
    }
}

/// `--threads` on a file where over-long lines (cap 64) come first, in a
/// row, every few hundred lines, last without `\n`, and at exactly the cap
/// and one byte past it: each thread reads its own batches and the calling
/// thread streams each over-long line through, and the bytes and the
/// summary are those of one thread, from the file and from stdin.
#[test]
fn threads_stream_over_long_lines_in_order() {
    let env = Env::new();
    let padded = |len: usize| {
        let head = r#"{"uid":"C","query":"nic.xyz","pad":""#;
        let mut line = head.as_bytes().to_vec();
        line.resize(len - 2, b'z');
        line.extend_from_slice(b"\"}");
        line
    };
    let mut input = Vec::new();
    let mut long = 0;
    let push = |line: &[u8], input: &mut Vec<u8>| {
        input.extend_from_slice(line);
        input.push(b'\n');
    };
    push(&padded(300 << 10), &mut input);
    long += 1;
    for i in 0..40_000 {
        let name = ["www.google.com", "plus.l.google.com", "nic.xyz", "x.local"][i % 4];
        push(
            format!(r#"{{"uid":"C{i}","query":"{name}"}}"#).as_bytes(),
            &mut input,
        );
        if i % 997 == 0 {
            for _ in 0..1 + i % 3 {
                push(&padded(65 + i), &mut input);
                long += 1;
            }
            push(&padded(64), &mut input);
        }
    }
    input.extend_from_slice(&padded(100_000));
    long += 1;
    assert!(input.len() > 2 << 20);
    let path = env.file("long.log", &input);
    let cap = ["--max-line-bytes", "64"];
    let one = env.enrich(&[&cap[..], &[path.to_str().unwrap()]].concat(), b"");
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert!(
        one.stderr.contains(&format!("oversized {long}")),
        "{long}: {}",
        one.stderr
    );
    assert_eq!(output_lines(&one.stdout).len(), input_lines(&input).len());
    for threads in ["2", "3"] {
        let args = [&cap[..], &["--threads", threads, path.to_str().unwrap()]].concat();
        let many = env.enrich(&args, b"");
        assert_eq!(many.code, 0, "{}", many.stderr);
        assert!(
            many.stdout == one.stdout,
            "--threads {threads}: outputs differ"
        );
        assert_eq!(many.stderr, one.stderr);
    }
    let piped = env.enrich(&[&cap[..], &["--threads", "2"]].concat(), &input);
    assert!(piped.stdout == one.stdout, "stdin output differs");
    assert_eq!(piped.stderr, one.stderr);
}

/// `--threads 2` where reading a regular file fails (`/proc/self/mem` fails
/// its first read): the error is reported, the next file is still
/// enriched, and the exit code is 1, as on one thread.
#[cfg(target_os = "linux")]
#[test]
fn threads_report_a_read_error_and_go_on() {
    let env = Env::new();
    let good = sample("zeek-dns.ndjson");
    let alone = env.enrich(&[os("-q"), good.as_os_str()], b"");
    for threads in ["1", "2"] {
        let out = env.enrich(
            &[
                os("-q"),
                os("--threads"),
                os(threads),
                os("/proc/self/mem"),
                good.as_os_str(),
            ],
            b"",
        );
        assert_eq!(out.code, 1, "--threads {threads}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("domreg: /proc/self/mem: Input/output error"),
            "--threads {threads}: {}",
            out.stderr
        );
        assert!(out.stdout == alone.stdout, "--threads {threads}");
    }
}

/// `domreg enrich big | head -1`, on one thread and on two, from a file and
/// from a pipe that stays open: domreg exits 0 without an error message,
/// and from the pipe without waiting for more input.
#[test]
fn broken_pipe_exits_quietly() {
    use std::io::Write;
    use std::time::{Duration, Instant};

    let env = Env::new();
    let one = std::fs::read(sample("zeek-dns.ndjson")).expect("sample");
    // About 10 MB of input: far more output than a pipe buffer holds.
    let big = env.file("big.ndjson", one.repeat(40));
    for threads in ["1", "2"] {
        for from_file in [true, false] {
            let case = format!("--threads {threads}, from_file {from_file}");
            let mut command = env.enrich_command(&["--threads", threads]);
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
            if from_file {
                command.arg(&big).stdin(Stdio::null());
            } else {
                command.stdin(Stdio::piped());
            }
            let mut child = command.spawn().expect("spawn domreg");
            let mut stdin = child.stdin.take();
            if let Some(stdin) = &mut stdin {
                stdin.write_all(&one).expect("write stdin");
                stdin.flush().expect("flush stdin");
            }
            let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
            let mut first = String::new();
            reader.read_line(&mut first).expect("first line");
            assert!(first.starts_with("{\"_path\":\"dns\""), "{case}: {first}");
            drop(reader); // like `head -1` exiting
            if let Some(stdin) = &mut stdin {
                // If domreg has not met the closed pipe yet, the next
                // events' output will; stdin stays open. (If it has, it
                // has exited, and this write fails.)
                let _ = stdin.write_all(&one).and_then(|()| stdin.flush());
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            let status = loop {
                if let Some(status) = child.try_wait().expect("try_wait") {
                    break status;
                }
                assert!(Instant::now() < deadline, "{case}: domreg still running");
                std::thread::sleep(Duration::from_millis(20));
            };
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut stderr)
                .expect("stderr");
            assert_eq!(status.code(), Some(0), "{case}: {stderr}");
            let lower = stderr.to_lowercase();
            assert!(
                !lower.contains("error") && !lower.contains("pipe") && !lower.contains("panic"),
                "{case}: {stderr}"
            );
            drop(stdin);
        }
    }
}

/// `domreg enrich` reading a pipe and writing to one (as in `cat logs |
/// domreg enrich | next`) makes both pipes' buffers 1 MiB, one thread or
/// two, and never makes a larger one smaller.
#[cfg(target_os = "linux")]
#[test]
fn enrich_widens_its_pipes() {
    use rustix::pipe::{fcntl_getpipe_size, fcntl_setpipe_size};
    use std::io::Write;

    let max: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if max < 1 << 20 {
        eprintln!("skipped: /proc/sys/fs/pipe-max-size is {max}");
        return;
    }
    let env = Env::new();
    for threads in ["1", "2"] {
        let mut child = env
            .enrich_command(&["-q", "--threads", threads])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn domreg");
        let mut stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        // A pipe larger than 1 MiB stays as it is (root may make one).
        let larger = fcntl_setpipe_size(stdout.get_ref(), 2 << 20).is_ok();
        assert_eq!(fcntl_getpipe_size(&stdin).unwrap(), 64 << 10);
        writeln!(stdin, r#"{{"uid":"C","query":"www.google.com"}}"#).unwrap();
        stdin.flush().unwrap();
        // The event has been read and written: domreg has set both pipes up.
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(line.contains("\"domreg\""), "{line}");
        assert_eq!(fcntl_getpipe_size(&stdin).unwrap(), 1 << 20, "{threads}");
        let out_size = fcntl_getpipe_size(stdout.get_ref()).unwrap();
        assert_eq!(
            out_size,
            if larger { 2 << 20 } else { 1 << 20 },
            "{threads}"
        );
        drop(stdin);
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
}
