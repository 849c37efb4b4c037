#!/usr/bin/env bash
# Live-lookup figures against the loopback RDAP mock (tests/rdap-mock):
# requests per unique registered domain, events/s with a cold cache at the
# default rate limit and with a warm cache, peak RSS with 100,000 cached
# domains. Builds the release binaries; writes its work files to a temp dir.
# Usage: bash benches/live.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p domreg -p rdap-mock
BIN=target/release/domreg
MOCK=target/release/rdap-mock
W=$(mktemp -d)
trap 'kill "$MOCK_PID" 2>/dev/null || true; rm -rf "$W"' EXIT

mkfifo "$W/mock-in"
sleep 100000 > "$W/mock-in" &
SLEEP_PID=$!
"$MOCK" < "$W/mock-in" > "$W/mock.out" 2>/dev/null &
MOCK_PID=$!
for _ in $(seq 50); do [ -s "$W/mock.out" ] && break; sleep 0.1; done
HOST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"][0])' "$W/mock.out")
ctl() { curl -s -X "$1" "http://$HOST/_control/$2" ${3:+-d "$3"}; }
ctl POST config '{"synthesize": true, "synthesize_suffixes": ["com"], "synthesize_referral": true}' >/dev/null
ctl GET bootstrap > "$W/boot.json"

# Traces: Zeek dns lines, names drawn Zipf(1.0) over FQDNs under N registered domains.
gen() { # events domains seed out
python3 - "$@" <<'PY'
import random, sys
n, domains, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(seed)
weights = [1.0 / (k + 1) for k in range(domains)]
picks = rng.choices(range(domains), weights=weights, k=n)
with open(out, "w") as f:
    for i, d in enumerate(picks):
        f.write('{"ts":"2026-11-24T00:00:00Z","uid":"C%d","id.orig_h":"10.0.0.%d","query":"h%d.bench-%d.com","qtype_name":"A"}\n'
                % (i, i % 250, rng.randrange(4), d))
PY
}
LIVE=(enrich --bootstrap "$W/boot.json" --allow-insecure-rdap -q)

report() { # out start end
python3 - "$1" "$2" "$3" "$(ctl GET log)" <<'PY'
import json, sys
from collections import Counter
lines = [json.loads(l) for l in open(sys.argv[1])]
wall = float(sys.argv[3]) - float(sys.argv[2])
log = json.loads(sys.argv[4])
registry = [r for r in log if r["host"] == 0]
referral = [r for r in log if r["host"] == 1]
unique = len({l["domreg"]["domain"] for l in lines})
c = Counter(l["domreg"]["lookup"] for l in lines)
print(f"  events {len(lines)}, unique registered domains {unique}; lookups {dict(c)}")
print(f"  registry requests {len(registry)} ({len(registry)/unique:.2f} per unique domain), referral requests {len(referral)}")
print(f"  wall {wall:.2f} s (rate-limit bound {unique/2:.1f} s at 2/s), {len(lines)/wall:,.0f} events/s")
PY
}
fresh() { ctl POST reset >/dev/null; ctl POST config '{"synthesize": true, "synthesize_suffixes": ["com"], "synthesize_referral": true}' >/dev/null; }

gen 20000 40 1 "$W/cold.ndjson"
echo "== cold cache, default rate (2/s per host), default --max-wait 1500: 20000 events over 40 registered domains"
fresh; rm -f "$W/cache.jsonl"
start=$(date +%s.%N); "$BIN" "${LIVE[@]}" --no-cache "$W/cold.ndjson" > "$W/cold.out"; end=$(date +%s.%N)
report "$W/cold.out" "$start" "$end"

echo "== cold cache, default rate, --max-wait 60000 (every event waits for its answer)"
fresh
start=$(date +%s.%N); "$BIN" "${LIVE[@]}" --max-wait 60000 --cache "$W/cache.jsonl" "$W/cold.ndjson" > "$W/cold2.out"; end=$(date +%s.%N)
report "$W/cold2.out" "$start" "$end"

echo "== warm cache (the file the last run saved), 200000 events over the same domains"
gen 200000 40 2 "$W/warm.ndjson"
fresh
start=$(date +%s.%N); "$BIN" "${LIVE[@]}" --cache "$W/cache.jsonl" "$W/warm.ndjson" > "$W/warm.out"; end=$(date +%s.%N)
report "$W/warm.out" "$start" "$end"
start=$(date +%s.%N); "$BIN" enrich --offline -q "$W/warm.ndjson" > /dev/null; end=$(date +%s.%N)
python3 -c "import sys; w=float(sys.argv[2])-float(sys.argv[1]); print(f'  baseline in the same run: --offline with no data, {200000/w:,.0f} events/s')" "$start" "$end"

echo "== peak RSS with 100000 cached domains"
python3 - "$W/regs.jsonl" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(100000):
        f.write('{"domain":"cached-%d.com","created":"2015-03-01T10:00:00Z","expires":"2027-03-01T10:00:00Z","updated":"2024-05-01T00:00:00Z","status":["clientTransferProhibited","clientDeleteProhibited"],"registrar":"Example Registrar, Inc.","registrar_iana_id":%d,"nameservers":["ns1.cached-%d.com","ns2.cached-%d.com"],"privacy":true,"source":"rdap","fetched":"2026-11-24T00:00:00Z"}\n' % (i, 1000 + i % 500, i, i))
PY
echo '{"uid":"C","query":"cached-1.com"}' > "$W/one.ndjson"
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
base=$(rss "$BIN" "${LIVE[@]}" --no-cache --ttl-found 999999999 "$W/one.ndjson")
full=$(rss "$BIN" "${LIVE[@]}" --no-cache --ttl-found 999999999 --registrations "$W/regs.jsonl" "$W/one.ndjson")
echo "  max RSS: ${base} KiB with an empty cache, ${full} KiB with 100000 domains: $(( (full - base) * 1024 / 100000 )) bytes per cached domain (including the parse of the file)"
kill "$SLEEP_PID" 2>/dev/null || true
