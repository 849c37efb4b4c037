//! The configuration file (TOML): input options and the risk rules.
//!
//! Every key is optional; an empty file gives the defaults. Unknown keys are
//! errors, so a typo never silently leaves a default in force. The reference
//! with every key is `docs/config.md`; `domreg config` prints the defaults.

use serde::{Deserialize, Serialize};

use crate::Error;

/// Default cap on one input line, in bytes (1 MiB).
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How input lines are read.
    pub input: InputConfig,
    /// The risk rules.
    pub rules: RulesConfig,
}

impl Config {
    /// Parse and validate a TOML document. Keys it leaves out keep their
    /// defaults, key by key (`[rules.newly_registered] days = 7` keeps the
    /// default weight).
    pub fn from_toml(text: &str) -> Result<Config, Error> {
        let user: toml::Table = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        Config::from_table(user)
    }

    /// [`Config::from_toml`] for the same document as a JSON object (the
    /// WASM filters' configuration): `{"rules": {"newly_registered":
    /// {"days": 7}}}` keeps every other default. `null` is not a value.
    pub fn from_json_value(user: serde_json::Value) -> Result<Config, Error> {
        use serde::Deserialize as _;
        let user = toml::Table::deserialize(user).map_err(|e| Error::Config(e.to_string()))?;
        Config::from_table(user)
    }

    fn from_table(user: toml::Table) -> Result<Config, Error> {
        let mut merged =
            toml::Table::try_from(Config::default()).map_err(|e| Error::Config(e.to_string()))?;
        merge_tables(&mut merged, user);
        let config: Config = toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Check values that serde cannot.
    pub fn validate(&self) -> Result<(), Error> {
        if self.input.max_line_bytes < 64 {
            return Err(Error::Config(
                "input.max_line_bytes must be at least 64".to_string(),
            ));
        }
        let r = &self.rules;
        let days = [
            ("rules.newly_registered.days", r.newly_registered.days),
            ("rules.recently_changed.days", r.recently_changed.days),
            (
                "rules.recently_changed.min_age_days",
                r.recently_changed.min_age_days,
            ),
            ("rules.expiring.days", r.expiring.days),
        ];
        // A negative count of days would make its rule never fire.
        if let Some((key, value)) = days.iter().find(|(_, d)| *d < 0) {
            return Err(Error::Config(format!(
                "{key} must be 0 or more, not {value}"
            )));
        }
        for pattern in &self.rules.whois_recon.patterns {
            if pattern.is_empty() || pattern.len() > 253 {
                return Err(Error::Config(format!(
                    "rules.whois_recon.patterns: invalid pattern {pattern:?}"
                )));
            }
        }
        Ok(())
    }
}

/// `[input]`: how lines are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    /// Lines longer than this many bytes pass through unchanged (and are counted).
    pub max_line_bytes: usize,
    /// Extra JSON field paths holding a domain name, tried before the built-in
    /// ones (the same as `--field`, which adds to this list).
    pub fields: Vec<String>,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            fields: Vec::new(),
        }
    }
}

/// `[rules]`: one table per rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Registered fewer than `days` days before the event.
    pub newly_registered: AgeRule,
    /// Carries a hold status (`serverHold`, `clientHold`).
    pub on_hold: StatusRule,
    /// Updated or transferred within `days` days, on a domain older than `min_age_days`.
    pub recently_changed: ChangeRule,
    /// The registrant is hidden (redaction or a privacy service).
    pub privacy: SimpleRule,
    /// The name itself is a WHOIS or RDAP lookup service.
    pub whois_recon: WhoisRule,
    /// Expires within `days` days.
    pub expiring: AgeRule,
    /// Expired before the event.
    pub expired: SimpleRule,
    /// In the deletion cycle (`pendingDelete`, `redemptionPeriod`).
    pub pending_delete: StatusRule,
    /// The registry says the domain is not registered.
    pub not_registered: SimpleRule,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            newly_registered: AgeRule {
                enabled: true,
                weight: 60,
                days: 30,
            },
            on_hold: StatusRule {
                enabled: true,
                weight: 50,
                statuses: vec!["serverHold".to_string(), "clientHold".to_string()],
            },
            recently_changed: ChangeRule {
                enabled: true,
                weight: 30,
                days: 14,
                min_age_days: 30,
            },
            privacy: SimpleRule {
                enabled: true,
                weight: 5,
            },
            whois_recon: WhoisRule::default(),
            expiring: AgeRule {
                enabled: true,
                weight: 10,
                days: 30,
            },
            expired: SimpleRule {
                enabled: true,
                weight: 30,
            },
            pending_delete: StatusRule {
                enabled: true,
                weight: 40,
                statuses: vec!["pendingDelete".to_string(), "redemptionPeriod".to_string()],
            },
            not_registered: SimpleRule {
                enabled: true,
                weight: 40,
            },
        }
    }
}

/// A rule with only a switch and a weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleRule {
    /// Whether the rule runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Points added to the risk score when it fires (the score is capped at 100).
    pub weight: u8,
}

/// A rule with a day threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeRule {
    /// Whether the rule runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Points added to the risk score when it fires.
    pub weight: u8,
    /// The threshold in days.
    pub days: i64,
}

/// A rule on recent changes to an established domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRule {
    /// Whether the rule runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Points added to the risk score when it fires.
    pub weight: u8,
    /// Updated or transferred at most this many days before the event.
    pub days: i64,
    /// Only for domains at least this many days old.
    pub min_age_days: i64,
}

/// A rule that fires on EPP status values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRule {
    /// Whether the rule runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Points added to the risk score when it fires.
    pub weight: u8,
    /// EPP status values (camelCase) that make it fire.
    pub statuses: Vec<String>,
}

/// The WHOIS/RDAP lookup-service rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhoisRule {
    /// Whether the rule runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Points added to the risk score when it fires.
    pub weight: u8,
    /// Name patterns, matched against the whole normalised name. `*` matches
    /// any run of characters (dots included), e.g. `rdap.*`, `*.whois.com`.
    pub patterns: Vec<String>,
}

impl Default for WhoisRule {
    fn default() -> Self {
        WhoisRule {
            enabled: true,
            weight: 20,
            patterns: [
                "rdap.*",
                "whois.*",
                "lookup.icann.org",
                "rdap.org",
                "client.rdap.org",
                "who.is",
                "www.who.is",
                "whois.com",
                "www.whois.com",
                "*.whoisxmlapi.com",
                "whoisxmlapi.com",
                "*.domaintools.com",
                "centralops.net",
                "www.centralops.net",
            ]
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
        }
    }
}

/// Overlay `user` on `base`: tables merge key by key, other values replace.
fn merge_tables(base: &mut toml::Table, user: toml::Table) {
    for (key, value) in user {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => merge_tables(b, u),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn defaults_round_trip() {
        let text = Config::default().to_toml();
        assert_eq!(Config::from_toml(&text).unwrap(), Config::default());
    }

    #[test]
    fn partial_override() {
        let c =
            Config::from_toml("[rules.newly_registered]\ndays = 7\n[input]\nfields = [\"a.b\"]\n")
                .unwrap();
        assert_eq!(c.rules.newly_registered.days, 7);
        assert_eq!(c.rules.newly_registered.weight, 60);
        assert!(c.rules.newly_registered.enabled);
        assert_eq!(c.input.fields, vec!["a.b"]);
        assert_eq!(c.rules.on_hold, RulesConfig::default().on_hold);
    }

    #[test]
    fn json_form() {
        let c = Config::from_json_value(serde_json::json!({
            "rules": {"newly_registered": {"days": 7}, "on_hold": {"statuses": ["serverHold"]}}
        }))
        .unwrap();
        assert_eq!(c.rules.newly_registered.days, 7);
        assert_eq!(c.rules.newly_registered.weight, 60);
        assert_eq!(c.rules.on_hold.statuses, vec!["serverHold"]);
        assert_eq!(c.input, InputConfig::default());
        let e = Config::from_json_value(serde_json::json!({"rules": {"privacy": {"colour": 1}}}));
        assert!(e.unwrap_err().to_string().contains("colour"));
        assert!(Config::from_json_value(serde_json::json!([1])).is_err());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = Config::from_toml("[rules.newly_registerd]\ndays = 7\n").unwrap_err();
        assert!(e.to_string().contains("newly_registerd"), "{e}");
        assert!(Config::from_toml("[rules.privacy]\nweight = 5\ncolour = 1\n").is_err());
        assert!(Config::from_toml("[rules.privacy]\nweight = 300\n").is_err());
        assert!(Config::from_toml("[input]\nmax_line_bytes = 10\n").is_err());
    }

    #[test]
    fn negative_days_are_errors() {
        for (table, key) in [
            ("newly_registered", "days"),
            ("recently_changed", "days"),
            ("recently_changed", "min_age_days"),
            ("expiring", "days"),
        ] {
            let e = Config::from_toml(&format!("[rules.{table}]\n{key} = -5\n")).unwrap_err();
            let want = format!("rules.{table}.{key} must be 0 or more, not -5");
            assert!(e.to_string().contains(&want), "{e}");
            assert!(Config::from_toml(&format!("[rules.{table}]\n{key} = 0\n")).is_ok());
        }
    }
}
