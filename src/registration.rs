//! The registration model: what domreg knows about one registered domain.
//!
//! A [`Registration`] is produced by the RDAP parser ([`crate::rdap`]), read
//! from a snapshot file (`--registrations`, [`crate::snapshot`]) or, later,
//! from the live cache. Its serde form is the JSON Lines schema documented in
//! `docs/registrations.md`; the cache exports the same schema.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::shared::{Shared, SharedList};

/// Where a registration record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Source {
    /// Parsed from an RDAP response (RFC 9083).
    #[default]
    Rdap,
    /// Read from an offline snapshot whose origin is not recorded.
    Snapshot,
    /// Parsed from a WHOIS (port 43) answer.
    Whois,
}

impl Source {
    /// The name used in output and files.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Rdap => "rdap",
            Source::Snapshot => "snapshot",
            Source::Whois => "whois",
        }
    }
}

/// The registration facts of one registered domain (eTLD+1).
///
/// `registered == false` records that the registry answered "not found";
/// the other facts are then empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The registered domain in A-label (ASCII, lower-case) form, no trailing dot.
    pub domain: String,
    /// False when the registry says the domain is not registered.
    #[serde(default = "default_true")]
    pub registered: bool,
    /// RDAP event `registration`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::rdap::de_time"
    )]
    pub created: Option<DateTime<Utc>>,
    /// RDAP event `expiration`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::rdap::de_time"
    )]
    pub expires: Option<DateTime<Utc>>,
    /// RDAP event `last changed` (or the non-standard `last update`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::rdap::de_time"
    )]
    pub updated: Option<DateTime<Utc>>,
    /// RDAP event `transfer` (the most recent one).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::rdap::de_time"
    )]
    pub transferred: Option<DateTime<Utc>>,
    /// EPP status values in their camelCase EPP form (RFC 5731 / RFC 8056),
    /// e.g. `clientTransferProhibited`; unknown strings are kept verbatim
    /// (trimmed). Read from JSON, the RDAP spellings ("client hold") are
    /// mapped to the EPP form, as from an RDAP response
    /// ([`crate::epp::rdap_to_epp`]).
    #[serde(
        default,
        skip_serializing_if = "SharedList::is_empty",
        deserialize_with = "de_status"
    )]
    pub status: SharedList,
    /// The sponsoring registrar's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registrar: Option<Shared>,
    /// The registrar's IANA id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registrar_iana_id: Option<u32>,
    /// Nameserver host names, lower-case, no trailing dot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// True when the registrant's identity is hidden (redaction or a privacy service).
    #[serde(default)]
    pub privacy: bool,
    /// Where the record came from.
    #[serde(default)]
    pub source: Source,
    /// The server (RDAP base URL or file) the record came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Shared>,
    /// When the record was fetched.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::rdap::de_time"
    )]
    pub fetched: Option<DateTime<Utc>>,
}

/// `deserialize_with` for [`Registration::status`]: each value through
/// [`crate::epp::rdap_to_epp`], so that a registrations file written with
/// RDAP's spellings ("client hold", "pending delete") matches the rules as
/// a record from RDAP does.
fn de_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SharedList, D::Error> {
    let values = Vec::<std::borrow::Cow<'de, str>>::deserialize(d)?;
    Ok(values
        .iter()
        .map(|v| Shared::new(&crate::epp::rdap_to_epp(v)))
        .collect())
}

fn default_true() -> bool {
    true
}

impl Registration {
    /// An empty, registered record for `domain` (no facts yet).
    pub fn new(domain: impl Into<String>, source: Source) -> Self {
        Registration {
            domain: domain.into(),
            registered: true,
            created: None,
            expires: None,
            updated: None,
            transferred: None,
            status: SharedList::default(),
            registrar: None,
            registrar_iana_id: None,
            nameservers: Vec::new(),
            privacy: false,
            source,
            server: None,
            fetched: None,
        }
    }

    /// A record saying the registry does not know `domain`.
    pub fn not_registered(domain: impl Into<String>, source: Source) -> Self {
        Registration {
            registered: false,
            ..Registration::new(domain, source)
        }
    }

    /// True when `status` holds the EPP value `value` (camelCase, e.g. `serverHold`).
    pub fn has_status(&self, value: &str) -> bool {
        self.status.iter().any(|s| s == value)
    }

    /// Drop the spare capacity of its strings and lists (a record parsed
    /// from JSON has some), for records kept long and in large numbers.
    pub fn shrink_to_fit(&mut self) {
        self.domain.shrink_to_fit();
        for s in &mut self.nameservers {
            s.shrink_to_fit();
        }
        self.nameservers.shrink_to_fit();
    }
}
