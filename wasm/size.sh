#!/usr/bin/env bash
# Build every WASM module, shrink a copy of each with `wasm-opt -Oz`
# (Debian's binaryen) and print its size against the 1 MiB budget.
# Exit status 1 when a module is over budget (or could not be built).
#
#   bash wasm/size.sh            # all modules
#   BUDGET=1048576 bash wasm/size.sh
#
# tests/run.sh runs it after building the modules (the builds here are then
# no-ops; wasm-opt takes 10-30 s per module).
set -uo pipefail
cd "$(dirname "$0")/.."

budget=${BUDGET:-1048576}
target_dir=${CARGO_TARGET_DIR:-target}
out=$target_dir/wasm-size
mkdir -p "$out"
command -v wasm-opt >/dev/null || { apt-get update -qq && apt-get install -y -qq binaryen; }
rustup target add wasm32-wasip1 wasm32-unknown-unknown >/dev/null

# The features the modules use (all in Rust's wasm32 baseline); wasm-opt 108
# enables only MVP features by default and must keep these.
features=(--enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int
    --enable-mutable-globals)

# name, cargo package, target, profile, artifact
modules=(
    "fluent-bit domreg-fluent-bit wasm32-wasip1 wasm domreg_fluent_bit.wasm"
    "proxy-wasm domreg-proxy-wasm wasm32-wasip1 wasm domreg_proxy_wasm.wasm"
    "bindgen domreg-wasm wasm32-unknown-unknown wasm-js domreg_wasm.wasm"
)

status=0
printf '%-12s %12s %12s %12s  %s\n' module built "wasm-opt -Oz" budget verdict
for m in "${modules[@]}"; do
    read -r name package target profile artifact <<<"$m"
    if ! cargo metadata --no-deps --format-version 1 2>/dev/null | grep -q "\"name\":\"$package\""; then
        printf '%-12s %12s\n' "$name" "(no package $package)"
        continue
    fi
    if ! cargo build -q -p "$package" --target "$target" --profile "$profile" --locked; then
        printf '%-12s build failed\n' "$name"
        status=1
        continue
    fi
    built=$target_dir/$target/$profile/$artifact
    if [ "$name" = bindgen ]; then
        # What ships is wasm-bindgen's output (the glue's descriptors gone).
        if ! wasm-bindgen --target nodejs --out-dir "$out/bindgen" "$built"; then
            printf '%-12s wasm-bindgen failed (cargo install wasm-bindgen-cli, see tests/run.sh)\n' "$name"
            status=1
            continue
        fi
        built=$out/bindgen/${artifact%.wasm}_bg.wasm
    fi
    opt=$out/$artifact
    if ! wasm-opt -Oz "${features[@]}" "$built" -o "$opt"; then
        printf '%-12s wasm-opt failed\n' "$name"
        status=1
        continue
    fi
    b=$(stat -c %s "$built")
    o=$(stat -c %s "$opt")
    verdict=ok
    if [ "$o" -gt "$budget" ]; then verdict="OVER by $((o - budget)) bytes"; status=1; fi
    printf '%-12s %12d %12d %12d  %s\n' "$name" "$b" "$o" "$budget" "$verdict"
done
exit $status
