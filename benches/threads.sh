#!/usr/bin/env bash
# Where `--threads 2` loses against two cores (docs/performance.md): on the
# Zeek dns trace of benches/run.sh, RUNS rounds (default 5) of, in turn,
#   t1     one thread;
#   t2     --threads 2;
#   pair   two one-thread processes at once, each with the whole trace;
#   split  two one-thread processes at once, each with half the trace cut
#          as --threads 2 cuts it (alternate batches of 256 KiB of whole
#          lines);
#   half   one one-thread process with one of those halves;
# and prints the median wall time of each and its speed-up over t1 (for
# pair, which does twice the work, 2 x t1 / pair; for half, its time per
# line against t1's). Also prints the distinct names in the
# whole trace and in each half. Uses benches/run.sh's traces in
# target/bench-work (made when missing). One command:
#   bash benches/threads.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/timing.sh
RUNS=${RUNS:-5}
bench_traces
cargo build --release --locked -p domreg >&2
TRACE=$W/zeek-dns.ndjson
# The batches of src/bin/domreg/parallel.rs (BATCH_BYTES): a batch ends
# after the line that takes it to 256 KiB or more.
python3 - "$TRACE" "$W/half-a.ndjson" "$W/half-b.ndjson" <<'EOF'
import json, sys
src, a, b = sys.argv[1:4]
outs = [open(a, "wb"), open(b, "wb")]
names = [set(), set()]
which, size = 0, 0
with open(src, "rb") as f:
    for line in f:
        outs[which].write(line)
        names[which].add(json.loads(line).get("query"))
        size += len(line) - 1
        if size >= 256 * 1024:
            which, size = 1 - which, 0
print(f"distinct names: whole trace {len(names[0] | names[1])}, "
      f"halves {len(names[0])} and {len(names[1])}")
EOF
D=(target/release/domreg enrich --offline --registrations "$W/registrations.jsonl" -q)
both() { "${D[@]}" "$1" > /dev/null & "${D[@]}" "$2" > /dev/null; wait; }
declare -A t
for ((r = 0; r < RUNS; r++)); do
    t[t1]+="$(secs "${D[@]}" "$TRACE") "
    t[t2]+="$(secs "${D[@]}" --threads 2 "$TRACE") "
    t[pair]+="$(secs both "$TRACE" "$TRACE") "
    t[split]+="$(secs both "$W/half-a.ndjson" "$W/half-b.ndjson") "
    t[half]+="$(secs "${D[@]}" "$W/half-a.ndjson") "
done
one=$(echo "${t[t1]}" | median)
echo "median of $RUNS interleaved runs"
echo
echo "| run | wall | speed-up over t1 |"
echo "|---|---|---|"
for k in t1 t2 pair split half; do
    m=$(echo "${t[$k]}" | median)
    awk -v k="$k" -v m="$m" -v one="$one" 'BEGIN {
        if (k == "pair") r = sprintf("%.2f× (twice the work)", 2 * one / m)
        else if (k == "half") r = sprintf("(half the work: %.2f× t1 time per line)", 2 * m / one)
        else r = sprintf("%.2f×", one / m)
        printf "| %s | %.2f s | %s |\n", k, m / 1e6, r }'
done
