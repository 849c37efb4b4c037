/*!
domreg enriches DNS and proxy log events with domain registration data and
MITRE ATT&CK fields.

This crate is the pure core: no I/O, no clock, no network, so it also builds
for `wasm32-unknown-unknown` (`--no-default-features`). The `domreg` binary
(feature `native`, on by default) is the shell that reads files and stdin.

# Brief overview

- [`enrich::Enricher`] takes one log line and writes it back with the
  `domreg` and ECS `threat` members added; lines it cannot enrich come back
  unchanged. It asks an [`enrich::Lookup`] for registrations.
- [`format`](mod@format) finds the format and the domain name of a line, using the lazy
  JSON scan in [`json`] and the text parsers in [`text`].
- [`domain`] normalises names and finds the registered domain (eTLD+1).
- [`rdap`] parses RDAP domain responses into a [`Registration`]; [`epp`]
  maps RDAP status strings to EPP names.
- [`snapshot::Snapshot`] is the offline source: registration records read
  from JSON Lines.
- [`summary`] gives one lookup's outcome as short strings (for HTTP
  headers).
- [`risk`] holds the rules and the score; [`attack`] the ATT&CK catalogue;
  [`config`] the TOML configuration; [`output`] writes the members.

# Example

```
use chrono::{TimeZone, Utc};
use domreg::config::Config;
use domreg::enrich::Enricher;
use domreg::format::FormatChoice;
use domreg::snapshot::Snapshot;

let mut snapshot = Snapshot::new();
snapshot
    .add_line(r#"{"domain":"example.com","created":"2026-11-20T00:00:00Z"}"#, 1)
    .unwrap();
let mut enricher = Enricher::new(&Config::default(), FormatChoice::Auto, &[]).unwrap();
let line = br#"{"ts":"2026-11-24T00:00:00Z","uid":"C1","query":"www.example.com"}"#;
let now = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
let mut out = Vec::new();
enricher.enrich_line(line, &mut snapshot, now, &mut out);
let text = String::from_utf8(out).unwrap();
// The original bytes come first, then the new members.
assert!(text.starts_with(r#"{"ts":"2026-11-24T00:00:00Z","uid":"C1","query":"www.example.com","domreg":{"#));
assert!(text.contains(r#""age_days":4"#));
assert!(text.contains(r#""reasons":["newly_registered"]"#));
assert!(text.contains(r#""subtechnique":{"id":["T1583.001"]"#));
```
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod attack;
pub mod batch;
pub mod bootstrap;
mod bytes;
pub mod cache;
pub mod config;
pub mod domain;
pub mod enrich;
pub mod epp;
pub mod error;
pub mod format;
pub mod json;
#[cfg(feature = "native")]
pub mod live;
mod names;
pub mod output;
pub mod rdap;
pub mod registration;
pub mod risk;
pub mod shared;
pub mod snapshot;
pub mod summary;
pub mod text;

pub use error::Error;
pub use registration::{Registration, Source};
