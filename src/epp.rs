//! EPP status values and their RDAP names (RFC 8056, section 2).
//!
//! RDAP (RFC 9083) spells domain statuses as lower-case words ("client
//! transfer prohibited"); EPP (RFC 5731, RFC 5732, and the grace-period
//! statuses of RFC 3915) spells them in camelCase (`clientTransferProhibited`).
//! domreg stores the EPP form, so [`rdap_to_epp`] is applied to every status
//! read from an RDAP response.
//!
//! Matching is lenient: case is ignored, and spaces, underscores and hyphens
//! are ignored, so "Client_Transfer-Prohibited", "CLIENT TRANSFER PROHIBITED"
//! and "clientTransferProhibited" all map to `clientTransferProhibited`.
//! Only the names of the RFC 8056 table are mapped; any other string is kept
//! as given (trimmed).

use std::borrow::Cow;

/// The RFC 8056 section 2 table: (EPP status, RDAP status).
///
/// Includes the EPP domain (RFC 5731) and host (RFC 5732, `linked`) statuses
/// and the registry grace period statuses of RFC 3915 (`addPeriod`,
/// `autoRenewPeriod`, `renewPeriod`, `transferPeriod`, `redemptionPeriod`,
/// `pendingRestore`; RGP `pendingDelete` shares the RDAP name of the
/// RFC 5731 `pendingDelete`).
pub const MAPPING: &[(&str, &str)] = &[
    ("addPeriod", "add period"),
    ("autoRenewPeriod", "auto renew period"),
    ("clientDeleteProhibited", "client delete prohibited"),
    ("clientHold", "client hold"),
    ("clientRenewProhibited", "client renew prohibited"),
    ("clientTransferProhibited", "client transfer prohibited"),
    ("clientUpdateProhibited", "client update prohibited"),
    ("inactive", "inactive"),
    ("linked", "associated"),
    ("ok", "active"),
    ("pendingCreate", "pending create"),
    ("pendingDelete", "pending delete"),
    ("pendingRenew", "pending renew"),
    ("pendingRestore", "pending restore"),
    ("pendingTransfer", "pending transfer"),
    ("pendingUpdate", "pending update"),
    ("redemptionPeriod", "redemption period"),
    ("renewPeriod", "renew period"),
    ("serverDeleteProhibited", "server delete prohibited"),
    ("serverHold", "server hold"),
    ("serverRenewProhibited", "server renew prohibited"),
    ("serverTransferProhibited", "server transfer prohibited"),
    ("serverUpdateProhibited", "server update prohibited"),
    ("transferPeriod", "transfer period"),
];

/// Longest name in the table once separators are removed ("clienttransferprohibited"
/// and friends are 24 letters). Longer input cannot match, so it is not folded.
const MAX_KEY: usize = 32;

/// True when `s`, ignoring ASCII case and the separators ' ', '_', '-',
/// spells exactly `name` (also compared ignoring case and separators).
fn same_key(s: &str, name: &str) -> bool {
    let mut a = s
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'_' | b'-' | b'\t'))
        .map(|b| b.to_ascii_lowercase());
    let mut b = name
        .bytes()
        .filter(|b| *b != b' ')
        .map(|b| b.to_ascii_lowercase());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => {}
            _ => return false,
        }
    }
}

/// True when `s` is short enough to possibly be a table name.
fn plausible(s: &str) -> bool {
    // Separators may pad the name, so allow some slack over MAX_KEY letters.
    s.len() <= MAX_KEY * 2
}

/// Maps an RDAP status ("client transfer prohibited") to its EPP name
/// (`clientTransferProhibited`).
///
/// Case, spaces, underscores and hyphens are ignored; input already in EPP
/// form ("clientHold", "ok", "linked") maps to itself. Strings that are not
/// in the RFC 8056 table are returned trimmed but otherwise unchanged
/// (e.g. "server recover prohibited", "validated").
pub fn rdap_to_epp(s: &str) -> Cow<'_, str> {
    let t = s.trim();
    // Most input is already in EPP form (registrations files, the cache).
    if let Some((epp, _)) = MAPPING.iter().find(|(epp, _)| *epp == t) {
        return Cow::Borrowed(epp);
    }
    if plausible(t) {
        for (epp, rdap) in MAPPING {
            if same_key(t, rdap) || same_key(t, epp) {
                return Cow::Borrowed(epp);
            }
        }
    }
    Cow::Borrowed(t)
}

/// Maps an EPP status (`clientTransferProhibited`) to its RDAP name
/// ("client transfer prohibited"). Case, spaces, underscores and hyphens are
/// ignored. Returns `None` when `s` is not an EPP status of the RFC 8056
/// table (RDAP-only names such as "active" or "associated" are not EPP names).
pub fn epp_to_rdap(s: &str) -> Option<&'static str> {
    let t = s.trim();
    if !plausible(t) {
        return None;
    }
    MAPPING
        .iter()
        .find(|(epp, _)| same_key(t, epp))
        .map(|(_, rdap)| *rdap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_24_rows_and_no_duplicates() {
        assert_eq!(MAPPING.len(), 24);
        for (i, (e1, r1)) in MAPPING.iter().enumerate() {
            for (e2, r2) in MAPPING.iter().skip(i + 1) {
                assert_ne!(e1, e2);
                assert_ne!(r1, r2);
            }
        }
    }

    #[test]
    fn every_row_both_ways() {
        let rows = [
            ("add period", "addPeriod"),
            ("auto renew period", "autoRenewPeriod"),
            ("client delete prohibited", "clientDeleteProhibited"),
            ("client hold", "clientHold"),
            ("client renew prohibited", "clientRenewProhibited"),
            ("client transfer prohibited", "clientTransferProhibited"),
            ("client update prohibited", "clientUpdateProhibited"),
            ("inactive", "inactive"),
            ("associated", "linked"),
            ("active", "ok"),
            ("pending create", "pendingCreate"),
            ("pending delete", "pendingDelete"),
            ("pending renew", "pendingRenew"),
            ("pending restore", "pendingRestore"),
            ("pending transfer", "pendingTransfer"),
            ("pending update", "pendingUpdate"),
            ("redemption period", "redemptionPeriod"),
            ("renew period", "renewPeriod"),
            ("server delete prohibited", "serverDeleteProhibited"),
            ("server hold", "serverHold"),
            ("server renew prohibited", "serverRenewProhibited"),
            ("server transfer prohibited", "serverTransferProhibited"),
            ("server update prohibited", "serverUpdateProhibited"),
            ("transfer period", "transferPeriod"),
        ];
        assert_eq!(rows.len(), MAPPING.len());
        for (rdap, epp) in rows {
            assert_eq!(rdap_to_epp(rdap), epp, "rdap_to_epp({rdap:?})");
            assert_eq!(epp_to_rdap(epp), Some(rdap), "epp_to_rdap({epp:?})");
            // Already-EPP input is kept.
            assert_eq!(rdap_to_epp(epp), epp, "rdap_to_epp({epp:?})");
            // Round trip.
            assert_eq!(epp_to_rdap(&rdap_to_epp(rdap)), Some(rdap));
        }
    }

    #[test]
    fn case_and_separator_variants() {
        for s in [
            "client transfer prohibited",
            "Client Transfer Prohibited",
            "CLIENT TRANSFER PROHIBITED",
            "  client  transfer   prohibited \t",
            "client_transfer_prohibited",
            "client-transfer-prohibited",
            "Client_Transfer-Prohibited",
            "clientTransferProhibited",
            "CLIENTTRANSFERPROHIBITED",
            "clienttransferprohibited",
        ] {
            assert_eq!(rdap_to_epp(s), "clientTransferProhibited", "{s:?}");
        }
        assert_eq!(rdap_to_epp("ACTIVE"), "ok");
        assert_eq!(rdap_to_epp("OK"), "ok");
        assert_eq!(rdap_to_epp("Auto-Renew Period"), "autoRenewPeriod");
        assert_eq!(rdap_to_epp("autorenewperiod"), "autoRenewPeriod");
        assert_eq!(rdap_to_epp("Redemption_Period"), "redemptionPeriod");
        assert_eq!(rdap_to_epp("clientHold"), "clientHold");
        assert_eq!(rdap_to_epp("Linked"), "linked");
        assert_eq!(epp_to_rdap("CLIENTHOLD"), Some("client hold"));
        assert_eq!(epp_to_rdap(" serverHold "), Some("server hold"));
        assert_eq!(epp_to_rdap("OK"), Some("active"));
    }

    #[test]
    fn unknown_strings_pass_through_trimmed() {
        assert_eq!(
            rdap_to_epp("server recover prohibited"),
            "server recover prohibited"
        );
        assert_eq!(
            rdap_to_epp("  server deleted prohibited "),
            "server deleted prohibited"
        );
        // RDAP-only values (RFC 9083 section 10.2.2) that EPP has no name for.
        assert_eq!(rdap_to_epp("validated"), "validated");
        assert_eq!(rdap_to_epp("transfer prohibited"), "transfer prohibited");
        assert_eq!(rdap_to_epp("Removed"), "Removed");
        assert_eq!(rdap_to_epp(""), "");
        assert_eq!(rdap_to_epp("   "), "");
        // Partial names do not match.
        assert_eq!(rdap_to_epp("client transfer"), "client transfer");
        assert_eq!(
            rdap_to_epp("client transfer prohibited x"),
            "client transfer prohibited x"
        );
        let long = "client ".repeat(100);
        assert_eq!(rdap_to_epp(&long), long.trim());
        assert_eq!(epp_to_rdap(&long), None);
    }

    #[test]
    fn epp_to_rdap_rejects_non_epp_names() {
        assert_eq!(epp_to_rdap("active"), None);
        assert_eq!(epp_to_rdap("associated"), None);
        assert_eq!(epp_to_rdap("serverRecoverProhibited"), None);
        assert_eq!(epp_to_rdap(""), None);
        assert_eq!(epp_to_rdap("ökay"), None);
    }

    #[test]
    fn non_ascii_input_does_not_panic() {
        assert_eq!(rdap_to_epp("clïent hold"), "clïent hold");
        assert_eq!(rdap_to_epp("\u{feff}ok"), "\u{feff}ok");
    }
}
