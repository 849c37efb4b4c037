//! One lookup's outcome as short strings, for adapters that carry it in
//! HTTP headers or proxy properties (the proxy-wasm filter in `wasm/proxy`)
//! rather than in a JSON event.
//!
//! [`Summary::new`] runs the same steps as the enricher for one name: the
//! lookup answer is classified by [`crate::enrich::classify`] and assessed by
//! a [`RiskEngine`]; the values are those of the `domreg` member
//! (`docs/fields.md`): `lookup`, `error`, `registration.age_days`,
//! `registration.status`, `risk.score`, `risk.reasons` and the technique ids
//! of `threat.technique` / `threat.technique.subtechnique`.

use chrono::{DateTime, Utc};

use crate::enrich::{LookupResult, classify};
use crate::output::LookupKind;
use crate::risk::{Known, Risk, RiskEngine};

/// The header-sized facts of one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The `domreg.lookup` kind.
    pub lookup: LookupKind,
    /// The error code of a failed lookup.
    pub error: Option<String>,
    /// Whole days from registration to the event, when known.
    pub age_days: Option<i64>,
    /// EPP status values, comma-separated (empty when none or unknown).
    /// A registry may send any text as a status: every byte of a value
    /// outside printable ASCII, and `%` and `,`, is written `%XX`, so the
    /// list is always a valid header value and splits at its commas.
    pub status: String,
    /// The score and the rules that fired.
    pub risk: Risk,
    /// The fired rules' names, comma-separated, in output order.
    pub reasons: String,
    /// The ATT&CK technique ids (`T1583.001`, ...) of the fired rules,
    /// comma-separated, each once.
    pub attack: String,
}

impl Summary {
    /// The summary of `result`, the lookup answer for the registered domain
    /// of `name` (the normalised, A-label name asked for), at `at`.
    pub fn new(
        engine: &RiskEngine,
        name: &str,
        result: LookupResult<'_>,
        at: DateTime<Utc>,
    ) -> Summary {
        let (lookup, known, error) = classify(result, at);
        let risk = engine.assess(name, known);
        let (age_days, status) = match known {
            Known::Registered(reg, days) => (days.age, status_list(&reg.status)),
            Known::NotRegistered | Known::Unknown => (None, String::new()),
        };
        let reasons = join(risk.rules.iter().map(|r| r.as_str()));
        let attack = join(risk.rules.techniques().iter().map(|t| t.full_id()));
        Summary {
            lookup,
            error: error.map(str::to_owned),
            age_days,
            status,
            risk,
            reasons,
            attack,
        }
    }

    /// The summary of a name that has no registered domain to look up (an
    /// IP literal, an invalid name, a public suffix): `lookup` is
    /// `skipped`; only name rules (`whois_recon`) can fire.
    pub fn skipped(engine: &RiskEngine, name: &str) -> Summary {
        let risk = engine.assess(name, Known::Unknown);
        Summary {
            lookup: LookupKind::Skipped,
            error: None,
            age_days: None,
            status: String::new(),
            risk,
            reasons: join(risk.rules.iter().map(|r| r.as_str())),
            attack: join(risk.rules.techniques().iter().map(|t| t.full_id())),
        }
    }
}

/// The status values, comma-separated, each made header-safe (see
/// [`Summary::status`]).
fn status_list(values: &[crate::shared::Shared]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for &b in value.as_bytes() {
            if (b' '..=b'~').contains(&b) && b != b'%' && b != b',' {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for item in items {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::config::RulesConfig;
    use crate::{Registration, Source};

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
    }

    #[test]
    fn young_domain_on_hold() {
        let engine = RiskEngine::new(RulesConfig::default());
        let mut reg = Registration::new("example.com", Source::Rdap);
        reg.created = Some(Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap());
        reg.status = vec!["serverHold".into(), "clientTransferProhibited".into()].into();
        let s = Summary::new(&engine, "www.example.com", LookupResult::Found(&reg), at());
        assert_eq!(s.lookup, LookupKind::Hit);
        assert_eq!(s.age_days, Some(4));
        assert_eq!(s.status, "serverHold,clientTransferProhibited");
        assert_eq!(s.risk.score, 100);
        assert_eq!(s.reasons, "newly_registered,on_hold");
        // Both rules point to T1583.001: listed once.
        assert_eq!(s.attack, "T1583.001");
    }

    /// A status value with a CR (found by the `proxy_wasm` fuzz target: it
    /// reached an `x-domreg-status` header), a comma, a `%` or non-ASCII
    /// letters is percent-encoded byte by byte; plain values are unchanged.
    #[test]
    fn status_values_are_header_safe() {
        let engine = RiskEngine::new(RulesConfig::default());
        let mut reg = Registration::new("example.com", Source::Rdap);
        reg.status = vec![
            "serverHold".into(),
            "serv\r delete prohibited".into(),
            "a,b 100%".into(),
            "clïent\u{7f}".into(),
        ]
        .into();
        let s = Summary::new(&engine, "example.com", LookupResult::Found(&reg), at());
        assert_eq!(
            s.status,
            "serverHold,serv%0D delete prohibited,a%2Cb 100%25,cl%C3%AFent%7F"
        );
        assert!(s.status.bytes().all(|b| (b' '..=b'~').contains(&b)));
    }

    #[test]
    fn error_and_not_found() {
        let engine = RiskEngine::new(RulesConfig::default());
        let s = Summary::new(&engine, "a.example", LookupResult::Error("timeout"), at());
        assert_eq!(
            (s.lookup, s.error.as_deref()),
            (LookupKind::Error, Some("timeout"))
        );
        assert_eq!((s.age_days, s.risk.score, s.attack.as_str()), (None, 0, ""));
        let reg = Registration::not_registered("nx.com", Source::Rdap);
        let s = Summary::new(&engine, "nx.com", LookupResult::Found(&reg), at());
        assert_eq!(
            (s.lookup, s.reasons.as_str()),
            (LookupKind::NotFound, "not_registered")
        );
        let s = Summary::skipped(&engine, "rdap.verisign.com");
        assert_eq!(
            (s.lookup, s.reasons.as_str()),
            (LookupKind::Skipped, "whois_recon")
        );
        assert_eq!(s.attack, "T1590.001,T1596.002");
    }
}
