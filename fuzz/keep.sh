#!/usr/bin/env bash
# Keep what a campaign learnt: minimise each named target's corpus
# (`cargo fuzz cmin`: the smallest set of its inputs with the same coverage)
# and store it in fuzz/corpus-kept/<target>/, which is committed.
# fuzz/seed.sh adds those inputs to the seeds, so the next campaign starts
# where this one stopped, and tests/fuzz_regressions.rs runs the core
# targets' checks over them on stable in every test run.
#   bash fuzz/keep.sh enrich_line rdap
set -euo pipefail
cd "$(dirname "$0")/.."
source fuzz/common.sh
[ $# -gt 0 ] || { echo "usage: bash fuzz/keep.sh TARGET..." >&2; exit 2; }
for t in "$@"; do
    [ -d "fuzz/corpus/$t" ] || { echo "keep: no fuzz/corpus/$t" >&2; exit 1; }
    read -ra features <<<"$(fuzz_opts "$t")"
    cargo +nightly fuzz cmin "${features[@]}" "$t" "fuzz/corpus/$t" -- -max_len=65536 -rss_limit_mb=2048 >/dev/null 2>&1
    rm -rf "fuzz/corpus-kept/$t"
    mkdir -p "fuzz/corpus-kept/$t"
    cp "fuzz/corpus/$t"/* "fuzz/corpus-kept/$t/"
    printf 'keep: %-14s %5d inputs, %s\n' "$t" "$(find "fuzz/corpus-kept/$t" -type f | wc -l)" \
        "$(du -sh --apparent-size "fuzz/corpus-kept/$t" | cut -f1)"
done
