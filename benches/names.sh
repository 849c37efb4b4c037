#!/usr/bin/env bash
# What a name costs domreg the first time it sees it: the floor and
# `domreg enrich --offline` on three traces that differ only in their names
# (benches/names.py: 100 names, 50,000 in a cycle, every name new), and
# domreg on an empty file (start-up: loading the registration records),
# RUNS runs each (default 5), interleaved; prints the median wall times and
# microseconds per line with start-up subtracted. Uses benches/run.sh's
# traces in target/bench-work (made when missing). One command:
#   bash benches/names.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/timing.sh
RUNS=${RUNS:-5}
bench_traces
cargo build --release --locked -p domreg -p domreg-floor >&2
python3 benches/names.py "$W/zeek-dns.ndjson" "$W/registrations.jsonl" "$W"
BIN=target/release/domreg FLOOR=target/release/domreg-floor
LINES=$(wc -l < "$W/names-same.ndjson")
declare -A t
for ((r = 0; r < RUNS; r++)); do
    t[startup]+="$(secs "$BIN" enrich --offline --registrations "$W/registrations.jsonl" -q /dev/null) "
    for n in same cycle unique; do
        t[floor-$n]+="$(secs sh -c "$FLOOR < $W/names-$n.ndjson") "
        t[domreg-$n]+="$(secs "$BIN" enrich --offline --registrations "$W/registrations.jsonl" -q "$W/names-$n.ndjson") "
    done
done
start=$(echo "${t[startup]}" | median)
echo "$LINES lines a trace; median of $RUNS runs; domreg's start-up ($((start / 1000)) ms) subtracted"
echo
echo "| trace | floor µs/line | domreg µs/line | domreg / floor |"
echo "|---|---|---|---|"
for n in same cycle unique; do
    f=$(echo "${t[floor-$n]}" | median)
    d=$(echo "${t[domreg-$n]}" | median)
    awk -v n="$n" -v f="$f" -v d="$d" -v s="$start" -v l="$LINES" \
        'BEGIN { printf "| names-%s | %.2f | %.2f | %.2f× |\n", n, f / l, (d - s) / l, (d - s) / f }'
done
