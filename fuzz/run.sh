#!/usr/bin/env bash
# Fuzz every target (or those named) for SECS seconds each (default 60),
# seeding the corpora first. Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly --profile minimal
#   cargo install cargo-fuzz --locked
# A crash leaves its input in fuzz/artifacts/<target>/; copy it into
# fuzz/regressions/<target>/ when fixed (tests/fuzz_regressions.rs runs those).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(enrich_line detect domain rdap registrations)
[ -d fuzz/corpus ] || bash fuzz/seed.sh
cargo +nightly fuzz build
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    log=$(mktemp)
    if ! cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        grep -A 6 'panicked' "$log" || tail -n 40 "$log"
        echo "fuzz: $t FAILED (input in fuzz/artifacts/$t/)"
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    printf 'fuzz: %-14s %9s runs in %ss, %s, corpus %s\n' "$t" "$runs" "$secs" "$cov" \
        "$(find "fuzz/corpus/$t" -type f | wc -l)"
    rm -f "$log"
done
