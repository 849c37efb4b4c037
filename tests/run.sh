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

step "unit and integration tests"
cargo test --workspace --all-targets --locked
