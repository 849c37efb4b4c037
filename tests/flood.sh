#!/usr/bin/env bash
# The DGA floods of tests/live.rs at full size with the release build:
# 1,000,000 events of unique random registered domains, then 1,000,000 of
# unique random subdomains of one domain, against tests/rdap-mock on
# loopback. Prints the events, elapsed time, requests sent and peak RSS of
# each. Several minutes; not part of CI (which runs 50,000 of each).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p rdap-mock --locked
DOMREG_FLOOD_EVENTS=${1:-1000000} cargo test --release --locked --test live \
    -- dga_floods_stay_bounded_and_polite --nocapture 2>&1 |
    grep -E 'flood:|test result|panicked|assert'
