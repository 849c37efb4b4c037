#!/usr/bin/env bash
# domreg serve over TCP on loopback, with baselines in the same run (not CI):
#   bash benches/serve.sh [EVENTS]
# 1. relay: the same bytes sent straight to the sink (bash /dev/tcp → sink),
#    the cost of the loopback path alone;
# 2. enrich: `domreg enrich --offline` reading the trace from a file;
# 3. serve: sender → `domreg serve --offline` → sink, timed at the sink from
#    its first byte to the last line;
# 4. restart: the sink drops the connection with bytes unread after a quarter
#    of the events and is away 1 s; counts what arrives (distinct, duplicates)
#    and domreg's own resent counter.
# Prints a Markdown table. Offline (examples/registrations.jsonl) so that no
# RDAP traffic is measured; live lookups: benches/live.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
W=target/bench-work/serve
mkdir -p "$W"
cargo build --release --locked --bin domreg >&2
BIN=target/release/domreg
REGS=examples/registrations.jsonl
IN=19610 OUT=19611 HTTP=19612

python3 - "$W/trace.log" "$N" <<'PY'
import json, random, sys
path, n = sys.argv[1], int(sys.argv[2])
names = [json.loads(l)["domain"] for l in open("examples/registrations.jsonl")]
rnd = random.Random(7)
with open(path, "w") as f:
    for i in range(n):
        d = rnd.choice(names) if rnd.random() < 0.8 else f"x{rnd.randrange(5000)}.example-unknown.com"
        f.write(json.dumps({"ts": "2026-11-20T10:00:00Z", "uid": f"C{i}", "id.orig_h": "10.0.0.5",
                            "query": f"www.{d}", "qtype_name": "A"}, separators=(",", ":")) + "\n")
PY
BYTES=$(stat -c %s "$W/trace.log")

now() { date +%s.%N; }
sink() { # mode args...: starts the sink, waits for "ready"
    coproc SINK { exec python3 benches/serve_sink.py "$OUT" "$@"; }
    read -r _ <&"${SINK[0]}"
}

# 1. relay baseline
sink count "$N"
exec 3<>/dev/tcp/127.0.0.1/$OUT; cat "$W/trace.log" >&3; exec 3>&-
read -r RELAY <&"${SINK[0]}"; wait "$SINK_PID" || true

# 2. enrich from a file
t0=$(now); "$BIN" enrich --offline --quiet --registrations "$REGS" "$W/trace.log" > /dev/null; t1=$(now)
ENRICH=$(echo "$t1 - $t0" | bc -l)

# 3. serve
sink count "$N"
"$BIN" serve --listen tcp://127.0.0.1:$IN --forward tcp://127.0.0.1:$OUT --http 127.0.0.1:$HTTP \
    --offline --registrations "$REGS" --quiet 2> "$W/serve.err" &
SERVE=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$HTTP/healthz" > /dev/null && break; sleep 0.05; done
exec 3<>/dev/tcp/127.0.0.1/$IN; cat "$W/trace.log" >&3; exec 3>&-
read -r SERVED <&"${SINK[0]}"; wait "$SINK_PID" || true
kill -TERM "$SERVE"; wait "$SERVE" || true

# 4. restart mid-stream
R=$(( N < 400000 ? N : 400000 ))
head -n "$R" "$W/trace.log" > "$W/restart.log"
sink ids "$R" $(( R / 4 ))
"$BIN" serve --listen tcp://127.0.0.1:$IN --forward tcp://127.0.0.1:$OUT --http 127.0.0.1:$HTTP \
    --offline --registrations "$REGS" --quiet --max-backoff 200 2> "$W/restart.err" &
SERVE=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$HTTP/healthz" > /dev/null && break; sleep 0.05; done
exec 3<>/dev/tcp/127.0.0.1/$IN; cat "$W/restart.log" >&3; exec 3>&-
read -r COUNTS <&"${SINK[0]}"; wait "$SINK_PID" || true
METRICS=$(curl -s "127.0.0.1:$HTTP/metrics")
kill -TERM "$SERVE"; wait "$SERVE" || true
RESENT=$(grep '^domreg_events_resent_total ' <<< "$METRICS" | cut -d' ' -f2)
FORWARDED=$(grep '^domreg_events_forwarded_total ' <<< "$METRICS" | cut -d' ' -f2)
CONNECTS=$(grep '^domreg_forward_connects_total ' <<< "$METRICS" | cut -d' ' -f2)

rate() { echo "$N / $1" | bc -l | xargs printf '%.0f'; }
mbs() { echo "$BYTES / $1 / 1048576" | bc -l | xargs printf '%.0f'; }
echo "Loopback, $N Zeek dns events ($((BYTES / 1048576)) MiB), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
echo "| path | seconds | events/s | MiB/s (input) | vs enrich from a file |"
echo "|---|---|---|---|---|"
for row in "relay (no domreg)|$RELAY" "domreg enrich --offline, file → /dev/null|$ENRICH" "domreg serve --offline, TCP → TCP|$SERVED"; do
    name=${row%%|*} s=${row##*|}
    printf '| %s | %.2f | %s | %s | %.2fx |\n' "$name" "$s" "$(rate "$s")" "$(mbs "$s")" "$(echo "$ENRICH / $s" | bc -l)"
done
echo
echo "Downstream restart ($R events; the sink drops its connection with bytes unread after $((R / 4)) lines, away 1 s):"
echo "sink counts: $COUNTS; domreg: forwarded $FORWARDED, resent $RESENT, connections to --forward $CONNECTS"
