//! The plugin configuration (JSON), parsed and checked.
//!
//! Every key is optional; unknown keys are errors. `rules` and `cache` are
//! the core's models (`docs/config.md`, [`CacheConfig`]); the rest is the
//! filter's own. The reference is `wasm/README.md`.

use std::collections::HashMap;

use domreg::cache::CacheConfig;
use domreg::config::{Config, RulesConfig};
use domreg::risk::Rule;
use serde::Deserialize;
use serde_json::Value;

/// What the filter does with a request once its domain is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Add the `x-domreg-*` headers and properties; never stop a request
    /// (except a lookup error with `fail_open: false`).
    #[default]
    Tag,
    /// Also answer 403 for domains the `block` policy flags.
    Block,
}

/// The JSON as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Raw {
    mode: Mode,
    fail_open: Option<bool>,
    rdap: RdapSettings,
    block: RawBlock,
    rules: Option<Value>,
    cache: Option<CacheConfig>,
    shared_data: Option<bool>,
}

/// `rdap`: where and how lookups go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RdapSettings {
    /// The cluster RDAP calls go to when `clusters` has no entry for the
    /// server's host.
    pub cluster: String,
    /// Cluster by RDAP server host name (`rdap.verisign.com` → `rdap_verisign`).
    pub clusters: HashMap<String, String>,
    /// The `:authority` of every call, instead of the RDAP server's host
    /// (for a cluster that is a relay rather than the registry).
    pub authority: Option<String>,
    /// How long one call may take, in milliseconds.
    pub timeout_ms: u64,
    /// Follow the registry's referral to the registrar's RDAP server (once).
    pub follow_referral: bool,
    /// The `user-agent` of the calls.
    pub user_agent: String,
}

impl Default for RdapSettings {
    fn default() -> Self {
        RdapSettings {
            cluster: "rdap".to_string(),
            clusters: HashMap::new(),
            authority: None,
            timeout_ms: 2_000,
            follow_referral: true,
            user_agent: concat!("domreg-proxy-wasm/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBlock {
    min_risk: Option<u8>,
    rules: Vec<String>,
}

impl Default for RawBlock {
    fn default() -> Self {
        RawBlock {
            min_risk: None,
            rules: vec!["newly_registered".to_string(), "on_hold".to_string()],
        }
    }
}

/// `block`: which requests `mode: block` answers with 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPolicy {
    /// Block when the risk score is at least this.
    pub min_risk: Option<u8>,
    /// Block when any of these rules fired.
    pub rules: Vec<Rule>,
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `mode`.
    pub mode: Mode,
    /// `fail_open`: let requests through when the lookup fails.
    pub fail_open: bool,
    /// `rdap`.
    pub rdap: RdapSettings,
    /// `block`.
    pub block: BlockPolicy,
    /// `rules`, over the defaults.
    pub rules: RulesConfig,
    /// `cache`: the VM-local cache.
    pub cache: CacheConfig,
    /// `shared_data`: share answers between the host's workers.
    pub shared_data: bool,
}

impl Settings {
    /// Parse the plugin configuration; empty means all defaults.
    pub fn parse(bytes: &[u8]) -> Result<Settings, String> {
        let raw: Raw = if bytes.iter().all(u8::is_ascii_whitespace) {
            Raw::default()
        } else {
            serde_json::from_slice(bytes).map_err(|e| format!("configuration: {e}"))?
        };
        let rules = match raw.rules {
            None => RulesConfig::default(),
            Some(rules) => {
                Config::from_json_value(serde_json::json!({ "rules": rules }))
                    .map_err(|e| format!("configuration: {e}"))?
                    .rules
            }
        };
        let mut block_rules = Vec::new();
        for name in &raw.block.rules {
            let rule = Rule::ALL
                .into_iter()
                .find(|r| r.as_str() == name)
                .ok_or_else(|| format!("configuration: block.rules: unknown rule {name:?}"))?;
            block_rules.push(rule);
        }
        if raw.rdap.cluster.is_empty() {
            return Err("configuration: rdap.cluster is empty".to_string());
        }
        if raw.rdap.timeout_ms == 0 || raw.rdap.timeout_ms > 60_000 {
            return Err("configuration: rdap.timeout_ms must be 1 to 60000".to_string());
        }
        Ok(Settings {
            mode: raw.mode,
            fail_open: raw.fail_open.unwrap_or(true),
            rdap: raw.rdap,
            block: BlockPolicy {
                min_risk: raw.block.min_risk,
                rules: block_rules,
            },
            rules,
            cache: raw.cache.unwrap_or_default(),
            shared_data: raw.shared_data.unwrap_or(true),
        })
    }

    /// The cluster for calls to `host`.
    pub fn cluster_for(&self, host: &str) -> &str {
        self.rdap
            .clusters
            .get(host)
            .map_or(self.rdap.cluster.as_str(), String::as_str)
    }
}
