# Shell helpers for the interleaved timing scripts (benches/names.sh,
# benches/threads.sh); sourced, not run.

# secs COMMAND...: run COMMAND with its output discarded; print its wall
# time in microseconds.
secs() {
    local s e
    s=$(date +%s%N)
    "$@" > /dev/null 2>&1
    e=$(date +%s%N)
    echo $(((e - s) / 1000))
}

# median: the median of the whitespace-separated numbers on stdin.
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The traces of benches/run.sh, in $W; made when missing.
W=target/bench-work
bench_traces() {
    mkdir -p "$W"
    [ -f "$W/zeek-dns.ndjson" ] || python3 benches/trace.py "$W" >&2
}
