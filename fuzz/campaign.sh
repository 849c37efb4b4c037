#!/usr/bin/env bash
# A longer fuzz campaign than fuzz/run.sh: each target (or those named) runs
# in chunks of CHUNK seconds (default 300) on a corpus kept between chunks,
# until a chunk finds no new coverage (a plateau; at least MIN_CHUNKS
# chunks, default 2) or MAX_CHUNKS chunks (default 6) have run. Prints one
# row per chunk: coverage when the chunk started (the corpus so far) and when
# it ended, runs, corpus size. Set DEADLINE (seconds since the epoch) to stop
# starting chunks after it. Same set-up as fuzz/run.sh (nightly, cargo-fuzz);
# a crash stops the campaign and leaves its input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
chunk=${CHUNK:-300}
min_chunks=${MIN_CHUNKS:-2}
max_chunks=${MAX_CHUNKS:-6}
deadline=${DEADLINE:-0}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(enrich_line rdap fluent_bit registrations detect domain)
[ -d fuzz/corpus ] || bash fuzz/seed.sh
source fuzz/common.sh
fuzz_build "${targets[@]}"
printf 'target\tchunk\tseconds\truns\tcov_start\tcov_end\tcorpus\n'
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/regressions/$t"
    read -ra features <<<"$(fuzz_opts "$t")"
    for ((i = 1; i <= max_chunks; i++)); do
        if [ "$deadline" -gt 0 ] && [ "$(date +%s)" -ge "$deadline" ]; then
            echo "campaign: deadline reached before $t chunk $i" >&2
            exit 0
        fi
        log=$(mktemp)
        if ! cargo +nightly fuzz run "${features[@]}" "$t" "fuzz/corpus/$t" "fuzz/regressions/$t" -- \
            -max_total_time="$chunk" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
            grep -A 6 'panicked' "$log" || tail -n 40 "$log"
            echo "campaign: $t FAILED in chunk $i (input in fuzz/artifacts/$t/)" >&2
            exit 1
        fi
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        start=$(grep -m1 'INITED' "$log" | grep -o 'cov: [0-9]*' | cut -d' ' -f2)
        end=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
        printf '%s\t%d\t%d\t%s\t%s\t%s\t%d\n' "$t" "$i" "$chunk" "${runs:-0}" "${start:-0}" "${end:-0}" \
            "$(find "fuzz/corpus/$t" -type f | wc -l)"
        rm -f "$log"
        if [ "$i" -ge "$min_chunks" ] && [ "${end:-0}" -le "${start:-0}" ]; then
            break
        fi
    done
done
