#!/usr/bin/env bash
# Shared by fuzz/run.sh, fuzz/campaign.sh and fuzz/keep.sh, which source it
# from the repository root.
#
# fuzz_opts TARGET prints the options `cargo fuzz` takes for TARGET.
# proxy_wasm is built with the fuzz crate's `wasm-harness` feature, in a
# target directory of its own (fuzz/target-wasm): its sanitizer build of
# wasmtime takes about 12 minutes on two free cores, and there it neither
# waits on the native targets' build lock nor is rebuilt when they are.
fuzz_opts() {
    if [ "$1" = proxy_wasm ]; then
        echo --target-dir fuzz/target-wasm --features wasm-harness
    fi
}

# fuzz_build TARGET... builds every native target and, when proxy_wasm is
# among the TARGETs, its wasmtime harness and the proxy-wasm module it runs
# (the harness's default path), unless DOMREG_PROXY_WASM names one.
fuzz_build() {
    cargo +nightly fuzz build
    if printf '%s\n' "$@" | grep -qx proxy_wasm; then
        # shellcheck disable=SC2046
        cargo +nightly fuzz build $(fuzz_opts proxy_wasm) proxy_wasm
        if [ -z "${DOMREG_PROXY_WASM:-}" ]; then
            rustup target add wasm32-wasip1 >/dev/null
            cargo build -p domreg-proxy-wasm --target wasm32-wasip1 --profile wasm --locked
        fi
    fi
}
