#!/usr/bin/env bash
# Seed corpora for the fuzz targets from the project's own fixtures and
# examples: one file per log line, RDAP response, registration record and
# name. Writes fuzz/corpus/<target>/ (not committed; the fuzzer grows it).
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus
mkdir -p "$out"/{enrich_line,detect,domain,rdap,registrations}

n=0
for f in examples/logs/* tests/fixtures/samples/*; do
    [ -f "$f" ] || continue
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        printf '%s' "$line" > "$out/enrich_line/seed-$n"
        printf 'query,dns.rrname\n%s' "$line" > "$out/detect/seed-$n"
    done < <(head -n 200 "$f")
done
for f in tests/fixtures/rdap/*.json; do
    cp "$f" "$out/rdap/$(basename "$f")"
done
split -l 1 -d -a 4 examples/registrations.jsonl "$out/registrations/seed-"
cp examples/registrations.jsonl "$out/registrations/all"
grep -ho '"query":"[^"]*"' examples/logs/* | cut -d'"' -f4 | sort -u | head -n 500 |
    while IFS= read -r name; do printf '%s' "$name" > "$out/domain/$(printf '%s' "$name" | md5sum | cut -c1-16)"; done
for t in enrich_line detect domain rdap registrations; do
    printf '%-14s %5d seeds\n' "$t" "$(find "$out/$t" -type f | wc -l)"
done
