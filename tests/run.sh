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

step "serve: python3 with yaml (tests/vector_config.rs parses vector-config/*.yaml with it)"
python3 -c 'import yaml' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-yaml; }

step "wasm/proxy: the proxy-wasm filter for wasm32-wasip1 (the harness tests below load it)"
rustup target add wasm32-wasip1 >/dev/null
cargo build -p domreg-proxy-wasm --target wasm32-wasip1 --profile wasm --locked
DOMREG_PROXY_WASM=$(realpath -m "${CARGO_TARGET_DIR:-target}/wasm32-wasip1/wasm/domreg_proxy_wasm.wasm")
export DOMREG_PROXY_WASM
ls -l "$DOMREG_PROXY_WASM"

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

step "wasm/bindgen: wasm-bindgen-cli, the package ('wasm-js' profile), wasm-bindgen-test on Node, node --test"
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
cargo build -p domreg-wasm --target wasm32-unknown-unknown --profile wasm-js --locked
wasm-bindgen --target nodejs --out-dir wasm/bindgen/pkg \
    "$target_dir/wasm32-unknown-unknown/wasm-js/domreg_wasm.wasm"
ls -l wasm/bindgen/pkg/domreg_wasm_bg.wasm
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test -p domreg-wasm --target wasm32-unknown-unknown --locked
# The Node tests run target/debug/domreg and target/debug/rdap-mock
# (already built by the workspace tests above; a no-op then).
cargo build --workspace --bins --locked
node --test wasm/tests/*.test.mjs

step "wasm size budget: each module at most 1 MiB after wasm-opt -Oz (Debian's binaryen)"
bash wasm/size.sh
# The -Oz modules must work, not only be small: the harness tests again on them.
size_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}/wasm-size")
DOMREG_PROXY_WASM=$size_dir/domreg_proxy_wasm.wasm DOMREG_FLUENT_BIT_WASM=$size_dir/domreg_fluent_bit.wasm \
    cargo test -p domreg-wasm-harness --locked

step "rules/: sigma check, Sigma rules run over domreg's output (pySigma SQLite backend), converted queries up to date"
# A venv under target/ with rules/requirements.txt; reinstalled only when
# that file changes (a copy of it in the venv marks what is installed).
sigma_venv=target/sigma-venv
if ! cmp -s rules/requirements.txt "$sigma_venv/requirements.txt"; then
    rm -rf "$sigma_venv"
    python3 -m venv "$sigma_venv" || {
        apt-get update -qq && apt-get install -y -qq python3-venv
        python3 -m venv "$sigma_venv"
    }
    "$sigma_venv/bin/pip" install --quiet --disable-pip-version-check -r rules/requirements.txt
    cp rules/requirements.txt "$sigma_venv/requirements.txt"
fi
# attacktag and d3_fendtag download the MITRE ATT&CK and D3FEND catalogues
# from GitHub, which is out of reach here; the test checks each rule's ATT&CK
# tags against `domreg attack --json` instead.
"$sigma_venv/bin/sigma" check --fail-on-issues --exclude attacktag --exclude d3_fendtag rules/sigma
cargo build --workspace --bins --locked
DOMREG="${CARGO_TARGET_DIR:-target}/debug/domreg" \
    "$sigma_venv/bin/python" -m unittest discover -s rules/tests -v

step "fuzz smoke: each native cargo-fuzz target for 20 s (nightly toolchain + cargo-fuzz)"
# proxy_wasm is left out here: building wasmtime with the fuzzer's
# instrumentation takes longer than the rest of this suite. Its input and
# checks run on stable in wasm/harness/tests/proxy_fuzz_inputs.rs above
# (crash inputs, seeds, generated inputs); `bash fuzz/run.sh proxy_wasm`
# fuzzes it.
rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
SECS=20 bash fuzz/run.sh enrich_line detect domain rdap registrations fluent_bit

step "integrations: a real rsyslogd (Debian's rsyslog) running integrations/rsyslog/domreg.conf with domreg enrich --rsyslog"
command -v rsyslogd >/dev/null || { apt-get update -qq && apt-get install -y -qq rsyslog; }
cargo test --workspace --test rsyslog --locked -- --ignored --test-threads=1
