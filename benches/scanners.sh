#!/usr/bin/env bash
# domreg's JSON field scanner against serde_json, sonic-rs and simd-json, on
# the Zeek dns trace of benches/run.sh (its first LINES lines, default
# 200,000), in one command from a fresh clone:
#   bash benches/scanners.sh
# The comparison is its own crate (benches/scanners, outside the workspace:
# the SIMD JSON crates are not domreg dependencies). Prints a Markdown table;
# docs/performance.md quotes one run.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-200000}
ROUNDS=${ROUNDS:-7}
W=target/bench-work
mkdir -p "$W"
[ -f "$W/zeek-dns.ndjson" ] || python3 benches/trace.py "$W" >&2
head -n "$LINES" "$W/zeek-dns.ndjson" > "$W/scanners-zeek.ndjson"
cargo build --release --locked --manifest-path benches/scanners/Cargo.toml >&2
benches/scanners/target/release/domreg-scanners "$W/scanners-zeek.ndjson" "$ROUNDS"
