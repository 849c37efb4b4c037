#!/usr/bin/env bash
# Build the fuzz targets that fuzz/run.sh and fuzz/campaign.sh run: every
# native target, and, when proxy_wasm is among TARGETS, its wasmtime
# harness and the proxy-wasm module it runs (the harness's default path),
# unless DOMREG_PROXY_WASM names one. Sourced by those scripts, from the
# repository root, with the targets as arguments.
cargo +nightly fuzz build
if printf '%s\n' "$@" | grep -qx proxy_wasm; then
    cargo +nightly fuzz build --features wasm-harness proxy_wasm
    if [ -z "${DOMREG_PROXY_WASM:-}" ]; then
        rustup target add wasm32-wasip1 >/dev/null
        cargo build -p domreg-proxy-wasm --target wasm32-wasip1 --profile wasm --locked
    fi
fi
