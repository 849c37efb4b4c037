#!/usr/bin/env bash
# Fuzz every target (or those named) for SECS seconds each (default 60),
# seeding the corpora first. Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly --profile minimal
#   cargo install cargo-fuzz --locked
# A crash leaves its input in fuzz/artifacts/<target>/; copy it into
# fuzz/regressions/<target>/ when fixed: every run here replays that folder
# first, and tests/fuzz_regressions.rs replays the core targets' on stable.
#
# proxy_wasm runs the real proxy-wasm module in the wasmtime harness: it is
# built with the fuzz crate's `wasm-harness` feature, in fuzz/target-wasm
# (fuzz/common.sh), and runs the module at DOMREG_PROXY_WASM, or else the
# one this script builds (cargo build -p domreg-proxy-wasm --target
# wasm32-wasip1 --profile wasm).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(enrich_line detect domain rdap registrations fluent_bit proxy_wasm)
[ -d fuzz/corpus ] || bash fuzz/seed.sh
source fuzz/common.sh
fuzz_build "${targets[@]}"
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/regressions/$t"
    read -ra features <<<"$(fuzz_opts "$t")"
    log=$(mktemp)
    if ! cargo +nightly fuzz run "${features[@]}" "$t" "fuzz/corpus/$t" "fuzz/regressions/$t" -- \
        -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        grep -A 6 'panicked' "$log" || tail -n 40 "$log"
        echo "fuzz: $t FAILED (input in fuzz/artifacts/$t/)"
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    # Coverage when half the runs were done: equal to the final figure
    # when the target has plateaued.
    half=$(awk -v h="$((${runs:-0} / 2))" '/^#[0-9]+/ { n = substr($1, 2) + 0; if (n <= h && match($0, /cov: [0-9]+/)) c = substr($0, RSTART + 5, RLENGTH - 5) } END { print c + 0 }' "$log")
    printf 'fuzz: %-14s %9s runs in %ss, %s (cov %s at half the runs), corpus %s\n' "$t" "$runs" "$secs" "$cov" "$half" \
        "$(find "fuzz/corpus/$t" -type f | wc -l)"
    rm -f "$log"
done
