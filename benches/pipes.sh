#!/usr/bin/env bash
# What pipes cost `domreg enrich` (docs/performance.md): on the Zeek dns
# trace of benches/run.sh, RUNS rounds (default 5) of, in turn, one thread
# and then --threads 2, each
#   file   reading the trace, writing to /dev/null;
#   in     `cat trace | domreg`;
#   out    `domreg trace | cat > /dev/null`;
#   both   `cat trace | domreg | cat > /dev/null`;
# and prints the median wall time of each and its ratio to `file`. On Linux
# domreg makes its pipes 1 MiB (README, "Use it in your pipeline"), and the
# default pipe size here is 64 KiB (`pipe_max` below is the most it may ask
# for). Uses benches/run.sh's traces in target/bench-work (made when
# missing). One command:
#   bash benches/pipes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/timing.sh
RUNS=${RUNS:-5}
bench_traces
cargo build --release --locked -p domreg >&2
TRACE=$W/zeek-dns.ndjson
D=(target/release/domreg enrich --offline --registrations "$W/registrations.jsonl" -q)
run_in() { cat "$TRACE" | "${D[@]}" "$@"; }
run_out() { "${D[@]}" "$@" "$TRACE" | cat > /dev/null; }
run_both() { cat "$TRACE" | "${D[@]}" "$@" | cat > /dev/null; }
declare -A t
for ((r = 0; r < RUNS; r++)); do
    for n in 1 2; do
        t[file$n]+="$(secs "${D[@]}" --threads $n "$TRACE") "
        t[in$n]+="$(secs run_in --threads $n) "
        t[out$n]+="$(secs run_out --threads $n) "
        t[both$n]+="$(secs run_both --threads $n) "
    done
done
echo "median of $RUNS interleaved runs; pipe_max $(cat /proc/sys/fs/pipe-max-size 2>/dev/null || echo '?')"
echo
echo "| threads | run | wall | against file |"
echo "|---|---|---|---|"
for n in 1 2; do
    base=$(echo "${t[file$n]}" | median)
    for k in file in out both; do
        m=$(echo "${t[$k$n]}" | median)
        awk -v n="$n" -v k="$k" -v m="$m" -v base="$base" 'BEGIN {
            printf "| %s | %s | %.2f s | %.2f× |\n", n, k, m / 1e6, m / base }'
    done
done
