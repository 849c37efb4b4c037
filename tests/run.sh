#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, then
# checks formatting, lints, unit and integration tests, the wasm32 build of
# the core, and the docs. README.md's test command runs this; so does .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain: rustfmt, clippy, wasm32 target"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add wasm32-unknown-unknown >/dev/null

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "core library for wasm32-unknown-unknown, without the native feature"
cargo build --lib --no-default-features --target wasm32-unknown-unknown --locked

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib --locked

step "doc tests"
cargo test --doc --locked

step "wasm/fluent-bit: the Fluent Bit filter_wasm module (wasm32-wasip1, 'wasm' profile), for the harness tests below"
rustup target add wasm32-wasip1 >/dev/null
# Its ABI module is compiled for WASI only: lint it there too.
cargo clippy -p domreg-fluent-bit --target wasm32-wasip1 --locked -- -D warnings
cargo build -p domreg-fluent-bit --target wasm32-wasip1 --profile wasm --locked
fb_wasm=${CARGO_TARGET_DIR:-$PWD/target}/wasm32-wasip1/wasm/domreg_fluent_bit.wasm
test -f "$fb_wasm" || { echo "missing $fb_wasm" >&2; exit 1; }
ls -l "$fb_wasm"
export DOMREG_FLUENT_BIT_WASM=$fb_wasm

step "unit and integration tests"
cargo test --workspace --all-targets --locked

step "wasm/bindgen: wasm-bindgen-cli, release build, wasm-bindgen-test on Node, node --test"
# The CLI must be exactly the version the crate pins.
wb_version=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' wasm/bindgen/Cargo.toml)
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wb_version" ]; then
    cargo install wasm-bindgen-cli --version "$wb_version" --locked || {
        # Its lock file can name a crate version the registry no longer
        # serves (0.2.130 locks a yanked webpki-roots); resolve afresh then.
        echo "note: wasm-bindgen-cli --locked failed; installing without --locked"
        cargo install wasm-bindgen-cli --version "$wb_version"
    }
fi
command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs; }
target_dir=${CARGO_TARGET_DIR:-target}
cargo build -p domreg-wasm --target wasm32-unknown-unknown --release --locked
wasm-bindgen --target nodejs --out-dir wasm/bindgen/pkg \
    "$target_dir/wasm32-unknown-unknown/release/domreg_wasm.wasm"
ls -l wasm/bindgen/pkg/domreg_wasm_bg.wasm
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test -p domreg-wasm --target wasm32-unknown-unknown --locked
# The Node tests run target/debug/domreg and target/debug/rdap-mock
# (already built by the workspace tests above; a no-op then).
cargo build -p domreg -p rdap-mock --bins --locked
node --test wasm/tests/*.test.mjs
