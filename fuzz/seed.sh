#!/usr/bin/env bash
# Seed corpora for the fuzz targets from the project's own fixtures and
# examples: one file per log line, RDAP response, registration record and
# name, plus the minimised corpora of earlier campaigns kept in
# fuzz/corpus-kept/<target>/ (fuzz/keep.sh). Writes fuzz/corpus/<target>/
# (not committed; the fuzzer grows it).
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus
mkdir -p "$out"/{enrich_line,detect,domain,rdap,registrations,fluent_bit,proxy_wasm}

n=0
for f in examples/logs/* tests/fixtures/samples/*; do
    [ -f "$f" ] || continue
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        printf '%s' "$line" > "$out/enrich_line/seed-$n"
        printf '%s' "$line" > "$out/fluent_bit/seed-$n"
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
# proxy_wasm: a flags byte, the authority, 0xff, the registry's body, 0xff,
# the registrar's (see fuzz/fuzz_targets/proxy_wasm.rs). Each RDAP fixture
# as the registry's answer for www.example.com (flags 0x00: tag mode, both
# calls answered 200; 0x01: block mode), and Verisign's google.com answer
# with MarkMonitor's as the referral.
rdap=tests/fixtures/rdap
for f in "$rdap"/*.json; do
    b=$(basename "$f" .json)
    { printf '\x00www.example.com\xff'; cat "$f"; } > "$out/proxy_wasm/tag-$b"
    { printf '\x01www.example.com\xff'; cat "$f"; } > "$out/proxy_wasm/block-$b"
done
{ printf '\x02www.google.com:443\xff'; cat "$rdap/verisign-google.com.json"; printf '\xff'
  cat "$rdap/markmonitor-registrar-google.com.json"; } > "$out/proxy_wasm/google-referral"
for a in 'exa mple..com' '[::1]:80' 'host:99999999' 'xn--e1afmkfd.xn--p1ai' 'a.b.c.d.e.f.co.uk:8080'; do
    printf '\x02%s' "$a" > "$out/proxy_wasm/authority-$(printf '%s' "$a" | md5sum | cut -c1-8)"
done
# And what earlier campaigns learnt (fuzz/keep.sh), where kept.
for t in enrich_line detect domain rdap registrations fluent_bit proxy_wasm; do
    if [ -d "fuzz/corpus-kept/$t" ]; then
        cp fuzz/corpus-kept/"$t"/* "$out/$t/"
    fi
    printf '%-14s %5d seeds\n' "$t" "$(find "$out/$t" -type f | wc -l)"
done
