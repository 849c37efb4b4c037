#!/usr/bin/env bash
# The benchmark suite, from a fresh clone, in one command:
#   bash benches/run.sh [--no-criterion] [--no-live]
# Builds the release binaries, generates the traces (benches/trace.py), then
# measures in the same run: cat, the serde_json floor (benches/floor), jq -c .
# (on a 50,000-line slice, scaled) and `domreg enrich --offline` on a mixed
# 1,000,000-event trace and a Zeek dns 1,000,000-line trace; per-format
# throughput; peak RSS with 100,000 and 1,000,000 registration records; the
# live-lookup figures (benches/live.sh); 1 against 2 threads (--threads 2,
# and two one-thread processes at once as the machine's ceiling); the criterion micro-benchmarks
# (benches/core.rs). Writes docs/benchmarks.md and its two SVG charts
# (benches/report.py). Work files go to target/bench-work/ (traces are kept
# and reused while benches/trace.py's parameters are unchanged).
# The commands compared in a ratio run in turn, round by round (run_group),
# so that a slow spell of the machine falls on all of them alike.
set -euo pipefail
cd "$(dirname "$0")/.."

CRITERION=1 LIVE=1
for arg in "$@"; do
    case "$arg" in
        --no-criterion) CRITERION=0 ;;
        --no-live) LIVE=0 ;;
        *) echo "usage: bash benches/run.sh [--no-criterion] [--no-live]" >&2; exit 2 ;;
    esac
done
# Repetitions: enough for a stable mean, few enough to finish in minutes.
RUNS=${BENCH_RUNS:-4}
SMALL_RUNS=${BENCH_SMALL_RUNS:-3}
JQ_LINES=50000

step() { printf '\n== %s\n' "$*" >&2; }
W=target/bench-work
mkdir -p "$W"
START=$(date +%s)
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

step "build (release)"
# Only what is measured: the workspace also holds the wasmtime harness,
# which takes long to build in release and is not benchmarked here.
cargo build --release --locked -p domreg -p domreg-floor -p rdap-mock
BIN=target/release/domreg
FLOOR=target/release/domreg-floor

step "traces"
python3 benches/trace.py "$W"
REGS="$W/registrations.jsonl"
for t in mixed.log zeek-dns.ndjson; do
    head -n "$JQ_LINES" "$W/$t" > "$W/jq-$t"
done
# jq parses JSON only: its slice of the mixed trace keeps the JSON lines.
grep '^{' "$W/jq-mixed.log" > "$W/jq-mixed.json" || true

RESULTS="$W/results.tsv"
printf 'trace\ttool\tevents\truns\tmean_s\tstddev_s\tmin_s\n' > "$RESULTS"

# Commands are timed in groups: after one warm-up round, RUNS rounds, each
# running every command of the group once in turn. So a slow spell of this
# shared machine falls on every command of the group alike, and the ratios
# between them (domreg over the floor, two threads over one) hold better
# than when each command's runs come one after another.
TIMER="shell loop (date +%s%N), the commands of a group run in turn, round by round, after one warm-up round"
G_ROWS=() G_CMDS=()
# add TRACE TOOL EVENTS COMMAND: a command (a shell command line) for the
# next group, and the row it will have in $RESULTS.
add() { G_ROWS+=("$1"$'\t'"$2"$'\t'"$3"); G_CMDS+=("$4"); }
# run_group RUNS: time the group's commands, append a row for each to
# $RESULTS (trace, tool, events, runs, mean, standard deviation, min), and
# empty the group.
run_group() {
    local runs=$1 i r s e
    local -a times=()
    for i in "${!G_CMDS[@]}"; do
        sh -c "${G_CMDS[i]}"
        times[i]=""
    done
    for ((r = 0; r < runs; r++)); do
        for i in "${!G_CMDS[@]}"; do
            s=$(date +%s%N); sh -c "${G_CMDS[i]}"; e=$(date +%s%N)
            times[i]+="$((e - s)) "
        done
    done
    for i in "${!G_CMDS[@]}"; do
        python3 - "${G_ROWS[i]}" "$runs" ${times[i]} >> "$RESULTS" <<'PY'
import statistics, sys
t = [int(x) / 1e9 for x in sys.argv[3:]]
sd = statistics.stdev(t) if len(t) > 1 else 0.0
print("\t".join([sys.argv[1], sys.argv[2], f"{statistics.mean(t):.6f}", f"{sd:.6f}", f"{min(t):.6f}"]))
PY
        tail -1 "$RESULTS" >&2
    done
    G_ROWS=() G_CMDS=()
}

ENRICH="$BIN enrich --offline --registrations $REGS -q"
# The live path (no --offline) on a cache that holds every domain: the
# records loaded into the LRU cache, the bootstrap file the test fixture,
# so nothing is fetched.
LIVE_ENRICH="$BIN enrich --registrations $REGS -q --bootstrap tests/fixtures/bootstrap/dns.json \
    --no-cache --ttl-found 999999999 --cache-entries 2000000 --cache-memory 4096"
for t in zeek-dns.ndjson mixed.log; do
    step "throughput: $t"
    n=$(wc -l < "$W/$t")
    if [ "$t" = zeek-dns.ndjson ]; then
        # Start-up: loading registrations.jsonl, one event.
        add one.ndjson domreg-startup 1 "$ENRICH $W/one.ndjson > /dev/null"
    fi
    add "$t" cat "$n" "cat $W/$t > /dev/null"
    add "$t" floor "$n" "$FLOOR < $W/$t > /dev/null 2>&1"
    add "$t" domreg "$n" "$ENRICH $W/$t > /dev/null"
    # Scaling: the same command on two threads (--threads 2).
    add "$t" domreg-2t "$n" "$ENRICH --threads 2 $W/$t > /dev/null"
    if [ "$t" = zeek-dns.ndjson ]; then
        # What two cores give at best here: two independent one-thread
        # processes at once, sharing only the machine (2n events in all).
        add "$t" domreg-pair "$((2 * n))" "$ENRICH $W/$t > /dev/null & $ENRICH $W/$t > /dev/null; wait"
        # As in a pipeline: reading a pipe and writing one.
        add "$t" domreg-pipes "$n" "cat $W/$t | $ENRICH | cat > /dev/null"
        # The live path on a warm cache.
        add "$t" domreg-live "$n" "$LIVE_ENRICH $W/$t > /dev/null"
    fi
    run_group "$RUNS"
    jq_in="$W/jq-$t"
    [ "$t" = mixed.log ] && jq_in="$W/jq-mixed.json"
    add "$t" jq "$(wc -l < "$jq_in")" "jq -c . < $jq_in > /dev/null"
    run_group "$SMALL_RUNS"
    # The run's own summary: every event a hit, or skipped, as intended.
    $BIN enrich --offline --registrations "$REGS" "$W/$t" 2> "$W/summary-$t.txt" > /dev/null
done

step "per-format throughput"
for f in "$W"/fmt-*.log; do
    name=$(basename "$f" .log); name=${name#fmt-}
    n=$(wc -l < "$f")
    add "fmt-$name" floor "$n" "$FLOOR < $f > /dev/null 2>&1"
    add "fmt-$name" domreg "$n" "$ENRICH $f > /dev/null"
    run_group "$SMALL_RUNS"
done

step "peak RSS against records loaded"
RSS="$W/rss.tsv"
printf 'mode\trecords\tmax_rss_kib\n' > "$RSS"
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null < "$W/one.ndjson" | tail -1; }
# Offline: the records are held in the snapshot. Live: in the LRU cache
# (loaded from --registrations; the bootstrap file is the test fixture and
# the one event's domain is cached, so nothing is fetched).
LIVE_ARGS=(enrich --bootstrap tests/fixtures/bootstrap/dns.json --no-cache -q
           --ttl-found 999999999 --cache-entries 2000000 --cache-memory 4096)
# The baseline: two records (one is the event's domain: nothing to fetch).
head -n 2 "$W/rss-100000.jsonl" > "$W/rss-2.jsonl"
for n in 2 100000 1000000; do
    printf 'offline\t%s\t%s\n' "$n" "$(rss "$BIN" enrich --offline -q --registrations "$W/rss-$n.jsonl")" >> "$RSS"
    printf 'live\t%s\t%s\n' "$n" "$(rss "$BIN" "${LIVE_ARGS[@]}" --registrations "$W/rss-$n.jsonl")" >> "$RSS"
done
cat "$RSS" >&2

if [ "$LIVE" = 1 ]; then
    step "live lookups (benches/live.sh)"
    bash benches/live.sh | tee "$W/live.txt" >&2
else
    rm -f "$W/live.txt"
fi

if [ "$CRITERION" = 1 ]; then
    step "criterion micro-benchmarks (benches/core.rs)"
    cargo bench --locked --bench core 2>&1 | tee "$W/criterion.txt" >&2
else
    rm -f "$W/criterion.txt"
fi

step "report"
{
    echo "nproc=$(nproc)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "mem_kib=$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
    echo "kernel=$(uname -sr)"
    echo "loadavg_at_start=$LOAD_AT_START"
    echo "rustc=$(rustc --version)"
    echo "timer=$TIMER"
    echo "jq=$(jq --version)"
    echo "commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo '+dirty')"
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "runs=$RUNS"
    echo "small_runs=$SMALL_RUNS"
    echo "elapsed_s=$(( $(date +%s) - START ))"
} > "$W/machine.txt"
python3 benches/report.py "$W" docs
echo "wrote docs/benchmarks.md, docs/benchmarks-throughput.svg, docs/benchmarks-rss.svg" >&2
