/*!
domreg for Fluent Bit: a `filter_wasm` module (wasm32-wasip1 reactor), a
thin adapter over the core library. See `wasm/README.md`.

Two layers:

- [`Filter`]: plain Rust, the state of the module: the core's
  [`Enricher`], the registrations as a core [`Snapshot`] read from
  `registrations.jsonl` in one of the directories the host lets the module
  read (Fluent Bit's `accessible_paths`), reloaded when the file changes,
  and the module's own counters. It reads files through `std::fs`, so it is
  tested natively as well as inside the module.
- `abi` (wasm32 only): the exported functions Fluent Bit calls, with the raw
  pointers of its calling convention.

No enrichment logic lives here: records go to [`Enricher::enrich_line`]
(the same bytes as `domreg enrich --offline`), the registrations file to
[`Snapshot::add_jsonl`], the optional `domreg.toml` to
[`Config::from_toml`].
*/

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use domreg::config::Config;
use domreg::enrich::{Enricher, Stats};
use domreg::format::FormatChoice;
use domreg::snapshot::Snapshot;
use serde_json::json;

#[cfg(target_os = "wasi")]
mod abi;

/// The registrations file the module looks for in each accessible directory.
pub const REGISTRATIONS_FILE: &str = "registrations.jsonl";
/// The optional configuration file, looked for the same way.
pub const CONFIG_FILE: &str = "domreg.toml";
/// Look at the registrations file again after this many seconds of record
/// time (forwards or backwards) ...
pub const CHECK_EVERY_SECS: i64 = 5;
/// ... or after this many records, whichever comes first.
pub const CHECK_EVERY_RECORDS: u64 = 10_000;
/// A stats line goes to stderr every this many records.
pub const SUMMARY_EVERY_RECORDS: u64 = 100_000;
/// At most this many unusable lines of a registrations file are logged.
const LOGGED_BAD_LINES: usize = 5;

/// The identity of one version of a file: a change of any part is a change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileVersion {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

/// The module's own counters (the enricher's are in [`Stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Records the filter was called with.
    pub records: u64,
    /// Records that were not a JSON object (nor empty), returned unchanged.
    pub not_object: u64,
    /// Empty records (length 0), returned as `{}`.
    pub empty: u64,
    /// Registrations in use.
    pub registrations: u64,
    /// Successful loads of the registrations file (the first and reloads).
    pub loads: u64,
    /// Reloads refused (an unreadable file, an unusable line, e.g. not
    /// UTF-8): the previous data stays in use.
    pub reload_errors: u64,
    /// Unusable lines skipped in the first load.
    pub bad_lines: u64,
    /// Checks that found no registrations file in any accessible directory.
    pub missing_file: u64,
    /// `domreg.toml` could not be used (the defaults are in force).
    pub config_errors: u64,
}

/// The filter's state.
pub struct Filter {
    enricher: Enricher,
    snapshot: Snapshot,
    dirs: Vec<PathBuf>,
    loaded: Option<FileVersion>,
    refused: Option<FileVersion>,
    last_check: Option<i64>,
    since_check: u64,
    missing_logged: bool,
    counters: Counters,
    out: Vec<u8>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("dirs", &self.dirs)
            .field("loaded", &self.loaded)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Filter {
    /// A filter reading its files from `dirs`, in order: the first
    /// `domreg.toml` found configures it (else the defaults), the first
    /// `registrations.jsonl` found is loaded on the first record. A
    /// `domreg.toml` that cannot be used is logged and counted, and the
    /// defaults are used; the error case is the core refusing its
    /// configuration, which the defaults never are.
    pub fn new(dirs: Vec<PathBuf>) -> Result<Filter, domreg::Error> {
        let mut counters = Counters::default();
        let config = match first_file(&dirs, CONFIG_FILE) {
            None => Config::default(),
            Some((path, _)) => match std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| Config::from_toml(&text).map_err(|e| e.to_string()))
            {
                Ok(config) => config,
                Err(e) => {
                    counters.config_errors += 1;
                    eprintln!(
                        "domreg: {}: {e}; using the default configuration",
                        path.display()
                    );
                    Config::default()
                }
            },
        };
        let enricher = Enricher::new(&config, FormatChoice::Auto, &[])?;
        Ok(Filter::with_enricher(dirs, enricher, counters))
    }

    fn with_enricher(dirs: Vec<PathBuf>, enricher: Enricher, counters: Counters) -> Filter {
        Filter {
            enricher,
            snapshot: Snapshot::new(),
            dirs,
            loaded: None,
            refused: None,
            last_check: None,
            since_check: 0,
            missing_logged: false,
            counters,
            out: Vec::new(),
        }
    }

    /// Filter one record (the JSON object Fluent Bit passes, without its
    /// NUL) at record time `time`: the record with `domreg` (and `threat`)
    /// spliced in, or the record unchanged, always followed by one NUL. Never
    /// empty before the NUL (an empty answer would drop the record in
    /// Fluent Bit). Valid until the next call.
    pub fn filter(&mut self, record: &[u8], time: DateTime<Utc>) -> &[u8] {
        self.maybe_check(time.timestamp());
        self.counters.records += 1;
        self.out.clear();
        match record.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => {
                self.enricher
                    .enrich_line(record, &mut self.snapshot, time, &mut self.out);
                // enrich_line ends the line with '\n'; the NUL replaces it.
                self.out.pop();
            }
            Some(_) => {
                self.counters.not_object += 1;
                self.out.extend_from_slice(record);
            }
            None if record.is_empty() => {
                self.counters.empty += 1;
                self.out.extend_from_slice(b"{}");
            }
            None => {
                self.counters.not_object += 1;
                self.out.extend_from_slice(record);
            }
        }
        self.out.push(0);
        if self.counters.records.is_multiple_of(SUMMARY_EVERY_RECORDS) {
            eprintln!("domreg: stats {}", self.stats_json());
        }
        &self.out
    }

    /// The enricher's counters.
    pub fn stats(&self) -> &Stats {
        self.enricher.stats()
    }

    /// The module's own counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// All counters as one JSON object: `{"enricher": {...}, "filter": {...},
    /// "registrations_file": "/path" | null}`.
    pub fn stats_json(&self) -> String {
        json!({
            "enricher": self.enricher.stats(),
            "filter": self.counters,
            "registrations_file": self.loaded.as_ref().map(|v| v.path.display().to_string()),
        })
        .to_string()
    }

    /// Look at the registrations file when a check is due: on the first
    /// record, then every [`CHECK_EVERY_SECS`] of record time or
    /// [`CHECK_EVERY_RECORDS`] records.
    fn maybe_check(&mut self, time: i64) {
        self.since_check += 1;
        let due = match self.last_check {
            None => true,
            Some(last) => {
                time.abs_diff(last) >= CHECK_EVERY_SECS.unsigned_abs()
                    || self.since_check >= CHECK_EVERY_RECORDS
            }
        };
        if due {
            self.last_check = Some(time);
            self.since_check = 0;
            self.check();
        }
    }

    /// Load the registrations file if it is new or changed.
    pub fn check(&mut self) {
        let Some((path, version)) = first_file(&self.dirs, REGISTRATIONS_FILE) else {
            self.counters.missing_file += 1;
            if !self.missing_logged {
                self.missing_logged = true;
                eprintln!(
                    "domreg: no {REGISTRATIONS_FILE} in the accessible paths {:?}{}",
                    self.dirs,
                    if self.loaded.is_some() {
                        "; keeping the registrations loaded before"
                    } else {
                        ""
                    }
                );
            }
            return;
        };
        self.missing_logged = false;
        if self.loaded.as_ref() == Some(&version) || self.refused.as_ref() == Some(&version) {
            return;
        }
        let first = self.loaded.is_none();
        match read_snapshot(&path) {
            Ok((snapshot, bad)) if bad.is_empty() || first => {
                for message in bad.iter().take(LOGGED_BAD_LINES) {
                    eprintln!("domreg: {}: {message}", path.display());
                }
                self.counters.bad_lines += bad.len() as u64;
                self.counters.loads += 1;
                self.counters.registrations = snapshot.len() as u64;
                eprintln!(
                    "domreg: loaded {} registrations from {}{}",
                    snapshot.len(),
                    path.display(),
                    if bad.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} unusable lines skipped)", bad.len())
                    }
                );
                self.snapshot = snapshot;
                self.loaded = Some(version);
                self.refused = None;
            }
            Ok((_, bad)) => {
                self.refuse(version, &format!("{} unusable lines", bad.len()));
                for message in bad.iter().take(LOGGED_BAD_LINES) {
                    eprintln!("domreg: {}: {message}", path.display());
                }
            }
            Err(message) => self.refuse(version, &message),
        }
    }

    fn refuse(&mut self, version: FileVersion, why: &str) {
        self.counters.reload_errors += 1;
        eprintln!(
            "domreg: {}: not loaded: {why}; keeping the {} registrations in use",
            version.path.display(),
            self.snapshot.len()
        );
        self.refused = Some(version);
    }
}

/// The first `dir/name` that is a file, with its version.
fn first_file(dirs: &[PathBuf], name: &str) -> Option<(PathBuf, FileVersion)> {
    dirs.iter().find_map(|dir| {
        let path = dir.join(name);
        let meta = std::fs::metadata(&path).ok()?;
        meta.is_file().then(|| {
            let version = FileVersion {
                path: path.clone(),
                len: meta.len(),
                modified: meta.modified().ok(),
            };
            (path, version)
        })
    })
}

/// Read a registrations file, line by line (the file's text is never held
/// whole: with the old and new records it would be the peak of a reload):
/// the records of its usable lines and one message per unusable line (not
/// JSON, not a record, not UTF-8); `Err` when it cannot be read.
fn read_snapshot(path: &Path) -> Result<(Snapshot, Vec<String>), String> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    let mut snapshot = Snapshot::new();
    let mut bad = Vec::new();
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        if reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| e.to_string())?
            == 0
        {
            break;
        }
        line_no += 1;
        match std::str::from_utf8(&buf) {
            Ok(line) => {
                if let Err(e) = snapshot.add_line(line, line_no) {
                    bad.push(e.to_string());
                }
            }
            Err(_) => bad.push(format!("registrations line {line_no}: not UTF-8")),
        }
    }
    Ok((snapshot, bad))
}
